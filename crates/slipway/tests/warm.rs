//! Cold cgo builds explain themselves, and `slipway warm` prepares a matrix:
//! real zig, real Go, the shared caches (zig's musl for amd64 is built once
//! per machine; these tests then take seconds).

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;
use slipway_testkit::{copy_tree, example, stdout_ok};
use slipway_toolchain::CacheDir;

fn slipway() -> Command {
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin!("slipway"));
    // Plain lines, as in CI.
    cmd.env("CI", "true");
    cmd
}

fn zig_version() -> String {
    let cache = CacheDir::resolve(None);
    slipway_toolchain::Zig::discover(None, &cache)
        .unwrap_or_else(|e| panic!("zig is required by these tests: {e} (scripts/setup.sh)"))
        .version
}

/// slipway's marker that zig's musl runtime for amd64 is built.
fn amd64_marker() -> PathBuf {
    CacheDir::resolve(None)
        .zig_cache()
        .join("slipway-runtimes")
        .join(zig_version())
        .join("x86_64-linux-musl")
}

/// The tests share amd64's marker; one at a time.
static MARKER: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_cold_target_is_announced_once_and_then_remembered() {
    let _one = MARKER.lock().unwrap_or_else(|e| e.into_inner());
    let tmp = tempfile::tempdir().unwrap();
    let module = tmp.path().join("hello");
    copy_tree(&example("hello"), &module);
    let build = || {
        slipway()
            .arg("build")
            .arg(&module)
            .args(["--platform", "linux/amd64", "--libc", "musl", "--out"])
            .arg(tmp.path().join("dist"))
            .output()
            .unwrap()
    };
    // Forget that amd64's runtime is built (zig's cache keeps it, so the
    // build stays quick): slipway must announce it as cold.
    let _ = std::fs::remove_file(amd64_marker());
    let out = build();
    stdout_ok(&out, "cold slipway build");
    let said = stderr(&out);
    assert!(
        said.contains("compiles musl and compiler-rt for x86_64-linux-musl")
            && said.contains("once per machine and zig version")
            && said.contains("slipway warm"),
        "no cold notice:\n{said}"
    );
    assert!(amd64_marker().is_file(), "the success was not recorded");

    let out = build();
    stdout_ok(&out, "warm slipway build");
    assert!(
        !stderr(&out).contains("compiles musl"),
        "a warm target was announced:\n{}",
        stderr(&out)
    );
}

#[test]
fn warm_prepares_a_matrix_and_skips_what_is_built() {
    let _one = MARKER.lock().unwrap_or_else(|e| e.into_inner());
    let run = |args: &[&str]| slipway().arg("warm").args(args).output().unwrap();
    let out = run(&["--platform", "linux/amd64", "--json"]);
    let json: Value = serde_json::from_str(&stdout_ok(&out, "slipway warm")).unwrap();
    let row = &json["runtimes"][0];
    assert_eq!(row["runtime"], "x86_64-linux-musl", "{json}");
    assert!(
        row["status"] == "built" || row["status"] == "already built",
        "{json}"
    );
    assert!(amd64_marker().is_file());
    let out = run(&["--platform", "linux/amd64", "--json"]);
    let json: Value = serde_json::from_str(&stdout_ok(&out, "slipway warm")).unwrap();
    assert_eq!(json["runtimes"][0]["status"], "already built", "{json}");

    // Pure Go needs no runtime; a bad platform is bad input.
    let out = run(&["--platform", "linux/amd64", "--libc", "none"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("need no warm-up"), "{}", stderr(&out));
    let out = run(&["--platform", "linux/aarch64"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("linux/arm64"), "{}", stderr(&out));
}
