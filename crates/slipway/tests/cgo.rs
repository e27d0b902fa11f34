//! cgo the way real services use it: musl's pitfalls handled by default (the
//! LFS64 names go-sqlite3 before v1.14.19 needs, the thread stack deep C
//! recursion needs), advice under a failed C compile, and a vendor's C SDK
//! (sysroot, pkg-config) per target.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use slipway_platform::Arch;
use slipway_testkit::{require, run_on, stdout_ok, vendor_sdk};

mod common;
use common::slipway;

fn build(module: &Path, out: &Path, extra: &[&str]) -> Output {
    slipway()
        .arg("build")
        .arg(module)
        .arg("--out")
        .arg(out)
        .args(extra)
        .output()
        .unwrap()
}

fn write(dir: &Path, files: &[(&str, &str)]) -> PathBuf {
    for (name, text) in files {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    dir.to_path_buf()
}

/// C that recurses ~1.1 MiB deep, called from a goroutine that cannot run on
/// the main thread (main locks it), so it runs on a thread Go created with
/// musl's default attributes.
const DEEP_C: &str = r#"// Command deep recurses in C on a thread Go created.
package main

/*
#include <string.h>

static int depth(int n) {
	char pad[1024];
	memset(pad, n & 0x7f, sizeof pad);
	// The compiler must keep every frame's array: the asm may read it.
	__asm__ volatile("" : : "r"(pad) : "memory");
	if (n == 0) return pad[0];
	return depth(n - 1) + (pad[1] & 1);
}

static int recurse(int n) { return depth(n); }
*/
import "C"

import (
	"fmt"
	"runtime"
)

func init() { runtime.LockOSThread() }

func main() {
	done := make(chan int)
	go func() { done <- int(C.recurse(1024)) }()
	fmt.Println("recursed 1 MiB deep on a Go thread:", <-done)
}
"#;

/// The `PT_GNU_STACK` size readelf reports: what musl takes as the default
/// thread stack (when larger than its own 128 KiB).
fn gnu_stack_size(bin: &Path) -> u64 {
    let readelf = require("readelf", "binutils-multiarch");
    let text = stdout_ok(
        &Command::new(readelf).arg("-lW").arg(bin).output().unwrap(),
        "readelf -lW",
    );
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with("GNU_STACK"))
        .unwrap_or_else(|| panic!("no GNU_STACK header:\n{text}"));
    let memsz = line.split_whitespace().nth(5).unwrap();
    u64::from_str_radix(memsz.trim_start_matches("0x"), 16).unwrap()
}

#[test]
fn deep_c_recursion_on_go_threads_survives_musl_by_default() {
    let tmp = tempfile::tempdir().unwrap();
    let module = write(
        &tmp.path().join("deep"),
        &[
            ("go.mod", "module example.com/deep\n\ngo 1.22\n"),
            ("main.go", DEEP_C),
        ],
    );
    let out = tmp.path().join("dist");
    let platforms = ["--platform", "linux/amd64,linux/arm64", "--libc", "musl"];
    stdout_ok(&build(&module, &out, &platforms), "slipway build deep");
    for (arch, dir) in [(Arch::Amd64, "linux_amd64"), (Arch::Arm64, "linux_arm64")] {
        assert_eq!(
            gnu_stack_size(&out.join(dir).join("deep")),
            8 << 20,
            "{dir}"
        );
        let said = stdout_ok(
            &run_on(arch, &out.join(dir).join("deep"), &[], None),
            &format!("deep on {dir} with the default stack"),
        );
        assert_eq!(said.trim(), "recursed 1 MiB deep on a Go thread: 512");
    }

    // musl's own 128 KiB, asked for explicitly: the same program crashes.
    std::fs::write(
        module.join("slipway.toml"),
        "[build]\nmusl_thread_stack = \"musl\"\n",
    )
    .unwrap();
    stdout_ok(
        &build(&module, &out, &platforms),
        "slipway build deep (musl stack)",
    );
    for (arch, dir) in [(Arch::Amd64, "linux_amd64"), (Arch::Arm64, "linux_arm64")] {
        assert_eq!(
            gnu_stack_size(&out.join(dir).join("deep")),
            128 << 10,
            "{dir}"
        );
        let run = run_on(arch, &out.join(dir).join("deep"), &[], None);
        assert!(
            !run.status.success() && !String::from_utf8_lossy(&run.stdout).contains("recursed"),
            "{dir}: expected a crash on musl's 128 KiB stack, got {:?}:\n{}",
            run.status,
            String::from_utf8_lossy(&run.stdout)
        );
        let err = String::from_utf8_lossy(&run.stderr);
        assert!(
            ["SIGSEGV", "Segmentation fault", "signal 11"]
                .iter()
                .any(|s| err.contains(s)),
            "{dir}: {err}"
        );
    }

    // A size out of musl's range is refused before anything runs.
    std::fs::write(
        module.join("slipway.toml"),
        "[build]\nmusl_thread_stack = \"64MiB\"\n",
    )
    .unwrap();
    let bad = build(&module, &out, &platforms);
    assert_eq!(bad.status.code(), Some(2));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("musl_thread_stack = 67108864 bytes is out of range"),
        "{err}"
    );
}

/// A main package for go-sqlite3, pinned by go.mod and go.sum.
fn sqlite_module(dir: &Path, version: &str, sum: &str, mod_sum: &str) -> PathBuf {
    write(
        dir,
        &[
            (
                "go.mod",
                &format!(
                    "module example.com/sqlitecheck\n\ngo 1.22\n\nrequire github.com/mattn/go-sqlite3 {version}\n"
                ),
            ),
            (
                "go.sum",
                &format!(
                    "github.com/mattn/go-sqlite3 {version} {sum}\ngithub.com/mattn/go-sqlite3 {version}/go.mod {mod_sum}\n"
                ),
            ),
            ("main.go", common::SQLITE_MAIN),
        ],
    )
}

#[test]
fn go_sqlite3_before_the_lfs64_fix_builds_for_musl() {
    let tmp = tempfile::tempdir().unwrap();
    // v1.14.17 passes -DHAVE_PREAD64=1 and calls pread64, which musl 1.2.4+
    // hides unless _LARGEFILE64_SOURCE is defined.
    let module = sqlite_module(
        &tmp.path().join("sq"),
        "v1.14.17",
        "h1:mCRHCLDUBXgpKAqIKsaAaAsrAlbkeomtRFKXh2L6YIM=",
        "h1:2eHXhiwb8IkHr+BDWZGa96P6+rkvnG63S2DGjv9HUNg=",
    );
    let out = tmp.path().join("dist");
    stdout_ok(
        &build(
            &module,
            &out,
            &["--platform", "linux/arm64", "--libc", "musl"],
        ),
        "slipway build go-sqlite3 v1.14.17 --libc musl",
    );
    let said = stdout_ok(
        &run_on(Arch::Arm64, &out.join("linux_arm64/sqlitecheck"), &[], None),
        "sqlitecheck",
    );
    assert_eq!(said.trim(), "sqlite 3.42.0 sum=42 on arm64");
}

#[test]
fn a_failed_c_compile_ends_with_one_line_of_advice() {
    let tmp = tempfile::tempdir().unwrap();
    let module = write(
        &tmp.path().join("hdr"),
        &[
            ("go.mod", "module example.com/hdr\n\ngo 1.22\n"),
            (
                "main.go",
                "package main\n\n// #include <canlib/can.h>\nimport \"C\"\n\nfunc main() {}\n",
            ),
        ],
    );
    let out = build(
        &module,
        &tmp.path().join("dist"),
        &["--platform", "linux/arm64", "--libc", "musl"],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = err.lines().collect();
    let hint = lines
        .iter()
        .position(|l| l.starts_with("hint: "))
        .unwrap_or_else(|| panic!("no hint:\n{err}"));
    assert!(
        lines[..hint]
            .iter()
            .any(|l| l.contains("'canlib/can.h' file not found")),
        "the compiler's own output comes first:\n{err}"
    );
    assert_eq!(
        lines[hint],
        "hint: `canlib/can.h` is not among the C library headers zig ships for aarch64-linux-musl; headers of other libraries come from their SDK: set sysroot (or cflags = [\"-I<dir>\"]) under [build.target.\"linux/arm64\"] in slipway.toml (see docs/build.md)"
    );
    assert_eq!(
        lines.iter().filter(|l| l.starts_with("hint: ")).count(),
        1,
        "{err}"
    );
}

fn dry_run_cc(module: &Path) -> String {
    let out = slipway()
        .arg("build")
        .arg(module)
        .args(["--dry-run", "--json"])
        .output()
        .unwrap();
    let plan: Value = serde_json::from_str(&stdout_ok(&out, "slipway build --dry-run")).unwrap();
    plan["targets"][0]["env"]["CC"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn a_vendor_sdk_per_target_links_and_runs_with_its_library() {
    let tmp = tempfile::tempdir().unwrap();
    let sdk = vendor_sdk::make(&tmp.path().join("vendor"));
    let qemu_run = |bin: &Path| -> String {
        stdout_ok(
            &run_on(Arch::Arm64, bin, &[], Some(&sdk.runtime_root)),
            "candump under qemu with the vendor runtime",
        )
    };
    let base = "[build]\nplatforms = [\"linux/arm64\"]\nlibc = \"glibc:2.28\"\n";

    // Through the sysroot alone: -idirafter for headers, -L for the library.
    let plain = sdk.write_go_module(&tmp.path().join("plain"), false);
    std::fs::write(plain.join("slipway.toml"), base).unwrap();
    let without_cc = dry_run_cc(&plain);
    let out = tmp.path().join("dist-plain");
    let failed = build(&plain, &out, &[]);
    assert_eq!(failed.status.code(), Some(1));
    let err = String::from_utf8_lossy(&failed.stderr);
    assert!(
        err.lines()
            .any(|l| l.starts_with("hint: `vendor/vendor.h` is not among")),
        "{err}"
    );
    std::fs::write(
        plain.join("slipway.toml"),
        format!(
            "{base}\n[build.target.\"linux/arm64\"]\nsysroot = \"{}\"\n",
            sdk.sysroot.display()
        ),
    )
    .unwrap();
    assert_ne!(
        dry_run_cc(&plain),
        without_cc,
        "the settings must change the CC path Go's cache keys on"
    );
    stdout_ok(&build(&plain, &out, &[]), "slipway build with a sysroot");
    let bin = out.join("linux_arm64/candump");
    assert_eq!(qemu_run(&bin).trim(), sdk.expected_line());
    let info: Value = serde_json::from_str(&stdout_ok(
        &slipway()
            .arg("inspect")
            .arg("--json")
            .arg(&bin)
            .output()
            .unwrap(),
        "slipway inspect",
    ))
    .unwrap();
    assert_eq!(info["interpreter"], "/lib/ld-linux-aarch64.so.1", "{info}");
    assert!(
        info.to_string().contains(vendor_sdk::SONAME),
        "DT_NEEDED names the vendor library: {info}"
    );

    // Through pkg-config, with paths relative to the module.
    require("pkg-config", "pkg-config");
    let pc = sdk.write_go_module(&tmp.path().join("pc"), true);
    std::fs::write(
        pc.join("slipway.toml"),
        format!(
            "{base}\n[build.target.\"linux/arm64\"]\nsysroot = \"../vendor/sdk\"\npkg_config_path = [\"../vendor/sdk/usr/lib/pkgconfig\"]\n",
        ),
    )
    .unwrap();
    let out = tmp.path().join("dist-pc");
    stdout_ok(&build(&pc, &out, &[]), "slipway build with pkg-config");
    assert_eq!(
        qemu_run(&out.join("linux_arm64/candump")).trim(),
        sdk.expected_line()
    );

    // Bad settings are refused with the table's name, before anything runs.
    for (table, want) in [
        (
            "sysroot = \"missing\"",
            "[build.target.\"linux/arm64\"] in slipway.toml: sysroot",
        ),
        (
            "cflags = [\"-target=x86_64-linux-gnu\"]",
            "cflags may not set -target",
        ),
        ("sysrot = \"x\"", "unknown field `sysrot`"),
    ] {
        std::fs::write(
            pc.join("slipway.toml"),
            format!("{base}\n[build.target.\"linux/arm64\"]\n{table}\n"),
        )
        .unwrap();
        let bad = build(&pc, &out, &[]);
        assert_eq!(bad.status.code(), Some(2), "{table}");
        let err = String::from_utf8_lossy(&bad.stderr);
        assert!(err.contains(want), "{table}: {err}");
    }
    std::fs::write(
        pc.join("slipway.toml"),
        format!("{base}\n[build.target.\"linux/sparc\"]\ncflags = [\"-O3\"]\n"),
    )
    .unwrap();
    let bad = build(&pc, &out, &[]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("[build.target.\"linux/sparc\"]"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
}

#[test]
fn gnu_cross_gcc_gets_the_settings_passed_through() {
    let tmp = tempfile::tempdir().unwrap();
    let sdk = vendor_sdk::make(&tmp.path().join("vendor"));
    let module = sdk.write_go_module(&tmp.path().join("m"), false);
    // Debian's gcc keeps its own glibc sysroot; the SDK comes in as flags.
    std::fs::write(
        module.join("slipway.toml"),
        format!(
            "[build]\nplatforms = [\"linux/arm64\"]\nlibc = \"glibc:2.36\"\ncc = \"gnu\"\n\n[build.target.\"linux/arm64\"]\ncflags = [\"-I{inc}\"]\nldflags = [\"-L{lib}\"]\n",
            inc = sdk.sysroot.join("usr/include").display(),
            lib = sdk.sysroot.join("usr/lib").display()
        ),
    )
    .unwrap();
    let out = tmp.path().join("dist");
    stdout_ok(
        &build(&module, &out, &[]),
        "slipway build --cc gnu with settings",
    );
    let said = stdout_ok(
        &run_on(
            Arch::Arm64,
            &out.join("linux_arm64/candump"),
            &[],
            Some(&sdk.runtime_root),
        ),
        "candump (gnu)",
    );
    assert_eq!(said.trim(), sdk.expected_line());
}
