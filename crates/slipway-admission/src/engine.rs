//! The decision: for each container image of a workload, find the rule,
//! resolve the tag to a digest, verify that digest (or remember that it
//! verified), and answer; the mutating endpoint also pins each tag to the
//! digest that was verified.
//!
//! Every verdict is bound to a digest. A tag is resolved once per request
//! (or taken from the short tag cache), the verification cache is keyed by
//! rule and digest, and the patch writes that same digest into the object,
//! so a tag moved after verification can at worst make the webhook admit the
//! digest it verified, never the one the tag moved to.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use slipway_oci::Digest;
use slipway_registry::{RegistryError, Remote, RemoteRef, Store};

use crate::cache::TtlCache;
use crate::metrics::{Endpoint, Metrics, Outcome};
use crate::policy::{Action, Policy, Rule};
use crate::review::{self, Answer, ReviewError};
use crate::verify;

/// Why one image could not be admitted.
enum Failure {
    /// The image does not meet the rule (or is gone): deny, and remember briefly.
    Rule(String),
    /// The registry could not be asked: `failOpen` decides; never cached.
    Unavailable(String),
}

fn classify(what: &str, e: RegistryError) -> Failure {
    match e {
        RegistryError::Remote(_) | RegistryError::Io { .. } => {
            Failure::Unavailable(format!("{what}: {e}"))
        }
        RegistryError::NotFound(_) => Failure::Rule(format!("{what}: not found ({e})")),
        RegistryError::Integrity(_) => {
            Failure::Rule(format!("{what}: content does not match its digest ({e})"))
        }
        other => Failure::Rule(format!("{what}: {other}")),
    }
}

/// A failed check: the registry's own errors are sorted as above, anything
/// else fails the rule.
fn checked(what: &str, e: verify::VerifyError) -> Failure {
    match e {
        verify::VerifyError::Registry(e) => classify(what, e),
        other => Failure::Rule(format!("{what}: {other}")),
    }
}

/// A verification's outcome as the cache keeps it (and hands to reviews
/// that waited for it): passed, failed the rule, or the registry was down
/// (handed to the waiting reviews, never kept).
#[derive(Clone, Debug)]
enum Checked {
    Passed,
    Failed(String),
    Unreachable(String),
}

/// The last fifth of a cache entry's life: a hit there renews it (see
/// `cache`), so steady traffic never meets an expired entry.
const REFRESH_AHEAD: f64 = 0.2;

/// The verdict on one image.
#[derive(Clone, Debug)]
enum Verdict {
    /// Admit; `pinned` is the image written as `name[:tag]@digest` when the
    /// request named a tag and the rule verified it.
    Allowed {
        pinned: Option<String>,
    },
    Denied(String),
    /// Admitted unverified (registry down, failOpen): the warning to return.
    FailOpen(String),
}

pub struct Engine {
    policy: Policy,
    /// (rule index, registry/repository, digest) → Ok, or the reason it
    /// failed. The repository is part of the key: signatures are referrers
    /// in one repository, and the same digest elsewhere may have none.
    verified: TtlCache<(usize, String, Digest), Checked>,
    /// `registry/repository:tag` → digest (or the lookup's failure, shared
    /// with the reviews that waited for it, not kept).
    tags: TtlCache<String, Result<Option<Digest>, String>>,
    /// One connection (and its auth state) per repository, reused.
    stores: Mutex<HashMap<String, Arc<Remote>>>,
    pub metrics: Arc<Metrics>,
}

/// Cache entries kept at most (each is a few hundred bytes).
const CACHE_CAPACITY: usize = 50_000;

impl Engine {
    pub fn new(policy: Policy) -> Engine {
        Engine::with_metrics(policy, Arc::new(Metrics::new()))
    }

    /// An engine counting into `metrics` (a reloaded policy keeps the counters).
    pub fn with_metrics(policy: Policy, metrics: Arc<Metrics>) -> Engine {
        Engine {
            policy,
            verified: TtlCache::new(CACHE_CAPACITY),
            tags: TtlCache::new(CACHE_CAPACITY),
            stores: Mutex::new(HashMap::new()),
            metrics,
        }
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Answer one AdmissionReview body: the response body and what was decided.
    /// A body that is not a v1 AdmissionReview is an error (HTTP 400).
    pub fn review(&self, endpoint: Endpoint, body: &[u8]) -> Result<Vec<u8>, ReviewError> {
        let started = Instant::now();
        let request = review::parse(body)?;
        let (answer, outcome) = self.decide(endpoint, &request);
        if outcome != Outcome::Allowed {
            eprintln!(
                "slipway admission: {} {} {}/{} ({}): {}",
                endpoint_name(endpoint),
                match outcome {
                    Outcome::Denied => "denied",
                    _ => "admitted unverified",
                },
                request.kind.kind,
                request.namespace,
                request.uid,
                if answer.allowed {
                    answer.warnings.join("; ")
                } else {
                    answer.message.clone()
                }
            );
        }
        let bytes = review::response(&request.uid, &answer);
        self.metrics.decision(endpoint, outcome, started.elapsed());
        Ok(bytes)
    }

    fn decide(&self, endpoint: Endpoint, request: &review::Request) -> (Answer, Outcome) {
        let allow = |warnings: Vec<String>, patch| Answer {
            allowed: true,
            code: 200,
            message: String::new(),
            patch,
            warnings,
        };
        let checked_operation = matches!(request.operation.as_str(), "CREATE" | "UPDATE");
        let object = match &request.object {
            Some(o) if checked_operation && review::is_workload(&request.kind) => o,
            // Deletes, connects and kinds without pods carry no image to check.
            _ => return (allow(vec![], None), Outcome::Allowed),
        };
        let containers = match review::images(&request.kind, object) {
            Ok(c) => c,
            Err(e) => {
                return (
                    Answer {
                        allowed: false,
                        code: 400,
                        message: format!("slipway: cannot read the object's containers: {e}"),
                        patch: None,
                        warnings: vec![],
                    },
                    Outcome::Denied,
                );
            }
        };
        // Each distinct image is decided once per request.
        let mut verdicts: BTreeMap<&str, Verdict> = BTreeMap::new();
        for c in &containers {
            if !verdicts.contains_key(c.image.as_str()) {
                let v = self.check_image(&request.namespace, &c.image);
                verdicts.insert(&c.image, v);
            }
        }
        let denials: Vec<&str> = verdicts
            .values()
            .filter_map(|v| match v {
                Verdict::Denied(m) => Some(m.as_str()),
                _ => None,
            })
            .collect();
        if !denials.is_empty() {
            return (
                Answer {
                    allowed: false,
                    code: 403,
                    message: format!(
                        "slipway: {} {}/{} refused: {}",
                        request.kind.kind,
                        request.namespace,
                        object_name(object),
                        denials.join("; ")
                    ),
                    patch: None,
                    warnings: vec![],
                },
                Outcome::Denied,
            );
        }
        let warnings: Vec<String> = verdicts
            .values()
            .filter_map(|v| match v {
                Verdict::FailOpen(w) => Some(w.clone()),
                _ => None,
            })
            .collect();
        let patch = (endpoint == Endpoint::Mutate).then(|| {
            containers
                .iter()
                .filter_map(|c| match verdicts.get(c.image.as_str()) {
                    Some(Verdict::Allowed {
                        pinned: Some(pinned),
                    }) => Some(json!({"op": "replace", "path": c.pointer, "value": pinned})),
                    _ => None,
                })
                .collect::<Vec<Value>>()
        });
        let outcome = if warnings.is_empty() {
            Outcome::Allowed
        } else {
            Outcome::FailOpen
        };
        (allow(warnings, patch), outcome)
    }

    fn check_image(&self, namespace: &str, image: &str) -> Verdict {
        let reference: RemoteRef = match image.parse() {
            Ok(r) => r,
            Err(e) => return Verdict::Denied(format!("image {image:?}: {e}")),
        };
        let name = reference.name();
        let Some((index, rule)) = self.policy.rule_for(namespace, &name) else {
            return match self.policy.unmatched {
                Action::Allow => Verdict::Allowed { pinned: None },
                _ => Verdict::Denied(format!(
                    "image {image:?}: no rule of the policy matches namespace {namespace:?} and {name}, and unmatched images are denied"
                )),
            };
        };
        match rule.action {
            Action::Allow => return Verdict::Allowed { pinned: None },
            Action::Deny => {
                return Verdict::Denied(format!(
                    "image {image:?}: rule {:?} denies {name}",
                    rule.name
                ));
            }
            Action::Verify => {}
        }
        let digest = match &reference.digest {
            Some(d) => d.clone(),
            None => match self.resolve_tag(&reference) {
                Ok(Some(d)) => d,
                Ok(None) => {
                    return Verdict::Denied(format!(
                        "image {image:?}: rule {:?}: the tag {} does not exist in {name}",
                        rule.name,
                        reference.reference()
                    ));
                }
                Err(e) => return self.unavailable(rule, image, &e),
            },
        };
        let key = (index, name.clone(), digest.clone());
        // Reviews of one uncached digest arriving together share one
        // verification.
        let (result, how) = self.verified.get_or_fill(&key, REFRESH_AHEAD, || {
            let started = Instant::now();
            let outcome = self.verify_digest(rule, &reference, &digest);
            self.metrics.verification.observe(started.elapsed());
            match outcome {
                Ok(()) => (Checked::Passed, self.policy.cache.verified),
                Err(Failure::Rule(why)) => (Checked::Failed(why), self.policy.cache.denied),
                Err(Failure::Unavailable(e)) => {
                    self.forget_store(&reference);
                    (Checked::Unreachable(e), Duration::ZERO)
                }
            }
        });
        self.metrics.verification_cache.count(how);
        let result = match result {
            Checked::Passed => Ok(()),
            Checked::Failed(why) => Err(why),
            Checked::Unreachable(e) => return self.unavailable(rule, image, &e),
        };
        match result {
            Ok(()) => Verdict::Allowed {
                pinned: reference
                    .digest
                    .is_none()
                    .then(|| format!("{image}@{digest}")),
            },
            Err(why) => Verdict::Denied(format!(
                "image {image:?} ({digest}) fails rule {:?}: {why}",
                rule.name
            )),
        }
    }

    fn unavailable(&self, rule: &Rule, image: &str, error: &str) -> Verdict {
        self.metrics
            .registry_errors
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if rule.fail_open {
            Verdict::FailOpen(format!(
                "slipway: image {image:?} admitted WITHOUT verification: {error} (rule {:?} has failOpen = true)",
                rule.name
            ))
        } else {
            Verdict::Denied(format!(
                "image {image:?}: cannot be verified, the registry did not answer: {error}; rule {:?} fails closed (failOpen = true would admit it)",
                rule.name
            ))
        }
    }

    /// The digest `reference`'s tag names now, or from the last few seconds.
    fn resolve_tag(&self, reference: &RemoteRef) -> Result<Option<Digest>, String> {
        let key = reference.to_string();
        let (result, how) = self.tags.get_or_fill(&key, REFRESH_AHEAD, || {
            let store = match self.store(reference) {
                Ok(s) => s,
                Err(Failure::Unavailable(m) | Failure::Rule(m)) => {
                    return (Err(m), Duration::ZERO);
                }
            };
            match store.lookup_tag(&reference.reference()) {
                Ok(Some(d)) => (Ok(Some(d)), self.policy.cache.tag),
                Ok(None) => (Ok(None), Duration::ZERO),
                Err(e) => {
                    self.forget_store(reference);
                    (Err(format!("looking up {reference}: {e}")), Duration::ZERO)
                }
            }
        });
        self.metrics.tag_cache.count(how);
        result
    }

    fn store_key(reference: &RemoteRef) -> String {
        reference.name()
    }

    fn store(&self, reference: &RemoteRef) -> Result<Arc<Remote>, Failure> {
        let key = Self::store_key(reference);
        if let Some(s) = self
            .stores
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
        {
            return Ok(s.clone());
        }
        let remote = Remote::open(
            RemoteRef {
                tag: None,
                digest: None,
                ..reference.clone()
            },
            &self.policy.registry,
        )
        .map_err(|e| classify(&format!("connecting to {}", reference.registry), e))?;
        let remote = Arc::new(remote);
        self.stores
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, remote.clone());
        Ok(remote)
    }

    fn forget_store(&self, reference: &RemoteRef) {
        self.stores
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&Self::store_key(reference));
    }

    /// Check `digest` against every requirement of `rule`.
    fn verify_digest(
        &self,
        rule: &Rule,
        reference: &RemoteRef,
        digest: &Digest,
    ) -> Result<(), Failure> {
        let store = self.store(reference)?;
        let store: &dyn Store = store.as_ref();
        let root = store
            .manifest(digest)
            .map_err(|e| classify(&format!("manifest {digest}"), e))?;
        if !rule.cosign_keys.is_empty() {
            let mut why = Vec::new();
            let mut signed = false;
            for k in &rule.cosign_keys {
                match verify::cosign(store, digest, &k.key, false) {
                    Ok(_) => {
                        signed = true;
                        break;
                    }
                    Err(e) => match checked(&k.path.display().to_string(), e) {
                        Failure::Rule(m) => why.push(m),
                        unavailable => return Err(unavailable),
                    },
                }
            }
            if !signed {
                return Err(Failure::Rule(format!(
                    "cosign signature: none verifies with the rule's keys: {}",
                    why.join("; ")
                )));
            }
            if !rule.attestations.is_empty() {
                let mut found = BTreeSet::new();
                let mut why = Vec::new();
                for k in &rule.cosign_keys {
                    match verify::cosign(store, digest, &k.key, true) {
                        Ok(report) => {
                            for a in report["attestations"].as_array().into_iter().flatten() {
                                if let Some(p) = a["predicate_type"].as_str() {
                                    found.insert(p.to_string());
                                }
                            }
                        }
                        Err(e) => match checked(&k.path.display().to_string(), e) {
                            Failure::Rule(m) => why.push(m),
                            unavailable => return Err(unavailable),
                        },
                    }
                }
                for wanted in &rule.attestations {
                    if !found.contains(wanted) {
                        return Err(Failure::Rule(format!(
                            "attestation {wanted}: none verifies with the rule's keys (verified: {}){}",
                            if found.is_empty() {
                                "none".to_string()
                            } else {
                                found.iter().cloned().collect::<Vec<_>>().join(", ")
                            },
                            if why.is_empty() {
                                String::new()
                            } else {
                                format!("; {}", why.join("; "))
                            }
                        )));
                    }
                }
            }
        }
        if let Some(trust) = &rule.notary {
            // A statement at level "skip" passes without a signature: the
            // trust policy's owner chose that.
            verify::notary(store, &root, &reference.name(), trust)
                .map_err(|e| checked("Notary signature", e))?;
        }
        Ok(())
    }
}

fn endpoint_name(e: Endpoint) -> &'static str {
    match e {
        Endpoint::Validate => "validate",
        Endpoint::Mutate => "mutate",
    }
}

fn object_name(object: &Value) -> &str {
    object["metadata"]["name"]
        .as_str()
        .or_else(|| object["metadata"]["generateName"].as_str())
        .unwrap_or("(unnamed)")
}
