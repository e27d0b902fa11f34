//! A content-addressed build cache shared by a fleet of runners.
//!
//! Two stores, each in two tiers:
//!
//! - the **CAS** (content-addressed storage) holds blobs under the SHA-256 of
//!   their bytes; whatever a remote returns is hashed and dropped unless it
//!   matches, so a remote can make a blob missing but never wrong;
//! - the **action cache** maps an [`ActionKey`] (the digest of everything a
//!   step depends on) to an [`ActionEntry`] naming the step's outputs in the
//!   CAS. An entry from the remote is checked against its own checksum and
//!   against the key and namespace asked for, and all its outputs are fetched
//!   and verified before it is returned (see [`ActionEntry`] for the scheme).
//!
//! The local tier is a directory (by default `~/.cache/slipway`, beside the
//! build stages); the remote tier is optional: a Bazel remote-cache HTTP
//! server (`http(s)://…`, bazel-remote or nginx with WebDAV `PUT`) or an S3
//! bucket (`s3://bucket/prefix`). A remote only ever costs time, bounded: any
//! fault (refused connection, timeout, 5xx, short or corrupt body) is a miss,
//! and after repeated faults the remote is switched off for the rest of the
//! run ([`remote`] documents the bounds). Nothing a remote does can fail a
//! build or change its bytes.
//!
//! Namespaces (`"go"`, `"zig"`, `"init"`, `"layer"`, …) separate the action
//! keys of different producers and label the [`Stats`] counters; the CAS is
//! shared, since equal bytes are equal whoever made them.

mod config;
mod digest;
mod entry;
mod error;
mod local;
pub mod prog;
pub mod prune;
pub mod remote;
mod stats;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use config::{CacheConfig, RemoteMode, RemoteSpec};
pub use digest::{ActionKey, Sha256};
pub use entry::{ActionEntry, ActionOutput};
pub use error::CacheError;
pub use stats::{RemoteState, Stats, TierStats, human_bytes};

use remote::Remote;

/// The cache a run uses: the local tier, and the remote behind it if configured.
///
/// Cheap to share between threads (`&Cache` is `Sync`); uploads to the remote
/// run on background threads and are finished by [`Cache::flush`] (or drop).
pub struct Cache {
    local: local::Local,
    remote: Option<Arc<Remote>>,
    mode: RemoteMode,
    stats: Arc<stats::Counters>,
    uploads: Option<remote::Uploader>,
}

impl Cache {
    /// Open (creating) the local tier at `config.local_dir` and connect the
    /// remote lazily: nothing is sent before the first lookup.
    pub fn open(config: &CacheConfig) -> Result<Cache, CacheError> {
        let local = local::Local::open(&config.local_dir)?;
        let stats = Arc::new(stats::Counters::default());
        let remote = match &config.remote {
            Some(spec) => Some(Arc::new(Remote::connect(
                spec,
                config.mode,
                config.quiet,
                stats.clone(),
            )?)),
            None => None,
        };
        let uploads = match (&remote, config.mode) {
            (Some(r), RemoteMode::ReadWrite) => Some(remote::Uploader::start(r.clone())),
            _ => None,
        };
        Ok(Cache {
            local,
            remote,
            mode: config.mode,
            stats,
            uploads,
        })
    }

    /// The local tier's root directory.
    pub fn local_dir(&self) -> &Path {
        self.local.root()
    }

    /// A local file holding exactly the blob `digest`, fetched from the remote
    /// (and verified) when the local tier lacks it; `None` on a miss.
    /// The file must not be modified; it stays until `slipway cache prune`
    /// removes it (never within the grace period of [`prune`]).
    pub fn get_blob(&self, ns: &str, digest: &Sha256) -> Result<Option<PathBuf>, CacheError> {
        if let Some(path) = self.local.blob(digest) {
            self.stats.local_hit(ns, file_len(&path));
            return Ok(Some(path));
        }
        self.stats.local_miss(ns);
        let Some(remote) = &self.remote else {
            return Ok(None);
        };
        match remote.fetch_blob(ns, digest, &self.local)? {
            Some(path) => Ok(Some(path)),
            None => Ok(None),
        }
    }

    /// Store `bytes` in the CAS (locally, and on the remote in `readwrite`
    /// mode); returns their digest.
    pub fn put_blob(&self, ns: &str, bytes: &[u8]) -> Result<Sha256, CacheError> {
        let digest = Sha256::of(bytes);
        let written = self.local.put_blob_bytes(&digest, bytes)?;
        self.stats
            .local_put(ns, if written { bytes.len() as u64 } else { 0 });
        self.upload_blob(ns, digest);
        Ok(digest)
    }

    /// Store the file at `path` in the CAS (copied, never moved); returns its digest.
    pub fn put_blob_file(&self, ns: &str, path: &Path) -> Result<Sha256, CacheError> {
        let (digest, written) = self.local.put_blob_file(path)?;
        self.stats.local_put(ns, written);
        self.upload_blob(ns, digest);
        Ok(digest)
    }

    /// The entry stored for `key` in namespace `ns`, with every output
    /// present and verified in the local tier; `None` on a miss.
    pub fn get_action(&self, ns: &str, key: &ActionKey) -> Result<Option<ActionEntry>, CacheError> {
        match self.get_action_local(ns, key)? {
            Some(entry) => Ok(Some(entry)),
            None => self.get_action_remote(ns, key),
        }
    }

    /// [`Cache::get_action`] in the local tier only (no network, so cheap
    /// enough to answer inline); a miss is counted.
    pub fn get_action_local(
        &self,
        ns: &str,
        key: &ActionKey,
    ) -> Result<Option<ActionEntry>, CacheError> {
        check_namespace(ns)?;
        if let Some(entry) = self.local.action(ns, key)
            && entry
                .outputs
                .iter()
                .all(|o| self.local.has_blob(&o.digest, o.size))
        {
            self.stats.local_hit(ns, 0);
            return Ok(Some(entry));
        }
        self.stats.local_miss(ns);
        Ok(None)
    }

    /// Whether a remote tier is configured (lookups may need the network).
    pub fn has_remote(&self) -> bool {
        self.remote.is_some()
    }

    /// The rest of [`Cache::get_action`] after a local miss: the entry
    /// from the remote, its outputs fetched and verified into the local tier.
    pub fn get_action_remote(
        &self,
        ns: &str,
        key: &ActionKey,
    ) -> Result<Option<ActionEntry>, CacheError> {
        check_namespace(ns)?;
        let Some(remote) = &self.remote else {
            return Ok(None);
        };
        let Some(entry) = remote.fetch_action(ns, key)? else {
            return Ok(None);
        };
        for output in &entry.outputs {
            if self.local.has_blob(&output.digest, output.size) {
                continue;
            }
            let fetched = remote.fetch_blob(ns, &output.digest, &self.local)?;
            if fetched.is_none() || !self.local.has_blob(&output.digest, output.size) {
                // An entry whose outputs are gone, corrupt or of another
                // size than it says is no hit.
                self.stats.remote_incomplete(ns);
                return Ok(None);
            }
        }
        self.local.put_action(ns, key, &entry)?;
        Ok(Some(entry))
    }

    /// Record `entry` for `key` in namespace `ns`. Every output must already
    /// be in the CAS ([`Cache::put_blob`]); the entry goes to the remote after
    /// its outputs, so a reader never sees an entry before its blobs.
    pub fn put_action(
        &self,
        ns: &str,
        key: &ActionKey,
        entry: &ActionEntry,
    ) -> Result<(), CacheError> {
        check_namespace(ns)?;
        for output in &entry.outputs {
            if !self.local.has_blob(&output.digest, output.size) {
                return Err(CacheError::MissingOutput {
                    name: output.name.clone(),
                    digest: output.digest.to_hex(),
                });
            }
        }
        self.local.put_action(ns, key, entry)?;
        self.stats.local_put(ns, 0);
        if let Some(up) = &self.uploads {
            let blobs = entry
                .outputs
                .iter()
                .map(|o| (o.digest, self.local.blob_path(&o.digest)))
                .collect();
            up.action(ns, *key, entry.clone(), blobs);
        }
        Ok(())
    }

    /// Whether writes go to the remote (a remote is configured in `readwrite` mode).
    pub fn writes_remote(&self) -> bool {
        self.uploads.is_some()
    }

    /// The remote mode in effect.
    pub fn mode(&self) -> RemoteMode {
        self.mode
    }

    /// Wait for queued uploads to finish (or be dropped after a fault).
    pub fn flush(&self) {
        if let Some(up) = &self.uploads {
            up.flush();
        }
    }

    /// A snapshot of the counters, per tier and namespace.
    pub fn stats(&self) -> Stats {
        self.stats
            .snapshot(self.remote.as_ref().map(|r| r.describe()))
    }

    /// The one warning of this run about the remote, if it had faults
    /// (already printed to stderr unless [`CacheConfig::quiet`]).
    pub fn remote_warning(&self) -> Option<String> {
        self.remote.as_ref().and_then(|r| r.warning())
    }

    fn upload_blob(&self, ns: &str, digest: Sha256) {
        if let Some(up) = &self.uploads {
            up.blob(ns, digest, self.local.blob_path(&digest));
        }
    }
}

impl Drop for Cache {
    fn drop(&mut self) {
        self.flush();
    }
}

/// Namespaces name directories and key prefixes: short, lower-case, plain.
fn check_namespace(ns: &str) -> Result<(), CacheError> {
    let ok = !ns.is_empty()
        && ns.len() <= 32
        && ns
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(CacheError::Namespace(ns.to_string()))
    }
}

fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

/// Hash everything `reader` yields.
pub fn sha256_reader(mut reader: impl Read) -> std::io::Result<(Sha256, u64)> {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut total = 0u64;
    loop {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        total += n as u64;
    }
    Ok((Sha256(h.finalize().into()), total))
}
