//! Two CI runners on one machine that share nothing but a remote cache: a
//! real nginx serving the Bazel HTTP cache protocol through WebDAV `PUT`,
//! started by the test on 127.0.0.1. Each runner has its own HOME, GOCACHE,
//! slipway cache and zig cache. Runner A builds a cgo image for three
//! platforms and fills the remote; runner B, empty locally, builds the same
//! module and must get the same index digest, with its zig runtimes restored
//! from the remote (none compiled), its Go build and its compressed layers
//! served from it.
//!
//! Like two ephemeral CI runners, both see the same paths: A works in
//! `runner/`, which is then moved aside, and B starts on an empty `runner/`.
//! (slipway's cgo binaries still depend on where its cache is: the CC
//! wrapper's path is part of Go's build ID. The zig runtimes themselves do
//! not: each is built in a staging directory and restored elsewhere.)
//!
//! The remote (its storage, config and logs) lives in the test target's tmp
//! directory and is reused by later runs, so only the first run on a machine
//! pays for A's cold zig runtimes; later runs restore them on A as on B.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::Value;
use slipway_testkit::cache_servers::Nginx;
use slipway_testkit::{copy_tree, example};

/// glibc targets: zig builds glibc's stubs in seconds where all of musl takes
/// minutes, which keeps runner A's cold run short; the image carries the
/// sysroots' glibc (`--runtime glibc`).
const PLATFORMS: &str = "linux/amd64,linux/arm64,linux/arm/v7";
const RUNTIMES: usize = 3;

/// One runner's private directories.
struct Runner {
    dir: PathBuf,
}

impl Runner {
    fn new(dir: PathBuf) -> Runner {
        for sub in ["home", "gocache", "slipway"] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
        }
        Runner { dir }
    }

    fn zig_cache(&self) -> PathBuf {
        self.dir.join("slipway/zig")
    }

    /// `slipway image --json` of `module` with this runner's caches.
    fn image(&self, module: &Path, remote: &str) -> (Value, String, Duration) {
        let started = Instant::now();
        let out: Output = Command::new(assert_cmd::cargo::cargo_bin!("slipway"))
            .arg("image")
            .arg(module)
            .args([
                "--platform",
                PLATFORMS,
                "--libc",
                "glibc:2.28",
                "--runtime",
                "glibc",
            ])
            .args(["--json", "--out"])
            .arg(self.dir.join("image"))
            .env("HOME", self.dir.join("home"))
            .env("GOCACHE", self.dir.join("gocache"))
            .env("SLIPWAY_CACHE_DIR", self.dir.join("slipway"))
            .arg("--cache-remote")
            .arg(remote)
            .env_remove("SLIPWAY_CACHE_REMOTE")
            .env_remove("SLIPWAY_CACHE_REMOTE_MODE")
            .env_remove("XDG_CACHE_HOME")
            .env_remove("ZIG_GLOBAL_CACHE_DIR")
            .env_remove("ZIG_LOCAL_CACHE_DIR")
            .env_remove("GOCACHEPROG")
            .env("CI", "true")
            .output()
            .unwrap();
        let took = started.elapsed();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(
            out.status.success(),
            "slipway image failed for {}:\n{stderr}",
            self.dir.display()
        );
        let json: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!("not JSON ({e}):\n{}", String::from_utf8_lossy(&out.stdout))
        });
        (json, stderr, took)
    }
}

/// Runtime archives in a zig cache (libc, libc_nonshared, compiler-rt).
fn archives(zig_cache: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for d in std::fs::read_dir(zig_cache.join("o"))
        .into_iter()
        .flatten()
        .flatten()
    {
        for f in ["libc.a", "libc_nonshared.a", "libcompiler_rt.a"] {
            if d.path().join(f).is_file() {
                out.push(d.path().join(f));
            }
        }
    }
    out.sort();
    out
}

/// `tiers.<tier>.<ns>.<field>` of a stats object, 0 when absent.
fn count(stats: &Value, tier: &str, ns: &str, field: &str) -> u64 {
    stats["tiers"][tier][ns][field].as_u64().unwrap_or(0)
}

#[test]
fn a_second_runner_gets_the_same_image_from_the_remote() {
    let tmp = tempfile::tempdir().unwrap();
    let server =
        Nginx::start(&PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cache-runners-nginx"));
    let remote = server.url();
    let module = tmp.path().join("hello");
    copy_tree(&example("hello"), &module);

    let a = Runner::new(tmp.path().join("runner"));
    let (image_a, said_a, took_a) = a.image(&module, &remote);
    eprintln!("runner A ({:.1}s):\n{said_a}", took_a.as_secs_f64());
    // A either built each runtime and uploaded it, or (on later runs of
    // this test) restored it; either way the remote now holds all three.
    let served_a = said_a.matches("built and uploaded").count()
        + said_a.matches("restored from the remote cache").count();
    assert_eq!(
        served_a, RUNTIMES,
        "runner A did not go through the cache:\n{said_a}"
    );

    // A's machine is gone; B starts empty at the same place.
    std::fs::rename(tmp.path().join("runner"), tmp.path().join("a")).unwrap();
    let b = Runner::new(tmp.path().join("runner"));
    let before = archives(&b.zig_cache());
    assert!(before.is_empty());
    let (image_b, said_b, took_b) = b.image(&module, &remote);
    eprintln!("runner B ({:.1}s):\n{said_b}", took_b.as_secs_f64());

    assert_eq!(
        image_a["index_digest"], image_b["index_digest"],
        "two runners built different images"
    );
    // Every runtime came from the remote, and zig compiled none during B's build.
    assert_eq!(
        said_b.matches("restored from the remote cache").count(),
        RUNTIMES,
        "{said_b}"
    );
    assert!(
        !said_b.contains("built and uploaded") && !said_b.contains("before the first cgo build"),
        "{said_b}"
    );
    assert!(!said_b.contains("zig compiled"), "{said_b}");
    assert!(
        !archives(&b.zig_cache()).is_empty(),
        "no runtime archive was restored"
    );
    let steps = &image_b["cache_steps"];
    eprintln!("runner B cache counters: {steps}");
    assert_eq!(count(steps, "remote", "zig", "misses"), 0, "{steps}");
    assert!(
        count(steps, "remote", "zig", "hits") >= RUNTIMES as u64,
        "{steps}"
    );
    // B's Go build was served from the remote through GOCACHEPROG.
    let go = &image_b["cache"];
    assert!(count(go, "remote", "go", "hits") > 0, "{go}");
    // Every compressed layer B needed came from the remote: none compressed here.
    assert!(count(steps, "remote", "layer", "hits") > 0, "{steps}");
    assert_eq!(count(steps, "remote", "layer", "misses"), 0, "{steps}");
    assert_eq!(image_b["compressed_layers"], 0, "{image_b}");
}
