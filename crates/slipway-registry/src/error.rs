//! One error type for every transport, sorted by whose fault it is so the CLI
//! can pick an exit code: the user's input, the remote side, or this machine.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum RegistryError {
    /// A reference, option or local file the user gave is wrong.
    #[error("{0}")]
    Input(String),
    /// The registry refused our credentials, or we have none and it wants some.
    #[error("{0}")]
    Auth(String),
    /// The registry (or the network to it) failed, after retries where they help.
    #[error("{0}")]
    Remote(String),
    /// Content did not match its digest or size, or is not an image we understand.
    #[error("{0}")]
    Integrity(String),
    /// Nothing by that name exists at the source.
    #[error("{0}")]
    NotFound(String),
    /// A tag would move under `--immutable`.
    #[error("{0}")]
    Conflict(String),
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
}

impl RegistryError {
    pub(crate) fn io(what: impl Into<String>, source: std::io::Error) -> RegistryError {
        RegistryError::Io {
            what: what.into(),
            source,
        }
    }
}

impl From<slipway_oci::OciError> for RegistryError {
    fn from(e: slipway_oci::OciError) -> RegistryError {
        match e {
            slipway_oci::OciError::Io { what, source } => RegistryError::Io { what, source },
            other => RegistryError::Input(other.to_string()),
        }
    }
}

pub type Result<T, E = RegistryError> = std::result::Result<T, E>;
