//! `slipway build`: plan, validate, build in parallel, check, install.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::Context;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use serde::Serialize;
use slipway_build::{Artifact, BuildError, BuildRequest, Built, Event, OutDir, Plan};
use slipway_platform::{CCompiler, Libc, Platform, Target};
use slipway_toolchain::runtime::{self, Runtime};
use slipway_toolchain::{CCompilers, CacheDir, GoToolchain};

use crate::cli::{BuildArgs, BuildSettings};
use crate::config::{self, BuildConfig, Config};
use crate::ui::{Ui, seconds};
use crate::{InputError, input};

pub fn run(args: BuildArgs, cache: &CacheDir, ui: Ui) -> anyhow::Result<()> {
    let (module_dir, cfg) = load_module(&args.settings.dir)?;
    let out_dir = match (&args.out, &cfg.build.out) {
        (Some(out), _) => std::path::absolute(out)?,
        (None, Some(out)) => module_dir.join(out),
        (None, None) => module_dir.join("dist"),
    };
    let plan = plan(&args.settings, &cfg.build, &module_dir, out_dir, cache)?;
    if args.dry_run {
        return print_plan(&plan, args.json);
    }
    warn_dropped(&plan, ui);
    let budget = binary_budget(&args.settings, &cfg.build)?;

    let out = OutDir::prepare(&plan.out_dir)?;
    let started = std::time::Instant::now();
    // The budget is checked between building (in staging) and installing,
    // so a binary over it never reaches the output directory.
    let artifacts = match execute(&plan, args.settings.jobs, ui)
        .map_err(anyhow::Error::from)
        .and_then(|built| {
            let checks = check_binaries(&plan, &built, budget.as_ref())?;
            Ok((slipway_build::install(&plan, &out, &built)?, checks))
        }) {
        Ok(a) => a,
        Err(e) => {
            out.abandon();
            return Err(e);
        }
    };
    let (artifacts, budgets) = artifacts;

    if args.json {
        print_json(&plan, &artifacts, &budgets)?;
    } else {
        for a in &artifacts {
            println!("{}  {}", a.sha256, a.path.display());
        }
    }
    ui.status(format!(
        "built {} target{} in {} into {}",
        artifacts.len(),
        if artifacts.len() == 1 { "" } else { "s" },
        seconds(started.elapsed()),
        plan.out_dir.display()
    ));
    Ok(())
}

/// The module's absolute directory and its `slipway.toml` (defaults if absent).
pub fn load_module(dir: &Path) -> anyhow::Result<(PathBuf, Config)> {
    let module_dir =
        std::path::absolute(dir).with_context(|| format!("cannot resolve {}", dir.display()))?;
    if !module_dir.join("go.mod").is_file() {
        return Err(slipway_build::BuildError::NotAModule { dir: module_dir }.into());
    }
    let cfg = config::load(&module_dir).map_err(|e| InputError(e.to_string()))?;
    Ok((module_dir, cfg))
}

/// Check the request, find the toolchains and plan every target.
pub fn plan(
    settings: &BuildSettings,
    cfg: &BuildConfig,
    module_dir: &Path,
    out_dir: PathBuf,
    cache: &CacheDir,
) -> anyhow::Result<Plan> {
    let request = request(settings, cfg, module_dir, out_dir)?;
    // Everything that needs no tool is checked before any tool is looked for.
    slipway_build::validate_request(&request)?;
    let go = GoToolchain::discover(settings.go.as_deref())?;
    let exe = std::env::current_exe()
        .context("cannot find the slipway executable for the zig wrappers")?;
    let mut compilers = CCompilers::new(cache, settings.zig.as_deref(), &exe);
    let mut plan = slipway_build::plan(&request, &go, &mut compilers, cache)?;
    super::cache::use_gocacheprog(&mut plan, &exe)?;
    Ok(plan)
}

pub fn warn_dropped(plan: &Plan, ui: Ui) {
    if !plan.dropped_env.is_empty() {
        ui.warn(format!(
            "ignoring {} from the environment: slipway sets the build's Go and cgo variables itself (declare extra ones with --env or [build.env])",
            plan.dropped_env.join(", ")
        ));
    }
}

/// Build every target with progress on stderr. Targets whose zig C runtime
/// is not built yet are announced first, with what zig compiles and how long
/// it took here before; without a terminal a line every 30 s shows life.
pub fn execute(plan: &Plan, jobs: Option<usize>, ui: Ui) -> Result<Vec<Built>, BuildError> {
    let jobs = jobs.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    let mut cold: Vec<(Target, Runtime)> = plan
        .targets
        .iter()
        .filter_map(|t| {
            let rt = t.runtime.as_ref()?;
            (!rt.is_warm(&plan.cache)).then(|| (t.target.clone(), rt.clone()))
        })
        .collect();
    // With a remote cache, cold runtimes come from it (or go to it).
    let mut shared_archives = None;
    if !cold.is_empty()
        && let Some(cache) = super::shared_steps::open(plan, ui)
    {
        let ready = super::shared_steps::prepare_runtimes(plan, &cold, &cache, jobs, ui);
        cold.retain(|(t, _)| !ready.iter().any(|(r, _)| r == t));
        super::shared_steps::finish(super::shared_steps::ZIG_NS, &cache, ui);
        shared_archives = Some(runtime::archives_in_zig_cache(&plan.cache));
    }
    for (target, rt) in &cold {
        ui.status(cold_notice(&plan.cache, target, rt));
    }
    let progress = Progress::new(ui, plan, &cold);
    let done = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        if !ui.live {
            scope.spawn(|| progress.heartbeat(&done));
        }
        let result = slipway_build::execute(plan, jobs, &|event| progress.event(event));
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        super::cache::finish_run(plan, ui);
        // A shared runtime must be all the build needs; say so if it was not.
        if let Some(before) = shared_archives {
            let after = runtime::archives_in_zig_cache(&plan.cache);
            if after > before {
                ui.warn(format!(
                    "zig compiled {} runtime archive(s) during the build that the shared \
                     runtimes did not hold; the next runner compiles them again",
                    after - before
                ));
            }
        }
        result
    })
}

/// One line for a target whose C runtime zig has not built yet.
fn cold_notice(cache: &CacheDir, target: &Target, rt: &Runtime) -> String {
    let (estimate, measured) = runtime::estimate(cache, rt);
    format!(
        "{target}: zig {} compiles {} before the first cgo build; once per machine and zig \
         version, about {} ({}); `slipway warm` does it ahead of time",
        rt.zig_version,
        rt.what(),
        minutes(estimate),
        if measured {
            "as measured on this machine"
        } else {
            "default estimate"
        }
    )
}

/// `1m30s`, `45s`.
fn minutes(d: std::time::Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s}s"),
        _ if s.is_multiple_of(60) => format!("{}m", s / 60),
        _ => format!("{}m{:02}s", s / 60, s % 60),
    }
}

/// Merge flags over `slipway.toml` into a request.
fn request(
    args: &BuildSettings,
    cfg: &BuildConfig,
    module_dir: &Path,
    out_dir: PathBuf,
) -> anyhow::Result<BuildRequest> {
    let platform_lists: Vec<String> = if args.platforms.is_empty() {
        cfg.platforms.clone().unwrap_or_default()
    } else {
        args.platforms.clone()
    };
    let mut platforms: Vec<Platform> = Vec::new();
    if !platform_lists.is_empty() {
        platforms = Platform::parse_list(&platform_lists.join(","))?;
    }
    let libc: Libc = args
        .libc
        .as_deref()
        .or(cfg.libc.as_deref())
        .unwrap_or("none")
        .parse()?;
    let cc_name = args.cc.as_deref().or(cfg.cc.as_deref()).unwrap_or("zig");
    let cc = CCompiler::parse(cc_name)
        .ok_or_else(|| input(format!("unknown C compiler `{cc_name}`: use zig or gnu")))?;

    let mut env: BTreeMap<String, String> = cfg.env.clone().unwrap_or_default();
    for pair in &args.env {
        let (k, v) = pair
            .split_once('=')
            .filter(|(k, _)| !k.is_empty())
            .ok_or_else(|| input(format!("--env `{pair}` is not KEY=VALUE")))?;
        env.insert(k.to_string(), v.to_string());
    }
    let tags = match &args.tags {
        Some(t) => t
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(String::from)
            .collect(),
        None => cfg.tags.clone().unwrap_or_default(),
    };
    let ldflags = match &args.ldflags {
        Some(f) => vec![f.clone()],
        None => cfg.ldflags.clone().unwrap_or_default(),
    };
    let c_settings = c_settings(cfg, module_dir)?;
    let musl_stack = match &cfg.musl_thread_stack {
        Some(size) => config::stack_bytes(size)
            .map_err(|e| input(format!("{}: [build] {e}", config::FILE_NAME)))?,
        None => slipway_toolchain::MUSL_THREAD_STACK_DEFAULT,
    };
    let strip = args
        .strip
        .as_deref()
        .or(cfg.strip.as_deref())
        .unwrap_or("split")
        .parse()?;
    let allocator = match (&args.allocator, &cfg.allocator) {
        (Some(a), _) => a
            .parse::<slipway_alloc::Allocator>()
            .map_err(|e| input(format!("--allocator: {e}")))?,
        (None, Some(a)) => a
            .parse::<slipway_alloc::Allocator>()
            .map_err(|e| input(format!("{}: [build] allocator: {e}", config::FILE_NAME)))?,
        (None, None) => slipway_alloc::Allocator::Libc,
    };
    Ok(BuildRequest {
        allocator,
        strip,
        package: args
            .package
            .clone()
            .or(cfg.package.clone())
            .unwrap_or_else(|| ".".into()),
        name: args.name.clone().or(cfg.name.clone()),
        targets: platforms
            .into_iter()
            .map(|p| Target::new(p, libc))
            .collect(),
        cc,
        out_dir,
        tags,
        ldflags,
        env,
        buildvcs: args.buildvcs || cfg.buildvcs.unwrap_or(false),
        module_dir: module_dir.to_path_buf(),
        c_settings,
        musl_stack,
    })
}

/// `[build.target."PLATFORM"]` tables, keyed by parsed platform, with paths
/// resolved against the module directory.
fn c_settings(
    cfg: &BuildConfig,
    module_dir: &Path,
) -> anyhow::Result<BTreeMap<Platform, slipway_toolchain::CSettings>> {
    let mut out: BTreeMap<Platform, (String, slipway_toolchain::CSettings)> = BTreeMap::new();
    for (key, table) in cfg.target.iter().flatten() {
        let platform: Platform = key.parse().map_err(|e| {
            input(format!(
                "{}: [build.target.\"{key}\"]: {e}",
                config::FILE_NAME
            ))
        })?;
        if let Some((first, _)) = out.get(&platform) {
            return Err(input(format!(
                "{}: [build.target.\"{first}\"] and [build.target.\"{key}\"] are the same platform ({platform}): merge them",
                config::FILE_NAME
            ))
            .into());
        }
        let path = |p: &String| module_dir.join(p);
        let settings = slipway_toolchain::CSettings {
            sysroot: table.sysroot.as_ref().map(path),
            cflags: table.cflags.clone().unwrap_or_default(),
            ldflags: table.ldflags.clone().unwrap_or_default(),
            pkg_config_path: table.pkg_config_path.iter().flatten().map(path).collect(),
        };
        out.insert(platform, (key.clone(), settings));
    }
    Ok(out.into_iter().map(|(p, (_, s))| (p, s)).collect())
}

#[derive(Serialize)]
struct JsonArtifact<'a> {
    platform: String,
    libc: String,
    path: &'a Path,
    sha256: &'a str,
    size: u64,
    debug: Option<&'a Path>,
}

/// The per-binary budget: `--budget`, else `budget` in `[build]`.
pub fn binary_budget(
    settings: &BuildSettings,
    cfg: &BuildConfig,
) -> anyhow::Result<Option<slipway_size::Budget>> {
    config::budget(
        settings.budget.as_deref(),
        "--budget",
        cfg.budget.as_ref(),
        "budget in [build] of slipway.toml",
    )
    .map_err(|e| input(e).into())
}

/// Every built binary against the budget; an error listing the largest
/// packages of each binary over it.
pub fn check_binaries(
    plan: &Plan,
    built: &[Built],
    budget: Option<&slipway_size::Budget>,
) -> anyhow::Result<Vec<slipway_size::BudgetCheck>> {
    let Some(budget) = budget else {
        return Ok(Vec::new());
    };
    let mut checks = Vec::new();
    for b in built {
        let subject = format!("the {} binary {}", b.target.platform, plan.name);
        let top = if b.size > budget.limit {
            let debug = b.shipped.debug.as_ref().map(|d| d.path.as_path());
            slipway_size::analyze_files(&b.shipped.binary.path, debug)?.top(8)
        } else {
            Vec::new()
        };
        checks.push(slipway_size::check_budget(subject, b.size, budget, top));
    }
    match slipway_size::over_budget_message(&checks) {
        Some(e) => Err(e.into()),
        None => Ok(checks),
    }
}

fn print_json(
    plan: &Plan,
    artifacts: &[Artifact],
    budgets: &[slipway_size::BudgetCheck],
) -> anyhow::Result<()> {
    let value = serde_json::json!({
        "budgets": budgets,
        "artifacts": artifacts.iter().map(|a| JsonArtifact {
            platform: a.target.platform.to_string(),
            libc: a.target.libc.to_string(),
            path: &a.path,
            sha256: &a.sha256,
            size: a.size,
            debug: a.debug.as_deref(),
        }).collect::<Vec<_>>(),
        "name": plan.name,
        "cache_steps": super::shared_steps::last_run(),
        "out_dir": plan.out_dir,
        "go": plan.go_version,
        "zig": plan.zig_version,
        "source_date_epoch": plan.source_date_epoch,
        "strip": plan.strip.name(),
        "cache": super::cache::last_run(),
    });
    println!("{}", serde_json::to_string_pretty(&value)?);
    Ok(())
}

/// `--dry-run`: what would run, in a form a person can paste into a shell.
fn print_plan(plan: &Plan, json: bool) -> anyhow::Result<()> {
    let shown = |env: &BTreeMap<String, String>| -> BTreeMap<String, String> {
        env.iter()
            .map(|(k, v)| (k.clone(), slipway_build::env::redact(v)))
            .collect()
    };
    if json {
        let targets: Vec<_> = plan
            .targets
            .iter()
            .map(|t| {
                serde_json::json!({
                    "platform": t.target.platform.to_string(),
                    "libc": t.target.libc.to_string(),
                    "env": shown(&t.env),
                    "args": t.args,
                })
            })
            .collect();
        let value = serde_json::json!({
            "go": plan.go,
            "dir": plan.module_dir,
            "dropped_env": plan.dropped_env,
            "targets": targets,
        });
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(());
    }
    println!("# in {}", plan.module_dir.display());
    if !plan.dropped_env.is_empty() {
        println!("# unset: {}", plan.dropped_env.join(" "));
    }
    for t in &plan.targets {
        println!("\n# {}", t.target);
        let vars: Vec<String> = shown(&t.env)
            .iter()
            .map(|(k, v)| format!("{k}={}", shell_word(v)))
            .collect();
        let args: Vec<String> = t.args.iter().map(|a| shell_word(a)).collect();
        println!(
            "env {} \\\n  {} {}",
            vars.join(" "),
            plan.go.display(),
            args.join(" ")
        );
    }
    Ok(())
}

fn shell_word(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=,:@+%".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// Per-target progress: a spinner line each on a terminal, plain lines elsewhere.
struct Progress {
    ui: Ui,
    bars: Option<Bars>,
    cache: CacheDir,
    /// Targets whose zig runtime is being built by this run.
    cold: Vec<(Target, Runtime)>,
    /// Targets building now, and since when (for the plain-line heartbeat).
    running: Mutex<BTreeMap<String, std::time::Instant>>,
    /// zig's runtime archives before the build, to tell a real cold build.
    archives_before: usize,
}

/// One status line per target; they stay on screen after the build as its summary.
struct Bars {
    _multi: MultiProgress,
    lines: Mutex<Vec<(Target, ProgressBar)>>,
}

impl Progress {
    fn new(ui: Ui, plan: &Plan, cold: &[(Target, Runtime)]) -> Progress {
        let mut progress = Progress {
            ui,
            bars: None,
            cache: plan.cache.clone(),
            cold: cold.to_vec(),
            running: Mutex::new(BTreeMap::new()),
            archives_before: if cold.is_empty() {
                0
            } else {
                runtime::archives_in_zig_cache(&plan.cache)
            },
        };
        if !ui.live {
            return progress;
        }
        let multi = MultiProgress::new();
        let style = ProgressStyle::with_template("{spinner} {prefix:<28} {msg} {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner());
        let bars = plan
            .targets
            .iter()
            .map(|t| {
                let bar = multi.add(ProgressBar::new_spinner().with_style(style.clone()));
                bar.set_prefix(t.target.to_string());
                bar.set_message("waiting");
                (t.target.clone(), bar)
            })
            .collect();
        progress.bars = Some(Bars {
            _multi: multi,
            lines: Mutex::new(bars),
        });
        progress
    }

    fn runtime_of(&self, target: &Target) -> Option<&Runtime> {
        self.cold.iter().find(|(t, _)| t == target).map(|(_, r)| r)
    }

    /// Without a terminal: every 30 s, which targets are still building and
    /// for how long, so CI logs show life during zig's long first builds.
    fn heartbeat(&self, done: &std::sync::atomic::AtomicBool) {
        let mut last = std::time::Instant::now();
        while !done.load(std::sync::atomic::Ordering::Relaxed) {
            std::thread::sleep(std::time::Duration::from_millis(200));
            if last.elapsed() < std::time::Duration::from_secs(30) {
                continue;
            }
            last = std::time::Instant::now();
            let running = self.running.lock().unwrap_or_else(|e| e.into_inner());
            if running.is_empty() {
                continue;
            }
            let list: Vec<String> = running
                .iter()
                .map(|(t, since)| format!("{t} ({})", minutes(since.elapsed())))
                .collect();
            self.ui
                .status(format!("still building {}", list.join(", ")));
        }
    }

    fn event(&self, event: Event<'_>) {
        {
            let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
            match event {
                Event::Started { target } => {
                    running.insert(target.to_string(), std::time::Instant::now());
                }
                Event::Finished { target, .. } | Event::Failed { target, .. } => {
                    running.remove(&target.to_string());
                }
            }
        }
        if let Event::Finished { target, elapsed } = event
            && let Some(rt) = self.runtime_of(target)
        {
            // Its time is learned only if zig really compiled a runtime.
            let compiled = runtime::archives_in_zig_cache(&self.cache) > self.archives_before;
            rt.mark_warm(&self.cache, compiled.then_some(elapsed));
        }
        let Some(bars) = &self.bars else {
            match event {
                Event::Started { target } => match self.runtime_of(target) {
                    Some(rt) => self.ui.status(format!(
                        "building {target} (zig compiles {} first)",
                        rt.what()
                    )),
                    None => self.ui.status(format!("building {target}")),
                },
                Event::Finished { target, elapsed } => self
                    .ui
                    .status(format!("built {target} in {}", seconds(elapsed))),
                Event::Failed { target, elapsed } => self
                    .ui
                    .status(format!("FAILED {target} after {}", seconds(elapsed))),
            }
            return;
        };
        let bars = bars.lines.lock().unwrap_or_else(|e| e.into_inner());
        let find = |t: &Target| bars.iter().find(|(bt, _)| bt == t).map(|(_, b)| b.clone());
        match event {
            Event::Started { target } => {
                if let Some(bar) = find(target) {
                    bar.reset_elapsed();
                    bar.set_message(match self.runtime_of(target) {
                        Some(rt) => format!("building; zig compiles {} (once)", rt.what()),
                        None => "building".to_string(),
                    });
                    bar.enable_steady_tick(std::time::Duration::from_millis(120));
                }
            }
            Event::Finished { target, elapsed } => {
                if let Some(bar) = find(target) {
                    bar.set_style(finished_style());
                    bar.finish_with_message(format!(
                        "{} {}",
                        console::style("done").green(),
                        seconds(elapsed)
                    ));
                }
            }
            Event::Failed { target, elapsed } => {
                if let Some(bar) = find(target) {
                    bar.set_style(finished_style());
                    bar.finish_with_message(format!(
                        "{} {}",
                        console::style("failed").red(),
                        seconds(elapsed)
                    ));
                }
            }
        }
    }
}

/// A finished line: no spinner, no live timer (the message holds the time).
fn finished_style() -> ProgressStyle {
    ProgressStyle::with_template("  {prefix:<28} {msg}")
        .unwrap_or_else(|_| ProgressStyle::default_spinner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_target_tables_resolve_paths_and_refuse_one_platform_twice() {
        let cfg = config::parse(
            "[build.target.\"linux/arm64\"]\nsysroot = \"sdk\"\npkg_config_path = [\"sdk/pc\"]\n",
        )
        .unwrap();
        let settings = c_settings(&cfg.build, Path::new("/m")).unwrap();
        let arm64: Platform = "linux/arm64".parse().unwrap();
        assert_eq!(
            settings[&arm64].sysroot.as_deref(),
            Some(Path::new("/m/sdk"))
        );
        assert_eq!(
            settings[&arm64].pkg_config_path,
            [PathBuf::from("/m/sdk/pc")]
        );

        let twice = config::parse(
            "[build.target.\"linux/arm\"]\ncflags = [\"-O1\"]\n[build.target.\"linux/arm/v7\"]\ncflags = [\"-O2\"]\n",
        )
        .unwrap();
        let e = c_settings(&twice.build, Path::new("/m"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("are the same platform (linux/arm/v7): merge them"),
            "{e}"
        );

        let bad = config::parse("[build.target.\"linux/sparc\"]\n").unwrap();
        let e = c_settings(&bad.build, Path::new("/m"))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("slipway.toml: [build.target.\"linux/sparc\"]: "),
            "{e}"
        );
    }
}
