//! Verification of one signature envelope against a trust policy statement
//! and the trust store, fully offline: integrity, the artifact it names,
//! authenticity (a chain certificate in a named store, a trusted identity),
//! expiry, certificate validity, revocation as far as it can be judged
//! without a network. Each check fails with its own message; the level
//! decides whether a failure stops the verification or is only reported.

use crate::cert::Certificate;
use crate::envelope::{COSE_MEDIA_TYPE, Envelope, JWS_MEDIA_TYPE, SCHEME_X509, TargetArtifact};
use crate::policy::{Action, Check, Identities, StoreType, TrustPolicy, VerifyTimestamp};
use crate::time;
use crate::truststore::TrustStore;

/// A check that failed without stopping the verification (level `log`).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Finding {
    pub check: Check,
    pub message: String,
}

/// A signature that passed the statement's checks.
#[derive(Debug, Clone)]
pub struct Verified {
    pub policy: String,
    pub level: String,
    /// The signing certificate's subject.
    pub signer: String,
    pub signing_time: i64,
    pub expiry: Option<i64>,
    /// Checks that failed but are only logged at this level.
    pub warnings: Vec<Finding>,
    /// Checks not made (level `skip`, or revocation offline).
    pub not_checked: Vec<Finding>,
    pub envelope: Envelope,
}

/// Why a signature was refused.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{} check failed: {message}", check.name())]
pub struct Rejection {
    pub check: Check,
    pub message: String,
}

fn reject(check: Check, message: impl Into<String>) -> Rejection {
    Rejection {
        check,
        message: message.into(),
    }
}

/// Verify the envelope `bytes` (of `media_type`) as a signature of `target`
/// under `policy`, at the time `now` (seconds since 1970).
pub fn verify(
    policy: &TrustPolicy,
    store: &TrustStore,
    target: &TargetArtifact,
    media_type: &str,
    bytes: &[u8],
    now: i64,
) -> Result<Verified, Rejection> {
    if media_type == COSE_MEDIA_TYPE {
        return Err(reject(
            Check::Integrity,
            "the envelope is COSE; slipway reads JWS envelopes (notation sign --signature-format jws)",
        ));
    }
    if media_type != JWS_MEDIA_TYPE {
        return Err(reject(
            Check::Integrity,
            format!("the envelope type `{media_type}` is not a Notary signature envelope"),
        ));
    }
    let envelope = crate::envelope::open(bytes).map_err(|m| reject(Check::Integrity, m))?;
    if !envelope.target.same_content(target) {
        return Err(reject(
            Check::Integrity,
            format!(
                "the signature is for {} ({}, {} bytes), not for {} ({}, {} bytes)",
                envelope.target.digest,
                envelope.target.media_type,
                envelope.target.size,
                target.digest,
                target.media_type,
                target.size
            ),
        ));
    }
    let mut verdict = Verified {
        policy: policy.name.clone(),
        level: policy.level.name.clone(),
        signer: envelope.chain[0].subject.clone(),
        signing_time: envelope.signing_time,
        expiry: envelope.expiry,
        warnings: Vec::new(),
        not_checked: Vec::new(),
        envelope: envelope.clone(),
    };
    let mut outcome = |check: Check, result: Result<(), String>| -> Result<(), Rejection> {
        match (policy.level.action(check), result) {
            (_, Ok(())) => Ok(()),
            (Action::Enforce, Err(m)) => Err(reject(check, m)),
            (Action::Log, Err(m)) => {
                verdict.warnings.push(Finding { check, message: m });
                Ok(())
            }
            (Action::Skip, Err(_)) => Ok(()),
        }
    };
    let chain = &envelope.chain;
    // Authenticity: a certificate of the chain is in one of the stores, and
    // the signer is a trusted identity.
    if policy.level.action(Check::Authenticity) != Action::Skip {
        outcome(Check::Authenticity, trusted(policy, store, &envelope))?;
        outcome(Check::Authenticity, identity(policy, &chain[0]))?;
    }
    if policy.level.action(Check::Expiry) != Action::Skip {
        let expired = match envelope.expiry {
            Some(e) if e <= now => Err(format!(
                "the signature expired at {} (its signer set that \"best by\" time)",
                time::format(e)
            )),
            _ => Ok(()),
        };
        outcome(Check::Expiry, expired)?;
    }
    if policy.level.action(Check::AuthenticTimestamp) != Action::Skip {
        outcome(Check::AuthenticTimestamp, timestamp(policy, &envelope, now))?;
    }
    let revocation = policy.level.action(Check::Revocation);
    if revocation != Action::Skip {
        let endpoints: Vec<&str> = chain
            .iter()
            .filter(|c| c.names_revocation_endpoint)
            .map(|c| c.subject.as_str())
            .collect();
        let result = if endpoints.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "`{}` names CRL or OCSP endpoints, which slipway does not query (it verifies offline); \
                 set \"override\": {{\"revocation\": \"log\"}} or \"skip\" in the statement to accept that",
                endpoints.join("`, `")
            ))
        };
        outcome(Check::Revocation, result)?;
    }
    if revocation == Action::Skip {
        verdict.not_checked.push(Finding {
            check: Check::Revocation,
            message: "skipped by the trust policy".into(),
        });
    }
    Ok(verdict)
}

fn trusted(policy: &TrustPolicy, store: &TrustStore, envelope: &Envelope) -> Result<(), String> {
    let wanted = if envelope.signing_scheme == SCHEME_X509 {
        StoreType::Ca
    } else {
        StoreType::SigningAuthority
    };
    let names: Vec<&String> = policy
        .trust_stores
        .iter()
        .filter(|(k, _)| *k == wanted)
        .map(|(_, n)| n)
        .collect();
    if names.is_empty() {
        return Err(format!(
            "statement {:?} lists no {}: trust store, which {} signatures need",
            policy.name,
            wanted.dir_name(),
            envelope.signing_scheme
        ));
    }
    let mut trusted: Vec<Certificate> = Vec::new();
    for name in &names {
        trusted.extend(
            store
                .certificates(wanted, name)
                .map_err(|e| e.to_string())?,
        );
    }
    if envelope.chain.iter().any(|c| trusted.contains(c)) {
        return Ok(());
    }
    let root = envelope.chain.last().map_or("", |c| c.subject.as_str());
    Err(format!(
        "the signature's chain ends at `{root}`, and no certificate of it is in the trust store{} {}; \
         the signer is not trusted (add its root CA to the store if it should be)",
        if names.len() == 1 { "" } else { "s" },
        names
            .iter()
            .map(|n| format!("{}:{n}", wanted.dir_name()))
            .collect::<Vec<_>>()
            .join(", ")
    ))
}

fn identity(policy: &TrustPolicy, leaf: &Certificate) -> Result<(), String> {
    let subjects = match &policy.identities {
        Identities::Any => return Ok(()),
        Identities::Subjects(s) if s.is_empty() => {
            return Err(format!(
                "statement {:?} lists no x509.subject identity slipway can check (others belong to notation plugins)",
                policy.name
            ));
        }
        Identities::Subjects(s) => s,
    };
    let subject = leaf.subject_map()?;
    if subjects
        .iter()
        .any(|(_, dn)| crate::dn::is_subset(dn, &subject))
    {
        return Ok(());
    }
    Err(format!(
        "the signer `{}` is not a trusted identity of statement {:?} ({})",
        leaf.subject,
        policy.name,
        subjects
            .iter()
            .map(|(raw, _)| raw.as_str())
            .collect::<Vec<_>>()
            .join("; ")
    ))
}

fn timestamp(policy: &TrustPolicy, envelope: &Envelope, now: i64) -> Result<(), String> {
    let chain = &envelope.chain;
    if envelope.signing_scheme != SCHEME_X509 {
        // signingAuthority: the signing time is authentic.
        for c in chain {
            if envelope.signing_time < c.not_before || envelope.signing_time > c.not_after {
                return Err(format!(
                    "`{}` was not valid when the signature was made ({}); it is valid from {} to {}",
                    c.subject,
                    time::format(envelope.signing_time),
                    time::format(c.not_before),
                    time::format(c.not_after)
                ));
            }
        }
        return Ok(());
    }
    let tsa = policy
        .trust_stores
        .iter()
        .any(|(k, _)| *k == StoreType::Tsa);
    let expired = chain.iter().any(|c| now > c.not_after);
    if tsa && (policy.verify_timestamp == VerifyTimestamp::Always || expired) {
        return Err(if envelope.has_timestamp {
            "the statement asks for an RFC 3161 timestamp check (a tsa: store), which slipway does not make".into()
        } else {
            "the statement asks for an RFC 3161 timestamp (a tsa: store), and the signature has none".into()
        });
    }
    for c in chain {
        if now < c.not_before {
            return Err(format!(
                "`{}` is not valid yet: it is valid from {}",
                c.subject,
                time::format(c.not_before)
            ));
        }
        if now > c.not_after {
            return Err(format!(
                "`{}` expired at {}",
                c.subject,
                time::format(c.not_after)
            ));
        }
    }
    let leaf = &chain[0];
    if envelope.signing_time < leaf.not_before || envelope.signing_time > leaf.not_after {
        return Err(format!(
            "the signing certificate `{}` was not valid at the signing time the signature claims ({}); it is valid from {} to {}",
            leaf.subject,
            time::format(envelope.signing_time),
            time::format(leaf.not_before),
            time::format(leaf.not_after)
        ));
    }
    Ok(())
}
