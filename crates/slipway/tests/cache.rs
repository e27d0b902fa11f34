//! The remote build cache against real servers on 127.0.0.1: the real
//! `go build` through `slipway cache-prog`, with nginx (the Bazel HTTP cache
//! protocol over WebDAV `PUT`) and versitygw (S3) behind it; faults from a
//! proxy, a killed server and a corrupted body; a read-only runner.
//!
//! Each "runner" has its own empty GOCACHE and slipway cache and shares
//! only the remote. Every build must give the bytes a plain `go build` gives.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use serde_json::Value;
use sha2::Digest;
use slipway_testkit::cache_servers::{FaultProxy, Nginx, Versitygw};

use common::slipway;

/// A small module: `go build` of it compiles the runtime and ~30 packages.
fn module(dir: &Path, message: &str) -> PathBuf {
    let m = dir.join("module");
    std::fs::create_dir_all(&m).unwrap();
    std::fs::write(
        m.join("go.mod"),
        "module example.com/cachetest\n\ngo 1.24\n",
    )
    .unwrap();
    std::fs::write(
        m.join("main.go"),
        format!("package main\n\nfunc main() {{ println({message:?}) }}\n"),
    )
    .unwrap();
    m
}

fn go() -> PathBuf {
    slipway_testkit::require("go", "golang (scripts/setup.sh installs Go)")
}

fn base_env(cmd: &mut Command, runner: &Path) {
    cmd.env("GOCACHE", runner.join("gocache"))
        .env("CGO_ENABLED", "0")
        .env("GOFLAGS", "-trimpath")
        .env("GOTOOLCHAIN", "local")
        .env("GOENV", "off")
        .env("GOWORK", "off")
        .env_remove("GOCACHEPROG")
        .env_remove("SLIPWAY_CACHE_REMOTE")
        .env_remove("SLIPWAY_CACHE_REMOTE_MODE")
        .env_remove("SLIPWAY_CACHE_QUIET")
        .env("XDG_CONFIG_HOME", runner.join("config"));
}

/// The bytes of a plain `go build` (no GOCACHEPROG) of a module, once per message.
fn reference(message: &str) -> Vec<u8> {
    static REFS: OnceLock<std::sync::Mutex<BTreeMap<String, Vec<u8>>>> = OnceLock::new();
    let refs = REFS.get_or_init(Default::default);
    if let Some(b) = refs.lock().unwrap().get(message) {
        return b.clone();
    }
    let dir = tempfile::tempdir().unwrap();
    let m = module(dir.path(), message);
    let out = dir.path().join("app");
    let mut cmd = Command::new(go());
    base_env(&mut cmd, dir.path());
    let o = cmd
        .current_dir(&m)
        .args(["build", "-o"])
        .arg(&out)
        .arg(".")
        .output()
        .unwrap();
    assert!(o.status.success(), "plain go build: {o:?}");
    let bytes = std::fs::read(&out).unwrap();
    refs.lock()
        .unwrap()
        .insert(message.to_string(), bytes.clone());
    bytes
}

/// One build by a fresh runner through `slipway cache-prog`.
struct Run {
    output: Output,
    binary: Vec<u8>,
    stats: Value,
}

impl Run {
    fn remote(&self, field: &str) -> u64 {
        total(&self.stats, "remote", field)
    }
    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }
}

fn total(stats: &Value, tier: &str, field: &str) -> u64 {
    stats["tiers"][tier]
        .as_object()
        .map(|by_ns| by_ns.values().map(|s| s[field].as_u64().unwrap_or(0)).sum())
        .unwrap_or(0)
}

/// Build `message`'s module as a new runner (empty GOCACHE and slipway
/// cache) with the remote `url` and extra variables.
fn runner_build(url: &str, mode: &str, message: &str, env: &[(String, String)]) -> Run {
    let runner = tempfile::tempdir().unwrap();
    let m = module(runner.path(), message);
    let stats_dir = runner.path().join("stats");
    std::fs::create_dir_all(&stats_dir).unwrap();
    let out = runner.path().join("app");
    let exe = assert_cmd::cargo::cargo_bin!("slipway");
    let mut cmd = Command::new(go());
    base_env(&mut cmd, runner.path());
    cmd.current_dir(&m)
        .env("GOCACHEPROG", format!("{} cache-prog", exe.display()))
        .env("SLIPWAY_CACHE_DIR", runner.path().join("slipway-cache"))
        .env("SLIPWAY_CACHE_REMOTE", url)
        .env("SLIPWAY_CACHE_REMOTE_MODE", mode)
        .env("SLIPWAY_CACHE_STATS_DIR", &stats_dir)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .args(["build", "-o"])
        .arg(&out)
        .arg(".");
    let output = cmd.output().unwrap();
    assert!(
        output.status.success(),
        "go build through slipway cache-prog failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let binary = std::fs::read(&out).unwrap();
    let files: Vec<_> = std::fs::read_dir(&stats_dir)
        .unwrap()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
        .collect();
    assert_eq!(files.len(), 1, "one cache-prog per go build");
    let stats: Value = serde_json::from_slice(&std::fs::read(files[0].path()).unwrap()).unwrap();
    Run {
        output,
        binary,
        stats,
    }
}

/// Every file under `dir` with the SHA-256 of its bytes.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, String> {
    let mut out = BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                todo.push(p);
            } else {
                let bytes = std::fs::read(&p).unwrap();
                out.insert(
                    p,
                    base16ct::lower::encode_string(&sha2::Sha256::digest(&bytes)),
                );
            }
        }
    }
    out
}

/// The largest file under `dir`.
fn largest(dir: &Path) -> PathBuf {
    snapshot(dir)
        .into_keys()
        .max_by_key(|p| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0))
        .expect("a file")
}

fn corrupt(path: &Path) {
    let mut bytes = std::fs::read(path).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x5a;
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn nginx_remote_serves_a_second_runner_and_survives_faults() {
    let expected = reference("cache test");
    let dir = tempfile::tempdir().unwrap();
    let mut nginx = Nginx::start(&dir.path().join("nginx"));
    let url = nginx.url();

    // Runner A fills the remote.
    let a = runner_build(&url, "readwrite", "cache test", &[]);
    assert_eq!(
        a.binary, expected,
        "runner A's binary differs from a plain go build"
    );
    assert!(a.remote("puts") > 30, "A uploaded: {}", a.stats);
    let cas = nginx.storage().join("cas");
    assert!(
        cas.read_dir().unwrap().count() > 30,
        "nginx stores /cas bodies"
    );
    assert!(nginx.storage().join("ac").read_dir().unwrap().count() > 30);

    // Runner B, empty locally, is served by the remote.
    let b = runner_build(&url, "readwrite", "cache test", &[]);
    assert_eq!(b.binary, expected);
    assert!(b.remote("hits") > 30, "B hits: {}", b.stats);
    assert_eq!(b.remote("faults") + b.remote("corrupt"), 0, "{}", b.stats);
    // Only what Go never caches (the final link) is put again.
    assert!(
        b.remote("puts") * 10 < a.remote("puts"),
        "B rebuilt: {}",
        b.stats
    );

    // A body corrupted in the server's storage is a counted miss, and the
    // build redoes that work.
    let victim = largest(&cas);
    corrupt(&victim);
    let c = runner_build(&url, "readwrite", "cache test", &[]);
    assert_eq!(c.binary, expected);
    assert!(c.remote("corrupt") >= 1, "corruption counted: {}", c.stats);
    assert!(c.stderr().contains("dropped blob"), "{}", c.stderr());

    // A read-only runner writes nothing (B, read-write, put what Go never
    // takes from a cache): storage unchanged, not a single PUT or HEAD sent.
    let before = snapshot(&nginx.storage());
    let log = dir.path().join("nginx/access.log");
    let writes = || {
        std::fs::read_to_string(&log)
            .unwrap()
            .lines()
            .filter(|l| l.contains("\"PUT ") || l.contains("\"HEAD "))
            .count()
    };
    let writes_before = writes();
    assert!(b.remote("puts") > 0);
    let d = runner_build(&url, "read", "cache test", &[]);
    assert_eq!(d.binary, expected);
    assert!(d.remote("hits") > 30, "{}", d.stats);
    assert_eq!(d.remote("puts"), 0);
    assert_eq!(
        snapshot(&nginx.storage()),
        before,
        "a read-only runner changed the server"
    );
    assert_eq!(writes(), writes_before);

    // Behind a proxy that breaks 1 request in 3 (503, dropped connection,
    // truncated body): same bytes, one warning.
    let proxy = FaultProxy::start(nginx.port(), 3);
    let e = runner_build(&proxy.url(), "readwrite", "cache test", &[]);
    assert_eq!(e.binary, expected);
    assert!(proxy.faults.load(std::sync::atomic::Ordering::Relaxed) >= 1);
    assert!(e.remote("faults") >= 1, "{}", e.stats);
    assert_eq!(
        e.stderr().matches("failed (").count(),
        1,
        "one warning per run:\n{}",
        e.stderr()
    );

    // The server killed while a runner uses it.
    let log_lines = || {
        std::fs::read_to_string(&log)
            .map(|t| t.lines().count())
            .unwrap_or(0)
    };
    let seen = log_lines();
    let killer = std::thread::scope(|s| {
        let build = s.spawn(|| runner_build(&url, "readwrite", "cache test", &[]));
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while log_lines() < seen + 5 && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        nginx.kill();
        build.join().unwrap()
    });
    assert_eq!(killer.binary, expected);
    assert!(killer.remote("faults") >= 1, "{}", killer.stats);
    assert!(
        killer.stats["remote"]["disabled"]
            .as_bool()
            .unwrap_or(false)
    );
}

#[test]
fn s3_remote_on_versitygw_serves_a_second_runner() {
    let expected = reference("cache test");
    let dir = tempfile::tempdir().unwrap();
    let gw = Versitygw::start(dir.path(), "slipway-cache");
    let url = "s3://slipway-cache/ci/go";
    let env = gw.env();

    let a = runner_build(url, "readwrite", "cache test", &env);
    assert_eq!(a.binary, expected);
    assert!(a.remote("puts") > 30, "{}", a.stats);
    let cas = gw.bucket_dir().join("ci/go/cas");
    assert!(
        cas.read_dir().unwrap().count() > 30,
        "objects under the prefix"
    );

    let b = runner_build(url, "readwrite", "cache test", &env);
    assert_eq!(b.binary, expected);
    assert!(b.remote("hits") > 30, "{}", b.stats);
    assert_eq!(b.remote("faults") + b.remote("corrupt"), 0, "{}", b.stats);

    corrupt(&largest(&cas));
    let c = runner_build(url, "read", "cache test", &env);
    assert_eq!(c.binary, expected);
    assert!(c.remote("corrupt") >= 1, "{}", c.stats);

    // Wrong credentials: a fault, one warning, the build goes on.
    let mut bad = env.clone();
    bad.retain(|(k, _)| k != "AWS_SECRET_ACCESS_KEY");
    bad.push(("AWS_SECRET_ACCESS_KEY".into(), "not-the-secret".into()));
    let d = runner_build(url, "read", "cache test", &bad);
    assert_eq!(d.binary, expected);
    assert_eq!(d.remote("hits"), 0);
    assert!(d.stderr().contains("HTTP 403"), "{}", d.stderr());
    assert!(!d.stderr().contains("not-the-secret"));
    assert!(!d.stderr().contains(&gw.secret_key));
}

#[test]
fn slipway_build_uses_the_remote_and_reports_it() {
    let dir = tempfile::tempdir().unwrap();
    let nginx = Nginx::start(&dir.path().join("nginx"));
    let build = |runner: &str| -> Value {
        let r = dir.path().join(runner);
        let m = module(&r, "cache test");
        let o = slipway()
            .env("GOCACHE", r.join("gocache"))
            .env("XDG_CONFIG_HOME", r.join("config"))
            .env_remove("SLIPWAY_CACHE_REMOTE")
            .env_remove("SLIPWAY_CACHE_REMOTE_MODE")
            .arg("--cache-dir")
            .arg(r.join("slipway-cache"))
            .arg("--cache-remote")
            .arg(nginx.url())
            .arg("build")
            .arg(&m)
            .args(["--platform", "linux/amd64", "--json"])
            .output()
            .unwrap();
        let text = slipway_testkit::stdout_ok(&o, "slipway build with a remote cache");
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(stderr.contains("go cache remote:"), "{stderr}");
        serde_json::from_str(&text).unwrap()
    };
    let a = build("a");
    assert!(total(&a["cache"], "remote", "puts") > 30, "{}", a["cache"]);
    let b = build("b");
    assert!(total(&b["cache"], "remote", "hits") > 30, "{}", b["cache"]);
    assert_eq!(a["artifacts"][0]["sha256"], b["artifacts"][0]["sha256"]);

    // `push --json` reports the same counters: Go's build served from the
    // remote, and the compressed layer looked up there (and then uploaded).
    let registry = slipway_testkit::registry::TestRegistry::plain();
    let r = dir.path().join("p");
    let m = module(&r, "cache test");
    let o = slipway()
        .env("GOCACHE", r.join("gocache"))
        .env("XDG_CONFIG_HOME", r.join("config"))
        .env("DOCKER_CONFIG", r.join("docker"))
        .env_remove("SLIPWAY_CACHE_REMOTE")
        .env_remove("SLIPWAY_CACHE_REMOTE_MODE")
        .arg("--cache-dir")
        .arg(r.join("slipway-cache"))
        .arg("--cache-remote")
        .arg(nginx.url())
        .arg("push")
        .arg(&m)
        .arg(registry.reference("cache/pushed:v1"))
        .args(["--platform", "linux/amd64", "--json"])
        .output()
        .unwrap();
    let pushed: Value = serde_json::from_str(&slipway_testkit::stdout_ok(
        &o,
        "slipway push with a remote cache",
    ))
    .unwrap();
    assert!(total(&pushed["cache"], "remote", "hits") > 30, "{pushed}");
    let layer = &pushed["cache_steps"]["tiers"]["remote"]["layer"];
    assert!(
        layer["hits"].as_u64().unwrap_or(0) + layer["misses"].as_u64().unwrap_or(0) > 0,
        "{pushed}"
    );

    // The user's config file names the remote; the module's slipway.toml
    // overrides it; the flag overrides both.
    let r = dir.path().join("c");
    let m = module(&r, "cache test");
    std::fs::create_dir_all(r.join("config/slipway")).unwrap();
    std::fs::write(
        r.join("config/slipway/config.toml"),
        "[cache]\nremote = \"ftp://nowhere\"\n",
    )
    .unwrap();
    let plan = |extra: &[&str]| {
        slipway()
            .env("XDG_CONFIG_HOME", r.join("config"))
            .env_remove("SLIPWAY_CACHE_REMOTE")
            .env_remove("SLIPWAY_CACHE_REMOTE_MODE")
            .args(extra)
            .arg("build")
            .arg(&m)
            .args(["--platform", "linux/amd64", "--dry-run"])
            .output()
            .unwrap()
    };
    let o = plan(&[]);
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    assert!(String::from_utf8_lossy(&o.stderr).contains("ftp://nowhere"));
    std::fs::write(
        m.join("slipway.toml"),
        format!(
            "[cache]\nremote = \"{}\"\nremote_mode = \"read\"\n",
            nginx.url()
        ),
    )
    .unwrap();
    let o = plan(&[]);
    let text = slipway_testkit::stdout_ok(&o, "dry run");
    assert!(text.contains("GOCACHEPROG="), "{text}");
    assert!(text.contains("SLIPWAY_CACHE_REMOTE_MODE=read"), "{text}");
    let o = plan(&["--cache-remote", "none"]);
    let text = slipway_testkit::stdout_ok(&o, "dry run without remote");
    assert!(!text.contains("GOCACHEPROG="), "{text}");
}

/// `slipway warm` with a remote: the first runner builds zig's runtime in
/// isolation and uploads it, a second (empty HOME, slipway and zig caches)
/// restores it and compiles nothing.
#[test]
fn warm_shares_zig_runtimes_through_the_remote() {
    let dir = tempfile::tempdir().unwrap();
    let nginx = Nginx::start(&dir.path().join("nginx"));
    let warm = |runner: &str| -> Value {
        let r = dir.path().join(runner);
        let o = slipway()
            .env("HOME", r.join("home"))
            .env("XDG_CONFIG_HOME", r.join("config"))
            .env_remove("XDG_CACHE_HOME")
            .env_remove("ZIG_GLOBAL_CACHE_DIR")
            .env_remove("ZIG_LOCAL_CACHE_DIR")
            .env_remove("SLIPWAY_CACHE_REMOTE")
            .env_remove("SLIPWAY_CACHE_REMOTE_MODE")
            .arg("--cache-dir")
            .arg(r.join("slipway-cache"))
            .arg("--cache-remote")
            .arg(nginx.url())
            .args([
                "warm",
                "--platform",
                "linux/amd64",
                "--libc",
                "glibc:2.28",
                "--json",
            ])
            .output()
            .unwrap();
        serde_json::from_str(&slipway_testkit::stdout_ok(
            &o,
            "slipway warm with a remote",
        ))
        .unwrap()
    };
    let a = warm("a");
    assert_eq!(a["runtimes"][0]["status"], "built and uploaded", "{a}");
    let b = warm("b");
    assert_eq!(
        b["runtimes"][0]["status"], "restored from the remote cache",
        "{b}"
    );
    let zig = &b["cache_steps"]["tiers"]["remote"]["zig"];
    assert!(zig["hits"].as_u64().unwrap_or(0) >= 1, "{b}");
    // Restored means usable: zig's cache now holds the runtime archives.
    let archives = walkdir(&dir.path().join("b/slipway-cache/zig/o"))
        .into_iter()
        .filter(|p| {
            p.file_name().is_some_and(|n| {
                ["libc.a", "libc_nonshared.a", "libcompiler_rt.a"].contains(&&*n.to_string_lossy())
            })
        })
        .count();
    assert!(archives >= 1, "no runtime archive restored");
}

/// Every file under `dir`.
fn walkdir(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walkdir(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn cache_stats_and_prune_count_and_trim_stages() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("cache");
    let old = std::time::SystemTime::now() - std::time::Duration::from_secs(3 * 3600);
    let put = |rel: &str, len: usize, when: Option<std::time::SystemTime>| {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, vec![1u8; len]).unwrap();
        if let Some(t) = when {
            std::fs::File::options()
                .append(true)
                .open(&p)
                .unwrap()
                .set_modified(t)
                .unwrap();
        }
    };
    put("stage/0123/app", 40_000, Some(old));
    let less_old = std::time::SystemTime::now() - std::time::Duration::from_secs(2 * 3600);
    put("cas/ab/abcd", 10_000, Some(less_old));
    put("cas/cd/cdef", 10_000, None);
    put("zig/o/1/libc.a", 50_000, Some(old));
    std::fs::File::open(root.join("stage/0123"))
        .unwrap()
        .set_modified(old)
        .unwrap();
    let run = |args: &[&str]| -> Value {
        let o = slipway()
            .arg("--cache-dir")
            .arg(&root)
            .args(args)
            .arg("--json")
            .output()
            .unwrap();
        serde_json::from_str(&slipway_testkit::stdout_ok(&o, &format!("{args:?}"))).unwrap()
    };
    let s = run(&["cache", "stats"]);
    assert_eq!(s["stage"]["bytes"], 40_000);
    assert_eq!(s["cas"]["files"], 2);
    assert_eq!(s["other"]["bytes"], 50_000);
    let p = run(&["cache", "prune", "--max-size", "20K"]);
    assert_eq!(p["removed_bytes"], 40_000, "{p}");
    assert!(!root.join("stage/0123").exists());
    assert!(root.join("cas/ab/abcd").exists() && root.join("zig/o/1/libc.a").exists());
    let o = slipway()
        .arg("--cache-dir")
        .arg(&root)
        .args(["cache", "prune", "--max-size", "lots"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("is not a size"));
}
