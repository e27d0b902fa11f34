//! Small multi-platform OCI layouts to push in registry tests, written
//! directly (no slipway code involved, so a bug in slipway-oci cannot hide a
//! bug in the client under test). Layers are real gzipped tars holding seeded
//! pseudo-random bytes (incompressible, so sizes stay near `layer_bytes`): same arguments, same digests.

use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// What [`write_test_layout`] wrote.
#[derive(Debug, Clone)]
pub struct TestImage {
    pub dir: PathBuf,
    pub tag: String,
    /// Digest of the image index that `index.json` tags.
    pub index_digest: String,
    /// Per platform: (`os/arch`, manifest digest).
    pub manifests: Vec<(String, String)>,
    /// Every config and layer blob: (digest, size). Manifests not included.
    pub blobs: Vec<(String, u64)>,
}

impl TestImage {
    /// `oci:DIR:TAG`, for skopeo.
    pub fn skopeo_ref(&self) -> String {
        format!("oci:{}:{}", self.dir.display(), self.tag)
    }

    /// Sum of the config and layer sizes.
    pub fn blob_bytes(&self) -> u64 {
        self.blobs.iter().map(|(_, s)| s).sum()
    }
}

fn sha256(data: &[u8]) -> String {
    let d = Sha256::digest(data);
    let hex = base16ct::lower::encode_string(&d);
    format!("sha256:{hex}")
}

fn put(dir: &Path, data: &[u8]) -> (String, u64) {
    let digest = sha256(data);
    let path = dir.join("blobs/sha256").join(&digest["sha256:".len()..]);
    std::fs::write(path, data).unwrap();
    (digest, data.len() as u64)
}

fn noise(len: usize, mut seed: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        seed = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = seed;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        out.extend((z ^ (z >> 31)).to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Write an OCI layout at `dir` holding one image index tagged `tag`, with
/// one manifest per `platforms` entry (`"linux/amd64"`, `"linux/arm64"`...),
/// each with a config and one layer of about `layer_bytes` bytes.
pub fn write_test_layout(
    dir: &Path,
    tag: &str,
    platforms: &[&str],
    layer_bytes: usize,
    seed: u64,
) -> TestImage {
    std::fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let mut blobs = Vec::new();
    let mut manifests = Vec::new();
    let mut entries = Vec::new();
    for (i, platform) in platforms.iter().enumerate() {
        let (os, arch) = platform.split_once('/').expect("platform as os/arch");
        let mut tar = tar::Builder::new(Vec::new());
        let data = noise(layer_bytes, seed.wrapping_mul(31).wrapping_add(i as u64));
        let mut h = tar::Header::new_ustar();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(0);
        h.set_cksum();
        tar.append_data(&mut h, format!("data-{arch}.bin"), data.as_slice())
            .unwrap();
        let tar = tar.into_inner().unwrap();
        let diff_id = sha256(&tar);
        // gzip, as registries expect (skopeo would compress a plain tar on
        // push and so change the manifests).
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
        gz.write_all(&tar).unwrap();
        let layer = gz.finish().unwrap();
        let (ldig, lsize) = put(dir, &layer);
        let config = serde_json::json!({
            "architecture": arch, "os": os,
            "config": {"Env": ["PATH=/"]},
            "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        })
        .to_string();
        let (cdig, csize) = put(dir, config.as_bytes());
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cdig, "size": csize},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": ldig, "size": lsize}],
        })
        .to_string();
        let (mdig, msize) = put(dir, manifest.as_bytes());
        blobs.push((cdig, csize));
        blobs.push((ldig, lsize));
        entries.push(serde_json::json!({
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": mdig, "size": msize,
            "platform": {"architecture": arch, "os": os},
        }));
        manifests.push((platform.to_string(), mdig));
    }
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": entries,
    })
    .to_string();
    let (idig, isize) = put(dir, index.as_bytes());
    let top = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "digest": idig, "size": isize,
            "annotations": {"org.opencontainers.image.ref.name": tag},
        }],
    });
    std::fs::write(dir.join("index.json"), top.to_string()).unwrap();
    TestImage {
        dir: dir.to_path_buf(),
        tag: tag.to_string(),
        index_digest: idig,
        manifests,
        blobs,
    }
}
