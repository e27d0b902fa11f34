//! `slipway cache-prog`, `slipway cache stats|prune`, and how the other
//! commands hand the remote cache to their `go build`s.
//!
//! Where the remote comes from, first found wins: `--cache-remote` /
//! `--cache-remote-mode` (or their `SLIPWAY_CACHE_REMOTE*` variables), the
//! module's `slipway.toml` `[cache]`, the user's `config.toml` `[cache]`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use slipway_build::Plan;
use slipway_cache::{Cache, CacheConfig, RemoteMode, RemoteSpec, Stats, prune};
use slipway_toolchain::CacheDir;

use crate::cli::{CacheCommand, CacheRemoteMode};
use crate::config;
use crate::input;
use crate::ui::Ui;

/// The global flags, set once by `main`.
static FLAGS: OnceLock<(Option<String>, Option<CacheRemoteMode>)> = OnceLock::new();
/// The counters of the last run's `go build`s, for `--json`.
static LAST_RUN: Mutex<Option<Stats>> = Mutex::new(None);

/// Variables the parent passes to each `cache-prog` it starts through `go`.
const STATS_DIR_ENV: &str = "SLIPWAY_CACHE_STATS_DIR";
const QUIET_ENV: &str = "SLIPWAY_CACHE_QUIET";
/// In the stats directory: a `cache-prog` whose remote failed repeatedly
/// leaves this, so the run's later ones do not wait on it again.
const DISABLED_MARK: &str = "remote-disabled";

pub fn set_flags(remote: Option<String>, mode: Option<CacheRemoteMode>) {
    let _ = FLAGS.set((remote, mode));
}

/// The remote (with its mode) in effect for a module directory.
pub fn remote_for(module_dir: Option<&Path>) -> anyhow::Result<Option<(RemoteSpec, RemoteMode)>> {
    let (flag_remote, flag_mode) = FLAGS.get().cloned().unwrap_or_default();
    let module = match module_dir {
        Some(d) => config::load(d).map_err(|e| input(e.to_string()))?.cache,
        None => config::CacheSection::default(),
    };
    let user = config::load_user()
        .map_err(|e| input(format!("{e:#}")))?
        .cache;
    let remote = flag_remote
        .or(module.remote)
        .or(user.remote)
        .filter(|r| !r.is_empty() && r != "none");
    let mode = match flag_mode {
        Some(CacheRemoteMode::Read) => RemoteMode::Read,
        Some(CacheRemoteMode::Readwrite) => RemoteMode::ReadWrite,
        None => match module.remote_mode.or(user.remote_mode) {
            Some(m) => RemoteMode::parse(&m).map_err(|e| input(e.to_string()))?,
            None => RemoteMode::ReadWrite,
        },
    };
    let Some(url) = remote else {
        return Ok(None);
    };
    let spec = RemoteSpec::parse(&url).map_err(|e| input(e.to_string()))?;
    Ok(Some((spec, mode)))
}

/// The GOCACHEPROG command line for this executable.
fn prog_command(exe: &Path) -> String {
    let shown = exe.display().to_string();
    if shown.contains([' ', '\'', '"']) {
        format!("'{}' cache-prog", shown.replace('\'', ""))
    } else {
        format!("{shown} cache-prog")
    }
}

/// With a remote configured, route every target's `go build` through
/// `slipway cache-prog`. The remote is opened once here (no network) so a
/// bad URL or missing S3 credentials fail before any build starts.
pub fn use_gocacheprog(plan: &mut Plan, exe: &Path) -> anyhow::Result<()> {
    let Some((spec, mode)) = remote_for(Some(&plan.module_dir))? else {
        return Ok(());
    };
    let check = CacheConfig {
        local_dir: plan.cache.path("."),
        remote: Some(spec.clone()),
        mode,
        quiet: true,
    };
    Cache::open(&check).map_err(|e| input(e.to_string()))?;
    // Made by the first cache-prog that finishes, removed by finish_run.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let stats_dir = plan
        .cache
        .path(format!("tmp/cache-run-{}-{nanos}", std::process::id()));
    for t in &mut plan.targets {
        let env = &mut t.env;
        env.insert("GOCACHEPROG".into(), prog_command(exe));
        env.insert("SLIPWAY_CACHE_REMOTE".into(), remote_url(&spec));
        env.insert("SLIPWAY_CACHE_REMOTE_MODE".into(), mode.as_str().into());
        env.insert(
            "SLIPWAY_CACHE_DIR".into(),
            plan.cache.root.display().to_string(),
        );
        env.insert(STATS_DIR_ENV.into(), stats_dir.display().to_string());
        env.insert(QUIET_ENV.into(), "1".into());
    }
    Ok(())
}

/// The URL that parses back to `spec`, credentials included (they only go
/// into the child's environment, never to the screen).
fn remote_url(spec: &RemoteSpec) -> String {
    match spec {
        RemoteSpec::Http {
            base,
            basic_auth: Some(cred),
        } => match base.split_once("://") {
            Some((scheme, rest)) => format!("{scheme}://{cred}@{rest}"),
            None => base.clone(),
        },
        RemoteSpec::Http { base, .. } => base.clone(),
        other => other.to_string(),
    }
}

/// After a run's `go build`s: merge the counters the `cache-prog`s left,
/// print them and the run's one warning, and clean up.
pub fn finish_run(plan: &Plan, ui: Ui) {
    let Some(dir) = plan
        .targets
        .first()
        .and_then(|t| t.env.get(STATS_DIR_ENV))
        .map(PathBuf::from)
    else {
        return;
    };
    let mut total = Stats::default();
    for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "json")
            && let Ok(bytes) = std::fs::read(&path)
            && let Ok(stats) = serde_json::from_slice::<Stats>(&bytes)
        {
            total.merge(&stats);
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    if let Some(w) = total.remote.as_ref().and_then(|r| r.warning.as_ref()) {
        ui.warn(w);
    }
    for line in total.summary() {
        ui.status(format!("go cache {line}"));
    }
    *LAST_RUN.lock().unwrap_or_else(|p| p.into_inner()) = Some(total);
}

/// The counters of the last run, for a command's `--json`.
pub fn last_run() -> Option<Stats> {
    LAST_RUN.lock().unwrap_or_else(|p| p.into_inner()).clone()
}

/// `slipway cache-prog`: serve `go` on stdin/stdout until it closes.
pub fn run_prog(cache_dir: &CacheDir) -> anyhow::Result<()> {
    let stats_dir = std::env::var_os(STATS_DIR_ENV)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from);
    let cwd = std::env::current_dir().ok();
    let module = cwd
        .as_deref()
        .filter(|d| d.join(config::FILE_NAME).is_file());
    let mut remote = remote_for(module)?;
    if stats_dir
        .as_ref()
        .is_some_and(|d| d.join(DISABLED_MARK).exists())
    {
        remote = None;
    }
    let config = CacheConfig {
        local_dir: cache_dir.root.clone(),
        mode: remote.as_ref().map(|r| r.1).unwrap_or_default(),
        remote: remote.map(|r| r.0),
        quiet: std::env::var_os(QUIET_ENV).is_some_and(|v| !v.is_empty()),
    };
    let cache = Arc::new(Cache::open(&config)?);
    let stdin = std::io::stdin().lock();
    let stats = slipway_cache::prog::serve(cache, stdin, std::io::stdout())?;
    if let Some(dir) = stats_dir {
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        if stats.remote.as_ref().is_some_and(|r| r.disabled) {
            let _ = std::fs::write(dir.join(DISABLED_MARK), b"");
        }
        let bytes = serde_json::to_vec(&stats)?;
        let path = dir.join(format!("{}.json", std::process::id()));
        slipway_fs::write_atomic(&path, &bytes, 0o644)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

/// `slipway cache stats|prune`.
pub fn run(cmd: CacheCommand, cache_dir: &CacheDir, ui: Ui) -> anyhow::Result<()> {
    let root = &cache_dir.root;
    let spinner = || {
        let bar = if ui.live {
            ProgressBar::new_spinner()
        } else {
            ProgressBar::hidden()
        };
        bar.set_message(format!("scanning {}", root.display()));
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        bar
    };
    match cmd {
        CacheCommand::Stats(args) => {
            let bar = spinner();
            let usage = prune::usage(root, &mut || bar.inc(1));
            bar.finish_and_clear();
            if args.json {
                println!("{}", serde_json::to_string_pretty(&usage)?);
            } else {
                print_usage(&usage);
            }
        }
        CacheCommand::Prune(args) => {
            let max = slipway_size::parse_size(&args.max_size)
                .map_err(|e| input(format!("--max-size {e}")))?;
            let bar = spinner();
            let removal = if ui.live {
                ProgressBar::new(0)
            } else {
                ProgressBar::hidden()
            };
            let report = prune::prune(
                root,
                max,
                prune::GRACE,
                &mut || bar.inc(1),
                &mut |done, of| {
                    if done == 1 {
                        bar.finish_and_clear();
                        removal.set_length(of);
                        removal.set_style(
                            ProgressStyle::with_template("removing {pos}/{len} {wide_bar}")
                                .unwrap_or_else(|_| ProgressStyle::default_bar()),
                        );
                    }
                    removal.set_position(done);
                },
            )
            .with_context(|| format!("cannot prune {}", root.display()))?;
            bar.finish_and_clear();
            removal.finish_and_clear();
            if args.json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print_usage(&report.after);
                ui.status(format!(
                    "removed {} items ({}); {} recently used kept",
                    report.removed_items,
                    slipway_cache::human_bytes(report.removed_bytes),
                    report.kept_recent
                ));
            }
        }
    }
    Ok(())
}

fn print_usage(u: &prune::Usage) {
    println!("{}", u.dir.display());
    for (name, part) in [
        ("blobs (cas/)", u.cas),
        ("action entries (ac/)", u.ac),
        ("build stages (stage/)", u.stage),
        ("other (zig, wrappers; not pruned)", u.other),
        ("total", u.total),
    ] {
        println!(
            "  {name:<36} {:>10}  {:>8} files",
            slipway_cache::human_bytes(part.bytes),
            part.files
        );
    }
}
