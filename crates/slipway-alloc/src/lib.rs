//! The C allocator of a cgo binary.
//!
//! `libc` keeps the C library's own malloc. `mimalloc` links Microsoft's
//! mimalloc (vendored in `third_party/mimalloc`, pinned by version and
//! [`sources::SHA256SUMS`]) into the binary so that it serves every C
//! allocation: cgo code, C libraries such as SQLite, and the C library's own
//! internal callers (`strdup`, stdio buffers). Go's heap is not malloc and
//! does not change.
//!
//! [`compile`] builds one relocatable object per target with zig, cached by
//! content under a key of the sources, the flags, the target and the zig
//! version; the build hands it to the final (external) link of the target. The object
//! carries an ELF note naming the allocator, which [`detect`] reads back
//! from a finished binary for `inspect` and the SBOM.

mod compile;
mod error;
mod note;
pub mod sources;

pub use compile::{compile, flags, input_key, purge_delay};
pub use error::AllocError;
pub use note::{AllocatorNote, NOTE_SECTION, detect};
pub use sources::MIMALLOC_VERSION;

use slipway_platform::{Arch, Libc, Target, Variant};

/// Which malloc serves a binary's C code.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Allocator {
    /// The C library's own (musl's mallocng, glibc's ptmalloc).
    #[default]
    Libc,
    /// mimalloc, linked statically and overriding the C library's.
    Mimalloc,
}

impl Allocator {
    pub fn name(self) -> &'static str {
        match self {
            Allocator::Libc => "libc",
            Allocator::Mimalloc => "mimalloc",
        }
    }

    /// What the binary's note says, e.g. `mimalloc 3.3.2`; `None` for libc.
    pub fn description(self) -> Option<String> {
        match self {
            Allocator::Libc => None,
            Allocator::Mimalloc => Some(format!("mimalloc {MIMALLOC_VERSION}")),
        }
    }

    /// Whether this allocator can be linked for `target`, and why not.
    /// `libc` always can; mimalloc needs cgo (it replaces C's malloc, and a
    /// pure-Go binary has none) and lock-free atomics as wide as its counters.
    pub fn check(self, target: &Target) -> Result<(), AllocError> {
        if self == Allocator::Libc {
            return Ok(());
        }
        let refuse = |why: &str| {
            Err(AllocError::Unsupported {
                allocator: self.name().into(),
                target: target.to_string(),
                why: why.into(),
            })
        };
        if target.libc == Libc::None {
            return refuse(
                "the target has no C library (libc none, a pure-Go binary): Go's heap is not \
                 malloc, so there is nothing to replace; build with --libc musl or glibc, or \
                 leave allocator = \"libc\"",
            );
        }
        let platform = &target.platform;
        if platform.arch.is_mips32() {
            return refuse(
                "32-bit MIPS has no lock-free 64-bit atomics, which mimalloc's arena and \
                 statistics counters use; they would fall back to compiler-rt's lock-based \
                 emulation. Keep allocator = \"libc\" for this platform",
            );
        }
        if let (Arch::Arm, Variant::Arm { version, .. }) = (platform.arch, &platform.variant)
            && *version < 6
        {
            return refuse(
                "ARMv5 has no atomic instructions (no LDREX/STREX); mimalloc needs them. \
                 Use linux/arm/v6 or v7, or keep allocator = \"libc\"",
            );
        }
        Ok(())
    }
}

impl std::fmt::Display for Allocator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Allocator {
    type Err = AllocError;

    fn from_str(s: &str) -> Result<Allocator, AllocError> {
        match s {
            "libc" => Ok(Allocator::Libc),
            "mimalloc" => Ok(Allocator::Mimalloc),
            other => Err(AllocError::Unknown(other.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};
    use slipway_platform::GlibcVersion;

    fn target(platform: &str, libc: Libc) -> Target {
        Target::new(platform.parse().unwrap(), libc)
    }

    #[test]
    fn names_round_trip_and_unknown_names_are_refused() {
        for a in [Allocator::Libc, Allocator::Mimalloc] {
            assert_eq!(a.name().parse::<Allocator>().unwrap(), a);
        }
        let err = "tcmalloc".parse::<Allocator>().unwrap_err();
        assert!(
            err.to_string().contains("\"libc\" or \"mimalloc\""),
            "{err}"
        );
    }

    #[test]
    fn mimalloc_is_refused_where_it_cannot_work() {
        let glibc = Libc::Glibc(GlibcVersion::new(2, 28));
        for (platform, libc) in [
            ("linux/amd64", Libc::Musl),
            ("linux/arm64", glibc),
            ("linux/arm/v7", Libc::Musl),
            ("linux/arm/v6", Libc::Musl),
            ("linux/riscv64", glibc),
            ("linux/mips64le", Libc::Musl),
        ] {
            Allocator::Mimalloc
                .check(&target(platform, libc))
                .unwrap_or_else(|e| panic!("{platform}: {e}"));
        }
        for (platform, libc, says) in [
            ("linux/amd64", Libc::None, "libc none"),
            ("linux/mipsle/softfloat", Libc::Musl, "64-bit atomics"),
            ("linux/mips", glibc, "64-bit atomics"),
            ("linux/arm/v5", Libc::Musl, "ARMv5"),
        ] {
            let err = Allocator::Mimalloc
                .check(&target(platform, libc))
                .unwrap_err();
            assert!(err.to_string().contains(says), "{platform}: {err}");
            assert!(
                err.to_string().contains("allocator = \"mimalloc\""),
                "{err}"
            );
            // libc is always fine.
            Allocator::Libc.check(&target(platform, libc)).unwrap();
        }
    }

    /// The embedded sources are the vendored ones, byte for byte, as pinned
    /// in SHA256SUMS; and every pinned file is embedded.
    #[test]
    fn embedded_sources_match_the_pinned_digests() {
        let mut pinned = 0;
        for line in sources::SHA256SUMS.lines() {
            let (sha, path) = line.split_once("  ").expect("sha256sum format");
            let text = if path == "LICENSE" {
                sources::LICENSE
            } else {
                sources::SOURCES
                    .iter()
                    .find(|(p, _)| *p == path)
                    .unwrap_or_else(|| panic!("{path} is pinned but not embedded"))
                    .1
            };
            let actual = base16ct::lower::encode_string(&Sha256::digest(text.as_bytes()));
            assert_eq!(actual, sha, "{path}");
            pinned += 1;
        }
        assert_eq!(pinned, sources::SOURCES.len() + 1);
        let header = sources::SOURCES
            .iter()
            .find(|(p, _)| *p == "include/mimalloc.h")
            .unwrap()
            .1;
        let (major, rest) = MIMALLOC_VERSION.split_once('.').unwrap();
        let (minor, patch) = rest.split_once('.').unwrap();
        let number = format!("{major}{minor:0>2}{patch:0>2}");
        assert!(
            header.contains(&format!("#define MI_MALLOC_VERSION {number}")),
            "MIMALLOC_VERSION does not match include/mimalloc.h"
        );
    }
}
