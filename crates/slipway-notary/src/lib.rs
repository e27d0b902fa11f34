//! Notary Project signatures, the format `notation` writes and reads: a JWS
//! envelope (`notary.x509` signing scheme, signing time, the X.509 chain in
//! `x5c`) over the signed manifest's descriptor, stored as an OCI 1.1
//! referrer of that manifest; and their verification against notation's own
//! trust policy and trust store, offline.
//!
//! The crate works on bytes and descriptors; finding and storing referrers
//! is the registry crate's job.

pub mod cert;
pub mod dn;
mod envelope;
mod error;
mod keys;
pub mod manifest;
pub mod policy;
pub mod time;
mod truststore;
mod verify;

pub use cert::{Algorithm, Certificate};
pub use envelope::{
    COSE_MEDIA_TYPE, Envelope, JWS_MEDIA_TYPE, PAYLOAD_MEDIA_TYPE, SignOptions, TargetArtifact,
    open,
};
pub use error::NotaryError;
pub use keys::SigningIdentity;
pub use manifest::{
    SIGNATURE_ARTIFACT_TYPE, SignatureManifest, StoredSignature, is_signature_manifest,
    read_signature_manifest,
};
pub use policy::{Action, Check, TrustPolicy, TrustPolicyDocument};
pub use truststore::TrustStore;
pub use verify::{Finding, Rejection, Verified, verify};

/// Sign `target` and make the manifest that stores the signature as its
/// referrer.
pub fn sign(
    identity: &SigningIdentity,
    target: &TargetArtifact,
    options: &SignOptions,
) -> Result<SignatureManifest, NotaryError> {
    for c in identity.chain() {
        if options.signing_time < c.not_before || options.signing_time > c.not_after {
            return Err(NotaryError::Chain(format!(
                "`{}` is not valid at the signing time {} (it is valid from {} to {})",
                c.subject,
                time::format(options.signing_time),
                time::format(c.not_before),
                time::format(c.not_after)
            )));
        }
    }
    let envelope = envelope::sign(identity, target, options)?;
    let thumbprints: Vec<String> = identity
        .chain()
        .iter()
        .map(Certificate::thumbprint)
        .collect();
    manifest::signature_manifest(envelope, target, &thumbprints, options.signing_time)
}

#[cfg(feature = "test-ca")]
pub mod testca;
