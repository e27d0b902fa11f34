//! Assembling images: layers → config → manifest per platform → one index.
//! Every document is stored in the blob store as the exact bytes its digest names.

use std::collections::BTreeMap;
use std::path::Path;

use std::sync::atomic::{AtomicBool, Ordering};

use crate::spec::*;
use crate::store::{BlobStore, write_atomic};
use crate::tar::LayerTar;
use crate::{Compression, Digest, OciError};

/// A compressed layer in the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layer {
    /// Digest of the uncompressed tar: the layer's stable identity.
    pub diff_id: Digest,
    /// Digest and size of the compressed blob.
    pub digest: Digest,
    pub size: u64,
    /// The blob's media type (`…tar+gzip`, `…tar+zstd`; a base image's
    /// layer keeps the one it came with).
    pub media_type: String,
    /// What made it, for the config's history.
    pub created_by: String,
}

/// How layers are compressed: the compression is part of the layer cache
/// key; the thread count (gzip only) does not change the bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompressionSettings {
    pub compression: Compression,
    pub threads: usize,
}

impl CompressionSettings {
    /// The compression part of a layer's cache key: algorithm, library
    /// version and level (the thread count does not change the bytes).
    pub fn cache_key(&self) -> String {
        self.compression.cache_key()
    }
}

/// Tar, hash and compress a layer, or find it already compressed: a layer is
/// compressed once per (diff_id, settings), remembered under `cache_dir`.
/// The flag says whether a cached compression was reused.
///
/// Two records are kept per layer. One is keyed by a 128-bit xxh3 of the tar
/// (about 20 GB/s here), so a rebuild with nothing changed does not start the
/// speculative compression below. The other is keyed by the diff_id itself.
/// Both hold the layer's SHA-256 digests, which is all anything downstream
/// uses; a hit counts only when the tar's SHA-256 is the recorded diff_id, so
/// an xxh3 collision or an edited record is a miss, never a wrong layer.
pub fn build_layer(
    store: &BlobStore,
    cache_dir: &Path,
    tar: &LayerTar,
    mtime: u64,
    gz: CompressionSettings,
    created_by: &str,
) -> Result<(Layer, bool), OciError> {
    let raw = tar.to_bytes(mtime)?;
    let fast_key = cache_dir.join(format!(
        "xxh3-{:032x}.{}",
        xxhash_rust::xxh3::xxh3_128(&raw),
        gz.cache_key()
    ));
    let stored = |(diff_id, digest, size): (Digest, Digest, u64)| {
        store.has(&digest, size).then(|| Layer {
            diff_id,
            digest,
            size,
            media_type: gz.compression.media_type().to_string(),
            created_by: created_by.to_string(),
        })
    };
    if let Some(layer) = read_record(&fast_key).and_then(stored)
        && layer.diff_id == Digest::of(&raw)
    {
        return Ok((layer, true));
    }
    let diff_key =
        |diff_id: &Digest| cache_dir.join(format!("{}.{}", diff_id.hex(), gz.cache_key()));

    // The diff_id (needed to look the layer up) is hashed while compression
    // already runs on the other threads; a cache hit cancels the compression.
    // A layer neither here nor in the shared tier (if any) is compressed.
    let cancel = AtomicBool::new(false);
    let (found, diff_id, fetched, compressed) = std::thread::scope(|scope| {
        let lookup = scope.spawn(|| {
            let diff_id = Digest::of(&raw);
            let found = read_record(&diff_key(&diff_id))
                .and_then(stored)
                .filter(|layer| layer.diff_id == diff_id);
            let fetched = match found {
                Some(_) => None,
                None => crate::tier::fetch(&diff_id, &gz.cache_key(), gz.compression.media_type()),
            };
            if found.is_some() || fetched.is_some() {
                cancel.store(true, Ordering::Relaxed);
            }
            (found, diff_id, fetched)
        });
        let compressed = gz
            .compression
            .compress_and_digest(&raw, gz.threads, &cancel);
        let (found, diff_id, fetched) = lookup
            .join()
            .map_err(|_| OciError::Layer("a hashing thread panicked".into()))?;
        Ok::<_, OciError>((found, diff_id, fetched, compressed))
    })?;
    let (layer, reused) = match (found, fetched) {
        (Some(layer), _) => (layer, true),
        (None, Some(blob)) => {
            let digest = Digest::of(&blob);
            store.put_known(&digest, &blob)?;
            let layer = Layer {
                diff_id,
                digest,
                size: blob.len() as u64,
                media_type: gz.compression.media_type().to_string(),
                created_by: created_by.to_string(),
            };
            write_record(&diff_key(&layer.diff_id), &layer)?;
            (layer, true)
        }
        (None, None) => {
            let (blob, digest) = compressed?
                .ok_or_else(|| OciError::Layer("compression stopped without a cache hit".into()))?;
            store.put_known(&digest, &blob)?;
            let layer = Layer {
                diff_id,
                digest,
                size: blob.len() as u64,
                media_type: gz.compression.media_type().to_string(),
                created_by: created_by.to_string(),
            };
            write_record(&diff_key(&layer.diff_id), &layer)?;
            crate::tier::offer(&layer.diff_id, &gz.cache_key(), &blob);
            (layer, false)
        }
    };
    write_record(&fast_key, &layer)?;
    Ok((layer, reused))
}

/// A cache record: `diff_id digest size`.
fn read_record(path: &Path) -> Option<(Digest, Digest, u64)> {
    let text = std::fs::read_to_string(path).ok()?;
    let mut parts = text.split_whitespace();
    let diff_id = Digest::parse(parts.next()?)?;
    let digest = Digest::parse(parts.next()?)?;
    let size = parts.next()?.parse().ok()?;
    Some((diff_id, digest, size))
}

fn write_record(path: &Path, layer: &Layer) -> Result<(), OciError> {
    write_atomic(
        path,
        format!("{} {} {}", layer.diff_id, layer.digest, layer.size).as_bytes(),
    )
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
                .map(|l| descriptor(&l.media_type, l.digest.clone(), l.size))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_are_compressed_once_per_content() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::new(dir.path().join("blobs"));
        let cache = dir.path().join("layers");
        let gz = CompressionSettings {
            compression: Compression::gzip(6),
            threads: 2,
        };
        let mut tar = LayerTar::new();
        tar.file("app/x", 0o555, vec![7; 3 << 20]).unwrap();

        let (cold, reused) = build_layer(&store, &cache, &tar, 0, gz, "t").unwrap();
        assert!(!reused);
        assert!(store.has(&cold.digest, cold.size));
        let (warm, reused) = build_layer(&store, &cache, &tar, 0, gz, "t").unwrap();
        assert!(reused);
        assert_eq!(warm, cold);

        // Without the fast record, the diff_id record still finds it.
        for entry in std::fs::read_dir(&cache).unwrap() {
            let path = entry.unwrap().path();
            if path
                .file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("xxh3-")
            {
                std::fs::remove_file(path).unwrap();
            }
        }
        let (again, reused) = build_layer(&store, &cache, &tar, 0, gz, "t").unwrap();
        assert!(reused);
        assert_eq!(again, cold);

        // A record that names another diff_id (an xxh3 collision, an edited
        // file) is not a hit: the layer is compressed again, correctly.
        let other = Digest::of(b"another tar");
        for entry in std::fs::read_dir(&cache).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            std::fs::write(
                &path,
                text.replace(&cold.diff_id.to_string(), &other.to_string()),
            )
            .unwrap();
        }
        let (checked, reused) = build_layer(&store, &cache, &tar, 0, gz, "t").unwrap();
        assert!(!reused, "a record with the wrong diff_id was trusted");
        assert_eq!(checked, cold);
        let (warm, reused) = build_layer(&store, &cache, &tar, 0, gz, "t").unwrap();
        assert!(reused && warm == cold);

        // The key names the backend and its version.
        assert!(std::fs::read_dir(&cache).unwrap().all(|e| {
            e.unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(&format!("gzip-{}-6", crate::gzip::BACKEND))
        }),);

        // Another mtime is another tar, so another layer; a lost blob is rebuilt.
        let (other, reused) = build_layer(&store, &cache, &tar, 1, gz, "t").unwrap();
        assert!(!reused);
        assert_ne!(other.diff_id, cold.diff_id);
        std::fs::remove_file(store.path(&cold.digest)).unwrap();
        let (rebuilt, reused) = build_layer(&store, &cache, &tar, 0, gz, "t").unwrap();
        assert!(!reused);
        assert_eq!(rebuilt, cold);
    }

    #[test]
    fn the_cache_keys_on_algorithm_and_level() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::new(dir.path().join("blobs"));
        let cache = dir.path().join("layers");
        let mut tar = LayerTar::new();
        tar.file("app/x", 0o555, b"some app bytes ".repeat(5000))
            .unwrap();
        let with = |compression| CompressionSettings {
            compression,
            threads: 1,
        };
        let (gz, _) =
            build_layer(&store, &cache, &tar, 0, with(Compression::gzip(6)), "t").unwrap();
        let (z19, reused) =
            build_layer(&store, &cache, &tar, 0, with(Compression::zstd(19)), "t").unwrap();
        assert!(!reused, "a gzip layer was taken for a zstd one");
        assert_eq!(z19.diff_id, gz.diff_id);
        assert_ne!(z19.digest, gz.digest);
        assert_eq!(z19.media_type, crate::spec::MEDIA_LAYER_ZSTD);
        assert_eq!(gz.media_type, crate::spec::MEDIA_LAYER_GZIP);
        let (z3, reused) =
            build_layer(&store, &cache, &tar, 0, with(Compression::zstd(3)), "t").unwrap();
        assert!(!reused, "a level-19 layer was taken for a level-3 one");
        assert_ne!(z3.digest, z19.digest);
        let (again, reused) =
            build_layer(&store, &cache, &tar, 0, with(Compression::zstd(19)), "t").unwrap();
        assert!(reused);
        assert_eq!(again, z19);
        // The stored blob is zstd and uncompresses to the tar.
        let mut out = Vec::new();
        std::io::Read::read_to_end(
            &mut crate::compression::decoder(
                &z19.media_type,
                store.read(&z19.digest).unwrap().as_slice(),
            )
            .unwrap(),
            &mut out,
        )
        .unwrap();
        assert_eq!(Digest::of(&out), z19.diff_id);
    }
}
