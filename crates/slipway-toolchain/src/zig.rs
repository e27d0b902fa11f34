//! zig as the C cross compiler: finding it, and what its libc support covers.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::{Deserialize, Serialize};
use slipway_platform::{GlibcVersion, Libc, Target};

use crate::ToolchainError;
use crate::cache::CacheDir;
use crate::process::{is_executable, output, which};
use slipway_fs::write_atomic;

#[derive(Debug, Clone)]
pub struct Zig {
    /// The zig executable itself (not a `python3 -m ziglang` shim).
    pub path: PathBuf,
    pub version: String,
    pub support: ZigSupport,
}

/// What `zig targets` says about C libraries.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ZigSupport {
    /// `aarch64-linux-musl`, `arm-linux-gnueabihf`, ...
    pub libc: Vec<String>,
    /// Every glibc version zig can link against.
    pub glibc: Vec<String>,
}

impl Zig {
    /// An explicit path, else `zig` on PATH, else the `ziglang` Python package
    /// (`pip install ziglang`). The package's location is remembered in the
    /// cache because asking Python costs a tenth of a second.
    pub fn discover(explicit: Option<&Path>, cache: &CacheDir) -> Result<Zig, ToolchainError> {
        let path = match explicit {
            Some(p) if is_executable(p) => p.to_path_buf(),
            Some(p) => {
                return Err(ToolchainError::ZigNotFound {
                    detail: format!("{} is not an executable", p.display()),
                });
            }
            None => match which("zig") {
                Some(p) => p,
                None => find_ziglang(cache)?,
            },
        };
        let version = output(Command::new(&path).arg("version"))?
            .trim()
            .to_string();
        let support = ZigSupport::load(&path, &version, cache)?;
        Ok(Zig {
            path,
            version,
            support,
        })
    }

    /// Check that this zig has a C library for the target.
    pub fn check(&self, target: &Target) -> Result<(), ToolchainError> {
        let Some(triple) = target.zig_triple() else {
            return Ok(());
        };
        let base = match target.libc {
            Libc::Glibc(v) => triple.trim_end_matches(&format!(".{v}")).to_string(),
            _ => triple.clone(),
        };
        if !self.support.libc.contains(&base) {
            return Err(ToolchainError::ZigNoLibc {
                triple: base,
                zig: self.version.clone(),
                platform: target.platform.to_string(),
            });
        }
        if let Libc::Glibc(wanted) = target.libc {
            let known: Vec<GlibcVersion> = self
                .support
                .glibc
                .iter()
                .filter_map(|v| GlibcVersion::parse(v))
                .collect();
            if !known.contains(&wanted) {
                let newest = known
                    .iter()
                    .max()
                    .map(|v| v.to_string())
                    .unwrap_or_default();
                return Err(ToolchainError::ZigNoGlibc {
                    wanted,
                    zig: self.version.clone(),
                    newest,
                });
            }
        }
        Ok(())
    }
}

fn find_ziglang(cache: &CacheDir) -> Result<PathBuf, ToolchainError> {
    let remembered = cache.path("toolchains/ziglang-location");
    if let Ok(text) = std::fs::read_to_string(&remembered) {
        let p = PathBuf::from(text.trim());
        if is_executable(&p) {
            return Ok(p);
        }
    }
    let not_found = |detail: String| ToolchainError::ZigNotFound { detail };
    let python = which("python3").ok_or_else(|| {
        not_found("no `zig` on PATH and no python3 to look for the ziglang package".into())
    })?;
    let dir = output(Command::new(python).args([
        "-c",
        "import ziglang, os; print(os.path.dirname(ziglang.__file__))",
    ]))
    .map_err(|_| {
        not_found("no `zig` on PATH and the ziglang Python package is not installed".into())
    })?;
    let exe = PathBuf::from(dir.trim()).join("zig");
    if !is_executable(&exe) {
        return Err(not_found(format!(
            "the ziglang package at {} has no zig executable",
            dir.trim()
        )));
    }
    // Remembering is an optimisation; failing to write it changes nothing.
    let _ = write_atomic(&remembered, exe.to_string_lossy().as_bytes(), 0o644);
    Ok(exe)
}

impl ZigSupport {
    fn load(zig: &Path, version: &str, cache: &CacheDir) -> Result<ZigSupport, ToolchainError> {
        let cached = cache.path(format!("toolchains/zig-{version}-targets.json"));
        if let Some(support) = std::fs::read(&cached)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
        {
            return Ok(support);
        }
        let text = output(Command::new(zig).arg("targets"))?;
        let support = ZigSupport {
            libc: zon_string_list(&text, "libc"),
            glibc: zon_string_list(&text, "glibc"),
        };
        if support.libc.is_empty() || support.glibc.is_empty() {
            return Err(ToolchainError::Unexpected {
                tool: "zig targets".into(),
                detail: "found no .libc or .glibc list in its output".into(),
            });
        }
        let json = serde_json::to_vec(&support).unwrap_or_default();
        let _ = write_atomic(&cached, &json, 0o644);
        Ok(support)
    }
}

/// The strings of a top-level `.name = .{ "a", "b", },` list in zig's ZON output
/// (zig 0.14 and later print ZON; older ones printed JSON `"name": [ ... ]`).
pub fn zon_string_list(text: &str, name: &str) -> Vec<String> {
    let zon = format!(".{name} = .{{");
    let json = format!("\"{name}\": [");
    let Some(start) = text
        .find(&zon)
        .map(|i| i + zon.len())
        .or_else(|| text.find(&json).map(|i| i + json.len()))
    else {
        return Vec::new();
    };
    let rest = &text[start..];
    let end = rest.find(['}', ']']).unwrap_or(rest.len());
    rest[..end]
        .split(',')
        .map(|item| item.trim().trim_matches('"').to_string())
        .filter(|item| !item.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_zon_and_json_lists() {
        let zon = ".{\n    .libc = .{\n        \"aarch64-linux-musl\",\n        \"x86_64-linux-gnu\",\n    },\n    .glibc = .{\n        \"2.28.0\",\n    },\n}";
        assert_eq!(
            zon_string_list(zon, "libc"),
            ["aarch64-linux-musl", "x86_64-linux-gnu"]
        );
        assert_eq!(zon_string_list(zon, "glibc"), ["2.28.0"]);
        let json = "{ \"libc\": [ \"arm-linux-musleabi\" ], \"glibc\": [\"2.17.0\", \"2.28.0\"] }";
        assert_eq!(zon_string_list(json, "libc"), ["arm-linux-musleabi"]);
        assert_eq!(zon_string_list(json, "glibc"), ["2.17.0", "2.28.0"]);
        assert!(zon_string_list("nothing", "libc").is_empty());
    }
}
