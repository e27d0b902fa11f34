//! A shared tier behind the local layer records: compressed layers fetched
//! from (and offered to) a remote cache, keyed by the uncompressed content
//! (the diff_id) and the compression settings (algorithm, backend version,
//! level), so a runner never compresses a layer another runner already did.
//!
//! Whatever the tier returns is checked before use: the blob is decompressed
//! and must hash to the diff_id asked for, so a wrong or corrupt blob is a
//! miss, never a wrong layer. (A writer could still hand out a *different*
//! valid compression of the same content; the image would then be correct but
//! have another digest, which is why only trusted runners should write.)
//! The check decodes with the one layer decoder, by the layer's media type,
//! so gzip and zstd layers are both checked.
//!
//! One tier per process, set by the command that has a remote cache; without
//! one nothing changes.

use std::io::Read;
use std::sync::{Arc, RwLock};

use crate::Digest;

/// A remote store of compressed layers. `compression` is the layer cache
/// key's compression part, e.g. `gzip-libdeflate-1.26.1-6`. Failures are misses.
pub trait LayerTier: Send + Sync {
    fn get(&self, diff_id: &Digest, compression: &str) -> Option<Vec<u8>>;
    fn put(&self, diff_id: &Digest, compression: &str, blob: &[u8]);
}

static TIER: RwLock<Option<Arc<dyn LayerTier>>> = RwLock::new(None);

/// Use `tier` for every later [`crate::build_layer`] in this process (`None`: no tier).
pub fn set_layer_tier(tier: Option<Arc<dyn LayerTier>>) {
    *TIER.write().unwrap_or_else(|e| e.into_inner()) = tier;
}

fn current() -> Option<Arc<dyn LayerTier>> {
    TIER.read().unwrap_or_else(|e| e.into_inner()).clone()
}

/// The tier's blob for `diff_id`, if it decompresses (as `media_type`) to
/// exactly that content.
pub(crate) fn fetch(diff_id: &Digest, compression: &str, media_type: &str) -> Option<Vec<u8>> {
    let tier = current()?;
    let blob = tier.get(diff_id, compression)?;
    verified(&blob, diff_id, media_type).then_some(blob)
}

/// Offer a freshly compressed layer to the tier.
pub(crate) fn offer(diff_id: &Digest, compression: &str, blob: &[u8]) {
    if let Some(tier) = current() {
        tier.put(diff_id, compression, blob);
    }
}

/// Whether `blob`, a layer of `media_type`, decompresses to content whose
/// SHA-256 is `diff_id`.
fn verified(blob: &[u8], diff_id: &Digest, media_type: &str) -> bool {
    let Ok(mut decoder) = crate::compression::decoder(media_type, blob) else {
        return false;
    };
    let mut raw = Vec::new();
    if decoder.read_to_end(&mut raw).is_err() {
        return false;
    }
    Digest::of(&raw) == *diff_id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_blob_of_the_right_content_passes() {
        use crate::compression::Compression;
        let raw = vec![7u8; 5 << 20];
        let diff_id = Digest::of(&raw);
        let stop = std::sync::atomic::AtomicBool::new(false);
        for c in [Compression::gzip(6), Compression::zstd(3)] {
            let media = c.media_type();
            let (blob, _) = c.compress_and_digest(&raw, 2, &stop).unwrap().unwrap();
            assert!(verified(&blob, &diff_id, media), "{media}");
            let (other, _) = c.compress_and_digest(&raw[1..], 2, &stop).unwrap().unwrap();
            assert!(!verified(&other, &diff_id, media), "{media}");
            let mut cut = blob.clone();
            cut.truncate(blob.len() / 2);
            assert!(!verified(&cut, &diff_id, media), "{media}");
            assert!(
                !verified(
                    &blob,
                    &diff_id,
                    "application/vnd.oci.image.layer.v1.tar+lz4"
                ),
                "an unknown media type is a miss"
            );
        }
    }
}
