//! Verifying an image where it lives (a registry, a layout, an archive):
//! cosign signatures and attestations in both of cosign's formats
//! ([`cosign`]), and Notary Project signatures against a trust policy
//! ([`notary`]). `slipway verify`, the air-gap gate of `copy`, release
//! channels and the admission webhook all ask the same questions, so the
//! answers live here rather than in any one command.

pub mod cosign;
pub mod notary;

use std::path::Path;

use slipway_attest::PublicKey;
use slipway_registry::RegistryError;

/// Why an image did not verify, or could not be checked.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// Nothing verified, or something was altered: the image fails the check.
    #[error("{0}")]
    Rejected(String),
    /// A key, policy or argument given by the user is unusable.
    #[error("{0}")]
    Input(String),
    /// The store could not be read.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// A Notary trust policy or trust store is unusable.
    #[error(transparent)]
    Notary(#[from] slipway_notary::NotaryError),
    /// Scratch space for fetched blobs.
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
}

pub type Result<T, E = VerifyError> = std::result::Result<T, E>;

/// Read a cosign-style PEM public key from a file.
pub fn public_key(path: &Path) -> Result<PublicKey> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| VerifyError::Input(format!("cannot read the key {}: {e}", path.display())))?;
    PublicKey::from_pem(&text)
        .map_err(|e| VerifyError::Input(format!("reading the public key {}: {e}", path.display())))
}
