//! The webhook's policy file (TOML, documented in docs/admission.md): which
//! images, in which namespaces, need which signatures and attestations.
//! Rules are tried in order; the first whose namespace and image patterns
//! both match decides.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use slipway_attest::PublicKey;

use crate::Error;
use crate::verify::{self, NotaryTrust};

/// What a matching rule does with an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Verify the image against the rule's keys, trust policy and attestations.
    Verify,
    /// Admit without looking at the registry (e.g. kube-system's own images).
    Allow,
    /// Refuse outright.
    Deny,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PolicyFile {
    #[serde(default)]
    fail_open: bool,
    #[serde(default)]
    unmatched: Option<Action>,
    #[serde(default)]
    max_request_bytes: Option<usize>,
    #[serde(default)]
    cache: CacheFile,
    #[serde(default)]
    registry: RegistryFile,
    #[serde(default)]
    rules: Vec<RuleFile>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CacheFile {
    verified_ttl_seconds: Option<u64>,
    denied_ttl_seconds: Option<u64>,
    tag_ttl_seconds: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RegistryFile {
    ca_file: Option<PathBuf>,
    #[serde(default)]
    insecure: bool,
    timeout_seconds: Option<u64>,
    docker_config: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RuleFile {
    name: String,
    #[serde(default)]
    namespaces: Vec<String>,
    images: Vec<String>,
    #[serde(default)]
    action: Option<Action>,
    #[serde(default)]
    cosign_keys: Vec<PathBuf>,
    #[serde(default)]
    attestations: Vec<String>,
    #[serde(default)]
    notary: Option<NotaryFile>,
    #[serde(default)]
    fail_open: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct NotaryFile {
    trust_policy: PathBuf,
    trust_store: PathBuf,
}

/// A cosign public key and the file it came from (named in messages).
pub struct Key {
    pub path: PathBuf,
    pub key: PublicKey,
}

/// One rule, with its keys and trust material read.
pub struct Rule {
    pub name: String,
    pub namespaces: Vec<String>,
    pub images: Vec<String>,
    pub action: Action,
    pub cosign_keys: Vec<Key>,
    pub attestations: Vec<String>,
    pub notary: Option<NotaryTrust>,
    /// Admit (with a warning) when the registry cannot be reached.
    pub fail_open: bool,
}

impl Rule {
    pub fn matches(&self, namespace: &str, image_name: &str) -> bool {
        self.namespaces.iter().any(|p| glob(p, namespace))
            && self.images.iter().any(|p| glob(p, image_name))
    }
}

/// How long answers are remembered.
#[derive(Debug, Clone, Copy)]
pub struct CacheTtls {
    /// A digest that verified under a rule: content behind a digest never changes.
    pub verified: Duration,
    /// A digest that failed: short, so a signature added afterwards is seen soon.
    pub denied: Duration,
    /// Tag → digest: short, so a moved tag is noticed quickly.
    pub tag: Duration,
}

/// The whole policy, ready to answer requests.
pub struct Policy {
    pub rules: Vec<Rule>,
    /// What happens to an image no rule matches.
    pub unmatched: Action,
    pub cache: CacheTtls,
    pub max_request_bytes: usize,
    pub registry: slipway_registry::ClientOptions,
}

/// The API server sends objects of at most 3 MiB (its own request limit);
/// a review wraps one (twice for updates: object and oldObject).
pub const DEFAULT_MAX_REQUEST_BYTES: usize = 7 << 20;

impl Policy {
    /// Read `path`; paths inside it are relative to its directory.
    pub fn load(path: &Path) -> Result<Policy, Error> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::Policy {
            path: path.to_path_buf(),
            msg: format!("cannot read it: {e}"),
        })?;
        Policy::parse(&text, path)
    }

    /// The policy in `text`, read from `path` (paths in it are relative to
    /// its directory; key files are read).
    pub fn parse(text: &str, path: &Path) -> Result<Policy, Error> {
        let bad = |msg: String| Error::Policy {
            path: path.to_path_buf(),
            msg,
        };
        let file: PolicyFile = toml::from_str(text).map_err(|e| bad(e.to_string()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        let resolve = |p: &Path| {
            if p.is_absolute() {
                p.to_path_buf()
            } else {
                base.join(p)
            }
        };
        let mut rules = Vec::new();
        for (i, r) in file.rules.into_iter().enumerate() {
            let at = format!("rule {} ({:?})", i + 1, r.name);
            if r.name.trim().is_empty() {
                return Err(bad(format!("rule {}: give it a name", i + 1)));
            }
            if r.images.is_empty() {
                return Err(bad(format!(
                    "{at}: `images` is empty; give patterns such as \"registry.example.com/team/*\""
                )));
            }
            let action = r.action.unwrap_or(Action::Verify);
            if action == Action::Verify && r.cosign_keys.is_empty() && r.notary.is_none() {
                return Err(bad(format!(
                    "{at}: a verifying rule needs `cosignKeys` or `notary` (or set action = \"allow\")"
                )));
            }
            if !r.attestations.is_empty() && r.cosign_keys.is_empty() {
                return Err(bad(format!(
                    "{at}: `attestations` are checked with the rule's `cosignKeys`; give at least one"
                )));
            }
            let mut keys = Vec::new();
            for k in &r.cosign_keys {
                let full = resolve(k);
                let key = verify::public_key(&full).map_err(|e| bad(format!("{at}: {e}")))?;
                keys.push(Key {
                    path: k.clone(),
                    key,
                });
            }
            let notary = match &r.notary {
                Some(n) => Some(
                    NotaryTrust::load(&resolve(&n.trust_policy), &resolve(&n.trust_store))
                        .map_err(|e| bad(format!("{at}: {e}")))?,
                ),
                None => None,
            };
            let namespaces = if r.namespaces.is_empty() {
                vec!["*".to_string()]
            } else {
                r.namespaces
            };
            rules.push(Rule {
                name: r.name,
                namespaces,
                images: r.images,
                action,
                cosign_keys: keys,
                attestations: r.attestations,
                notary,
                fail_open: r.fail_open.unwrap_or(file.fail_open),
            });
        }
        let mut registry = slipway_registry::ClientOptions {
            insecure: file.registry.insecure,
            ca_file: file.registry.ca_file.as_deref().map(resolve),
            ..Default::default()
        };
        if let Some(d) = &file.registry.docker_config {
            registry.docker_config = Some(resolve(d));
        }
        // A webhook answers within the API server's timeout (10 s by
        // default): a registry gets two tries within a few seconds, not minutes.
        let timeout = Duration::from_secs(file.registry.timeout_seconds.unwrap_or(4).max(1));
        registry.retry = slipway_registry::RetryPolicy {
            attempts: 2,
            first_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(500),
            budget: timeout,
        };
        Ok(Policy {
            rules,
            unmatched: file.unmatched.unwrap_or(Action::Deny),
            cache: CacheTtls {
                verified: Duration::from_secs(file.cache.verified_ttl_seconds.unwrap_or(300)),
                denied: Duration::from_secs(file.cache.denied_ttl_seconds.unwrap_or(10)),
                tag: Duration::from_secs(file.cache.tag_ttl_seconds.unwrap_or(10)),
            },
            max_request_bytes: file.max_request_bytes.unwrap_or(DEFAULT_MAX_REQUEST_BYTES),
            registry,
        })
    }

    /// The first rule matching, with its position.
    pub fn rule_for(&self, namespace: &str, image_name: &str) -> Option<(usize, &Rule)> {
        self.rules
            .iter()
            .enumerate()
            .find(|(_, r)| r.matches(namespace, image_name))
    }
}

/// `*` matches within one `/`-separated part, `**` across parts; anything
/// else matches itself.
pub fn glob(pattern: &str, text: &str) -> bool {
    // Tokens: a literal byte, `*` or `**`.
    #[derive(Clone, Copy, PartialEq)]
    enum Tok {
        Byte(u8),
        Star,
        DoubleStar,
    }
    let p = pattern.as_bytes();
    let mut toks = Vec::new();
    let mut i = 0;
    while i < p.len() {
        if p[i] == b'*' {
            if p.get(i + 1) == Some(&b'*') {
                toks.push(Tok::DoubleStar);
                i += 2;
            } else {
                toks.push(Tok::Star);
                i += 1;
            }
        } else {
            toks.push(Tok::Byte(p[i]));
            i += 1;
        }
    }
    // ok[j]: the tokens so far match text[..j]. O(tokens × text), no backtracking.
    let t = text.as_bytes();
    let mut ok = vec![false; t.len() + 1];
    ok[0] = true;
    for tok in toks {
        let mut next = vec![false; t.len() + 1];
        match tok {
            Tok::Byte(b) => {
                for j in 0..t.len() {
                    next[j + 1] = ok[j] && t[j] == b;
                }
            }
            Tok::Star | Tok::DoubleStar => {
                let mut run = false;
                for j in 0..=t.len() {
                    if j > 0 && tok == Tok::Star && t[j - 1] == b'/' {
                        run = false;
                    }
                    run |= ok[j];
                    next[j] = run;
                }
            }
        }
        ok = next;
    }
    ok[t.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_example_has_only_known_settings() {
        let text = include_str!("../../../docs/admission/policy.toml");
        let file: PolicyFile = toml::from_str(text).unwrap();
        assert_eq!(file.rules.len(), 5);
        assert_eq!(file.rules[3].fail_open, Some(true));
        assert!(file.rules[2].notary.is_some());
    }

    #[test]
    fn bad_policies_say_what_is_wrong() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.toml");
        let err = |text: &str| Policy::parse(text, &path).err().unwrap().to_string();
        assert!(
            err("[[rules]]\nname = \"a\"\nimages = [\"x/*\"]\n")
                .contains("needs `cosignKeys` or `notary`")
        );
        assert!(
            err("[[rules]]\nname = \"a\"\nimages = []\naction = \"allow\"\n")
                .contains("`images` is empty")
        );
        assert!(
            err("[[rules]]\nname = \"a\"\nimages = [\"x\"]\ncosignKeys = [\"missing.pub\"]\n")
                .contains("missing.pub")
        );
        assert!(err("failopen = true\n").contains("failopen"));
        let ok = Policy::parse("unmatched = \"allow\"\n[[rules]]\nname = \"s\"\nnamespaces = [\"kube-*\"]\nimages = [\"**\"]\naction = \"allow\"\n", &path).unwrap();
        assert_eq!(ok.unmatched, Action::Allow);
        assert!(
            ok.rule_for("kube-system", "docker.io/library/nginx")
                .is_some()
        );
        assert!(ok.rule_for("default", "docker.io/library/nginx").is_none());
        assert_eq!(ok.cache.tag, Duration::from_secs(10));
    }

    #[test]
    fn globs() {
        assert!(glob("*", "default"));
        assert!(glob("prod-*", "prod-eu"));
        assert!(!glob("prod-*", "dev-eu"));
        assert!(glob(
            "registry.example.com/team/*",
            "registry.example.com/team/app"
        ));
        assert!(!glob(
            "registry.example.com/team/*",
            "registry.example.com/team/a/b"
        ));
        assert!(glob(
            "registry.example.com/**",
            "registry.example.com/team/a/b"
        ));
        assert!(glob("127.0.0.1:*/signed/**", "127.0.0.1:5000/signed/app"));
        assert!(!glob("127.0.0.1:*/signed/**", "127.0.0.1:5000/other/app"));
        assert!(glob("exact/name", "exact/name"));
        assert!(!glob("exact/name", "exact/names"));
        assert!(!glob("", "x"));
    }
}
