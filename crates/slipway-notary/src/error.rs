//! What can go wrong, by kind, so callers can map kinds to exit codes and
//! messages can say what to fix.

/// Errors from reading keys, certificates, envelopes, manifests, trust
/// policies and trust stores. Verification verdicts are [`crate::Rejection`].
#[derive(Debug, thiserror::Error)]
pub enum NotaryError {
    /// A private key file is unusable.
    #[error("{0}")]
    Key(String),
    /// A certificate does not parse.
    #[error("certificate: {0}")]
    Certificate(String),
    /// A certificate chain breaks the Notary Project's rules.
    #[error("certificate chain: {0}")]
    Chain(String),
    /// The trust policy document is invalid (the message names the rule).
    #[error("trust policy: {0}")]
    Policy(String),
    /// The trust store is missing or holds something other than certificates.
    #[error("trust store: {0}")]
    TrustStore(String),
    /// A manifest or envelope is not a Notary signature slipway can read.
    #[error("{0}")]
    Format(String),
    /// Reading a local file failed.
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
}

impl NotaryError {
    pub(crate) fn io(what: impl Into<String>, source: std::io::Error) -> NotaryError {
        NotaryError::Io {
            what: what.into(),
            source,
        }
    }
}
