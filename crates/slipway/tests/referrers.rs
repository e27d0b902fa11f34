//! Issue #12 end to end with the real tools: Sigstore bundles as OCI 1.1
//! referrers written by slipway and read by cosign v3.1.3 (and the other way
//! round), listed by `oras discover`, on Debian's registry 2.8 (no referrers
//! API: the fallback tag) and on a registry that serves the API
//! (go-containerregistry's); `slipway copy` carrying every referrer; and the
//! air gap with its gate, on cosign and Notary signatures at once.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use slipway_testkit::registry::TestRegistry;
use slipway_testkit::supply_chain::{ReferrersRegistry, cosign_v3, go_tool};
use slipway_testkit::{copy_tree, example, stdout_ok};

mod common;
use common::notary::{ACME, Trust, files};
use common::*;
use slipway_notary::testca::{Ca, KeyKind, Leaf};

const PASSWORD: &str = "referrers-test";
const BUNDLE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";

fn run(args: &[&str]) -> Output {
    signing_slipway(PASSWORD).args(args).output().unwrap()
}

fn ok(args: &[&str]) -> String {
    stdout_ok(&run(args), &format!("slipway {args:?}"))
}

fn ok_json(args: &[&str]) -> Value {
    stdout_json(&run(args), &format!("slipway {args:?}"))
}

/// Run slipway expecting exit 1; returns stderr.
fn refused(args: &[&str]) -> String {
    let out = run(args);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(exit_code(&out), 1, "slipway {args:?} should fail:\n{err}");
    err
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A key pair: (private, public).
fn keygen(dir: &Path, name: &str) -> (String, String) {
    let v = ok_json(&["keygen", "--prefix", s(&dir.join(name)), "--json"]);
    (
        v["private_key"].as_str().unwrap().to_string(),
        v["public_key"].as_str().unwrap().to_string(),
    )
}

/// A two-platform image in an OCI layout; returns (layout, index digest).
fn build(dir: &Path) -> (PathBuf, String) {
    let module = dir.join("hello");
    copy_tree(&example("hello"), &module);
    let out = dir.join("image");
    let v = image(&module, &["--platform", "linux/amd64,linux/arm64"], &out);
    (out, v["index_digest"].as_str().unwrap().to_string())
}

/// The platform manifest digests of the index `index` in `layout`.
fn platforms(layout: &Path, index: &str) -> Vec<String> {
    let path = layout
        .join("blobs/sha256")
        .join(index.trim_start_matches("sha256:"));
    let v: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    v["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["digest"].as_str().unwrap().to_string())
        .collect()
}

/// A cosign v3 signing config with no services: key-based, no transparency log.
fn signing_config(dir: &Path) -> PathBuf {
    let file = dir.join("signing-config.json");
    let out = Command::new(cosign_v3())
        .args(["signing-config", "create", "--out"])
        .arg(&file)
        .output()
        .unwrap();
    stdout_ok(&out, "cosign signing-config create");
    file
}

fn cosign(args: &[&str]) -> Output {
    Command::new(cosign_v3())
        .args(args)
        .env("COSIGN_PASSWORD", PASSWORD)
        .env("HOME", std::env::temp_dir())
        .output()
        .unwrap()
}

fn cosign_ok(args: &[&str]) -> String {
    stdout_ok(&cosign(args), &format!("cosign {args:?}"))
}

/// `cosign verify` (or `verify-attestation`) with a key and no tlog.
fn cosign_verify(verb: &str, public: &str, image: &str, extra: &[&str]) -> String {
    let mut args = vec![
        verb,
        "--key",
        public,
        "--insecure-ignore-tlog=true",
        "--allow-http-registry",
    ];
    args.extend(extra);
    args.push(image);
    cosign_ok(&args)
}

/// The referrers of `digest` as `oras discover` lists them.
fn oras_discover(reference: &str) -> Vec<(String, String)> {
    let out = Command::new(go_tool("oras"))
        .args(["discover", "--plain-http", "--format", "json", reference])
        .output()
        .unwrap();
    let v: Value = serde_json::from_str(&stdout_ok(&out, "oras discover")).unwrap();
    v["referrers"]
        .as_array()
        .unwrap_or_else(|| panic!("oras discover: no referrers list in {v}"))
        .iter()
        .map(|r| {
            (
                r["digest"].as_str().unwrap().to_string(),
                r["artifactType"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

/// The referrer digests slipway itself lists, via `verify --json`.
fn bundle_referrers(report: &Value) -> Vec<String> {
    report["signatures"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["format"] == "bundle")
        .map(|s| s["referrer"].as_str().unwrap().to_string())
        .collect()
}

/// Both directions with cosign v3 and `oras discover`, on one registry.
fn interop_on(host: &str, dir: &Path, layout: &Path, index: &str, fallback: bool) {
    let (key, public) = keygen(dir, "slipway");
    let (ckey, cpublic) = keygen(dir, "cosign");
    let reference = format!("{host}/team/hello:v1");
    let pinned = format!("{host}/team/hello@{index}");
    ok(&["copy", &format!("oci:{}", layout.display()), &reference]);

    // slipway signs (bundles, recursive by default) and attests.
    let signed = ok_json(&["sign", &reference, "--key", &key, "--json"]);
    assert_eq!(signed["format"], "bundle");
    assert_eq!(signed["signed"].as_array().unwrap().len(), 3, "{signed}");
    ok(&["attest", &reference, "--key", &key]);

    // cosign v3 verifies the index and, on its own, each platform manifest.
    cosign_verify("verify", &public, &pinned, &[]);
    for p in platforms(layout, index) {
        cosign_verify("verify", &public, &format!("{host}/team/hello@{p}"), &[]);
    }
    let att = cosign_verify(
        "verify-attestation",
        &public,
        &pinned,
        &["--type", "spdxjson"],
    );
    assert!(att.contains("payload"), "{att}");

    // cosign v3 signs and attests in its default format, no tlog; slipway reads it.
    let sc = signing_config(dir);
    cosign_ok(&[
        "sign",
        "--key",
        &ckey,
        "--signing-config",
        s(&sc),
        "--allow-http-registry",
        "-y",
        &pinned,
    ]);
    std::fs::write(dir.join("pred.json"), br#"{"checked":true}"#).unwrap();
    cosign_ok(&[
        "attest",
        "--key",
        &ckey,
        "--signing-config",
        s(&sc),
        "--allow-http-registry",
        "-y",
        "--predicate",
        s(&dir.join("pred.json")),
        "--type",
        "https://example.com/check/v1",
        &pinned,
    ]);
    let v = ok_json(&[
        "verify",
        &reference,
        "--key",
        &cpublic,
        "--attestations",
        "--json",
    ]);
    assert_eq!(v["formats"], serde_json::json!(["bundle"]), "{v}");
    assert_eq!(
        v["attestations"][0]["predicate_type"],
        "https://example.com/check/v1"
    );
    let text = ok(&["verify", &reference, "--key", &cpublic]);
    assert!(
        text.contains("[Sigstore bundle, referrer sha256:"),
        "{text}"
    );

    // A key that signed nothing is refused, naming the other signers' keys.
    let (_, stranger) = keygen(dir, "stranger");
    let err = refused(&["verify", &reference, "--key", &stranger]);
    assert!(err.contains("signed by a different key"), "{err}");

    // oras lists what slipway wrote (and cosign's).
    let ours = bundle_referrers(&ok_json(&[
        "verify", &reference, "--key", &public, "--json",
    ]));
    assert_eq!(ours.len(), 1);
    let listed = oras_discover(&pinned);
    assert!(
        listed.iter().any(|(d, _)| *d == ours[0]),
        "oras: {listed:?}"
    );
    // slipway sign + attest (2 SBOMs) + cosign sign + attest on the index.
    assert_eq!(listed.len(), 5, "oras: {listed:?}");
    if fallback {
        // Read from the fallback index, which carries artifactType.
        assert!(listed.iter().all(|(_, t)| t == BUNDLE), "oras: {listed:?}");
    }
}

#[test]
fn cosign_v3_and_oras_agree_on_both_kinds_of_registry() {
    let tmp = tempfile::tempdir().unwrap();
    let (layout, index) = build(tmp.path());
    let debian = TestRegistry::plain();
    let d = tmp.path().join("debian");
    std::fs::create_dir_all(&d).unwrap();
    interop_on(&debian.host(), &d, &layout, &index, true);
    // No referrers API there: the fallback tag holds them.
    assert!(
        debian
            .tag_digest("team/hello", &index.replace(':', "-"))
            .is_some()
    );

    let api = ReferrersRegistry::start();
    let d = tmp.path().join("api");
    std::fs::create_dir_all(&d).unwrap();
    interop_on(&api.host(), &d, &layout, &index, false);
}

/// The referrers of `digest` at `reference`'s repository, by digest, via the
/// fallback tag or the API (slipway's own listing, checked by the unit tests
/// against the registry's).
fn listed(repo_ref: &str, digest: &str) -> Vec<String> {
    let mut v: Vec<String> = oras_discover(&format!("{repo_ref}@{digest}"))
        .into_iter()
        .map(|(d, _)| d)
        .collect();
    v.sort();
    v
}

#[test]
fn copy_carries_every_referrer_recursively_and_merges() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (layout, index) = build(dir);
    let (key, public) = keygen(dir, "a");
    let (key2, public2) = keygen(dir, "b");
    let src_reg = TestRegistry::plain();
    let src = format!("{}/team/hello", src_reg.host());
    ok(&[
        "copy",
        &format!("oci:{}", layout.display()),
        &format!("{src}:v1"),
    ]);
    ok(&["sign", &format!("{src}:v1"), "--key", &key]);
    ok(&[
        "sign",
        &format!("{src}:v1"),
        "--key",
        &key,
        "--format",
        "legacy",
    ]);
    ok(&["attest", &format!("{src}:v1"), "--key", &key]);
    // A signature of an attestation: a referrer of a referrer.
    let atts = ok_json(&[
        "verify",
        &format!("{src}:v1"),
        "--key",
        &public,
        "--attestations",
        "--json",
    ]);
    let att_ref = atts["attestations"][0]["referrer"]
        .as_str()
        .unwrap()
        .to_string();
    ok(&[
        "sign",
        &format!("{src}@{att_ref}"),
        "--key",
        &key,
        "--identity",
        "team/hello",
    ]);
    let of_index = listed(&src, &index);
    let of_att = listed(&src, &att_ref);
    assert_eq!(
        of_index.len(),
        3,
        "sign + 2 SBOM attestations: {of_index:?}"
    );
    assert_eq!(of_att.len(), 1);

    // registry (fallback tags) → archive → registry with the API.
    let usb = dir.join("usb.tar");
    let report = ok_json(&[
        "copy",
        &format!("{src}:v1"),
        &format!("oci-archive:{}", usb.display()),
        "--json",
    ]);
    // 3 on the index, 1 sign + 1 SBOM on each platform, 1 on the attestation.
    assert_eq!(report["referrers"].as_array().unwrap().len(), 8, "{report}");
    assert_eq!(
        report["attachments"].as_array().unwrap().len(),
        3,
        "{report}"
    );
    let archive_view = ok_json(&[
        "verify",
        &format!("oci-archive:{}", usb.display()),
        "--key",
        &public,
        "--attestations",
        "--json",
    ]);
    assert_eq!(
        archive_view["formats"],
        serde_json::json!(["bundle", "legacy"])
    );

    let dst_reg = ReferrersRegistry::start();
    let dst = format!("{}/plant/hello", dst_reg.host());
    // A signature only the destination has (bundle and legacy): it must survive.
    ok(&[
        "copy",
        &format!("oci:{}", layout.display()),
        &format!("{dst}:v1"),
    ]);
    ok(&[
        "sign",
        &format!("{dst}:v1"),
        "--key",
        &key2,
        "--recursive=false",
    ]);
    ok(&[
        "sign",
        &format!("{dst}:v1"),
        "--key",
        &key2,
        "--format",
        "legacy",
        "--recursive=false",
    ]);
    ok(&[
        "copy",
        &format!("oci-archive:{}", usb.display()),
        &format!("{dst}:v1"),
    ]);
    let mut want = of_index.clone();
    let dst_index = listed(&dst, &index);
    want.retain(|d| dst_index.contains(d));
    assert_eq!(
        want, of_index,
        "every source referrer arrived: {dst_index:?}"
    );
    assert_eq!(
        dst_index.len(),
        of_index.len() + 1,
        "the destination's own survived: {dst_index:?}"
    );
    assert_eq!(
        listed(&dst, &att_ref),
        of_att,
        "the referrer of a referrer arrived"
    );
    for p in platforms(&layout, &index) {
        assert_eq!(listed(&dst, &p), listed(&src, &p), "platform {p}");
    }
    // Both keys verify there, in both formats: the .sig tags were merged.
    let v = ok_json(&["verify", &format!("{dst}:v1"), "--key", &public, "--json"]);
    assert_eq!(v["formats"], serde_json::json!(["bundle", "legacy"]), "{v}");
    let v = ok_json(&["verify", &format!("{dst}:v1"), "--key", &public2, "--json"]);
    assert_eq!(v["formats"], serde_json::json!(["bundle", "legacy"]), "{v}");
    cosign_verify("verify", &public, &format!("{dst}@{index}"), &[]);
    cosign_verify("verify", &public2, &format!("{dst}@{index}"), &[]);

    // This registry lists referrers in a random order: two copies of the
    // same image must still write the same archive.
    let once = dir.join("once.tar");
    let twice = dir.join("twice.tar");
    for archive in [&once, &twice] {
        ok(&[
            "copy",
            &format!("{dst}:v1"),
            &format!("oci-archive:{}", archive.display()),
        ]);
    }
    assert!(
        std::fs::read(&once).unwrap() == std::fs::read(&twice).unwrap(),
        "two copies from a registry with the referrers API wrote different archives"
    );

    // --referrers none carries no referrers and no tags; a type carries only those.
    let none = dir.join("none.tar");
    let r = ok_json(&[
        "copy",
        &format!("{src}:v1"),
        &format!("oci-archive:{}", none.display()),
        "--referrers",
        "none",
        "--json",
    ]);
    assert!(
        r["referrers"].as_array().unwrap().is_empty()
            && r["attachments"].as_array().unwrap().is_empty(),
        "{r}"
    );
    let err = refused(&[
        "verify",
        &format!("oci-archive:{}", none.display()),
        "--key",
        &public,
    ]);
    assert!(err.contains("has no signature"), "{err}");
    let only = dir.join("only.tar");
    let r = ok_json(&[
        "copy",
        &format!("{src}:v1"),
        &format!("oci-archive:{}", only.display()),
        "--referrers",
        BUNDLE,
        "--json",
    ]);
    assert_eq!(r["referrers"].as_array().unwrap().len(), 8, "{r}");
    assert!(r["attachments"].as_array().unwrap().is_empty(), "{r}");
    let bad = run(&[
        "copy",
        &format!("{src}:v1"),
        "oci-archive:x.tar",
        "--referrers",
        "sboms",
    ]);
    assert_eq!(exit_code(&bad), 2);
}

// ---------------------------------------------------------------- the air gap

/// Rewrite an OCI archive with one byte of blob `digest` flipped.
fn tamper_archive(from: &Path, to: &Path, digest: &str) {
    let script = r#"
import sys, tarfile, io
src, dst, name = sys.argv[1], sys.argv[2], "blobs/sha256/" + sys.argv[3].split(":")[1]
with tarfile.open(src) as tin, tarfile.open(dst, "w") as tout:
    hit = False
    for m in tin.getmembers():
        data = tin.extractfile(m).read() if m.isfile() else None
        if m.name.lstrip("./") == name:
            b = bytearray(data); b[len(b) // 2] ^= 1; data = bytes(b); hit = True
        tout.addfile(m, io.BytesIO(data) if data is not None else None)
    if not hit: sys.exit("no such blob " + name)
"#;
    let out = Command::new("python3")
        .args(["-c", script])
        .arg(from)
        .arg(to)
        .arg(digest)
        .output()
        .unwrap();
    stdout_ok(&out, "tampering with the archive");
}

fn manifest_in_archive(archive: &Path, digest: &str) -> Value {
    let out = Command::new("tar")
        .arg("-xOf")
        .arg(archive)
        .arg(format!(
            "blobs/sha256/{}",
            digest.trim_start_matches("sha256:")
        ))
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn air_gap_with_a_gate_and_every_tool_agreeing_on_the_far_side() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (key, public) = keygen(dir, "release");
    let module = dir.join("hello");
    copy_tree(&example("hello"), &module);

    // 1. The connected side: built and pushed, signed and attested (SBOMs and
    //    provenance) as bundles at push time; a legacy signature added too,
    //    and a Notary signature under the plant's X.509 PKI.
    let connected = TestRegistry::plain();
    let src = format!("{}/team/hello:v1", connected.host());
    let pushed = ok_json(&[
        "push",
        s(&module),
        &src,
        "--platform",
        "linux/amd64,linux/arm64",
        "--libc",
        "none",
        "--sign-key",
        &key,
        "--sbom",
        "--json",
    ]);
    let index = pushed["digest"].as_str().unwrap().to_string();
    ok(&["sign", &src, "--key", &key, "--format", "legacy"]);
    let ca = Ca::new("Acme CA", KeyKind::P256);
    let (nkey, chain) = files(
        dir,
        "notary",
        &ca.issue(&Leaf::new("Acme", "release signer")),
    );
    let notary = ok_json(&[
        "sign",
        "--notation",
        "--key",
        s(&nkey),
        "--cert",
        s(&chain),
        &src,
        "--json",
    ]);
    assert_eq!(notary["digest"], index.as_str(), "{notary}");
    let notary_signature = notary["signature"].as_str().unwrap().to_string();
    // 2. To the USB drive, and through the gate into the isolated registry.
    let usb = dir.join("usb.tar");
    ok(&["copy", &src, &format!("oci-archive:{}", usb.display())]);
    let isolated = ReferrersRegistry::start();
    let dst = format!("{}/plant/hello:v1", isolated.host());
    let pinned = format!("{}/plant/hello@{index}", isolated.host());
    // The plant's notation configuration: its root, for its own repository.
    let scope = format!("{}/plant/hello", isolated.host());
    let trust = Trust::new(&dir.join("plant"), &[&ca], &scope, "strict", ACME);
    // The gate checks both kinds of signature at once.
    let gate = |archive: &Path| {
        let mut args = vec![
            "copy".to_string(),
            format!("oci-archive:{}", archive.display()),
            dst.clone(),
            "--verify-key".to_string(),
            public.clone(),
        ];
        args.extend(trust.flags().into_iter().map(String::from));
        args
    };

    // Tampered copies of the archive are refused at the gate, naming the
    // failure, and nothing reaches the isolated side.
    let layer = {
        let platform = manifest_in_archive(&usb, &index)["manifests"][0]["digest"]
            .as_str()
            .unwrap()
            .to_string();
        let m = manifest_in_archive(&usb, &platform);
        m["layers"][0]["digest"].as_str().unwrap().to_string()
    };
    let report = ok_json(&[
        "verify",
        &format!("oci-archive:{}", usb.display()),
        "--key",
        &public,
        "--json",
    ]);
    let bundle_manifest = manifest_in_archive(&usb, bundle_referrers(&report)[0].as_str());
    let bundle_blob = bundle_manifest["layers"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    let sig_manifest = {
        let idx: Value = serde_json::from_slice(
            &Command::new("tar")
                .arg("-xOf")
                .arg(&usb)
                .arg("index.json")
                .output()
                .unwrap()
                .stdout,
        )
        .unwrap();
        let tag = format!("{}.sig", index.replace(':', "-"));
        let d = idx["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == tag.as_str())
            .unwrap()["digest"]
            .as_str()
            .unwrap()
            .to_string();
        manifest_in_archive(&usb, &d)
    };
    let sig_payload = sig_manifest["layers"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    let envelope = manifest_in_archive(&usb, &notary_signature)["layers"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    for (what, blob, expect) in [
        ("a layer", &layer, vec![layer.as_str()]),
        ("the bundle", &bundle_blob, vec!["bundle"]),
        ("the legacy signature", &sig_payload, vec![".sig"]),
        (
            "the Notary envelope",
            &envelope,
            vec!["no Notary signature", &notary_signature, &envelope],
        ),
    ] {
        let bad = dir.join("bad.tar");
        tamper_archive(&usb, &bad, blob);
        let args = gate(&bad);
        let err = refused(&args.iter().map(String::as_str).collect::<Vec<_>>());
        assert!(
            expect.iter().all(|e| err.contains(e)) && err.contains("corrupt"),
            "{what}: {err}"
        );
        let tags = Command::new("curl")
            .args(["-s", "-o", "/dev/null", "-w", "%{http_code}"])
            .arg(format!(
                "http://{}/v2/plant/hello/manifests/{index}",
                isolated.host()
            ))
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&tags.stdout),
            "404",
            "{what}: something was written"
        );
        let blobs = Command::new("curl")
            .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-I"])
            .arg(format!(
                "http://{}/v2/plant/hello/blobs/{layer}",
                isolated.host()
            ))
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&blobs.stdout),
            "404",
            "{what}: a blob was written"
        );
    }

    // The intact archive passes the gate, on both kinds of signature.
    let args = gate(&usb);
    let out = run(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(exit_code(&out), 0, "the intact archive is refused: {err}");
    assert!(
        err.contains("verified with") && err.contains("Notary signature by"),
        "both gates report: {err}"
    );

    // 3. On the isolated side every verifier agrees.
    cosign_verify("verify", &public, &pinned, &[]);
    cosign_verify(
        "verify-attestation",
        &public,
        &pinned,
        &["--type", "spdxjson"],
    );
    let v = ok_json(&["verify", &dst, "--key", &public, "--attestations", "--json"]);
    assert_eq!(v["formats"], serde_json::json!(["bundle", "legacy"]), "{v}");
    stdout_ok(
        &trust.notation(&["verify", "--insecure-registry", &pinned]),
        "notation verify on the isolated side",
    );
    let v = ok_json(&[&trust.args(&dst)[..], &["--json"]].concat());
    assert_eq!(
        v["signer"], "CN=release signer,O=Acme,L=Seattle,ST=WA,C=US",
        "{v}"
    );
    assert_eq!(v["level"], "strict", "{v}");
}
