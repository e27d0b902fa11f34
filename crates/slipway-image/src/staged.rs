//! An image set in slipway's blob store, seen as a [`Store`]: what `slipway
//! push` copies from and what the docker-archive writer reads, so a built
//! image goes to any destination without first being written out as a
//! layout and read back.

use std::path::{Path, PathBuf};

use slipway_oci::{BlobStore, Digest, ImageSet};
use slipway_registry::{Blob, BlobOutcome, Progress, RawManifest, RegistryError, Store};

/// A built image, read-only.
pub struct Staged<'a> {
    store: &'a BlobStore,
    index: Digest,
    tag: String,
    /// `registry.example.com/team/svc`, without the tag.
    name: String,
}

impl<'a> Staged<'a> {
    pub fn new(store: &'a BlobStore, set: &ImageSet, name: &slipway_oci::ImageName) -> Staged<'a> {
        Staged {
            store,
            index: set.index.digest.clone(),
            tag: name.tag.clone(),
            name: name.repository.clone(),
        }
    }

    fn read(&self, digest: &Digest) -> slipway_registry::Result<Vec<u8>> {
        self.store.read(digest).map_err(|e| {
            RegistryError::NotFound(format!("{digest} is not in slipway's blob store: {e}"))
        })
    }
}

impl Store for Staged<'_> {
    fn describe(&self) -> String {
        format!("the built image {}:{}", self.name, self.tag)
    }

    fn root(&self) -> slipway_registry::Result<RawManifest> {
        RawManifest::verify(
            self.read(&self.index)?,
            Some(slipway_oci::spec::MEDIA_INDEX),
            Some(&self.index),
            &self.describe(),
        )
    }

    fn manifest(&self, digest: &Digest) -> slipway_registry::Result<RawManifest> {
        RawManifest::verify(self.read(digest)?, None, Some(digest), &self.describe())
    }

    fn tagged(&self, tag: &str) -> slipway_registry::Result<Option<RawManifest>> {
        match tag == self.tag {
            true => self.root().map(Some),
            false => Ok(None),
        }
    }

    fn has_blob(&self, blob: &Blob) -> slipway_registry::Result<bool> {
        Ok(self.store.has(&blob.digest, blob.size))
    }

    fn has_manifest(&self, digest: &Digest) -> slipway_registry::Result<bool> {
        Ok(self.store.path(digest).is_file())
    }

    fn fetch_blob(
        &self,
        blob: &Blob,
        _scratch: &Path,
        _progress: &dyn Progress,
    ) -> slipway_registry::Result<PathBuf> {
        // Blobs were hashed as they were stored; the size guards against truncation.
        if !self.store.has(&blob.digest, blob.size) {
            return Err(RegistryError::NotFound(format!(
                "blob {} ({} bytes) is not in slipway's blob store",
                blob.digest, blob.size
            )));
        }
        Ok(self.store.path(&blob.digest))
    }

    fn push_blob(
        &self,
        _blob: &Blob,
        _file: &Path,
        _progress: &dyn Progress,
    ) -> slipway_registry::Result<BlobOutcome> {
        Err(RegistryError::Input(format!(
            "{} is read-only",
            self.describe()
        )))
    }

    fn push_manifest(
        &self,
        _manifest: &RawManifest,
        _tag: Option<&str>,
    ) -> slipway_registry::Result<()> {
        Err(RegistryError::Input(format!(
            "{} is read-only",
            self.describe()
        )))
    }

    fn target_tag(&self) -> Option<String> {
        Some(self.tag.clone())
    }

    fn image_name(&self) -> Option<String> {
        Some(self.name.clone())
    }
}
