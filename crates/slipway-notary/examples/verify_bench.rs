//! In-process cost of verifying one Notary signature (the notation v1.3.2
//! fixture): reading the trust policy and store, opening the envelope,
//! checking the chain and the policy. No registry, no process start.
//!
//!     cargo run --release -p slipway-notary --example verify_bench

use std::time::Instant;

fn main() {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/notation-1.3.2");
    let read = |n: &str| std::fs::read(dir.join(n)).expect("fixture");
    let envelope = read("envelope.jws.json");
    let manifest = read("target-manifest.json");
    let store_dir = tempfile::tempdir().expect("temporary directory");
    let named = store_dir.path().join("x509/ca/bench");
    std::fs::create_dir_all(&named).expect("store directory");
    std::fs::write(named.join("root.pem"), read("root-ca.pem")).expect("root");
    let policy_file = store_dir.path().join("trustpolicy.json");
    std::fs::write(
        &policy_file,
        br#"{"version":"1.0","trustPolicies":[{"name":"b","registryScopes":["*"],
        "signatureVerification":{"level":"strict"},"trustStores":["ca:bench"],
        "trustedIdentities":["x509.subject: C=US, ST=WA, O=Bench"]}]}"#,
    )
    .expect("policy");
    let target = slipway_notary::TargetArtifact::new(
        "application/vnd.oci.image.manifest.v1+json",
        &slipway_oci::Digest::of(&manifest).to_string(),
        manifest.len() as u64,
    );
    let at = slipway_notary::time::parse("2026-11-26T14:00:00Z").expect("time");
    let runs = 200;
    let start = Instant::now();
    for _ in 0..runs {
        let doc = slipway_notary::TrustPolicyDocument::load(&policy_file).expect("policy");
        let store = slipway_notary::TrustStore::open(store_dir.path()).expect("store");
        let p = doc.for_scope("r.example/app").expect("statement");
        slipway_notary::verify(
            p,
            &store,
            &target,
            slipway_notary::JWS_MEDIA_TYPE,
            &envelope,
            at,
        )
        .expect("verifies");
    }
    let per = start.elapsed() / runs;
    println!("policy + trust store + envelope + chain + policy checks: {per:?} per signature");
    let start = Instant::now();
    for _ in 0..runs {
        slipway_notary::open(&envelope).expect("opens");
    }
    println!(
        "of which opening the envelope (integrity): {:?}",
        start.elapsed() / runs
    );
    let env = slipway_notary::open(&envelope).expect("opens");
    let start = Instant::now();
    for _ in 0..runs {
        slipway_notary::cert::validate_chain(&env.chain).expect("chain");
    }
    println!(
        "of which checking the chain (two certificate signatures): {:?}",
        start.elapsed() / runs
    );
}
