//! Against the real cosign (v2, built by scripts/install-cosign.sh) and
//! Debian's docker-registry on loopback: cosign reads slipway's keys and
//! signatures, slipway reads cosign's, and slipway writes the very manifest
//! bytes cosign writes for the same signature.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use slipway_attest::cosign::{SignatureSet, signature_tag, simple_signing_payload};
use slipway_attest::{PublicKey, SigningKey, WrittenManifest};
use slipway_oci::Digest;
use slipway_testkit::registry::TestRegistry;
use slipway_testkit::supply_chain::cosign;
use slipway_testkit::{require, stdout_ok};

/// The harness's docker-registry on loopback, with the two reads these tests need.
struct Registry {
    _inner: TestRegistry,
    addr: String,
}

impl Registry {
    fn start() -> Registry {
        let inner = TestRegistry::plain();
        let addr = inner.host();
        Registry {
            _inner: inner,
            addr,
        }
    }

    fn blob(&self, repo: &str, digest: &Digest) -> Result<Vec<u8>, String> {
        let out = Command::new(require("curl", "curl"))
            .args([
                "-fsS",
                &format!("http://{}/v2/{repo}/blobs/{digest}", self.addr),
            ])
            .output()
            .map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(out.stdout)
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    fn manifest(&self, repo: &str, tag: &str) -> Vec<u8> {
        let out = Command::new(require("skopeo", "skopeo"))
            .args(["inspect", "--raw", "--tls-verify=false"])
            .arg(format!("docker://{}/{repo}:{tag}", self.addr))
            .output()
            .unwrap();
        stdout_ok(&out, "skopeo inspect --raw");
        out.stdout
    }
}

/// Write an OCI layout holding one manifest (and its blobs) under `tag`.
fn layout(dir: &Path, manifest: &[u8], blobs: &[(Digest, Vec<u8>)], tag: &str) {
    let blob_dir = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blob_dir).unwrap();
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    for (d, b) in blobs {
        std::fs::write(blob_dir.join(d.hex()), b).unwrap();
    }
    let md = Digest::of(manifest);
    std::fs::write(blob_dir.join(md.hex()), manifest).unwrap();
    let index = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": md.to_string(),
            "size": manifest.len(),
            "annotations": {"org.opencontainers.image.ref.name": tag},
        }],
    });
    std::fs::write(dir.join("index.json"), index.to_string()).unwrap();
}

fn skopeo_push(dir: &Path, tag: &str, dest: &str) {
    let out = Command::new(require("skopeo", "skopeo"))
        .args(["copy", "--preserve-digests", "--dest-tls-verify=false"])
        .arg(format!("oci:{}:{tag}", dir.display()))
        .arg(format!("docker://{dest}"))
        .output()
        .unwrap();
    stdout_ok(&out, "skopeo copy");
}

/// Push a one-layer image (an empty tar) and return its manifest digest.
fn push_test_image(reg: &Registry, repo: &str, work: &Path) -> Digest {
    let layer = vec![0u8; 1024];
    let ld = Digest::of(&layer);
    let config = format!(
        r#"{{"architecture":"amd64","os":"linux","rootfs":{{"type":"layers","diff_ids":["{ld}"]}}}}"#
    )
    .into_bytes();
    let cd = Digest::of(&config);
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{cd}","size":{}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{ld}","size":1024}}]}}"#,
        config.len()
    )
    .into_bytes();
    let dir = work.join("image");
    layout(&dir, &manifest, &[(ld, layer), (cd, config)], "v1");
    skopeo_push(&dir, "v1", &format!("{}/{repo}:v1", reg.addr));
    Digest::of(&manifest)
}

fn push_sig(reg: &Registry, repo: &str, image: &Digest, w: &WrittenManifest, work: &Path) {
    let dir = work.join("sig");
    let _ = std::fs::remove_dir_all(&dir);
    let blobs: Vec<(Digest, Vec<u8>)> = w
        .blobs
        .iter()
        .map(|b| (b.digest.clone(), b.bytes.clone()))
        .collect();
    layout(&dir, &w.bytes, &blobs, "sig");
    skopeo_push(
        &dir,
        "sig",
        &format!("{}/{repo}:{}", reg.addr, signature_tag(image)),
    );
}

#[test]
fn keys_cross_read_with_cosign() {
    let cosign = cosign();
    let dir = tempfile::tempdir().unwrap();
    // cosign reads slipway's key and derives the same public key PEM.
    let key = SigningKey::generate().unwrap();
    std::fs::write(
        dir.path().join("s.key"),
        key.to_encrypted_pem(b"s3cret").unwrap(),
    )
    .unwrap();
    let out = Command::new(&cosign)
        .args(["public-key", "--key"])
        .arg(dir.path().join("s.key"))
        .env("COSIGN_PASSWORD", "s3cret")
        .output()
        .unwrap();
    assert_eq!(
        stdout_ok(&out, "cosign public-key"),
        key.public_key().to_pem()
    );

    // slipway reads cosign's generate-key-pair output.
    let out = Command::new(&cosign)
        .args(["generate-key-pair", "--output-key-prefix", "c"])
        .current_dir(dir.path())
        .env("COSIGN_PASSWORD", "c0sign")
        .output()
        .unwrap();
    stdout_ok(&out, "cosign generate-key-pair");
    let text = std::fs::read_to_string(dir.path().join("c.key")).unwrap();
    let ck = SigningKey::from_pem(&text, b"c0sign").unwrap();
    let cpub = std::fs::read_to_string(dir.path().join("c.pub")).unwrap();
    assert_eq!(ck.public_key().to_pem(), cpub);
    assert!(matches!(
        SigningKey::from_pem(&text, b"wrong"),
        Err(slipway_attest::KeyError::Decrypt)
    ));
}

#[test]
fn signatures_cross_verify_through_a_registry() {
    let cosign = cosign();
    let reg = Registry::start();
    let work = tempfile::tempdir().unwrap();
    let repo = "team/svc";
    let image = push_test_image(&reg, repo, work.path());
    let reference = format!("{}/{repo}", reg.addr);
    let by_digest = format!("{reference}@{image}");

    // cosign signs; slipway verifies, and writes the same manifest bytes for
    // the same payload and signature.
    let out = Command::new(&cosign)
        .args(["generate-key-pair", "--output-key-prefix", "c"])
        .current_dir(work.path())
        .env("COSIGN_PASSWORD", "")
        .output()
        .unwrap();
    stdout_ok(&out, "cosign generate-key-pair");
    let t = Instant::now();
    let out = Command::new(&cosign)
        .args([
            "sign",
            "--key",
            "c.key",
            "--tlog-upload=false",
            "--allow-http-registry",
            "--yes",
        ])
        .arg(&by_digest)
        .current_dir(work.path())
        .env("COSIGN_PASSWORD", "")
        .output()
        .unwrap();
    stdout_ok(&out, "cosign sign");
    eprintln!("cosign sign: {:.2}s", t.elapsed().as_secs_f64());
    let raw = reg.manifest(repo, &signature_tag(&image));
    let theirs = SignatureSet::from_manifest(&raw).unwrap();
    let cpub =
        PublicKey::from_pem(&std::fs::read_to_string(work.path().join("c.pub")).unwrap()).unwrap();
    let ok = theirs
        .verify(&image, &cpub, |d: &Digest| reg.blob(repo, d))
        .unwrap();
    assert_eq!(ok.verified.len(), 1);
    assert_eq!(ok.verified[0].claims.docker_reference, reference);
    let layer = &theirs.layers()[0];
    let payload = reg.blob(repo, &layer.digest).unwrap();
    assert_eq!(payload, simple_signing_payload(&reference, &image));
    let mut ours = SignatureSet::new();
    ours.add_signature(
        payload,
        &layer.annotations["dev.cosignproject.cosign/signature"],
        BTreeMap::new(),
    );
    assert_eq!(
        String::from_utf8(ours.to_manifest().bytes).unwrap(),
        String::from_utf8(raw.clone()).unwrap(),
        "slipway's manifest differs from cosign's"
    );
    // The wrong key is refused.
    let other = SigningKey::generate().unwrap();
    assert!(
        theirs
            .verify(&image, &other.public_key(), |d: &Digest| reg.blob(repo, d))
            .is_err()
    );

    // slipway adds its signature to cosign's set; cosign verifies both keys.
    let key = SigningKey::generate().unwrap();
    std::fs::write(work.path().join("s.pub"), key.public_key().to_pem()).unwrap();
    let mut both = SignatureSet::from_manifest(&raw).unwrap();
    both.sign(&key, &reference, &image);
    let w = both.to_manifest();
    push_sig(&reg, repo, &image, &w, work.path());
    assert_eq!(reg.manifest(repo, &signature_tag(&image)), w.bytes);
    for pubkey in ["s.pub", "c.pub"] {
        let t = Instant::now();
        let out = Command::new(&cosign)
            .args([
                "verify",
                "--key",
                pubkey,
                "--insecure-ignore-tlog=true",
                "--allow-http-registry",
            ])
            .arg(&by_digest)
            .current_dir(work.path())
            .output()
            .unwrap();
        stdout_ok(&out, &format!("cosign verify --key {pubkey}"));
        eprintln!(
            "cosign verify ({pubkey}): {:.2}s",
            t.elapsed().as_secs_f64()
        );
    }
    // cosign refuses a key that signed nothing.
    std::fs::write(work.path().join("o.pub"), other.public_key().to_pem()).unwrap();
    let out = Command::new(&cosign)
        .args([
            "verify",
            "--key",
            "o.pub",
            "--insecure-ignore-tlog=true",
            "--allow-http-registry",
        ])
        .arg(&by_digest)
        .current_dir(work.path())
        .output()
        .unwrap();
    assert!(!out.status.success());

    // cosign signing again with its key sees its own signature as present.
    let out = Command::new(&cosign)
        .args([
            "sign",
            "--key",
            "c.key",
            "--tlog-upload=false",
            "--allow-http-registry",
            "--yes",
        ])
        .arg(&by_digest)
        .current_dir(work.path())
        .env("COSIGN_PASSWORD", "")
        .output()
        .unwrap();
    stdout_ok(&out, "cosign sign (again)");
    assert_eq!(reg.manifest(repo, &signature_tag(&image)), w.bytes);
}

#[test]
fn attestations_cross_verify_through_a_registry() {
    use slipway_attest::dsse::{PREDICATE_SLSA_PROVENANCE_V1, attestation_tag};
    use slipway_attest::{AttestationSet, Subject};

    let cosign = cosign();
    let reg = Registry::start();
    let work = tempfile::tempdir().unwrap();
    let repo = "team/att";
    let image = push_test_image(&reg, repo, work.path());
    let reference = format!("{}/{repo}", reg.addr);
    let by_digest = format!("{reference}@{image}");

    // slipway attests provenance; cosign verify-attestation accepts it.
    let key = SigningKey::generate().unwrap();
    std::fs::write(work.path().join("s.pub"), key.public_key().to_pem()).unwrap();
    let statement = slipway_attest::provenance::statement(
        vec![Subject::new(&reference, &image)],
        &slipway_attest::provenance::ProvenanceInput {
            slipway_version: "0.1.0".into(),
            packages: vec!["./cmd/server".into()],
            platforms: vec!["linux/arm64".into()],
            libc: "musl".into(),
            flags: vec![],
            source: None,
            go: slipway_attest::provenance::Tool {
                version: "go1.26.8".into(),
                sha256: None,
            },
            zig: None,
            source_date_epoch: 1_700_000_000,
        },
    )
    .unwrap();
    let mut set = AttestationSet::new();
    set.attest(&key, &statement);
    let w = set.to_manifest();
    let dir = work.path().join("att");
    let blobs: Vec<(Digest, Vec<u8>)> = w
        .blobs
        .iter()
        .map(|b| (b.digest.clone(), b.bytes.clone()))
        .collect();
    layout(&dir, &w.bytes, &blobs, "att");
    skopeo_push(
        &dir,
        "att",
        &format!("{reference}:{}", attestation_tag(&image)),
    );
    let out = Command::new(&cosign)
        .args([
            "verify-attestation",
            "--key",
            "s.pub",
            "--insecure-ignore-tlog=true",
        ])
        .args([
            "--allow-http-registry",
            "--type",
            PREDICATE_SLSA_PROVENANCE_V1,
        ])
        .arg(&by_digest)
        .current_dir(work.path())
        .output()
        .unwrap();
    stdout_ok(&out, "cosign verify-attestation");

    // cosign attests; slipway verifies and finds the predicate.
    let out = Command::new(&cosign)
        .args(["generate-key-pair", "--output-key-prefix", "c"])
        .current_dir(work.path())
        .env("COSIGN_PASSWORD", "")
        .output()
        .unwrap();
    stdout_ok(&out, "cosign generate-key-pair");
    std::fs::write(
        work.path().join("pred.json"),
        r#"{"spdxVersion":"SPDX-2.3","name":"x"}"#,
    )
    .unwrap();
    let out = Command::new(&cosign)
        .args([
            "attest",
            "--key",
            "c.key",
            "--tlog-upload=false",
            "--allow-http-registry",
            "--yes",
        ])
        .args(["--type", "spdxjson", "--predicate", "pred.json"])
        .arg(&by_digest)
        .current_dir(work.path())
        .env("COSIGN_PASSWORD", "")
        .output()
        .unwrap();
    stdout_ok(&out, "cosign attest");
    let raw = reg.manifest(repo, &attestation_tag(&image));
    let theirs = AttestationSet::from_manifest(&raw).unwrap();
    assert_eq!(theirs.layers().len(), 2, "cosign appends to slipway's .att");
    let cpub =
        PublicKey::from_pem(&std::fs::read_to_string(work.path().join("c.pub")).unwrap()).unwrap();
    let ok = theirs
        .verify(&image, &cpub, |d: &Digest| reg.blob(repo, d))
        .unwrap();
    assert_eq!(ok.verified.len(), 1);
    assert_eq!(ok.verified[0].layer, 1);
    assert_eq!(ok.verified[0].predicate_type, "https://spdx.dev/Document");
    assert!(
        ok.verified[0]
            .statement
            .predicate
            .get()
            .contains("SPDX-2.3")
    );
    // slipway's own layer still verifies with its key inside cosign's manifest.
    let ok = theirs
        .verify(&image, &key.public_key(), |d: &Digest| reg.blob(repo, d))
        .unwrap();
    assert_eq!(ok.verified[0].statement, statement);
}
