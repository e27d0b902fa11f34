//! cosign's key-based image signatures: the "simple signing" payload and the
//! `sha256-<hex>.sig` manifest that holds one layer per signature.
//!
//! A signature layer is the payload blob (media type
//! `application/vnd.dev.cosign.simplesigning.v1+json`) with the base64 DER
//! signature in the `dev.cosignproject.cosign/signature` annotation. Layers
//! slipway writes carry two more annotations, both unsigned and used only to
//! explain a failure, never to accept anything (cosign ignores them):
//! [`SIGNER_ANNOTATION`], the signer's public-key fingerprint, and
//! [`SIGNED_PAYLOAD_ANNOTATION`], the payload digest at signing time. A
//! wrong key and a flipped signature byte are mathematically the same
//! failure; with these the verifier can say which one it most likely is.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::Deserialize;
use slipway_oci::Digest;

use crate::keys::{PublicKey, SignatureFailure, SigningKey};
use crate::manifest::{LayerDescriptor, Layered, ManifestError, WrittenManifest, go_json};
use crate::verify::{RejectReason, Rejection, VerifyError, classify_mismatch};

/// Media type of a simple-signing payload layer.
pub const SIMPLE_SIGNING_MEDIA_TYPE: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// The layer annotation holding the base64 DER signature.
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
/// Diagnostic, unsigned: `sha256:<hex>` fingerprint of the signer's public key.
pub const SIGNER_ANNOTATION: &str = "dev.slipway.signature/signer";
/// Diagnostic, unsigned: the payload digest when it was signed.
pub const SIGNED_PAYLOAD_ANNOTATION: &str = "dev.slipway.signature/payload-digest";
/// The `critical.type` of a cosign image signature payload.
pub const SIGNATURE_TYPE: &str = "cosign container image signature";

/// The simple-signing payload cosign signs, byte for byte: keys in this
/// order, no whitespace, `"optional":null`.
///
/// `docker_reference` is the repository without tag or digest
/// (`registry.example.com/team/svc`), as cosign writes it.
pub fn simple_signing_payload(docker_reference: &str, image: &Digest) -> Vec<u8> {
    let reference = go_json(&docker_reference);
    let reference = String::from_utf8_lossy(&reference);
    format!(
        r#"{{"critical":{{"identity":{{"docker-reference":{reference}}},"image":{{"docker-manifest-digest":"{image}"}},"type":"{SIGNATURE_TYPE}"}},"optional":null}}"#
    )
    .into_bytes()
}

/// The tag cosign stores an image's signatures under: `sha256-<hex>.sig`.
pub fn signature_tag(image: &Digest) -> String {
    format!("sha256-{}.sig", image.hex())
}

/// What a simple-signing payload claims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimpleSigning {
    pub docker_reference: String,
    pub image: Digest,
    /// `optional` as written (cosign puts `-a key=value` annotations here).
    pub optional: Option<BTreeMap<String, serde_json::Value>>,
}

impl SimpleSigning {
    /// Read a payload; the error says what is wrong with it.
    pub fn parse(payload: &[u8]) -> Result<SimpleSigning, String> {
        #[derive(Deserialize)]
        struct P {
            critical: Critical,
            #[serde(default)]
            optional: Option<BTreeMap<String, serde_json::Value>>,
        }
        #[derive(Deserialize)]
        struct Critical {
            identity: Identity,
            image: Image,
            #[serde(rename = "type")]
            kind: String,
        }
        #[derive(Deserialize)]
        struct Identity {
            #[serde(rename = "docker-reference")]
            docker_reference: String,
        }
        #[derive(Deserialize)]
        struct Image {
            #[serde(rename = "docker-manifest-digest")]
            digest: String,
        }
        let p: P = serde_json::from_slice(payload)
            .map_err(|e| format!("not a simple-signing payload: {e}"))?;
        if p.critical.kind != SIGNATURE_TYPE {
            return Err(format!(
                "critical.type is `{}`, not `{SIGNATURE_TYPE}`",
                p.critical.kind
            ));
        }
        let image = Digest::parse(&p.critical.image.digest).ok_or_else(|| {
            format!(
                "docker-manifest-digest `{}` is not a sha256 digest",
                p.critical.image.digest
            )
        })?;
        Ok(SimpleSigning {
            docker_reference: p.critical.identity.docker_reference,
            image,
            optional: p.optional,
        })
    }
}

/// Whether adding a signature changed the set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Added {
    Appended,
    /// The same key had already signed the same payload: nothing changed.
    AlreadyPresent,
}

/// A signature that verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedSignature {
    /// Index of the layer in the manifest.
    pub layer: usize,
    pub payload_digest: Digest,
    pub claims: SimpleSigning,
}

/// The outcome of verifying a set in which at least one signature verified.
/// `rejected` lists the other layers and why (another signer's layer is
/// normal in a multi-key set, so this is not an error).
#[derive(Debug, Clone)]
pub struct Verification<T> {
    pub verified: Vec<T>,
    pub rejected: Vec<Rejection>,
}

/// The signatures of one image: the layers of its `.sig` manifest.
///
/// ```
/// # use slipway_attest::{SigningKey, cosign::SignatureSet};
/// # use slipway_oci::Digest;
/// let key = SigningKey::generate().unwrap();
/// let image = Digest::of(b"an image manifest");
/// let mut set = SignatureSet::new();
/// set.sign(&key, "registry.example.com/team/svc", &image);
/// let written = set.to_manifest(); // store written.blobs, then written.bytes
/// let stored = SignatureSet::from_manifest(&written.bytes).unwrap();
/// let fetch = |d: &Digest| {
///     written.blobs.iter().find(|b| &b.digest == d).map(|b| b.bytes.clone()).ok_or("missing")
/// };
/// let ok = stored.verify(&image, &key.public_key(), fetch).unwrap();
/// assert_eq!(ok.verified.len(), 1);
/// ```
#[derive(Debug, Clone)]
pub struct SignatureSet {
    inner: Layered,
}

impl Default for SignatureSet {
    fn default() -> Self {
        SignatureSet::new()
    }
}

impl SignatureSet {
    /// No signatures yet (no `.sig` tag exists).
    pub fn new() -> SignatureSet {
        SignatureSet {
            inner: Layered::new(),
        }
    }

    /// The set stored in an existing `.sig` manifest (raw bytes).
    pub fn from_manifest(raw: &[u8]) -> Result<SignatureSet, ManifestError> {
        Ok(SignatureSet {
            inner: Layered::parse(raw)?,
        })
    }

    /// Every layer descriptor, in manifest order.
    pub fn layers(&self) -> &[LayerDescriptor] {
        &self.inner.layers
    }

    /// Sign `image` as `docker_reference` with `key` and append the layer,
    /// unless a layer already holds a signature by this key over the same
    /// payload (cosign's duplicate rule), which makes re-signing idempotent.
    pub fn sign(&mut self, key: &SigningKey, docker_reference: &str, image: &Digest) -> Added {
        let payload = simple_signing_payload(docker_reference, image);
        let payload_digest = Digest::of(&payload);
        let public = key.public_key();
        let duplicate = self.inner.layers.iter().any(|l| {
            l.media_type == SIMPLE_SIGNING_MEDIA_TYPE
                && l.digest == payload_digest
                && l.annotations
                    .get(SIGNATURE_ANNOTATION)
                    .and_then(|s| B64.decode(s).ok())
                    .is_some_and(|sig| public.verify(&payload, &sig).is_ok())
        });
        if duplicate {
            return Added::AlreadyPresent;
        }
        let signature = B64.encode(key.sign(&payload));
        let annotations = BTreeMap::from([
            (SIGNATURE_ANNOTATION.to_string(), signature),
            (
                SIGNER_ANNOTATION.to_string(),
                public.fingerprint().to_string(),
            ),
            (
                SIGNED_PAYLOAD_ANNOTATION.to_string(),
                payload_digest.to_string(),
            ),
        ]);
        self.push(payload, annotations)
    }

    /// Append a signature made elsewhere (a KMS, another tool): the payload,
    /// its base64 DER signature and any extra annotations, exactly as given.
    /// An identical layer is not added twice.
    pub fn add_signature(
        &mut self,
        payload: Vec<u8>,
        signature_b64: &str,
        mut annotations: BTreeMap<String, String>,
    ) -> Added {
        annotations.insert(SIGNATURE_ANNOTATION.to_string(), signature_b64.to_string());
        self.push(payload, annotations)
    }

    fn push(&mut self, payload: Vec<u8>, annotations: BTreeMap<String, String>) -> Added {
        if self
            .inner
            .push(SIMPLE_SIGNING_MEDIA_TYPE, payload, annotations)
        {
            Added::Appended
        } else {
            Added::AlreadyPresent
        }
    }

    /// The manifest to store under [`signature_tag`], with the blobs to
    /// store first.
    pub fn to_manifest(&self) -> WrittenManifest {
        self.inner.write()
    }

    /// Check the signatures against `image` and `key`. `fetch` returns a
    /// layer blob by digest (payloads added in this session are served from
    /// memory). Succeeds when at least one signature verifies, as cosign does.
    pub fn verify<F, E>(
        &self,
        image: &Digest,
        key: &PublicKey,
        mut fetch: F,
    ) -> Result<Verification<VerifiedSignature>, VerifyError>
    where
        F: FnMut(&Digest) -> Result<Vec<u8>, E>,
        E: std::fmt::Display,
    {
        crate::verify::verify_layers(
            &self.inner.layers,
            SIMPLE_SIGNING_MEDIA_TYPE,
            VerifyError::NoSignatures,
            |index, layer| {
                let (payload_digest, claims) = self.check(layer, image, key, &mut fetch)?;
                Ok(VerifiedSignature {
                    layer: index,
                    payload_digest,
                    claims,
                })
            },
        )
    }

    fn check<F, E>(
        &self,
        layer: &LayerDescriptor,
        image: &Digest,
        key: &PublicKey,
        fetch: &mut F,
    ) -> Result<(Digest, SimpleSigning), RejectReason>
    where
        F: FnMut(&Digest) -> Result<Vec<u8>, E>,
        E: std::fmt::Display,
    {
        let b64 = layer
            .annotations
            .get(SIGNATURE_ANNOTATION)
            .filter(|s| !s.is_empty())
            .ok_or(RejectReason::MissingSignature)?;
        let signature = B64
            .decode(b64)
            .map_err(|_| RejectReason::CorruptSignature("the annotation is not base64".into()))?;
        let payload = match self.inner.new_payload(&layer.digest) {
            Some(p) => p.to_vec(),
            None => fetch(&layer.digest).map_err(|e| RejectReason::Fetch(e.to_string()))?,
        };
        let found = Digest::of(&payload);
        if found != layer.digest || payload.len() as u64 != layer.size {
            return Err(RejectReason::TamperedPayload(format!(
                "the stored payload is {found} ({} bytes) but the manifest lists {} ({} bytes)",
                payload.len(),
                layer.digest,
                layer.size
            )));
        }
        match key.verify(&payload, &signature) {
            Ok(()) => {}
            Err(SignatureFailure::Malformed) => {
                return Err(RejectReason::CorruptSignature(
                    "it is not a DER-encoded ECDSA signature".into(),
                ));
            }
            Err(SignatureFailure::Mismatch) => {
                return Err(classify_mismatch(
                    &layer.annotations,
                    &layer.digest,
                    key,
                    SIGNER_ANNOTATION,
                    Some(SIGNED_PAYLOAD_ANNOTATION),
                ));
            }
        }
        let claims = SimpleSigning::parse(&payload).map_err(RejectReason::MalformedPayload)?;
        if &claims.image != image {
            return Err(RejectReason::OtherImage {
                signed: claims.image.to_string(),
            });
        }
        Ok((found, claims))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_bytes_are_cosigns() {
        let d = Digest::parse(
            "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(simple_signing_payload("registry.example.com/team/svc", &d)).unwrap(),
            r#"{"critical":{"identity":{"docker-reference":"registry.example.com/team/svc"},"image":{"docker-manifest-digest":"sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},"type":"cosign container image signature"},"optional":null}"#
        );
        assert_eq!(
            signature_tag(&d),
            "sha256-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.sig"
        );
        let back = SimpleSigning::parse(&simple_signing_payload("r/x", &d)).unwrap();
        assert_eq!(back.image, d);
        assert_eq!(back.docker_reference, "r/x");
        assert_eq!(back.optional, None);
    }
}
