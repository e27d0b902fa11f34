//! Verification outcomes shared by signatures and attestations: one distinct
//! reason per way a layer can fail, so the command line can say what
//! happened (tampered, signed for another image, damaged, another key).

use std::collections::BTreeMap;

use slipway_oci::Digest;

use crate::keys::PublicKey;

/// Why no signature (or attestation) verified.
#[derive(Debug, Clone, thiserror::Error)]
pub enum VerifyError {
    #[error("the image has no signatures (no simple-signing layer in its .sig manifest)")]
    NoSignatures,
    #[error("the image has no attestations (no DSSE layer in its .att manifest)")]
    NoAttestations,
    #[error("{}", describe(.0))]
    Rejected(Vec<Rejection>),
}

impl VerifyError {
    /// The reasons, when layers were found and rejected.
    pub fn rejections(&self) -> &[Rejection] {
        match self {
            VerifyError::Rejected(r) => r,
            _ => &[],
        }
    }
}

/// Check every layer of `media_type` with `check`; at least one must pass.
/// `none` is the error when there is no such layer at all.
pub(crate) fn verify_layers<T>(
    layers: &[crate::manifest::LayerDescriptor],
    media_type: &str,
    none: VerifyError,
    mut check: impl FnMut(usize, &crate::manifest::LayerDescriptor) -> Result<T, RejectReason>,
) -> Result<crate::cosign::Verification<T>, VerifyError> {
    let mut verified = Vec::new();
    let mut rejected = Vec::new();
    for (index, layer) in layers.iter().enumerate() {
        if layer.media_type != media_type {
            continue;
        }
        match check(index, layer) {
            Ok(v) => verified.push(v),
            Err(reason) => rejected.push(Rejection {
                layer: index,
                digest: layer.digest.clone(),
                reason,
            }),
        }
    }
    if verified.is_empty() {
        return Err(if rejected.is_empty() {
            none
        } else {
            VerifyError::Rejected(rejected)
        });
    }
    Ok(crate::cosign::Verification { verified, rejected })
}

fn describe(rejected: &[Rejection]) -> String {
    match rejected {
        [one] => format!("{one}"),
        many => {
            let mut s = format!("none of the {} layers verifies:", many.len());
            for r in many {
                s.push_str(&format!("\n  - {r}"));
            }
            s
        }
    }
}

/// One layer that did not verify, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// Index of the layer in the manifest.
    pub layer: usize,
    /// The layer's digest as the manifest lists it.
    pub digest: Digest,
    pub reason: RejectReason,
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "layer {} ({}): {}", self.layer, self.digest, self.reason)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RejectReason {
    #[error("cannot read the payload blob: {0}")]
    Fetch(String),
    #[error("the layer carries no signature")]
    MissingSignature,
    #[error("tampered payload: {0}")]
    TamperedPayload(String),
    #[error("corrupted signature: {0}")]
    CorruptSignature(String),
    #[error("signed by a different key ({signer}), not by {expected}")]
    WrongKey { signer: String, expected: String },
    #[error(
        "the signature does not verify with {key}: it was made with another key or altered after \
         signing (the layer names no signer, so slipway cannot tell which)"
    )]
    NotVerified { key: String },
    #[error("the payload is malformed: {0}")]
    MalformedPayload(String),
    #[error("the signature is valid but for another image: it names {signed}")]
    OtherImage { signed: String },
    #[error(
        "the attestation is valid but its subjects do not include this image (they are: {subjects})"
    )]
    OtherSubject { subjects: String },
}

/// A well-formed signature failed to verify with `key`: use the unsigned
/// diagnostic annotations, when present, to say what most likely happened.
/// This only chooses the message; the layer is rejected either way.
pub(crate) fn classify_mismatch(
    annotations: &BTreeMap<String, String>,
    layer_digest: &Digest,
    key: &PublicKey,
    signer_annotation: &str,
    payload_annotation: Option<&str>,
) -> RejectReason {
    let ours = key.fingerprint().to_string();
    if let Some(signed) = payload_annotation.and_then(|a| annotations.get(a))
        && signed != &layer_digest.to_string()
    {
        return RejectReason::TamperedPayload(format!(
            "the payload was replaced after signing: it was signed as {signed} and is now {layer_digest}"
        ));
    }
    match annotations.get(signer_annotation) {
        Some(signer) if signer != &ours => RejectReason::WrongKey {
            signer: signer.clone(),
            expected: ours,
        },
        Some(_) => RejectReason::CorruptSignature(format!(
            "the layer says it was signed by {ours}, but the signature does not verify: its bytes were altered"
        )),
        None => RejectReason::NotVerified { key: ours },
    }
}
