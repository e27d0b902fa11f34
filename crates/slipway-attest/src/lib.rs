//! Supply-chain signing for slipway images, compatible with cosign.
//!
//! - [`keys`]: ECDSA P-256 key pairs in cosign's encrypted key format.
//! - [`cosign`]: simple-signing payloads and the `sha256-<hex>.sig` manifest.
//! - [`bundle`]: Sigstore bundles v0.3 as OCI 1.1 referrers (cosign v3's default).
//! - [`dsse`]: DSSE envelopes, in-toto statements and the `.att` manifest.
//! - [`provenance`]: SLSA provenance v1 predicates for slipway builds.
//!
//! Everything works on bytes and descriptors: fetching and storing blobs and
//! manifests (registry, OCI layout, archive) is the caller's business.

pub mod bundle;
pub mod cosign;
pub mod dsse;
pub mod keys;
pub mod manifest;
mod pem;
pub mod provenance;
pub mod verify;

pub use cosign::{Added, SignatureSet, Verification, VerifiedSignature, signature_tag};
pub use dsse::{
    AttestationSet, Envelope, Statement, Subject, VerifiedAttestation, attestation_tag,
};
pub use keys::{KeyError, PublicKey, SignatureFailure, SigningKey};
pub use manifest::{Blob, LayerDescriptor, ManifestError, WrittenManifest, merge_layered};
pub use verify::{RejectReason, Rejection, VerifyError};
