//! The local tier: blobs in `cas/<2 hex>/<64 hex>`, action entries in
//! `ac/<namespace>/<2 hex>/<64 hex>`, each written whole (temp file, then
//! rename) so a concurrent reader never sees half of one.
//!
//! Nothing is flushed to disk (`fsync`): Go asks for hundreds of entries per
//! build and waits for each put, and two flushes per file cost more than the
//! compile they save. A machine crash can therefore leave a file shorter than
//! written (Linux filesystems expose an empty or short file, never another
//! file's bytes). Readers catch that: an entry carries a checksum of itself
//! (a damaged one is a miss), and a blob counts as present only at the size
//! its entry names, or, read by digest alone, when the caller verifies it
//! (layers are decompressed and hashed). A damaged blob is written again by
//! the next put. Go's own `GOCACHE` makes the same trade (no flush, a size
//! check on read).
//!
//! A hit refreshes the file's modification time (at most every ten minutes), so
//! `slipway cache prune` can remove the least recently used first.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::digest::{ActionKey, Sha256};
use crate::entry::ActionEntry;
use crate::error::CacheError;

const MODE: u32 = 0o644;
const TOUCH_EVERY: Duration = Duration::from_secs(600);

pub(crate) struct Local {
    root: PathBuf,
}

/// How a blob received from elsewhere ended.
pub(crate) enum Received {
    /// Stored; its size.
    Stored(u64),
    /// The bytes hash to something else: not stored.
    Mismatch(Sha256),
    /// The source failed while reading: not stored.
    ReadFailed(std::io::Error),
}

impl Local {
    pub fn open(root: &Path) -> Result<Local, CacheError> {
        for sub in ["cas", "ac"] {
            let dir = root.join(sub);
            std::fs::create_dir_all(&dir).map_err(CacheError::io(&dir))?;
        }
        Ok(Local {
            root: root.to_path_buf(),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn blob_path(&self, d: &Sha256) -> PathBuf {
        let hex = d.to_hex();
        self.root.join("cas").join(&hex[..2]).join(hex)
    }

    fn action_path(&self, ns: &str, key: &ActionKey) -> PathBuf {
        let hex = key.to_hex();
        self.root.join("ac").join(ns).join(&hex[..2]).join(hex)
    }

    /// The blob's path if present (and marks it used).
    pub fn blob(&self, d: &Sha256) -> Option<PathBuf> {
        let path = self.blob_path(d);
        touch(&path).then_some(path)
    }

    /// Whether blob `d` is present with exactly `size` bytes (a short one,
    /// left by a crash, is not).
    pub fn has_blob(&self, d: &Sha256, size: u64) -> bool {
        std::fs::metadata(self.blob_path(d)).is_ok_and(|m| m.is_file() && m.len() == size)
    }

    /// Store `bytes` (whose digest is `d`); false if it was already there.
    pub fn put_blob_bytes(&self, d: &Sha256, bytes: &[u8]) -> Result<bool, CacheError> {
        let path = self.blob_path(d);
        if touch_sized(&path, bytes.len() as u64) {
            return Ok(false);
        }
        let mut staged = slipway_fs::Staged::beside(&path).map_err(CacheError::io(&path))?;
        staged
            .file()
            .write_all(bytes)
            .map_err(CacheError::io(&path))?;
        staged
            .commit_unsynced(MODE)
            .map_err(CacheError::io(&path))?;
        Ok(true)
    }

    /// Copy the file at `from` in; its digest, and the bytes written (0 if present).
    pub fn put_blob_file(&self, from: &Path) -> Result<(Sha256, u64), CacheError> {
        let file = File::open(from).map_err(CacheError::io(from))?;
        let (d, size) = crate::sha256_reader(file).map_err(CacheError::io(from))?;
        let path = self.blob_path(&d);
        if touch_sized(&path, size) {
            return Ok((d, 0));
        }
        // Copy what was hashed: a file changed in between is caught here.
        let mut file = File::open(from).map_err(CacheError::io(from))?;
        match self.receive(&d, &mut file)? {
            Received::Stored(n) => Ok((d, n)),
            Received::Mismatch(_) => Err(CacheError::Io {
                path: from.to_path_buf(),
                source: std::io::Error::other("the file changed while it was being cached"),
            }),
            Received::ReadFailed(e) => Err(CacheError::io(from)(e)),
        }
    }

    /// Stream a blob that should hash to `d` into the store; it appears only
    /// if it does.
    pub fn receive(&self, d: &Sha256, source: &mut dyn Read) -> Result<Received, CacheError> {
        use sha2::Digest;
        let path = self.blob_path(d);
        let mut staged = slipway_fs::Staged::beside(&path).map_err(CacheError::io(&path))?;
        let mut h = sha2::Sha256::new();
        let mut buf = vec![0u8; 1 << 16];
        let mut total = 0u64;
        loop {
            let n = match source.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Ok(Received::ReadFailed(e)),
            };
            h.update(&buf[..n]);
            staged
                .file()
                .write_all(&buf[..n])
                .map_err(CacheError::io(&path))?;
            total += n as u64;
        }
        let got = Sha256(h.finalize().into());
        if got != *d {
            return Ok(Received::Mismatch(got));
        }
        staged
            .commit_unsynced(MODE)
            .map_err(CacheError::io(&path))?;
        Ok(Received::Stored(total))
    }

    /// The entry for `key`, if present and intact (a damaged one is a miss).
    pub fn action(&self, ns: &str, key: &ActionKey) -> Option<ActionEntry> {
        let path = self.action_path(ns, key);
        let bytes = std::fs::read(&path).ok()?;
        let entry = ActionEntry::decode(&bytes, ns, key).ok()?;
        touch(&path);
        Some(entry)
    }

    pub fn put_action(
        &self,
        ns: &str,
        key: &ActionKey,
        entry: &ActionEntry,
    ) -> Result<(), CacheError> {
        let path = self.action_path(ns, key);
        let bytes = entry.encode(ns, key);
        if std::fs::read(&path).ok().as_deref() == Some(&bytes[..]) {
            touch(&path);
            return Ok(());
        }
        let mut staged = slipway_fs::Staged::beside(&path).map_err(CacheError::io(&path))?;
        staged
            .file()
            .write_all(&bytes)
            .map_err(CacheError::io(&path))?;
        staged.commit_unsynced(MODE).map_err(CacheError::io(&path))
    }
}

/// Whether `path` exists as a file; if it does and was last marked long ago,
/// mark it used now (best effort: a read-only cache still works).
fn touch(path: &Path) -> bool {
    touch_if(path, |_| true)
}

/// [`touch`], for a file that must have `size` bytes.
fn touch_sized(path: &Path, size: u64) -> bool {
    touch_if(path, |len| len == size)
}

fn touch_if(path: &Path, ok: impl Fn(u64) -> bool) -> bool {
    let Ok(meta) = std::fs::metadata(path) else {
        return false;
    };
    if !meta.is_file() || !ok(meta.len()) {
        return false;
    }
    let now = SystemTime::now();
    let stale = meta
        .modified()
        .map(|m| now.duration_since(m).unwrap_or_default() > TOUCH_EVERY)
        .unwrap_or(false);
    if stale && let Ok(f) = File::options().append(true).open(path) {
        let _ = f.set_modified(now);
    }
    true
}
