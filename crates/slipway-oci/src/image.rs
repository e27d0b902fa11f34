//! Assembling images: layers → config → manifest per platform → one index.
//! Every document is stored in the blob store as the exact bytes its digest names.

use std::collections::BTreeMap;
use std::path::Path;

use std::sync::atomic::{AtomicBool, Ordering};

use crate::gzip::gzip_and_digest;
use crate::spec::*;
use crate::store::{BlobStore, write_atomic};
use crate::tar::LayerTar;
use crate::{Digest, OciError};

/// A compressed layer in the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layer {
    /// Digest of the uncompressed tar: the layer's stable identity.
    pub diff_id: Digest,
    /// Digest and size of the gzip blob.
    pub digest: Digest,
    pub size: u64,
    /// What made it, for the config's history.
    pub created_by: String,
}

/// How layers are compressed; part of the layer cache key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GzipSettings {
    pub level: u32,
    pub threads: usize,
}

impl GzipSettings {
    fn cache_key(&self) -> String {
        // The thread count does not change the bytes, so it is not in the key.
        format!("gzip-libdeflate-{}", self.level)
    }
}

/// Tar, hash and compress a layer, or find it already compressed: a layer is
/// compressed once per (diff_id, settings), remembered under `cache_dir`.
/// The flag says whether a cached compression was reused.
pub fn build_layer(
    store: &BlobStore,
    cache_dir: &Path,
    tar: &LayerTar,
    mtime: u64,
    gz: GzipSettings,
    created_by: &str,
) -> Result<(Layer, bool), OciError> {
    let raw = tar.to_bytes(mtime)?;
    let cached = |diff_id: &Digest| -> Option<(Digest, u64)> {
        let key = cache_dir.join(format!("{}.{}", diff_id.hex(), gz.cache_key()));
        let (digest, size) = parse_key(&std::fs::read_to_string(key).ok()?)?;
        store.has(&digest, size).then_some((digest, size))
    };
    // The diff_id (needed to look the layer up) is hashed while compression
    // already runs on the other threads; a cache hit cancels the compression.
    let cancel = AtomicBool::new(false);
    let (diff_id, hit, compressed) = std::thread::scope(|scope| {
        let lookup = scope.spawn(|| {
            let diff_id = Digest::of(&raw);
            let hit = cached(&diff_id);
            if hit.is_some() {
                cancel.store(true, Ordering::Relaxed);
            }
            (diff_id, hit)
        });
        let compressed = gzip_and_digest(&raw, gz.level, gz.threads, &cancel);
        let (diff_id, hit) = lookup
            .join()
            .map_err(|_| OciError::Layer("a hashing thread panicked".into()))?;
        Ok::<_, OciError>((diff_id, hit, compressed))
    })?;
    let layer = |digest, size| Layer {
        diff_id: diff_id.clone(),
        digest,
        size,
        created_by: created_by.to_string(),
    };
    if let Some((digest, size)) = hit {
        return Ok((layer(digest, size), true));
    }
    let (blob, digest) = compressed?
        .ok_or_else(|| OciError::Layer("compression stopped without a cache hit".into()))?;
    store.put_known(&digest, &blob)?;
    let key = cache_dir.join(format!("{}.{}", diff_id.hex(), gz.cache_key()));
    write_atomic(&key, format!("{digest} {}", blob.len()).as_bytes())?;
    Ok((layer(digest, blob.len() as u64), false))
}

fn parse_key(text: &str) -> Option<(Digest, u64)> {
    let (digest, size) = text.trim().split_once(' ')?;
    Some((Digest::parse(digest)?, size.parse().ok()?))
}

/// One platform's image before it is stored.
#[derive(Debug, Clone)]
pub struct PlatformImage {
    pub platform: Platform,
    pub layers: Vec<Layer>,
    pub config: RuntimeConfig,
    pub annotations: BTreeMap<String, String>,
}

/// A stored multi-platform image.
#[derive(Debug, Clone)]
pub struct ImageSet {
    /// The image index (its own blob).
    pub index: Descriptor,
    pub manifests: Vec<StoredManifest>,
}

#[derive(Debug, Clone)]
pub struct StoredManifest {
    pub descriptor: Descriptor,
    pub config: Descriptor,
    pub layers: Vec<Layer>,
}

impl StoredManifest {
    /// Compressed bytes this platform adds: layers, config and manifest.
    pub fn total_size(&self) -> u64 {
        self.layers.iter().map(|l| l.size).sum::<u64>() + self.config.size + self.descriptor.size
    }
}

fn descriptor(media_type: &str, digest: Digest, size: u64) -> Descriptor {
    Descriptor {
        media_type: media_type.into(),
        digest,
        size,
        platform: None,
        annotations: BTreeMap::new(),
    }
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, OciError> {
    serde_json::to_vec(value).map_err(|e| OciError::Layer(format!("serialising JSON: {e}")))
}

/// Store each platform's config and manifest and one index over them all.
pub fn assemble(
    store: &BlobStore,
    created: &str,
    images: Vec<PlatformImage>,
    index_annotations: BTreeMap<String, String>,
) -> Result<ImageSet, OciError> {
    let mut seen = std::collections::HashSet::new();
    let mut manifests = Vec::new();
    for image in images {
        if !seen.insert(image.platform.clone()) {
            return Err(OciError::Layer(format!(
                "two images map to the OCI platform {}; one index cannot hold both",
                image.platform
            )));
        }
        let config = ImageConfig {
            created: created.to_string(),
            architecture: image.platform.architecture.clone(),
            variant: image.platform.variant.clone(),
            os: image.platform.os.clone(),
            config: image.config.clone(),
            rootfs: RootFs {
                kind: "layers".into(),
                diff_ids: image.layers.iter().map(|l| l.diff_id.clone()).collect(),
            },
            history: image
                .layers
                .iter()
                .map(|l| History {
                    created: created.to_string(),
                    created_by: l.created_by.clone(),
                    comment: None,
                })
                .collect(),
        };
        let config_bytes = to_json(&config)?;
        let config_desc = descriptor(
            MEDIA_CONFIG,
            store.put(&config_bytes)?,
            config_bytes.len() as u64,
        );
        let manifest = Manifest {
            schema_version: 2,
            media_type: MEDIA_MANIFEST.into(),
            config: config_desc.clone(),
            layers: image
                .layers
                .iter()
                .map(|l| descriptor(MEDIA_LAYER_GZIP, l.digest.clone(), l.size))
                .collect(),
            annotations: image.annotations.clone(),
        };
        let manifest_bytes = to_json(&manifest)?;
        let mut desc = descriptor(
            MEDIA_MANIFEST,
            store.put(&manifest_bytes)?,
            manifest_bytes.len() as u64,
        );
        desc.platform = Some(image.platform.clone());
        manifests.push(StoredManifest {
            descriptor: desc,
            config: config_desc,
            layers: image.layers,
        });
    }
    let index = Index {
        schema_version: 2,
        media_type: MEDIA_INDEX.into(),
        manifests: manifests.iter().map(|m| m.descriptor.clone()).collect(),
        annotations: index_annotations,
    };
    let index_bytes = to_json(&index)?;
    let index_desc = descriptor(
        MEDIA_INDEX,
        store.put(&index_bytes)?,
        index_bytes.len() as u64,
    );
    Ok(ImageSet {
        index: index_desc,
        manifests,
    })
}
