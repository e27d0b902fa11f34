//! Moving checked binaries into the output directory: all targets or none,
//! each file through a temporary name and a rename, then `SHA256SUMS`.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;
use slipway_platform::Target;

use crate::BuildError;
use crate::fresh::Record;
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

/// Install every built binary as `OUT/<os>_<arch>[_<variant>]/<name>` and write
/// `OUT/SHA256SUMS` (in `sha256sum -c` format) for this build's files.
pub fn install(plan: &Plan, out: &OutDir, built: &[Built]) -> Result<Vec<Artifact>, BuildError> {
    let mut artifacts = Vec::with_capacity(built.len());
    for b in built {
        let planned = plan
            .targets
            .iter()
            .find(|p| p.target == b.target)
            .expect("built targets come from the plan");
        let dir = out.path.join(b.target.platform.dir_name());
        let dest =
            std::path::absolute(dir.join(&plan.name)).unwrap_or_else(|_| dir.join(&plan.name));
        // The record skips re-reading a copy that is still the one installed.
        if !Record::is_installed(&planned.stage, &dest, &b.sha256) {
            if sha256_file(&dest).as_deref() != Some(b.sha256.as_str()) {
                std::fs::create_dir_all(&dir)
                    .map_err(BuildError::io(format!("creating {}", dir.display())))?;
                copy_atomic(&planned.stage, &dest, 0o755)?;
            }
            Record::installed(&planned.stage, &dest);
        }
        let path = dest;
        artifacts.push(Artifact {
            target: b.target.clone(),
            path,
            sha256: b.sha256.clone(),
            size: b.size,
        });
    }
    let mut sums: Vec<String> = artifacts
        .iter()
        .map(|a| {
            format!(
                "{}  {}/{}\n",
                a.sha256,
                a.target.platform.dir_name(),
                plan.name
            )
        })
        .collect();
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

fn copy_atomic(from: &Path, to: &Path, mode: u32) -> Result<(), BuildError> {
    use std::os::unix::fs::PermissionsExt;
    let dir = to.parent().unwrap_or(Path::new("."));
    let io = BuildError::io(format!("writing {}", to.display()));
    let result = (|| {
        let mut tmp = tempfile::Builder::new()
            .prefix(".slipway-")
            .tempfile_in(dir)?;
        let mut src = std::fs::File::open(from)?;
        std::io::copy(&mut src, tmp.as_file_mut())?;
        tmp.as_file_mut().flush()?;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(mode))?;
        tmp.persist(to).map_err(|e| e.error)?;
        Ok(())
    })();
    result.map_err(io)
}
