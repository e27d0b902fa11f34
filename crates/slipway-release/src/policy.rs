//! A channel's policy (`[channels."NAME"]` in slipway.toml) and checking an
//! image against it. Each rule has a name, so a failure says which one.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::{Value, json};
use slipway_attest::PublicKey;
use slipway_registry::{RawManifest, Store};
use slipway_scan::osv::Database;

use crate::channel::ChannelName;
use crate::error::{Error, Result};
use crate::log::{Log, read_chain};
use crate::verify::{self, Failure, NotaryTrust};

/// `[channels."NAME"]` as written in slipway.toml. Paths are relative to
/// the file's directory.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelPolicy {
    /// The repository the channel lives in (`host/repo`), so commands may
    /// omit it.
    pub repository: Option<String>,
    /// Cosign public keys; each must have signed the image.
    #[serde(default)]
    pub keys: Vec<PathBuf>,
    /// A notation trust policy (`trustpolicy.json`); needs `notary_trust_store`.
    pub notary_trust_policy: Option<PathBuf>,
    /// A notation trust store directory (`truststore`, holding `x509/…`).
    pub notary_trust_store: Option<PathBuf>,
    /// The registry scope the trust policy is matched with; default the
    /// image's `host/repo`.
    pub notary_scope: Option<String>,
    /// Predicate types of attestations that must verify with one of `keys`,
    /// e.g. `https://slsa.dev/provenance/v1`, `https://spdx.dev/Document`.
    #[serde(default)]
    pub attestations: Vec<String>,
    /// A Go vulnerability database (directory or zip); the image's Go
    /// binaries must have no known vulnerability in it.
    pub scan_db: Option<PathBuf>,
    /// Another channel the digest must already have been promoted to.
    pub after: Option<String>,
    /// Public keys whose audit entries this channel trusts; also the keys
    /// that may promote (the `--key` given must be one of them).
    #[serde(default)]
    pub operators: Vec<PathBuf>,
}

/// A policy with its files read, ready to check images against.
pub struct Policy {
    pub channel: ChannelName,
    pub repository: Option<String>,
    keys: Vec<(PathBuf, PublicKey)>,
    notary: Option<(NotaryTrust, Option<String>)>,
    attestations: Vec<String>,
    scan: Option<Database>,
    after: Option<ChannelName>,
    pub operators: Vec<PublicKey>,
}

/// How much of the policy to check: everything before a promotion; the
/// signatures and attestations again before a rollback (the scan and
/// `after` held when the digest was promoted, and a rollback must not be
/// stopped by a vulnerability published since).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Promote,
    Reverify,
}

impl Policy {
    /// Read the keys, trust store and database `raw` names, relative to `base`.
    pub fn load(channel: &ChannelName, raw: &ChannelPolicy, base: &Path) -> Result<Policy> {
        let at = |p: &Path| base.join(p);
        let bad = |what: String| Error::Input(format!("[channels.\"{channel}\"] {what}"));
        let keys = raw
            .keys
            .iter()
            .map(|p| {
                verify::public_key(&at(p))
                    .map(|k| (p.clone(), k))
                    .map_err(|e| bad(format!("keys: {e}")))
            })
            .collect::<Result<Vec<_>>>()?;
        let notary = match (&raw.notary_trust_policy, &raw.notary_trust_store) {
            (Some(p), Some(s)) => Some((
                verify::load_notary(&at(p), &at(s)).map_err(|e| bad(format!("notary: {e}")))?,
                raw.notary_scope.clone(),
            )),
            (None, None) => None,
            _ => {
                return Err(bad(
                    "notary_trust_policy and notary_trust_store go together".into(),
                ));
            }
        };
        if keys.is_empty() && notary.is_none() {
            return Err(bad(
                "requires no signature: list cosign public keys in `keys` and/or set \
                 notary_trust_policy and notary_trust_store; slipway never promotes unsigned images"
                    .into(),
            ));
        }
        if !raw.attestations.is_empty() && keys.is_empty() {
            return Err(bad(
                "attestations are checked with the cosign `keys`; list at least one".into(),
            ));
        }
        let scan = raw
            .scan_db
            .as_ref()
            .map(|p| {
                Database::open(&at(p)).map_err(|e| bad(format!("scan_db {}: {e}", at(p).display())))
            })
            .transpose()?;
        let after = raw
            .after
            .as_deref()
            .map(|a| ChannelName::parse(a).map_err(|e| bad(format!("after: {e}"))))
            .transpose()?;
        if after.as_ref() == Some(channel) {
            return Err(bad("after names the channel itself".into()));
        }
        let operators = raw
            .operators
            .iter()
            .map(|p| verify::public_key(&at(p)).map_err(|e| bad(format!("operators: {e}"))))
            .collect::<Result<Vec<_>>>()?;
        Ok(Policy {
            channel: channel.clone(),
            repository: raw.repository.clone(),
            keys,
            notary,
            attestations: raw.attestations.clone(),
            scan,
            after,
            operators,
        })
    }

    fn fail(&self, rule: impl Into<String>, message: impl Into<String>) -> Error {
        Error::Policy {
            channel: self.channel.to_string(),
            rule: rule.into(),
            message: message.into(),
        }
    }

    /// A rejection fails `rule`; anything else (the registry, a key) is
    /// reported as what it is.
    fn judge(&self, rule: &str, f: Failure) -> Error {
        match f {
            Failure::Rejected(m) => self.fail(rule, m),
            Failure::Error(e) => e,
        }
    }

    /// Check `root` (in `store`) against the policy; the report goes into
    /// the audit entry. The first failing rule is the error.
    pub fn check(&self, store: &dyn Store, root: &RawManifest, mode: Mode) -> Result<Value> {
        let digest = &root.digest;
        let mut report = json!({});
        let mut found_types: BTreeSet<String> = BTreeSet::new();
        let mut signatures = Vec::new();
        for (path, key) in &self.keys {
            let rule = format!("keys: {}", path.display());
            let want_atts = !self.attestations.is_empty();
            let r = match verify::cosign(store, digest, key, want_atts) {
                Ok(r) => r,
                // Signed, but with no attestations by this key, is fine if
                // another key attested; the signature itself must hold.
                Err(Failure::Rejected(_)) if want_atts => {
                    verify::cosign(store, digest, key, false).map_err(|e| self.judge(&rule, e))?
                }
                Err(e) => return Err(self.judge(&rule, e)),
            };
            for a in r["attestations"].as_array().into_iter().flatten() {
                if let Some(t) = a["predicate_type"].as_str() {
                    found_types.insert(t.to_string());
                }
            }
            signatures.push(json!({
                "key": key.fingerprint().to_string(),
                "formats": r["formats"].clone(),
            }));
        }
        if !signatures.is_empty() {
            report["cosign"] = signatures.into();
        }
        if !self.attestations.is_empty() {
            let missing: Vec<&String> = self
                .attestations
                .iter()
                .filter(|t| !found_types.contains(*t))
                .collect();
            if !missing.is_empty() {
                return Err(self.fail(
                    "attestations",
                    format!(
                        "{digest} has no attestation of type {} signed by the policy's keys (found: {})",
                        missing
                            .iter()
                            .map(|s| s.as_str())
                            .collect::<Vec<_>>()
                            .join(", "),
                        if found_types.is_empty() {
                            "none".to_string()
                        } else {
                            found_types.iter().cloned().collect::<Vec<_>>().join(", ")
                        }
                    ),
                ));
            }
            report["attestations"] = json!(self.attestations);
        }
        if let Some((trust, scope)) = &self.notary {
            let scope = match scope {
                Some(s) => s.clone(),
                None => store.image_name().ok_or_else(|| {
                    Error::Input(format!(
                        "{}: no repository name to match the trust policy with; set notary_scope",
                        store.describe()
                    ))
                })?,
            };
            let r =
                verify::notary(store, root, &scope, trust).map_err(|e| self.judge("notary", e))?;
            report["notary"] = r;
        }
        if mode == Mode::Promote {
            if let Some(db) = &self.scan {
                report["scan"] = self.scan(store, root, db)?;
            }
            if let Some(after) = &self.after {
                let chain = read_chain(store, &Log::Channel(after.clone()), &self.operators)?;
                if !chain
                    .entries
                    .iter()
                    .any(|e| e.entry.new == digest.to_string())
                {
                    return Err(self.fail(
                        "after",
                        format!(
                            "{digest} has never been promoted to channel {after} (its log has {} entr{})",
                            chain.entries.len(),
                            if chain.entries.len() == 1 { "y" } else { "ies" }
                        ),
                    ));
                }
                report["after"] = json!(after.to_string());
            }
        }
        Ok(report)
    }

    fn scan(&self, store: &dyn Store, root: &RawManifest, db: &Database) -> Result<Value> {
        let mut binaries = 0;
        let mut findings = Vec::new();
        for p in slipway_registry::contents::platforms(store, root)? {
            for (path, bytes) in &p.executables {
                let info = match slipway_scan::go_build_info(bytes) {
                    Ok(Some(info)) => info,
                    Ok(None) => continue,
                    Err(e) => {
                        return Err(self.fail(
                            "scan",
                            format!("{}:{path}: cannot read Go build info: {e}", p.platform),
                        ));
                    }
                };
                binaries += 1;
                let found = db
                    .scan(&info)
                    .map_err(|e| self.fail("scan", format!("{}:{path}: {e}", p.platform)))?;
                for f in found {
                    findings.push(format!(
                        "{}:{path}: {} in {} {} (fixed in {})",
                        p.platform,
                        f.id,
                        f.module,
                        f.installed,
                        f.fixed.as_deref().unwrap_or("no release yet")
                    ));
                }
            }
        }
        if binaries == 0 {
            return Err(self.fail("scan", "the image holds no Go binary to scan"));
        }
        if !findings.is_empty() {
            return Err(self.fail(
                "scan",
                format!(
                    "{} known vulnerabilit{} in {}:\n  - {}",
                    findings.len(),
                    if findings.len() == 1 { "y" } else { "ies" },
                    db.location().display(),
                    findings.join("\n  - ")
                ),
            ));
        }
        Ok(json!({
            "database": db.location().display().to_string(),
            "modified": db.modified(),
            "binaries": binaries,
            "findings": 0,
        }))
    }
}
