//! Notary Project signatures of an image, checked against notation's trust
//! policy and trust store, offline. The envelope and the rules live in
//! `slipway-notary`; this module finds the signatures in a store.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use slipway_notary::{SIGNATURE_ARTIFACT_TYPE, TargetArtifact, TrustPolicyDocument, TrustStore};
use slipway_registry::{Blob, Location, RawManifest, Store};

use crate::{Result, VerifyError};

/// The largest envelope read (notation's are a few KiB; the chain dominates).
const ENVELOPE_LIMIT: u64 = 4 << 20;
/// As notation's `--max-signatures`: how many signatures are tried at most.
const MAX_SIGNATURES: usize = 100;

/// What `REF` resolves to, as a Notary payload names it.
pub fn target_of(root: &RawManifest) -> TargetArtifact {
    TargetArtifact::new(
        &root.media_type,
        &root.digest.to_string(),
        root.bytes.len() as u64,
    )
}

/// A trust policy and trust store, read once.
pub struct NotaryTrust {
    pub policy: TrustPolicyDocument,
    pub store: TrustStore,
    pub policy_path: PathBuf,
}

impl NotaryTrust {
    /// notation's `trustpolicy.json` and its trust store directory (the one
    /// holding `x509/ca/NAME/*.pem`).
    pub fn load(policy: &Path, trust_store: &Path) -> Result<NotaryTrust> {
        Ok(NotaryTrust {
            policy: TrustPolicyDocument::load(policy)?,
            store: TrustStore::open(trust_store)?,
            policy_path: policy.to_path_buf(),
        })
    }
}

/// The trust policy scope of the image in `store`: `scope` when given, else
/// the registry repository, else the name a layout recorded.
pub fn scope_of(store: &dyn Store, location: &Location, scope: Option<&str>) -> Result<String> {
    if let Some(s) = scope {
        if !slipway_notary::policy::valid_scope(s) {
            return Err(VerifyError::Input(format!(
                "--scope {s}: give REGISTRY/REPOSITORY, e.g. registry.example.com/team/app"
            )));
        }
        return Ok(s.to_string());
    }
    if let Location::Remote(r) = location {
        return Ok(r.name());
    }
    store.image_name().ok_or_else(|| {
        VerifyError::Input(format!(
            "{location} records no image name to choose a trust policy statement by; pass --scope REGISTRY/REPOSITORY"
        ))
    })
}

/// The outcome of a Notary check that passed (or was skipped by policy).
#[derive(Debug)]
pub struct NotaryReport {
    /// The JSON `slipway verify --json` prints.
    pub report: Value,
    /// Checks that failed but are only logged at the statement's level.
    pub warnings: Vec<String>,
}

impl NotaryReport {
    /// Whether a signature was verified (false when the policy says skip).
    pub fn verified(&self) -> bool {
        self.report["verified"] == true
    }
}

/// Verify the Notary signatures of `root`: at least one must pass the
/// statement for `scope`.
pub fn verify_image(
    store: &dyn Store,
    root: &RawManifest,
    scope: &str,
    trust: &NotaryTrust,
) -> Result<NotaryReport> {
    let policy = trust
        .policy
        .for_scope(scope)
        // No statement for the image is a failed check: the policy refuses it.
        .map_err(|e| VerifyError::Rejected(format!("{}: {e}", trust.policy_path.display())))?;
    if policy.level.is_skip() {
        return Ok(NotaryReport {
            report: json!({"digest": root.digest.to_string(), "policy": policy.name, "level": "skip", "verified": false}),
            warnings: vec![format!(
                "{scope}: trust policy statement {:?} skips signature verification",
                policy.name
            )],
        });
    }
    let referrers = store.referrers(&root.digest, Some(SIGNATURE_ARTIFACT_TYPE))?;
    if referrers.is_empty() {
        return Err(VerifyError::Rejected(format!(
            "{} has no Notary signature: nothing refers to {} with artifact type {SIGNATURE_ARTIFACT_TYPE}. \
             Sign it with `slipway sign --notation` or `notation sign`",
            store.describe(),
            root.digest
        )));
    }
    let target = target_of(root);
    let now = slipway_notary::time::now();
    let mut failures = Vec::new();
    for r in referrers.iter().take(MAX_SIGNATURES) {
        let check = Check {
            store,
            root,
            target: &target,
            policy,
            trust,
            now,
        };
        match check.one(&r.digest) {
            Ok(v) => {
                let warnings = v
                    .warnings
                    .iter()
                    .map(|w| {
                        format!(
                            "{}: {} check failed, logged only at level {}: {}",
                            r.digest,
                            w.check.name(),
                            v.level,
                            w.message
                        )
                    })
                    .collect();
                return Ok(NotaryReport {
                    report: json!({
                        "digest": root.digest.to_string(),
                        "signature": r.digest.to_string(),
                        "policy": v.policy,
                        "level": v.level,
                        "signer": v.signer,
                        "algorithm": v.envelope.algorithm.jws_name(),
                        "signingTime": slipway_notary::time::format(v.signing_time),
                        "expiry": v.expiry.map(slipway_notary::time::format),
                        "warnings": v.warnings,
                        "verified": true,
                    }),
                    warnings,
                });
            }
            Err(e) => failures.push(format!("signature {}: {e}", r.digest)),
        }
    }
    Err(VerifyError::Rejected(format!(
        "{}: no Notary signature of {} verifies with trust policy statement {:?}:\n  {}",
        store.describe(),
        root.digest,
        policy.name,
        failures.join("\n  ")
    )))
}

/// One image's signatures checked against one trust policy statement.
struct Check<'a> {
    store: &'a dyn Store,
    root: &'a RawManifest,
    target: &'a TargetArtifact,
    policy: &'a slipway_notary::TrustPolicy,
    trust: &'a NotaryTrust,
    now: i64,
}

impl Check<'_> {
    /// Verify the signature manifest `digest`; the error says why not.
    fn one(&self, digest: &slipway_oci::Digest) -> Result<slipway_notary::Verified, String> {
        let manifest = self.store.manifest(digest).map_err(|e| e.to_string())?;
        let stored =
            slipway_notary::read_signature_manifest(&manifest.bytes).map_err(|e| e.to_string())?;
        if let Some(subject) = &stored.subject
            && subject.digest != self.root.digest.to_string()
        {
            return Err(format!(
                "its subject is {}, not {}",
                subject.digest, self.root.digest
            ));
        }
        if stored.envelope.size > ENVELOPE_LIMIT {
            return Err(format!(
                "its envelope claims {} bytes; envelopes are at most {ENVELOPE_LIMIT}",
                stored.envelope.size
            ));
        }
        let blob = Blob {
            media_type: stored.envelope.media_type.clone(),
            digest: slipway_oci::Digest::parse(&stored.envelope.digest).ok_or_else(|| {
                format!(
                    "its envelope digest {} is not sha256",
                    stored.envelope.digest
                )
            })?,
            size: stored.envelope.size,
        };
        // The store checks the blob against its digest: a changed byte fails here.
        let bytes = self
            .store
            .read_blob(&blob, ENVELOPE_LIMIT)
            .map_err(|e| e.to_string())?;
        slipway_notary::verify(
            self.policy,
            &self.trust.store,
            self.target,
            &stored.envelope.media_type,
            &bytes,
            self.now,
        )
        .map_err(|e| e.to_string())
    }
}
