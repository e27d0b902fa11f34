//! GNU cross compilers from the distribution (`aarch64-linux-gnu-gcc`), the
//! alternative to zig for glibc targets.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use slipway_platform::{GlibcVersion, Libc, Target};

use crate::ToolchainError;
use crate::process::{output, which};

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
