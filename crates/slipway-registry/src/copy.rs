//! Copy an image, every platform of it and what is attached to it, from any
//! [`Store`] to any other. Blobs first (in parallel), then manifests children
//! before parents, and the tag last: a failure before the end leaves the
//! destination's tag where it was.

use std::collections::HashSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::Serialize;
use slipway_oci::Digest;

use crate::error::{RegistryError, Result};
use crate::store::{Blob, BlobOutcome, Children, Progress, RawManifest, Store};

#[derive(Debug, Clone)]
pub struct CopyOptions {
    /// The tag to write at the destination (the root is pushed by digest when `None`).
    pub tag: Option<String>,
    /// Refuse to move an existing tag to another digest.
    pub immutable: bool,
    /// Also copy `sha256-<hex>.sig/.att/.sbom` tags of the copied manifests.
    pub attachments: bool,
    /// Which OCI 1.1 referrers to carry (recursively: referrers of referrers
    /// too), of the root and of every platform manifest.
    pub referrers: ReferrerSelection,
    /// Combines a `.sig`/`.att`/`.sbom` manifest the destination already has
    /// with the arriving one, so signatures only the destination had survive.
    /// Without it, the arriving manifest replaces the destination's.
    pub merge: Option<MergeFn>,
    /// Blob transfers in flight at once.
    pub jobs: usize,
}

/// Which referrers a copy carries.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ReferrerSelection {
    #[default]
    All,
    None,
    /// Only referrers of these artifact types (and what refers to them).
    Types(Vec<String>),
}

impl ReferrerSelection {
    /// Whether referrers of `artifact_type` are copied.
    pub fn wants(&self, artifact_type: Option<&str>) -> bool {
        match self {
            ReferrerSelection::All => true,
            ReferrerSelection::None => false,
            ReferrerSelection::Types(t) => artifact_type.is_some_and(|a| t.iter().any(|x| x == a)),
        }
    }
}

/// A merged attachment manifest: its bytes and the small blobs (a config)
/// to store first.
pub struct Merged {
    pub bytes: Vec<u8>,
    pub media_type: String,
    pub blobs: Vec<(String, Vec<u8>)>,
}

/// `merge(existing, arriving)`: `Ok(None)` when the existing one already
/// holds everything arriving.
pub type MergeFn = fn(&RawManifest, &RawManifest) -> std::result::Result<Option<Merged>, String>;

/// What a copy did, as `slipway push --json` reports it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CopyReport {
    pub digest: String,
    pub tag: Option<String>,
    pub manifests: usize,
    pub uploaded_blobs: usize,
    pub uploaded_bytes: u64,
    pub reused_blobs: usize,
    pub mounted_blobs: usize,
    /// The attachment tags copied along (`sha256-….sig`, …).
    pub attachments: Vec<String>,
    /// The OCI 1.1 referrers copied along, by digest.
    pub referrers: Vec<String>,
}

/// Everything one image consists of, in push order.
#[derive(Debug, Default)]
pub struct Closure {
    /// Manifests, every child before its parent; the root last.
    pub manifests: Vec<RawManifest>,
    pub blobs: Vec<Blob>,
}

/// Gather `root` and everything it references from `store`.
pub fn closure(store: &dyn Store, root: RawManifest) -> Result<Closure> {
    let mut out = Closure::default();
    let mut seen_manifests = HashSet::new();
    let mut seen_blobs = HashSet::new();
    walk(
        store,
        root,
        &mut out,
        &mut seen_manifests,
        &mut seen_blobs,
        0,
    )?;
    Ok(out)
}

fn walk(
    store: &dyn Store,
    manifest: RawManifest,
    out: &mut Closure,
    seen_manifests: &mut HashSet<Digest>,
    seen_blobs: &mut HashSet<Digest>,
    depth: usize,
) -> Result<()> {
    if depth > 4 {
        return Err(RegistryError::Integrity(format!(
            "manifest {} nests indexes too deeply",
            manifest.digest
        )));
    }
    if !seen_manifests.insert(manifest.digest.clone()) {
        return Ok(());
    }
    match manifest.children()? {
        Children::Manifests(children) => {
            for child in children {
                let m = store.manifest(&child.digest)?;
                walk(store, m, out, seen_manifests, seen_blobs, depth + 1)?;
            }
        }
        Children::Blobs(blobs) => {
            for b in blobs {
                if seen_blobs.insert(b.digest.clone()) {
                    out.blobs.push(b);
                }
            }
        }
    }
    out.manifests.push(manifest);
    Ok(())
}

/// The tag cosign gives something attached to `digest`.
pub fn attachment_tag(digest: &Digest, kind: &str) -> String {
    format!("sha256-{}.{kind}", digest.hex())
}

/// Copy the image `src` names to `dst`.
pub fn copy(
    src: &dyn Store,
    dst: &dyn Store,
    options: &CopyOptions,
    progress: &dyn Progress,
) -> Result<CopyReport> {
    copy_root(src, src.root()?, dst, options, progress)
}

/// Copy the image `root` (already resolved from `src`, e.g. once verified)
/// to `dst`: a tag that moves at the source meanwhile changes nothing.
pub fn copy_root(
    src: &dyn Store,
    root: RawManifest,
    dst: &dyn Store,
    options: &CopyOptions,
    progress: &dyn Progress,
) -> Result<CopyReport> {
    let digest = root.digest.clone();
    if options.immutable
        && let Some(tag) = &options.tag
        && let Some(existing) = dst.tag_digest(tag)?
        && existing != digest
    {
        return Err(RegistryError::Conflict(format!(
            "{} already has tag `{tag}` on {existing}; --immutable refuses to move it to {digest}. \
             Use a new tag (e.g. --tag auto) or drop --immutable",
            dst.describe()
        )));
    }
    let image = closure(src, root)?;
    // Things attached to the image or to one of its platforms: legacy tags,
    // and referrers, recursively (signatures of attestations too).
    let mut attached: Vec<(String, Closure)> = Vec::new();
    let mut referrers: Vec<Closure> = Vec::new();
    let mut seen_referrers: HashSet<Digest> = HashSet::new();
    let mut queue: Vec<Digest> = image.manifests.iter().map(|m| m.digest.clone()).collect();
    while let Some(digest) = queue.pop() {
        if options.attachments {
            for kind in ["sig", "att", "sbom"] {
                let tag = attachment_tag(&digest, kind);
                if !attached.iter().any(|(t, _)| *t == tag)
                    && let Some(a) = src.tagged(&tag)?
                {
                    attached.push((tag, closure(src, a)?));
                }
            }
        }
        if options.referrers == ReferrerSelection::None {
            continue;
        }
        for r in src.referrers(&digest, None)? {
            if !options.referrers.wants(r.artifact_type.as_deref())
                || !seen_referrers.insert(r.digest.clone())
            {
                continue;
            }
            if seen_referrers.len() > 10_000 {
                return Err(RegistryError::Integrity(format!(
                    "{}: more than 10000 referrers hang off {}; refusing to follow more",
                    src.describe(),
                    root_digest_text(&image)
                )));
            }
            let m = src.manifest(&r.digest)?;
            queue.push(m.digest.clone());
            referrers.push(closure(src, m)?);
        }
    }
    let mut blobs: Vec<Blob> = image.blobs.clone();
    let mut seen: HashSet<Digest> = blobs.iter().map(|b| b.digest.clone()).collect();
    for c in attached.iter().map(|(_, c)| c).chain(referrers.iter()) {
        for b in &c.blobs {
            if seen.insert(b.digest.clone()) {
                blobs.push(b.clone());
            }
        }
    }
    let mut report = CopyReport {
        digest: digest.to_string(),
        tag: options.tag.clone(),
        ..CopyReport::default()
    };
    transfer_blobs(src, dst, &blobs, options.jobs, progress, &mut report)?;

    let written = std::cell::Cell::new(0usize);
    let put = |m: &RawManifest, tag: Option<&str>| -> Result<()> {
        let present = match tag {
            Some(t) => dst.tag_digest(t)?.as_ref() == Some(&m.digest),
            None => dst.has_manifest(&m.digest)?,
        };
        if !present {
            dst.push_manifest(m, tag)?;
        }
        written.set(written.get() + 1);
        progress.manifest_written(&m.digest, tag);
        Ok(())
    };
    let (root, children) = image.manifests.split_last().expect("closure has its root");
    for m in children {
        put(m, None)?;
    }
    // Signatures and attestations first, so the tag never names an image
    // whose attachments have not arrived.
    let mut tops = Vec::new();
    for c in &referrers {
        let (top, rest) = c.manifests.split_last().expect("closure has its root");
        for m in rest {
            put(m, None)?;
        }
        tops.push(top.clone());
        report.referrers.push(top.digest.to_string());
    }
    // Added to what the destination lists, never replacing it.
    dst.push_referrers(&tops)?;
    written.set(written.get() + tops.len());
    for (tag, c) in &attached {
        let (top, rest) = c.manifests.split_last().expect("closure has its root");
        for m in rest {
            put(m, None)?;
        }
        match (options.merge, dst.tagged(tag)?) {
            (Some(merge), Some(existing)) if existing.digest != top.digest => {
                let merged = merge(&existing, top).map_err(|e| {
                    RegistryError::Integrity(format!(
                        "{}: cannot merge {tag} with the one already there: {e}",
                        dst.describe()
                    ))
                })?;
                if let Some(m) = merged {
                    let blobs: Vec<(&str, &[u8])> = m
                        .blobs
                        .iter()
                        .map(|(t, b)| (t.as_str(), b.as_slice()))
                        .collect();
                    crate::store::put_manifest_with_blobs(
                        dst,
                        &m.bytes,
                        &m.media_type,
                        &blobs,
                        tag,
                    )?;
                    written.set(written.get() + 1);
                }
            }
            _ => put(top, Some(tag))?,
        }
        report.attachments.push(tag.clone());
    }
    put(root, options.tag.as_deref())?;
    dst.finish()?;
    report.manifests = written.get();
    Ok(report)
}

fn root_digest_text(image: &Closure) -> String {
    image
        .manifests
        .last()
        .map_or_else(String::new, |m| m.digest.to_string())
}

pub(crate) fn transfer_blobs(
    src: &dyn Store,
    dst: &dyn Store,
    blobs: &[Blob],
    jobs: usize,
    progress: &dyn Progress,
    report: &mut CopyReport,
) -> Result<()> {
    let scratch = tempfile::Builder::new()
        .prefix("slipway-copy-")
        .tempdir()
        .map_err(|e| RegistryError::io("creating a scratch directory", e))?;
    let mount_from = match (src.as_remote(), dst.as_remote()) {
        (Some(s), Some(d)) if s.client.host() == d.client.host() => {
            Some(s.reference.repository.clone())
        }
        _ => None,
    };
    // Smallest first in the list, so the biggest are popped (started) first.
    let mut order: Vec<&Blob> = blobs.iter().collect();
    order.sort_by_key(|b| b.size);
    let queue = Mutex::new(order);
    let outcomes = Mutex::new(Vec::new());
    let failed = AtomicBool::new(false);
    let first_error = Mutex::new(None);
    let one = |blob: &Blob| -> Result<BlobOutcome> {
        if dst.has_blob(blob)? {
            progress.blob_finished(blob, BlobOutcome::Reused);
            return Ok(BlobOutcome::Reused);
        }
        let file = src.fetch_blob(blob, scratch.path(), progress)?;
        let outcome = match (dst.as_remote(), &mount_from) {
            (Some(d), Some(from)) => d.push_blob_from(blob, &file, progress, Some(from))?,
            _ => dst.push_blob(blob, &file, progress)?,
        };
        if file.starts_with(scratch.path()) {
            let _ = std::fs::remove_file(&file);
        }
        progress.blob_finished(blob, outcome);
        Ok(outcome)
    };
    std::thread::scope(|s| {
        for _ in 0..jobs.clamp(1, 16).min(blobs.len().max(1)) {
            s.spawn(|| {
                loop {
                    if failed.load(Ordering::Relaxed) {
                        return;
                    }
                    let Some(blob) = queue.lock().unwrap().pop() else {
                        return;
                    };
                    match one(blob) {
                        Ok(o) => outcomes.lock().unwrap().push(o),
                        Err(e) => {
                            failed.store(true, Ordering::Relaxed);
                            first_error.lock().unwrap().get_or_insert(e);
                            return;
                        }
                    }
                }
            });
        }
    });
    if let Some(e) = first_error.into_inner().unwrap() {
        return Err(e);
    }
    for o in outcomes.into_inner().unwrap() {
        match o {
            BlobOutcome::Uploaded(n) => {
                report.uploaded_blobs += 1;
                report.uploaded_bytes += n;
            }
            BlobOutcome::Reused => report.reused_blobs += 1,
            BlobOutcome::Mounted => report.mounted_blobs += 1,
        }
    }
    Ok(())
}
