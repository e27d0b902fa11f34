//! The outside judges of slipway's supply-chain output: a real cosign, and
//! the SPDX and CycloneDX projects' own validators. Missing ones fail loudly.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{repo_root, require, stdout_ok};

/// cosign v2 (the `.sig`/`.att` tag format), built once from the Go module
/// proxy by `scripts/install-cosign.sh`.
pub fn cosign() -> PathBuf {
    cosign_version("v2.6.5")
}

/// cosign v3 (Sigstore bundles as OCI 1.1 referrers by default).
pub fn cosign_v3() -> PathBuf {
    cosign_version("v3.1.3")
}

fn cosign_version(version: &str) -> PathBuf {
    let out = Command::new("bash")
        .arg(repo_root().join("scripts/install-cosign.sh"))
        .arg(version)
        .output()
        .expect("running scripts/install-cosign.sh");
    PathBuf::from(stdout_ok(&out, "scripts/install-cosign.sh").trim())
}

/// A peer tool built once from the Go module proxy by
/// `scripts/install-go-tool.sh`: `oras`, `referrers-registry`.
pub fn go_tool(name: &str) -> PathBuf {
    let out = Command::new("bash")
        .arg(repo_root().join("scripts/install-go-tool.sh"))
        .arg(name)
        .output()
        .expect("running scripts/install-go-tool.sh");
    PathBuf::from(stdout_ok(&out, "scripts/install-go-tool.sh").trim())
}

/// A running registry that serves the OCI 1.1 referrers API
/// (go-containerregistry's, in memory, plain HTTP on loopback); killed on drop.
pub struct ReferrersRegistry {
    child: std::process::Child,
    host: String,
}

impl ReferrersRegistry {
    pub fn start() -> ReferrersRegistry {
        use std::io::BufRead;
        let bin = go_tool("referrers-registry");
        let mut child = Command::new(&bin)
            .args(["-addr", "127.0.0.1:0"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", bin.display()));
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().expect("piped stdout"))
            .read_line(&mut line)
            .expect("reading the registry's address");
        let host = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("the referrers registry said {line:?}"))
            .to_string();
        ReferrersRegistry { child, host }
    }

    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> String {
        self.host.clone()
    }

    /// `127.0.0.1:PORT/repo_and_tag`.
    pub fn reference(&self, repo_and_tag: &str) -> String {
        format!("{}/{repo_and_tag}", self.host)
    }
}

impl Drop for ReferrersRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// pip tools live in Python's script directory, which must be on PATH.
fn pip_tool(name: &str) -> PathBuf {
    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!("{name} is required by this test: run scripts/setup.sh (pip install spdx-tools)")
        })
}

/// spdx-tools' own parser and validator: a valid SPDX 2.3 document or a panic.
pub fn validate_spdx(file: &Path) {
    let o = Command::new(pip_tool("pyspdxtools"))
        .arg("-i")
        .arg(file)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        o.status.success() && !err.contains("invalid"),
        "pyspdxtools rejects {}:\n{}{err}",
        file.display(),
        String::from_utf8_lossy(&o.stdout)
    );
}

const CDX_VALIDATE: &str = r#"
import sys
try:
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator
except ImportError as e:
    sys.exit(f"cyclonedx-python-lib[json-validation] is not installed ({e}): run scripts/setup.sh")
error = JsonStrictValidator(SchemaVersion.V1_6).validate_str(open(sys.argv[1]).read())
if error is not None:
    sys.exit(f"invalid CycloneDX 1.6: {error}")
"#;

/// cyclonedx-python-lib's strict JSON-schema validation for CycloneDX 1.6.
pub fn validate_cyclonedx(file: &Path) {
    let o = Command::new(require("python3", "python3"))
        .args(["-c", CDX_VALIDATE])
        .arg(file)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "the CycloneDX validator rejects {}:\n{}",
        file.display(),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// notation v1.3.2, built once from the Go module proxy by `scripts/install-notation.sh`.
pub fn notation() -> PathBuf {
    let out = Command::new("bash")
        .arg(repo_root().join("scripts/install-notation.sh"))
        .output()
        .expect("running scripts/install-notation.sh");
    PathBuf::from(stdout_ok(&out, "scripts/install-notation.sh").trim())
}
