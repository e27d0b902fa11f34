//! Fixtures shared by the scan tests: real Go binaries built with the
//! installed Go, and vulnerability databases written in the vuln.go.dev layout.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};
use slipway_testkit::{copy_tree, example, require, stdout_ok};

/// `go` with module downloads allowed and no cgo, so tests build anywhere.
pub fn go(dir: &Path, args: &[&str]) -> String {
    let go = require("go", "golang-go");
    let out = Command::new(go)
        .args(args)
        .current_dir(dir)
        .env("CGO_ENABLED", "0")
        .env("GOFLAGS", "-mod=mod")
        .output()
        .unwrap();
    stdout_ok(&out, &format!("go {args:?}"))
}

/// examples/hello built with the installed Go.
pub fn hello(work: &Path) -> PathBuf {
    let src = work.join("hello-src");
    copy_tree(&example("hello"), &src);
    let bin = work.join("hello");
    go(
        &src,
        &["build", "-trimpath", "-o", bin.to_str().unwrap(), "."],
    );
    bin
}

/// The x/text version the dependency fixture pins.
pub const TEXT_VERSION: &str = "v0.27.0";

/// A tiny module that depends on golang.org/x/text at TEXT_VERSION, built.
pub fn text_dep(work: &Path) -> PathBuf {
    let src = work.join("textdep-src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(
        src.join("go.mod"),
        format!(
            "module example.com/textdep\n\ngo 1.22\n\nrequire golang.org/x/text {TEXT_VERSION}\n"
        ),
    )
    .unwrap();
    std::fs::write(
        src.join("main.go"),
        "package main\n\nimport (\n\t\"fmt\"\n\n\t\"golang.org/x/text/language\"\n)\n\nfunc main() { fmt.Println(language.English.String()) }\n",
    )
    .unwrap();
    go(&src, &["mod", "tidy"]);
    let bin = work.join("textdep");
    go(
        &src,
        &["build", "-trimpath", "-o", bin.to_str().unwrap(), "."],
    );
    bin
}

/// `go env GOVERSION`, e.g. go1.26.8.
pub fn go_version(work: &Path) -> String {
    go(work, &["env", "GOVERSION"]).trim().to_string()
}

/// An OSV entry for one module and one SEMVER range.
pub fn entry(id: &str, module: &str, events: Value, imports: &[&str]) -> Value {
    json!({
        "schema_version": "1.3.1",
        "id": id,
        "modified": "2026-07-01T00:00:00Z",
        "aliases": [format!("CVE-2026-{}", &id[id.len() - 4..])],
        "summary": format!("test entry {id}"),
        "affected": [{
            "package": {"name": module, "ecosystem": "Go"},
            "ranges": [{"type": "SEMVER", "events": events}],
            "ecosystem_specific": {"imports": imports.iter().map(|p| json!({"path": p, "symbols": ["F"]})).collect::<Vec<_>>()}
        }],
        "database_specific": {"url": format!("https://pkg.go.dev/vuln/{id}")}
    })
}

/// The files of a database holding `entries`: index/db.json,
/// index/modules.json (derived from the entries) and ID/<id>.json.
pub fn db_files(entries: &[Value]) -> BTreeMap<String, Vec<u8>> {
    let mut modules: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    let mut files = BTreeMap::new();
    for e in entries {
        let id = e["id"].as_str().unwrap();
        for a in e["affected"].as_array().unwrap() {
            modules
                .entry(a["package"]["name"].as_str().unwrap().to_string())
                .or_default()
                .push(json!({"id": id, "modified": e["modified"]}));
        }
        files.insert(format!("ID/{id}.json"), serde_json::to_vec(e).unwrap());
    }
    let index: Vec<Value> = modules
        .into_iter()
        .map(|(path, vulns)| json!({"path": path, "vulns": vulns}))
        .collect();
    files.insert(
        "index/modules.json".into(),
        serde_json::to_vec(&index).unwrap(),
    );
    files.insert(
        "index/db.json".into(),
        br#"{"modified":"2026-07-01T00:00:00Z"}"#.to_vec(),
    );
    files
}

pub fn write_dir(dir: &Path, files: &BTreeMap<String, Vec<u8>>) {
    for (name, data) in files {
        let p = dir.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, data).unwrap();
    }
}

pub fn write_zip(path: &Path, files: &BTreeMap<String, Vec<u8>>) {
    let mut z = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, data) in files {
        z.start_file(name.as_str(), opts).unwrap();
        z.write_all(data).unwrap();
    }
    z.finish().unwrap();
}
