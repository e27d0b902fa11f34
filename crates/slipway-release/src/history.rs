//! Reading a channel's log for `slipway history`, and carrying logs along
//! when an image is copied (so the log survives an air gap).

use std::collections::BTreeSet;

use serde_json::{Value, json};
use slipway_attest::PublicKey;
use slipway_oci::Digest;
use slipway_registry::{Blob, Children, Quiet, RawManifest, Referrer, Store};

use crate::channel::ChannelName;
use crate::entry::{ENTRY_TYPE, LOG_ANNOTATION, Verified};
use crate::error::{Error, Result, Tamper};
use crate::log::{Chain, Log, read_chain};

/// A verified log and what the channel's tag holds now.
pub struct History {
    pub chain: Chain,
    /// `None` when the store has no such tag (a copy that did not carry it).
    pub current: Option<Digest>,
}

/// Read and verify the log of `log`; for a channel also check its tag
/// agrees with the newest entry (when the store has the tag).
pub fn history(store: &dyn Store, log: &Log, trusted: &[PublicKey]) -> Result<History> {
    let chain = read_chain(store, log, trusted)?;
    let current = match log {
        Log::Channel(c) => store.tag_digest(&c.tag())?,
        Log::Repository => None,
    };
    if let (Log::Channel(c), Some(head), Some(cur)) = (log, chain.head(), &current)
        && head.entry.new != cur.to_string()
    {
        return Err(Error::Tampered {
            log: format!("of channel {c} in {}", store.describe()),
            problem: Tamper::Diverged(format!(
                "the tag {} holds {cur} but the newest entry {} (sequence {}) moved it to {}",
                c.tag(),
                head.digest,
                head.entry.sequence,
                head.entry.new
            )),
        });
    }
    Ok(History { chain, current })
}

/// One entry as `history --json` prints it.
pub fn entry_json(v: &Verified) -> Value {
    let e = &v.entry;
    json!({
        "entry": v.digest.to_string(),
        "sequence": e.sequence,
        "action": e.action.as_str(),
        "log": e.log,
        "time": e.time,
        "old": e.old,
        "new": e.new,
        "operator": {"key": e.operator.key, "name": e.operator.name},
        "reason": e.reason,
        "previous": e.previous,
        "verification": e.verification,
        "repository": e.repository,
    })
}

/// The logs that have an entry about `root` (or one of its platforms), as
/// named by the entries' annotations, plus the repository's mark-bad log.
pub fn logs_about(store: &dyn Store, root: &RawManifest) -> Result<Vec<Log>> {
    let mut digests = vec![root.digest.clone()];
    if let Children::Manifests(children) = root.children()? {
        digests.extend(children.into_iter().map(|c| c.digest));
    }
    let mut listed = Vec::new();
    for d in &digests {
        listed.extend(store.referrers(d, Some(ENTRY_TYPE))?);
    }
    Ok(logs_in(&listed))
}

/// [`logs_about`] from referrers already listed (those of the image's own
/// manifests, any artifact type): a copy lists them anyway, so it need not
/// ask the source again.
pub fn logs_in(referrers: &[Referrer]) -> Vec<Log> {
    let mut names = BTreeSet::new();
    for r in referrers {
        if r.artifact_type.as_deref() == Some(ENTRY_TYPE)
            && let Some(n) = r.annotations.get(LOG_ANNOTATION)
        {
            names.insert(n.clone());
        }
    }
    // The mark-bad log goes along whether or not this image is in it: it
    // may name images that crossed the gap before they were marked.
    let mut logs = vec![Log::Repository];
    for n in names.iter().filter(|n| !n.is_empty()) {
        if let Ok(c) = ChannelName::parse(n) {
            logs.push(Log::Channel(c));
        }
    }
    logs
}

/// Copy the logs in `logs` from `src` to `dst`: every entry (verified on the
/// way: a broken log is not carried) as a referrer, then its head tag.
/// Returns how many entries were copied. The caller calls `dst.finish()`.
pub fn copy_logs(src: &dyn Store, dst: &dyn Store, logs: &[Log]) -> Result<usize> {
    let scratch = tempfile::tempdir().map_err(|e| Error::io("creating a scratch directory", e))?;
    let mut copied = 0;
    for log in logs {
        let chain = read_chain(src, log, &[])?;
        let Some(head) = chain.head() else { continue };
        let mut manifests = Vec::new();
        for v in &chain.entries {
            let m = src.manifest(&v.digest)?;
            let blobs: Vec<Blob> = match m.children()? {
                Children::Blobs(b) => b,
                Children::Manifests(_) => Vec::new(),
            };
            for b in &blobs {
                if !dst.has_blob(b)? {
                    let file = src.fetch_blob(b, scratch.path(), &Quiet)?;
                    dst.push_blob(b, &file, &Quiet)?;
                }
            }
            manifests.push(m);
        }
        dst.push_referrers(&manifests)?;
        let head_manifest = src.manifest(&head.digest)?;
        dst.push_manifest(&head_manifest, Some(&log.head_tag()))?;
        copied += manifests.len();
    }
    Ok(copied)
}
