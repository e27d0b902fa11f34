//! A corpus of real open-source Go modules, the kind that runs on gateways and
//! edge boxes, fetched through the Go module proxy pinned by version and hash.
//! Each one goes through `slipway image` for several architectures and runs
//! under runc (foreign ones through qemu-user and binfmt_misc), and what it
//! prints is checked.
//!
//! Services are built from their own module (its go.sum pins every
//! dependency). Libraries get a small main package written here, with a
//! go.mod and go.sum that pin them. Go's module and build caches and zig's
//! cache are the machine's shared ones, so a warm run builds nothing.
//!
//! One test per module: `cargo test -p slipway --test corpus -- nats`.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use slipway_testkit::{copy_tree, require, stdout_ok};

mod common;
use common::{bundle, container_id, edit_config, ensure_binfmt, image};

/// A platform, the OCI arch/variant umoci picks, and Go's GOARCH for it.
struct Arch {
    platform: &'static str,
    oci: &'static str,
    variant: Option<&'static str>,
    goarch: &'static str,
    binfmt: Option<&'static str>,
}

const AMD64: Arch = Arch {
    platform: "linux/amd64",
    oci: "amd64",
    variant: None,
    goarch: "amd64",
    binfmt: None,
};
const ARM64: Arch = Arch {
    platform: "linux/arm64",
    oci: "arm64",
    variant: None,
    goarch: "arm64",
    binfmt: Some("aarch64"),
};
const ARMV7: Arch = Arch {
    platform: "linux/arm/v7",
    oci: "arm",
    variant: Some("v7"),
    goarch: "arm",
    binfmt: Some("arm"),
};
const RISCV64: Arch = Arch {
    platform: "linux/riscv64",
    oci: "riscv64",
    variant: None,
    goarch: "riscv64",
    binfmt: Some("riscv64"),
};
const MIPSLE: Arch = Arch {
    platform: "linux/mipsle",
    oci: "mipsle",
    variant: None,
    goarch: "mipsle",
    binfmt: Some("mipsel"),
};

/// `go mod download` a pinned module version and check its hash.
fn download(module: &str, version: &str, sum: &str) -> PathBuf {
    let go = require("go", "golang (Go 1.22+ from go.dev)");
    let out = Command::new(go)
        .args(["mod", "download", "-json", &format!("{module}@{version}")])
        .env("GOFLAGS", "-mod=mod")
        .output()
        .unwrap();
    let info: Value = serde_json::from_str(&String::from_utf8_lossy(&out.stdout))
        .unwrap_or_else(|e| panic!("go mod download {module}@{version}: {e}"));
    assert!(
        info.get("Error").is_none() && out.status.success(),
        "go mod download {module}@{version}: {info}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(info["Sum"], sum, "{module}@{version} is not the pinned zip");
    PathBuf::from(info["Dir"].as_str().unwrap())
}

/// A writable copy of a downloaded module, to build as the main module.
fn service_module(module: &str, version: &str, sum: &str, work: &Path) -> PathBuf {
    let dir = work.join("src");
    copy_tree(&download(module, version, sum), &dir);
    let mut perms = std::fs::metadata(&dir).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perms.set_readonly(false);
    std::fs::set_permissions(&dir, perms).unwrap();
    dir
}

/// A main package that uses a library at a pinned version. `deps` are the
/// library's own requirements: (module, version, zip hash, go.mod hash).
fn library_main(
    work: &Path,
    module: &str,
    version: &str,
    sums: (&str, &str),
    deps: &[(&str, &str, &str, &str)],
    main_go: &str,
) -> PathBuf {
    download(module, version, sums.0);
    let dir = work.join("src");
    std::fs::create_dir_all(&dir).unwrap();
    let mut go_mod =
        format!("module example.com/corpus\n\ngo 1.22\n\nrequire {module} {version}\n");
    let mut go_sum = format!(
        "{module} {version} {}\n{module} {version}/go.mod {}\n",
        sums.0, sums.1
    );
    for (dep, v, zip, gomod) in deps {
        go_mod.push_str(&format!("require {dep} {v} // indirect\n"));
        go_sum.push_str(&format!("{dep} {v} {zip}\n{dep} {v}/go.mod {gomod}\n"));
    }
    std::fs::write(dir.join("go.mod"), go_mod).unwrap();
    std::fs::write(dir.join("go.sum"), go_sum).unwrap();
    std::fs::write(dir.join("main.go"), main_go).unwrap();
    dir
}

/// Run one platform of the image with `args` after the entrypoint; its stdout.
fn run_in_runc(layout: &Path, arch: &Arch, args: &[&str], work: &Path) -> String {
    if let Some(name) = arch.binfmt {
        ensure_binfmt(name);
    }
    let bundle = bundle(layout, arch.oci, arch.variant, work);
    edit_config(&bundle, |c| {
        let process_args = c["process"]["args"].as_array_mut().unwrap();
        process_args.extend(args.iter().map(|a| Value::from(*a)));
        c["process"]["terminal"] = false.into();
    });
    let out = Command::new(require("runc", "runc"))
        .args(["run", "-b"])
        .arg(&bundle)
        .arg(container_id())
        .output()
        .unwrap();
    let text = stdout_ok(&out, &format!("runc run ({})", arch.platform));
    format!("{text}{}", String::from_utf8_lossy(&out.stderr))
}

/// Build the module's image for every arch, run each and check its output.
fn build_and_run(
    module: &Path,
    extra: &[&str],
    archs: &[Arch],
    args: &[&str],
    check: impl Fn(&Arch, &str),
    work: &Path,
) {
    let layout = work.join("layout");
    let platforms: Vec<&str> = archs.iter().map(|a| a.platform).collect();
    let platforms = platforms.join(",");
    let mut flags = vec!["--platform", platforms.as_str()];
    flags.extend(extra);
    let json = image(module, &flags, &layout);
    assert_eq!(
        json["manifests"].as_array().unwrap().len(),
        archs.len(),
        "{json}"
    );
    for arch in archs {
        let said = run_in_runc(&layout, arch, args, work);
        check(arch, &said);
    }
}

#[test]
fn nats_server() {
    let work = tempfile::tempdir().unwrap();
    let src = service_module(
        "github.com/nats-io/nats-server/v2",
        "v2.15.2",
        "h1:yLsgt2kslgymvxvjFq1WGWck5hkat2YYfbXvQ145tzU=",
        work.path(),
    );
    build_and_run(
        &src,
        &["--libc", "none", "--name", "nats-server"],
        &[AMD64, ARM64, ARMV7, RISCV64],
        &["--version"],
        |arch, said| assert_eq!(said.trim(), "nats-server: v2.15.2", "{}", arch.platform),
        work.path(),
    );
}

#[test]
fn node_exporter() {
    let work = tempfile::tempdir().unwrap();
    let src = service_module(
        "github.com/prometheus/node_exporter",
        "v1.12.1",
        "h1:LzcZ6SqJRH2EULBz3Paa1t1uzQaaoo9domuz8FQDkiY=",
        work.path(),
    );
    build_and_run(
        &src,
        &["--libc", "none"],
        &[AMD64, ARM64, ARMV7],
        &["--version"],
        |arch, said| {
            assert!(said.starts_with("node_exporter, version "), "{said}");
            assert!(
                said.contains(&format!("platform:         linux/{}", arch.goarch)),
                "{said}"
            );
        },
        work.path(),
    );
}

#[test]
fn badger_cli() {
    let work = tempfile::tempdir().unwrap();
    let src = service_module(
        "github.com/dgraph-io/badger/v4",
        "v4.9.6",
        "h1:IQqMPVGLNCQr1b4Mu8lHkYm/xyqFRsyKaFEtyLi9CCQ=",
        work.path(),
    );
    build_and_run(
        &src,
        &["--libc", "none", "--package", "./badger"],
        &[AMD64, ARM64, ARMV7],
        &["--help"],
        |arch, said| {
            assert!(
                said.contains("Badger") && said.contains("Usage:"),
                "{}: {said}",
                arch.platform
            )
        },
        work.path(),
    );
}

#[test]
fn mochi_mqtt_broker() {
    let work = tempfile::tempdir().unwrap();
    let src = service_module(
        "github.com/mochi-mqtt/server/v2",
        "v2.7.9",
        "h1:y0g4vrSLAag7T07l2oCzOa/+nKVLoazKEWAArwqBNYI=",
        work.path(),
    );
    build_and_run(
        &src,
        &["--libc", "none", "--package", "./cmd", "--name", "mochi"],
        &[AMD64, ARM64, ARMV7, RISCV64],
        &["-h"],
        |arch, said| {
            assert!(
                said.contains("network address for TCP listener"),
                "{}: {said}",
                arch.platform
            )
        },
        work.path(),
    );
}

const MODBUS_MAIN: &str = r#"// Command corpus serves Modbus TCP on loopback and reads it back as a client.
package main

import (
	"fmt"
	"net"
	"os"
	"runtime"
	"time"

	"github.com/simonvetter/modbus"
)

type plc struct{}

func (plc) HandleCoils(*modbus.CoilsRequest) ([]bool, error) { return nil, modbus.ErrIllegalFunction }
func (plc) HandleDiscreteInputs(*modbus.DiscreteInputsRequest) ([]bool, error) {
	return nil, modbus.ErrIllegalFunction
}
func (plc) HandleInputRegisters(*modbus.InputRegistersRequest) ([]uint16, error) {
	return nil, modbus.ErrIllegalFunction
}
func (plc) HandleHoldingRegisters(req *modbus.HoldingRegistersRequest) ([]uint16, error) {
	out := make([]uint16, req.Quantity)
	for i := range out {
		out[i] = req.Addr + uint16(i)*100
	}
	return out, nil
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}

func main() {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fail(err)
	}
	addr := l.Addr().String()
	l.Close()
	server, err := modbus.NewServer(&modbus.ServerConfiguration{URL: "tcp://" + addr, MaxClients: 2}, plc{})
	if err == nil {
		err = server.Start()
	}
	if err != nil {
		fail(err)
	}
	client, err := modbus.NewClient(&modbus.ClientConfiguration{URL: "tcp://" + addr, Timeout: 5 * time.Second})
	if err == nil {
		err = client.Open()
	}
	if err != nil {
		fail(err)
	}
	regs, err := client.ReadRegisters(7, 3, modbus.HOLDING_REGISTER)
	if err != nil {
		fail(err)
	}
	fmt.Printf("modbus holding registers %v on %s\n", regs, runtime.GOARCH)
}
"#;

#[test]
fn modbus_tcp_round_trip() {
    let work = tempfile::tempdir().unwrap();
    let src = library_main(
        work.path(),
        "github.com/simonvetter/modbus",
        "v1.6.4",
        (
            "h1:E03lBz/JftDza/+Ue+vxwkNZ/WW1xiqyFCUQ4NhqHn0=",
            "h1:hh90ZaTaPLcK2REj6/fpTbiV0J6S7GWmd8q+GVRObPw=",
        ),
        &[(
            "github.com/goburrow/serial",
            "v0.1.0",
            "h1:v2T1SQa/dlUqQiYIT8+Cu7YolfqAi3K96UmhwYyuSrA=",
            "h1:sAiqG0nRVswsm1C97xsttiYCzSLBmUZ/VSlVLZJ8haA=",
        )],
        MODBUS_MAIN,
    );
    build_and_run(
        &src,
        &["--libc", "none"],
        &[AMD64, ARM64, ARMV7, MIPSLE],
        &[],
        |arch, said| {
            assert_eq!(
                said.trim(),
                format!("modbus holding registers [7 107 207] on {}", arch.goarch)
            )
        },
        work.path(),
    );
}

/// The SQLite version a go-sqlite3 release bundles, from its own header.
fn bundled_sqlite_version(module_dir: &Path) -> String {
    let header = std::fs::read_to_string(module_dir.join("sqlite3-binding.h")).unwrap();
    header
        .lines()
        .find_map(|l| l.strip_prefix("#define SQLITE_VERSION "))
        .map(|v| v.trim().trim_matches('"').to_string())
        .expect("SQLITE_VERSION in sqlite3-binding.h")
}

fn go_sqlite3(version: &str, sums: (&str, &str), archs: &[Arch]) {
    let work = tempfile::tempdir().unwrap();
    let sqlite = bundled_sqlite_version(&download("github.com/mattn/go-sqlite3", version, sums.0));
    let src = library_main(
        work.path(),
        "github.com/mattn/go-sqlite3",
        version,
        sums,
        &[],
        common::SQLITE_MAIN,
    );
    build_and_run(
        &src,
        &["--libc", "musl"],
        archs,
        &[],
        |arch, said| {
            assert_eq!(
                said.trim(),
                format!("sqlite {sqlite} sum=42 on {}", arch.goarch)
            )
        },
        work.path(),
    );
}

/// v1.14.17 calls pread64/pwrite64, which musl 1.2.4+ hides unless
/// _LARGEFILE64_SOURCE is defined (fixed upstream in v1.14.19).
#[test]
fn go_sqlite3_before_the_lfs64_fix() {
    go_sqlite3(
        "v1.14.17",
        (
            "h1:mCRHCLDUBXgpKAqIKsaAaAsrAlbkeomtRFKXh2L6YIM=",
            "h1:2eHXhiwb8IkHr+BDWZGa96P6+rkvnG63S2DGjv9HUNg=",
        ),
        &[AMD64, ARM64, ARMV7, RISCV64],
    );
}

#[test]
fn go_sqlite3_current() {
    go_sqlite3(
        "v1.14.53",
        (
            "h1:mnTM0owzUMrKuLo+0w51NUiB0ir2Fo7kFXlPt/l3BGs=",
            "h1:6JTjA44L93a0QCyJef5YvlPoKXntQPjzWv5gtm9sB6w=",
        ),
        &[AMD64, ARM64, ARMV7],
    );
}

const ZSTD_MAIN: &str = r#"// Command corpus round-trips data through the zstd C library.
package main

import (
	"bytes"
	"fmt"
	"os"
	"runtime"

	"github.com/DataDog/zstd"
)

func main() {
	input := bytes.Repeat([]byte("telemetry frame 0042: speed=87 rpm=2450 coolant=91C\n"), 20000)
	packed, err := zstd.CompressLevel(nil, input, 19)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	unpacked, err := zstd.Decompress(nil, packed)
	if err != nil || !bytes.Equal(unpacked, input) {
		fmt.Fprintln(os.Stderr, "round trip failed:", err)
		os.Exit(1)
	}
	fmt.Printf("zstd %d -> %d bytes (under 1%%: %v), round trip ok on %s\n",
		len(input), len(packed), len(packed)*100 < len(input), runtime.GOARCH)
}
"#;

#[test]
fn datadog_zstd() {
    let work = tempfile::tempdir().unwrap();
    let src = library_main(
        work.path(),
        "github.com/DataDog/zstd",
        "v1.5.7",
        (
            "h1:ybO8RBeh29qrxIhCA9E8gKY6xfONU9T6G6aP9DTKfLE=",
            "h1:g4AWEaM3yOg3HYfnJ3YIawPnVdXJh9QME85blwSAmyw=",
        ),
        &[],
        ZSTD_MAIN,
    );
    build_and_run(
        &src,
        &["--libc", "musl"],
        &[AMD64, ARM64, ARMV7],
        &[],
        |arch, said| {
            assert!(
                said.starts_with("zstd 1040000 -> ")
                    && said.trim().ends_with(&format!(
                        "bytes (under 1%: true), round trip ok on {}",
                        arch.goarch
                    )),
                "{said}"
            )
        },
        work.path(),
    );
}
