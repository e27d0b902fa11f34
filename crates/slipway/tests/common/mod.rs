//! Helpers the CLI tests share: running slipway, reading images back with
//! skopeo, and running one platform of an image under runc.
#![allow(dead_code)] // each test crate uses its own subset

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::Value;
use slipway_testkit::{require, stdout_ok};

pub mod notary;

pub fn slipway() -> Command {
    Command::new(assert_cmd::cargo::cargo_bin!("slipway"))
}

/// slipway as the signing tests run it: the key's password in
/// COSIGN_PASSWORD, no docker config, no SOURCE_DATE_EPOCH from the host.
pub fn signing_slipway(password: &str) -> Command {
    let mut c = slipway();
    c.env("COSIGN_PASSWORD", password)
        .env("DOCKER_CONFIG", "/nonexistent-slipway-test")
        .env_remove("SOURCE_DATE_EPOCH");
    c
}

/// The stdout of a command that must succeed, as JSON.
pub fn stdout_json(out: &Output, what: &str) -> Value {
    let text = stdout_ok(out, what);
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{what}: stdout is not JSON ({e}):\n{text}"))
}

/// `slipway image MODULE ARGS... --out OUT --json`, returning the JSON.
pub fn image(module: &Path, args: &[&str], out: &Path) -> Value {
    let output = slipway()
        .arg("image")
        .arg(module)
        .args(args)
        .arg("--out")
        .arg(out)
        .arg("--json")
        .output()
        .unwrap();
    let text = stdout_ok(&output, &format!("slipway image {args:?}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("stdout is not only JSON ({e}):\n{text}"))
}

pub fn skopeo(args: &[&str]) -> String {
    let skopeo = require("skopeo", "skopeo");
    stdout_ok(
        &Command::new(skopeo).args(args).output().unwrap(),
        &format!("skopeo {args:?}"),
    )
}

/// The raw index or manifest skopeo reads at `reference`.
pub fn inspect_raw(reference: &str) -> Value {
    serde_json::from_str(&skopeo(&["inspect", "--raw", reference])).unwrap()
}

/// `skopeo copy --all` of `reference` into a new layout at `dest`; returns
/// the copy's raw index.
pub fn copy_all(reference: &str, dest: &Path) -> Value {
    let target = format!("oci:{}:latest", dest.display());
    skopeo(&["copy", "-q", "--all", reference, &target]);
    inspect_raw(&target)
}

pub fn exit_code(out: &Output) -> i32 {
    out.status.code().expect("exited normally")
}

/// Make sure the kernel hands foreign binaries to qemu-user-static, or fail saying how.
pub fn ensure_binfmt(qemu_arch: &str) {
    let entry = PathBuf::from(format!("/proc/sys/fs/binfmt_misc/qemu-{qemu_arch}"));
    let enabled = || std::fs::read_to_string(&entry).is_ok_and(|s| s.starts_with("enabled"));
    if !enabled() {
        require("update-binfmts", "binfmt-support");
        let _ = Command::new("update-binfmts")
            .args(["--enable", &format!("qemu-{qemu_arch}")])
            .status();
    }
    assert!(
        enabled(),
        "binfmt_misc has no enabled qemu-{qemu_arch}: run scripts/setup.sh (qemu-user-static, binfmt-support)"
    );
}

static CONTAINERS: AtomicUsize = AtomicUsize::new(0);

/// A fresh container id for this test process.
pub fn container_id() -> String {
    format!(
        "slipway-test-{}-{}",
        std::process::id(),
        CONTAINERS.fetch_add(1, Ordering::SeqCst)
    )
}

/// Pick one platform out of a layout and unpack it into a runc bundle.
pub fn bundle(layout: &Path, arch: &str, variant: Option<&str>, work: &Path) -> PathBuf {
    require("umoci", "umoci");
    let name = format!("{arch}{}", variant.unwrap_or(""));
    let single = work.join(format!("single-{name}"));
    let mut args = vec!["copy", "-q", "--override-arch", arch];
    if let Some(v) = variant {
        args.extend(["--override-variant", v]);
    }
    let src = format!("oci:{}:latest", layout.display());
    let dst = format!("oci:{}:latest", single.display());
    args.extend([src.as_str(), dst.as_str()]);
    skopeo(&args);
    let bundle = work.join(format!("bundle-{name}"));
    let out = Command::new("umoci")
        .args(["unpack", "--image", &format!("{}:latest", single.display())])
        .arg(&bundle)
        .output()
        .unwrap();
    stdout_ok(&out, "umoci unpack");
    bundle
}

/// Edit a bundle's runtime config.
pub fn edit_config(bundle: &Path, edit: impl FnOnce(&mut Value)) {
    let path = bundle.join("config.json");
    let mut config: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    edit(&mut config);
    std::fs::write(&path, serde_json::to_vec(&config).unwrap()).unwrap();
}

pub fn runc_once(bundle: &Path) -> String {
    let runc = require("runc", "runc");
    edit_config(bundle, |c| {
        c["process"]["args"]
            .as_array_mut()
            .unwrap()
            .push("--once".into());
        c["process"]["terminal"] = false.into();
    });
    let out = Command::new(runc)
        .args(["run", "-b"])
        .arg(bundle)
        .arg(container_id())
        .output()
        .unwrap();
    stdout_ok(&out, "runc run")
}

/// Lowercase hex SHA-256, as digests spell it.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    base16ct::lower::encode_string(&sha2::Sha256::digest(bytes))
}

/// A main package that writes and reads a table with SQLite through
/// mattn/go-sqlite3 (real C, through cgo) and says which SQLite and arch ran.
pub const SQLITE_MAIN: &str = r#"// Command sqlitecheck writes and reads a table with SQLite through cgo.
package main

import (
	"database/sql"
	"fmt"
	"os"
	"runtime"

	_ "github.com/mattn/go-sqlite3"
)

func main() {
	db, err := sql.Open("sqlite3", ":memory:")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var version string
	var total int
	err = db.QueryRow("select sqlite_version()").Scan(&version)
	if err == nil {
		_, err = db.Exec("create table t(x integer); insert into t values (19), (23)")
	}
	if err == nil {
		err = db.QueryRow("select sum(x) from t").Scan(&total)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("sqlite %s sum=%d on %s\n", version, total, runtime.GOARCH)
}
"#;
