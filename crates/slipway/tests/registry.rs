//! `slipway push` and `slipway copy` against Debian's real `docker-registry`:
//! plain HTTP, TLS with basic auth, bearer tokens from a token server, and a
//! proxy that injects faults. What is pushed is read back with skopeo and run
//! under runc.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use base64::Engine as _;
use slipway_testkit::registry::{
    FaultProxy, Faults, RequestKind, TestRegistry, TokenConfig, write_test_layout,
};
use slipway_testkit::{copy_tree, example, stdout_ok};

mod common;
use common::*;

const PLATFORMS: &str = "linux/amd64,linux/arm64,linux/arm/v7";

/// A copy of the example module outside git, so builds are stable (epoch 0).
fn module(tmp: &Path) -> std::path::PathBuf {
    let m = tmp.join("hello");
    copy_tree(&example("hello"), &m);
    m
}

/// Run slipway with `stdin` piped in; returns the whole output.
fn run(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = slipway()
        .args(args)
        .env("DOCKER_CONFIG", "/nonexistent-slipway-test")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(s) = stdin {
        input.write_all(s.as_bytes()).unwrap();
    }
    drop(input);
    child.wait_with_output().unwrap()
}

fn push(module: &Path, reference: &str, extra: &[&str], stdin: Option<&str>) -> Output {
    let m = module.to_str().unwrap();
    let mut args = vec![
        "push",
        m,
        reference,
        "--platform",
        PLATFORMS,
        "--libc",
        "none",
        "--json",
    ];
    args.extend(extra);
    run(&args, stdin)
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn push_pull_run_repush_and_copy_through_an_archive() {
    let tmp = tempfile::tempdir().unwrap();
    let m = module(tmp.path());
    let reg = TestRegistry::plain();
    let reference = reg.reference("team/hello:v1");

    let first = stdout_json(&push(&m, &reference, &[], None), "first push");
    let digest = first["digest"].as_str().unwrap().to_string();
    assert!(first["uploaded_blobs"].as_u64().unwrap() >= 7, "{first}");
    assert!(
        first["uploaded_bytes"].as_u64().unwrap() > 1_000_000,
        "{first}"
    );
    assert_eq!(
        reg.tag_digest("team/hello", "v1").as_deref(),
        Some(digest.as_str()),
        "the tag in the registry's storage"
    );

    // skopeo pulls every platform back; the arm64 one runs under runc via binfmt.
    let pulled = tmp.path().join("pulled");
    let mut args: Vec<String> = vec!["copy".into(), "-q".into(), "--all".into()];
    args.extend(reg.skopeo_src_args());
    args.push(format!("docker://{reference}"));
    args.push(format!("oci:{}:latest", pulled.display()));
    skopeo(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let index = inspect_raw(&format!("oci:{}:latest", pulled.display()));
    assert_eq!(index["manifests"].as_array().unwrap().len(), 3, "{index}");
    ensure_binfmt("aarch64");
    let bundle = bundle(&pulled, "arm64", None, tmp.path());
    let said = runc_once(&bundle);
    assert!(said.contains("hello from linux/arm64"), "{said}");

    // The same image again: nothing is sent, one HEAD per blob and manifest.
    let again = stdout_json(&push(&m, &reference, &[], None), "re-push");
    assert_eq!(again["digest"], first["digest"]);
    assert_eq!(again["uploaded_bytes"], 0, "{again}");
    assert_eq!(again["bytes_sent"], 0, "{again}");
    let blobs = first["uploaded_blobs"].as_u64().unwrap();
    let manifests = first["manifests"].as_u64().unwrap();
    assert_eq!(again["reused_blobs"].as_u64(), Some(blobs), "{again}");
    assert!(
        again["requests"]["HEAD"].as_u64().unwrap() <= blobs + manifests,
        "{again}"
    );
    for method in ["POST", "PUT", "PATCH"] {
        assert_eq!(again["requests"][method], 0, "{method}: {again}");
    }

    // Registry -> archive -> another repository: the index digest survives.
    let archive = tmp.path().join("hello.tar");
    let to_archive = run(
        &[
            "copy",
            &reference,
            &format!("oci-archive:{}", archive.display()),
            "--json",
        ],
        None,
    );
    assert_eq!(
        stdout_json(&to_archive, "copy to archive")["digest"],
        first["digest"]
    );
    let other = reg.reference("plant/hello:v1");
    let from_archive = stdout_json(
        &run(
            &[
                "copy",
                &format!("oci-archive:{}", archive.display()),
                &other,
                "--json",
            ],
            None,
        ),
        "copy from archive",
    );
    assert_eq!(from_archive["digest"], first["digest"]);
    assert_eq!(
        reg.tag_digest("plant/hello", "v1").as_deref(),
        Some(digest.as_str())
    );
    let raw = skopeo(&[
        "inspect",
        "--raw",
        "--tls-verify=false",
        &format!("docker://{other}"),
    ]);
    assert_eq!(
        format!("sha256:{}", sha256_hex(raw.as_bytes())),
        digest,
        "skopeo reads the same index bytes"
    );

    // Copying between repositories of one registry mounts instead of sending.
    let mounted = stdout_json(
        &run(
            &[
                "copy",
                &reference,
                &reg.reference("mirror/hello:v1"),
                "--json",
            ],
            None,
        ),
        "copy within the registry",
    );
    assert_eq!(mounted["uploaded_bytes"], 0, "{mounted}");
    assert_eq!(mounted["mounted_blobs"].as_u64(), Some(blobs), "{mounted}");
}

#[test]
fn tls_and_basic_auth_credentials_from_flags_config_and_helpers() {
    let tmp = tempfile::tempdir().unwrap();
    let reg = TestRegistry::tls_basic();
    let creds = reg.credentials().unwrap().clone();
    let ca = reg.ca_file().unwrap().to_str().unwrap().to_string();
    let image = write_test_layout(
        &tmp.path().join("layout"),
        "v1",
        &["linux/amd64", "linux/arm64"],
        40_000,
        1,
    );
    let src = format!("oci:{}:v1", image.dir.display());
    let dst = reg.reference("team/app:v1");

    // Without our CA the registry's certificate is refused, and we say how to fix it.
    let out = run(&["copy", &src, &dst], None);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("--ca-file"), "{}", text(&out));

    // Without credentials: exit 2, saying where credentials come from.
    let out = run(&["copy", &src, &dst, "--ca-file", &ca], None);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("no credentials were found"),
        "{}",
        text(&out)
    );

    // A wrong password: exit 2, and the password is not echoed.
    let wrong = "wrong-Pw-91xq";
    let out = run(
        &[
            "copy",
            &src,
            &dst,
            "--ca-file",
            &ca,
            "--username",
            &creds.username,
            "--password-stdin",
        ],
        Some(wrong),
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("check the password"), "{}", text(&out));
    assert!(!text(&out).contains(wrong));

    // The right one, on stdin.
    let out = run(
        &[
            "copy",
            &src,
            &dst,
            "--ca-file",
            &ca,
            "--username",
            &creds.username,
            "--password-stdin",
            "--json",
        ],
        Some(&format!("{}\n", creds.password)),
    );
    let report = stdout_json(&out, "copy with --password-stdin");
    assert_eq!(report["digest"], image.index_digest);

    // --username belongs to the destination: reading from this registry into
    // another one does not hand it the password, so the read is refused.
    let elsewhere = TestRegistry::plain();
    let out = run(
        &[
            "copy",
            &dst,
            &elsewhere.reference("copy/app:v1"),
            "--ca-file",
            &ca,
            "--username",
            &creds.username,
            "--password-stdin",
        ],
        Some(&creds.password),
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("no credentials were found"),
        "{}",
        text(&out)
    );
    assert!(!text(&out).contains(&creds.password));

    // From docker's config.json: auths, then a credential helper.
    let docker = tmp.path().join("docker");
    std::fs::create_dir_all(&docker).unwrap();
    let auth = base64::engine::general_purpose::STANDARD.encode(creds.user_colon_password());
    std::fs::write(
        docker.join("config.json"),
        format!(r#"{{"auths":{{"{}":{{"auth":"{auth}"}}}}}}"#, reg.host()),
    )
    .unwrap();
    let with_config = |dst: &str, path: &str| {
        slipway()
            .args(["copy", &src, dst, "--ca-file", &ca, "--json"])
            .env("DOCKER_CONFIG", &docker)
            .env("PATH", path)
            .output()
            .unwrap()
    };
    let path = std::env::var("PATH").unwrap();
    let out = with_config(&reg.reference("team/from-auths:v1"), &path);
    assert_eq!(
        stdout_json(&out, "copy with auths")["digest"],
        image.index_digest
    );

    let bin = tmp.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let helper = bin.join("docker-credential-slipwaytest");
    std::fs::write(
        &helper,
        format!(
            "#!/bin/sh\nread host\n[ \"$host\" = \"{}\" ] || {{ echo 'credentials not found in native keychain'; exit 1; }}\n\
             printf '{{\"ServerURL\":\"%s\",\"Username\":\"{}\",\"Secret\":\"{}\"}}' \"$host\"\n",
            reg.host(),
            creds.username,
            creds.password
        ),
    )
    .unwrap();
    std::fs::set_permissions(&helper, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    std::fs::write(
        docker.join("config.json"),
        format!(r#"{{"credHelpers":{{"{}":"slipwaytest"}}}}"#, reg.host()),
    )
    .unwrap();
    let out = with_config(
        &reg.reference("team/from-helper:v1"),
        &format!("{}:{path}", bin.display()),
    );
    assert_eq!(
        stdout_json(&out, "copy with a credential helper")["digest"],
        image.index_digest
    );
    assert!(!text(&out).contains(&creds.password));
}

#[test]
fn bearer_tokens_scopes_refresh_and_mounts() {
    let tmp = tempfile::tempdir().unwrap();
    // Tokens the registry refuses about three seconds after issue, and which
    // the client is told to renew after one: a copy takes several.
    let reg = TestRegistry::token(TokenConfig {
        expires_in: 1,
        lifetime: Some(-57),
        ..TokenConfig::default()
    });
    let creds = reg.credentials().unwrap().clone();
    let image = write_test_layout(
        &tmp.path().join("layout"),
        "v1",
        &["linux/amd64", "linux/arm64", "linux/riscv64"],
        3 << 20,
        2,
    );
    let src = format!("oci:{}:v1", image.dir.display());
    let login = ["--username", creds.username.as_str(), "--password-stdin"];
    let copy = |args: &[&str]| {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(login);
        all.extend(["--json", "--chunk-mib", "1"]);
        run(&all, Some(&creds.password))
    };
    let out = copy(&["copy", &src, &reg.reference("team/app:v1")]);
    let report = stdout_json(&out, "copy with tokens");
    assert_eq!(report["digest"], image.index_digest);
    let requests = reg.token_requests();
    assert!(
        requests.iter().any(|r| r
            .scopes
            .iter()
            .any(|s| s == "repository:team/app:pull,push")),
        "{requests:?}"
    );
    assert!(requests.iter().all(|r| r.had_credentials), "{requests:?}");

    // Into another repository of the same registry: blobs are mounted, which
    // needs pull on the source as well.
    let out = copy(&[
        "copy",
        &reg.reference("team/app:v1"),
        &reg.reference("prod/app:v1"),
    ]);
    let report = stdout_json(&out, "copy with mounts");
    assert_eq!(
        report["mounted_blobs"].as_u64(),
        Some(image.blobs.len() as u64),
        "{report}"
    );
    let requests = reg.token_requests();
    assert!(
        requests.iter().any(
            |r| r.scopes.contains(&"repository:team/app:pull".to_string())
                && r.scopes
                    .contains(&"repository:prod/app:pull,push".to_string())
        ),
        "{requests:?}"
    );

    // Anonymous: refused by the token service, with a message that says why.
    let out = run(&["copy", &src, &reg.reference("team/anon:v1")], None);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("anonymous"), "{}", text(&out));
}

#[test]
fn pushes_survive_one_request_in_four_failing_and_fail_cleanly_when_all_do() {
    let tmp = tempfile::tempdir().unwrap();
    let reg = TestRegistry::plain();
    // Big enough layers for chunked uploads (1 MiB chunks) that must resume.
    let image = write_test_layout(
        &tmp.path().join("layout"),
        "v1",
        &["linux/amd64", "linux/arm64", "linux/arm/v7"],
        3 << 20,
        3,
    );
    let src = format!("oci:{}:v1", image.dir.display());
    let proxy = FaultProxy::in_front_of(&reg, Faults::one_in(4, 7).retry_after(0));
    let dst = format!("{}/team/app:v1", proxy.host());
    let out = run(&["copy", &src, &dst, "--chunk-mib", "1", "--json"], None);
    let report = stdout_json(&out, "copy through a proxy failing 1 request in 4");
    assert_eq!(report["digest"], image.index_digest);
    let c = proxy.counters();
    assert!(
        c.total_faults() >= 5,
        "the proxy really failed requests: {c:?}"
    );
    assert!(
        c.kind(RequestKind::UploadPatch) > 0,
        "chunked uploads happened: {c:?}"
    );
    assert!(
        c.faults.len() >= 3,
        "503s, dropped connections and cut bodies all happened: {c:?}"
    );
    // Straight from the registry, skopeo reads a complete image.
    let check = tmp.path().join("check");
    skopeo(&[
        "copy",
        "-q",
        "--all",
        "--src-tls-verify=false",
        &format!("docker://{}", reg.reference("team/app:v1")),
        &format!("oci:{}:latest", check.display()),
    ]);
    let index = inspect_raw(&format!("oci:{}:latest", check.display()));
    assert_eq!(index["manifests"].as_array().unwrap().len(), 3);

    // A new image while every request fails: a clear failure, the tag unmoved.
    let before = reg.tag_digest("team/app", "v1");
    let newer = write_test_layout(&tmp.path().join("newer"), "v1", &["linux/amd64"], 10_000, 4);
    proxy.set_faults(Faults::fail_all());
    let started = std::time::Instant::now();
    let out = run(
        &["copy", &format!("oci:{}:v1", newer.dir.display()), &dst],
        None,
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("attempts"), "{}", text(&out));
    assert!(
        started.elapsed().as_secs() < 90,
        "gave up within the budget"
    );
    assert_eq!(reg.tag_digest("team/app", "v1"), before);
}

#[test]
fn bad_content_is_refused_by_name() {
    let tmp = tempfile::tempdir().unwrap();
    let reg = TestRegistry::plain();
    let image = write_test_layout(
        &tmp.path().join("layout"),
        "v1",
        &["linux/amd64"],
        50_000,
        5,
    );
    let src = format!("oci:{}:v1", image.dir.display());
    let out = run(&["copy", &src, &reg.reference("team/app:v1")], None);
    stdout_ok(&out, "copy");

    // A blob whose bytes no longer match its digest.
    let (layer, _) = image.blobs.iter().max_by_key(|(_, size)| *size).unwrap();
    reg.corrupt_blob(layer);
    let dest = tmp.path().join("out");
    let out = run(
        &[
            "copy",
            &reg.reference("team/app:v1"),
            &format!("oci:{}", dest.display()),
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains(layer.as_str()), "{}", text(&out));
    assert!(text(&out).contains("refusing it"), "{}", text(&out));
    assert!(!dest.join("index.json").exists(), "nothing half-written");

    // A manifest of a media type slipway does not know.
    let odd = tmp.path().join("odd");
    copy_tree(&image.dir, &odd);
    let manifest = br#"{"schemaVersion":2,"mediaType":"application/vnd.example.thing.v1+json"}"#;
    let digest = format!("sha256:{}", sha256_hex(manifest));
    std::fs::write(odd.join("blobs/sha256").join(&digest[7..]), manifest).unwrap();
    std::fs::write(
        odd.join("index.json"),
        format!(
            r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"application/vnd.example.thing.v1+json","digest":"{digest}","size":{},"annotations":{{"org.opencontainers.image.ref.name":"v1"}}}}]}}"#,
            manifest.len()
        ),
    )
    .unwrap();
    let out = run(
        &[
            "copy",
            &format!("oci:{}:v1", odd.display()),
            &reg.reference("team/odd:v1"),
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("unknown manifest media type"),
        "{}",
        text(&out)
    );

    // A corrupted archive on the far side of an air gap.
    let archive = tmp.path().join("a.tar");
    stdout_ok(
        &run(
            &["copy", &src, &format!("oci-archive:{}", archive.display())],
            None,
        ),
        "copy to archive",
    );
    let mut bytes = std::fs::read(&archive).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0xff;
    std::fs::write(&archive, bytes).unwrap();
    let out = run(
        &[
            "copy",
            &format!("oci-archive:{}", archive.display()),
            &reg.reference("team/from-tar:v1"),
        ],
        None,
    );
    assert_ne!(out.status.code(), Some(0), "{}", text(&out));
    assert!(reg.tag_digest("team/from-tar", "v1").is_none());
}

#[test]
fn immutable_tags_and_tags_from_git() {
    let tmp = tempfile::tempdir().unwrap();
    let reg = TestRegistry::plain();
    let a = write_test_layout(&tmp.path().join("a"), "v1", &["linux/amd64"], 10_000, 6);
    let b = write_test_layout(&tmp.path().join("b"), "v1", &["linux/amd64"], 10_000, 7);
    let dst = reg.reference("team/app:stable");
    stdout_ok(
        &run(
            &["copy", &format!("oci:{}:v1", a.dir.display()), &dst],
            None,
        ),
        "first",
    );
    // The same image again is fine under --immutable; another is refused.
    stdout_ok(
        &run(
            &[
                "copy",
                &format!("oci:{}:v1", a.dir.display()),
                &dst,
                "--immutable",
            ],
            None,
        ),
        "same digest",
    );
    let out = run(
        &[
            "copy",
            &format!("oci:{}:v1", b.dir.display()),
            &dst,
            "--immutable",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("--immutable refuses"), "{}", text(&out));
    assert_eq!(
        reg.tag_digest("team/app", "stable").as_deref(),
        Some(a.index_digest.as_str())
    );

    // --tag auto: git describe of the module.
    let m = module(tmp.path());
    let git = |args: &[&str]| {
        let out = Command::new("git")
            .arg("-C")
            .arg(&m)
            .args(["-c", "user.name=t", "-c", "user.email=t@example.invalid"])
            .args(args)
            .output()
            .unwrap();
        stdout_ok(&out, &format!("git {args:?}"))
    };
    git(&["init", "-q"]);
    git(&["add", "."]);
    git(&["commit", "-qm", "init"]);
    git(&["tag", "v0.3.0"]);
    let out = push(&m, &reg.reference("team/hello"), &["--tag", "auto"], None);
    let report = stdout_json(&out, "push --tag auto");
    assert_eq!(report["tag"], "v0.3.0");
    assert_eq!(
        reg.tag_digest("team/hello", "v0.3.0").as_deref(),
        report["digest"].as_str()
    );
}
