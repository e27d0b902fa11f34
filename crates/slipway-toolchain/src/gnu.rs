//! GNU cross compilers from the distribution (`aarch64-linux-gnu-gcc`), the
//! alternative to zig for glibc targets.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use sha2::{Digest, Sha256};
use slipway_platform::{GlibcVersion, Libc, Target};

use crate::process::{output, which};
use crate::{CSettings, CacheDir, ToolchainError};

#[derive(Debug, Clone)]
pub struct GnuCc {
    pub triple: &'static str,
    pub path: PathBuf,
    pub version: String,
    /// The glibc its sysroot links against; binaries need at least this one.
    pub glibc: GlibcVersion,
}

impl GnuCc {
    /// Find `<triple>-gcc` on PATH and read its glibc version from its own headers.
    pub fn discover(triple: &'static str) -> Option<Result<GnuCc, ToolchainError>> {
        let path = which(&format!("{triple}-gcc"))?;
        Some(Self::probe(triple, path))
    }

    fn probe(triple: &'static str, path: PathBuf) -> Result<GnuCc, ToolchainError> {
        let version = output(Command::new(&path).arg("-dumpfullversion"))?
            .trim()
            .to_string();
        let mut cmd = Command::new(&path);
        cmd.args([
            "-E",
            "-dM",
            "-x",
            "c",
            "-include",
            "features.h",
            "/dev/null",
        ])
        .stdin(Stdio::null());
        let macros = output(&mut cmd)?;
        let define = |name: &str| {
            macros.lines().find_map(|l| {
                l.strip_prefix(&format!("#define {name} "))
                    .and_then(|v| v.trim().parse::<u16>().ok())
            })
        };
        let glibc = match (define("__GLIBC__"), define("__GLIBC_MINOR__")) {
            (Some(major), Some(minor)) => GlibcVersion::new(major, minor),
            _ => {
                return Err(ToolchainError::Unexpected {
                    tool: format!("{triple}-gcc"),
                    detail: "its features.h defines no __GLIBC__ version; is the matching libc6-dev cross package installed?".into(),
                });
            }
        };
        Ok(GnuCc {
            triple,
            path,
            version,
            glibc,
        })
    }

    /// A GNU cross gcc links against its own glibc, so it can only honour a
    /// floor at or above that version.
    pub fn check(&self, target: &Target) -> Result<(), ToolchainError> {
        match target.libc {
            Libc::Glibc(floor) if floor < self.glibc => Err(ToolchainError::GnuGlibcTooNew {
                gcc: format!("{}-gcc", self.triple),
                have: self.glibc,
                floor,
            }),
            _ => Ok(()),
        }
    }
}

/// A gcc with per-target settings runs through a wrapper whose path carries a
/// digest of the settings: the flags themselves reach gcc through
/// `CGO_CFLAGS`/`CGO_LDFLAGS`, which Go's cache keys include, but pkg-config's
/// search path is not part of Go's keys, and the `CC` path is.
pub fn write_wrapper(
    cache: &CacheDir,
    gcc: &GnuCc,
    settings: &CSettings,
) -> Result<PathBuf, ToolchainError> {
    let mut h = Sha256::new();
    h.update(gcc.path.as_os_str().as_encoded_bytes());
    h.update([0]);
    for part in settings.identity() {
        h.update(part.as_bytes());
        h.update([0]);
    }
    let id: String = h
        .finalize()
        .iter()
        .take(6)
        .map(|b| format!("{b:02x}"))
        .collect();
    let path = cache.path(format!("cc/gnu-{}/{}-{id}/cc", gcc.version, gcc.triple));
    let mut script = format!(
        "#!/bin/sh\n# slipway: cgo C compiler, {}-gcc with per-target settings:\n",
        gcc.triple
    );
    for part in settings.identity() {
        script.push_str(&format!("#   {}\n", part.replace('\n', " ")));
    }
    script.push_str(&format!(
        "exec '{}' \"$@\"\n",
        gcc.path.to_string_lossy().replace('\'', "'\\''")
    ));
    if std::fs::read(&path).ok().as_deref() != Some(script.as_bytes()) {
        slipway_fs::write_atomic(&path, script.as_bytes(), 0o755).map_err(|source| {
            ToolchainError::Io {
                what: format!("writing the C compiler wrapper {}", path.display()),
                source,
            }
        })?;
    }
    Ok(path)
}
