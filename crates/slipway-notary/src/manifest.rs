//! The signature manifest: an OCI image manifest with artifactType
//! `application/vnd.cncf.notary.signature`, the empty JSON config (typed as
//! the signature too), the envelope as its one layer, `subject` = the signed manifest, and the chain's SHA-256
//! thumbprints in an annotation. Registries list it as a referrer of the
//! subject. Readers also accept the OCI 1.0 form (no artifactType, the
//! signature type as the config media type).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use slipway_oci::Digest;

use crate::envelope::{COSE_MEDIA_TYPE, JWS_MEDIA_TYPE, TargetArtifact};
use crate::error::NotaryError;

pub const SIGNATURE_ARTIFACT_TYPE: &str = "application/vnd.cncf.notary.signature";
pub const THUMBPRINT_ANNOTATION: &str = "io.cncf.notary.x509chain.thumbprint#S256";
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// The empty JSON object, the config of artifacts without one.
pub const EMPTY_CONFIG: &[u8] = b"{}";
const CREATED_ANNOTATION: &str = "org.opencontainers.image.created";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Descriptor {
    #[serde(rename = "mediaType", default)]
    pub media_type: String,
    pub digest: String,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct Manifest {
    #[serde(rename = "schemaVersion")]
    schema_version: u32,
    #[serde(rename = "mediaType", default)]
    media_type: Option<String>,
    #[serde(
        rename = "artifactType",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    artifact_type: Option<String>,
    config: Descriptor,
    #[serde(default)]
    layers: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    subject: Option<Descriptor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    annotations: Option<BTreeMap<String, String>>,
}

/// A signature manifest ready to store: its bytes, and the blobs it needs.
#[derive(Debug, Clone)]
pub struct SignatureManifest {
    pub bytes: Vec<u8>,
    pub media_type: &'static str,
    pub digest: Digest,
    /// The envelope (the layer) and the empty config, as (media type, bytes).
    pub blobs: Vec<(&'static str, Vec<u8>)>,
}

/// The manifest that stores `envelope` (JWS) as a signature of `subject`.
pub fn signature_manifest(
    envelope: Vec<u8>,
    subject: &TargetArtifact,
    thumbprints: &[String],
    signing_time: i64,
) -> Result<SignatureManifest, NotaryError> {
    let layer = Descriptor {
        media_type: JWS_MEDIA_TYPE.into(),
        digest: Digest::of(&envelope).to_string(),
        size: envelope.len() as u64,
        data: None,
    };
    // The config is the empty JSON object typed as the signature (the OCI
    // 1.0 form notation writes by default), and `artifactType` says the same
    // (the OCI 1.1 form): registries that derive a referrer's type from the
    // config (go-containerregistry's) and those that read `artifactType`
    // both list it as a Notary signature.
    let config = Descriptor {
        media_type: SIGNATURE_ARTIFACT_TYPE.into(),
        digest: Digest::of(EMPTY_CONFIG).to_string(),
        size: EMPTY_CONFIG.len() as u64,
        data: None,
    };
    let thumbs = serde_json::to_string(thumbprints)
        .map_err(|e| NotaryError::Format(format!("thumbprints: {e}")))?;
    let manifest = Manifest {
        schema_version: 2,
        media_type: Some(OCI_MANIFEST.into()),
        artifact_type: Some(SIGNATURE_ARTIFACT_TYPE.into()),
        config,
        layers: vec![layer],
        subject: Some(Descriptor {
            media_type: subject.media_type.clone(),
            digest: subject.digest.clone(),
            size: subject.size,
            data: None,
        }),
        annotations: Some(BTreeMap::from([
            (THUMBPRINT_ANNOTATION.to_string(), thumbs),
            (
                CREATED_ANNOTATION.to_string(),
                crate::time::format(signing_time),
            ),
        ])),
    };
    let bytes = serde_json::to_vec(&manifest)
        .map_err(|e| NotaryError::Format(format!("serialising the manifest: {e}")))?;
    Ok(SignatureManifest {
        digest: Digest::of(&bytes),
        bytes,
        media_type: OCI_MANIFEST,
        blobs: vec![
            (JWS_MEDIA_TYPE, envelope),
            (SIGNATURE_ARTIFACT_TYPE, EMPTY_CONFIG.to_vec()),
        ],
    })
}

/// What a stored signature manifest says.
#[derive(Debug, Clone)]
pub struct StoredSignature {
    /// The envelope blob (JWS or COSE).
    pub envelope: Descriptor,
    pub subject: Option<Descriptor>,
    pub thumbprints: Vec<String>,
}

/// Whether `bytes` is a Notary signature manifest (either form).
pub fn is_signature_manifest(bytes: &[u8]) -> bool {
    serde_json::from_slice::<Manifest>(bytes).is_ok_and(|m| {
        m.artifact_type.as_deref() == Some(SIGNATURE_ARTIFACT_TYPE)
            || m.config.media_type == SIGNATURE_ARTIFACT_TYPE
    })
}

/// Read a signature manifest: exactly one layer, a JWS or COSE envelope.
pub fn read_signature_manifest(bytes: &[u8]) -> Result<StoredSignature, NotaryError> {
    let m: Manifest = serde_json::from_slice(bytes)
        .map_err(|e| NotaryError::Format(format!("the signature manifest does not parse: {e}")))?;
    if m.artifact_type.as_deref() != Some(SIGNATURE_ARTIFACT_TYPE)
        && m.config.media_type != SIGNATURE_ARTIFACT_TYPE
    {
        return Err(NotaryError::Format(format!(
            "the manifest is not a Notary signature (artifactType `{}`)",
            m.artifact_type.as_deref().unwrap_or(&m.config.media_type)
        )));
    }
    let [layer] = <[Descriptor; 1]>::try_from(m.layers).map_err(|layers| {
        NotaryError::Format(format!(
            "a Notary signature manifest has exactly one layer, this one has {}",
            layers.len()
        ))
    })?;
    if layer.media_type != JWS_MEDIA_TYPE && layer.media_type != COSE_MEDIA_TYPE {
        return Err(NotaryError::Format(format!(
            "the signature envelope type `{}` is neither JWS nor COSE",
            layer.media_type
        )));
    }
    let thumbprints = m
        .annotations
        .as_ref()
        .and_then(|a| a.get(THUMBPRINT_ANNOTATION))
        .and_then(|t| serde_json::from_str(t).ok())
        .unwrap_or_default();
    Ok(StoredSignature {
        envelope: layer,
        subject: m.subject,
        thumbprints,
    })
}
