//! The one place the webhook calls slipway-verify: cosign signatures and
//! attestations, and Notary signatures, checked against a store.

use std::path::Path;

use serde_json::Value;
use slipway_attest::PublicKey;
use slipway_oci::Digest;
use slipway_registry::{RawManifest, Store};

pub use slipway_verify::VerifyError;
pub use slipway_verify::notary::NotaryTrust;

/// Read a cosign public key (PEM).
pub fn public_key(path: &Path) -> Result<PublicKey, VerifyError> {
    slipway_verify::public_key(path)
}

/// The cosign signatures of `digest` by `key` (and its attestations when
/// `attestations`): the report, or why nothing verified.
pub fn cosign(
    store: &dyn Store,
    digest: &Digest,
    key: &PublicKey,
    attestations: bool,
) -> Result<Value, VerifyError> {
    slipway_verify::cosign::verify_image(store, digest, key, attestations)
}

/// The Notary signatures of `root`, against the statement for `scope`:
/// whether one verified (false when the statement skips verification).
pub fn notary(
    store: &dyn Store,
    root: &RawManifest,
    scope: &str,
    trust: &NotaryTrust,
) -> Result<bool, VerifyError> {
    slipway_verify::notary::verify_image(store, root, scope, trust).map(|r| r.verified())
}
