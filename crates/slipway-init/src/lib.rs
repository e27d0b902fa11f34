//! slipway-init, the PID 1 that slipway puts into images, and how to get it
//! for a platform.
//!
//! The C source (`init/slipway-init.c`) is embedded in this crate, so every
//! slipway binary carries it. [`build`] compiles it on demand with zig cc
//! (static musl, size-optimised, hardened) and keeps the result in the cache
//! under a key made of the source, the flags, the zig target and the zig
//! version: the second call for a platform is a file lookup. Each result is
//! checked before it is cached: the right machine, static, no `PT_INTERP`, no
//! segment both writable and executable, and no larger than [`MAX_SIZE`].

mod check;
mod compile;
mod error;

pub use check::{BinaryFacts, check_binary};
pub use compile::{compile_static, flags, zig_target};
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

/// The static init for `platform`, compiled if the cache does not have it
/// yet, as a path to a file inside `cache` that callers must not modify.
///
/// The image stage puts this file at [`PATH_IN_IMAGE`] and makes it the
/// entrypoint: `[PATH_IN_IMAGE, "--", "/app/<name>"]`.
pub fn build(platform: &Platform, zig: &Zig, cache: &CacheDir) -> Result<PathBuf, InitError> {
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

    #[test]
    fn the_source_is_the_one_in_init() {
        assert!(SOURCE.contains("slipway-init: the PID 1"));
    }
}
