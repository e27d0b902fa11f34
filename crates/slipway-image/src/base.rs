//! Base images: `[image] base = "REF"`. The base's platform manifest for
//! each target is picked (with platform normalisation), its layers are
//! copied once into slipway's blob store (cached by digest), and the image
//! records which base it was built on by name and digest.

use std::path::Path;

use serde::Serialize;
use slipway_oci::spec::Platform as OciPlatform;
use slipway_oci::{BlobStore, Digest, Layer};
use slipway_registry::{Quiet, Store};

use crate::ImageError;
use crate::source::{self, SourceImage, normalise};

/// Annotation keys the image-spec defines for the base an image was built on.
pub const BASE_NAME: &str = "org.opencontainers.image.base.name";
pub const BASE_DIGEST: &str = "org.opencontainers.image.base.digest";

/// An opened base image: every runnable platform of it.
pub struct Base<'s> {
    /// The reference as the user wrote it (recorded in the image).
    pub name: String,
    /// Digest of what the reference names (an index or a manifest).
    pub digest: Digest,
    store: &'s dyn Store,
    images: Vec<SourceImage>,
    scratch: tempfile::TempDir,
}

/// What `--json` says about the base.
#[derive(Debug, Clone, Serialize)]
pub struct BaseReport {
    pub name: String,
    pub digest: String,
    /// Per target platform: the base manifest used.
    pub manifests: Vec<(String, String)>,
}

/// Open the base `name` in `store`: read its index, manifests and configs.
pub fn open<'s>(store: &'s dyn Store, name: &str) -> Result<Base<'s>, ImageError> {
    let scratch = tempfile::Builder::new()
        .prefix("slipway-base-")
        .tempdir()
        .map_err(|e| ImageError::Io {
            what: "creating a scratch directory".into(),
            source: e,
        })?;
    let root = store.root()?;
    let images = source::platforms(store, &root, scratch.path())?;
    if images.is_empty() {
        return Err(ImageError::Input(format!(
            "base = \"{name}\": {} holds no runnable image (no platform with an OS)",
            store.describe()
        )));
    }
    Ok(Base {
        name: name.to_string(),
        digest: root.digest,
        store,
        images,
        scratch,
    })
}

impl Base<'_> {
    /// The base's image for `platform`, normalised as docs/image.md says.
    pub fn image_for(&self, platform: &OciPlatform) -> Result<&SourceImage, ImageError> {
        let want = normalise(platform);
        self.images
            .iter()
            .find(|i| normalise(&i.platform) == want)
            .ok_or_else(|| {
                let has: Vec<String> = self.images.iter().map(|i| i.platform.to_string()).collect();
                ImageError::Input(format!(
                    "base = \"{}\" has no {want} image (it has {}): choose a base with every \
                     platform you build, or drop {want} from the platforms",
                    self.name,
                    has.join(", ")
                ))
            })
    }

    /// Refuse, before anything is built, when a target has no base image.
    pub fn check_platforms(&self, platforms: &[OciPlatform]) -> Result<(), ImageError> {
        for p in platforms {
            self.image_for(p)?;
        }
        Ok(())
    }

    /// Copy the base's layers for `image` into `store` (once per digest) and
    /// return them as layers of the new image, with their uncompressed tars.
    pub fn import(
        &self,
        image: &SourceImage,
        store: &BlobStore,
    ) -> Result<(Vec<Layer>, Vec<Vec<u8>>), ImageError> {
        let mut layers = Vec::new();
        let mut tars = Vec::new();
        for (i, (blob, diff_id)) in image.layers.iter().enumerate() {
            let fresh = !store.has(&blob.digest, blob.size);
            if fresh {
                // fetch_blob verifies the digest; the store then holds it by digest.
                let path = self.store.fetch_blob(blob, self.scratch.path(), &Quiet)?;
                let bytes = read(&path)?;
                store.put_known(&blob.digest, &bytes)?;
            }
            let bytes = store.read(&blob.digest)?;
            let tar = source::uncompress(bytes, blob)?;
            if fresh && Digest::of(&tar) != *diff_id {
                return Err(ImageError::Input(format!(
                    "base = \"{}\": layer {i} uncompresses to {}, not the diff_id {diff_id} its \
                     config names; the base is corrupt",
                    self.name,
                    Digest::of(&tar)
                )));
            }
            layers.push(Layer {
                diff_id: diff_id.clone(),
                digest: blob.digest.clone(),
                size: blob.size,
                media_type: blob.media_type.clone(),
                created_by: format!("base {}: {}", self.name, image.layer_name(i)),
            });
            tars.push(tar);
        }
        Ok((layers, tars))
    }
}

fn read(path: &Path) -> Result<Vec<u8>, ImageError> {
    std::fs::read(path).map_err(|e| ImageError::Io {
        what: format!("reading {}", path.display()),
        source: e,
    })
}
