//! cosign's two formats, read as cosign v3 does: Sigstore bundles as OCI 1.1
//! referrers, and the legacy `sha256-<hex>.sig`/`.att` tags. A signature
//! verifies if either format holds one by the key; "none there" and "none
//! verifies" give different messages, and each rejected candidate says why.

use serde_json::{Value, json};
use slipway_attest::bundle::{
    COSIGN_SIGN_PREDICATE, PREDICATE_ANNOTATION, bundle_layer, verify_bundle_blob,
};
use slipway_attest::{
    AttestationSet, PublicKey, RejectReason, SignatureSet, Statement, attestation_tag,
    signature_tag,
};
use slipway_oci::Digest;
use slipway_registry::{Blob, RawManifest, Store};

use crate::{Result, VerifyError};

/// Fail with a [`VerifyError::Rejected`] message.
macro_rules! reject {
    ($($arg:tt)*) => {
        return Err(VerifyError::Rejected(format!($($arg)*)))
    };
}

/// The largest signature payload or attestation envelope read (an SBOM
/// attestation of a big image is a few MiB).
const PAYLOAD_LIMIT: u64 = 64 << 20;

/// Read a blob of a `.sig`/`.att` manifest; its size comes from the layer list.
pub fn fetcher<'a>(
    store: &'a dyn Store,
    layers: &'a [slipway_attest::LayerDescriptor],
) -> impl FnMut(&Digest) -> Result<Vec<u8>, String> + 'a {
    move |digest: &Digest| {
        let layer = layers
            .iter()
            .find(|l| &l.digest == digest)
            .ok_or_else(|| format!("{digest} is not a layer of the manifest"))?;
        // Payloads and envelopes are small; the manifest's size is not trusted.
        if layer.size > PAYLOAD_LIMIT {
            return Err(format!(
                "{digest} claims {} bytes; signature payloads are at most {PAYLOAD_LIMIT}",
                layer.size
            ));
        }
        let blob = Blob {
            media_type: layer.media_type.clone(),
            digest: digest.clone(),
            size: layer.size,
        };
        store
            .read_blob(&blob, PAYLOAD_LIMIT)
            .map_err(|e| e.to_string())
    }
}

/// Signatures and attestations in Sigstore bundle referrers of `digest`:
/// what verified (the statement, by referrer digest) and what did not.
struct BundleCheck {
    signatures: Vec<(Digest, Statement)>,
    attestations: Vec<(Digest, Statement)>,
    /// (is a signature, referrer, reason)
    rejected: Vec<(bool, Digest, RejectReason)>,
}

fn check_bundles(store: &dyn Store, digest: &Digest, key: &PublicKey) -> Result<BundleCheck> {
    let mut out = BundleCheck {
        signatures: vec![],
        attestations: vec![],
        rejected: vec![],
    };
    for r in store.referrers(digest, None)? {
        if !r
            .artifact_type
            .as_deref()
            .is_some_and(|t| t.starts_with("application/vnd.dev.sigstore.bundle"))
        {
            continue; // another kind of artifact (a Notary signature, an SBOM)
        }
        let manifest = match store.manifest(&r.digest) {
            Ok(m) => m,
            Err(e) => {
                // Listed but unreadable (missing, or not matching its digest).
                let is_signature = r
                    .annotations
                    .get(PREDICATE_ANNOTATION)
                    .is_none_or(|p| p == COSIGN_SIGN_PREDICATE);
                out.rejected
                    .push((is_signature, r.digest, RejectReason::Fetch(e.to_string())));
                continue;
            }
        };
        let Some(found) = bundle_layer(&manifest.bytes) else {
            continue;
        };
        let is_signature = found
            .annotations
            .get(PREDICATE_ANNOTATION)
            .is_none_or(|p| p == COSIGN_SIGN_PREDICATE);
        let layers = [found.layer.clone()];
        let outcome = fetcher(store, &layers)(&found.layer.digest)
            .map_err(RejectReason::Fetch)
            .and_then(|blob| verify_bundle_blob(&found, &blob, digest, key));
        match outcome {
            Ok(st) if st.predicate_type == COSIGN_SIGN_PREDICATE => {
                out.signatures.push((r.digest, st))
            }
            Ok(st) => out.attestations.push((r.digest, st)),
            Err(reason) => out.rejected.push((is_signature, r.digest, reason)),
        }
    }
    Ok(out)
}

/// Reasons that mean the content was altered, not merely signed by someone
/// else: these stop an air-gap gate even when another signature verifies.
fn is_tampering(reason: &RejectReason) -> bool {
    !matches!(
        reason,
        RejectReason::WrongKey { .. } | RejectReason::NotVerified { .. }
    )
}

/// The signatures of `digest` by `key`, in either format: at least one must
/// verify. With `strict`, any altered signature fails too (the gate).
fn verify_signatures(
    store: &dyn Store,
    digest: &Digest,
    key: &PublicKey,
    bundles: &BundleCheck,
    strict: bool,
) -> Result<Value> {
    let tag = signature_tag(digest);
    let mut found = Vec::new();
    let mut problems: Vec<String> = Vec::new();
    // Layers of a .sig that verified which did not themselves verify.
    let mut other_layers: Vec<String> = Vec::new();
    for (referrer, st) in &bundles.signatures {
        found.push(json!({
            "format": "bundle",
            "referrer": referrer.to_string(),
            "identity": st.subject.iter().find(|s| s.digest.get("sha256").map(String::as_str) == Some(digest.hex())).map(|s| s.name.clone()).unwrap_or_default(),
        }));
    }
    problems.extend(rejected_bundles(
        store,
        digest,
        bundles,
        Wanted::Signature,
        strict,
    )?);
    let legacy = store.tagged(&tag)?;
    if let Some(sigs) = &legacy {
        let set = SignatureSet::from_manifest(&sigs.bytes)
            .map_err(|e| VerifyError::Rejected(format!("reading {tag}: {e}")))?;
        let layers = set.layers().to_vec();
        match set.verify(digest, key, fetcher(store, &layers)) {
            Ok(verified) => {
                for r in &verified.rejected {
                    if strict && is_tampering(&r.reason) {
                        reject!("{}: {tag}: {r}", store.describe());
                    }
                    other_layers.push(r.reason.to_string());
                }
                for v in &verified.verified {
                    found.push(json!({
                        "format": "legacy",
                        "tag": tag,
                        "identity": v.claims.docker_reference,
                        "payload": v.payload_digest.to_string(),
                    }));
                }
            }
            Err(e) => legacy_failure(store, &tag, &e, strict, &mut problems)?,
        }
    }
    if found.is_empty() {
        nothing_verified(store, digest, &tag, &problems, Wanted::Signature)?;
    }
    Ok(json!({
        "digest": digest.to_string(),
        "signatures": found,
        "formats": formats(&found),
        "other_signatures": problems,
        "other_layers": other_layers,
    }))
}

/// A legacy `.sig`/`.att` manifest that failed to verify: at the gate
/// (`strict`) an altered one stops everything; otherwise it is one problem
/// to report if nothing else verifies.
fn legacy_failure(
    store: &dyn Store,
    tag: &str,
    e: &slipway_attest::VerifyError,
    strict: bool,
    problems: &mut Vec<String>,
) -> Result<()> {
    if strict && e.rejections().iter().any(|r| is_tampering(&r.reason)) {
        reject!("{}: {tag}: {e}", store.describe());
    }
    problems.push(format!("{tag}: {e}"));
    Ok(())
}

/// The bundle referrers of the `wanted` kind that did not verify, as
/// problems to report; at the gate (`strict`) an altered one stops everything.
fn rejected_bundles(
    store: &dyn Store,
    digest: &Digest,
    bundles: &BundleCheck,
    wanted: Wanted,
    strict: bool,
) -> Result<Vec<String>> {
    let want_signatures = matches!(wanted, Wanted::Signature);
    let mut problems = Vec::new();
    for (is_sig, referrer, reason) in &bundles.rejected {
        if *is_sig != want_signatures {
            continue;
        }
        if strict && is_tampering(reason) {
            let kind = if want_signatures {
                "signature"
            } else {
                "attestation"
            };
            reject!(
                "{}: the {kind} bundle {referrer} of {digest} does not verify: {reason}",
                store.describe()
            );
        }
        problems.push(format!("bundle referrer {referrer}: {reason}"));
    }
    Ok(problems)
}

/// What `verify` looked for, for its messages.
#[derive(Clone, Copy)]
enum Wanted {
    Signature,
    Attestation,
}

/// The error when nothing verified: "none there" and "none verifies" are told
/// apart, and the second lists why each candidate failed.
fn nothing_verified(
    store: &dyn Store,
    digest: &Digest,
    tag: &str,
    problems: &[String],
    wanted: Wanted,
) -> Result<()> {
    let (none, one, hint) = match wanted {
        Wanted::Signature => ("no signature", "signature", "Sign it with `slipway sign`"),
        Wanted::Attestation => (
            "no attestations",
            "attestation",
            "Add some with `slipway attest`",
        ),
    };
    if problems.is_empty() {
        reject!(
            "{} has {none} for {digest}: no Sigstore bundle referrer and no {tag}. {hint}",
            store.describe()
        );
    }
    reject!(
        "{}: no {one} of {digest} verifies with the key:\n  - {}",
        store.describe(),
        problems.join("\n  - ")
    )
}

fn formats(found: &[Value]) -> Vec<String> {
    let mut f: Vec<String> = found
        .iter()
        .filter_map(|v| v["format"].as_str().map(str::to_string))
        .collect();
    f.sort();
    f.dedup();
    f
}

/// The attestations about `digest` signed by `key`, in either format: at
/// least one must verify. Returns their predicate types and formats.
fn verify_attestations(
    store: &dyn Store,
    digest: &Digest,
    key: &PublicKey,
    bundles: &BundleCheck,
    strict: bool,
) -> Result<Value> {
    let tag = attestation_tag(digest);
    let mut found = Vec::new();
    let mut problems: Vec<String> = Vec::new();
    for (referrer, st) in &bundles.attestations {
        found.push(json!({"format": "bundle", "referrer": referrer.to_string(), "predicate_type": st.predicate_type}));
    }
    problems.extend(rejected_bundles(
        store,
        digest,
        bundles,
        Wanted::Attestation,
        strict,
    )?);
    if let Some(atts) = store.tagged(&tag)? {
        let set = AttestationSet::from_manifest(&atts.bytes)
            .map_err(|e| VerifyError::Rejected(format!("reading {tag}: {e}")))?;
        let layers = set.layers().to_vec();
        match set.verify(digest, key, fetcher(store, &layers)) {
            Ok(verified) => {
                for r in &verified.rejected {
                    if strict && is_tampering(&r.reason) {
                        reject!("{}: {tag}: {r}", store.describe());
                    }
                }
                for a in &verified.verified {
                    found.push(
                        json!({"format": "legacy", "tag": tag, "predicate_type": a.predicate_type}),
                    );
                }
            }
            Err(e) => legacy_failure(store, &tag, &e, strict, &mut problems)?,
        }
    }
    if found.is_empty() {
        nothing_verified(store, digest, &tag, &problems, Wanted::Attestation)?;
    }
    Ok(Value::Array(found))
}

/// Verify the signatures (and optionally the attestations) of `digest`.
pub fn verify_image(
    store: &dyn Store,
    digest: &Digest,
    key: &PublicKey,
    attestations: bool,
) -> Result<Value> {
    let bundles = check_bundles(store, digest, key)?;
    let mut report = verify_signatures(store, digest, key, &bundles, false)?;
    if attestations {
        report["attestations"] = verify_attestations(store, digest, key, &bundles, false)?;
    }
    Ok(report)
}

/// The gate of an air gap: the image's own signature is required, and every
/// signature and attestation a copy would carry (bundle referrers and tags,
/// of the image and of its platforms) must verify or at least be unaltered
/// (another signer's is let through). Returns how many were checked.
pub fn verify_all(store: &dyn Store, root: &RawManifest, key: &PublicKey) -> Result<usize> {
    let closure = slipway_registry::closure(store, root.clone())?;
    let mut checked = 0;
    for m in &closure.manifests {
        let bundles = check_bundles(store, &m.digest, key)?;
        let has_bundle_sigs =
            !bundles.signatures.is_empty() || bundles.rejected.iter().any(|(is_sig, _, _)| *is_sig);
        if m.digest == root.digest
            || has_bundle_sigs
            || store.tag_digest(&signature_tag(&m.digest))?.is_some()
        {
            let r = verify_signatures(store, &m.digest, key, &bundles, true)?;
            checked += r["signatures"].as_array().map_or(0, Vec::len);
        }
        let has_bundle_atts = !bundles.attestations.is_empty()
            || bundles.rejected.iter().any(|(is_sig, _, _)| !*is_sig);
        if has_bundle_atts || store.tag_digest(&attestation_tag(&m.digest))?.is_some() {
            let r = verify_attestations(store, &m.digest, key, &bundles, true)?;
            checked += r.as_array().map_or(0, Vec::len);
        }
    }
    Ok(checked)
}
