//! slipway's cache directory and the one way files are written into it.

use std::path::{Path, PathBuf};

/// The root of slipway's cache: CC wrappers, zig's cache, build staging.
#[derive(Debug, Clone)]
pub struct CacheDir {
    pub root: PathBuf,
}

impl CacheDir {
    /// An explicit directory, else `$SLIPWAY_CACHE_DIR`, `$XDG_CACHE_HOME/slipway`
    /// or `~/.cache/slipway`.
    pub fn resolve(explicit: Option<&Path>) -> CacheDir {
        let root = explicit
            .map(Path::to_path_buf)
            .or_else(|| {
                std::env::var_os("SLIPWAY_CACHE_DIR")
                    .filter(|v| !v.is_empty())
                    .map(PathBuf::from)
            })
            .or_else(|| {
                std::env::var_os("XDG_CACHE_HOME")
                    .filter(|v| !v.is_empty())
                    .map(|d| PathBuf::from(d).join("slipway"))
            })
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/slipway")))
            .unwrap_or_else(|| std::env::temp_dir().join("slipway-cache"));
        let root = std::path::absolute(&root).unwrap_or(root);
        CacheDir { root }
    }

    pub fn path(&self, rel: impl AsRef<Path>) -> PathBuf {
        self.root.join(rel)
    }

    /// zig's global cache, shared by every project and every target.
    pub fn zig_cache(&self) -> PathBuf {
        std::env::var_os("ZIG_GLOBAL_CACHE_DIR")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| self.path("zig"))
    }
}
