//! Errors of the release library.

/// What went wrong in a release operation.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad input from the user (a name, a reference, a config value).
    #[error("{0}")]
    Input(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
