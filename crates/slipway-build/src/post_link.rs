//! After the link: check what `go build` made against the promises of its
//! target (the right machine, static for `none`/`musl`, no glibc newer than
//! the floor), then strip it and split its debug info as the policy says.

use std::path::{Path, PathBuf};

use slipway_platform::{Libc, Target};

use crate::BuildError;
use crate::plan::{Plan, PlannedTarget};

/// What happens to debug info after a build.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StripPolicy {
    /// Ship a stripped binary and keep `<name>.debug` beside it, linked by
    /// `.gnu_debuglink` so gdb finds it.
    #[default]
    Split,
    /// Ship a stripped binary; the debug info is dropped.
    Strip,
    /// Ship the binary exactly as linked.
    None,
}

impl StripPolicy {
    pub fn name(self) -> &'static str {
        match self {
            StripPolicy::Split => "split",
            StripPolicy::Strip => "strip",
            StripPolicy::None => "none",
        }
    }
}

impl std::str::FromStr for StripPolicy {
    type Err = BuildError;
    fn from_str(s: &str) -> Result<StripPolicy, BuildError> {
        match s {
            "split" => Ok(StripPolicy::Split),
            "strip" => Ok(StripPolicy::Strip),
            "none" => Ok(StripPolicy::None),
            _ => Err(BuildError::BadStrip { value: s.into() }),
        }
    }
}

/// The files to install for one target, in the staging area.
#[derive(Debug, Clone)]
pub struct PostLinked {
    pub binary: PathBuf,
    /// The split debug file (`<name>.debug`), for [`StripPolicy::Split`].
    pub debug: Option<PathBuf>,
}

/// Check the linked binary, then strip or split it into `stage/../out/`.
pub fn post_link(
    plan: &Plan,
    planned: &PlannedTarget,
    data: &[u8],
) -> Result<PostLinked, BuildError> {
    check(plan, &planned.target, data)?;
    let mode = match plan.strip {
        StripPolicy::None => {
            return Ok(PostLinked {
                binary: planned.stage.clone(),
                debug: None,
            });
        }
        StripPolicy::Split | StripPolicy::Strip => slipway_elf::StripMode::All,
    };
    let dir = planned.stage.parent().unwrap_or(Path::new(".")).join("out");
    std::fs::create_dir_all(&dir).map_err(BuildError::io(format!("creating {}", dir.display())))?;
    let binary = dir.join(&plan.name);
    let debug_name = format!("{}.debug", plan.name);
    let split = plan.strip == StripPolicy::Split;
    let result =
        slipway_elf::strip(data, mode, split.then_some(debug_name.as_str())).map_err(|e| {
            BuildError::WrongBinary {
                target: planned.target.to_string(),
                detail: format!("cannot strip it: {e}"),
            }
        })?;
    let write_err = |path: &Path| {
        let what = format!("writing {}", path.display());
        move |e: slipway_elf::ElfError| BuildError::Io {
            what,
            source: std::io::Error::other(e.to_string()),
        }
    };
    let mut debug = None;
    if let Some(d) = &result.debug {
        let path = dir.join(&debug_name);
        slipway_elf::write_output(&path, d, 0o644).map_err(write_err(&path))?;
        debug = Some(path);
    }
    slipway_elf::write_output(&binary, &result.stripped, 0o755).map_err(write_err(&binary))?;
    Ok(PostLinked { binary, debug })
}

/// What slipway promises about every result: an ELF for the target's
/// architecture, static for `none` and `musl`, and within the glibc floor.
pub fn check(plan: &Plan, target: &Target, data: &[u8]) -> Result<(), BuildError> {
    let summary = match slipway_elf::summarize(data) {
        Ok(s) => s,
        // `go build -o` of a non-main package writes a Go archive: explain it.
        Err(slipway_elf::ElfError::NotElf) if data.starts_with(b"!<arch>\n") => {
            return Err(BuildError::NotMain {
                package: plan.package.clone(),
                name: crate::run::package_name(plan),
            });
        }
        Err(e) => {
            return Err(BuildError::WrongBinary {
                target: target.to_string(),
                detail: e.to_string(),
            });
        }
    };
    if summary.machine != target.arch().elf_machine() {
        return Err(BuildError::WrongBinary {
            target: target.to_string(),
            detail: format!(
                "ELF machine {} instead of {}",
                summary.machine,
                target.arch().elf_machine()
            ),
        });
    }
    if target.libc.is_static() && !summary.is_static() {
        let interpreter = match (&summary.interpreter, summary.needed.is_empty()) {
            (Some(i), _) => i.clone(),
            (None, false) => format!("none, but needs {}", summary.needed.join(", ")),
            (None, true) => "none".into(),
        };
        return Err(BuildError::NotStatic {
            target: target.to_string(),
            libc: target.libc.to_string(),
            interpreter,
        });
    }
    if let Libc::Glibc(floor) = target.libc {
        let floor_parts = [
            u32::from(floor.major),
            u32::from(floor.minor),
            u32::from(floor.patch),
        ];
        let violation =
            slipway_elf::glibc_floor(data, &floor_parts).map_err(|e| BuildError::WrongBinary {
                target: target.to_string(),
                detail: e.to_string(),
            })?;
        if let Some(v) = violation {
            return Err(BuildError::GlibcFloor {
                target: target.to_string(),
                floor: floor.to_string(),
                detail: v.to_string(),
            });
        }
    }
    // Never ship a binary that silently lacks the allocator asked for.
    if plan.allocator != slipway_alloc::Allocator::Libc {
        let note = slipway_alloc::detect(data).map_err(|e| BuildError::WrongBinary {
            target: target.to_string(),
            detail: e.to_string(),
        })?;
        if note.as_ref().map(|n| n.name.as_str()) != Some(plan.allocator.name()) {
            return Err(BuildError::AllocatorMissing {
                target: target.to_string(),
                allocator: plan.allocator.name().into(),
                section: slipway_alloc::NOTE_SECTION.into(),
            });
        }
    }
    Ok(())
}
