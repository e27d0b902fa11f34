//! Sigstore bundles (v0.3, key-based: no Fulcio certificate, no Rekor entry)
//! stored as OCI 1.1 referrers, the way cosign v3 stores signatures and
//! attestations by default.
//!
//! A signature is an in-toto statement about the image digest with predicate
//! type [`COSIGN_SIGN_PREDICATE`]; an attestation is any other statement.
//! Both are DSSE envelopes inside a bundle, which is the single layer of an
//! artifact manifest whose `subject` is the image and whose `artifactType` is
//! the bundle media type.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};
use slipway_oci::Digest;

use crate::dsse::{INTOTO_PAYLOAD_TYPE, Statement, pae};
use crate::keys::{PublicKey, SignatureFailure, SigningKey};
use crate::manifest::{Blob, WrittenManifest};
use crate::verify::RejectReason;

/// The bundle media type slipway writes (and cosign v3 writes).
pub const BUNDLE_MEDIA_TYPE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
/// Every bundle media type a verifier must accept.
pub const BUNDLE_MEDIA_TYPES: [&str; 4] = [
    BUNDLE_MEDIA_TYPE,
    "application/vnd.dev.sigstore.bundle+json;version=0.3",
    "application/vnd.dev.sigstore.bundle+json;version=0.2",
    "application/vnd.dev.sigstore.bundle+json;version=0.1",
];
/// The predicate type of cosign v3's image signature statement.
pub const COSIGN_SIGN_PREDICATE: &str = "https://sigstore.dev/cosign/sign/v1";
/// The OCI empty descriptor: the config of an artifact manifest.
pub const EMPTY_MEDIA_TYPE: &str = "application/vnd.oci.empty.v1+json";
pub const EMPTY_JSON: &[u8] = b"{}";
/// Manifest annotations cosign v3 sets on a bundle referrer.
pub const CONTENT_ANNOTATION: &str = "dev.sigstore.bundle.content";
pub const PREDICATE_ANNOTATION: &str = "dev.sigstore.bundle.predicateType";
pub const CREATED_ANNOTATION: &str = "org.opencontainers.image.created";
/// Unsigned diagnostics (as on legacy layers): the signer's key fingerprint
/// and the digest of the DSSE payload at signing time. They only choose the
/// message when a signature fails; they never make anything pass.
pub const SIGNER_ANNOTATION: &str = "dev.slipway.signature/signer";
pub const SIGNED_PAYLOAD_ANNOTATION: &str = "dev.slipway.signature/payload-digest";

/// A bundle's JSON (protobuf-specs' JSON form, lowerCamelCase).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Bundle {
    pub media_type: String,
    pub verification_material: VerificationMaterial,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_signature: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dsse_envelope: Option<BundleEnvelope>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VerificationMaterial {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key: Option<PublicKeyHint>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x509_certificate_chain: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tlog_entries: Vec<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp_verification_data: Option<serde_json::Value>,
}

/// An unauthenticated hint naming the key: base64 of SHA-256 of its DER.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PublicKeyHint {
    #[serde(default)]
    pub hint: String,
}

/// A DSSE envelope in the bundle's field order (payload first).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BundleEnvelope {
    pub payload: String,
    pub payload_type: String,
    pub signatures: Vec<BundleSignature>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BundleSignature {
    pub sig: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub keyid: String,
}

/// The key hint sigstore-go and cosign write for `key`.
pub fn key_hint(key: &PublicKey) -> String {
    use sha2::Digest as _;
    B64.encode(sha2::Sha256::digest(key.to_der()))
}

impl Bundle {
    /// Sign `statement` with `key` into a bundle (deterministic per key).
    pub fn sign(key: &SigningKey, statement: &Statement) -> Bundle {
        let payload = statement.to_json();
        let sig = key.sign(&pae(INTOTO_PAYLOAD_TYPE, &payload));
        Bundle {
            media_type: BUNDLE_MEDIA_TYPE.into(),
            verification_material: VerificationMaterial {
                public_key: Some(PublicKeyHint {
                    hint: key_hint(&key.public_key()),
                }),
                ..VerificationMaterial::default()
            },
            message_signature: None,
            dsse_envelope: Some(BundleEnvelope {
                payload: B64.encode(&payload),
                payload_type: INTOTO_PAYLOAD_TYPE.into(),
                signatures: vec![BundleSignature {
                    sig: B64.encode(sig),
                    keyid: String::new(),
                }],
            }),
        }
    }

    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a bundle serialises")
    }

    pub fn parse(bytes: &[u8]) -> Result<Bundle, RejectReason> {
        let b: Bundle = serde_json::from_slice(bytes)
            .map_err(|e| RejectReason::MalformedPayload(format!("not a Sigstore bundle: {e}")))?;
        if !BUNDLE_MEDIA_TYPES.contains(&b.media_type.as_str()) {
            return Err(RejectReason::MalformedPayload(format!(
                "bundle mediaType `{}` is not a Sigstore bundle version slipway reads",
                b.media_type
            )));
        }
        Ok(b)
    }

    /// The DSSE payload as stored (not verified).
    fn payload(&self) -> Result<(&BundleEnvelope, Vec<u8>), RejectReason> {
        let env = self.dsse_envelope.as_ref().ok_or_else(|| {
            RejectReason::MalformedPayload(if self.message_signature.is_some() {
                "the bundle holds a message signature; image signatures are DSSE statements".into()
            } else {
                "the bundle holds no DSSE envelope".into()
            })
        })?;
        let payload = B64
            .decode(&env.payload)
            .map_err(|_| RejectReason::MalformedPayload("the payload is not base64".into()))?;
        Ok((env, payload))
    }

    /// The statement, if the envelope's signature verifies with `key` and
    /// the statement is about `image`. Each way of failing has its reason;
    /// `annotations` are the referrer manifest's (unsigned diagnostics).
    pub fn verify(
        &self,
        image: &Digest,
        key: &PublicKey,
        annotations: &BTreeMap<String, String>,
    ) -> Result<Statement, RejectReason> {
        let (env, payload) = self.payload()?;
        if env.payload_type != INTOTO_PAYLOAD_TYPE {
            return Err(RejectReason::MalformedPayload(format!(
                "payloadType is `{}`, not `{INTOTO_PAYLOAD_TYPE}`",
                env.payload_type
            )));
        }
        let [signature] = env.signatures.as_slice() else {
            return Err(if env.signatures.is_empty() {
                RejectReason::MissingSignature
            } else {
                RejectReason::MalformedPayload(format!(
                    "a bundle's envelope holds exactly one signature, this one {}",
                    env.signatures.len()
                ))
            });
        };
        let sig = B64.decode(&signature.sig).map_err(|_| {
            RejectReason::CorruptSignature("the envelope signature is not base64".into())
        })?;
        match key.verify(&pae(&env.payload_type, &payload), &sig) {
            Ok(()) => {}
            Err(SignatureFailure::Malformed) => {
                return Err(RejectReason::CorruptSignature(
                    "it is not a DER-encoded ECDSA signature".into(),
                ));
            }
            Err(SignatureFailure::Mismatch) => {
                return Err(self.mismatch(&payload, key, annotations));
            }
        }
        let statement = Statement::parse(&payload)
            .map_err(|e| RejectReason::MalformedPayload(e.to_string()))?;
        if !statement.is_about(image) {
            let subjects: Vec<String> = statement
                .subject
                .iter()
                .filter_map(|s| s.digest.get("sha256").map(|h| format!("sha256:{h}")))
                .collect();
            return Err(if statement.predicate_type == COSIGN_SIGN_PREDICATE {
                RejectReason::OtherImage {
                    signed: subjects.join(", "),
                }
            } else {
                RejectReason::OtherSubject {
                    subjects: subjects.join(", "),
                }
            });
        }
        Ok(statement)
    }

    /// Which failure a well-formed signature that does not verify most
    /// likely is: only chooses the message.
    fn mismatch(
        &self,
        payload: &[u8],
        key: &PublicKey,
        annotations: &BTreeMap<String, String>,
    ) -> RejectReason {
        let now = Digest::of(payload).to_string();
        if let Some(signed) = annotations.get(SIGNED_PAYLOAD_ANNOTATION)
            && *signed != now
        {
            return RejectReason::TamperedPayload(format!(
                "the statement was replaced after signing: it was signed as {signed} and is now {now}"
            ));
        }
        let ours = key_hint(key);
        match self.verification_material.public_key.as_ref() {
            Some(h) if !h.hint.is_empty() && h.hint != ours => RejectReason::WrongKey {
                signer: format!("key hint {}", h.hint),
                expected: format!("{} (hint {ours})", key.fingerprint()),
            },
            Some(h) if !h.hint.is_empty() => RejectReason::CorruptSignature(format!(
                "the bundle names this key ({}), but its signature does not verify: its bytes were altered",
                key.fingerprint()
            )),
            _ => RejectReason::NotVerified {
                key: key.fingerprint().to_string(),
            },
        }
    }
}

/// The image (or platform manifest) a referrer is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubjectDescriptor {
    pub media_type: String,
    pub digest: Digest,
    pub size: u64,
}

#[derive(Serialize)]
struct Desc<'a> {
    #[serde(rename = "mediaType")]
    media_type: &'a str,
    digest: &'a Digest,
    size: u64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ArtifactManifest<'a> {
    schema_version: u32,
    media_type: &'a str,
    artifact_type: &'a str,
    config: Desc<'a>,
    layers: [Desc<'a>; 1],
    subject: Desc<'a>,
    annotations: BTreeMap<&'a str, String>,
}

/// Sign `statement` and wrap the bundle in a referrer manifest about
/// `subject`, as cosign v3 does. `created` is the RFC 3339 time recorded in
/// the manifest (callers pass SOURCE_DATE_EPOCH's, so output is reproducible).
pub fn bundle_referrer(
    key: &SigningKey,
    statement: &Statement,
    subject: &SubjectDescriptor,
    created: &str,
) -> WrittenManifest {
    let bundle = Bundle::sign(key, statement);
    let bundle_blob = Blob::new(BUNDLE_MEDIA_TYPE, bundle.to_json());
    let empty = Blob::new(EMPTY_MEDIA_TYPE, EMPTY_JSON.to_vec());
    let mut annotations = BTreeMap::new();
    annotations.insert(CONTENT_ANNOTATION, "dsse-envelope".to_string());
    annotations.insert(PREDICATE_ANNOTATION, statement.predicate_type.clone());
    annotations.insert(CREATED_ANNOTATION, created.to_string());
    annotations.insert(
        SIGNER_ANNOTATION,
        key.public_key().fingerprint().to_string(),
    );
    annotations.insert(
        SIGNED_PAYLOAD_ANNOTATION,
        Digest::of(&statement.to_json()).to_string(),
    );
    let manifest = ArtifactManifest {
        schema_version: 2,
        media_type: crate::manifest::MEDIA_OCI_MANIFEST,
        artifact_type: BUNDLE_MEDIA_TYPE,
        config: Desc {
            media_type: EMPTY_MEDIA_TYPE,
            digest: &empty.digest,
            size: 2,
        },
        layers: [Desc {
            media_type: BUNDLE_MEDIA_TYPE,
            digest: &bundle_blob.digest,
            size: bundle_blob.bytes.len() as u64,
        }],
        subject: Desc {
            media_type: &subject.media_type,
            digest: &subject.digest,
            size: subject.size,
        },
        annotations,
    };
    let bytes = serde_json::to_vec(&manifest).expect("a manifest serialises");
    WrittenManifest {
        digest: Digest::of(&bytes),
        bytes,
        media_type: crate::manifest::MEDIA_OCI_MANIFEST.into(),
        blobs: vec![empty, bundle_blob],
    }
}

/// The statement cosign v3 signs for an image: the digest, no predicate.
pub fn signature_statement(identity: &str, image: &Digest) -> Statement {
    Statement::new(
        vec![crate::dsse::Subject::new(identity, image)],
        COSIGN_SIGN_PREDICATE,
        b"{}",
    )
    .expect("a fixed statement is valid")
}

/// A referrer manifest read back: its bundle layer and its annotations.
#[derive(Debug, Clone)]
pub struct BundleLayer {
    pub layer: crate::manifest::LayerDescriptor,
    pub annotations: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct ReadManifest {
    #[serde(default)]
    layers: Vec<crate::manifest::LayerDescriptor>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
}

/// The bundle layer of a referrer manifest, if it has one (`None`: another
/// kind of artifact, to be ignored as cosign ignores it).
pub fn bundle_layer(manifest: &[u8]) -> Option<BundleLayer> {
    let m: ReadManifest = serde_json::from_slice(manifest).ok()?;
    let layer = m
        .layers
        .into_iter()
        .find(|l| BUNDLE_MEDIA_TYPES.contains(&l.media_type.as_str()))?;
    Some(BundleLayer {
        layer,
        annotations: m.annotations,
    })
}

/// Verify a referrer's bundle blob (already fetched) against the layer that
/// lists it, the image and the key.
pub fn verify_bundle_blob(
    found: &BundleLayer,
    blob: &[u8],
    image: &Digest,
    key: &PublicKey,
) -> Result<Statement, RejectReason> {
    let digest = Digest::of(blob);
    if digest != found.layer.digest || blob.len() as u64 != found.layer.size {
        return Err(RejectReason::TamperedPayload(format!(
            "the stored bundle is {digest} ({} bytes) but the manifest lists {} ({} bytes)",
            blob.len(),
            found.layer.digest,
            found.layer.size
        )));
    }
    Bundle::parse(blob)?.verify(image, key, &found.annotations)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subject() -> SubjectDescriptor {
        let m = br#"{"schemaVersion":2}"#;
        SubjectDescriptor {
            media_type: crate::manifest::MEDIA_OCI_MANIFEST.into(),
            digest: Digest::of(m),
            size: m.len() as u64,
        }
    }

    fn parts(w: &WrittenManifest) -> (BundleLayer, Vec<u8>) {
        let found = bundle_layer(&w.bytes).unwrap();
        let blob = w
            .blobs
            .iter()
            .find(|b| b.digest == found.layer.digest)
            .unwrap()
            .bytes
            .clone();
        (found, blob)
    }

    #[test]
    fn sign_and_verify_round_trip() {
        let key = SigningKey::generate().unwrap();
        let s = subject();
        let w = bundle_referrer(
            &key,
            &signature_statement("r/x", &s.digest),
            &s,
            "1970-01-01T00:00:00Z",
        );
        // Deterministic: the same key and image give the same referrer.
        let again = bundle_referrer(
            &key,
            &signature_statement("r/x", &s.digest),
            &s,
            "1970-01-01T00:00:00Z",
        );
        assert_eq!(w.digest, again.digest);
        let m: serde_json::Value = serde_json::from_slice(&w.bytes).unwrap();
        assert_eq!(m["artifactType"], BUNDLE_MEDIA_TYPE);
        assert_eq!(m["config"]["digest"], Digest::of(b"{}").to_string());
        assert_eq!(m["subject"]["digest"], s.digest.to_string());
        assert_eq!(
            m["annotations"][PREDICATE_ANNOTATION],
            COSIGN_SIGN_PREDICATE
        );
        let (found, blob) = parts(&w);
        let st = verify_bundle_blob(&found, &blob, &s.digest, &key.public_key()).unwrap();
        assert_eq!(st.predicate_type, COSIGN_SIGN_PREDICATE);
        let b: serde_json::Value = serde_json::from_slice(&blob).unwrap();
        assert_eq!(
            b["verificationMaterial"]["publicKey"]["hint"],
            key_hint(&key.public_key())
        );
        assert_eq!(b["dsseEnvelope"]["payloadType"], INTOTO_PAYLOAD_TYPE);
    }

    #[test]
    fn every_tampering_has_its_reason() {
        let key = SigningKey::generate().unwrap();
        let s = subject();
        let w = bundle_referrer(&key, &signature_statement("r/x", &s.digest), &s, "t");
        let (found, blob) = parts(&w);
        let pk = key.public_key();

        // One byte of the stored blob changed.
        let mut bad = blob.clone();
        let i = bad.len() / 2;
        bad[i] ^= 1;
        assert!(matches!(
            verify_bundle_blob(&found, &bad, &s.digest, &pk),
            Err(RejectReason::TamperedPayload(_))
        ));

        // The statement swapped for another image's, descriptor updated too.
        let mut b: Bundle = serde_json::from_slice(&blob).unwrap();
        let other = Digest::of(b"other");
        let forged = signature_statement("r/x", &other).to_json();
        b.dsse_envelope.as_mut().unwrap().payload = B64.encode(&forged);
        let e = b.verify(&s.digest, &pk, &found.annotations).unwrap_err();
        assert!(
            matches!(e, RejectReason::TamperedPayload(ref m) if m.contains("replaced after signing")),
            "{e}"
        );

        // A valid signature, but for another image.
        let w2 = bundle_referrer(&key, &signature_statement("r/x", &other), &s, "t");
        let (f2, b2) = parts(&w2);
        assert!(matches!(
            verify_bundle_blob(&f2, &b2, &s.digest, &pk),
            Err(RejectReason::OtherImage { .. })
        ));

        // A flipped signature byte.
        let mut b: Bundle = serde_json::from_slice(&blob).unwrap();
        let env = b.dsse_envelope.as_mut().unwrap();
        let mut sig = B64.decode(&env.signatures[0].sig).unwrap();
        let n = sig.len() - 2;
        sig[n] ^= 0x40;
        env.signatures[0].sig = B64.encode(&sig);
        let e = b.verify(&s.digest, &pk, &found.annotations).unwrap_err();
        assert!(matches!(e, RejectReason::CorruptSignature(_)), "{e}");

        // Another key.
        let other_key = SigningKey::generate().unwrap();
        let e = verify_bundle_blob(&found, &blob, &s.digest, &other_key.public_key()).unwrap_err();
        assert!(matches!(e, RejectReason::WrongKey { .. }), "{e}");

        // Not a bundle at all.
        assert!(matches!(
            Bundle::parse(b"{}"),
            Err(RejectReason::MalformedPayload(_))
        ));
    }
}
