//! `slipway warm`: build zig's C runtimes for a cgo matrix ahead of time.
//!
//! Each target's runtime is built the way a cgo build builds it: through the
//! same CC wrapper (so the same zig, target, CPU and flags, hence the same
//! entries in zig's cache), by linking a small C program that uses threads,
//! as Go's runtime/cgo does, with the flag sets Go's links use (an `-O2`
//! link needs another compiler-rt than an unoptimised one). Targets already
//! marked as built are skipped.
//!
//! With a remote cache configured (flag, variable or the user's config; there
//! is no module here), each runtime goes through it as in a build
//! (`shared_steps::prepare_runtimes`): restored when the remote has it, else
//! built in a staging cache and uploaded, so one runner's warm-up serves all.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::Context;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use serde::Serialize;
use slipway_cache::{Cache, CacheConfig};
use slipway_platform::{CCompiler, Libc, Platform, Target};
use slipway_toolchain::runtime::{self, Runtime};
use slipway_toolchain::runtime_share::{self, Source};
use slipway_toolchain::{CCompilers, CacheDir};

use crate::cli::WarmArgs;
use crate::input;
use crate::ui::{Ui, seconds};

#[derive(Debug, Serialize)]
struct Row {
    platform: String,
    runtime: String,
    /// `built`, `already built`, `restored from the remote cache`, `built
    /// and uploaded` or `failed`.
    status: &'static str,
    seconds: Option<f64>,
    error: Option<String>,
}

struct Job {
    target: Target,
    runtime: Runtime,
    cc: std::path::PathBuf,
}

pub fn run(args: WarmArgs, cache: &CacheDir, ui: Ui) -> anyhow::Result<()> {
    let platforms = Platform::parse_list(&args.platforms.join(","))?;
    let libc: Libc = args.libc.parse()?;
    if !libc.cgo() {
        return Err(input(format!(
            "--libc {libc} builds no C: pure-Go targets need no warm-up; use musl or glibc:X.Y"
        ))
        .into());
    }
    let exe = std::env::current_exe().context("cannot find the slipway executable")?;
    let mut compilers = CCompilers::new(cache, args.zig.as_deref(), &exe);
    let mut jobs: Vec<Job> = Vec::new();
    for platform in platforms {
        let target = Target::new(platform, libc);
        let cc = compilers
            .cc_for(
                &target,
                CCompiler::Zig,
                &slipway_toolchain::CSettings::default(),
                slipway_toolchain::MUSL_THREAD_STACK_DEFAULT,
                &BTreeMap::new(),
            )?
            .context("a cgo target without a C compiler")?;
        let zig = compilers.zig().context("zig was not found")?;
        let Some(runtime) = Runtime::for_target(&zig.version, &target) else {
            return Err(input(format!("{target} has no zig target")).into());
        };
        // Two platforms with one runtime (same triple and CPU) need one build.
        if !jobs.iter().any(|j| j.runtime == runtime) {
            jobs.push(Job {
                target,
                runtime,
                cc: cc.path,
            });
        }
    }
    let parallel = args
        .jobs
        .unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        })
        .max(1);

    let shared = match super::cache::remote_for(None)? {
        Some((spec, mode)) => Some(
            Cache::open(&CacheConfig {
                local_dir: cache.root.clone(),
                remote: Some(spec),
                mode,
                quiet: !ui.live,
            })
            .map_err(|e| input(format!("remote cache: {e}")))?,
        ),
        None => None,
    };
    let store = shared.as_ref().map(super::shared_steps::ZigStore);

    let multi = ui.live.then(MultiProgress::new);
    let style = ProgressStyle::with_template("{spinner} {prefix:<28} {msg} {elapsed}")
        .unwrap_or_else(|_| ProgressStyle::default_spinner());
    let rows: Mutex<Vec<(usize, Row)>> = Mutex::new(Vec::new());
    let running: Mutex<Vec<(String, Instant)>> = Mutex::new(Vec::new());
    let queue: Mutex<Vec<(usize, &Job)>> = Mutex::new(jobs.iter().enumerate().rev().collect());
    let done = std::sync::atomic::AtomicBool::new(false);
    let started = Instant::now();

    for job in &jobs {
        if !job.runtime.is_warm(cache) {
            let (estimate, measured) = runtime::estimate(cache, &job.runtime);
            ui.status(format!(
                "{}: zig {} compiles {}, about {}s ({})",
                job.target,
                job.runtime.zig_version,
                job.runtime.what(),
                estimate.as_secs(),
                if measured {
                    "as measured on this machine"
                } else {
                    "default estimate"
                }
            ));
        }
    }

    std::thread::scope(|scope| {
        if multi.is_none() {
            scope.spawn(|| heartbeat(ui, &running, &done));
        }
        let workers: Vec<_> = (0..parallel.min(jobs.len()))
            .map(|_| {
                scope.spawn(|| {
                    loop {
                        let next = queue.lock().unwrap_or_else(|e| e.into_inner()).pop();
                        let Some((i, job)) = next else { break };
                        let name = job.target.platform.to_string();
                        let bar = multi.as_ref().map(|m| {
                            let b = m.add(ProgressBar::new_spinner().with_style(style.clone()));
                            b.set_prefix(name.clone());
                            b.set_message(format!("zig compiles {}", job.runtime.what()));
                            b.enable_steady_tick(Duration::from_millis(120));
                            b
                        });
                        running
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .push((name.clone(), Instant::now()));
                        let row = warm_one(job, cache, store.as_ref());
                        running
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .retain(|(n, _)| *n != name);
                        let line = match (&row.status, row.seconds, &row.error) {
                            (_, _, Some(e)) => format!("{name}: failed: {e}"),
                            (s, Some(t), _) => format!("{name}: {s} in {t:.1}s"),
                            (s, None, _) => format!("{name}: {s}"),
                        };
                        match &bar {
                            Some(b) => b.finish_with_message(line),
                            None => ui.status(line),
                        }
                        rows.lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .push((i, row));
                    }
                })
            })
            .collect();
        for w in workers {
            let _ = w.join();
        }
        done.store(true, std::sync::atomic::Ordering::Relaxed);
    });

    if let Some(c) = &shared {
        c.flush();
        super::shared_steps::finish(super::shared_steps::ZIG_NS, c, ui);
    }
    let mut rows = rows.into_inner().unwrap_or_else(|e| e.into_inner());
    rows.sort_by_key(|(i, _)| *i);
    let rows: Vec<Row> = rows.into_iter().map(|(_, r)| r).collect();
    let failed = rows.iter().filter(|r| r.error.is_some()).count();
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "runtimes": rows,
                "seconds": started.elapsed().as_secs_f64(),
                "cache_steps": super::shared_steps::last_run(),
            }))?
        );
    }
    ui.status(format!(
        "{} C runtime{} ready, {failed} failed, in {}",
        rows.len() - failed,
        if rows.len() - failed == 1 { "" } else { "s" },
        seconds(started.elapsed())
    ));
    if failed > 0 {
        anyhow::bail!("zig could not build the C runtime for {failed} target(s); see above");
    }
    Ok(())
}

/// Link the program for one target through its CC wrapper and mark the
/// runtime as built; with a remote, restore it from there or build it in
/// isolation and upload it.
fn warm_one(job: &Job, cache: &CacheDir, store: Option<&super::shared_steps::ZigStore>) -> Row {
    let row = |status, seconds, error| Row {
        platform: job.target.platform.to_string(),
        runtime: job.runtime.name(),
        status,
        seconds,
        error,
    };
    if job.runtime.is_warm(cache) {
        return row("already built", None, None);
    }
    let started = Instant::now();
    let musl = matches!(job.target.libc, Libc::Musl);
    if let Some(store) = store {
        let result = runtime_share::fetch_or_build(cache, &job.runtime, &job.cc, musl, store);
        let took = Some(started.elapsed().as_secs_f64());
        return match result {
            Ok(Source::Hit) => row("restored from the remote cache", took, None),
            Ok(Source::Built) => row("built and uploaded", took, None),
            Ok(Source::Refused(_)) => row("built (the remote's copy was refused)", took, None),
            Err(e) => row("failed", took, Some(e.to_string())),
        };
    }
    let archives = runtime::archives_in_zig_cache(cache);
    let result = runtime_share::link_like_go(&job.cc, musl, None);
    let took = started.elapsed();
    match result {
        Ok(()) => {
            let compiled = runtime::archives_in_zig_cache(cache) > archives;
            job.runtime.mark_warm(cache, compiled.then_some(took));
            row("built", Some(took.as_secs_f64()), None)
        }
        Err(e) => row("failed", Some(took.as_secs_f64()), Some(e)),
    }
}

/// Without a terminal: a line every 30 s while anything is building.
fn heartbeat(
    ui: Ui,
    running: &Mutex<Vec<(String, Instant)>>,
    done: &std::sync::atomic::AtomicBool,
) {
    let mut last = Instant::now();
    while !done.load(std::sync::atomic::Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(200));
        if last.elapsed() < Duration::from_secs(30) {
            continue;
        }
        last = Instant::now();
        let list: Vec<String> = running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(n, since)| format!("{n} ({})", seconds(since.elapsed())))
            .collect();
        if !list.is_empty() {
            ui.status(format!("still compiling C runtimes: {}", list.join(", ")));
        }
    }
}
