//! Running the planned `go build`s in parallel and checking what they made.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use slipway_platform::Target;

use crate::BuildError;
use crate::fresh::{Output, Record, Shipped};
use crate::plan::{Plan, PlannedTarget};

/// Progress, reported from worker threads as it happens.
#[derive(Debug, Clone)]
pub enum Event<'a> {
    Started {
        target: &'a Target,
    },
    Finished {
        target: &'a Target,
        elapsed: Duration,
    },
    Failed {
        target: &'a Target,
        elapsed: Duration,
    },
}

/// A checked (and, by policy, stripped) binary in the staging area.
#[derive(Debug, Clone)]
pub struct Built {
    pub target: Target,
    /// Of the binary as shipped (after stripping).
    pub sha256: String,
    pub size: u64,
    /// The files to install, with their digests.
    pub shipped: Shipped,
}

impl Built {
    fn new(target: &Target, shipped: Shipped) -> Built {
        Built {
            target: target.clone(),
            sha256: shipped.binary.sha256.clone(),
            size: shipped.binary.size,
            shipped,
        }
    }
}

/// Build every target, at most `jobs` at a time. Every target is attempted;
/// all failures are reported together.
pub fn execute(
    plan: &Plan,
    jobs: usize,
    on_event: &(dyn Fn(Event<'_>) + Sync),
) -> Result<Vec<Built>, BuildError> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<(usize, Result<Built, BuildError>)>> = Mutex::new(Vec::new());
    let workers = jobs.clamp(1, plan.targets.len().max(1));
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    let index = next.fetch_add(1, Ordering::SeqCst);
                    let Some(planned) = plan.targets.get(index) else {
                        break;
                    };
                    on_event(Event::Started {
                        target: &planned.target,
                    });
                    let start = Instant::now();
                    let result = build_one(plan, planned);
                    let elapsed = start.elapsed();
                    on_event(match result {
                        Ok(_) => Event::Finished {
                            target: &planned.target,
                            elapsed,
                        },
                        Err(_) => Event::Failed {
                            target: &planned.target,
                            elapsed,
                        },
                    });
                    results
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push((index, result));
                }
            });
        }
    });
    let mut results = results.into_inner().unwrap_or_else(|e| e.into_inner());
    results.sort_by_key(|(i, _)| *i);
    let total = results.len();
    let mut built = Vec::new();
    let mut failures = Vec::new();
    for (_, result) in results {
        match result {
            Ok(b) => built.push(b),
            Err(e) => failures.push(e),
        }
    }
    match failures.len() {
        0 => Ok(built),
        1 => Err(failures.remove(0)),
        _ => Err(BuildError::Several { failures, total }),
    }
}

fn build_one(plan: &Plan, planned: &PlannedTarget) -> Result<Built, BuildError> {
    let target = &planned.target;
    if let Some(dir) = planned.stage.parent() {
        std::fs::create_dir_all(dir)
            .map_err(BuildError::io(format!("creating {}", dir.display())))?;
    }
    let mut cmd = planned.command(plan);
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(BuildError::io(format!("running {}", plan.go.display())))?;
    if !out.status.success() {
        let mut output = String::from_utf8_lossy(&out.stderr).trim_end().to_string();
        if output.is_empty() {
            output = format!("go exited with {}", out.status);
        }
        let mut output = indent(&output);
        if let Some(hint) = crate::advice::advice(&output, target) {
            output.push('\n');
            output.push_str(&hint);
        }
        return Err(BuildError::GoBuild {
            target: target.to_string(),
            output,
        });
    }
    // Unchanged since it was checked and stripped (Go found it up to date):
    // nothing to redo.
    if let Some(shipped) = Record::shipped_if_unchanged(&planned.stage, plan.strip.name()) {
        return Ok(Built::new(target, shipped));
    }
    let data = std::fs::read(&planned.stage).map_err(BuildError::io(format!(
        "reading {}",
        planned.stage.display()
    )))?;
    let files = crate::post_link::post_link(plan, planned, &data)?;
    drop(data);
    let output = |path: &Path| -> Result<Output, BuildError> {
        let bytes =
            std::fs::read(path).map_err(BuildError::io(format!("reading {}", path.display())))?;
        Ok(Output::new(
            path.to_path_buf(),
            sha256_hex(&bytes),
            bytes.len() as u64,
        ))
    };
    let shipped = Shipped {
        binary: output(&files.binary)?,
        debug: files.debug.as_deref().map(output).transpose()?,
    };
    Record::made(&planned.stage, plan.strip.name(), &shipped);
    Ok(Built::new(target, shipped))
}

/// The package's declared name, asked of `go list` only on the error path.
pub(crate) fn package_name(plan: &Plan) -> String {
    let Some(first) = plan.targets.first() else {
        return "?".into();
    };
    let mut cmd = Command::new(&plan.go);
    cmd.env_clear()
        .envs(plan.base_env.iter().map(|(k, v)| (k, v)))
        .envs(&first.env);
    cmd.current_dir(&plan.module_dir)
        .args(["list", "-f", "{{.Name}}", &plan.package]);
    cmd.output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "?".into())
}

pub(crate) fn sha256_hex(data: &[u8]) -> String {
    base16ct::lower::encode_string(&Sha256::digest(data))
}

pub(crate) fn sha256_file(path: &Path) -> Option<String> {
    std::fs::read(path).ok().map(|d| sha256_hex(&d))
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}
