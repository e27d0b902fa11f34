//! `slipway scan` and the secret gate of `slipway image`, end to end with
//! real Go builds and databases written in the vuln.go.dev layout.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value, json};
use slipway_testkit::{copy_tree, example, require, stdout_ok};

fn slipway() -> Command {
    Command::new(assert_cmd::cargo::cargo_bin!("slipway"))
}

fn code(out: &Output) -> i32 {
    out.status.code().expect("exited normally")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// examples/hello built with the installed Go (pure Go) into `dir`.
fn hello(work: &Path, dir: &Path) -> PathBuf {
    let src = work.join("hello-src");
    if !src.exists() {
        copy_tree(&example("hello"), &src);
    }
    std::fs::create_dir_all(dir).unwrap();
    let bin = dir.join("hello");
    let out = Command::new(require("go", "golang-go"))
        .args(["build", "-trimpath", "-o"])
        .arg(&bin)
        .arg(".")
        .current_dir(&src)
        .env("CGO_ENABLED", "0")
        .output()
        .unwrap();
    stdout_ok(&out, "go build");
    bin
}

/// A database in the vuln.go.dev layout with one stdlib entry per range.
fn write_db(dir: &Path, zip: &Path, stdlib_ranges: &[(&str, Value)]) {
    let mut files: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut vulns = Vec::new();
    for (id, events) in stdlib_ranges {
        let e = json!({
            "schema_version": "1.3.1", "id": id, "modified": "2026-07-01T00:00:00Z",
            "aliases": [format!("CVE-2026-{}", &id[id.len() - 4..])],
            "affected": [{"package": {"name": "stdlib", "ecosystem": "Go"},
                "ranges": [{"type": "SEMVER", "events": events}],
                "ecosystem_specific": {"imports": [{"path": "net/http", "symbols": ["Serve"]}]}}]
        });
        files.insert(format!("ID/{id}.json"), serde_json::to_vec(&e).unwrap());
        vulns.push(json!({"id": id, "modified": "2026-07-01T00:00:00Z"}));
    }
    files.insert(
        "index/modules.json".into(),
        serde_json::to_vec(&json!([{"path": "stdlib", "vulns": vulns}])).unwrap(),
    );
    files.insert(
        "index/db.json".into(),
        br#"{"modified":"2026-07-01T00:00:00Z"}"#.to_vec(),
    );
    for (name, data) in &files {
        let p = dir.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, data).unwrap();
    }
    let mut z = zip::ZipWriter::new(std::fs::File::create(zip).unwrap());
    for (name, data) in &files {
        z.start_file(name.as_str(), zip::write::SimpleFileOptions::default())
            .unwrap();
        z.write_all(data).unwrap();
    }
    z.finish().unwrap();
}

fn scan(path: &Path, db: &Path, extra: &[&str]) -> Output {
    slipway()
        .arg("scan")
        .arg(path)
        .arg("--db")
        .arg(db)
        .args(extra)
        .output()
        .unwrap()
}

#[test]
fn the_scan_gate_trips_on_findings_and_reports_json() {
    let tmp = tempfile::tempdir().unwrap();
    let dist = tmp.path().join("dist");
    let bin = hello(tmp.path(), &dist.join("linux_amd64"));
    std::fs::write(dist.join("SHA256SUMS"), "not a binary\n").unwrap();
    let go = String::from_utf8(
        Command::new("go")
            .args(["env", "GOVERSION"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap()
    .trim()
    .to_string();
    let v = go.strip_prefix("go").unwrap();
    let parts: Vec<u64> = v.split('.').map(|p| p.parse().unwrap()).collect();
    let next = format!("{}.{}.{}", parts[0], parts[1], parts[2] + 1);

    let (dir, zip) = (tmp.path().join("db"), tmp.path().join("db.zip"));
    write_db(
        &dir,
        &zip,
        &[
            (
                "GO-2026-0001",
                json!([{"introduced": "0"}, {"fixed": next}]),
            ),
            ("GO-2026-0002", json!([{"introduced": "0"}, {"fixed": v}])),
        ],
    );
    for db in [&dir, &zip] {
        // Human report: exit 1, the finding on stdout, no JSON.
        let out = scan(&bin, db, &[]);
        assert_eq!(code(&out), 1, "{}", stderr(&out));
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("GO-2026-0001 (CVE-2026-0001)  stdlib"),
            "{text}"
        );
        assert!(text.contains(&format!("-> go{next}")), "{text}");
        assert!(!text.contains("GO-2026-0002"), "{text}");
        assert!(stderr(&out).contains("--fail-on none"), "{}", stderr(&out));

        // JSON only on stdout, and the gate can be turned off.
        let out = scan(&dist, db, &["--json", "--fail-on", "none"]);
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(report["findings"], 1);
        let b = &report["binaries"][0];
        assert_eq!(b["path"], bin.to_str().unwrap());
        assert_eq!(b["go"], go.as_str());
        assert_eq!(b["findings"][0]["id"], "GO-2026-0001");
        assert_eq!(b["findings"][0]["fixed"], format!("go{next}"));
        assert_eq!(b["findings"][0]["imports"], json!(["net/http"]));
        assert_eq!(report["database"]["modified"], "2026-07-01T00:00:00Z");
        // Deterministic.
        assert_eq!(
            out.stdout,
            scan(&dist, db, &["--json", "--fail-on", "none"]).stdout
        );
    }

    // A database that does not concern this Go passes.
    let (clean, clean_zip) = (tmp.path().join("clean"), tmp.path().join("clean.zip"));
    write_db(
        &clean,
        &clean_zip,
        &[(
            "GO-2026-0003",
            json!([{"introduced": "0"}, {"fixed": "1.0.1"}]),
        )],
    );
    let out = scan(&dist, &clean_zip, &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("no known vulnerabilities"));
}

#[test]
fn a_slipway_build_output_directory_is_scanned_binary_by_binary() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("m");
    copy_tree(&example("hello"), &src);
    let dist = tmp.path().join("dist");
    let out = slipway()
        .arg("build")
        .arg(&src)
        .args([
            "--platform",
            "linux/amd64,linux/arm64",
            "--libc",
            "none",
            "--out",
        ])
        .arg(&dist)
        .output()
        .unwrap();
    stdout_ok(&out, "slipway build");
    assert!(
        dist.join("linux_arm64/hello.debug").is_file(),
        "split debug info beside the binary"
    );
    let (dir, zip) = (tmp.path().join("db"), tmp.path().join("db.zip"));
    write_db(
        &dir,
        &zip,
        &[("GO-2026-0010", json!([{"introduced": "0"}]))],
    );
    let out = scan(&dist, &zip, &["--json"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(!stderr(&out).contains("warning"), "{}", stderr(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let paths: Vec<&str> = report["binaries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["path"].as_str().unwrap())
        .collect();
    let expect = [
        dist.join("linux_amd64/hello"),
        dist.join("linux_arm64/hello"),
    ];
    assert_eq!(
        paths,
        expect
            .iter()
            .map(|p| p.to_str().unwrap())
            .collect::<Vec<_>>()
    );
    assert_eq!(report["findings"], 2, "the stdlib entry, once per binary");
    assert_eq!(report["binaries"][1]["findings"][0]["fixed"], Value::Null);
}

#[test]
fn bad_input_exits_2() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, zip) = (tmp.path().join("db"), tmp.path().join("db.zip"));
    write_db(&dir, &zip, &[]);
    let bin = hello(tmp.path(), &tmp.path().join("bin"));
    let text = tmp.path().join("notes.txt");
    std::fs::write(&text, "hello\n").unwrap();
    let cases: Vec<(Output, &str)> = vec![
        (scan(&text, &dir, &[]), "not a Go binary"),
        (
            scan(&tmp.path().join("db"), &dir, &[]),
            "no Go binaries under",
        ),
        (scan(&bin, &tmp.path().join("missing"), &[]), "no such file"),
        (scan(&bin, &text, &[]), "not a readable zip"),
        (scan(&bin, &dir, &["--fail-on", "high"]), "--fail-on high"),
        (scan(&tmp.path().join("nowhere"), &dir, &[]), "nowhere"),
    ];
    for (out, expect) in cases {
        assert_eq!(code(&out), 2, "{expect}: {}", stderr(&out));
        assert!(stderr(&out).contains(expect), "{expect}: {}", stderr(&out));
        assert!(out.stdout.is_empty());
    }
    // A malformed entry: exit 2 naming the file.
    std::fs::write(
        dir.join("index/modules.json"),
        br#"[{"path":"stdlib","vulns":[{"id":"GO-2026-0009"}]}]"#,
    )
    .unwrap();
    std::fs::create_dir_all(dir.join("ID")).unwrap();
    std::fs::write(dir.join("ID/GO-2026-0009.json"), b"{oops").unwrap();
    let out = scan(&bin, &dir, &[]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("ID/GO-2026-0009.json"),
        "{}",
        stderr(&out)
    );
}

/// A copy of examples/hello with `data = "kodata"` holding `files`.
fn module_with_data(work: &Path, files: &[(&str, &str)], image_extra: &str) -> PathBuf {
    let src = work.join("m");
    copy_tree(&example("hello"), &src);
    for (name, content) in files {
        let p = src.join("kodata").join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }
    let mut config = std::fs::read_to_string(src.join("slipway.toml")).unwrap();
    config.push_str(&format!("\n[image]\ndata = \"kodata\"\n{image_extra}"));
    std::fs::write(src.join("slipway.toml"), config).unwrap();
    src
}

fn image(module: &Path, out: &Path, extra: &[&str]) -> Output {
    slipway()
        .arg("image")
        .arg(module)
        .args(["--platform", "linux/amd64", "--libc", "none", "--json"])
        .arg("--out")
        .arg(out)
        .args(extra)
        .output()
        .unwrap()
}

#[test]
fn the_image_secret_gate_refuses_then_allows() {
    let tmp = tempfile::tempdir().unwrap();
    let token = "k8Zq2LmW9xTfR4vB";
    let key = {
        let o = Command::new(require("openssl", "openssl"))
            .args(["genpkey", "-algorithm", "ed25519"])
            .output()
            .unwrap();
        stdout_ok(&o, "openssl genpkey")
    };
    let body = key.lines().nth(1).unwrap().to_string();
    let src = module_with_data(
        tmp.path(),
        &[
            (
                "deploy.env",
                &format!("REGION=eu-west-1\nAPI_TOKEN={token}\n"),
            ),
            ("tls/server.key", &key),
            ("index.html", "<h1>hi</h1>\n"),
        ],
        "",
    );
    let out_dir = tmp.path().join("image");

    let out = image(&src, &out_dir, &[]);
    let err = stderr(&out);
    assert_eq!(code(&out), 1, "{err}");
    assert!(
        err.contains("/app/data/deploy.env:2: password-assignment"),
        "{err}"
    );
    assert!(
        err.contains("/app/data/tls/server.key:1: private-key"),
        "{err}"
    );
    assert!(err.contains("--allow-secret"), "{err}");
    assert!(
        !err.contains(token) && !err.contains(&body),
        "a secret leaked: {err}"
    );
    assert!(out.stdout.is_empty());
    assert!(
        !out_dir.exists(),
        "nothing is written while the gate is closed"
    );

    // One allowed by kind on the command line: the other still blocks.
    let out = image(
        &src,
        &out_dir,
        &["--allow-secret", "/app/data/deploy.env:password-assignment"],
    );
    let err = stderr(&out);
    assert_eq!(code(&out), 1, "{err}");
    assert!(!err.contains("deploy.env:2"), "{err}");
    assert!(err.contains("server.key:1: private-key"), "{err}");
    assert!(!out_dir.exists());

    // A wrong kind does not allow it.
    let out = image(
        &src,
        &out_dir,
        &[
            "--allow-secret",
            "/app/data/deploy.env:jwt",
            "--allow-secret",
            "/app/data/tls/",
        ],
    );
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(stderr(&out).contains("deploy.env:2"), "{}", stderr(&out));

    // The flag and slipway.toml together open the gate; the image is written.
    let mut config = std::fs::read_to_string(src.join("slipway.toml")).unwrap();
    config.push_str("allow_secrets = [\"/app/data/tls/server.key:private-key\"]\n");
    std::fs::write(src.join("slipway.toml"), config).unwrap();
    let out = image(&src, &out_dir, &["--allow-secret", "/app/data/deploy.env"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("2 findings allowed"),
        "{}",
        stderr(&out)
    );
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        json["index_digest"]
            .as_str()
            .unwrap()
            .starts_with("sha256:")
    );
    assert!(out_dir.join("index.json").is_file());

    // A malformed allow-list entry is bad input.
    let out = image(
        &src,
        &tmp.path().join("x"),
        &["--allow-secret", "app/data/deploy.env"],
    );
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(stderr(&out).contains("--allow-secret"), "{}", stderr(&out));
}

#[test]
fn a_clean_image_with_data_and_the_host_ca_bundle_passes_the_gate() {
    let tmp = tempfile::tempdir().unwrap();
    let src = module_with_data(
        tmp.path(),
        &[
            ("index.html", "<h1>hi</h1>\n"),
            (
                "app.yaml",
                "listen: \":8080\"\npassword_file: /run/secrets/db\ntoken: ${API_TOKEN}\n",
            ),
        ],
        "ca_certs = \"host\"\n",
    );
    let out_dir = tmp.path().join("image");
    let out = image(&src, &out_dir, &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(!stderr(&out).contains("secret"), "{}", stderr(&out));
    assert!(out_dir.join("index.json").is_file());
}
