//! Errors of the release library, by what the caller does about them.

use slipway_registry::RegistryError;

/// What went wrong in a release operation.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad input from the user (a name, a reference, a policy value).
    #[error("{0}")]
    Input(String),
    /// The image failed a rule of the channel's policy; the channel did not move.
    #[error("policy rule `{rule}` of channel {channel} failed: {message}")]
    Policy {
        channel: String,
        rule: String,
        message: String,
    },
    /// The digest was marked bad; it is never promoted again.
    #[error("{0}")]
    MarkedBad(String),
    /// Another promotion moved the channel (or its log) at the same time.
    #[error("{0}")]
    LostRace(String),
    /// The audit log does not verify: an entry was deleted, reordered,
    /// edited or signed by a key that is not trusted.
    #[error("the audit log {log} does not verify: {problem}")]
    Tampered { log: String, problem: Tamper },
    /// The registry, layout or archive failed.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// A local file could not be read or written.
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
}

/// How an audit log was found to be tampered with, naming the entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Tamper {
    /// An entry names a predecessor that is not there, or the sequence skips.
    #[error("an entry was deleted: {0}")]
    Deleted(String),
    /// Entries are out of order (sequence, time or digests do not follow).
    #[error("entries were reordered: {0}")]
    Reordered(String),
    /// An entry's content does not match its signature or its digest.
    #[error("an entry was edited: {0}")]
    Edited(String),
    /// An entry is signed by a key that is not a trusted operator key.
    #[error("an entry has the wrong signer: {0}")]
    WrongSigner(String),
    /// The channel's tag does not hold what the log's newest entry says.
    #[error("the channel and its log disagree: {0}")]
    Diverged(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn io(what: impl Into<String>, source: std::io::Error) -> Error {
        Error::Io {
            what: what.into(),
            source,
        }
    }
}
