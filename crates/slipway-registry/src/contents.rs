//! Looking inside an image wherever it is stored: each platform's config and
//! the executable files of its layers, for SBOMs and scans of a reference.

use std::io::Read;
use std::path::Path;

use serde::Deserialize;
use slipway_oci::Digest;

use crate::error::{RegistryError, Result};
use crate::store::{Blob, Children, Quiet, RawManifest, Store};

/// One platform of an image and the ELF files in it.
#[derive(Debug, Clone)]
pub struct PlatformContents {
    /// `linux/arm64`, `linux/arm/v7`, …
    pub platform: String,
    pub manifest: Digest,
    /// ELF files by path in the image (later layers win), sorted by path.
    pub executables: Vec<(String, Vec<u8>)>,
}

#[derive(Deserialize)]
struct ConfigPlatform {
    #[serde(default)]
    architecture: String,
    #[serde(default)]
    os: String,
    #[serde(default)]
    variant: Option<String>,
}

/// The largest file read to see whether it is an executable.
const FILE_LIMIT: u64 = 2 << 30;

/// Every platform of the image `root` names in `store`.
pub fn platforms(store: &dyn Store, root: &RawManifest) -> Result<Vec<PlatformContents>> {
    let manifests = match root.children()? {
        Children::Manifests(children) => children
            .iter()
            .map(|c| store.manifest(&c.digest))
            .collect::<Result<Vec<_>>>()?,
        Children::Blobs(_) => vec![root.clone()],
    };
    let scratch = tempfile::Builder::new()
        .prefix("slipway-read-")
        .tempdir()
        .map_err(|e| RegistryError::io("creating a scratch directory", e))?;
    let mut out = Vec::new();
    for m in manifests {
        let Children::Blobs(blobs) = m.children()? else {
            continue; // nested indexes (attestation lists and the like) hold no platform
        };
        let (config, layers) = blobs
            .split_first()
            .expect("children() puts the config first");
        let config_bytes = read_blob(store, config, scratch.path())?;
        let p: ConfigPlatform = serde_json::from_slice(&config_bytes).map_err(|e| {
            RegistryError::Integrity(format!(
                "config {} is not an image config: {e}",
                config.digest
            ))
        })?;
        if p.os.is_empty() && p.architecture.is_empty() {
            continue; // not a runnable image (a signature or an attestation)
        }
        let mut files: std::collections::BTreeMap<String, Vec<u8>> = Default::default();
        for layer in layers {
            // Streamed from disk: a layer is never held in memory whole.
            let path = store.fetch_blob(layer, scratch.path(), &Quiet)?;
            let f = std::fs::File::open(&path)
                .map_err(|e| RegistryError::io(format!("reading {}", path.display()), e))?;
            read_layer_from(f, layer, &mut files)?;
            if path.starts_with(scratch.path()) {
                let _ = std::fs::remove_file(&path);
            }
        }
        out.push(PlatformContents {
            platform: match &p.variant {
                Some(v) => format!("{}/{}/{v}", p.os, p.architecture),
                None => format!("{}/{}", p.os, p.architecture),
            },
            manifest: m.digest.clone(),
            executables: files.into_iter().collect(),
        });
    }
    Ok(out)
}

fn read_blob(store: &dyn Store, blob: &Blob, scratch: &Path) -> Result<Vec<u8>> {
    let path = store.fetch_blob(blob, scratch, &Quiet)?;
    std::fs::read(&path).map_err(|e| RegistryError::io(format!("reading {}", path.display()), e))
}

/// Add the ELF files of one layer (plain tar, gzip or zstd, as its media
/// type says) to `files`; whiteouts remove.
pub fn read_layer(
    bytes: &[u8],
    layer: &Blob,
    files: &mut std::collections::BTreeMap<String, Vec<u8>>,
) -> Result<()> {
    read_layer_from(bytes, layer, files)
}

/// [`read_layer`] from a reader (a blob file), streaming: only the ELF
/// files found are kept in memory.
pub fn read_layer_from<R: Read>(
    reader: R,
    layer: &Blob,
    files: &mut std::collections::BTreeMap<String, Vec<u8>>,
) -> Result<()> {
    let bad = |e: std::io::Error| {
        RegistryError::Integrity(format!("layer {} is not a readable tar: {e}", layer.digest))
    };
    let buffered = std::io::BufReader::with_capacity(256 << 10, reader);
    let reader = slipway_oci::compression::decoder(&layer.media_type, buffered)
        .map_err(|e| RegistryError::Integrity(format!("layer {}: {e}", layer.digest)))?;
    let mut archive = tar::Archive::new(reader);
    for entry in archive.entries().map_err(bad)? {
        let mut entry = entry.map_err(bad)?;
        let path = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let path = format!("/{}", path.trim_start_matches("./").trim_start_matches('/'));
        let name = path.rsplit('/').next().unwrap_or("");
        if let Some(hidden) = name.strip_prefix(".wh.") {
            let dir = &path[..path.len() - name.len()];
            if hidden == ".wh..opq" {
                // An opaque directory: nothing below it from lower layers.
                files.retain(|p, _| !p.starts_with(dir));
            } else {
                let gone = format!("{dir}{hidden}");
                let below = format!("{gone}/");
                files.retain(|p, _| *p != gone && !p.starts_with(&below));
            }
            continue;
        }
        if !entry.header().entry_type().is_file() {
            continue;
        }
        // The header's size is the archive's word, not a promise: reserve modestly.
        let mut head = Vec::with_capacity(entry.size().min(16 << 20) as usize);
        (&mut entry).take(4).read_to_end(&mut head).map_err(bad)?;
        if !head.starts_with(b"\x7fELF") {
            continue;
        }
        if entry.size() > FILE_LIMIT {
            return Err(RegistryError::Integrity(format!(
                "layer {} holds the executable {path} of {} bytes, more than slipway reads into memory ({FILE_LIMIT})",
                layer.digest,
                entry.size()
            )));
        }
        entry.read_to_end(&mut head).map_err(bad)?;
        files.insert(path, head);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blob() -> Blob {
        typed("application/vnd.oci.image.layer.v1.tar")
    }

    fn typed(media_type: &str) -> Blob {
        Blob {
            media_type: media_type.into(),
            digest: Digest::of(b""),
            size: 0,
        }
    }

    #[test]
    fn elf_files_and_whiteouts() {
        let mut t = slipway_oci::LayerTar::new();
        t.file("/app/svc", 0o755, b"\x7fELF-rest".to_vec()).unwrap();
        t.file("/etc/passwd", 0o644, b"root:x".to_vec()).unwrap();
        t.file("/sbin/old", 0o755, b"\x7fELFold".to_vec()).unwrap();
        let raw = t.to_bytes(0).unwrap();
        let never = std::sync::atomic::AtomicBool::new(false);
        let mut files = Default::default();
        for c in [
            slipway_oci::Compression::gzip(1),
            slipway_oci::Compression::zstd(3),
        ] {
            let (blob, _) = c.compress_and_digest(&raw, 1, &never).unwrap().unwrap();
            files = Default::default();
            read_layer(&blob, &typed(c.media_type()), &mut files).unwrap();
            assert_eq!(files.keys().collect::<Vec<_>>(), ["/app/svc", "/sbin/old"]);
            assert_eq!(files["/app/svc"], b"\x7fELF-rest");
            // The media type decides: a zstd blob labelled gzip is an error.
            let other = match c.algorithm {
                slipway_oci::Algorithm::Gzip => slipway_oci::spec::MEDIA_LAYER_ZSTD,
                slipway_oci::Algorithm::Zstd => slipway_oci::spec::MEDIA_LAYER_GZIP,
            };
            assert!(read_layer(&blob, &typed(other), &mut Default::default()).is_err());
        }
        let e = read_layer(&raw, &typed("application/x-bzip2"), &mut Default::default())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("application/x-bzip2") && e.contains("not one slipway reads"),
            "{e}"
        );
        let mut w = slipway_oci::LayerTar::new();
        w.file("/sbin/.wh.old", 0o644, vec![]).unwrap();
        read_layer(&w.to_bytes(0).unwrap(), &blob(), &mut files).unwrap();
        assert_eq!(files.keys().collect::<Vec<_>>(), ["/app/svc"]);
        // A whited-out directory, and an opaque one, hide what is below them.
        let mut t = slipway_oci::LayerTar::new();
        t.file("/opt/a/x", 0o755, b"\x7fELFx".to_vec()).unwrap();
        t.file("/opt/b/y", 0o755, b"\x7fELFy".to_vec()).unwrap();
        read_layer(&t.to_bytes(0).unwrap(), &blob(), &mut files).unwrap();
        let mut w = slipway_oci::LayerTar::new();
        w.file("/opt/.wh.a", 0o644, vec![]).unwrap();
        w.file("/app/.wh..wh..opq", 0o644, vec![]).unwrap();
        read_layer(&w.to_bytes(0).unwrap(), &blob(), &mut files).unwrap();
        assert_eq!(files.keys().collect::<Vec<_>>(), ["/opt/b/y"]);
    }

    proptest::proptest! {
        #[test]
        fn garbage_layers_are_errors_not_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..2000)) {
            for media_type in [
                slipway_oci::spec::MEDIA_LAYER_GZIP,
                slipway_oci::spec::MEDIA_LAYER_ZSTD,
                "application/vnd.oci.image.layer.v1.tar",
            ] {
                let mut files = Default::default();
                let _ = read_layer(&bytes, &typed(media_type), &mut files);
            }
        }
    }
}
