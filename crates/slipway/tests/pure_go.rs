//! A pure-Go image needs Go and slipway, nothing else: no zig, no Python, no
//! C compiler. slipway runs with a PATH that holds only `go` and `slipway`
//! and a fresh cache, builds a 3-platform image with the init, and every
//! platform of it runs under runc (foreign ones through qemu-user-static).

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use slipway_testkit::{copy_tree, example, require, stdout_ok};

mod common;
use common::*;

const PLATFORMS: &str = "linux/amd64,linux/arm64,linux/arm/v7";

/// A directory with only `go` and `slipway` in it, to be the whole PATH.
fn bare_path(dir: &Path) -> PathBuf {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let go = require("go", "golang-go");
    // go finds its GOROOT from its own (resolved) location.
    std::os::unix::fs::symlink(go.canonicalize().unwrap(), bin.join("go")).unwrap();
    std::os::unix::fs::symlink(
        assert_cmd::cargo::cargo_bin!("slipway"),
        bin.join("slipway"),
    )
    .unwrap();
    bin
}

/// `slipway ARGS` with nothing of this machine's environment but Go's caches.
fn bare_slipway(bin: &Path, home: &Path, cache: &Path, args: &[&str]) -> std::process::Output {
    let go_env = |key: &str| {
        let out = Command::new(bin.join("go"))
            .args(["env", key])
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    // Reusing Go's caches keeps the test quick; they hold no C compiler.
    let (gocache, gomodcache) = (go_env("GOCACHE"), go_env("GOMODCACHE"));
    Command::new(bin.join("slipway"))
        .args(args)
        .env_clear()
        .env("PATH", bin)
        .env("HOME", home)
        .env("GOCACHE", gocache)
        .env("GOMODCACHE", gomodcache)
        .env("SLIPWAY_CACHE_DIR", cache)
        .output()
        .unwrap()
}

#[test]
fn a_pure_go_image_needs_only_go() {
    let tmp = tempfile::tempdir().unwrap();
    let bin = bare_path(tmp.path());
    let home = tmp.path().join("home");
    let cache = tmp.path().join("cache");
    std::fs::create_dir_all(&home).unwrap();
    let module = tmp.path().join("hello");
    copy_tree(&example("hello"), &module);

    // This environment really has no zig: doctor finds none, and says that
    // only cgo needs it.
    let doctor = bare_slipway(&bin, &home, &cache, &["doctor", "--json"]);
    let report: Value = serde_json::from_str(&stdout_ok(&doctor, "slipway doctor")).unwrap();
    assert!(report["zig"]["path"].is_null(), "zig was found: {report}");
    let none_ok = report["targets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["libc"] == "none" && r["platform"] == "linux/arm64")
        .all(|r| r["ok"] == true);
    assert!(none_ok, "doctor says pure Go cannot be built without zig");
    let text = bare_slipway(&bin, &home, &cache, &["doctor"]);
    let text = stdout_ok(&text, "slipway doctor");
    assert!(text.contains("needed only for cgo"), "{text}");

    let layout = tmp.path().join("layout");
    let out = bare_slipway(
        &bin,
        &home,
        &cache,
        &[
            "image",
            module.to_str().unwrap(),
            "--platform",
            PLATFORMS,
            "--libc",
            "none",
            "--out",
            layout.to_str().unwrap(),
            "--json",
        ],
    );
    let json: Value = serde_json::from_str(&stdout_ok(&out, "slipway image")).unwrap();
    assert_eq!(json["manifests"].as_array().unwrap().len(), 3);
    // Nothing zig-related was created in the fresh cache.
    assert!(!cache.join("zig").exists(), "zig's cache was used");
    assert!(!cache.join("init").exists(), "the init was compiled");

    ensure_binfmt("aarch64");
    ensure_binfmt("arm");
    for (arch, variant) in [("amd64", None), ("arm64", None), ("arm", Some("v7"))] {
        let bundle = bundle(&layout, arch, variant, tmp.path());
        let mut entrypoint = Vec::new();
        edit_config(&bundle, |c| {
            entrypoint = c["process"]["args"].as_array().unwrap().clone();
        });
        assert_eq!(entrypoint[0], "/sbin/slipway-init", "{entrypoint:?}");
        let said = runc_once(&bundle);
        assert_eq!(
            said.trim(),
            format!("hello from linux/{arch} cgo=false c=none")
        );
    }
}
