//! The Notary Project side of `sign`, `verify` and `copy`: `--notation`
//! signatures made with an X.509 key and chain, stored as OCI 1.1 referrers;
//! verification against notation's trust policy and trust store, offline.
//! The format and the rules live in `slipway-notary`; referrers in
//! `slipway-registry`.

use std::path::Path;

use anyhow::Context as _;
use serde_json::{Value, json};
use slipway_notary::{SIGNATURE_ARTIFACT_TYPE, SignOptions, SigningIdentity};
use slipway_registry::{Location, RawManifest, Store};
pub use slipway_verify::notary::{NotaryTrust, scope_of};

use crate::input;
use crate::ui::Ui;

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
    let target = slipway_verify::notary::target_of(&root);
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

/// `--trust-policy FILE --trust-store DIR` (both needed).
pub fn load_trust(policy: &Path, store: Option<&Path>) -> anyhow::Result<NotaryTrust> {
    let store = store.ok_or_else(|| {
        input("--trust-policy needs --trust-store DIR (the directory with x509/ca/NAME/*.pem)")
    })?;
    Ok(NotaryTrust::load(policy, store)?)
}

/// Verify `root`'s Notary signatures, printing the warnings the policy
/// only logs; returns the JSON report.
pub fn verify_image(
    store: &dyn Store,
    root: &RawManifest,
    scope: &str,
    trust: &NotaryTrust,
    ui: Ui,
) -> anyhow::Result<Value> {
    let checked = slipway_verify::notary::verify_image(store, root, scope, trust)?;
    for w in &checked.warnings {
        ui.warn(w);
    }
    Ok(checked.report)
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
