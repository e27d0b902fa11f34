//! The Go toolchain: which `go`, its version, and the ports it supports.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize;
use slipway_platform::{Arch, Target, TargetError};

use crate::ToolchainError;
use crate::process::{output, which};

/// Go settings slipway passes through to builds from the user's environment
/// (including their `go env -w` file), because they say where modules come
/// from and where caches live, not what is built.
pub const PASSED_THROUGH: &[&str] = &[
    "GOPROXY",
    "GOPRIVATE",
    "GONOSUMDB",
    "GONOPROXY",
    "GOSUMDB",
    "GOINSECURE",
    "GOFLAGS",
    "GOCACHE",
    "GOMODCACHE",
    "GOPATH",
    "GOAUTH",
];

#[derive(Debug, Clone)]
pub struct GoToolchain {
    pub path: PathBuf,
    /// As Go prints it: `go1.26.8`.
    pub version: String,
    pub major: u32,
    pub minor: u32,
    pub goroot: PathBuf,
    /// The values of [`PASSED_THROUGH`] as the user's `go env` resolves them.
    pub passed_env: BTreeMap<String, String>,
    /// linux ports of this Go: GOARCH → cgo supported.
    pub ports: BTreeMap<String, bool>,
}

#[derive(Deserialize)]
struct Port {
    #[serde(rename = "GOOS")]
    goos: String,
    #[serde(rename = "GOARCH")]
    goarch: String,
    #[serde(rename = "CgoSupported")]
    cgo_supported: bool,
}

impl GoToolchain {
    /// Find `go` (an explicit path, else PATH) and ask it about itself.
    pub fn discover(explicit: Option<&Path>) -> Result<GoToolchain, ToolchainError> {
        let path = match explicit {
            Some(p) if p.is_file() => p.to_path_buf(),
            Some(p) => {
                return Err(ToolchainError::GoNotFound {
                    looked: p.display().to_string(),
                });
            }
            None => which("go").ok_or(ToolchainError::GoNotFound {
                looked: "PATH".into(),
            })?,
        };
        let mut keys = vec!["GOVERSION", "GOROOT"];
        keys.extend(PASSED_THROUGH);
        // GOTOOLCHAIN=local: asking must not download another Go.
        let env_json = output(
            Command::new(&path)
                .arg("env")
                .arg("-json")
                .args(&keys)
                .env("GOTOOLCHAIN", "local"),
        )?;
        let mut env: BTreeMap<String, String> =
            serde_json::from_str(&env_json).map_err(|e| ToolchainError::Unexpected {
                tool: "go env -json".into(),
                detail: e.to_string(),
            })?;
        let version = env.remove("GOVERSION").unwrap_or_default();
        let goroot = PathBuf::from(env.remove("GOROOT").unwrap_or_default());
        let (major, minor) =
            parse_go_version(&version).ok_or_else(|| ToolchainError::Unexpected {
                tool: "go env GOVERSION".into(),
                detail: format!("cannot read the version `{version}`"),
            })?;
        let ports_json = output(
            Command::new(&path)
                .args(["tool", "dist", "list", "-json"])
                .env("GOTOOLCHAIN", "local"),
        )?;
        let ports: Vec<Port> =
            serde_json::from_str(&ports_json).map_err(|e| ToolchainError::Unexpected {
                tool: "go tool dist list -json".into(),
                detail: e.to_string(),
            })?;
        let ports = ports
            .into_iter()
            .filter(|p| p.goos == "linux")
            .map(|p| (p.goarch, p.cgo_supported))
            .collect();
        env.retain(|_, v| !v.is_empty());
        Ok(GoToolchain {
            path,
            version,
            major,
            minor,
            goroot,
            passed_env: env,
            ports,
        })
    }

    /// Check a target against this Go: the port exists, cgo exists where asked,
    /// and the variant spelling is known to this version.
    pub fn check(&self, target: &Target) -> Result<(), ToolchainError> {
        let arch = target.arch();
        match self.ports.get(arch.goarch()) {
            None => Err(ToolchainError::PortMissing {
                platform: target.platform.to_string(),
                go: self.version.clone(),
            }),
            Some(false) if target.libc.cgo() => Err(TargetError::NoCgo {
                platform: target.platform.to_string(),
                libc: target.libc,
            }
            .into()),
            _ => Ok(target.check_go_version(self.major, self.minor)?),
        }
    }

    /// Whether this Go lists the architecture at all.
    pub fn has_port(&self, arch: Arch) -> bool {
        self.ports.contains_key(arch.goarch())
    }
}

/// `go1.26.8` → (1, 26); `go1.27rc1` → (1, 27); `devel go1.27-abc` → (1, 27).
pub fn parse_go_version(v: &str) -> Option<(u32, u32)> {
    let start = v.find("go1.")?;
    let rest = &v[start + 2..];
    let mut parts = rest.split(|c: char| !c.is_ascii_digit());
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_versions() {
        assert_eq!(parse_go_version("go1.26.8"), Some((1, 26)));
        assert_eq!(parse_go_version("go1.27rc1"), Some((1, 27)));
        assert_eq!(parse_go_version("devel go1.27-abcdef Tue"), Some((1, 27)));
        assert_eq!(parse_go_version("gccgo"), None);
    }
}
