//! Shared by the `elf_*` integration tests: building Go programs with plain
//! `go build`, running slipway, readelf and go, and comparing their answers.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use slipway_testkit::{require, stdout_ok};

pub fn slipway() -> Command {
    Command::new(env!("CARGO_BIN_EXE_slipway"))
}

pub fn run(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"))
}

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/elf_fixtures")
        .join(name)
}

/// `go build` a main package with `env`, into `out`. Go's build cache makes
/// repeats cheap across test binaries.
pub fn go_build(module: &Path, env: &[(&str, &str)], out: &Path) {
    let go = require("go", "golang (Go 1.22+ from go.dev)");
    let mut cmd = Command::new(go);
    cmd.current_dir(module)
        .env("CGO_ENABLED", "0")
        .env("GOFLAGS", "-mod=mod")
        .env_remove("GOARCH")
        .env_remove("GOARM")
        .env_remove("GOMIPS")
        .envs(env.iter().copied())
        .args(["build", "-trimpath", "-o"])
        .arg(out)
        .arg(".");
    stdout_ok(
        &run(&mut cmd),
        &format!("go build {} {env:?}", module.display()),
    );
}

pub fn inspect_json(file: &Path) -> Value {
    let out = run(slipway().arg("inspect").arg("--json").arg(file));
    serde_json::from_str(&stdout_ok(&out, "slipway inspect --json")).expect("inspect prints JSON")
}

pub fn readelf(args: &[&str], file: &Path) -> String {
    let readelf = require("readelf", "binutils-multiarch");
    stdout_ok(
        &run(Command::new(readelf).args(args).arg(file)),
        &format!("readelf {args:?} {}", file.display()),
    )
}

/// Section names, from `readelf -SW`.
pub fn section_names(file: &Path) -> Vec<String> {
    readelf(&["-SW"], file)
        .lines()
        .filter_map(|l| {
            let l = l.trim_start();
            let rest = l.strip_prefix('[')?;
            let (_, after) = rest.split_once(']')?;
            after.split_whitespace().next().map(String::from)
        })
        .filter(|n| n != "NULL")
        .collect()
}

/// `(name, type)` of every section, from `readelf -SW`.
pub fn section_types(file: &Path) -> Vec<(String, String)> {
    readelf(&["-SW"], file)
        .lines()
        .filter_map(|l| {
            let rest = l.trim_start().strip_prefix('[')?;
            let (_, after) = rest.split_once(']')?;
            let mut words = after.split_whitespace();
            Some((words.next()?.to_string(), words.next()?.to_string()))
        })
        .collect()
}

/// Check slipway's `go` field against `go version -m -json`, field by field.
pub fn assert_go_info_matches(file: &Path, inspected: &Value) {
    let go = require("go", "golang");
    let out = run(Command::new(go).args(["version", "-m", "-json"]).arg(file));
    let want: Value = serde_json::from_str(&stdout_ok(&out, "go version -m -json"))
        .expect("go version -m -json prints JSON");
    let got = &inspected["go"];
    let what = file.display();
    assert_eq!(got["version"], want["GoVersion"], "{what}: version");
    assert_eq!(got["path"], want["Path"], "{what}: path");
    let module = |m: &Value| -> Value {
        serde_json::json!({
            "path": m.get("Path").cloned().unwrap_or(Value::from("")),
            "version": m.get("Version").cloned().unwrap_or(Value::from("")),
            "sum": m.get("Sum").cloned().unwrap_or(Value::from("")),
            "replace": m.get("Replace").map(|r| serde_json::json!({
                "path": r.get("Path").cloned().unwrap_or(Value::from("")),
                "version": r.get("Version").cloned().unwrap_or(Value::from("")),
                "sum": r.get("Sum").cloned().unwrap_or(Value::from("")),
                "replace": Value::Null,
            })).unwrap_or(Value::Null),
        })
    };
    assert_eq!(got["main"], module(&want["Main"]), "{what}: main module");
    let want_deps: Vec<Value> = want
        .get("Deps")
        .and_then(Value::as_array)
        .map(|d| d.iter().map(module).collect())
        .unwrap_or_default();
    assert_eq!(
        got["deps"].as_array().cloned().unwrap_or_default(),
        want_deps,
        "{what}: deps"
    );
    let want_settings: serde_json::Map<String, Value> = want["Settings"]
        .as_array()
        .expect("go reports settings")
        .iter()
        .map(|s| (s["Key"].as_str().unwrap().to_string(), s["Value"].clone()))
        .collect();
    assert!(!want_settings.is_empty());
    assert_eq!(
        got["settings"],
        Value::Object(want_settings),
        "{what}: settings"
    );
}

pub fn crc32(path: &Path) -> u32 {
    crc32fast::hash(&std::fs::read(path).unwrap())
}
