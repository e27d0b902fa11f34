//! Issue #7's commands end to end, with real tools only: `keygen`, `sign`,
//! `verify`, `attest`, `copy --verify-key`, `image`/`push --sign-key --sbom`,
//! `sbom` and `scan` on images, against Debian's `docker-registry` on
//! loopback and on OCI layouts and archives offline. What slipway writes is
//! read back with skopeo, curl, cosign (built by scripts/install-cosign.sh),
//! spdx-tools, cyclonedx-python-lib and `go version -m`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use base64::Engine as _;
use serde_json::{Value, json};
use slipway_testkit::registry::TestRegistry;
use slipway_testkit::supply_chain::{cosign, validate_cyclonedx, validate_spdx};
use slipway_testkit::{copy_tree, example, require, stdout_ok};

mod common;
use common::*;

const TWO: &str = "linux/amd64,linux/arm64";
const PASSWORD: &str = "supply-chain-test";

// ---------------------------------------------------------------- helpers

/// slipway with the signing password set and no host credentials. These
/// tests are about cosign's legacy tag format (`.sig`/`.att` of the index),
/// so that format is asked for; the bundle format (the default) is tested in
/// tests/referrers.rs.
fn run(args: &[&str]) -> Output {
    let legacy: &[&str] = match args.first() {
        Some(&"sign") => &["--format", "legacy", "--recursive=false"],
        Some(&"attest") => &["--store-as", "legacy", "--recursive=false"],
        Some(&"push" | &"image") if args.contains(&"--sign-key") => &["--sign-format", "legacy"],
        _ => &[],
    };
    slipway()
        .args(args)
        .args(legacy)
        .env("COSIGN_PASSWORD", PASSWORD)
        .env("DOCKER_CONFIG", "/nonexistent-slipway-test")
        .env_remove("SOURCE_DATE_EPOCH")
        .output()
        .unwrap()
}

fn ok(args: &[&str]) -> String {
    stdout_ok(&run(args), &format!("slipway {args:?}"))
}

fn ok_json(args: &[&str]) -> Value {
    let text = ok(args);
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("slipway {args:?}: stdout is not JSON ({e}):\n{text}"))
}

/// Run slipway expecting exit `code`; returns stderr.
fn fails(args: &[&str], code: i32) -> String {
    let out = run(args);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(
        exit_code(&out),
        code,
        "slipway {args:?} should exit {code}:\nstdout: {}\nstderr: {err}",
        String::from_utf8_lossy(&out.stdout)
    );
    err
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A key pair under `dir`: (private, public, fingerprint).
fn keygen(dir: &Path, name: &str) -> (String, String, String) {
    let prefix = dir.join(name);
    let v = ok_json(&["keygen", "--prefix", s(&prefix), "--json"]);
    (
        v["private_key"].as_str().unwrap().to_string(),
        v["public_key"].as_str().unwrap().to_string(),
        v["fingerprint"].as_str().unwrap().to_string(),
    )
}

/// A copy of the example module outside git, so builds are stable.
/// `slipway image MODULE ARGS --out OUT --json` with the signing password set.
fn image(module: &Path, args: &[&str], out: &Path) -> Value {
    let mut all = vec!["image", s(module)];
    all.extend(args);
    all.extend(["--out", s(out), "--json"]);
    ok_json(&all)
}

fn hello(dir: &Path) -> PathBuf {
    let m = dir.join("hello");
    copy_tree(&example("hello"), &m);
    m
}

fn attached(digest: &str, suffix: &str) -> String {
    format!("{}.{suffix}", digest.replace(':', "-"))
}

// ---------------------------------------------------------------- OCI layout editing

fn layout_index(dir: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(dir.join("index.json")).unwrap()).unwrap()
}

fn blob_file(dir: &Path, digest: &str) -> PathBuf {
    dir.join("blobs/sha256")
        .join(digest.strip_prefix("sha256:").unwrap())
}

fn blob_json(dir: &Path, digest: &str) -> Value {
    serde_json::from_slice(&std::fs::read(blob_file(dir, digest)).unwrap()).unwrap()
}

/// Write a blob as a layout holds it; returns (digest, size).
fn put_blob(dir: &Path, bytes: &[u8]) -> (String, usize) {
    let digest = format!("sha256:{}", sha256_hex(bytes));
    std::fs::write(blob_file(dir, &digest), bytes).unwrap();
    (digest, bytes.len())
}

/// The descriptor tagged `tag` in the layout's index.json.
fn tagged(dir: &Path, tag: &str) -> Option<Value> {
    layout_index(dir)["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == tag)
        .cloned()
}

fn tags(dir: &Path) -> BTreeSet<String> {
    layout_index(dir)["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["annotations"]["org.opencontainers.image.ref.name"].as_str())
        .map(String::from)
        .collect()
}

/// Rewrite index.json with `edit` applied to its manifest list.
fn edit_layout_index(dir: &Path, edit: impl FnOnce(&mut Vec<Value>)) {
    let mut index = layout_index(dir);
    edit(index["manifests"].as_array_mut().unwrap());
    std::fs::write(dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
}

/// Point `tag` at a manifest with these bytes (written as a new blob).
fn retag(dir: &Path, tag: &str, manifest: &Value) {
    let (digest, size) = put_blob(dir, &serde_json::to_vec(manifest).unwrap());
    edit_layout_index(dir, |list| {
        let entry = list
            .iter_mut()
            .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == tag)
            .unwrap_or_else(|| panic!("no {tag} in the layout"));
        entry["digest"] = digest.into();
        entry["size"] = size.into();
    });
}

/// The image index digest tagged `latest` in a layout.
fn root_digest(dir: &Path) -> String {
    tagged(dir, "latest").expect("a latest tag")["digest"]
        .as_str()
        .unwrap()
        .to_string()
}

/// (platform, manifest digest) of each platform of the layout's image.
fn platform_manifests(dir: &Path) -> Vec<(String, String)> {
    let index = blob_json(dir, &root_digest(dir));
    index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let p = &m["platform"];
            let mut name = format!(
                "{}/{}",
                p["os"].as_str().unwrap(),
                p["architecture"].as_str().unwrap()
            );
            if let Some(v) = p["variant"].as_str() {
                name = format!("{name}/{v}");
            }
            (name, m["digest"].as_str().unwrap().to_string())
        })
        .collect()
}

/// Unpack one platform manifest's layers with tar; returns the root.
fn unpack(dir: &Path, manifest: &str, into: &Path) -> PathBuf {
    std::fs::create_dir_all(into).unwrap();
    let tar = require("tar", "tar");
    for layer in blob_json(dir, manifest)["layers"].as_array().unwrap() {
        stdout_ok(
            &Command::new(&tar)
                .arg("-xzf")
                .arg(blob_file(dir, layer["digest"].as_str().unwrap()))
                .arg("-C")
                .arg(into)
                .output()
                .unwrap(),
            "tar -xzf layer",
        );
    }
    into.to_path_buf()
}

// ---------------------------------------------------------------- registry and tools

fn skopeo_raw(reference: &str) -> (String, Value) {
    let text = skopeo(&[
        "inspect",
        "--raw",
        "--tls-verify=false",
        &format!("docker://{reference}"),
    ]);
    let digest = format!("sha256:{}", sha256_hex(text.as_bytes()));
    (digest, serde_json::from_str(&text).unwrap())
}

/// Does the registry answer for this tag? (skopeo, over HTTP.)
fn skopeo_exists(reference: &str) -> bool {
    Command::new(require("skopeo", "skopeo"))
        .args(["inspect", "--raw", "--tls-verify=false"])
        .arg(format!("docker://{reference}"))
        .output()
        .unwrap()
        .status
        .success()
}

/// A blob straight from the registry's HTTP API.
fn curl_blob(reg: &TestRegistry, repo: &str, digest: &str) -> Vec<u8> {
    let out = Command::new(require("curl", "curl"))
        .args(["-sSfL"])
        .arg(format!("{}/v2/{repo}/blobs/{digest}", reg.url()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "curl {repo} {digest}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// `cosign verify` (or verify-attestation) of `image` (by digest) with `public`.
fn cosign_verify(cosign: &Path, verb: &[&str], public: &str, image: &str) -> Output {
    Command::new(cosign)
        .args(verb)
        .args([
            "--key",
            public,
            "--insecure-ignore-tlog=true",
            "--allow-http-registry",
        ])
        .arg(image)
        .env("COSIGN_PASSWORD", PASSWORD)
        .env("DOCKER_CONFIG", "/nonexistent-slipway-test")
        .output()
        .unwrap()
}

/// cosign prints its verified payloads as JSON lines on stdout.
fn first_json_line(stdout: &str) -> Value {
    stdout
        .lines()
        .find(|l| l.starts_with('[') || l.starts_with('{'))
        .and_then(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| panic!("no JSON line in cosign's output:\n{stdout}"))
}

/// `go version -m BIN`: the Go version, the main module, and the
/// dependencies as (path, version).
fn go_version_m(bin: &Path) -> (String, String, BTreeSet<(String, String)>) {
    let text = stdout_ok(
        &Command::new(require("go", "golang-go"))
            .args(["version", "-m"])
            .arg(bin)
            .output()
            .unwrap(),
        "go version -m",
    );
    let mut lines = text.lines();
    let go = lines
        .next()
        .and_then(|l| l.rsplit(' ').next())
        .unwrap()
        .to_string();
    let (mut main, mut deps) = (String::new(), BTreeSet::new());
    for line in lines {
        let cols: Vec<&str> = line.trim_start_matches('\t').split('\t').collect();
        match cols[0] {
            "mod" => main = cols[1].to_string(),
            "dep" => {
                deps.insert((cols[1].to_string(), cols[2].to_string()));
            }
            "=>" => panic!("this test's modules have no replacements: {line}"),
            _ => {}
        }
    }
    (go, main, deps)
}

fn go_version() -> String {
    stdout_ok(
        &Command::new(require("go", "golang-go"))
            .args(["env", "GOVERSION"])
            .output()
            .unwrap(),
        "go env GOVERSION",
    )
    .trim()
    .to_string()
}

/// The example with one real dependency (golang.org/x/sync from the module
/// proxy), so the SBOM's module list has something to agree on.
fn hello_with_a_dependency(dir: &Path) -> PathBuf {
    let m = dir.join("hello-deps");
    copy_tree(&example("hello"), &m);
    std::fs::write(
        m.join("group.go"),
        "package main\n\nimport \"golang.org/x/sync/errgroup\"\n\n\
         // group is never used at run time; it only links the dependency in.\n\
         var group errgroup.Group\n\nfunc init() { _ = group.Wait() }\n",
    )
    .unwrap();
    std::fs::write(
        m.join("go.mod"),
        "module example.com/slipway/hello\n\ngo 1.22\n\nrequire golang.org/x/sync v0.19.0\n",
    )
    .unwrap();
    stdout_ok(
        &Command::new(require("go", "golang-go"))
            .args(["mod", "tidy"])
            .current_dir(&m)
            .output()
            .unwrap(),
        "go mod tidy (golang.org/x/sync from the module proxy, once)",
    );
    m
}

// ---------------------------------------------------------------- 1, 3, 4: registry, air gap, cosign

#[test]
fn sign_verify_on_a_registry_carry_through_an_air_gap_and_cosign_agrees() {
    let tmp = tempfile::tempdir().unwrap();
    let m = hello(tmp.path());
    let (key, public, fingerprint) = keygen(tmp.path(), "release");
    let (key2, public2, fingerprint2) = keygen(tmp.path(), "second");
    let (_, other_public, other_fingerprint) = keygen(tmp.path(), "other");
    let reg = TestRegistry::plain();
    let reference = reg.reference("team/hello:v1");

    let pushed = ok_json(&[
        "push",
        s(&m),
        &reference,
        "--platform",
        TWO,
        "--libc",
        "none",
        "--json",
    ]);
    let digest = pushed["digest"].as_str().unwrap().to_string();
    let sig_tag = attached(&digest, "sig");
    let sig_ref = reg.reference(&format!("team/hello:{sig_tag}"));

    // Sign, and verify with the key.
    let signed = ok_json(&["sign", &reference, "--key", &key, "--json"]);
    assert_eq!(signed["digest"], digest.as_str());
    assert_eq!(signed["tag"], sig_tag.as_str());
    assert_eq!(signed["key"], fingerprint.as_str());
    assert_eq!(signed["added"], true);
    let (sig_digest, sig_manifest) = skopeo_raw(&sig_ref);
    assert_eq!(
        reg.tag_digest("team/hello", &sig_tag),
        Some(sig_digest.clone())
    );
    assert_eq!(sig_manifest["layers"].as_array().unwrap().len(), 1);
    let verified = ok_json(&["verify", &reference, "--key", &public, "--json"]);
    assert_eq!(verified["digest"], digest.as_str());
    assert_eq!(
        verified["signatures"][0]["identity"],
        reg.reference("team/hello")
    );

    // A key that never signed: exit 1, and the message names both keys.
    let err = fails(&["verify", &reference, "--key", &other_public], 1);
    assert!(err.contains("signed by a different key"), "{err}");
    assert!(
        err.contains(&other_fingerprint),
        "names the key given: {err}"
    );
    assert!(err.contains(&fingerprint), "names the signer: {err}");

    // Re-signing with the same key changes nothing in the registry.
    let again = ok_json(&["sign", &reference, "--key", &key, "--json"]);
    assert_eq!(again["added"], false);
    assert_eq!(skopeo_raw(&sig_ref).0, sig_digest, "idempotent re-sign");

    // A second key adds a layer; both keys verify, the old layer is kept.
    let second = ok_json(&["sign", &reference, "--key", &key2, "--json"]);
    assert_eq!(second["added"], true);
    let (two_digest, two) = skopeo_raw(&sig_ref);
    assert_ne!(two_digest, sig_digest);
    let layers = two["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 2, "{two}");
    assert_eq!(
        layers[0], sig_manifest["layers"][0],
        "the first signature is kept"
    );
    for (public, fp) in [(&public, &fingerprint), (&public2, &fingerprint2)] {
        ok(&["verify", &reference, "--key", public]);
        let v = ok_json(&["verify", &reference, "--key", public, "--json"]);
        assert_eq!(v["signatures"].as_array().unwrap().len(), 1, "{fp}: {v}");
        assert_eq!(v["other_layers"].as_array().unwrap().len(), 1, "{fp}: {v}");
    }

    // cosign accepts both signatures on the registry, and refuses a third key.
    let cosign = cosign();
    let by_digest = reg.reference(&format!("team/hello@{digest}"));
    for p in [&public, &public2] {
        let out = cosign_verify(&cosign, &["verify"], p, &by_digest);
        let said = stdout_ok(&out, &format!("cosign verify --key {p}"));
        let claims = first_json_line(&said);
        assert_eq!(
            claims[0]["critical"]["image"]["docker-manifest-digest"],
            digest.as_str()
        );
    }
    assert!(
        !cosign_verify(&cosign, &["verify"], &other_public, &by_digest)
            .status
            .success()
    );

    // Air gap: registry -> archive (signatures travel) -> verify offline.
    let archive = tmp.path().join("hello.tar");
    let archive_ref = format!("oci-archive:{}", archive.display());
    let copied = ok_json(&["copy", &reference, &archive_ref, "--json"]);
    assert_eq!(copied["digest"], digest.as_str());
    ok(&["verify", &archive_ref, "--key", &public]);
    ok(&["verify", &archive_ref, "--key", &public2]);
    fails(&["verify", &archive_ref, "--key", &other_public], 1);

    // The wrong key on the far side: nothing is pushed, not even the tag.
    let err = fails(
        &[
            "copy",
            &archive_ref,
            &reg.reference("plant/hello:v1"),
            "--verify-key",
            &other_public,
        ],
        1,
    );
    assert!(err.contains("signed by a different key"), "{err}");
    assert_eq!(reg.tag_digest("plant/hello", "v1"), None);
    assert!(!skopeo_exists(
        &reg.reference(&format!("plant/hello:{sig_tag}"))
    ));

    // The right key: the image and its signatures land, and verify there.
    let plant = reg.reference("plant/hello:v1");
    let landed = ok_json(&[
        "copy",
        &archive_ref,
        &plant,
        "--verify-key",
        &public,
        "--json",
    ]);
    assert_eq!(landed["digest"], digest.as_str());
    assert_eq!(reg.tag_digest("plant/hello", "v1"), Some(digest.clone()));
    assert_eq!(
        reg.tag_digest("plant/hello", &sig_tag),
        Some(two_digest.clone()),
        "the same .sig manifest, byte for byte"
    );
    ok(&["verify", &plant, "--key", &public]);
    ok(&["verify", &plant, "--key", &public2]);
    // The payload still names team/hello; cosign accepts the signature in
    // the repository it was carried to.
    let plant_digest = reg.reference(&format!("plant/hello@{digest}"));
    stdout_ok(
        &cosign_verify(&cosign, &["verify"], &public, &plant_digest),
        "cosign verify after the air gap",
    );
}

// ---------------------------------------------------------------- 2: tampering, offline

/// Verify a layout copy with `public`; exit 1, and the message with the
/// layout's own path taken out, so messages compare by what they say.
fn tampered(case: &Path, public: &str) -> String {
    let err = fails(
        &[
            "verify",
            &format!("oci:{}", case.display()),
            "--key",
            public,
        ],
        1,
    );
    err.replace(s(case), "LAYOUT")
}

#[test]
fn every_tampering_case_has_its_own_message() {
    let tmp = tempfile::tempdir().unwrap();
    let m = hello(tmp.path());
    let (key, public, fingerprint) = keygen(tmp.path(), "k");
    let (_, other_public, other_fingerprint) = keygen(tmp.path(), "other");
    let base = tmp.path().join("base");
    image(&m, &["--platform", TWO, "--libc", "none"], &base);
    let digest = root_digest(&base);
    let sig_tag = attached(&digest, "sig");
    let case = |name: &str| {
        let dir = tmp.path().join(name);
        copy_tree(&base, &dir);
        dir
    };

    let unsigned = case("unsigned");
    ok(&["sign", &format!("oci:{}", base.display()), "--key", &key]);
    assert!(tagged(&base, &sig_tag).is_some(), "{:?}", tags(&base));
    ok(&[
        "verify",
        &format!("oci:{}", base.display()),
        "--key",
        &public,
    ]);
    let sig_manifest_digest = tagged(&base, &sig_tag).unwrap()["digest"]
        .as_str()
        .unwrap()
        .to_string();
    let sig_manifest = blob_json(&base, &sig_manifest_digest);
    let payload_digest = sig_manifest["layers"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    let payload = std::fs::read(blob_file(&base, &payload_digest)).unwrap();
    assert!(
        String::from_utf8_lossy(&payload)
            .contains(&format!("\"docker-manifest-digest\":\"{digest}\"")),
        "the payload names the image"
    );

    let mut messages: Vec<(&str, String)> = Vec::new();

    // 1. No signature at all.
    messages.push(("no signature", tampered(&unsigned, &public)));

    // 2. A payload replaced after signing: a new blob, the layer pointed at it.
    let replaced = case("replaced");
    let evil = String::from_utf8(payload.clone()).unwrap().replace(
        "\"docker-reference\":\"hello\"",
        "\"docker-reference\":\"evil\"",
    );
    assert_ne!(evil.as_bytes(), payload.as_slice());
    let (evil_digest, evil_size) = put_blob(&replaced, evil.as_bytes());
    let mut manifest = sig_manifest.clone();
    manifest["layers"][0]["digest"] = evil_digest.into();
    manifest["layers"][0]["size"] = evil_size.into();
    retag(&replaced, &sig_tag, &manifest);
    messages.push(("replaced payload", tampered(&replaced, &public)));

    // 3. The payload edited in place: the blob no longer matches its digest.
    let in_place = case("in-place");
    std::fs::write(blob_file(&in_place, &payload_digest), evil.as_bytes()).unwrap();
    messages.push(("payload edited in place", tampered(&in_place, &public)));

    // 4. Another image's .sig under this image's tag: sign the amd64
    //    manifest (tagged for the purpose), then move its .sig over ours.
    let other = case("other-image");
    let (_, amd64) = platform_manifests(&other)
        .into_iter()
        .find(|(p, _)| p == "linux/amd64")
        .unwrap();
    let entry = tagged(&other, "latest").unwrap();
    edit_layout_index(&other, |list| {
        list.push(json!({
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": amd64,
            "size": std::fs::metadata(blob_file(&other, &amd64)).unwrap().len(),
            "annotations": {"org.opencontainers.image.ref.name": "amd64"},
        }))
    });
    ok(&[
        "sign",
        &format!("oci:{}:amd64", other.display()),
        "--key",
        &key,
        "--identity",
        "hello",
    ]);
    let amd64_sig = tagged(&other, &attached(&amd64, "sig")).expect("the amd64 .sig");
    edit_layout_index(&other, |list| {
        list.retain(|m| {
            let tag = m["annotations"]["org.opencontainers.image.ref.name"].as_str();
            tag != Some("amd64") && tag != Some(&attached(&amd64, "sig"))
        });
        for m in list.iter_mut() {
            if m["annotations"]["org.opencontainers.image.ref.name"] == sig_tag.as_str() {
                m["digest"] = amd64_sig["digest"].clone();
                m["size"] = amd64_sig["size"].clone();
            }
        }
    });
    assert_eq!(tagged(&other, "latest").unwrap(), entry);
    messages.push(("another image's signature", tampered(&other, &public)));

    // 5. One signature byte flipped (the last byte of s: still valid DER).
    let flipped = case("flipped");
    let b64 = base64::engine::general_purpose::STANDARD;
    let annotation = "dev.cosignproject.cosign/signature";
    let mut sig = b64
        .decode(
            sig_manifest["layers"][0]["annotations"][annotation]
                .as_str()
                .unwrap(),
        )
        .unwrap();
    *sig.last_mut().unwrap() ^= 0x01;
    let mut manifest = sig_manifest.clone();
    manifest["layers"][0]["annotations"][annotation] = b64.encode(&sig).into();
    retag(&flipped, &sig_tag, &manifest);
    messages.push(("flipped signature byte", tampered(&flipped, &public)));

    // 6. The wrong key.
    let signed = case("signed");
    ok(&[
        "verify",
        &format!("oci:{}", signed.display()),
        "--key",
        &public,
    ]);
    messages.push(("wrong key", tampered(&signed, &other_public)));

    let expect = [
        (
            "no signature",
            vec!["has no signature".to_string(), sig_tag.clone()],
        ),
        (
            "replaced payload",
            vec!["tampered payload".into(), "replaced after signing".into()],
        ),
        (
            "payload edited in place",
            vec!["is corrupt".into(), payload_digest.clone()],
        ),
        (
            "another image's signature",
            vec!["valid but for another image".into(), amd64.clone()],
        ),
        (
            "flipped signature byte",
            vec!["corrupted signature".into(), fingerprint.clone()],
        ),
        (
            "wrong key",
            vec![
                "signed by a different key".into(),
                fingerprint.clone(),
                other_fingerprint.clone(),
            ],
        ),
    ];
    for ((name, message), (expected_name, needles)) in messages.iter().zip(&expect) {
        assert_eq!(name, expected_name);
        for needle in needles {
            assert!(
                message.contains(needle.as_str()),
                "{name}: expected {needle:?} in:\n{message}"
            );
        }
        eprintln!("{name}: {}", message.trim());
    }
    for (i, (a, ma)) in messages.iter().enumerate() {
        for (b, mb) in &messages[i + 1..] {
            assert_ne!(ma, mb, "{a} and {b} say the same thing");
        }
    }
    // The in-place edit is caught as an integrity problem, not as a
    // signature that merely fails.
    let in_place_msg = &messages[2].1;
    assert!(
        !in_place_msg.contains("different key") && !in_place_msg.contains("corrupted signature"),
        "{in_place_msg}"
    );
}

// ---------------------------------------------------------------- 4, 5: push/image --sign-key --sbom

#[test]
fn push_and_image_attach_signed_provenance_and_sboms() {
    let tmp = tempfile::tempdir().unwrap();
    let m = hello(tmp.path());
    let (key, public, _) = keygen(tmp.path(), "k");
    let reg = TestRegistry::plain();
    let reference = reg.reference("team/hello:v2");
    let pushed = ok_json(&[
        "push",
        s(&m),
        &reference,
        "--platform",
        TWO,
        "--libc",
        "none",
        "--sign-key",
        &key,
        "--sbom",
        "--json",
    ]);
    let digest = pushed["digest"].as_str().unwrap().to_string();

    let v = ok_json(&[
        "verify",
        &reference,
        "--key",
        &public,
        "--attestations",
        "--json",
    ]);
    let kinds: BTreeSet<&str> = v["attestations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["predicate_type"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        BTreeSet::from([
            "https://spdx.dev/Document",
            "https://slsa.dev/provenance/v1"
        ]),
        "{v}"
    );
    // One SBOM statement per platform plus the provenance.
    assert_eq!(v["attestations"].as_array().unwrap().len(), 3, "{v}");
    assert!(
        reg.tag_digest("team/hello", &attached(&digest, "sig"))
            .is_some()
    );
    assert!(
        reg.tag_digest("team/hello", &attached(&digest, "att"))
            .is_some()
    );

    // A .sbom per platform manifest, its SPDX layer valid and about that platform.
    let (_, index) = skopeo_raw(&reference);
    let platforms = index["manifests"].as_array().unwrap();
    assert_eq!(platforms.len(), 2);
    for p in platforms {
        let manifest = p["digest"].as_str().unwrap();
        let arch = p["platform"]["architecture"].as_str().unwrap();
        let (_, sbom) =
            skopeo_raw(&reg.reference(&format!("team/hello:{}", attached(manifest, "sbom"))));
        let layer = &sbom["layers"][0];
        assert_eq!(layer["mediaType"], "text/spdx+json", "{sbom}");
        let bytes = curl_blob(&reg, "team/hello", layer["digest"].as_str().unwrap());
        assert_eq!(
            format!("sha256:{}", sha256_hex(&bytes)),
            layer["digest"].as_str().unwrap()
        );
        let file = tmp.path().join(format!("{arch}.spdx.json"));
        std::fs::write(&file, &bytes).unwrap();
        validate_spdx(&file);
        let doc: Value = serde_json::from_slice(&bytes).unwrap();
        let image = doc["packages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["primaryPackagePurpose"] == "CONTAINER")
            .expect("the image package");
        let purl = image["externalRefs"][0]["referenceLocator"]
            .as_str()
            .unwrap();
        assert!(purl.contains(&format!("arch={arch}")), "{purl}");
    }

    // cosign reads the signature and the SLSA provenance slipway attested.
    let cosign = cosign();
    let by_digest = reg.reference(&format!("team/hello@{digest}"));
    stdout_ok(
        &cosign_verify(&cosign, &["verify"], &public, &by_digest),
        "cosign verify",
    );
    let out = cosign_verify(
        &cosign,
        &[
            "verify-attestation",
            "--type",
            "https://slsa.dev/provenance/v1",
        ],
        &public,
        &by_digest,
    );
    let said = stdout_ok(&out, "cosign verify-attestation --type slsa provenance v1");
    let envelope = first_json_line(&said);
    let statement: Value = serde_json::from_slice(
        &base64::engine::general_purpose::STANDARD
            .decode(envelope["payload"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(statement["predicateType"], "https://slsa.dev/provenance/v1");
    assert_eq!(
        statement["subject"][0]["digest"]["sha256"],
        digest.trim_start_matches("sha256:")
    );
    let params = &statement["predicate"]["buildDefinition"]["externalParameters"];
    assert_eq!(params["libc"], "none", "{params}");
    let out = cosign_verify(
        &cosign,
        &["verify-attestation", "--type", "https://spdx.dev/Document"],
        &public,
        &by_digest,
    );
    stdout_ok(&out, "cosign verify-attestation --type spdx");

    // `slipway attest` adds a statement of the user's own; re-running it adds
    // nothing; slipway and cosign both read it back.
    let predicate_type = "https://example.com/slipway-test/review/v1";
    let predicate = tmp.path().join("review.json");
    std::fs::write(&predicate, r#"{"reviewed":true,"by":"test"}"#).unwrap();
    let att_tag = attached(&digest, "att");
    let before = reg.tag_digest("team/hello", &att_tag).unwrap();
    let attest = [
        "attest",
        &reference,
        "--key",
        &key,
        "--predicate",
        s(&predicate),
        "--type",
        predicate_type,
        "--json",
    ];
    assert_eq!(ok_json(&attest)["added"], 1);
    let after = reg.tag_digest("team/hello", &att_tag).unwrap();
    assert_ne!(after, before);
    assert_eq!(ok_json(&attest)["added"], 0);
    assert_eq!(reg.tag_digest("team/hello", &att_tag).unwrap(), after);
    let v = ok_json(&[
        "verify",
        &reference,
        "--key",
        &public,
        "--attestations",
        "--json",
    ]);
    assert_eq!(v["attestations"].as_array().unwrap().len(), 4, "{v}");
    assert!(
        v["attestations"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["predicate_type"] == predicate_type)
    );
    let out = cosign_verify(
        &cosign,
        &["verify-attestation", "--type", predicate_type],
        &public,
        &by_digest,
    );
    let envelope = first_json_line(&stdout_ok(&out, "cosign verify-attestation (custom)"));
    let statement: Value = serde_json::from_slice(
        &base64::engine::general_purpose::STANDARD
            .decode(envelope["payload"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        statement["predicate"],
        json!({"reviewed": true, "by": "test"})
    );

    // The same offline: a layout holding the image, its .sig, .att and a .sbom per platform.
    let layout = tmp.path().join("layout");
    image(
        &m,
        &[
            "--platform",
            TWO,
            "--libc",
            "none",
            "--sign-key",
            &key,
            "--sbom",
        ],
        &layout,
    );
    let root = root_digest(&layout);
    assert_eq!(root, digest, "the same image offline and pushed");
    let mut want: BTreeSet<String> = [
        "latest".to_string(),
        attached(&root, "sig"),
        attached(&root, "att"),
    ]
    .into();
    for (_, manifest) in platform_manifests(&layout) {
        want.insert(attached(&manifest, "sbom"));
    }
    assert_eq!(tags(&layout), want);
    let v = ok_json(&[
        "verify",
        &format!("oci:{}", layout.display()),
        "--key",
        &public,
        "--attestations",
        "--json",
    ]);
    assert_eq!(v["attestations"].as_array().unwrap().len(), 3, "{v}");
}

// ---------------------------------------------------------------- 6, 7: sbom and scan of images

/// The Go modules (path, version) the SBOM says `/app/hello` is made of,
/// the main module and the stdlib version, checked against `go version -m`.
fn assert_sbom_matches_binary(spdx: &Value, bin: &Path) {
    let pkgs = spdx["packages"].as_array().unwrap();
    let app = pkgs
        .iter()
        .find(|p| {
            p["packageFileName"] == "/app/hello" && p["primaryPackagePurpose"] == "APPLICATION"
        })
        .expect("the app package");
    assert_eq!(
        app["checksums"][0]["checksumValue"],
        sha256_hex(&std::fs::read(bin).unwrap())
    );
    let parts: BTreeSet<&str> = spdx["relationships"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["spdxElementId"] == app["SPDXID"])
        .map(|r| r["relatedSpdxElement"].as_str().unwrap())
        .collect();
    let (go, main, deps) = go_version_m(bin);
    let (mut got, mut stdlib, mut mains) = (BTreeSet::new(), None, 0);
    for p in pkgs
        .iter()
        .filter(|p| parts.contains(p["SPDXID"].as_str().unwrap()))
    {
        let purl = p["externalRefs"]
            .as_array()
            .and_then(|r| r.iter().find(|r| r["referenceType"] == "purl"))
            .map(|r| r["referenceLocator"].as_str().unwrap().to_string())
            .unwrap_or_default();
        if !purl.starts_with("pkg:golang/") {
            continue;
        }
        let name = p["name"].as_str().unwrap().to_string();
        let version = p["versionInfo"].as_str().unwrap().to_string();
        if name == "stdlib" {
            stdlib = Some(version);
        } else if name == main {
            mains += 1;
        } else {
            assert_eq!(purl, format!("pkg:golang/{name}@{version}"));
            got.insert((name, version));
        }
    }
    assert_eq!(got, deps, "SBOM modules vs go version -m {}", bin.display());
    assert_eq!(mains, 1, "the main module {main}");
    assert_eq!(stdlib, Some(go), "the stdlib is the Go that built it");
}

/// A database in the Go vulnerability DB layout with one stdlib entry that
/// the installed Go is affected by (fixed in the next patch release).
fn write_db(dir: &Path, go: &str) {
    let v = go.strip_prefix("go").unwrap();
    let parts: Vec<u64> = v.split('.').map(|p| p.parse().unwrap()).collect();
    let next = format!("{}.{}.{}", parts[0], parts[1], parts[2] + 1);
    let entry = json!({
        "schema_version": "1.3.1", "id": "GO-2026-7001", "modified": "2026-07-01T00:00:00Z",
        "aliases": ["CVE-2026-7001"],
        "affected": [{"package": {"name": "stdlib", "ecosystem": "Go"},
            "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": next}]}],
            "ecosystem_specific": {"imports": [{"path": "net/http", "symbols": ["Serve"]}]}}]
    });
    std::fs::create_dir_all(dir.join("ID")).unwrap();
    std::fs::create_dir_all(dir.join("index")).unwrap();
    std::fs::write(dir.join("ID/GO-2026-7001.json"), entry.to_string()).unwrap();
    std::fs::write(
        dir.join("index/modules.json"),
        json!([{"path": "stdlib", "vulns": [{"id": "GO-2026-7001", "modified": "2026-07-01T00:00:00Z"}]}])
            .to_string(),
    )
    .unwrap();
    std::fs::write(
        dir.join("index/db.json"),
        r#"{"modified":"2026-07-01T00:00:00Z"}"#,
    )
    .unwrap();
}

#[test]
fn sbom_and_scan_read_images_from_layouts_archives_and_registries() {
    let tmp = tempfile::tempdir().unwrap();
    let deps = hello_with_a_dependency(tmp.path());
    let plain = hello(tmp.path());
    let pure = tmp.path().join("pure");
    let musl = tmp.path().join("musl");
    image(&deps, &["--platform", TWO, "--libc", "none"], &pure);
    image(&plain, &["--platform", TWO, "--libc", "musl"], &musl);

    for (layout, cgo) in [(&pure, false), (&musl, true)] {
        let oci = format!("oci:{}", layout.display());
        for (platform, manifest) in platform_manifests(layout) {
            let arch = platform.rsplit('/').next().unwrap();
            let spdx_file = tmp.path().join(format!("{arch}.spdx.json"));
            let cdx_file = tmp.path().join(format!("{arch}.cdx.json"));
            for (format, file) in [("spdx-json", &spdx_file), ("cyclonedx-json", &cdx_file)] {
                ok(&[
                    "sbom",
                    &oci,
                    "--platform",
                    &platform,
                    "--format",
                    format,
                    "--output",
                    s(file),
                ]);
            }
            validate_spdx(&spdx_file);
            validate_cyclonedx(&cdx_file);
            let spdx: Value = serde_json::from_slice(&std::fs::read(&spdx_file).unwrap()).unwrap();
            let rootfs = unpack(
                layout,
                &manifest,
                &tmp.path().join(format!("rootfs-{}-{arch}", cgo)),
            );
            assert_sbom_matches_binary(&spdx, &rootfs.join("app/hello"));

            // --platform chose this platform: the image is this manifest.
            let cdx: Value = serde_json::from_slice(&std::fs::read(&cdx_file).unwrap()).unwrap();
            assert_eq!(
                cdx["metadata"]["component"]["hashes"][0]["content"],
                manifest.trim_start_matches("sha256:")
            );
            let names: BTreeSet<&str> = spdx["packages"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["name"].as_str().unwrap())
                .collect();
            // The app links musl only in the cgo build (the init always does).
            let app = spdx["packages"]
                .as_array()
                .unwrap()
                .iter()
                .find(|p| p["packageFileName"] == "/app/hello")
                .unwrap();
            let app_parts: BTreeSet<&str> = spdx["relationships"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|r| r["spdxElementId"] == app["SPDXID"])
                .filter_map(|r| {
                    spdx["packages"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .find(|p| p["SPDXID"] == r["relatedSpdxElement"])
                        .and_then(|p| p["name"].as_str())
                })
                .collect();
            assert_eq!(app_parts.contains("musl"), cgo, "{platform}: {app_parts:?}");
            assert!(names.contains("slipway-init"), "{names:?}");
            if !cgo {
                assert!(names.contains("golang.org/x/sync"), "{names:?}");
            }
        }
        // Deterministic: the same bytes again.
        let again = tmp.path().join("again.spdx.json");
        ok(&[
            "sbom",
            &oci,
            "--platform",
            "linux/arm64",
            "--output",
            s(&again),
        ]);
        assert_eq!(
            std::fs::read(&again).unwrap(),
            std::fs::read(tmp.path().join("arm64.spdx.json")).unwrap()
        );
    }

    // An unknown platform is invalid input, and the message lists the real ones.
    let oci = format!("oci:{}", pure.display());
    let err = fails(&["sbom", &oci, "--platform", "linux/s390x"], 2);
    assert!(
        err.contains("linux/s390x") && err.contains("linux/amd64") && err.contains("linux/arm64"),
        "{err}"
    );

    // An archive and a registry give the same document for the same platform
    // (the name differs, so compare what the image is made of).
    let archive = tmp.path().join("pure.tar");
    let archive_ref = format!("oci-archive:{}", archive.display());
    ok(&["copy", &oci, &archive_ref]);
    let reg = TestRegistry::plain();
    let remote = reg.reference("team/hello:deps");
    ok(&["copy", &oci, &remote]);
    let checksums = |reference: &str| -> BTreeSet<String> {
        let doc: Value =
            serde_json::from_str(&ok(&["sbom", reference, "--platform", "linux/amd64"])).unwrap();
        doc["packages"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|p| {
                p["checksums"][0]["checksumValue"]
                    .as_str()
                    .map(String::from)
            })
            .collect()
    };
    let from_layout = checksums(&oci);
    assert!(
        from_layout.len() >= 2,
        "the app and the init: {from_layout:?}"
    );
    assert_eq!(checksums(&archive_ref), from_layout);
    assert_eq!(checksums(&remote), from_layout);

    // scan: the stdlib entry matches every platform's binary.
    let go = go_version();
    let db = tmp.path().join("db");
    write_db(&db, &go);
    let scan = |args: &[&str]| -> Output {
        let mut all = vec!["scan"];
        all.extend(args);
        run(&all)
    };
    for target in [&oci, &archive_ref, &remote] {
        let out = scan(&[target, "--db", s(&db), "--json"]);
        assert_eq!(
            exit_code(&out),
            1,
            "the gate trips: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        let paths: BTreeSet<&str> = report["binaries"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|b| b["findings"][0]["id"] == "GO-2026-7001")
            .map(|b| b["path"].as_str().unwrap())
            .collect();
        assert_eq!(
            paths,
            BTreeSet::from(["linux/amd64:/app/hello", "linux/arm64:/app/hello"]),
            "{target}: {report}"
        );
        assert_eq!(report["findings"], 2, "{report}");
        for b in report["binaries"].as_array().unwrap() {
            assert_eq!(b["go"], go.as_str());
        }
    }
    let out = scan(&[&oci, "--db", s(&db), "--platform", "linux/arm64", "--json"]);
    assert_eq!(exit_code(&out), 1);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let paths: Vec<&str> = report["binaries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, vec!["linux/arm64:/app/hello"], "{report}");
    let out = scan(&[&oci, "--db", s(&db), "--fail-on", "none"]);
    assert_eq!(
        exit_code(&out),
        0,
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("GO-2026-7001 (CVE-2026-7001)"), "{text}");
    let err = fails(
        &["scan", &oci, "--db", s(&db), "--platform", "linux/s390x"],
        2,
    );
    assert!(err.contains("linux/s390x"), "{err}");
}
