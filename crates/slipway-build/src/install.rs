//! Moving checked binaries into the output directory: all targets or none,
//! each file through a temporary name and a rename, then `SHA256SUMS`.

use std::path::{Path, PathBuf};

use serde::Serialize;
use slipway_platform::Target;

use crate::BuildError;
use crate::fresh::{Output, Record, Shipped};
use crate::plan::Plan;
use crate::run::{Built, sha256_file};

/// A binary in the output directory.
#[derive(Debug, Clone, Serialize)]
pub struct Artifact {
    #[serde(serialize_with = "display")]
    pub target: Target,
    pub path: PathBuf,
    pub sha256: String,
    pub size: u64,
    /// The split debug info beside the binary (`<name>.debug`), if any.
    pub debug: Option<PathBuf>,
}

fn display<S: serde::Serializer>(t: &Target, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&t.to_string())
}

/// The output directory, checked before any build starts. If slipway had to
/// create it and the build then fails, [`OutDir::abandon`] removes it again.
#[derive(Debug)]
pub struct OutDir {
    pub path: PathBuf,
    created: Option<PathBuf>,
}

impl OutDir {
    pub fn prepare(path: &Path) -> Result<OutDir, BuildError> {
        let fail = |why: String| BuildError::OutDir {
            path: path.to_path_buf(),
            why,
        };
        let mut created = None;
        match std::fs::metadata(path) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => return Err(fail("it exists and is not a directory".into())),
            Err(_) => {
                // Remember the outermost directory this creates, to remove on failure.
                let mut first_missing = path.to_path_buf();
                while let Some(parent) = first_missing.parent() {
                    if parent.as_os_str().is_empty() || parent.exists() {
                        break;
                    }
                    first_missing = parent.to_path_buf();
                }
                std::fs::create_dir_all(path).map_err(|e| fail(e.to_string()))?;
                created = Some(first_missing);
            }
        }
        // Creating a file is the only reliable test of writability (root ignores modes,
        // read-only mounts ignore them too).
        tempfile::Builder::new()
            .prefix(".slipway-probe-")
            .tempfile_in(path)
            .map_err(|e| fail(e.to_string()))?;
        Ok(OutDir {
            path: path.to_path_buf(),
            created,
        })
    }

    /// Undo `prepare` after a failed build: remove what it created, if still empty.
    pub fn abandon(self) {
        if let Some(top) = self.created {
            let mut dir = self.path.clone();
            loop {
                if std::fs::remove_dir(&dir).is_err() || dir == top {
                    break;
                }
                match dir.parent() {
                    Some(p) => dir = p.to_path_buf(),
                    None => break,
                }
            }
        }
    }
}

/// Install every built binary as `OUT/<os>_<arch>[_<variant>]/<name>` (with
/// `<name>.debug` beside it when debug info is split off) and write
/// `OUT/SHA256SUMS` (in `sha256sum -c` format) for this build's files.
pub fn install(plan: &Plan, out: &OutDir, built: &[Built]) -> Result<Vec<Artifact>, BuildError> {
    let mut artifacts = Vec::with_capacity(built.len());
    let mut sums: Vec<String> = Vec::new();
    for b in built {
        let planned = plan
            .targets
            .iter()
            .find(|p| p.target == b.target)
            .expect("built targets come from the plan");
        let dir_name = b.target.platform.dir_name();
        let dir = out.path.join(&dir_name);
        std::fs::create_dir_all(&dir)
            .map_err(BuildError::io(format!("creating {}", dir.display())))?;
        let absolute = |p: PathBuf| std::path::absolute(&p).unwrap_or(p);
        let dest = absolute(dir.join(&plan.name));
        let debug_dest = absolute(dir.join(format!("{}.debug", plan.name)));
        let mut debug = None;
        // The debug file goes first: a binary whose debuglink names a file
        // that is not there yet is never visible.
        match &b.shipped.debug {
            Some(file) => {
                install_file(&planned.stage, &b.shipped, file, &debug_dest, 0o644)?;
                sums.push(format!("{}  {dir_name}/{}.debug\n", file.sha256, plan.name));
                debug = Some(debug_dest);
            }
            // A debug file from an earlier split build no longer matches.
            None => match std::fs::remove_file(&debug_dest) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(BuildError::Io {
                        what: format!("removing stale {}", debug_dest.display()),
                        source: e,
                    });
                }
            },
        }
        install_file(&planned.stage, &b.shipped, &b.shipped.binary, &dest, 0o755)?;
        sums.push(format!("{}  {dir_name}/{}\n", b.sha256, plan.name));
        let path = dest;
        artifacts.push(Artifact {
            target: b.target.clone(),
            path,
            sha256: b.sha256.clone(),
            size: b.size,
            debug,
        });
    }
    sums.sort();
    slipway_toolchain::write_atomic(
        &out.path.join("SHA256SUMS"),
        sums.concat().as_bytes(),
        0o644,
    )
    .map_err(BuildError::io(format!(
        "writing {}",
        out.path.join("SHA256SUMS").display()
    )))?;
    Ok(artifacts)
}

/// Copy one output into place unless it is there already: the record answers
/// without reading when the copy is untouched since it was installed.
fn install_file(
    stage: &Path,
    shipped: &Shipped,
    file: &Output,
    dest: &Path,
    mode: u32,
) -> Result<(), BuildError> {
    if Record::is_installed(stage, shipped, dest) {
        return Ok(());
    }
    if sha256_file(dest).as_deref() != Some(file.sha256.as_str()) {
        copy_atomic(&file.path, dest, mode)?;
    }
    Record::installed(stage, dest);
    Ok(())
}

fn copy_atomic(from: &Path, to: &Path, mode: u32) -> Result<(), BuildError> {
    slipway_fs::copy_atomic(from, to, mode)
        .map_err(BuildError::io(format!("writing {}", to.display())))
}
