//! notation's trust policy document (`trustpolicy.json`, version 1.0): which
//! statement applies to a repository, how strictly each check is enforced,
//! which trust stores and which signer identities it trusts. Validation
//! follows notation's rules, so a document one accepts the other accepts.

use std::path::Path;

use serde::Deserialize;

use crate::error::NotaryError;

/// The checks of a verification, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Check {
    Integrity,
    Authenticity,
    AuthenticTimestamp,
    Expiry,
    Revocation,
}

impl Check {
    pub const ALL: [Check; 5] = [
        Check::Integrity,
        Check::Authenticity,
        Check::AuthenticTimestamp,
        Check::Expiry,
        Check::Revocation,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Check::Integrity => "integrity",
            Check::Authenticity => "authenticity",
            Check::AuthenticTimestamp => "authenticTimestamp",
            Check::Expiry => "expiry",
            Check::Revocation => "revocation",
        }
    }

    fn index(self) -> usize {
        Check::ALL.iter().position(|c| *c == self).unwrap_or(0)
    }
}

/// What a failed check does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// The verification fails.
    Enforce,
    /// A warning; the verification goes on.
    Log,
    /// Not checked.
    Skip,
}

/// A verification level: a preset (strict, permissive, audit, skip) with
/// the overrides applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Level {
    pub name: String,
    actions: [Action; 5],
}

impl Level {
    pub fn action(&self, check: Check) -> Action {
        self.actions[check.index()]
    }

    pub fn is_skip(&self) -> bool {
        self.name == "skip"
    }

    fn preset(name: &str) -> Option<Level> {
        use Action::{Enforce as E, Log as L, Skip as S};
        let actions = match name {
            "strict" => [E, E, E, E, E],
            "permissive" => [E, E, L, L, L],
            "audit" => [E, L, L, L, L],
            "skip" => [S, S, S, S, S],
            _ => return None,
        };
        Some(Level {
            name: name.into(),
            actions,
        })
    }
}

/// When an RFC 3161 timestamp must be checked (with a `tsa:` store).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerifyTimestamp {
    Always,
    AfterCertExpiry,
}

/// The kinds of named trust stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreType {
    Ca,
    SigningAuthority,
    Tsa,
}

impl StoreType {
    pub fn dir_name(self) -> &'static str {
        match self {
            StoreType::Ca => "ca",
            StoreType::SigningAuthority => "signingAuthority",
            StoreType::Tsa => "tsa",
        }
    }
}

/// Whose signatures a statement trusts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identities {
    /// `*`: any signer whose chain leads to a trusted certificate.
    Any,
    /// `x509.subject: …` entries: the leaf's subject must contain one of them.
    Subjects(Vec<(String, Vec<(String, String)>)>),
}

/// One statement of the document.
#[derive(Debug, Clone)]
pub struct TrustPolicy {
    pub name: String,
    pub registry_scopes: Vec<String>,
    pub level: Level,
    pub verify_timestamp: VerifyTimestamp,
    pub trust_stores: Vec<(StoreType, String)>,
    pub identities: Identities,
}

/// A validated trust policy document.
#[derive(Debug, Clone)]
pub struct TrustPolicyDocument {
    pub policies: Vec<TrustPolicy>,
}

#[derive(Deserialize)]
struct RawDoc {
    #[serde(default)]
    version: String,
    #[serde(rename = "trustPolicies", default)]
    trust_policies: Vec<RawPolicy>,
}

#[derive(Deserialize)]
struct RawPolicy {
    #[serde(default)]
    name: String,
    #[serde(rename = "registryScopes", default)]
    registry_scopes: Vec<String>,
    #[serde(rename = "signatureVerification", default)]
    signature_verification: RawVerification,
    #[serde(rename = "trustStores", default)]
    trust_stores: Vec<String>,
    #[serde(rename = "trustedIdentities", default)]
    trusted_identities: Vec<String>,
}

#[derive(Deserialize, Default)]
struct RawVerification {
    #[serde(default)]
    level: String,
    #[serde(default)]
    r#override: std::collections::BTreeMap<String, String>,
    #[serde(rename = "verifyTimestamp", default)]
    verify_timestamp: Option<String>,
}

fn err(msg: String) -> NotaryError {
    NotaryError::Policy(msg)
}

impl TrustPolicyDocument {
    pub fn load(path: &Path) -> Result<TrustPolicyDocument, NotaryError> {
        let bytes = std::fs::read(path).map_err(|e| {
            NotaryError::io(format!("reading the trust policy {}", path.display()), e)
        })?;
        TrustPolicyDocument::from_json(&bytes).map_err(|e| {
            err(format!(
                "{}: {}",
                path.display(),
                e.to_string().trim_start_matches("trust policy: ")
            ))
        })
    }

    pub fn from_json(bytes: &[u8]) -> Result<TrustPolicyDocument, NotaryError> {
        let raw: RawDoc = serde_json::from_slice(bytes)
            .map_err(|e| err(format!("not a trust policy document (JSON): {e}")))?;
        if raw.version.is_empty() {
            return Err(err(
                "the document has no `version`; notation's trust policy is version \"1.0\"".into(),
            ));
        }
        if raw.version != "1.0" {
            return Err(err(format!(
                "version {:?} is not supported; use \"1.0\"",
                raw.version
            )));
        }
        if raw.trust_policies.is_empty() {
            return Err(err(
                "`trustPolicies` is empty; add at least one statement".into()
            ));
        }
        let mut policies: Vec<TrustPolicy> = Vec::new();
        for p in raw.trust_policies {
            let policy = validate_statement(p)?;
            if policies.iter().any(|q| q.name == policy.name) {
                return Err(err(format!(
                    "two statements are named {:?}; names must be unique",
                    policy.name
                )));
            }
            for scope in &policy.registry_scopes {
                if policies.iter().any(|q| q.registry_scopes.contains(scope)) {
                    return Err(err(format!(
                        "the registry scope {scope:?} is in two statements; a scope may be in one only"
                    )));
                }
            }
            policies.push(policy);
        }
        Ok(TrustPolicyDocument { policies })
    }

    /// The statement for `scope` (`registry/repository`): the one that names
    /// it, else the one with `*`.
    pub fn for_scope(&self, scope: &str) -> Result<&TrustPolicy, NotaryError> {
        self.policies
            .iter()
            .find(|p| p.registry_scopes.iter().any(|s| s == scope))
            .or_else(|| self.policies.iter().find(|p| p.registry_scopes.iter().any(|s| s == "*")))
            .ok_or_else(|| {
                err(format!(
                    "no statement applies to {scope}: none lists it in registryScopes and none has \"*\""
                ))
            })
    }
}

fn validate_statement(p: RawPolicy) -> Result<TrustPolicy, NotaryError> {
    let name = p.name;
    if name.is_empty() {
        return Err(err(
            "a statement has no `name`; every statement needs one".into()
        ));
    }
    let sv = p.signature_verification;
    if sv.level.is_empty() {
        return Err(err(format!(
            "statement {name:?} has no signatureVerification.level (strict, permissive, audit or skip)"
        )));
    }
    let mut level = Level::preset(&sv.level).ok_or_else(|| {
        err(format!(
            "statement {name:?}: level {:?} is not strict, permissive, audit or skip",
            sv.level
        ))
    })?;
    if !sv.r#override.is_empty() {
        if level.is_skip() {
            return Err(err(format!(
                "statement {name:?}: level skip cannot be overridden"
            )));
        }
        level.name = "custom".into();
        for (check, action) in &sv.r#override {
            let c = Check::ALL
                .into_iter()
                .find(|c| c.name() == check)
                .ok_or_else(|| {
                    err(format!(
                        "statement {name:?}: override {check:?} is not authenticity, authenticTimestamp, expiry or revocation"
                    ))
                })?;
            let a = match action.as_str() {
                "enforce" => Action::Enforce,
                "log" => Action::Log,
                "skip" => Action::Skip,
                _ => {
                    return Err(err(format!(
                        "statement {name:?}: override action {action:?} is not enforce, log or skip"
                    )));
                }
            };
            if c == Check::Integrity {
                return Err(err(format!(
                    "statement {name:?}: integrity cannot be overridden"
                )));
            }
            if a == Action::Skip && c != Check::Revocation {
                return Err(err(format!(
                    "statement {name:?}: {check} cannot be skipped (only revocation can)"
                )));
            }
            level.actions[c.index()] = a;
        }
    }
    let verify_timestamp = match sv.verify_timestamp.as_deref() {
        None | Some("") | Some("always") => VerifyTimestamp::Always,
        Some("afterCertExpiry") => VerifyTimestamp::AfterCertExpiry,
        Some(other) => {
            return Err(err(format!(
                "statement {name:?}: verifyTimestamp {other:?} is not always or afterCertExpiry"
            )));
        }
    };
    // Scopes.
    if p.registry_scopes.is_empty() {
        return Err(err(format!("statement {name:?} has no registryScopes")));
    }
    if p.registry_scopes.len() > 1 && p.registry_scopes.iter().any(|s| s == "*") {
        return Err(err(format!(
            "statement {name:?}: the scope \"*\" cannot be combined with other scopes"
        )));
    }
    for s in &p.registry_scopes {
        if s != "*" && !valid_scope(s) {
            return Err(err(format!(
                "statement {name:?}: registry scope {s:?} is not REGISTRY/REPOSITORY without scheme, tag or digest (e.g. registry.example.com/team/app)"
            )));
        }
    }
    // Stores and identities.
    let mut trust_stores = Vec::new();
    let mut identities = Identities::Subjects(Vec::new());
    if level.is_skip() {
        if !p.trust_stores.is_empty() || !p.trusted_identities.is_empty() {
            return Err(err(format!(
                "statement {name:?} skips verification but lists trust stores or identities; remove them"
            )));
        }
    } else {
        if p.trust_stores.is_empty() || p.trusted_identities.is_empty() {
            return Err(err(format!(
                "statement {name:?} needs both trustStores and trustedIdentities"
            )));
        }
        for s in &p.trust_stores {
            let (kind, store) = s.split_once(':').ok_or_else(|| {
                err(format!(
                    "statement {name:?}: trust store {s:?} is not TYPE:NAME (e.g. ca:release)"
                ))
            })?;
            let kind = match kind {
                "ca" => StoreType::Ca,
                "signingAuthority" => StoreType::SigningAuthority,
                "tsa" => StoreType::Tsa,
                other => {
                    return Err(err(format!(
                        "statement {name:?}: trust store type {other:?} is not ca, signingAuthority or tsa"
                    )));
                }
            };
            if !valid_store_name(store) {
                return Err(err(format!(
                    "statement {name:?}: trust store name {store:?} must match [a-zA-Z0-9_.-]+"
                )));
            }
            trust_stores.push((kind, store.to_string()));
        }
        if p.trusted_identities.iter().any(|i| i == "*") {
            if p.trusted_identities.len() > 1 {
                return Err(err(format!(
                    "statement {name:?}: the identity \"*\" cannot be combined with others"
                )));
            }
            identities = Identities::Any;
        } else {
            let mut subjects: Vec<(String, Vec<(String, String)>)> = Vec::new();
            for identity in &p.trusted_identities {
                let (prefix, value) = identity.split_once(':').ok_or_else(|| {
                    err(format!(
                        "statement {name:?}: identity {identity:?} is not `x509.subject: C=…, ST=…, O=…`"
                    ))
                })?;
                if prefix.trim() != "x509.subject" {
                    // Other prefixes belong to verification plugins.
                    continue;
                }
                if value.trim().is_empty() {
                    return Err(err(format!(
                        "statement {name:?}: identity {identity:?} has no value"
                    )));
                }
                let dn =
                    crate::dn::parse(value).map_err(|e| err(format!("statement {name:?}: {e}")))?;
                subjects.push((identity.clone(), dn));
            }
            for (i, (a, da)) in subjects.iter().enumerate() {
                for (j, (b, db)) in subjects.iter().enumerate() {
                    if i != j && crate::dn::is_subset(da, db) {
                        return Err(err(format!(
                            "statement {name:?}: identities {a:?} and {b:?} overlap"
                        )));
                    }
                }
            }
            identities = Identities::Subjects(subjects);
        }
    }
    Ok(TrustPolicy {
        name,
        registry_scopes: p.registry_scopes,
        level,
        verify_timestamp,
        trust_stores,
        identities,
    })
}

fn valid_store_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
}

/// `registry/repository` as the distribution reference grammar has them.
pub fn valid_scope(scope: &str) -> bool {
    let Some((domain, repo)) = scope.split_once('/') else {
        return false;
    };
    valid_domain(domain) && !repo.is_empty() && repo.split('/').all(valid_path_component)
}

fn valid_domain(d: &str) -> bool {
    let (host, port) = match d.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (d, None),
    };
    if port.is_some_and(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit())) {
        return false;
    }
    !host.is_empty()
        && host.split('.').all(|label| {
            let b = label.as_bytes();
            !b.is_empty()
                && b[0].is_ascii_alphanumeric()
                && b[b.len() - 1].is_ascii_alphanumeric()
                && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
        })
}

/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`
fn valid_path_component(c: &str) -> bool {
    let b = c.as_bytes();
    if b.is_empty() || !is_alnum(b[0]) || !is_alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if is_alnum(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !is_alnum(b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|x| x == b'-');
        if !ok {
            return false;
        }
    }
    true
}

fn is_alnum(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(policies: &str) -> Result<TrustPolicyDocument, NotaryError> {
        TrustPolicyDocument::from_json(
            format!(r#"{{"version":"1.0","trustPolicies":[{policies}]}}"#).as_bytes(),
        )
    }

    const GOOD: &str = r#"{"name":"p","registryScopes":["127.0.0.1:5000/team/app"],"signatureVerification":{"level":"strict"},"trustStores":["ca:release"],"trustedIdentities":["x509.subject: C=US, ST=WA, O=Acme"]}"#;

    #[test]
    fn chooses_exact_scope_then_wildcard() {
        let d = doc(&format!(
            r#"{GOOD},{{"name":"all","registryScopes":["*"],"signatureVerification":{{"level":"audit","override":{{"authenticity":"enforce"}}}},"trustStores":["ca:other"],"trustedIdentities":["*"]}}"#
        ))
        .unwrap();
        assert_eq!(d.for_scope("127.0.0.1:5000/team/app").unwrap().name, "p");
        let all = d.for_scope("example.com/x").unwrap();
        assert_eq!(all.name, "all");
        assert_eq!(all.level.name, "custom");
        assert_eq!(all.level.action(Check::Authenticity), Action::Enforce);
        assert_eq!(all.level.action(Check::Expiry), Action::Log);
        assert_eq!(all.identities, Identities::Any);
        let only = doc(GOOD).unwrap();
        let e = only.for_scope("example.com/x").unwrap_err().to_string();
        assert!(e.contains("no statement applies to example.com/x"), "{e}");
    }

    #[test]
    fn refuses_documents_notation_refuses() {
        let cases = [
            (r#"{"version":"2.0","trustPolicies":[]}"#.to_string(), "not supported"),
            (r#"{"version":"1.0","trustPolicies":[]}"#.into(), "empty"),
            (format!(r#"{{"version":"1.0","trustPolicies":[{GOOD},{GOOD}]}}"#), "unique"),
            (GOOD.replace("strict", "paranoid"), "level"),
            (GOOD.replace("ca:release", "ca"), "TYPE:NAME"),
            (GOOD.replace("ca:release", "root:release"), "trust store type"),
            (GOOD.replace("ca:release", "ca:re/lease"), "must match"),
            (GOOD.replace("127.0.0.1:5000/team/app", "https://x/y"), "registry scope"),
            (GOOD.replace("127.0.0.1:5000/team/app", "x/Team"), "registry scope"),
            (GOOD.replace(r#""strict"}"#, r#""strict","override":{"integrity":"log"}}"#), "integrity cannot"),
            (GOOD.replace(r#""strict"}"#, r#""strict","override":{"expiry":"skip"}}"#), "cannot be skipped"),
            (GOOD.replace(r#""strict"}"#, r#""skip"}"#), "skips verification"),
            (GOOD.replace("O=Acme", "CN=x"), "no O"),
            (GOOD.replace(r#""x509.subject: C=US, ST=WA, O=Acme""#, r#""*","x509.subject: C=US, ST=WA, O=Acme""#), "combined"),
            (GOOD.replace(r#""x509.subject: C=US, ST=WA, O=Acme""#, r#""x509.subject: C=US, ST=WA, O=Acme","x509.subject: C=US, ST=WA, O=Acme, CN=a""#), "overlap"),
        ];
        for (text, why) in cases {
            let text = if text.starts_with(r#"{"version""#) {
                text
            } else {
                format!(r#"{{"version":"1.0","trustPolicies":[{text}]}}"#)
            };
            let e = TrustPolicyDocument::from_json(text.as_bytes())
                .unwrap_err()
                .to_string();
            assert!(e.contains(why), "{why}: {e}");
        }
    }

    #[test]
    fn scopes() {
        for ok in [
            "localhost:5000/a",
            "r.example.com/team/app-x",
            "local/layout",
            "127.0.0.1:5000/a__b/c.d",
        ] {
            assert!(valid_scope(ok), "{ok}");
        }
        for bad in [
            "a",
            "/a",
            "r.example.com/",
            "r.example.com/A",
            "r/a:tag",
            "r/a@sha256:x",
            "-r/a",
            "r:/a",
        ] {
            assert!(!valid_scope(bad), "{bad}");
        }
    }
}
