//! Issue #13's admission webhook end to end: `slipway admission serve` over
//! TLS, asked by a Go stand-in for the API server built from the real
//! `k8s.io/api/admission/v1` types (crates/slipway-admission/testdata/apiserver),
//! about images built by slipway, pushed to Debian's registry on loopback and
//! signed (or not, or with another key, or tampered with) by slipway.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use slipway_testkit::registry::TestRegistry;
use slipway_testkit::{copy_tree, example, repo_root, require, stdout_ok};

mod common;
use common::notary::{ACME, Trust, files};
use common::*;
use slipway_notary::testca::{Ca, KeyKind, Leaf};

const PASSWORD: &str = "admission-test";

fn run(args: &[&str]) -> Output {
    signing_slipway(PASSWORD).args(args).output().unwrap()
}

fn ok(args: &[&str]) -> String {
    stdout_ok(&run(args), &format!("slipway {args:?}"))
}

fn ok_json(args: &[&str]) -> Value {
    stdout_json(&run(args), &format!("slipway {args:?}"))
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A key pair under `dir`: (private, public).
fn keygen(dir: &Path, name: &str) -> (String, String) {
    let v = ok_json(&["keygen", "--prefix", s(&dir.join(name)), "--json"]);
    (
        v["private_key"].as_str().unwrap().to_string(),
        v["public_key"].as_str().unwrap().to_string(),
    )
}

/// The Go stand-in for the API server, built once per target directory
/// (Go's own build cache makes a rebuild cheap).
fn apiserver() -> PathBuf {
    let go = require("go", "golang-go");
    let src = repo_root().join("crates/slipway-admission/testdata/apiserver");
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("admission-apiserver");
    let built = Command::new(go)
        .args(["build", "-o"])
        .arg(&out)
        .arg(".")
        .current_dir(&src)
        .output()
        .unwrap();
    stdout_ok(&built, "go build of the API server stand-in");
    out
}

/// A self-signed certificate for 127.0.0.1: (cert.pem, key.pem).
fn tls_files(dir: &Path) -> (PathBuf, PathBuf) {
    let rcgen::CertifiedKey { cert, signing_key } =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string(), "localhost".to_string()])
            .unwrap();
    let (c, k) = (dir.join("tls.crt"), dir.join("tls.key"));
    std::fs::write(&c, cert.pem()).unwrap();
    std::fs::write(&k, signing_key.serialize_pem()).unwrap();
    (c, k)
}

/// `slipway admission serve` on a free port; killed on drop.
struct Webhook {
    child: Child,
    addr: String,
    ca: PathBuf,
    client: PathBuf,
}

impl Webhook {
    fn start(policy: &Path, dir: &Path, client: PathBuf) -> Webhook {
        Webhook::start_with(policy, dir, client, &[])
    }

    fn start_with(policy: &Path, dir: &Path, client: PathBuf, extra: &[&str]) -> Webhook {
        let (cert, key) = tls_files(dir);
        let mut child = slipway()
            .args(["admission", "serve", "--policy"])
            .arg(policy)
            .arg("--tls-cert")
            .arg(&cert)
            .arg("--tls-key")
            .arg(&key)
            .args(["--listen", "127.0.0.1:0"])
            .args(extra)
            .env("DOCKER_CONFIG", "/nonexistent-slipway-test")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let v: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("admission serve printed {line:?}, not JSON: {e}"));
        Webhook {
            child,
            addr: v["listening"].as_str().unwrap().to_string(),
            ca: cert,
            client,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("https://{}{path}", self.addr)
    }

    fn client(&self, args: &[&str]) -> Value {
        let out = Command::new(&self.client).args(args).output().unwrap();
        let text = stdout_ok(&out, &format!("apiserver {args:?}"));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("apiserver printed {text:?}: {e}"))
    }

    /// Post an AdmissionReview for a `kind` in `namespace` with `images`.
    fn review(&self, path: &str, kind: &str, namespace: &str, images: &[&str]) -> Value {
        let url = self.url(path);
        let mut args = vec![
            "review",
            "-url",
            &url,
            "-ca",
            s(&self.ca),
            "-kind",
            kind,
            "-namespace",
            namespace,
        ];
        for i in images {
            args.extend(["-image", i]);
        }
        let v = self.client(&args);
        assert_eq!(v["http_status"], 200, "{v}");
        assert_eq!(v["uid_matches"], true, "{v}");
        v
    }

    fn get(&self, path: &str) -> Value {
        let url = self.url(path);
        self.client(&["raw", "-method", "GET", "-url", &url, "-ca", s(&self.ca)])
    }

    fn healthy(&self) {
        let v = self.get("/healthz");
        assert_eq!(
            (v["http_status"].as_i64(), v["body"].as_str()),
            (Some(200), Some("ok\n")),
            "{v}"
        );
    }

    fn metric(&self, line_start: &str) -> f64 {
        let v = self.get("/metrics");
        let text = v["body"].as_str().unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix(line_start))
            .and_then(|rest| rest.trim().parse().ok())
            .unwrap_or_else(|| panic!("no metric {line_start} in:\n{text}"))
    }
}

impl Drop for Webhook {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn denied(v: &Value) -> &str {
    assert_eq!(v["allowed"], false, "{v}");
    assert_eq!(v["code"], 403, "{v}");
    v["message"].as_str().unwrap()
}

/// Build the hello example for `platforms` into `out`; returns the index digest.
fn build(dir: &Path, platforms: &str, out: &str) -> (PathBuf, String) {
    let module = dir.join(format!("hello-{out}"));
    copy_tree(&example("hello"), &module);
    let layout = dir.join(out);
    let v = image(&module, &["--platform", platforms], &layout);
    (layout, v["index_digest"].as_str().unwrap().to_string())
}

fn push(layout: &Path, reference: &str) {
    ok(&["copy", &format!("oci:{}", layout.display()), reference]);
}

/// Flip one character of the signature in a legacy `.sig` manifest, in place.
fn tamper_legacy_signature(registry: &TestRegistry, repo: &str, digest: &str) {
    let curl = require("curl", "curl");
    let tag = format!("{}.sig", digest.replace(':', "-"));
    let url = format!("{}/v2/{repo}/manifests/{tag}", registry.url());
    let accept = "Accept: application/vnd.oci.image.manifest.v1+json";
    let got = Command::new(&curl)
        .args(["-sf", "-H", accept, &url])
        .output()
        .unwrap();
    let mut m: Value = serde_json::from_str(&stdout_ok(&got, "curl GET .sig")).unwrap();
    let sig = m["layers"][0]["annotations"]["dev.cosignproject.cosign/signature"]
        .as_str()
        .unwrap_or_else(|| panic!("no signature annotation in {m}"))
        .to_string();
    let mut bytes = sig.into_bytes();
    let i = bytes.len() / 2;
    bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
    m["layers"][0]["annotations"]["dev.cosignproject.cosign/signature"] =
        json!(String::from_utf8(bytes).unwrap());
    let media = m["mediaType"].as_str().unwrap().to_string();
    let put = Command::new(&curl)
        .args(["-sf", "-X", "PUT", "-H"])
        .arg(format!("Content-Type: {media}"))
        .arg("--data-binary")
        .arg(serde_json::to_string(&m).unwrap())
        .arg(&url)
        .output()
        .unwrap();
    stdout_ok(&put, "curl PUT tampered .sig");
}

#[test]
fn webhook_verifies_pins_and_fails_closed_or_open() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let client = apiserver();
    let (key, _public) = keygen(dir, "team");
    let (other_key, _) = keygen(dir, "other");

    // Two distinct images: A (two platforms) and B (one).
    let (a_layout, a) = build(dir, "linux/amd64,linux/arm64", "a");
    let (b_layout, b) = build(dir, "linux/arm64", "b");
    assert_ne!(a, b);

    let reg = TestRegistry::plain();
    let host = reg.host();
    let r = |name: &str| format!("{host}/{name}");
    push(&a_layout, &r("team/signed:v1"));
    ok(&["sign", &r("team/signed:v1"), "--key", &key]);
    push(&a_layout, &r("team/unsigned:v1"));
    push(&a_layout, &r("team/wrongkey:v1"));
    ok(&["sign", &r("team/wrongkey:v1"), "--key", &other_key]);
    push(&a_layout, &r("team/tampered:v1"));
    ok(&[
        "sign",
        &r("team/tampered:v1"),
        "--key",
        &key,
        "--format",
        "legacy",
    ]);
    tamper_legacy_signature(&reg, "team/tampered", &a);
    push(&a_layout, &r("attested/app:v1"));
    ok(&["sign", &r("attested/app:v1"), "--key", &key]);
    ok(&["attest", &r("attested/app:v1"), "--key", &key]);
    push(&a_layout, &r("attested/bare:v1"));
    ok(&["sign", &r("attested/bare:v1"), "--key", &key]);
    push(&a_layout, &r("team/moving:v1"));
    ok(&["sign", &r("team/moving:v1"), "--key", &key]);

    // Notary Project signatures, under a test CA's trust policy.
    let ca = Ca::new("Acme CA", KeyKind::P256);
    let (nkey, chain) = files(
        dir,
        "notary",
        &ca.issue(&Leaf::new("Acme", "release signer")),
    );
    let trust = Trust::new(&dir.join("notation"), &[&ca], "*", "strict", ACME);
    push(&a_layout, &r("vendor/signed:v1"));
    ok(&[
        "sign",
        "--notation",
        "--key",
        s(&nkey),
        "--cert",
        s(&chain),
        &r("vendor/signed:v1"),
    ]);
    push(&a_layout, &r("vendor/unsigned:v1"));
    ok(&["sign", &r("vendor/unsigned:v1"), "--key", &key]);

    // A second registry that goes down.
    let down = TestRegistry::plain();
    let down_host = down.host();
    push(&a_layout, &format!("{down_host}/team/app:v1"));
    ok(&["sign", &format!("{down_host}/team/app:v1"), "--key", &key]);

    let spdx = "https://spdx.dev/Document";
    let policy = dir.join("policy.toml");
    std::fs::write(
        &policy,
        format!(
            r#"
[cache]
tagTtlSeconds = 2
verifiedTtlSeconds = 300
deniedTtlSeconds = 1

[[rules]]
name = "system"
namespaces = ["kube-system"]
images = ["**"]
action = "allow"

[[rules]]
name = "sboms-required"
namespaces = ["prod"]
images = ["{host}/attested/*"]
cosignKeys = ["team.pub"]
attestations = ["{spdx}"]

[[rules]]
name = "vendor-notary"
namespaces = ["prod"]
images = ["{host}/vendor/*"]
notary = {{ trustPolicy = "{policy}", trustStore = "{store}" }}

[[rules]]
name = "flaky-registry"
namespaces = ["edge"]
images = ["{down_host}/**"]
cosignKeys = ["team.pub"]
failOpen = true

[[rules]]
name = "team"
namespaces = ["prod", "edge"]
images = ["{host}/team/*", "{down_host}/team/*"]
cosignKeys = ["team.pub"]
"#,
            policy = trust.policy.display(),
            store = trust.store.display(),
        ),
    )
    .unwrap();
    let hook = Webhook::start(&policy, dir, client);
    hook.healthy();

    // Signed: allowed; /mutate pins the tag to the digest it verified, and
    // the API server's own JSONPatch code applies the patch.
    let signed = r("team/signed:v1");
    for kind in [
        "Pod",
        "Deployment",
        "StatefulSet",
        "DaemonSet",
        "Job",
        "CronJob",
    ] {
        let v = hook.review("/validate", kind, "prod", &[&signed]);
        assert_eq!(v["allowed"], true, "{kind}: {v}");
        assert!(v.get("patch").is_none(), "{v}");
        let v = hook.review("/mutate", kind, "prod", &[&signed]);
        assert_eq!(v["allowed"], true, "{kind}: {v}");
        assert_eq!(v["patch_type"], "JSONPatch", "{v}");
        assert_eq!(
            v["patched_images"]["c0"],
            format!("{signed}@{a}"),
            "{kind}: {v}"
        );
    }
    // Verified once, then from the cache.
    assert!(
        hook.metric(
            "slipway_admission_cache_requests_total{cache=\"verification\",result=\"hit\"}"
        ) >= 10.0
    );

    // Unsigned, wrong key, tampered: denied, naming the image and the rule.
    for (name, why) in [
        ("team/unsigned:v1", "no signature"),
        ("team/wrongkey:v1", "signed by a different key"),
        ("team/tampered:v1", "corrupted signature"),
    ] {
        let image = r(name);
        for path in ["/validate", "/mutate"] {
            let v = hook.review(path, "Deployment", "prod", &[&signed, &image]);
            let msg = denied(&v);
            assert!(msg.contains(&image), "{msg}");
            assert!(msg.contains("rule \"team\""), "{msg}");
            assert!(msg.contains(why), "{name}: {msg}");
            assert!(
                !msg.contains(&format!("\"{signed}\"")),
                "only the failing image is named: {msg}"
            );
            assert!(v.get("patch").is_none(), "{v}");
        }
    }

    // Attestations: the SBOM is required by the rule.
    let v = hook.review("/mutate", "Pod", "prod", &[&r("attested/app:v1")]);
    assert_eq!(v["allowed"], true, "{v}");
    let msg =
        denied(&hook.review("/validate", "Pod", "prod", &[&r("attested/bare:v1")])).to_string();
    assert!(
        msg.contains("sboms-required") && msg.contains(spdx),
        "{msg}"
    );

    // Notary: a signature that passes the trust policy is required; a cosign
    // signature does not stand in for it.
    let v = hook.review("/mutate", "StatefulSet", "prod", &[&r("vendor/signed:v1")]);
    assert_eq!(v["allowed"], true, "{v}");
    assert_eq!(
        v["patched_images"]["c0"],
        format!("{}@{a}", r("vendor/signed:v1")),
        "{v}"
    );
    let msg =
        denied(&hook.review("/validate", "Pod", "prod", &[&r("vendor/unsigned:v1")])).to_string();
    assert!(
        msg.contains("vendor-notary") && msg.contains("Notary signature"),
        "{msg}"
    );

    // No rule matches: denied; kube-system: allowed without a look.
    let msg = denied(&hook.review("/validate", "Pod", "dev", &[&signed])).to_string();
    assert!(msg.contains("no rule"), "{msg}");
    let v = hook.review("/mutate", "Pod", "kube-system", &[&r("team/unsigned:v1")]);
    assert_eq!(v["allowed"], true, "{v}");
    assert!(v.get("patch").is_none(), "{v}");

    // A tag moved after verification to an unsigned image: while the tag
    // cache holds, /mutate pins the digest that was verified (never B);
    // once it expires, B is looked up and denied by its digest.
    let moving = r("team/moving:v1");
    let v = hook.review("/mutate", "Pod", "prod", &[&moving]);
    assert_eq!(v["patched_images"]["c0"], format!("{moving}@{a}"), "{v}");
    push(&b_layout, &moving);
    let v = hook.review("/mutate", "Pod", "prod", &[&moving]);
    if v["allowed"] == true {
        assert_eq!(v["patched_images"]["c0"], format!("{moving}@{a}"), "{v}");
    } else {
        assert!(denied(&v).contains(&b), "{v}");
    }
    std::thread::sleep(Duration::from_millis(2500));
    let msg = denied(&hook.review("/mutate", "Pod", "prod", &[&moving])).to_string();
    assert!(msg.contains(&b) && msg.contains(&moving), "{msg}");

    // The registry goes down: fail closed by default, open where the rule says.
    drop(down);
    let gone = format!("{down_host}/team/app:v1");
    let msg = denied(&hook.review("/validate", "Deployment", "prod", &[&gone])).to_string();
    assert!(msg.contains(&gone) && msg.contains("fails closed"), "{msg}");
    let v = hook.review("/mutate", "Deployment", "edge", &[&gone]);
    assert_eq!(v["allowed"], true, "{v}");
    assert!(
        v.get("patch").is_none(),
        "nothing verified, nothing pinned: {v}"
    );
    let warning = v["warnings"][0].as_str().unwrap_or_default();
    assert!(
        warning.contains("WITHOUT verification") && warning.contains("flaky-registry"),
        "{v}"
    );
    assert!(
        hook.metric("slipway_admission_decisions_total{endpoint=\"mutate\",result=\"fail_open\"}")
            >= 1.0
    );
    hook.healthy();
}

#[test]
fn malformed_and_oversized_requests_get_a_clear_400_and_the_server_lives_on() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let policy = dir.join("policy.toml");
    std::fs::write(&policy, "maxRequestBytes = 100000\nunmatched = \"allow\"\n").unwrap();
    let hook = Webhook::start(&policy, dir, apiserver());
    let url = hook.url("/validate");
    let raw = |extra: &[&str]| {
        let mut args = vec!["raw", "-url", &url, "-ca", s(&hook.ca)];
        args.extend(extra);
        hook.client(&args)
    };
    let cases: [(&str, &[u8], &str); 4] = [
        ("truncated", b"{\"apiVersion\": \"admission.k8s.io/v1\", ", "not JSON"),
        ("not-json", b"\x00\xffhello", "not JSON"),
        (
            "v1beta1",
            br#"{"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview","request":{"uid":"x"}}"#,
            "admissionReviewVersions",
        ),
        ("no-request", br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}"#, "no `request`"),
    ];
    for (name, body, says) in cases {
        let file = dir.join(name);
        std::fs::write(&file, body).unwrap();
        let v = raw(&["-file", s(&file)]);
        assert_eq!(v["http_status"], 400, "{name}: {v}");
        assert!(v["body"].as_str().unwrap().contains(says), "{name}: {v}");
        hook.healthy();
    }
    let v = raw(&["-size", "200000"]);
    assert_eq!(v["http_status"], 413, "{v}");
    assert!(
        v["body"].as_str().unwrap().contains("at most 100000"),
        "{v}"
    );
    hook.healthy();
    let v = hook.get("/nope");
    assert_eq!(v["http_status"], 404, "{v}");
    // Still answering reviews after all that.
    let v = hook.review("/validate", "Pod", "default", &["registry.example.com/x:1"]);
    assert_eq!(v["allowed"], true, "{v}");
    assert_eq!(
        hook.metric("slipway_admission_refused_requests_total{reason=\"malformed\"}"),
        4.0
    );
    assert_eq!(
        hook.metric("slipway_admission_refused_requests_total{reason=\"too_large\"}"),
        1.0
    );
}

/// Requests in `log` (docker-registry's access log) whose request line
/// starts with `start`, e.g. `GET /v2/team/app/referrers/`.
fn requests(log: &str, start: &str) -> usize {
    log.lines()
        .filter(|l| l.contains(&format!("\"{start}")))
        .count()
}

#[test]
fn concurrent_reviews_of_one_uncached_image_verify_it_once() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let client = apiserver();
    let (key, public) = keygen(dir, "team");
    let (layout, digest) = build(dir, "linux/amd64", "one");
    let reg = TestRegistry::plain();
    let image = format!("{}/team/app:v1", reg.host());
    push(&layout, &image);
    ok(&["sign", &image, "--key", &key]);
    let policy = dir.join("policy.toml");
    std::fs::write(
        &policy,
        format!(
            "[[rules]]\nname = \"team\"\nimages = [\"{}/team/*\"]\ncosignKeys = [\"{public}\"]\n",
            reg.host()
        ),
    )
    .unwrap();
    let hook = Webhook::start(&policy, dir, client);
    let before = reg.log();
    // 32 reviews of the one image, sent at once over 32 open connections
    // (100,000 a second for 320 µs), while nothing about it is cached.
    let url = hook.url("/validate");
    let v = hook.client(&[
        "load",
        "-url",
        &url,
        "-ca",
        s(&hook.ca),
        "-rate",
        "100000",
        "-duration",
        "320us",
        "-conns",
        "32",
        "-image",
        &image,
    ]);
    assert_eq!(
        (v["sent"].as_i64(), v["allowed"].as_i64()),
        (Some(32), Some(32)),
        "{v}"
    );
    let log = reg.log();
    let during = &log[before.len().min(log.len())..];
    // One tag lookup and one verification (whose first request lists the
    // digest's referrers), however many reviews wanted them.
    assert_eq!(
        requests(during, &format!("GET /v2/team/app/referrers/{digest}")),
        1,
        "{during}"
    );
    assert_eq!(
        requests(during, "GET /v2/team/app/manifests/v1")
            + requests(during, "HEAD /v2/team/app/manifests/v1"),
        1,
        "{during}"
    );
    let metric = |cache: &str, result: &str| {
        hook.metric(&format!(
            "slipway_admission_cache_requests_total{{cache=\"{cache}\",result=\"{result}\"}}"
        ))
    };
    assert_eq!(metric("verification", "miss"), 1.0);
    // The reviews did overlap: some waited for the one verification.
    assert!(metric("verification", "shared") >= 1.0);
    assert_eq!(
        metric("verification", "hit") + metric("verification", "shared"),
        31.0
    );
}

/// Ask `check` every 200 ms until it holds, for at most 20 s.
fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !check() {
        assert!(
            std::time::Instant::now() < deadline,
            "never happened: {what}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn a_renewed_certificate_and_a_changed_policy_are_used_without_a_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let policy = dir.join("policy.toml");
    std::fs::write(&policy, "unmatched = \"deny\"\n").unwrap();
    let hook = Webhook::start_with(&policy, dir, apiserver(), &["--reload-seconds", "1"]);
    let image = ["registry.example.com/x:1"];
    let v = hook.review("/validate", "Pod", "default", &image);
    assert_eq!(v["allowed"], false, "{v}");
    let reloads = |file: &str, result: &str| {
        hook.metric(&format!(
            "slipway_admission_reloads_total{{file=\"{file}\",result=\"{result}\"}}"
        ))
    };

    // The policy changes on disk (a ConfigMap update): the next reviews use it.
    std::fs::write(&policy, "unmatched = \"allow\"\n").unwrap();
    eventually("the changed policy is used", || {
        hook.review("/validate", "Pod", "default", &image)["allowed"] == true
    });
    assert_eq!(reloads("policy", "ok"), 1.0);
    // A broken one is refused and the last good one stays.
    std::fs::write(&policy, "unmatched = [\n").unwrap();
    eventually("the broken policy is noticed", || {
        reloads("policy", "failed") == 1.0
    });
    let v = hook.review("/validate", "Pod", "default", &image);
    assert_eq!(v["allowed"], true, "{v}");

    // cert-manager renews the certificate: new connections get the new one.
    let old = dir.join("old.crt");
    std::fs::copy(&hook.ca, &old).unwrap();
    let renewed = tempfile::tempdir().unwrap();
    let (cert, key) = tls_files(renewed.path());
    std::fs::copy(&key, dir.join("tls.key")).unwrap();
    std::fs::copy(&cert, dir.join("tls.crt")).unwrap();
    let healthz = |ca: &Path| {
        Command::new(&hook.client)
            .args([
                "raw",
                "-method",
                "GET",
                "-url",
                &hook.url("/healthz"),
                "-ca",
                s(ca),
            ])
            .output()
            .unwrap()
            .status
            .success()
    };
    eventually("the renewed certificate is served", || healthz(&cert));
    assert!(!healthz(&old), "the old certificate is still served");
    assert!(reloads("tls", "ok") >= 1.0);
    let v = hook.review("/validate", "Pod", "default", &image);
    assert_eq!(v["allowed"], true, "{v}");
}
