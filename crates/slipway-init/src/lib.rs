//! slipway-init, the PID 1 that slipway puts into images, and how to get it
//! for a platform.
//!
//! [`build`] hands out the init slipway ships for a platform: one static
//! musl binary per architecture and ABI, compiled from `init/slipway-init.c`
//! by a pinned zig and embedded in slipway ([`prebuilt`]), so an image needs
//! no C compiler on the user's machine. [`compile`] builds the same binary
//! from source with zig cc (static musl, size-optimised, hardened), cached
//! under a key of the source, the flags, the zig target and the zig version;
//! tests use it to prove the shipped bytes are what the source gives. Each
//! compiled result is checked before it is cached: the right machine, static,
//! no `PT_INTERP`, no segment both writable and executable, and no larger than
//! [`MAX_SIZE`].

mod check;
mod compile;
mod error;
pub mod prebuilt;

pub use check::{BinaryFacts, check_binary};
pub use compile::{compile_static, flags, input_key, zig_target};
pub use error::InitError;

use std::path::PathBuf;

use slipway_platform::Platform;
use slipway_toolchain::{CacheDir, Zig};

/// Where the init lives inside every image slipway builds. `/sbin` is where
/// an init is looked for by people and tools, and the name cannot clash with
/// a base image's own `init` or `tini`.
pub const PATH_IN_IMAGE: &str = "/sbin/slipway-init";

/// The init's C source, as compiled by [`build`].
pub const SOURCE: &str = include_str!("../../../init/slipway-init.c");

/// The init's file name in the cache.
pub const NAME: &str = "slipway-init";

/// The size limit for the init on every architecture (32 KiB).
pub const MAX_SIZE: u64 = 32 * 1024;

/// The image's entrypoint for a program: the init, `--`, then the program,
/// so the program's arguments are never read as the init's options.
pub fn entrypoint(program: &str) -> Vec<String> {
    vec![
        PATH_IN_IMAGE.to_string(),
        "--".to_string(),
        program.to_string(),
    ]
}

/// The static init for `platform`, as shipped inside slipway: no compiler,
/// no cache, no I/O. One binary serves every variant of an architecture
/// ([`prebuilt::flavour`]).
///
/// The image stage puts these bytes at [`PATH_IN_IMAGE`] and makes it the
/// entrypoint: `[PATH_IN_IMAGE, "--", "/app/<name>"]`.
pub fn build(platform: &Platform) -> Result<&'static [u8], InitError> {
    Ok(prebuilt::flavour(platform)?.bytes)
}

/// Compile the init for `platform` from [`SOURCE`] with zig, or return the
/// cached result, as a path inside `cache` that callers must not modify.
/// This is how the shipped binaries are made and checked.
pub fn compile(platform: &Platform, zig: &Zig, cache: &CacheDir) -> Result<PathBuf, InitError> {
    let path = compile_static(NAME, SOURCE, platform, zig, cache)?;
    let size = std::fs::metadata(&path)
        .map_err(|source| InitError::Io {
            what: format!("reading {}", path.display()),
            source,
        })?
        .len();
    if size > MAX_SIZE {
        return Err(InitError::TooLarge {
            platform: platform.to_string(),
            size,
            max: MAX_SIZE,
        });
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entrypoint_puts_the_program_after_the_options() {
        assert_eq!(
            entrypoint("/app/hello"),
            ["/sbin/slipway-init", "--", "/app/hello"]
        );
    }

    /// The fast half of the proof that the shipped binaries are what the
    /// source gives: each one's recorded input key is the key of today's
    /// source, flags and pinned zig, and its bytes are the recorded ones.
    /// (tests/binary.rs rebuilds them with zig and compares the bytes.)
    #[test]
    fn shipped_inits_match_the_source_and_the_manifest() {
        use sha2::{Digest, Sha256};
        for p in prebuilt::PREBUILT {
            let platform: Platform = p.platform.parse().unwrap();
            assert_eq!(platform.dir_name(), p.file);
            let (sha, key) = prebuilt::manifest_entry(p.file)
                .unwrap_or_else(|| panic!("{}: not in init/prebuilt/manifest.txt", p.file));
            let actual: String = Sha256::digest(p.bytes)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            assert_eq!(actual, sha, "{}: bytes differ from the manifest", p.file);
            assert_eq!(
                input_key(NAME, SOURCE, &platform, prebuilt::ZIG_VERSION).unwrap(),
                key,
                "{}: init/slipway-init.c or its flags changed since it was built; rebuild with \
                 `cargo run -p slipway-init --example build-init -- --update`",
                p.file
            );
            assert!(p.bytes.len() as u64 <= MAX_SIZE, "{}", p.file);
        }
        assert!(
            prebuilt::MANIFEST.contains(&format!("zig {}", prebuilt::ZIG_VERSION)),
            "the manifest names another zig"
        );
    }

    /// Every architecture gets an init, from the shipped set, whatever the
    /// variant; only soft-float mips64 has none (zig has no libc for it).
    #[test]
    fn every_platform_variant_has_a_shipped_init() {
        for name in [
            "linux/amd64/v3",
            "linux/arm/v7",
            "linux/arm/v6",
            "linux/arm64/v8.2+lse",
            "linux/386",
            "linux/mips",
            "linux/mipsle",
            "linux/riscv64/rva22u64",
            "linux/ppc64le/power9",
            "linux/loong64",
            "linux/s390x",
            "linux/ppc64",
        ] {
            let platform: Platform = name.parse().unwrap();
            let flavour = prebuilt::flavour(&platform).unwrap();
            let built_for: Platform = flavour.platform.parse().unwrap();
            assert_eq!(built_for.arch, platform.arch, "{name}");
            assert!(!build(&platform).unwrap().is_empty());
        }
        let err = build(&"linux/mips64le/softfloat".parse().unwrap()).unwrap_err();
        assert!(matches!(err, InitError::Unsupported { .. }), "{err}");
        assert!(err.to_string().contains("init = false"), "{err}");
    }

    #[test]
    fn the_source_is_the_one_in_init() {
        assert!(SOURCE.contains("slipway-init: the PID 1"));
    }
}
