//! Writing a stored image out as an OCI layout directory: blobs hard-linked
//! from the blob store, and nothing visible at the destination until
//! complete. (Archives, `oci-archive` and `docker-archive` alike, are
//! written by slipway-registry's layout store, the one archive writer, which
//! streams each blob.)

use std::collections::BTreeMap;
use std::path::Path;
use std::str::FromStr;

use serde::Serialize;

use crate::image::ImageSet;
use crate::spec::{Descriptor, Index, MEDIA_INDEX, REF_NAME};
use crate::store::BlobStore;
use crate::{Digest, OciError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// An OCI image layout directory.
    Oci,
    /// The same layout as one tar file.
    OciArchive,
    /// The layout plus `manifest.json`, as `docker save` writes since Docker 25.
    DockerArchive,
}

impl FromStr for Format {
    type Err = OciError;
    fn from_str(s: &str) -> Result<Format, OciError> {
        match s {
            "oci" => Ok(Format::Oci),
            "oci-archive" => Ok(Format::OciArchive),
            "docker-archive" => Ok(Format::DockerArchive),
            _ => Err(OciError::Input(format!(
                "unknown format `{s}`: use oci, oci-archive or docker-archive"
            ))),
        }
    }
}

/// `name[:tag]` for naming the image inside an output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageName {
    pub repository: String,
    pub tag: String,
}

impl FromStr for ImageName {
    type Err = OciError;
    fn from_str(s: &str) -> Result<ImageName, OciError> {
        let bad = || {
            OciError::Input(format!(
                "`{s}` is not an image name: write name:tag, e.g. registry.example.com/team/svc:1.2"
            ))
        };
        // A ':' after the last '/' starts the tag; one before it is a registry port.
        let (repository, tag) = match s.rfind(':') {
            Some(i) if !s[i..].contains('/') => (&s[..i], &s[i + 1..]),
            _ => (s, "latest"),
        };
        let repo_ok = !repository.is_empty()
            && repository.split('/').all(|p| !p.is_empty())
            && repository
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-/:".contains(c));
        let tag_ok = !tag.is_empty()
            && tag.len() <= 128
            && tag
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
            && !tag.starts_with(['.', '-']);
        if !(repo_ok && tag_ok) {
            return Err(bad());
        }
        Ok(ImageName {
            repository: repository.into(),
            tag: tag.into(),
        })
    }
}

impl std::fmt::Display for ImageName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.repository, self.tag)
    }
}

enum Content {
    Bytes(Vec<u8>),
    Blob(Digest),
}

fn blob_path(d: &Digest) -> String {
    format!("blobs/sha256/{}", d.hex())
}

/// The files of the layout, sorted by path.
fn files(
    store: &BlobStore,
    set: &ImageSet,
    name: &ImageName,
) -> Result<BTreeMap<String, Content>, OciError> {
    let mut files = BTreeMap::new();
    files.insert(
        "oci-layout".to_string(),
        Content::Bytes(br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec()),
    );
    let mut top: Descriptor = set.index.clone();
    top.annotations.insert(REF_NAME.into(), name.tag.clone());
    top.annotations
        .insert("io.containerd.image.name".into(), name.to_string());
    let index = Index {
        schema_version: 2,
        media_type: MEDIA_INDEX.into(),
        manifests: vec![top],
        annotations: BTreeMap::new(),
    };
    files.insert("index.json".into(), Content::Bytes(json(&index)?));
    let mut blobs = vec![set.index.digest.clone()];
    for m in &set.manifests {
        blobs.push(m.descriptor.digest.clone());
        blobs.push(m.config.digest.clone());
        blobs.extend(m.layers.iter().map(|l| l.digest.clone()));
    }
    for d in blobs {
        if !store.has(&d, 0) && !store.path(&d).exists() {
            return Err(OciError::Input(format!(
                "blob {d} is missing from the store"
            )));
        }
        files.insert(blob_path(&d), Content::Blob(d));
    }
    Ok(files)
}

fn json<T: Serialize>(value: &T) -> Result<Vec<u8>, OciError> {
    serde_json::to_vec(value).map_err(|e| OciError::Layer(format!("serialising JSON: {e}")))
}

/// Write the image as an OCI layout directory at `dest`, replacing an old
/// layout there only once the new one is complete.
pub fn write(
    store: &BlobStore,
    set: &ImageSet,
    name: &ImageName,
    dest: &Path,
) -> Result<(), OciError> {
    write_dir(store, &files(store, set, name)?, dest)
}

fn write_dir(
    store: &BlobStore,
    files: &BTreeMap<String, Content>,
    dest: &Path,
) -> Result<(), OciError> {
    let err = |what: &str, e| OciError::io(format!("{what} {}", dest.display()), e);
    if dest.exists() {
        let is_layout = dest.join("oci-layout").is_file();
        let is_empty = dest
            .read_dir()
            .map(|mut d| d.next().is_none())
            .unwrap_or(false);
        if !(dest.is_dir() && (is_layout || is_empty)) {
            return Err(OciError::Input(format!(
                "refusing to replace {}: it exists and is not an OCI layout; choose another --out",
                dest.display()
            )));
        }
    }
    let parent = dest
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(|e| err("creating the parent of", e))?;
    let tmp = tempfile::Builder::new()
        .prefix(".slipway-oci-")
        .tempdir_in(parent)
        .map_err(|e| err("preparing", e))?;
    for (path, content) in files {
        let target = tmp.path().join(path);
        if let Some(dir) = target.parent() {
            std::fs::create_dir_all(dir).map_err(|e| err("writing", e))?;
        }
        match content {
            Content::Bytes(b) => std::fs::write(&target, b).map_err(|e| err("writing", e))?,
            // A hard link costs nothing; across file systems, copy.
            Content::Blob(d) => {
                let src = store.path(d);
                if std::fs::hard_link(&src, &target).is_err() {
                    std::fs::copy(&src, &target).map_err(|e| err("writing", e))?;
                }
            }
        }
    }
    // Swap in the complete directory; the old one goes only once the new is in place.
    let old = parent.join(format!(".slipway-old-{}", std::process::id()));
    let had_old = dest.exists();
    if had_old {
        std::fs::rename(dest, &old).map_err(|e| err("moving aside", e))?;
    }
    let tmp_path = tmp.keep();
    if let Err(e) = std::fs::rename(&tmp_path, dest) {
        if had_old {
            let _ = std::fs::rename(&old, dest);
        }
        let _ = std::fs::remove_dir_all(&tmp_path);
        return Err(err("replacing", e));
    }
    if had_old {
        let _ = std::fs::remove_dir_all(&old);
    }
    Ok(())
}
