//! The secret gate: every file headed for a layer is scanned, and the image
//! is refused while a finding is not on the allow-list.

use slipway_oci::LayerTar;
use slipway_scan::secrets::{Allow, SecretFinding};

/// Possible secrets in files bound for the image (never their values).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}", message(.findings))]
pub struct SecretsFound {
    pub findings: Vec<SecretFinding>,
}

fn message(found: &[SecretFinding]) -> String {
    let Some(first) = found.first() else {
        return "possible secrets in the image".into();
    };
    format!(
        "{} possible secret{} in files bound for the image; nothing was written. Remove them, \
or if one is intended (a test key, a public token), allow it with --allow-secret {}:{} or \
allow_secrets = [\"{}:{}\"] in [image] of slipway.toml",
        found.len(),
        if found.len() == 1 { "" } else { "s" },
        first.path,
        first.kind,
        first.path,
        first.kind
    )
}

pub(crate) struct SecretGate {
    allow: Vec<Allow>,
    found: Vec<SecretFinding>,
    /// Findings the allow-list let through so far.
    pub allowed: usize,
}

impl SecretGate {
    pub fn new(allow: Vec<Allow>) -> SecretGate {
        SecretGate {
            allow,
            found: Vec::new(),
            allowed: 0,
        }
    }

    pub fn check(&mut self, tar: &LayerTar) {
        for (path, data) in tar.files() {
            // Findings and allow-lists use the path as seen in the image.
            let path = format!("/{}", path.trim_start_matches('/'));
            let all = slipway_scan::secrets::scan(&path, data);
            let n = all.len();
            let left = slipway_scan::secrets::not_allowed(all, &self.allow);
            self.allowed += n - left.len();
            self.found.extend(left);
        }
    }

    /// Fail on anything not allowed.
    pub fn finish(&mut self) -> Result<(), SecretsFound> {
        if self.found.is_empty() {
            return Ok(());
        }
        self.found.sort();
        self.found.dedup();
        Err(SecretsFound {
            findings: std::mem::take(&mut self.found),
        })
    }
}
