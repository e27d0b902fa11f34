//! The JWS envelope (`application/jose+json`, flattened JSON serialization):
//! protected headers with the Notary signing scheme and times, the payload
//! `{"targetArtifact": <descriptor>}`, the chain in the unprotected `x5c`.
//! [`open`] is the integrity step of verification: everything that can be
//! judged from the envelope alone, before any trust store is read.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD as B64, URL_SAFE_NO_PAD as B64URL};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::cert::{Algorithm, Certificate, validate_chain};
use crate::error::NotaryError;
use crate::keys::SigningIdentity;

pub const JWS_MEDIA_TYPE: &str = "application/jose+json";
pub const COSE_MEDIA_TYPE: &str = "application/cose";
pub const PAYLOAD_MEDIA_TYPE: &str = "application/vnd.cncf.notary.payload.v1+json";
pub const SCHEME_X509: &str = "notary.x509";
pub const SCHEME_SIGNING_AUTHORITY: &str = "notary.x509.signingAuthority";

const H_SCHEME: &str = "io.cncf.notary.signingScheme";
const H_SIGNING_TIME: &str = "io.cncf.notary.signingTime";
const H_AUTHENTIC_TIME: &str = "io.cncf.notary.authenticSigningTime";
const H_EXPIRY: &str = "io.cncf.notary.expiry";
const H_PLUGIN: &str = "io.cncf.notary.verificationPlugin";
const H_PLUGIN_MIN: &str = "io.cncf.notary.verificationPluginMinVersion";

/// The artifact a signature is about: its descriptor, as signed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetArtifact {
    // Fields in the order Go's encoder sorts them, as notation writes them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    #[serde(
        rename = "artifactType",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub artifact_type: Option<String>,
    pub digest: String,
    #[serde(rename = "mediaType")]
    pub media_type: String,
    pub size: u64,
}

impl TargetArtifact {
    pub fn new(media_type: &str, digest: &str, size: u64) -> TargetArtifact {
        TargetArtifact {
            annotations: None,
            artifact_type: None,
            digest: digest.to_string(),
            media_type: media_type.to_string(),
            size,
        }
    }

    /// Whether this names the same content (media type, digest, size).
    pub fn same_content(&self, other: &TargetArtifact) -> bool {
        self.digest == other.digest
            && self.media_type == other.media_type
            && self.size == other.size
    }
}

#[derive(Serialize, Deserialize)]
struct Payload {
    #[serde(rename = "targetArtifact")]
    target_artifact: TargetArtifact,
}

/// Options of one signature.
#[derive(Debug, Clone)]
pub struct SignOptions {
    /// Seconds since 1970 (notation's signing time is not authenticated
    /// under `notary.x509`; it is what the signer says).
    pub signing_time: i64,
    /// "Best by" time after which verifiers reject the signature.
    pub expiry: Option<i64>,
    /// Free text naming the signing tool.
    pub signing_agent: String,
}

#[derive(Serialize)]
struct ProtectedOut<'a> {
    // Sorted like Go's JSON encoding of a map, as notation's headers are.
    alg: &'a str,
    crit: Vec<&'a str>,
    cty: &'a str,
    #[serde(
        rename = "io.cncf.notary.expiry",
        skip_serializing_if = "Option::is_none"
    )]
    expiry: Option<String>,
    #[serde(rename = "io.cncf.notary.signingScheme")]
    scheme: &'a str,
    #[serde(rename = "io.cncf.notary.signingTime")]
    signing_time: String,
}

#[derive(Serialize, Deserialize)]
struct Unprotected {
    #[serde(
        rename = "io.cncf.notary.timestampSignature",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    timestamp_signature: Option<String>,
    #[serde(default)]
    x5c: Vec<String>,
    #[serde(
        rename = "io.cncf.notary.signingAgent",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    signing_agent: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct Jws {
    payload: String,
    protected: String,
    header: Unprotected,
    signature: String,
}

/// Make the JWS envelope for `target`.
pub fn sign(
    identity: &SigningIdentity,
    target: &TargetArtifact,
    options: &SignOptions,
) -> Result<Vec<u8>, NotaryError> {
    if let Some(expiry) = options.expiry
        && expiry <= options.signing_time
    {
        return Err(NotaryError::Format(
            "the expiry must be after the signing time".into(),
        ));
    }
    let mut crit = vec![H_SCHEME];
    if options.expiry.is_some() {
        crit.push(H_EXPIRY);
    }
    let protected = ProtectedOut {
        alg: identity.algorithm().jws_name(),
        crit,
        cty: PAYLOAD_MEDIA_TYPE,
        expiry: options.expiry.map(crate::time::format),
        scheme: SCHEME_X509,
        signing_time: crate::time::format(options.signing_time),
    };
    let payload = Payload {
        target_artifact: target.clone(),
    };
    let protected_b64 = B64URL.encode(json(&protected)?);
    let payload_b64 = B64URL.encode(json(&payload)?);
    let signing_input = format!("{protected_b64}.{payload_b64}");
    let signature = identity.sign(signing_input.as_bytes())?;
    let jws = Jws {
        payload: payload_b64,
        protected: protected_b64,
        header: Unprotected {
            timestamp_signature: None,
            x5c: identity
                .chain()
                .iter()
                .map(|c| B64.encode(c.der()))
                .collect(),
            signing_agent: Some(options.signing_agent.clone()),
        },
        signature: B64URL.encode(signature),
    };
    json(&jws)
}

fn json<T: Serialize>(value: &T) -> Result<Vec<u8>, NotaryError> {
    serde_json::to_vec(value)
        .map_err(|e| NotaryError::Format(format!("serialising the envelope: {e}")))
}

/// A JWS envelope whose integrity holds: the signature verifies with the
/// leaf's key, the headers follow the rules, and the chain is well formed.
#[derive(Debug, Clone)]
pub struct Envelope {
    pub algorithm: Algorithm,
    /// `notary.x509` or `notary.x509.signingAuthority`.
    pub signing_scheme: String,
    /// Seconds since 1970 (authentic only under signingAuthority).
    pub signing_time: i64,
    pub expiry: Option<i64>,
    /// Leaf first, root last.
    pub chain: Vec<Certificate>,
    pub target: TargetArtifact,
    /// Whether an RFC 3161 countersignature is attached (slipway does not check it).
    pub has_timestamp: bool,
    pub signing_agent: Option<String>,
}

/// Parse and check a JWS envelope's integrity; the error says what is wrong.
pub fn open(bytes: &[u8]) -> Result<Envelope, String> {
    let jws: Jws = serde_json::from_slice(bytes)
        .map_err(|e| format!("the envelope is not a JWS in JSON serialization: {e}"))?;
    let protected_raw = B64URL
        .decode(jws.protected.trim_end_matches('='))
        .map_err(|_| "the protected header is not base64url".to_string())?;
    let protected: serde_json::Map<String, Value> = serde_json::from_slice(&protected_raw)
        .map_err(|e| format!("the protected header is not a JSON object: {e}"))?;
    let text = |key: &str| -> Result<Option<&str>, String> {
        match protected.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.as_str())),
            Some(_) => Err(format!("the protected header `{key}` is not a string")),
        }
    };
    let time = |key: &str| -> Result<Option<i64>, String> {
        text(key)?
            .map(|s| {
                crate::time::parse(s).ok_or_else(|| {
                    format!("the protected header `{key}` is not an RFC 3339 time: {s}")
                })
            })
            .transpose()
    };
    let alg_name = text("alg")?.ok_or("the protected header has no `alg`")?;
    let algorithm = Algorithm::from_jws_name(alg_name).ok_or_else(|| {
        format!("the signature algorithm `{alg_name}` is not one the Notary Project allows (PS256/384/512, ES256/384/512)")
    })?;
    let cty = text("cty")?.unwrap_or("");
    if cty != PAYLOAD_MEDIA_TYPE {
        return Err(format!(
            "the payload content type is `{cty}`, not `{PAYLOAD_MEDIA_TYPE}`"
        ));
    }
    let scheme = text(H_SCHEME)?.ok_or("the protected header has no signing scheme")?;
    let signing_time = time(H_SIGNING_TIME)?;
    let authentic_time = time(H_AUTHENTIC_TIME)?;
    let expiry = time(H_EXPIRY)?;
    let signing_time = match scheme {
        SCHEME_X509 => {
            if authentic_time.is_some() {
                return Err(format!(
                    "`{H_AUTHENTIC_TIME}` must not be present under {SCHEME_X509}"
                ));
            }
            signing_time.ok_or_else(|| format!("the signature has no `{H_SIGNING_TIME}`"))?
        }
        SCHEME_SIGNING_AUTHORITY => {
            if signing_time.is_some() {
                return Err(format!(
                    "`{H_SIGNING_TIME}` must not be present under {SCHEME_SIGNING_AUTHORITY}"
                ));
            }
            authentic_time.ok_or_else(|| format!("the signature has no `{H_AUTHENTIC_TIME}`"))?
        }
        other => return Err(format!("the signing scheme `{other}` is not supported")),
    };
    if let Some(e) = expiry
        && e <= signing_time
    {
        return Err("the expiry is not after the signing time".into());
    }
    // crit: required, lists what must be understood, and only what is present.
    let crit: Vec<String> = match protected.get("crit") {
        None => return Err("the protected header has no `crit`".into()),
        Some(v) => serde_json::from_value(v.clone())
            .map_err(|_| "the protected header `crit` is not a list of names".to_string())?,
    };
    if crit.is_empty() {
        return Err("the protected header `crit` is empty".into());
    }
    let mut must = vec![H_SCHEME];
    if expiry.is_some() {
        must.push(H_EXPIRY);
    }
    if scheme == SCHEME_SIGNING_AUTHORITY {
        must.push(H_AUTHENTIC_TIME);
    }
    for m in &must {
        if !crit.iter().any(|c| c == m) {
            return Err(format!("`{m}` must be marked critical"));
        }
    }
    let understood = [H_SCHEME, H_EXPIRY, H_AUTHENTIC_TIME, H_SIGNING_TIME];
    for c in &crit {
        if !protected.contains_key(c) {
            return Err(format!("`{c}` is marked critical but not present"));
        }
        if c == H_PLUGIN || c == H_PLUGIN_MIN {
            let plugin = text(H_PLUGIN).ok().flatten().unwrap_or("?");
            return Err(format!(
                "the signature requires the notation verification plugin `{plugin}`; slipway runs no plugins"
            ));
        }
        if !understood.contains(&c.as_str()) {
            return Err(format!(
                "the critical header `{c}` is not one slipway understands"
            ));
        }
    }
    // The chain, and the signature with the leaf's key.
    if jws.header.x5c.is_empty() {
        return Err("the envelope carries no certificate chain (`x5c`)".into());
    }
    let mut chain = Vec::new();
    for (i, c) in jws.header.x5c.iter().enumerate() {
        let der = B64
            .decode(c)
            .map_err(|_| format!("certificate {} of `x5c` is not base64", i + 1))?;
        chain.push(
            Certificate::from_der(&der)
                .map_err(|e| format!("certificate {} of `x5c`: {e}", i + 1))?,
        );
    }
    let leaf = &chain[0];
    let signature = B64URL
        .decode(jws.signature.trim_end_matches('='))
        .map_err(|_| "the signature is not base64url".to_string())?;
    if signature.is_empty() {
        return Err("the signature is empty".into());
    }
    match leaf.key.algorithm() {
        Some(a) if a == algorithm => {}
        Some(a) => {
            return Err(format!(
                "the envelope says {} but the signing certificate's {} key goes with {}",
                algorithm.jws_name(),
                leaf.key.describe(),
                a.jws_name()
            ));
        }
        None => {
            return Err(format!(
                "the signing certificate has a {} key, which the Notary Project does not allow",
                leaf.key.describe()
            ));
        }
    }
    let signing_input = format!("{}.{}", jws.protected, jws.payload);
    if !leaf.verify_jws(algorithm, signing_input.as_bytes(), &signature) {
        return Err(format!(
            "the signature does not verify with the key of `{}`: the envelope was altered after signing, or signed by another key",
            leaf.subject
        ));
    }
    validate_chain(&chain).map_err(|e| e.to_string())?;
    let payload_raw = B64URL
        .decode(jws.payload.trim_end_matches('='))
        .map_err(|_| "the payload is not base64url".to_string())?;
    let payload: Payload = serde_json::from_slice(&payload_raw).map_err(|e| {
        format!("the payload is not a Notary payload ({{\"targetArtifact\": …}}): {e}")
    })?;
    Ok(Envelope {
        algorithm,
        signing_scheme: scheme.to_string(),
        signing_time,
        expiry,
        chain,
        target: payload.target_artifact,
        has_timestamp: jws.header.timestamp_signature.is_some(),
        signing_agent: jws.header.signing_agent,
    })
}
