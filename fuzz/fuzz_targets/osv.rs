//! OSV entries in a Go vulnerability database: read, checked and matched
//! against a binary's modules, as `slipway scan` does.
#![no_main]

use std::collections::BTreeMap;
use std::path::Path;

use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};
use slipway_elf::{GoBuildInfo, Module, Settings};

fn module(path: &str, version: &str) -> Module {
    Module {
        path: path.into(),
        version: version.into(),
        sum: String::new(),
        replace: None,
    }
}

fuzz_target!(|data: &[u8]| {
    // The index lists the entry under its own id and packages, when it names
    // them, so the scan reaches the matching code.
    let loose: Value = serde_json::from_slice(data).unwrap_or(Value::Null);
    let id = loose["id"].as_str().unwrap_or("GO-2026-0001");
    if id.is_empty() || id.len() > 64 || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        return;
    }
    let mut paths: Vec<String> = loose["affected"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x["package"]["name"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    paths.push("stdlib".into());
    paths.sort();
    paths.dedup();
    let index: Vec<Value> = paths
        .iter()
        .map(|p| json!({"path": p, "vulns": [{"id": id, "modified": "2026-01-01T00:00:00Z"}]}))
        .collect();
    // In memory, so the run measures the parser and the matcher, not the
    // file system; `Database::open` reads a directory into the same code.
    let files = BTreeMap::from([
        (
            "index/modules.json".to_string(),
            Value::from(index).to_string().into_bytes(),
        ),
        (format!("ID/{id}.json"), data.to_vec()),
    ]);
    let Ok(db) = slipway_scan::osv::Database::from_files(Path::new("fuzz"), files) else {
        return;
    };
    // The installed versions: a few fixed ones and each version the entry names.
    let mut versions = vec![
        "v0.0.0-20240101000000-abcdef123456".to_string(),
        "v1.2.3".into(),
    ];
    for ev in loose["affected"][0]["ranges"][0]["events"]
        .as_array()
        .into_iter()
        .flatten()
    {
        for k in ["introduced", "fixed", "last_affected"] {
            if let Some(v) = ev[k].as_str() {
                versions.push(format!("v{v}"));
            }
        }
    }
    for v in versions.iter().take(8) {
        let info = GoBuildInfo {
            version: "go1.22.1".into(),
            path: "example.com/m".into(),
            main: Some(module("example.com/m", "(devel)")),
            deps: paths
                .iter()
                .filter(|p| *p != "stdlib")
                .map(|p| module(p, v))
                .collect(),
            settings: Settings(vec![
                ("GOOS".into(), "linux".into()),
                ("GOARCH".into(), "amd64".into()),
            ]),
        };
        let _ = db.scan(&info);
    }
});
