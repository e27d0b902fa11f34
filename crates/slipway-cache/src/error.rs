//! What can go wrong in the cache. Remote faults are not here: they are
//! misses (see [`crate::remote`]); these are local problems and bad input.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// The local tier could not be read or written.
    #[error("cache: {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A remote URL or credentials file that cannot be used.
    #[error("cache remote: {0}")]
    Config(String),
    /// A namespace that is not 1-32 of [a-z0-9_-].
    #[error("cache namespace {0:?} is not 1-32 characters of a-z, 0-9, '-' and '_'")]
    Namespace(String),
    /// `put_action` before the output it names was put.
    #[error(
        "cache entry output {name:?} (sha256:{digest}) is not in the local cache; put it first"
    )]
    MissingOutput { name: String, digest: String },
}

impl CacheError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> CacheError {
        let path = path.into();
        move |source| CacheError::Io { path, source }
    }
}
