//! `--allocator mimalloc`: mimalloc serves every C allocation (cgo code and
//! the C library's own callers) on musl and glibc targets of amd64, arm64,
//! arm/v7 and riscv64; targets that cannot take it are refused with exit 2;
//! `inspect` and the SBOM name it; and a running service's allocator
//! statistics come out on an interval or on a signal.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::Value;
use slipway_platform::Arch;
use slipway_testkit::{require, run_on, stdout_ok};

mod common;
use common::{exit_code, slipway};

fn write(dir: &Path, files: &[(&str, &str)]) -> PathBuf {
    for (name, text) in files {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    dir.to_path_buf()
}

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

/// C that allocates every way a C program does, and asks mimalloc whether
/// it owns each pointer. `mi_is_in_heap_region` is weak: with the C
/// library's malloc it is absent and the probe says `linked=0`.
const PROBE: &str = r#"// Command allocprobe reports which allocator served its C allocations.
package main

/*
#include <malloc.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern bool mi_is_in_heap_region(const void *p) __attribute__((weak));

static int mine(const void *p) {
	return mi_is_in_heap_region != NULL && mi_is_in_heap_region(p);
}

static void probe(void) {
	void *m = malloc(100);
	void *c = calloc(10, 10);
	void *r = realloc(malloc(16), 4000);
	void *a = aligned_alloc(64, 256);
	void *pm = NULL;
	int pmerr = posix_memalign(&pm, 128, 300);
	char *dup = strdup("allocated inside the C library");
	printf("linked=%d malloc=%d calloc=%d realloc=%d aligned_alloc=%d posix_memalign=%d strdup=%d usable=%d\n",
		mi_is_in_heap_region != NULL, mine(m), mine(c), mine(r), mine(a),
		pmerr == 0 && mine(pm), mine(dup), malloc_usable_size(m) >= 100);
	fflush(stdout);
	free(m); free(c); free(r); free(a); free(pm); free(dup);
}
*/
import "C"

import "sync"

func main() {
	C.probe()
	// Threads Go creates come and go through mimalloc's thread-exit hook.
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); C.probe() }()
	}
	wg.Wait()
}
"#;

const ALL_MIMALLOC: &str =
    "linked=1 malloc=1 calloc=1 realloc=1 aligned_alloc=1 posix_memalign=1 strdup=1 usable=1";

fn probe_module(dir: &Path) -> PathBuf {
    write(
        dir,
        &[
            ("go.mod", "module example.com/allocprobe\n\ngo 1.22\n"),
            ("main.go", PROBE),
        ],
    )
}

/// Every line the probe printed (main thread and eight goroutines).
fn assert_probe(stdout: &str, expected: &str, what: &str) {
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 9, "{what}: {stdout}");
    for line in lines {
        assert_eq!(line, expected, "{what}");
    }
}

/// Symbol name -> value, from the symbol table of `file` (readelf reads
/// every architecture).
fn symbols(file: &Path) -> Vec<(String, String)> {
    let readelf = require("readelf", "binutils-multiarch");
    let out = Command::new(readelf)
        .args(["-sW"])
        .arg(file)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() >= 8 && f[3] == "FUNC").then(|| (f[7].to_string(), f[1].to_string()))
        })
        .collect()
}

fn address(syms: &[(String, String)], name: &str) -> Option<String> {
    syms.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone())
}

fn inspect_allocator(bin: &Path) -> Value {
    let out = slipway()
        .arg("inspect")
        .arg("--json")
        .arg(bin)
        .output()
        .unwrap();
    let v: Value = serde_json::from_str(&stdout_ok(&out, "slipway inspect --json")).unwrap();
    v["allocator"].clone()
}

#[test]
fn mimalloc_serves_every_c_allocation_on_musl_and_glibc_targets() {
    let tmp = tempfile::tempdir().unwrap();
    let module = probe_module(&tmp.path().join("probe"));
    let platforms = "linux/amd64,linux/arm64,linux/arm/v7,linux/riscv64";
    let targets = [
        (Arch::Amd64, "linux_amd64", "/usr/x86_64-linux-gnu"),
        (Arch::Arm64, "linux_arm64", "/usr/aarch64-linux-gnu"),
        (Arch::Arm, "linux_arm_v7", "/usr/arm-linux-gnueabihf"),
        (Arch::Riscv64, "linux_riscv64", "/usr/riscv64-linux-gnu"),
    ];
    for libc in ["musl", "glibc:2.28"] {
        let out = tmp.path().join(format!("dist-{libc}"));
        stdout_ok(
            &build(
                &module,
                &out,
                &[
                    "--platform",
                    platforms,
                    "--libc",
                    libc,
                    "--allocator",
                    "mimalloc",
                ],
            ),
            &format!("slipway build --libc {libc} --allocator mimalloc"),
        );
        for (arch, dir, sysroot) in targets {
            let bin = out.join(dir).join("allocprobe");
            let sysroot = (libc != "musl").then(|| Path::new(sysroot));
            if let Some(root) = sysroot {
                assert!(
                    root.join("lib").is_dir(),
                    "{} is missing: run scripts/setup.sh (libc6-*-cross)",
                    root.display()
                );
            }
            let said = stdout_ok(&run_on(arch, &bin, &[], sysroot), &format!("{dir} {libc}"));
            assert_probe(&said, ALL_MIMALLOC, &format!("{dir} {libc}"));
            // malloc/free/calloc/realloc in the binary are mimalloc's own
            // entry points: nothing of the C library's malloc is linked.
            let syms = symbols(&out.join(dir).join("allocprobe.debug"));
            for (c, mi) in [
                ("malloc", "mi_malloc"),
                ("free", "mi_free"),
                ("calloc", "mi_calloc"),
                ("realloc", "mi_realloc"),
            ] {
                let at = address(&syms, c);
                assert!(at.is_some(), "{dir} {libc}: no {c}");
                assert_eq!(at, address(&syms, mi), "{dir} {libc}: {c} is not {mi}");
            }
            assert_eq!(
                inspect_allocator(&bin),
                serde_json::json!({"name": "mimalloc", "version": slipway_alloc::MIMALLOC_VERSION}),
                "{dir} {libc}"
            );
        }
    }

    // The same probe with the C library's malloc says so, and has none of
    // mimalloc's symbols: the checks above can fail.
    let out = tmp.path().join("dist-libc");
    stdout_ok(
        &build(
            &module,
            &out,
            &["--platform", "linux/amd64", "--libc", "musl"],
        ),
        "slipway build --libc musl",
    );
    let bin = out.join("linux_amd64/allocprobe");
    let said = stdout_ok(&run_on(Arch::Amd64, &bin, &[], None), "libc probe");
    assert_probe(
        &said,
        "linked=0 malloc=0 calloc=0 realloc=0 aligned_alloc=0 posix_memalign=0 strdup=0 usable=1",
        "libc",
    );
    let syms = symbols(&out.join("linux_amd64/allocprobe.debug"));
    assert!(address(&syms, "malloc").is_some());
    assert!(address(&syms, "mi_malloc").is_none());
    assert_eq!(
        inspect_allocator(&bin),
        serde_json::json!({"name": "libc", "version": null})
    );
}

#[test]
fn the_sbom_lists_the_linked_allocator() {
    let tmp = tempfile::tempdir().unwrap();
    let module = probe_module(&tmp.path().join("probe"));
    let mut components = Vec::new();
    for allocator in ["mimalloc", "libc"] {
        let out = tmp.path().join(allocator);
        stdout_ok(
            &build(
                &module,
                &out,
                &[
                    "--platform",
                    "linux/arm64",
                    "--libc",
                    "musl",
                    "--allocator",
                    allocator,
                ],
            ),
            "slipway build",
        );
        let sbom = slipway()
            .arg("sbom")
            .arg(out.join("linux_arm64/allocprobe"))
            .args(["--format", "cyclonedx-json"])
            .output()
            .unwrap();
        let doc: Value = serde_json::from_str(&stdout_ok(&sbom, "slipway sbom")).unwrap();
        let found: Vec<Value> = doc["components"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["name"] == "mimalloc")
            .cloned()
            .collect();
        components.push(found);
    }
    let [with, without] = [&components[0], &components[1]];
    assert_eq!(with.len(), 1, "{with:?}");
    assert_eq!(with[0]["version"], slipway_alloc::MIMALLOC_VERSION);
    assert_eq!(
        with[0]["purl"],
        format!("pkg:generic/mimalloc@{}", slipway_alloc::MIMALLOC_VERSION)
    );
    assert!(without.is_empty(), "{without:?}");
}

#[test]
fn targets_that_cannot_take_mimalloc_are_refused_with_a_reason() {
    let tmp = tempfile::tempdir().unwrap();
    let module = probe_module(&tmp.path().join("probe"));
    let out = tmp.path().join("dist");
    for (args, says) in [
        (
            vec![
                "--platform",
                "linux/mipsle",
                "--libc",
                "musl",
                "--allocator",
                "mimalloc",
            ],
            "32-bit MIPS has no lock-free 64-bit atomics",
        ),
        (
            vec!["--platform", "linux/amd64", "--allocator", "mimalloc"],
            "no C library (libc none",
        ),
        (
            vec![
                "--platform",
                "linux/arm64",
                "--libc",
                "glibc:2.28",
                "--cc",
                "gnu",
                "--allocator",
                "mimalloc",
            ],
            "needs cc = \"zig\"",
        ),
        (
            vec![
                "--platform",
                "linux/amd64",
                "--libc",
                "musl",
                "--allocator",
                "tcmalloc",
            ],
            "unknown allocator \"tcmalloc\"",
        ),
    ] {
        let got = build(&module, &out, &args);
        let err = String::from_utf8_lossy(&got.stderr);
        assert_eq!(exit_code(&got), 2, "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
        assert!(!out.exists(), "{args:?} wrote output");
    }
    let got = build(
        &module,
        &out,
        &[
            "--platform",
            "linux/amd64",
            "--libc",
            "musl",
            "--allocator",
            "mimalloc",
            "--ldflags",
            "-extldflags=-Wl,-z,now",
        ],
    );
    let err = String::from_utf8_lossy(&got.stderr);
    assert_eq!(exit_code(&got), 2, "{err}");
    assert!(err.contains("cannot be combined with -extldflags"), "{err}");
    // The same from slipway.toml.
    std::fs::write(
        module.join("slipway.toml"),
        "[build]\nallocator = \"mimalloc\"\nplatforms = [\"linux/mips\"]\nlibc = \"musl\"\n",
    )
    .unwrap();
    let got = build(&module, &out, &[]);
    let err = String::from_utf8_lossy(&got.stderr);
    assert_eq!(exit_code(&got), 2, "{err}");
    assert!(
        err.contains("allocator = \"mimalloc\" cannot be used for linux/mips"),
        "{err}"
    );
    std::fs::write(
        module.join("slipway.toml"),
        "[build]\nallocator = \"jemalloc\"\n",
    )
    .unwrap();
    let got = build(
        &module,
        &out,
        &["--platform", "linux/amd64", "--libc", "musl"],
    );
    let err = String::from_utf8_lossy(&got.stderr);
    assert_eq!(exit_code(&got), 2, "{err}");
    assert!(err.contains("slipway.toml: [build] allocator"), "{err}");
}

/// A service that allocates in C, then either waits (for the interval
/// thread) or prints mimalloc's statistics itself on SIGUSR1.
const STATS: &str = r#"// Command allocstats allocates in C and reports allocator statistics.
package main

/*
#include <stddef.h>
#include <stdlib.h>

extern void mi_stats_print_out(void *out, void *arg) __attribute__((weak));

static int print_allocator_stats(void) {
	if (mi_stats_print_out == NULL) return 0;
	mi_stats_print_out(NULL, NULL);
	return 1;
}

static void churn(int n) {
	void *keep[256];
	for (int i = 0; i < n; i++) {
		void *p = malloc((size_t)(16 + (i * 37) % 40000));
		if (i % 256 == 0) keep[(i / 256) % 256] = p; else free(p);
	}
	(void)keep;
}
*/
import "C"

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	C.churn(200000)
	if len(os.Args) > 1 && os.Args[1] == "signal" {
		usr1 := make(chan os.Signal, 1)
		signal.Notify(usr1, syscall.SIGUSR1)
		fmt.Println("ready")
		select {
		case <-usr1:
			fmt.Println("printed:", C.print_allocator_stats() == 1)
		case <-time.After(20 * time.Second):
			fmt.Println("no signal")
		}
		return
	}
	time.Sleep(2500 * time.Millisecond)
}
"#;

#[test]
fn allocator_statistics_come_out_of_a_running_service() {
    let tmp = tempfile::tempdir().unwrap();
    let module = write(
        &tmp.path().join("stats"),
        &[
            ("go.mod", "module example.com/allocstats\n\ngo 1.22\n"),
            ("main.go", STATS),
        ],
    );
    let out = tmp.path().join("dist");
    stdout_ok(
        &build(
            &module,
            &out,
            &[
                "--platform",
                "linux/amd64",
                "--libc",
                "musl",
                "--allocator",
                "mimalloc",
            ],
        ),
        "slipway build",
    );
    let bin = out.join("linux_amd64/allocstats");

    // Every second, from the thread slipway's allocator unit starts.
    let run = Command::new(&bin)
        .env("SLIPWAY_MALLOC_STATS_INTERVAL", "1")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{err}");
    let reports = err.matches("peak rss").count();
    assert!(
        (2..=3).contains(&reports),
        "{reports} reports in 2.5 s:\n{err}"
    );
    assert!(committed_bytes(&err) > 0.0, "{err}");

    // A bad interval is said, not ignored.
    let run = Command::new(&bin)
        .env("SLIPWAY_MALLOC_STATS_INTERVAL", "soon")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(
        err.contains("SLIPWAY_MALLOC_STATS_INTERVAL must be whole seconds"),
        "{err}"
    );

    // Exit statistics (MIMALLOC_SHOW_STATS) never come from a Go program:
    // Go exits through exit_group, not C's exit. docs/allocator.md says so.
    let run = Command::new(&bin)
        .env("MIMALLOC_SHOW_STATS", "1")
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&run.stderr).contains("peak rss"));

    // On demand: the service prints them itself on SIGUSR1.
    let mut child = Command::new(&bin)
        .arg("signal")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "ready");
    std::thread::sleep(Duration::from_millis(100));
    // SAFETY: plain kill(2) on our own child's pid.
    let rc = unsafe { libc::kill(child.id() as i32, libc::SIGUSR1) };
    assert_eq!(rc, 0);
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(child.wait().unwrap().success());
    assert_eq!(rest.trim(), "printed: true", "{err}");
    assert!(committed_bytes(&err) > 0.0, "{err}");
    assert!(err.contains("peak rss"), "{err}");
}

/// The peak of the `committed` row of mimalloc's statistics, in bytes.
fn committed_bytes(stats: &str) -> f64 {
    let line = stats
        .lines()
        .find(|l| l.trim_start().starts_with("committed"))
        .unwrap_or_else(|| panic!("no committed row in:\n{stats}"));
    let fields: Vec<&str> = line.split_whitespace().collect();
    // "committed :  2.4 MiB  2.4 MiB ..."
    let value: f64 = fields[2].parse().unwrap();
    let unit = match fields[3] {
        "B" => 1.0,
        "KiB" => 1024.0,
        "MiB" => 1024.0 * 1024.0,
        "GiB" => 1024.0 * 1024.0 * 1024.0,
        other => panic!("unit {other} in {line}"),
    };
    value * unit
}

/// C that reads two of mimalloc's options and measures what a burst of
/// freed memory leaves resident. `mi_option_get` is weak, as in the probe.
const OPTIONS: &str = r#"// Command allocopts reports mimalloc's option values and the RSS after a free.
package main

/*
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern long mi_option_get(int option) __attribute__((weak));

// Indexes of mi_option_t in mimalloc 3.3.2's mimalloc.h.
enum { ARENA_EAGER_COMMIT = 4, PURGE_DELAY = 15 };

static long resident_mib(void) {
	long pages = 0, resident = 0;
	FILE *f = fopen("/proc/self/statm", "r");
	if (f == NULL) return -1;
	if (fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = -1;
	fclose(f);
	return resident * sysconf(_SC_PAGESIZE) / (1024 * 1024);
}

static void report(void) {
	if (mi_option_get == NULL) { printf("linked=0\n"); fflush(stdout); return; }
	// 64 MiB in 256 KiB blocks, every page touched, then all freed.
	enum { N = 256, SIZE = 256 * 1024 };
	static void *blocks[N];
	for (int i = 0; i < N; i++) {
		blocks[i] = malloc(SIZE);
		if (blocks[i] == NULL) abort();
		memset(blocks[i], 1, SIZE);
	}
	long full = resident_mib();
	for (int i = 0; i < N; i++) free(blocks[i]);
	printf("purge_delay=%ld arena_eager_commit=%ld full=%ld after_free=%ld\n",
		mi_option_get(PURGE_DELAY), mi_option_get(ARENA_EAGER_COMMIT), full, resident_mib());
	// Go leaves through exit_group: C's stdio buffers are never flushed for it.
	fflush(stdout);
}
*/
import "C"

func main() { C.report() }
"#;

/// The values after `purge_delay=`, `arena_eager_commit=`, `full=` and
/// `after_free=` in the program's one line.
fn options_line(stdout: &str) -> [i64; 4] {
    let mut values = [0i64; 4];
    for (i, key) in [
        "purge_delay=",
        "arena_eager_commit=",
        "full=",
        "after_free=",
    ]
    .iter()
    .enumerate()
    {
        let at = stdout
            .find(key)
            .unwrap_or_else(|| panic!("no {key} in {stdout:?}"));
        let rest = &stdout[at + key.len()..];
        let end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '-'))
            .unwrap_or(rest.len());
        values[i] = rest[..end].parse().unwrap();
    }
    values
}

/// slipway builds mimalloc with its own defaults (commit arenas as used;
/// on musl, purge at once, so freed memory leaves the RSS before the next
/// allocation). The MIMALLOC_* variables docs/allocator.md names bring
/// mimalloc's upstream defaults back, and the freed memory then stays.
#[test]
fn mimalloc_is_built_with_slipways_device_defaults_and_env_restores_upstreams() {
    let tmp = tempfile::tempdir().unwrap();
    let module = write(
        &tmp.path().join("opts"),
        &[
            ("go.mod", "module example.com/allocopts\n\ngo 1.22\n"),
            ("main.go", OPTIONS),
        ],
    );
    for libc in ["musl", "glibc:2.28"] {
        let out = tmp.path().join(format!("dist-{libc}"));
        stdout_ok(
            &build(
                &module,
                &out,
                &[
                    "--platform",
                    "linux/amd64",
                    "--libc",
                    libc,
                    "--allocator",
                    "mimalloc",
                ],
            ),
            &format!("slipway build --libc {libc} --allocator mimalloc"),
        );
        let bin = out.join("linux_amd64/allocopts");
        let run = |env: &[(&str, &str)]| {
            let o = Command::new(&bin)
                .envs(env.iter().copied())
                .output()
                .unwrap();
            options_line(&stdout_ok(&o, &format!("{libc} allocopts {env:?}")))
        };
        // musl: purge at once; glibc keeps mimalloc's 1 s (docs/allocator.md).
        let [delay, eager, full, after] = run(&[]);
        let musl = libc == "musl";
        assert_eq!(
            (delay, eager),
            (if musl { 0 } else { 1000 }, 0),
            "{libc}: slipway's defaults"
        );
        assert!(full >= 64, "{libc}: {full} MiB resident with 64 MiB live");
        let returned = after + 32 <= full;
        assert_eq!(
            returned, musl,
            "{libc}: {after} MiB resident after freeing 64 MiB of {full} MiB"
        );
        // The variables give mimalloc's upstream values, and the other
        // delay its behaviour.
        let [delay, eager, full, after] = run(&[
            ("MIMALLOC_PURGE_DELAY", "1000"),
            ("MIMALLOC_ARENA_EAGER_COMMIT", "2"),
        ]);
        assert_eq!((delay, eager), (1000, 2), "{libc}: upstream's defaults");
        assert!(
            after + 8 >= full,
            "{libc}: with a 1 s purge delay the freed memory stays resident ({after} of {full} MiB)"
        );
        let [delay, _, full, after] = run(&[("MIMALLOC_PURGE_DELAY", "0")]);
        assert_eq!(delay, 0, "{libc}");
        assert!(
            after + 32 <= full,
            "{libc}: with no purge delay {after} of {full} MiB stay resident"
        );
    }
}
