//! `.sig` and `.att` manifests: idempotence, several keys, and every way a
//! verification fails giving its own reason.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use proptest::prelude::*;
use slipway_attest::cosign::{SIGNATURE_ANNOTATION, SIMPLE_SIGNING_MEDIA_TYPE};
use slipway_attest::dsse::{DSSE_MEDIA_TYPE, PREDICATE_SPDX};
use slipway_attest::{
    Added, AttestationSet, Envelope, RejectReason, SignatureSet, SigningKey, Statement, Subject,
    VerifyError, WrittenManifest,
};
use slipway_oci::Digest;

const REPO: &str = "registry.example.com/team/svc";

/// A blob store: what was written, plus overrides to simulate tampering.
struct Store(BTreeMap<Digest, Vec<u8>>);

impl Store {
    fn of(w: &WrittenManifest) -> Store {
        Store(
            w.blobs
                .iter()
                .map(|b| (b.digest.clone(), b.bytes.clone()))
                .collect(),
        )
    }
    fn fetch(&self) -> impl FnMut(&Digest) -> Result<Vec<u8>, String> + '_ {
        |d| {
            self.0
                .get(d)
                .cloned()
                .ok_or_else(|| format!("{d} not found"))
        }
    }
}

fn only_reason(e: VerifyError) -> RejectReason {
    match e {
        VerifyError::Rejected(r) if r.len() == 1 => r[0].reason.clone(),
        other => panic!("expected one rejection, got {other:?}"),
    }
}

#[test]
fn sign_verify_idempotent_and_several_keys() {
    let (a, b) = (
        SigningKey::generate().unwrap(),
        SigningKey::generate().unwrap(),
    );
    let image = Digest::of(b"image manifest");
    let mut set = SignatureSet::new();
    assert_eq!(set.sign(&a, REPO, &image), Added::Appended);
    let first = set.to_manifest();
    let store = Store::of(&first);

    // Re-signing a stored set with the same key changes nothing, to the byte.
    let mut again = SignatureSet::from_manifest(&first.bytes).unwrap();
    assert_eq!(again.sign(&a, REPO, &image), Added::AlreadyPresent);
    assert_eq!(again.to_manifest().bytes, first.bytes);

    // A second key adds a second layer; both verify with their own key.
    assert_eq!(again.sign(&b, REPO, &image), Added::Appended);
    let two = again.to_manifest();
    assert_eq!(again.layers().len(), 2);
    assert!(
        again
            .layers()
            .iter()
            .all(|l| l.media_type == SIMPLE_SIGNING_MEDIA_TYPE)
    );
    // The config and the new layer's payload are handed back to store (the
    // payload bytes equal the first layer's: same image, same reference).
    assert_eq!(two.blobs.len(), 2);
    assert_eq!(two.blobs[1].digest, again.layers()[1].digest);
    let reread = SignatureSet::from_manifest(&two.bytes).unwrap();
    let ok = reread
        .verify(&image, &a.public_key(), store.fetch())
        .unwrap();
    assert_eq!(ok.verified.len(), 1);
    assert_eq!(ok.verified[0].layer, 0);
    assert_eq!(ok.verified[0].claims.docker_reference, REPO);
    assert_eq!(ok.rejected.len(), 1);
    assert!(matches!(
        ok.rejected[0].reason,
        RejectReason::WrongKey { .. }
    ));
    let ok = reread
        .verify(&image, &b.public_key(), store.fetch())
        .unwrap();
    assert_eq!(ok.verified[0].layer, 1);

    // The manifest references its config and its layers.
    let m: serde_json::Value = serde_json::from_slice(&two.bytes).unwrap();
    assert_eq!(m["mediaType"], "application/vnd.oci.image.manifest.v1+json");
    assert_eq!(
        m["config"]["mediaType"],
        "application/vnd.oci.image.config.v1+json"
    );
    assert_eq!(m["config"]["digest"], two.blobs[0].digest.to_string());
    assert!(
        m["layers"][1]["annotations"][SIGNATURE_ANNOTATION]
            .as_str()
            .unwrap()
            .len()
            > 60
    );
    assert_eq!(two.digest, Digest::of(&two.bytes));
}

#[test]
fn every_failure_is_distinct() {
    let key = SigningKey::generate().unwrap();
    let other = SigningKey::generate().unwrap();
    let image = Digest::of(b"image A");
    let mut set = SignatureSet::new();
    set.sign(&key, REPO, &image);
    let w = set.to_manifest();
    let store = Store::of(&w);
    let stored = SignatureSet::from_manifest(&w.bytes).unwrap();
    let layer = &stored.layers()[0];

    // No signature at all.
    assert!(matches!(
        SignatureSet::new().verify(&image, &key.public_key(), store.fetch()),
        Err(VerifyError::NoSignatures)
    ));

    // The wrong key.
    let r = only_reason(
        stored
            .verify(&image, &other.public_key(), store.fetch())
            .unwrap_err(),
    );
    assert!(matches!(r, RejectReason::WrongKey { .. }), "{r}");

    // Another image's digest: a valid signature, copied to image B's .sig.
    let r = only_reason(
        stored
            .verify(&Digest::of(b"image B"), &key.public_key(), store.fetch())
            .unwrap_err(),
    );
    assert_eq!(
        r,
        RejectReason::OtherImage {
            signed: image.to_string()
        }
    );

    // Tampered payload, edited in place in the blob store.
    let mut edited = Store(store.0.clone());
    let p = edited.0.get_mut(&layer.digest).unwrap();
    let i = p.len() - 10;
    p[i] ^= 0x20;
    let r = only_reason(
        stored
            .verify(&image, &key.public_key(), edited.fetch())
            .unwrap_err(),
    );
    assert!(
        matches!(r, RejectReason::TamperedPayload(ref m) if m.contains("stored payload")),
        "{r}"
    );

    // Tampered payload, replaced by a new blob and the descriptor updated
    // (what a registry allows).
    let forged = slipway_attest::cosign::simple_signing_payload("evil.example/x", &image);
    let mut m: serde_json::Value = serde_json::from_slice(&w.bytes).unwrap();
    m["layers"][0]["digest"] = Digest::of(&forged).to_string().into();
    m["layers"][0]["size"] = forged.len().into();
    let replaced = SignatureSet::from_manifest(&serde_json::to_vec(&m).unwrap()).unwrap();
    let mut s2 = Store(store.0.clone());
    s2.0.insert(Digest::of(&forged), forged);
    let r = only_reason(
        replaced
            .verify(&image, &key.public_key(), s2.fetch())
            .unwrap_err(),
    );
    assert!(
        matches!(r, RejectReason::TamperedPayload(ref m) if m.contains("replaced after signing")),
        "{r}"
    );

    // A flipped signature byte (inside r, so the DER stays well-formed).
    let mut sig = B64
        .decode(&layer.annotations[SIGNATURE_ANNOTATION])
        .unwrap();
    sig[10] ^= 1;
    let mut m: serde_json::Value = serde_json::from_slice(&w.bytes).unwrap();
    m["layers"][0]["annotations"][SIGNATURE_ANNOTATION] = B64.encode(&sig).into();
    let flipped = SignatureSet::from_manifest(&serde_json::to_vec(&m).unwrap()).unwrap();
    let r = only_reason(
        flipped
            .verify(&image, &key.public_key(), store.fetch())
            .unwrap_err(),
    );
    assert!(
        matches!(r, RejectReason::CorruptSignature(ref m) if m.contains("altered")),
        "{r}"
    );

    // A signature byte that breaks the DER structure.
    let mut sig = B64
        .decode(&layer.annotations[SIGNATURE_ANNOTATION])
        .unwrap();
    sig[0] = 0x31;
    m["layers"][0]["annotations"][SIGNATURE_ANNOTATION] = B64.encode(&sig).into();
    let broken = SignatureSet::from_manifest(&serde_json::to_vec(&m).unwrap()).unwrap();
    let r = only_reason(
        broken
            .verify(&image, &key.public_key(), store.fetch())
            .unwrap_err(),
    );
    assert!(
        matches!(r, RejectReason::CorruptSignature(ref m) if m.contains("DER")),
        "{r}"
    );

    // A cosign-style layer (no slipway annotations) from another key: the
    // verifier says it cannot tell which of the two it is.
    let mut plain = SignatureSet::new();
    let payload = slipway_attest::cosign::simple_signing_payload(REPO, &image);
    let sig = B64.encode(other.sign(&payload));
    plain.add_signature(payload.clone(), &sig, BTreeMap::new());
    let pw = plain.to_manifest();
    let r = only_reason(
        plain
            .verify(&image, &key.public_key(), Store::of(&pw).fetch())
            .unwrap_err(),
    );
    assert!(matches!(r, RejectReason::NotVerified { .. }), "{r}");
    // ...and it verifies with the right key; the key's own sign() sees it as
    // already present (cosign's duplicate rule), with no new layer.
    assert!(
        plain
            .verify(&image, &other.public_key(), Store::of(&pw).fetch())
            .is_ok()
    );
    assert_eq!(plain.sign(&other, REPO, &image), Added::AlreadyPresent);

    // A missing payload blob.
    let r = only_reason(
        stored
            .verify(&image, &key.public_key(), Store(BTreeMap::new()).fetch())
            .unwrap_err(),
    );
    assert!(matches!(r, RejectReason::Fetch(_)), "{r}");
}

#[test]
fn attestations_verify_by_subject_and_are_idempotent() {
    let key = SigningKey::generate().unwrap();
    let image = Digest::of(b"image");
    let statement = Statement::new(
        vec![Subject::new(REPO, &image)],
        PREDICATE_SPDX,
        br#"{"spdxVersion":"SPDX-2.3"}"#,
    )
    .unwrap();
    let mut set = AttestationSet::new();
    assert_eq!(set.attest(&key, &statement), Added::Appended);
    let w = set.to_manifest();
    let mut again = AttestationSet::from_manifest(&w.bytes).unwrap();
    assert_eq!(again.attest(&key, &statement), Added::AlreadyPresent);
    assert_eq!(again.to_manifest().bytes, w.bytes);
    let layer = &again.layers()[0];
    assert_eq!(layer.media_type, DSSE_MEDIA_TYPE);
    assert_eq!(layer.annotations[SIGNATURE_ANNOTATION], "");
    assert_eq!(layer.annotations["predicateType"], PREDICATE_SPDX);

    let store = Store::of(&w);
    let ok = again
        .verify(&image, &key.public_key(), store.fetch())
        .unwrap();
    assert_eq!(ok.verified.len(), 1);
    assert_eq!(ok.verified[0].statement, statement);

    let r = only_reason(
        again
            .verify(&Digest::of(b"other"), &key.public_key(), store.fetch())
            .unwrap_err(),
    );
    assert!(matches!(r, RejectReason::OtherSubject { .. }), "{r}");
    let other = SigningKey::generate().unwrap();
    let r = only_reason(
        again
            .verify(&image, &other.public_key(), store.fetch())
            .unwrap_err(),
    );
    assert!(matches!(r, RejectReason::WrongKey { .. }), "{r}");
    assert!(matches!(
        AttestationSet::new().verify(&image, &key.public_key(), store.fetch()),
        Err(VerifyError::NoAttestations)
    ));
    // Another statement appends a second layer.
    let prov = slipway_attest::provenance::statement(
        vec![Subject::new(REPO, &image)],
        &slipway_attest::provenance::ProvenanceInput {
            slipway_version: "0.1.0".into(),
            packages: vec![".".into()],
            platforms: vec!["linux/amd64".into()],
            libc: "none".into(),
            flags: vec![],
            source: None,
            go: slipway_attest::provenance::Tool {
                version: "go1.26.8".into(),
                sha256: None,
            },
            zig: None,
            source_date_epoch: 0,
        },
    )
    .unwrap();
    assert_eq!(again.attest(&key, &prov), Added::Appended);
    let w2 = again.to_manifest();
    let mut both = Store::of(&w);
    both.0.extend(Store::of(&w2).0);
    let ok = again
        .verify(&image, &key.public_key(), both.fetch())
        .unwrap();
    assert_eq!(ok.verified.len(), 2);
    assert_eq!(
        ok.verified[1].predicate_type,
        "https://slsa.dev/provenance/v1"
    );
}

proptest! {
    #[test]
    fn manifest_and_envelope_parsers_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let _ = SignatureSet::from_manifest(&bytes);
        let _ = AttestationSet::from_manifest(&bytes);
        let _ = Envelope::parse(&bytes);
        let _ = Statement::parse(&bytes);
        let _ = slipway_attest::cosign::SimpleSigning::parse(&bytes);
    }

    #[test]
    fn envelope_with_garbage_fields_never_panics(pt in ".{0,30}", payload in ".{0,60}", sig in ".{0,100}") {
        let key = SigningKey::generate().unwrap();
        let env = serde_json::json!({"payloadType": pt, "payload": payload, "signatures": [{"keyid": "", "sig": sig}]});
        if let Ok(e) = Envelope::parse(&serde_json::to_vec(&env).unwrap()) {
            let _ = e.verify(&key.public_key());
        }
    }
}
