//! The one place the release library calls image verification, which lives
//! in `slipway-verify` (shared with `slipway verify`, `copy`'s gate and the
//! admission webhook), so policies judge images exactly as `verify` does.
//! A rejected image is the rule's failure; a registry that cannot be read
//! or an unusable key is an error of its own kind, not a policy verdict.

use std::path::Path;

use serde_json::Value;
use slipway_attest::PublicKey;
use slipway_oci::Digest;
use slipway_registry::{RawManifest, Store};
use slipway_verify::VerifyError;

pub use slipway_verify::notary::NotaryTrust;

use crate::error::Error;

/// Either the image failed the check (the message), or checking failed.
pub(crate) enum Failure {
    Rejected(String),
    Error(Error),
}

impl From<VerifyError> for Failure {
    fn from(e: VerifyError) -> Failure {
        match e {
            VerifyError::Rejected(m) => Failure::Rejected(m),
            VerifyError::Input(m) => Failure::Error(Error::Input(m)),
            VerifyError::Notary(n) => Failure::Error(Error::Input(n.to_string())),
            VerifyError::Registry(r) => Failure::Error(Error::Registry(r)),
            VerifyError::Io { what, source } => Failure::Error(Error::Io { what, source }),
        }
    }
}

/// Cosign signatures (and with `attestations`, attestations) of `digest`
/// by `key`: the report `slipway verify --json` prints.
pub(crate) fn cosign(
    store: &dyn Store,
    digest: &Digest,
    key: &PublicKey,
    attestations: bool,
) -> Result<Value, Failure> {
    Ok(slipway_verify::cosign::verify_image(
        store,
        digest,
        key,
        attestations,
    )?)
}

/// A Notary signature of `root` that passes `trust` for `scope`.
pub(crate) fn notary(
    store: &dyn Store,
    root: &RawManifest,
    scope: &str,
    trust: &NotaryTrust,
) -> Result<Value, Failure> {
    let r = slipway_verify::notary::verify_image(store, root, scope, trust)?;
    let mut report = r.report;
    if !r.warnings.is_empty() {
        report["warnings"] = r.warnings.into();
    }
    Ok(report)
}

pub(crate) fn load_notary(policy: &Path, trust_store: &Path) -> Result<NotaryTrust, Error> {
    NotaryTrust::load(policy, trust_store).map_err(|e| Error::Input(e.to_string()))
}

/// Read a PKIX PEM public key (as `slipway keygen` and cosign write it).
pub fn public_key(path: &Path) -> Result<PublicKey, Error> {
    slipway_verify::public_key(path).map_err(|e| Error::Input(e.to_string()))
}
