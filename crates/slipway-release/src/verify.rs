//! Image verification as the release library needs it. The checks
//! themselves live in `slipway-verify` (shared with `slipway verify` and
//! the admission webhook); policies call them through [`Verifier`] so they
//! judge images exactly as `slipway verify` does.

use std::path::{Path, PathBuf};

use serde_json::Value;
use slipway_attest::PublicKey;
use slipway_oci::Digest;
use slipway_registry::{RawManifest, Store};

/// The verification a channel policy runs.
pub trait Verifier: Sync {
    /// Cosign signatures (and with `attestations`, attestations) of `digest`
    /// by `key`: the report `slipway verify --json` prints (`signatures`,
    /// `formats`, `attestations` with `predicate_type`). An error when no
    /// signature (or no attestation) verifies.
    fn cosign(
        &self,
        store: &dyn Store,
        digest: &Digest,
        key: &PublicKey,
        attestations: bool,
    ) -> Result<Value, String>;

    /// A Notary signature of `root` that passes the trust policy and trust
    /// store for `scope`.
    fn notary(
        &self,
        store: &dyn Store,
        root: &RawManifest,
        scope: &str,
        trust: &NotaryFiles,
    ) -> Result<Value, String>;
}

/// Where a notation trust policy and trust store are.
#[derive(Debug, Clone)]
pub struct NotaryFiles {
    pub trust_policy: PathBuf,
    pub trust_store: PathBuf,
}

/// Read a PKIX PEM public key (as `slipway keygen` and cosign write it).
pub fn public_key(path: &Path) -> Result<PublicKey, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the key {}: {e}", path.display()))?;
    PublicKey::from_pem(&text).map_err(|e| format!("{}: {e}", path.display()))
}
