//! DSSE envelopes around in-toto statements, stored as cosign stores them:
//! one layer per envelope (media type `application/vnd.dsse.envelope.v1+json`)
//! in the image's `sha256-<hex>.att` manifest, with the annotations
//! `dev.cosignproject.cosign/signature: ""` (the signature is inside the
//! envelope) and `predicateType`.
//!
//! What is signed is DSSE's pre-authentication encoding, [`pae`], of the
//! payload type and the statement bytes, never the JSON envelope itself.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use slipway_oci::Digest;

use crate::cosign::{
    Added, SIGNATURE_ANNOTATION, SIGNED_PAYLOAD_ANNOTATION, SIGNER_ANNOTATION, Verification,
};
use crate::keys::{PublicKey, SignatureFailure, SigningKey};
use crate::manifest::{LayerDescriptor, Layered, ManifestError, WrittenManifest, go_json};
use crate::verify::{RejectReason, VerifyError, classify_mismatch};

/// Media type of a DSSE envelope layer.
pub const DSSE_MEDIA_TYPE: &str = "application/vnd.dsse.envelope.v1+json";
/// DSSE payload type of an in-toto statement.
pub const INTOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";
/// in-toto Statement v1 (what slipway writes).
pub const STATEMENT_V1: &str = "https://in-toto.io/Statement/v1";
/// in-toto Statement v0.1 (what cosign v2 writes; read too).
pub const STATEMENT_V01: &str = "https://in-toto.io/Statement/v0.1";
/// The `.att` layer annotation naming the predicate type.
pub const PREDICATE_TYPE_ANNOTATION: &str = "predicateType";
pub const PREDICATE_SPDX: &str = "https://spdx.dev/Document";
pub const PREDICATE_CYCLONEDX: &str = "https://cyclonedx.org/bom";
pub const PREDICATE_SLSA_PROVENANCE_V1: &str = "https://slsa.dev/provenance/v1";

/// The tag cosign stores an image's attestations under: `sha256-<hex>.att`.
pub fn attestation_tag(image: &Digest) -> String {
    format!("sha256-{}.att", image.hex())
}

/// DSSE v1 pre-authentication encoding:
/// `"DSSEv1" SP len(type) SP type SP len(body) SP body`, lengths in decimal.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "DSSEv1 {} {payload_type} {} ",
        payload_type.len(),
        payload.len()
    )
    .into_bytes();
    out.extend_from_slice(payload);
    out
}

/// Why an envelope or statement could not be read or built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DsseError {
    #[error("not a DSSE envelope: {0}")]
    Envelope(String),
    #[error("the envelope's {0} is not valid base64")]
    Base64(&'static str),
    #[error("the envelope holds no signatures")]
    Unsigned,
    #[error("no signature in the envelope verifies: {0}")]
    Signature(SignatureFailure),
    #[error("not an in-toto statement: {0}")]
    Statement(String),
}

/// A DSSE envelope, fields in the order Go's securesystemslib writes them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    #[serde(rename = "payloadType")]
    pub payload_type: String,
    /// Standard base64 of the payload bytes.
    pub payload: String,
    pub signatures: Vec<EnvelopeSignature>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvelopeSignature {
    /// An unauthenticated hint; cosign writes "" and so does slipway.
    #[serde(default)]
    pub keyid: String,
    /// Standard base64 of the DER signature over [`pae`].
    pub sig: String,
}

impl Envelope {
    /// Sign `payload` as `payload_type` (deterministic for a given key).
    pub fn sign(payload_type: &str, payload: &[u8], key: &SigningKey) -> Envelope {
        Envelope {
            payload_type: payload_type.to_string(),
            payload: B64.encode(payload),
            signatures: vec![EnvelopeSignature {
                keyid: String::new(),
                sig: B64.encode(key.sign(&pae(payload_type, payload))),
            }],
        }
    }

    /// Compact JSON, as cosign stores it.
    pub fn to_json(&self) -> Vec<u8> {
        go_json(self)
    }

    pub fn parse(bytes: &[u8]) -> Result<Envelope, DsseError> {
        serde_json::from_slice(bytes).map_err(|e| DsseError::Envelope(e.to_string()))
    }

    /// The decoded payload (not yet verified).
    pub fn payload_bytes(&self) -> Result<Vec<u8>, DsseError> {
        B64.decode(&self.payload)
            .map_err(|_| DsseError::Base64("payload"))
    }

    /// The payload, if at least one signature verifies with `key`. When none
    /// does, the error is `Malformed` only if every signature is damaged.
    pub fn verify(&self, key: &PublicKey) -> Result<Vec<u8>, DsseError> {
        let payload = self.payload_bytes()?;
        let message = pae(&self.payload_type, &payload);
        let mut failure = None;
        for s in &self.signatures {
            let outcome = match B64.decode(&s.sig) {
                Ok(sig) => key.verify(&message, &sig),
                Err(_) => Err(SignatureFailure::Malformed),
            };
            match outcome {
                Ok(()) => return Ok(payload),
                Err(SignatureFailure::Mismatch) => failure = Some(SignatureFailure::Mismatch),
                Err(SignatureFailure::Malformed) => {
                    failure.get_or_insert(SignatureFailure::Malformed);
                }
            }
        }
        Err(failure.map_or(DsseError::Unsigned, DsseError::Signature))
    }
}

/// An artifact a statement is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subject {
    /// cosign v3's signature statements leave it out.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Algorithm → lowercase hex, e.g. `{"sha256": "<64 hex>"}`.
    pub digest: BTreeMap<String, String>,
}

impl Subject {
    /// A subject named `name` with the given sha256 digest.
    pub fn new(name: &str, digest: &Digest) -> Subject {
        Subject {
            name: name.to_string(),
            digest: BTreeMap::from([("sha256".to_string(), digest.hex().to_string())]),
        }
    }
}

/// An in-toto statement. The predicate is kept as the exact JSON text it was
/// given (an SBOM document, a provenance predicate), so its field order is
/// the producer's.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Statement {
    #[serde(rename = "_type")]
    pub statement_type: String,
    pub subject: Vec<Subject>,
    #[serde(rename = "predicateType")]
    pub predicate_type: String,
    pub predicate: Box<RawValue>,
}

impl PartialEq for Statement {
    fn eq(&self, other: &Self) -> bool {
        self.statement_type == other.statement_type
            && self.subject == other.subject
            && self.predicate_type == other.predicate_type
            && self.predicate.get() == other.predicate.get()
    }
}

impl Statement {
    /// A v1 statement; `predicate` must be a JSON object.
    pub fn new(
        subject: Vec<Subject>,
        predicate_type: &str,
        predicate: &[u8],
    ) -> Result<Statement, DsseError> {
        let text = std::str::from_utf8(predicate)
            .map_err(|_| DsseError::Statement("the predicate is not UTF-8".into()))?;
        let raw = RawValue::from_string(text.trim().to_string())
            .map_err(|e| DsseError::Statement(format!("the predicate is not JSON: {e}")))?;
        if !raw.get().starts_with('{') {
            return Err(DsseError::Statement(
                "the predicate must be a JSON object".into(),
            ));
        }
        if subject.is_empty() {
            return Err(DsseError::Statement("a statement needs a subject".into()));
        }
        Ok(Statement {
            statement_type: STATEMENT_V1.to_string(),
            subject,
            predicate_type: predicate_type.to_string(),
            predicate: raw,
        })
    }

    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a statement always serializes")
    }

    /// Read a statement (v1 or v0.1).
    pub fn parse(bytes: &[u8]) -> Result<Statement, DsseError> {
        let s: Statement =
            serde_json::from_slice(bytes).map_err(|e| DsseError::Statement(e.to_string()))?;
        if s.statement_type != STATEMENT_V1 && s.statement_type != STATEMENT_V01 {
            return Err(DsseError::Statement(format!(
                "_type is `{}`, not an in-toto statement",
                s.statement_type
            )));
        }
        Ok(s)
    }

    /// Whether one of the subjects is `digest`.
    pub fn is_about(&self, digest: &Digest) -> bool {
        self.subject
            .iter()
            .any(|s| s.digest.get("sha256").map(String::as_str) == Some(digest.hex()))
    }
}

/// An attestation that verified.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedAttestation {
    /// Index of the layer in the manifest.
    pub layer: usize,
    pub predicate_type: String,
    pub statement: Statement,
}

/// The attestations of one image: the layers of its `.att` manifest.
#[derive(Debug, Clone)]
pub struct AttestationSet {
    inner: Layered,
}

impl Default for AttestationSet {
    fn default() -> Self {
        AttestationSet::new()
    }
}

impl AttestationSet {
    /// No attestations yet (no `.att` tag exists).
    pub fn new() -> AttestationSet {
        AttestationSet {
            inner: Layered::new(),
        }
    }

    /// The set stored in an existing `.att` manifest (raw bytes).
    pub fn from_manifest(raw: &[u8]) -> Result<AttestationSet, ManifestError> {
        Ok(AttestationSet {
            inner: Layered::parse(raw)?,
        })
    }

    pub fn layers(&self) -> &[LayerDescriptor] {
        &self.inner.layers
    }

    /// Sign `statement` into an envelope and append it. Signing is
    /// deterministic, so attesting the same statement with the same key
    /// again finds the identical layer and changes nothing.
    pub fn attest(&mut self, key: &SigningKey, statement: &Statement) -> Added {
        let envelope = Envelope::sign(INTOTO_PAYLOAD_TYPE, &statement.to_json(), key).to_json();
        let annotations = BTreeMap::from([
            (
                SIGNER_ANNOTATION.to_string(),
                key.public_key().fingerprint().to_string(),
            ),
            (
                SIGNED_PAYLOAD_ANNOTATION.to_string(),
                Digest::of(&envelope).to_string(),
            ),
        ]);
        self.add_envelope(envelope, &statement.predicate_type, annotations)
    }

    /// Append an envelope made elsewhere, with cosign's two annotations plus
    /// `extra`. An identical layer is not added twice.
    pub fn add_envelope(
        &mut self,
        envelope_json: Vec<u8>,
        predicate_type: &str,
        mut extra: BTreeMap<String, String>,
    ) -> Added {
        extra.insert(SIGNATURE_ANNOTATION.to_string(), String::new());
        extra.insert(
            PREDICATE_TYPE_ANNOTATION.to_string(),
            predicate_type.to_string(),
        );
        if self.inner.push(DSSE_MEDIA_TYPE, envelope_json, extra) {
            Added::Appended
        } else {
            Added::AlreadyPresent
        }
    }

    /// The manifest to store under [`attestation_tag`], with the blobs to
    /// store first.
    pub fn to_manifest(&self) -> WrittenManifest {
        self.inner.write()
    }

    /// The statements signed by `key` whose subjects include `image`.
    pub fn verify<F, E>(
        &self,
        image: &Digest,
        key: &PublicKey,
        mut fetch: F,
    ) -> Result<Verification<VerifiedAttestation>, VerifyError>
    where
        F: FnMut(&Digest) -> Result<Vec<u8>, E>,
        E: std::fmt::Display,
    {
        crate::verify::verify_layers(
            &self.inner.layers,
            DSSE_MEDIA_TYPE,
            VerifyError::NoAttestations,
            |index, layer| {
                let statement = self.check(layer, image, key, &mut fetch)?;
                Ok(VerifiedAttestation {
                    layer: index,
                    predicate_type: statement.predicate_type.clone(),
                    statement,
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
    ) -> Result<Statement, RejectReason>
    where
        F: FnMut(&Digest) -> Result<Vec<u8>, E>,
        E: std::fmt::Display,
    {
        let blob = match self.inner.new_payload(&layer.digest) {
            Some(p) => p.to_vec(),
            None => fetch(&layer.digest).map_err(|e| RejectReason::Fetch(e.to_string()))?,
        };
        let found = Digest::of(&blob);
        if found != layer.digest || blob.len() as u64 != layer.size {
            return Err(RejectReason::TamperedPayload(format!(
                "the stored envelope is {found} ({} bytes) but the manifest lists {} ({} bytes)",
                blob.len(),
                layer.digest,
                layer.size
            )));
        }
        let envelope =
            Envelope::parse(&blob).map_err(|e| RejectReason::MalformedPayload(e.to_string()))?;
        if envelope.payload_type != INTOTO_PAYLOAD_TYPE {
            return Err(RejectReason::MalformedPayload(format!(
                "payloadType is `{}`, not `{INTOTO_PAYLOAD_TYPE}`",
                envelope.payload_type
            )));
        }
        let payload = match envelope.verify(key) {
            Ok(p) => p,
            Err(DsseError::Signature(SignatureFailure::Mismatch)) => {
                return Err(classify_mismatch(
                    &layer.annotations,
                    &layer.digest,
                    key,
                    SIGNER_ANNOTATION,
                    Some(SIGNED_PAYLOAD_ANNOTATION),
                ));
            }
            Err(DsseError::Signature(SignatureFailure::Malformed)) => {
                return Err(RejectReason::CorruptSignature(
                    "no envelope signature is a base64 DER ECDSA signature".into(),
                ));
            }
            Err(DsseError::Unsigned) => return Err(RejectReason::MissingSignature),
            Err(e) => return Err(RejectReason::MalformedPayload(e.to_string())),
        };
        let statement = Statement::parse(&payload)
            .map_err(|e| RejectReason::MalformedPayload(e.to_string()))?;
        if !statement.is_about(image) {
            let subjects: Vec<String> = statement
                .subject
                .iter()
                .map(|s| match s.digest.get("sha256") {
                    Some(h) => format!("{}@sha256:{h}", s.name),
                    None => s.name.clone(),
                })
                .collect();
            return Err(RejectReason::OtherSubject {
                subjects: subjects.join(", "),
            });
        }
        Ok(statement)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example from the DSSE v1 protocol description.
    #[test]
    fn pae_known_answer() {
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec()
        );
        assert_eq!(pae("", b""), b"DSSEv1 0  0 ".to_vec());
    }

    #[test]
    fn envelope_round_trip() {
        let key = SigningKey::generate().unwrap();
        let env = Envelope::sign(INTOTO_PAYLOAD_TYPE, b"{}", &key);
        let json = env.to_json();
        assert!(
            String::from_utf8_lossy(&json)
                .starts_with(r#"{"payloadType":"application/vnd.in-toto+json","payload":"e30=","signatures":[{"keyid":"","sig":""#)
        );
        let back = Envelope::parse(&json).unwrap();
        assert_eq!(back.verify(&key.public_key()).unwrap(), b"{}");
        let other = SigningKey::generate().unwrap();
        assert_eq!(
            back.verify(&other.public_key()),
            Err(DsseError::Signature(SignatureFailure::Mismatch))
        );
    }

    #[test]
    fn statement_rejects_bad_predicates() {
        let s = vec![Subject::new("x", &Digest::of(b"x"))];
        assert!(Statement::new(s.clone(), "t", b"[1]").is_err());
        assert!(Statement::new(s.clone(), "t", b"{").is_err());
        assert!(Statement::new(vec![], "t", b"{}").is_err());
        let st = Statement::new(s, "t", b" {\"a\": 1}\n").unwrap();
        assert_eq!(
            String::from_utf8(st.to_json()).unwrap(),
            format!(
                r#"{{"_type":"https://in-toto.io/Statement/v1","subject":[{{"name":"x","digest":{{"sha256":"{}"}}}}],"predicateType":"t","predicate":{{"a": 1}}}}"#,
                Digest::of(b"x").hex()
            )
        );
        assert_eq!(Statement::parse(&st.to_json()).unwrap(), st);
    }
}
