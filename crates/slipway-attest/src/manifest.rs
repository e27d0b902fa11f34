//! The image manifests cosign stores signatures and attestations in, written
//! byte for byte as cosign (through go-containerregistry) writes them: Go's
//! struct field order, Go's JSON string escaping, an OCI manifest whose config
//! is the empty image's config with one diff ID and one empty history entry
//! per layer. Adding a layer to an existing manifest keeps every existing
//! layer descriptor as it was, so layers written by cosign survive.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use slipway_oci::Digest;

/// OCI image manifest media type (cosign's default for signature images).
pub const MEDIA_OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI image config media type.
pub const MEDIA_OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";

/// A blob the caller stores (registry upload, layout `blobs/sha256/...`)
/// before the manifest that references it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blob {
    pub digest: Digest,
    pub media_type: String,
    pub bytes: Vec<u8>,
}

impl Blob {
    pub(crate) fn new(media_type: &str, bytes: Vec<u8>) -> Blob {
        Blob {
            digest: Digest::of(&bytes),
            media_type: media_type.to_string(),
            bytes,
        }
    }
}

/// A manifest ready to store: its exact bytes, digest and media type, and the
/// blobs it references that may not be stored yet (the config, and the
/// payloads added since the set was read). Payloads that were already in the
/// manifest read are not repeated: they are stored already.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrittenManifest {
    pub bytes: Vec<u8>,
    pub digest: Digest,
    pub media_type: String,
    pub blobs: Vec<Blob>,
}

/// The manifest `cosign attach sbom` stores under `sha256-<hex>.sbom`: one
/// unsigned layer holding the document.
pub fn sbom_manifest(media_type: &str, document: Vec<u8>) -> WrittenManifest {
    let mut m = Layered::new();
    m.push(media_type, document, BTreeMap::new());
    m.write()
}

/// Merge two versions of one `.sig`/`.att`/`.sbom` manifest (the one at a
/// copy's destination and the one arriving): the destination's layers, then
/// the arriving layers it lacks, with a config to match. `None` when the
/// destination already has every arriving layer (nothing to write). The
/// arriving layers' blobs must be stored before the result.
pub fn merge_layered(
    existing: &[u8],
    arriving: &[u8],
) -> Result<Option<WrittenManifest>, ManifestError> {
    let mut merged = Layered::parse(existing)?;
    let incoming = Layered::parse(arriving)?;
    let mut changed = false;
    for layer in incoming.layers {
        if !merged.layers.contains(&layer) {
            merged.layers.push(layer);
            changed = true;
        }
    }
    Ok(changed.then(|| merged.write()))
}

/// A layer descriptor with go-containerregistry's field order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerDescriptor {
    #[serde(rename = "mediaType")]
    pub media_type: String,
    pub size: u64,
    pub digest: Digest,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub data: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub urls: Vec<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty", default)]
    pub annotations: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub platform: Option<serde_json::Value>,
    #[serde(
        rename = "artifactType",
        skip_serializing_if = "Option::is_none",
        default
    )]
    pub artifact_type: Option<String>,
}

/// Why a stored signature or attestation manifest could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("the manifest is not a valid image manifest: {0}")]
    Json(String),
    #[error("schemaVersion {0} is not 2")]
    SchemaVersion(i64),
    #[error("the manifest is a {0}, not an image manifest")]
    MediaType(String),
}

#[derive(Serialize, Deserialize)]
struct ManifestJson {
    #[serde(rename = "schemaVersion")]
    schema_version: i64,
    #[serde(rename = "mediaType", skip_serializing_if = "Option::is_none", default)]
    media_type: Option<String>,
    config: ConfigDescriptor,
    #[serde(default)]
    layers: Vec<LayerDescriptor>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty", default)]
    annotations: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    subject: Option<serde_json::Value>,
}

#[derive(Serialize, Deserialize)]
struct ConfigDescriptor {
    #[serde(rename = "mediaType")]
    media_type: String,
    size: u64,
    digest: Digest,
}

/// The layers of a `.sig` or `.att` manifest plus what must be kept from the
/// manifest it was read from.
#[derive(Debug, Clone)]
pub(crate) struct Layered {
    media_type: Option<String>,
    config_media_type: String,
    pub layers: Vec<LayerDescriptor>,
    annotations: BTreeMap<String, String>,
    subject: Option<serde_json::Value>,
    /// Payloads added since reading, by digest.
    new_payloads: Vec<Blob>,
}

impl Layered {
    pub fn new() -> Layered {
        Layered {
            media_type: Some(MEDIA_OCI_MANIFEST.to_string()),
            config_media_type: MEDIA_OCI_CONFIG.to_string(),
            layers: Vec::new(),
            annotations: BTreeMap::new(),
            subject: None,
            new_payloads: Vec::new(),
        }
    }

    pub fn parse(raw: &[u8]) -> Result<Layered, ManifestError> {
        let m: ManifestJson =
            serde_json::from_slice(raw).map_err(|e| ManifestError::Json(e.to_string()))?;
        if m.schema_version != 2 {
            return Err(ManifestError::SchemaVersion(m.schema_version));
        }
        if let Some(mt) = &m.media_type
            && (mt.contains("index") || mt.contains("manifest.list"))
        {
            return Err(ManifestError::MediaType(mt.clone()));
        }
        Ok(Layered {
            media_type: m.media_type,
            config_media_type: m.config.media_type,
            layers: m.layers,
            annotations: m.annotations,
            subject: m.subject,
            new_payloads: Vec::new(),
        })
    }

    /// Append a layer for `payload` unless an identical descriptor exists.
    /// Returns whether it was appended.
    pub fn push(
        &mut self,
        media_type: &str,
        payload: Vec<u8>,
        annotations: BTreeMap<String, String>,
    ) -> bool {
        let blob = Blob::new(media_type, payload);
        let desc = LayerDescriptor {
            media_type: media_type.to_string(),
            size: blob.bytes.len() as u64,
            digest: blob.digest.clone(),
            data: None,
            urls: Vec::new(),
            annotations,
            platform: None,
            artifact_type: None,
        };
        if self.layers.contains(&desc) {
            return false;
        }
        self.layers.push(desc);
        if !self.new_payloads.iter().any(|b| b.digest == blob.digest) {
            self.new_payloads.push(blob);
        }
        true
    }

    /// A payload added in this session (not yet stored), by digest.
    pub fn new_payload(&self, digest: &Digest) -> Option<&[u8]> {
        self.new_payloads
            .iter()
            .find(|b| &b.digest == digest)
            .map(|b| b.bytes.as_slice())
    }

    pub fn write(&self) -> WrittenManifest {
        let config = go_json(&ConfigJson {
            architecture: "",
            created: GO_ZERO_TIME,
            history: self
                .layers
                .iter()
                .map(|_| HistoryJson {
                    created: GO_ZERO_TIME,
                })
                .collect(),
            os: "",
            rootfs: RootFsJson {
                kind: "layers",
                // go-containerregistry appends to a nil slice: no layers
                // marshal as null, not [].
                diff_ids: (!self.layers.is_empty())
                    .then(|| self.layers.iter().map(|l| &l.digest).collect()),
            },
            config: EmptyObject {},
        });
        let config = Blob::new(&self.config_media_type, config);
        let manifest = ManifestJson {
            schema_version: 2,
            media_type: self.media_type.clone(),
            config: ConfigDescriptor {
                media_type: self.config_media_type.clone(),
                size: config.bytes.len() as u64,
                digest: config.digest.clone(),
            },
            layers: self.layers.clone(),
            annotations: self.annotations.clone(),
            subject: self.subject.clone(),
        };
        let bytes = go_json(&manifest);
        let mut blobs = vec![config];
        blobs.extend(
            self.new_payloads
                .iter()
                .filter(|b| self.layers.iter().any(|l| l.digest == b.digest))
                .cloned(),
        );
        WrittenManifest {
            digest: Digest::of(&bytes),
            media_type: self
                .media_type
                .clone()
                .unwrap_or_else(|| MEDIA_OCI_MANIFEST.to_string()),
            bytes,
            blobs,
        }
    }
}

/// Go's `time.Time{}` in JSON: the config's and history's `created`.
const GO_ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// go-containerregistry's `v1.ConfigFile` field order, empty fields omitted
/// as its `omitempty` tags do.
#[derive(Serialize)]
struct ConfigJson<'a> {
    architecture: &'a str,
    created: &'a str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    history: Vec<HistoryJson<'a>>,
    os: &'a str,
    rootfs: RootFsJson<'a>,
    config: EmptyObject,
}

#[derive(Serialize)]
struct HistoryJson<'a> {
    created: &'a str,
}

#[derive(Serialize)]
struct RootFsJson<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    diff_ids: Option<Vec<&'a Digest>>,
}

#[derive(Serialize)]
struct EmptyObject {}

/// JSON as Go's `encoding/json` writes it: compact, with `<`, `>`, `&`,
/// U+2028 and U+2029 escaped. Those characters can only occur inside strings
/// in serde_json's output, so replacing them there is exact.
pub(crate) fn go_json<T: Serialize>(value: &T) -> Vec<u8> {
    let text = serde_json::to_string(value).expect("serializing plain structs cannot fail");
    go_escape(&text).into_bytes()
}

fn go_escape(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_escaping() {
        assert_eq!(
            go_escape(r#"{"a":"<b>&c\u2028"}"#),
            r#"{"a":"\u003cb\u003e\u0026c\u2028"}"#
        );
        assert_eq!(
            String::from_utf8(go_json(&"x\u{2029}")).unwrap(),
            r#""x\u2029""#
        );
    }

    #[test]
    fn empty_and_one_layer_configs_match_go_containerregistry() {
        let mut l = Layered::new();
        let empty = l.write();
        assert_eq!(
            String::from_utf8(empty.blobs[0].bytes.clone()).unwrap(),
            r#"{"architecture":"","created":"0001-01-01T00:00:00Z","os":"","rootfs":{"type":"layers","diff_ids":null},"config":{}}"#
        );
        assert!(l.push("text/plain", b"hi".to_vec(), BTreeMap::new()));
        assert!(!l.push("text/plain", b"hi".to_vec(), BTreeMap::new()));
        let one = l.write();
        let d = Digest::of(b"hi");
        assert_eq!(
            String::from_utf8(one.blobs[0].bytes.clone()).unwrap(),
            format!(
                r#"{{"architecture":"","created":"0001-01-01T00:00:00Z","history":[{{"created":"0001-01-01T00:00:00Z"}}],"os":"","rootfs":{{"type":"layers","diff_ids":["{d}"]}},"config":{{}}}}"#
            )
        );
        assert_eq!(one.blobs.len(), 2);
        let reread = Layered::parse(&one.bytes).unwrap();
        assert_eq!(reread.write().bytes, one.bytes);
        // Payloads read from a stored manifest are not handed back as new blobs.
        assert_eq!(reread.write().blobs.len(), 1);
    }
}
