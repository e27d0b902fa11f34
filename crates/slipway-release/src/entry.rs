//! One audit log entry: a JSON document signed by the operator's key as a
//! DSSE envelope, stored as an OCI artifact manifest whose `subject` is the
//! image the entry is about, so it sits next to the image in the registry.
//!
//! The entry names the manifest digest of the entry before it (`previous`),
//! and the manifest digest covers the envelope and so the entry: a hash chain.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use slipway_attest::{Envelope, PublicKey, SigningKey};
use slipway_oci::Digest;
use slipway_registry::{Blob, EMPTY_MEDIA_TYPE, RawManifest, RegistryError, Store};

use crate::error::{Error, Result, Tamper};

/// The descriptor an entry names as its subject.
pub fn descriptor(m: &RawManifest) -> Blob {
    Blob {
        media_type: m.media_type.clone(),
        digest: m.digest.clone(),
        size: m.bytes.len() as u64,
    }
}

/// The artifact type of an audit entry manifest, and the DSSE payload type.
pub const ENTRY_TYPE: &str = "application/vnd.slipway.audit.entry.v1+json";
/// The media type of the entry's one layer: a DSSE envelope.
pub const ENVELOPE_TYPE: &str = "application/vnd.dsse.envelope.v1+json";
/// Manifest annotations that let a reader list entries without opening them.
pub const LOG_ANNOTATION: &str = "dev.slipway.audit.log";
pub const ACTION_ANNOTATION: &str = "dev.slipway.audit.action";
pub const SEQUENCE_ANNOTATION: &str = "dev.slipway.audit.sequence";
const CREATED_ANNOTATION: &str = "org.opencontainers.image.created";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// An entry is a few KiB; the verification report is its biggest part.
const ENTRY_LIMIT: u64 = 1 << 20;

/// What an entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    Promote,
    Rollback,
    MarkBad,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Promote => "promote",
            Action::Rollback => "rollback",
            Action::MarkBad => "mark-bad",
        }
    }
}

/// Who wrote an entry: the signing key (as PEM and fingerprint) and the
/// name given with `--operator`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Operator {
    /// `sha256:` of the DER public key, as `slipway keygen` prints it.
    pub key: String,
    /// The public key itself, so a log can be checked for consistency
    /// without knowing the keys in advance (trust still needs `--key`).
    pub public_key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// The signed content of an entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// Always 1 for this format.
    pub version: u32,
    /// The log the entry belongs to: a channel name, or `""` for the
    /// repository's log (mark-bad).
    pub log: String,
    pub action: Action,
    /// Position in the log, from 0.
    pub sequence: u64,
    /// The manifest digest of the entry before this one (`None` for the first).
    pub previous: Option<String>,
    /// The digest the channel held before (promote, rollback).
    pub old: Option<String>,
    /// The digest the channel holds after, or the digest marked bad.
    pub new: String,
    pub operator: Operator,
    /// RFC 3339, UTC, seconds.
    pub time: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// What the policy checked before the move (null for mark-bad).
    #[serde(default)]
    pub verification: serde_json::Value,
    /// The repository written to, for the reader (a copy may live elsewhere).
    pub repository: String,
}

/// An entry ready to store: the manifest and its layer.
pub struct Written {
    pub manifest: RawManifest,
    pub envelope: Vec<u8>,
}

impl Entry {
    /// Sign the entry and wrap it as an artifact manifest about `subject`
    /// (the image's manifest descriptor).
    pub fn seal(&self, key: &SigningKey, subject: &Blob) -> Written {
        let payload = serde_json::to_vec(self).expect("an entry serialises");
        let envelope = Envelope::sign(ENTRY_TYPE, &payload, key).to_json();
        let mut annotations = BTreeMap::new();
        annotations.insert(LOG_ANNOTATION.to_string(), self.log.clone());
        annotations.insert(ACTION_ANNOTATION.to_string(), self.action.as_str().into());
        annotations.insert(SEQUENCE_ANNOTATION.to_string(), self.sequence.to_string());
        annotations.insert(CREATED_ANNOTATION.to_string(), self.time.clone());
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "artifactType": ENTRY_TYPE,
            "config": {
                "mediaType": EMPTY_MEDIA_TYPE,
                "digest": Digest::of(b"{}").to_string(),
                "size": 2,
                "data": "e30=",
            },
            "layers": [{
                "mediaType": ENVELOPE_TYPE,
                "digest": Digest::of(&envelope).to_string(),
                "size": envelope.len(),
            }],
            "subject": {
                "mediaType": subject.media_type,
                "digest": subject.digest.to_string(),
                "size": subject.size,
            },
            "annotations": annotations,
        });
        let bytes = serde_json::to_vec(&manifest).expect("a manifest serialises");
        Written {
            manifest: RawManifest {
                digest: Digest::of(&bytes),
                bytes,
                media_type: OCI_MANIFEST.into(),
            },
            envelope,
        }
    }
}

impl Written {
    /// Upload the envelope and the empty config, so the manifest can be
    /// written under a tag before (or while) it is registered as a referrer.
    pub fn store_blobs(&self, store: &dyn Store) -> Result<()> {
        slipway_registry::put_bytes(store, EMPTY_MEDIA_TYPE, b"{}")?;
        slipway_registry::put_bytes(store, ENVELOPE_TYPE, &self.envelope)?;
        Ok(())
    }

    /// Store the envelope, the empty config and the manifest as a referrer
    /// of its subject (untagged: the log's head tag is moved separately).
    pub fn store(&self, store: &dyn Store) -> Result<()> {
        slipway_registry::put_referrer(
            store,
            &self.manifest.bytes,
            &[(EMPTY_MEDIA_TYPE, b"{}"), (ENVELOPE_TYPE, &self.envelope)],
        )?;
        Ok(())
    }
}

/// An entry read back and checked against its own signature.
#[derive(Debug, Clone)]
pub struct Verified {
    /// The digest of the entry's manifest: what the next entry names.
    pub digest: Digest,
    /// The image the manifest is about.
    pub subject: Blob,
    pub entry: Entry,
    pub signer: PublicKey,
}

#[derive(Deserialize)]
struct EntryManifest {
    #[serde(rename = "artifactType", default)]
    artifact_type: Option<String>,
    layers: Vec<Blob>,
    subject: Option<Blob>,
}

/// Read the entry manifest `digest` from `store` and check it: the envelope
/// is the manifest's layer (digest checked by the store), its signature
/// verifies with the key the entry names, and the subject is the digest the
/// entry is about. `trusted` empty means any self-consistent signer.
pub fn read(
    store: &dyn Store,
    digest: &Digest,
    trusted: &[PublicKey],
    whence: &str,
) -> Result<Verified> {
    let edited = |why: String| Tamper::Edited(format!("entry {digest} ({whence}) {why}"));
    let manifest = store.manifest(digest).map_err(|e| match e {
        RegistryError::Integrity(m) => edited(format!("is altered: {m}")).into(),
        RegistryError::NotFound(m) => Error::from(Tamper::Deleted(format!(
            "entry {digest} ({whence}) is not in {}: {m}",
            store.describe()
        ))),
        other => Error::Registry(other),
    })?;
    let parsed: EntryManifest = serde_json::from_slice(&manifest.bytes)
        .map_err(|e| edited(format!("is not an audit entry manifest: {e}")))?;
    if parsed.artifact_type.as_deref() != Some(ENTRY_TYPE) {
        return Err(edited(format!(
            "is not an audit entry (its artifactType is {:?})",
            parsed.artifact_type
        ))
        .into());
    }
    let [layer] = parsed.layers.as_slice() else {
        return Err(edited("does not hold exactly one envelope".into()).into());
    };
    if layer.size > ENTRY_LIMIT {
        return Err(edited(format!("claims a {}-byte envelope", layer.size)).into());
    }
    let scratch = tempfile::tempdir().map_err(|e| Error::io("creating a scratch directory", e))?;
    let path = store
        .fetch_blob(layer, scratch.path(), &slipway_registry::Quiet)
        .map_err(|e| match e {
            RegistryError::Integrity(m) => edited(format!(
                "has an envelope that does not match its digest: {m}"
            ))
            .into(),
            RegistryError::NotFound(m) => Error::from(Tamper::Deleted(format!(
                "the envelope of entry {digest} ({whence}) is gone: {m}"
            ))),
            other => Error::Registry(other),
        })?;
    let bytes =
        std::fs::read(&path).map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
    let envelope =
        Envelope::parse(&bytes).map_err(|e| edited(format!("has a damaged envelope: {e}")))?;
    if envelope.payload_type != ENTRY_TYPE {
        return Err(edited(format!("has payload type {}", envelope.payload_type)).into());
    }
    let claimed: Entry = serde_json::from_slice(
        &envelope
            .payload_bytes()
            .map_err(|e| edited(format!("has a damaged envelope: {e}")))?,
    )
    .map_err(|e| edited(format!("is not a valid entry: {e}")))?;
    let signer = PublicKey::from_pem(&claimed.operator.public_key)
        .map_err(|e| edited(format!("names an unreadable operator key: {e}")))?;
    if signer.fingerprint().to_string() != claimed.operator.key {
        return Err(edited(format!(
            "names operator key {} but carries the key {}",
            claimed.operator.key,
            signer.fingerprint()
        ))
        .into());
    }
    envelope.verify(&signer).map_err(|e| {
        edited(format!(
            "does not match its signature by {} ({e}): its content was changed after signing",
            claimed.operator.key
        ))
    })?;
    if !trusted.is_empty() && !trusted.contains(&signer) {
        let names: Vec<String> = trusted
            .iter()
            .map(|k| k.fingerprint().to_string())
            .collect();
        return Err(Tamper::WrongSigner(format!(
            "entry {digest} ({whence}, sequence {}) is signed by {}, which is not a trusted operator key (trusted: {})",
            claimed.sequence,
            claimed.operator.key,
            names.join(", ")
        ))
        .into());
    }
    let subject = parsed
        .subject
        .ok_or_else(|| edited("has no subject".into()))?;
    if subject.digest.to_string() != claimed.new {
        return Err(edited(format!(
            "is about {} but records {}",
            subject.digest, claimed.new
        ))
        .into());
    }
    Ok(Verified {
        digest: digest.clone(),
        subject,
        entry: claimed,
        signer,
    })
}

impl From<Tamper> for Error {
    fn from(t: Tamper) -> Error {
        Error::Tampered {
            log: String::new(),
            problem: t,
        }
    }
}
