//! The Notary Project side of `sign`, `verify` and `copy`: `--notation`
//! signatures made with an X.509 key and chain, stored as OCI 1.1 referrers;
//! verification against notation's trust policy and trust store, offline.
//! The format and the rules live in `slipway-notary`; referrers in
//! `slipway-registry`.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde_json::{Value, json};
use slipway_notary::{
    SIGNATURE_ARTIFACT_TYPE, SignOptions, SigningIdentity, TargetArtifact, TrustPolicyDocument,
    TrustStore,
};
use slipway_registry::{Blob, Location, Quiet, RawManifest, Store};

use crate::input;
use crate::ui::Ui;

/// The largest envelope read (notation's are a few KiB; the chain dominates).
const ENVELOPE_LIMIT: u64 = 4 << 20;
/// As notation's `--max-signatures`: how many signatures are tried at most.
const MAX_SIGNATURES: usize = 100;

/// The signing time: SOURCE_DATE_EPOCH when set (reproducible signatures),
/// else now.
fn signing_time() -> anyhow::Result<i64> {
    match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(v) if !v.trim().is_empty() => v
            .trim()
            .parse::<i64>()
            .map_err(|_| input(format!("SOURCE_DATE_EPOCH={v} is not a number of seconds")).into()),
        _ => Ok(slipway_notary::time::now()),
    }
}

/// `12h`, `30m`, `3h20m`, `7d`, `90s` → seconds.
pub fn parse_duration(text: &str) -> Option<i64> {
    let mut total: i64 = 0;
    let mut number = String::new();
    let mut any = false;
    for c in text.trim().chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit = match c {
            'd' => 86_400,
            'h' => 3600,
            'm' => 60,
            's' => 1,
            _ => return None,
        };
        let n: i64 = number.parse().ok()?;
        total = total.checked_add(n.checked_mul(unit)?)?;
        number.clear();
        any = true;
    }
    (any && number.is_empty() && total > 0).then_some(total)
}

/// What `REF` resolves to, as a Notary payload names it.
fn target_of(root: &RawManifest) -> TargetArtifact {
    TargetArtifact::new(
        &root.media_type,
        &root.digest.to_string(),
        root.bytes.len() as u64,
    )
}

/// `slipway sign --notation --key KEY --cert CHAIN REF`.
pub fn run_sign(
    reference: &str,
    key: &Path,
    cert: Option<&Path>,
    expiry: Option<&str>,
    options: &slipway_registry::ClientOptions,
    json_out: bool,
    ui: Ui,
) -> anyhow::Result<()> {
    let cert = cert.ok_or_else(|| {
        input("--notation needs --cert CHAIN.pem: the signing certificate, then its CAs up to the root")
    })?;
    let key_text = std::fs::read_to_string(key)
        .map_err(|e| input(format!("cannot read the key {}: {e}", key.display())))?;
    let chain = std::fs::read(cert).map_err(|e| {
        input(format!(
            "cannot read the certificate chain {}: {e}",
            cert.display()
        ))
    })?;
    let identity = SigningIdentity::from_pem(&key_text, &chain)
        .with_context(|| format!("{} with {}", key.display(), cert.display()))?;
    let now = signing_time()?;
    let expiry = expiry
        .map(|e| {
            parse_duration(e).map(|d| now + d).ok_or_else(|| {
                input(format!(
                    "--expiry {e}: give a duration such as 24h, 30m, 3h20m or 7d"
                ))
            })
        })
        .transpose()?;
    let location: Location = reference.parse()?;
    let store = slipway_registry::open_for_update(&location, options)?;
    let root = store.root()?;
    let target = target_of(&root);
    let signed = slipway_notary::sign(
        &identity,
        &target,
        &SignOptions {
            signing_time: now,
            expiry,
            signing_agent: format!("slipway/{}", env!("CARGO_PKG_VERSION")),
        },
    )
    .with_context(|| format!("signing {}", root.digest))?;
    let blobs: Vec<(&str, &[u8])> = signed
        .blobs
        .iter()
        .map(|(m, b)| (*m, b.as_slice()))
        .collect();
    slipway_registry::put_referrer(store.as_ref(), &signed.bytes, &blobs)
        .with_context(|| format!("storing the signature in {}", store.describe()))?;
    store.finish()?;
    let signer = identity.chain()[0].subject.clone();
    if json_out {
        let v = json!({
            "digest": root.digest.to_string(),
            "signature": signed.digest.to_string(),
            "artifactType": SIGNATURE_ARTIFACT_TYPE,
            "signer": signer,
            "algorithm": identity.algorithm().jws_name(),
            "signingTime": slipway_notary::time::format(now),
            "expiry": expiry.map(slipway_notary::time::format),
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        println!("{}", signed.digest);
    }
    ui.status(format!(
        "signed {} with `{signer}` ({}); the Notary signature {} refers to it",
        root.digest,
        identity.algorithm().jws_name(),
        signed.digest
    ));
    Ok(())
}

/// A trust policy and trust store, read once.
pub struct NotaryTrust {
    pub policy: TrustPolicyDocument,
    pub store: TrustStore,
    pub policy_path: PathBuf,
}

impl NotaryTrust {
    /// `--trust-policy FILE --trust-store DIR` (both needed).
    pub fn load(policy: &Path, store: Option<&Path>) -> anyhow::Result<NotaryTrust> {
        let store = store.ok_or_else(|| {
            input("--trust-policy needs --trust-store DIR (the directory with x509/ca/NAME/*.pem)")
        })?;
        Ok(NotaryTrust {
            policy: TrustPolicyDocument::load(policy)?,
            store: TrustStore::open(store)?,
            policy_path: policy.to_path_buf(),
        })
    }
}

/// The trust policy scope of the image in `store`: `--scope`, else the
/// registry repository, else the name a layout recorded.
pub fn scope_of(
    store: &dyn Store,
    location: &Location,
    scope: Option<&str>,
) -> anyhow::Result<String> {
    if let Some(s) = scope {
        if !slipway_notary::policy::valid_scope(s) {
            return Err(input(format!(
                "--scope {s}: give REGISTRY/REPOSITORY, e.g. registry.example.com/team/app"
            ))
            .into());
        }
        return Ok(s.to_string());
    }
    if let Location::Remote(r) = location {
        return Ok(r.name());
    }
    store.image_name().ok_or_else(|| {
        input(format!(
            "{location} records no image name to choose a trust policy statement by; pass --scope REGISTRY/REPOSITORY"
        ))
        .into()
    })
}

/// Verify the Notary signatures of `root`: at least one must pass the
/// statement for `scope`. Returns a JSON report; warnings go to `ui`.
pub fn verify_image(
    store: &dyn Store,
    root: &RawManifest,
    scope: &str,
    trust: &NotaryTrust,
    ui: Ui,
) -> anyhow::Result<Value> {
    let policy = trust
        .policy
        .for_scope(scope)
        .map_err(|e| anyhow::anyhow!("{}: {e}", trust.policy_path.display()))?;
    if policy.level.is_skip() {
        ui.warn(format!(
            "{scope}: trust policy statement {:?} skips signature verification",
            policy.name
        ));
        return Ok(
            json!({"digest": root.digest.to_string(), "policy": policy.name, "level": "skip", "verified": false}),
        );
    }
    let referrers = store.referrers(&root.digest, Some(SIGNATURE_ARTIFACT_TYPE))?;
    if referrers.is_empty() {
        anyhow::bail!(
            "{} has no Notary signature: nothing refers to {} with artifact type {SIGNATURE_ARTIFACT_TYPE}. \
             Sign it with `slipway sign --notation` or `notation sign`",
            store.describe(),
            root.digest
        );
    }
    let target = target_of(root);
    let scratch = tempfile::tempdir()?;
    let now = slipway_notary::time::now();
    let mut failures = Vec::new();
    for r in referrers.iter().take(MAX_SIGNATURES) {
        match verify_one(
            store,
            &r.digest,
            root,
            &target,
            policy,
            trust,
            scratch.path(),
            now,
        ) {
            Ok(v) => {
                for w in &v.warnings {
                    ui.warn(format!(
                        "{}: {} check failed, logged only at level {}: {}",
                        r.digest,
                        w.check.name(),
                        v.level,
                        w.message
                    ));
                }
                return Ok(json!({
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
                }));
            }
            Err(e) => failures.push(format!("signature {}: {e:#}", r.digest)),
        }
    }
    anyhow::bail!(
        "{}: no Notary signature of {} verifies with trust policy statement {:?}:\n  {}",
        store.describe(),
        root.digest,
        policy.name,
        failures.join("\n  ")
    )
}

#[allow(clippy::too_many_arguments)]
fn verify_one(
    store: &dyn Store,
    digest: &slipway_oci::Digest,
    root: &RawManifest,
    target: &TargetArtifact,
    policy: &slipway_notary::TrustPolicy,
    trust: &NotaryTrust,
    scratch: &Path,
    now: i64,
) -> anyhow::Result<slipway_notary::Verified> {
    let manifest = store.manifest(digest)?;
    let stored = slipway_notary::read_signature_manifest(&manifest.bytes)?;
    if let Some(subject) = &stored.subject
        && subject.digest != root.digest.to_string()
    {
        anyhow::bail!("its subject is {}, not {}", subject.digest, root.digest);
    }
    if stored.envelope.size > ENVELOPE_LIMIT {
        anyhow::bail!(
            "its envelope claims {} bytes; envelopes are at most {ENVELOPE_LIMIT}",
            stored.envelope.size
        );
    }
    let blob = Blob {
        media_type: stored.envelope.media_type.clone(),
        digest: slipway_oci::Digest::parse(&stored.envelope.digest).ok_or_else(|| {
            anyhow::anyhow!(
                "its envelope digest {} is not sha256",
                stored.envelope.digest
            )
        })?,
        size: stored.envelope.size,
    };
    // The store checks the blob against its digest: a changed byte fails here.
    let path = store.fetch_blob(&blob, scratch, &Quiet)?;
    let bytes = std::fs::read(&path)?;
    Ok(slipway_notary::verify(
        policy,
        &trust.store,
        target,
        &stored.envelope.media_type,
        &bytes,
        now,
    )?)
}

#[cfg(test)]
mod tests {
    use super::parse_duration;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("24h"), Some(86_400));
        assert_eq!(parse_duration("3h20m"), Some(12_000));
        assert_eq!(parse_duration("7d"), Some(604_800));
        assert_eq!(parse_duration("90s"), Some(90));
        for bad in ["", "h", "24", "1y", "-1h", "0m", "99999999999999999999d"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }
}
