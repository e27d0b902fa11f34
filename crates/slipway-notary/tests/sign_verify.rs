//! Signing and verifying in process, with certificates from a test CA:
//! every rule of the trust policy gets a case that passes and one that fails.

use slipway_notary::testca::{Ca, Issued, KeyKind, Leaf};
use slipway_notary::{
    Check, JWS_MEDIA_TYPE, SignOptions, SigningIdentity, TargetArtifact, TrustPolicyDocument,
    TrustStore,
};

const SCOPE: &str = "127.0.0.1:5000/team/app";
const NOW: i64 = 1_800_000_000; // 2027-01-15
const SIGNED: i64 = 1_790_000_000;

fn target() -> TargetArtifact {
    TargetArtifact::new(
        "application/vnd.oci.image.index.v1+json",
        "sha256:0b3f1a0a16b84d8e2ebd5b2d7f0b7b7f20d3a4c1e4a2b5e6f708192a3b4c5d6e",
        1234,
    )
}

fn options(signing_time: i64) -> SignOptions {
    SignOptions {
        signing_time,
        expiry: None,
        signing_agent: "slipway-test".into(),
    }
}

/// A trust store with `roots` under ca:release, in a temporary directory.
fn store(roots: &[&Ca]) -> (tempfile::TempDir, TrustStore) {
    let dir = tempfile::tempdir().unwrap();
    let named = dir.path().join("x509/ca/release");
    std::fs::create_dir_all(&named).unwrap();
    for (i, ca) in roots.iter().enumerate() {
        std::fs::write(named.join(format!("root{i}.pem")), &ca.cert_pem).unwrap();
    }
    let store = TrustStore::open(dir.path()).unwrap();
    (dir, store)
}

fn policy(level: &str, identity: &str) -> TrustPolicyDocument {
    TrustPolicyDocument::from_json(
        format!(
            r#"{{"version":"1.0","trustPolicies":[{{"name":"release","registryScopes":["{SCOPE}"],
            "signatureVerification":{{"level":"{level}"}},"trustStores":["ca:release"],
            "trustedIdentities":["{identity}"]}}]}}"#
        )
        .as_bytes(),
    )
    .unwrap()
}

const ACME: &str = "x509.subject: C=US, ST=WA, O=Acme";

fn sign(issued: &Issued, at: i64) -> Vec<u8> {
    let id = SigningIdentity::from_pem(&issued.key_pem, issued.chain_pem.as_bytes()).unwrap();
    let m = slipway_notary::sign(&id, &target(), &options(at)).unwrap();
    m.blobs[0].1.clone()
}

fn check(
    doc: &TrustPolicyDocument,
    store: &TrustStore,
    envelope: &[u8],
) -> Result<slipway_notary::Verified, slipway_notary::Rejection> {
    let p = doc.for_scope(SCOPE).unwrap();
    slipway_notary::verify(p, store, &target(), JWS_MEDIA_TYPE, envelope, NOW)
}

#[test]
fn every_allowed_key_signs_and_verifies() {
    let ca = Ca::new("Acme CA", KeyKind::P384);
    let (_d, store) = store(&[&ca]);
    for (kind, alg) in [
        (KeyKind::P256, "ES256"),
        (KeyKind::P384, "ES384"),
        (KeyKind::Rsa(2048), "PS256"),
        (KeyKind::Rsa(3072), "PS384"),
    ] {
        let mut leaf = Leaf::new("Acme", "signer");
        leaf.key = kind;
        let issued = ca.issue(&leaf);
        let envelope = sign(&issued, SIGNED);
        let v = check(&policy("strict", ACME), &store, &envelope)
            .unwrap_or_else(|e| panic!("{kind:?}: {e}"));
        assert_eq!(v.envelope.algorithm.jws_name(), alg);
        assert_eq!(v.signing_time, SIGNED);
        assert!(v.warnings.is_empty());
        assert!(v.signer.contains("CN=signer"), "{}", v.signer);
    }
}

#[test]
fn manifest_is_a_referrer_with_thumbprints() {
    let ca = Ca::new("Acme CA", KeyKind::P256);
    let issued = ca.issue(&Leaf::new("Acme", "signer"));
    let id = SigningIdentity::from_pem(&issued.key_pem, issued.chain_pem.as_bytes()).unwrap();
    let m = slipway_notary::sign(&id, &target(), &options(SIGNED)).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&m.bytes).unwrap();
    assert_eq!(v["artifactType"], "application/vnd.cncf.notary.signature");
    assert_eq!(v["subject"]["digest"], target().digest.as_str());
    assert_eq!(
        v["config"]["mediaType"],
        "application/vnd.cncf.notary.signature"
    );
    assert_eq!(v["config"]["size"], 2);
    assert_eq!(v["layers"][0]["mediaType"], "application/jose+json");
    let thumbs: Vec<String> = serde_json::from_str(
        v["annotations"]["io.cncf.notary.x509chain.thumbprint#S256"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        thumbs,
        id.chain()
            .iter()
            .map(|c| c.thumbprint())
            .collect::<Vec<_>>()
    );
    let stored = slipway_notary::read_signature_manifest(&m.bytes).unwrap();
    assert_eq!(
        stored.envelope.digest,
        slipway_oci::Digest::of(&m.blobs[0].1).to_string()
    );
    assert!(slipway_notary::is_signature_manifest(&m.bytes));
    // ECDSA (RFC 6979) at a fixed time: the same bytes again.
    let again = slipway_notary::sign(&id, &target(), &options(SIGNED)).unwrap();
    assert_eq!(again.bytes, m.bytes);
    // The envelope has the headers notation requires.
    let env: serde_json::Value = serde_json::from_slice(&m.blobs[0].1).unwrap();
    use base64::Engine as _;
    let protected: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(env["protected"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        protected["cty"],
        "application/vnd.cncf.notary.payload.v1+json"
    );
    assert_eq!(protected["io.cncf.notary.signingScheme"], "notary.x509");
    assert_eq!(
        protected["crit"],
        serde_json::json!(["io.cncf.notary.signingScheme"])
    );
    assert_eq!(env["header"]["x5c"].as_array().unwrap().len(), 2);
}

#[test]
fn each_failure_has_its_own_reason() {
    let ca = Ca::new("Acme CA", KeyKind::P256);
    let other = Ca::new("Other CA", KeyKind::P256);
    let (_d, store) = store(&[&ca]);
    let strict = policy("strict", ACME);
    let good = sign(&ca.issue(&Leaf::new("Acme", "signer")), SIGNED);
    check(&strict, &store, &good).unwrap();

    // Untrusted root.
    let e = check(
        &strict,
        &store,
        &sign(&other.issue(&Leaf::new("Acme", "signer")), SIGNED),
    )
    .unwrap_err();
    assert_eq!(e.check, Check::Authenticity, "{e}");
    assert!(
        e.message.contains("not trusted") && e.message.contains("Other CA"),
        "{e}"
    );

    // Another identity.
    let e = check(
        &strict,
        &store,
        &sign(&ca.issue(&Leaf::new("Mallory", "signer")), SIGNED),
    )
    .unwrap_err();
    assert_eq!(e.check, Check::Authenticity, "{e}");
    assert!(e.message.contains("not a trusted identity"), "{e}");
    check(
        &policy("strict", "x509.subject: C=US, ST=WA, O=Acme, CN=signer"),
        &store,
        &good,
    )
    .unwrap();

    // Tampered payload: the signature no longer covers it.
    let mut env: serde_json::Value = serde_json::from_slice(&good).unwrap();
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let payload = String::from_utf8(b64.decode(env["payload"].as_str().unwrap()).unwrap()).unwrap();
    env["payload"] = b64.encode(payload.replace("1234", "1235")).into();
    let e = check(&strict, &store, &serde_json::to_vec(&env).unwrap()).unwrap_err();
    assert_eq!(e.check, Check::Integrity, "{e}");
    assert!(e.message.contains("altered after signing"), "{e}");

    // Another artifact's signature.
    let p = strict.for_scope(SCOPE).unwrap();
    let mut elsewhere = target();
    elsewhere.digest = format!("sha256:{}", "1".repeat(64));
    let e = slipway_notary::verify(p, &store, &elsewhere, JWS_MEDIA_TYPE, &good, NOW).unwrap_err();
    assert!(
        e.message.contains("the signature is for sha256:0b3f"),
        "{e}"
    );

    // No statement for the repository.
    let e = strict.for_scope("127.0.0.1:5000/team/other").unwrap_err();
    assert!(e.to_string().contains("no statement applies"), "{e}");

    // Not an envelope at all; COSE.
    let e = slipway_notary::verify(p, &store, &target(), JWS_MEDIA_TYPE, b"{}", NOW).unwrap_err();
    assert_eq!(e.check, Check::Integrity);
    let e =
        slipway_notary::verify(p, &store, &target(), "application/cose", &good, NOW).unwrap_err();
    assert!(e.message.contains("COSE"), "{e}");
}

#[test]
fn expired_certificates_and_signatures_follow_the_level() {
    let ca = Ca::new("Acme CA", KeyKind::P256);
    let (_d, store) = store(&[&ca]);
    let mut leaf = Leaf::new("Acme", "old signer");
    leaf.years = (2020, 2021);
    let old = sign(&ca.issue(&leaf), 1_590_000_000); // signed in 2020, when it was valid
    let e = check(&policy("strict", ACME), &store, &old).unwrap_err();
    assert_eq!(e.check, Check::AuthenticTimestamp, "{e}");
    assert!(e.message.contains("expired at 2021-01-01T00:00:00Z"), "{e}");
    let v = check(&policy("permissive", ACME), &store, &old).unwrap();
    assert_eq!(v.warnings.len(), 1);
    assert_eq!(v.warnings[0].check, Check::AuthenticTimestamp);

    // The signer's expiry: enforced at strict, logged at permissive.
    let issued = ca.issue(&Leaf::new("Acme", "signer"));
    let id = SigningIdentity::from_pem(&issued.key_pem, issued.chain_pem.as_bytes()).unwrap();
    let mut o = options(SIGNED);
    o.expiry = Some(SIGNED + 3600);
    let env = slipway_notary::sign(&id, &target(), &o).unwrap().blobs[0]
        .1
        .clone();
    let e = check(&policy("strict", ACME), &store, &env).unwrap_err();
    assert_eq!(e.check, Check::Expiry, "{e}");
    assert!(
        check(&policy("permissive", ACME), &store, &env)
            .unwrap()
            .warnings[0]
            .message
            .contains("expired")
    );

    // Signing outside the certificate's validity is refused.
    let e = slipway_notary::sign(&id, &target(), &options(1_000_000_000)).unwrap_err();
    assert!(
        e.to_string().contains("not valid at the signing time"),
        "{e}"
    );
}

#[test]
fn audit_lets_an_untrusted_signature_pass_with_a_warning() {
    let ca = Ca::new("Acme CA", KeyKind::P256);
    let other = Ca::new("Other CA", KeyKind::P256);
    let (_d, store) = store(&[&ca]);
    let env = sign(&other.issue(&Leaf::new("Mallory", "signer")), SIGNED);
    let v = check(&policy("audit", ACME), &store, &env).unwrap();
    let checks: Vec<Check> = v.warnings.iter().map(|w| w.check).collect();
    assert_eq!(
        checks,
        [Check::Authenticity, Check::Authenticity],
        "{:?}",
        v.warnings
    );
    // Integrity is enforced even at audit.
    let e = check(&policy("audit", ACME), &store, b"not json").unwrap_err();
    assert_eq!(e.check, Check::Integrity);
}

#[test]
fn signing_certificates_must_be_for_code_signing() {
    let ca = Ca::new("Acme CA", KeyKind::P256);
    type Change = Box<dyn Fn(&mut Leaf)>;
    let cases: Vec<(Change, &str)> = vec![
        (
            Box::new(|l| l.ext_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth]),
            "serverAuth",
        ),
        (
            Box::new(|l| l.key_usages = vec![rcgen::KeyUsagePurpose::KeyEncipherment]),
            "digitalSignature",
        ),
        (
            Box::new(|l| l.key_usages.push(rcgen::KeyUsagePurpose::KeyEncipherment)),
            "also has keyEncipherment",
        ),
        (Box::new(|l| l.key_usages.clear()), "no key usage"),
        (Box::new(|l| l.is_ca = true), "is a CA"),
    ];
    for (change, why) in cases {
        let mut leaf = Leaf::new("Acme", "signer");
        change(&mut leaf);
        let issued = ca.issue(&leaf);
        let e =
            SigningIdentity::from_pem(&issued.key_pem, issued.chain_pem.as_bytes()).unwrap_err();
        assert!(e.to_string().contains(why), "{why}: {e}");
    }
    // A chain without its root, and the wrong key.
    let issued = ca.issue(&Leaf::new("Acme", "signer"));
    let e = SigningIdentity::from_pem(&issued.key_pem, issued.cert_pem.as_bytes()).unwrap_err();
    assert!(e.to_string().contains("not self-signed"), "{e}");
    let other = ca.issue(&Leaf::new("Acme", "other"));
    let e = SigningIdentity::from_pem(&other.key_pem, issued.chain_pem.as_bytes()).unwrap_err();
    assert!(
        e.to_string()
            .contains("is not the key of the signing certificate"),
        "{e}"
    );
}

/// A real notation v1.3.2 signature (see tests/fixtures/notation-1.3.2),
/// verified at a fixed time so the 30-day test certificate stays valid.
#[test]
fn reads_what_notation_writes() {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/notation-1.3.2");
    let read = |name: &str| std::fs::read(dir.join(name)).unwrap();
    let stored = slipway_notary::read_signature_manifest(&read("signature-manifest.json")).unwrap();
    assert!(slipway_notary::is_signature_manifest(&read(
        "signature-manifest.json"
    )));
    let envelope = read("envelope.jws.json");
    assert_eq!(
        stored.envelope.digest,
        slipway_oci::Digest::of(&envelope).to_string()
    );
    let manifest = read("target-manifest.json");
    let target = TargetArtifact::new(
        "application/vnd.oci.image.manifest.v1+json",
        &slipway_oci::Digest::of(&manifest).to_string(),
        manifest.len() as u64,
    );
    assert_eq!(stored.subject.unwrap().digest, target.digest);
    let store_dir = tempfile::tempdir().unwrap();
    let named = store_dir.path().join("x509/ca/bench");
    std::fs::create_dir_all(&named).unwrap();
    std::fs::write(named.join("root.crt"), read("root-ca.pem")).unwrap();
    let store = TrustStore::open(store_dir.path()).unwrap();
    let doc = TrustPolicyDocument::from_json(
        br#"{"version":"1.0","trustPolicies":[{"name":"b","registryScopes":["*"],
        "signatureVerification":{"level":"strict"},"trustStores":["ca:bench"],
        "trustedIdentities":["x509.subject: C=US, ST=WA, O=Bench"]}]}"#,
    )
    .unwrap();
    let p = doc.for_scope("127.0.0.1:5999/t/app").unwrap();
    let signed_at = slipway_notary::time::parse("2026-11-26T13:24:44Z").unwrap();
    let v = slipway_notary::verify(
        p,
        &store,
        &target,
        JWS_MEDIA_TYPE,
        &envelope,
        signed_at + 3600,
    )
    .unwrap();
    assert_eq!(v.signer, "CN=bench signer,O=Bench,ST=WA,C=US");
    assert_eq!(v.signing_time, signed_at);
    assert_eq!(
        v.envelope.signing_agent.as_deref(),
        Some("notation-go/1.3.2")
    );
    // Forty days on, the leaf has expired: strict refuses.
    let e = slipway_notary::verify(
        p,
        &store,
        &target,
        JWS_MEDIA_TYPE,
        &envelope,
        signed_at + 40 * 86_400,
    )
    .unwrap_err();
    assert_eq!(e.check, Check::AuthenticTimestamp, "{e}");
}

proptest::proptest! {
    #[test]
    fn opening_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..600)) {
        let _ = slipway_notary::open(&bytes);
    }

    #[test]
    fn opening_mangled_envelopes_never_panics(i in 0usize..2045, b in proptest::num::u8::ANY) {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/notation-1.3.2");
        let mut env = std::fs::read(dir.join("envelope.jws.json")).unwrap();
        let i = i % env.len();
        env[i] = b;
        let _ = slipway_notary::open(&env);
    }
}
