//! A content-addressed blob store on disk: each blob is written once, through
//! a temporary file and a rename, under `sha256/<hex>`.

use std::path::{Path, PathBuf};

use crate::{Digest, OciError};

#[derive(Debug, Clone)]
pub struct BlobStore {
    root: PathBuf,
}

impl BlobStore {
    pub fn new(root: impl Into<PathBuf>) -> BlobStore {
        BlobStore { root: root.into() }
    }

    pub fn path(&self, digest: &Digest) -> PathBuf {
        self.root.join("sha256").join(digest.hex())
    }

    /// Store bytes; returns their digest. Existing blobs are not rewritten.
    pub fn put(&self, data: &[u8]) -> Result<Digest, OciError> {
        let digest = Digest::of(data);
        self.put_known(&digest, data)?;
        Ok(digest)
    }

    /// Store bytes whose digest the caller already computed while producing them.
    pub fn put_known(&self, digest: &Digest, data: &[u8]) -> Result<(), OciError> {
        let path = self.path(digest);
        if std::fs::metadata(&path)
            .map(|m| m.len() == data.len() as u64)
            .unwrap_or(false)
        {
            return Ok(());
        }
        write_atomic(&path, data)
    }

    pub fn read(&self, digest: &Digest) -> Result<Vec<u8>, OciError> {
        std::fs::read(self.path(digest))
            .map_err(|e| OciError::io(format!("reading blob {digest}"), e))
    }

    /// Whether a blob of this size is stored.
    pub fn has(&self, digest: &Digest, size: u64) -> bool {
        std::fs::metadata(self.path(digest))
            .map(|m| m.len() == size)
            .unwrap_or(false)
    }
}

/// Write through a temporary file in the same directory and rename; blobs
/// are content, readable by everyone whatever the umask.
pub fn write_atomic(path: &Path, data: &[u8]) -> Result<(), OciError> {
    slipway_fs::write_atomic(path, data, 0o644)
        .map_err(|e| OciError::io(format!("writing {}", path.display()), e))
}
