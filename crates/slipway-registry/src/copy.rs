//! Copy an image, every platform of it and what is attached to it, from any
//! [`Store`] to any other. Blobs first (in parallel), then manifests children
//! before parents, and the tag last: a failure before the end leaves the
//! destination's tag where it was.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::Serialize;
use slipway_oci::Digest;

use crate::error::{RegistryError, Result};
use crate::store::{Blob, BlobOutcome, Children, Progress, RawManifest, Referrer, Store};

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
    closure_with(store, root, 1)
}

/// [`closure`], fetching an index's child manifests `jobs` at a time.
fn closure_with(store: &dyn Store, root: RawManifest, jobs: usize) -> Result<Closure> {
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
        jobs,
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
    jobs: usize,
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
            // The platforms' manifests side by side, walked in their order.
            let fetched = par_map(&children, jobs, |child| store.manifest(&child.digest))?;
            for m in fetched {
                walk(store, m, out, seen_manifests, seen_blobs, depth + 1, jobs)?;
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

/// `f` over `items`, up to `jobs` at a time, results in the order of
/// `items`; the first error (in that order) wins. Registry round trips
/// dominate a copy's discovery, and they overlap well.
pub(crate) fn par_map<T: Sync, R: Send>(
    items: &[T],
    jobs: usize,
    f: impl Fn(&T) -> Result<R> + Sync,
) -> Result<Vec<R>> {
    let threads = jobs.clamp(1, 16).min(items.len());
    if threads <= 1 {
        return items.iter().map(f).collect();
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let slots: Vec<Mutex<Option<Result<R>>>> = items.iter().map(|_| Mutex::new(None)).collect();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                while !failed.load(Ordering::Relaxed) {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = items.get(i) else { return };
                    let r = f(item);
                    if r.is_err() {
                        failed.store(true, Ordering::Relaxed);
                    }
                    *slots[i].lock().unwrap_or_else(|e| e.into_inner()) = Some(r);
                }
            });
        }
    });
    let mut out = Vec::with_capacity(items.len());
    let mut first_error = None;
    for slot in slots {
        match slot.into_inner().unwrap_or_else(|e| e.into_inner()) {
            Some(Ok(r)) => out.push(r),
            Some(Err(e)) => {
                first_error.get_or_insert(e);
            }
            // Not started: something failed first, and its error is returned.
            None => {}
        }
    }
    if let Some(e) = first_error {
        return Err(e);
    }
    Ok(out)
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
    let plan = plan_copy(src, root, options)?;
    copy_plan(src, plan, dst, options, progress)
}

/// Everything a copy moves, found at the source before anything is
/// written: the image, its attachment tags and its referrers (recursively).
#[derive(Debug)]
pub struct CopyPlan {
    image: Closure,
    attached: Vec<(String, Closure)>,
    referrers: Vec<Closure>,
    /// The referrers the source lists for the image's own manifests (the
    /// root and its platforms), whatever the selection, so a caller that
    /// wants to know what hangs off the image need not ask again. Empty
    /// when the selection is [`ReferrerSelection::None`].
    pub listed: Vec<Referrer>,
}

/// What one manifest has attached: its legacy tags that exist, and its referrers.
struct Found {
    attached: Vec<(String, Closure)>,
    referrers: Vec<Referrer>,
}

/// One lookup of the discovery walk.
enum Lookup {
    Tag(String),
    Referrers,
}

/// Find everything [`copy_plan`] will move. The lookups of each level (the
/// image's manifests, then their referrers, then theirs) run side by side,
/// `options.jobs` at a time; the result is the same as one at a time.
pub fn plan_copy(src: &dyn Store, root: RawManifest, options: &CopyOptions) -> Result<CopyPlan> {
    let jobs = options.jobs;
    let image = closure_with(src, root, jobs)?;
    let own: Vec<Digest> = image.manifests.iter().map(|m| m.digest.clone()).collect();
    let mut found: HashMap<Digest, Found> = HashMap::new();
    let mut closures: HashMap<Digest, Closure> = HashMap::new();
    let mut wanted: HashSet<Digest> = HashSet::new();
    // One tag listing instead of three lookups per manifest, which mostly
    // find nothing; a store that cannot list is asked about each tag.
    let tags: Option<HashSet<String>> = if options.attachments {
        src.tags()?.map(|t| t.into_iter().collect())
    } else {
        None
    };
    let mut frontier = own.clone();
    while !frontier.is_empty() {
        let mut lookups: Vec<(&Digest, Lookup)> = Vec::new();
        for d in &frontier {
            if options.attachments {
                for kind in ["sig", "att", "sbom"] {
                    let tag = attachment_tag(d, kind);
                    if tags.as_ref().is_none_or(|t| t.contains(&tag)) {
                        lookups.push((d, Lookup::Tag(tag)));
                    }
                }
            }
            if options.referrers != ReferrerSelection::None {
                lookups.push((d, Lookup::Referrers));
            }
        }
        let answers = par_map(&lookups, jobs, |(d, lookup)| match lookup {
            Lookup::Tag(tag) => match src.tagged(tag)? {
                Some(a) => Ok(Found {
                    attached: vec![(tag.clone(), closure(src, a)?)],
                    referrers: Vec::new(),
                }),
                None => Ok(Found {
                    attached: Vec::new(),
                    referrers: Vec::new(),
                }),
            },
            Lookup::Referrers => Ok(Found {
                attached: Vec::new(),
                referrers: src.referrers(d, None)?,
            }),
        })?;
        let mut next = Vec::new();
        for ((d, _), answer) in lookups.iter().zip(answers) {
            for r in &answer.referrers {
                if options.referrers.wants(r.artifact_type.as_deref())
                    && wanted.insert(r.digest.clone())
                {
                    next.push(r.digest.clone());
                }
            }
            let entry = found.entry((*d).clone()).or_insert(Found {
                attached: Vec::new(),
                referrers: Vec::new(),
            });
            entry.attached.extend(answer.attached);
            entry.referrers.extend(answer.referrers);
        }
        if wanted.len() > 10_000 {
            return Err(RegistryError::Integrity(format!(
                "{}: more than 10000 referrers hang off {}; refusing to follow more",
                src.describe(),
                root_digest_text(&image)
            )));
        }
        let fetched = par_map(&next, jobs, |d| closure(src, src.manifest(d)?))?;
        closures.extend(next.iter().cloned().zip(fetched));
        frontier = next;
    }
    let listed = own
        .iter()
        .filter_map(|d| found.get(d))
        .flat_map(|f| f.referrers.iter().cloned())
        .collect();
    // The order things are written in (and so an archive's bytes) follows
    // the walk one at a time would take: last manifest first, each
    // referrer's own referrers before its siblings'.
    let mut attached: Vec<(String, Closure)> = Vec::new();
    let mut referrers: Vec<Closure> = Vec::new();
    let mut seen_referrers: HashSet<Digest> = HashSet::new();
    let mut queue = own;
    while let Some(digest) = queue.pop() {
        let Some(f) = found.get_mut(&digest) else {
            continue;
        };
        for (tag, c) in f.attached.drain(..) {
            if !attached.iter().any(|(t, _)| *t == tag) {
                attached.push((tag, c));
            }
        }
        for r in &f.referrers {
            if !options.referrers.wants(r.artifact_type.as_deref())
                || !seen_referrers.insert(r.digest.clone())
            {
                continue;
            }
            let Some(c) = closures.remove(&r.digest) else {
                continue;
            };
            queue.push(r.digest.clone());
            referrers.push(c);
        }
    }
    Ok(CopyPlan {
        image,
        attached,
        referrers,
        listed,
    })
}

/// Write what [`plan_copy`] found to `dst`: blobs, then manifests children
/// before parents, referrers and attachments, and the image's tag last.
pub fn copy_plan(
    src: &dyn Store,
    plan: CopyPlan,
    dst: &dyn Store,
    options: &CopyOptions,
    progress: &dyn Progress,
) -> Result<CopyReport> {
    let CopyPlan {
        image,
        attached,
        referrers,
        ..
    } = plan;
    let digest = image
        .manifests
        .last()
        .expect("closure has its root")
        .digest
        .clone();
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
    let manifests: Vec<&RawManifest> = std::iter::once(&image)
        .chain(attached.iter().map(|(_, c)| c))
        .chain(referrers.iter())
        .flat_map(|c| c.manifests.iter())
        .collect();
    dst.expect(&blobs, &manifests)?;
    transfer_blobs(src, dst, &blobs, options.jobs, progress, &mut report)?;

    let written = std::sync::atomic::AtomicUsize::new(0);
    let put = |m: &RawManifest, tag: Option<&str>| -> Result<()> {
        let present = match tag {
            Some(t) => dst.tag_digest(t)?.as_ref() == Some(&m.digest),
            None => dst.has_manifest(&m.digest)?,
        };
        if !present {
            dst.push_manifest(m, tag)?;
        }
        written.fetch_add(1, Ordering::Relaxed);
        progress.manifest_written(&m.digest, tag);
        Ok(())
    };
    let (root, children) = image.manifests.split_last().expect("closure has its root");
    // The platforms' manifests side by side; nested indexes after them, in
    // order, so every child is there before its parent.
    let (indexes, leaves): (Vec<&RawManifest>, Vec<&RawManifest>) =
        children.iter().partition(|m| m.is_index());
    par_map(&leaves, options.jobs, |m| put(m, None))?;
    for m in indexes {
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
    written.fetch_add(tops.len(), Ordering::Relaxed);
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
                    written.fetch_add(1, Ordering::Relaxed);
                }
            }
            _ => put(top, Some(tag))?,
        }
        report.attachments.push(tag.clone());
    }
    put(root, options.tag.as_deref())?;
    dst.finish()?;
    report.manifests = written.into_inner();
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
        // A destination with a place laid out for it takes the bytes there.
        let received = dst.receive_blob(blob, &mut |out, offset| {
            src.fetch_blob_at(blob, out, offset, progress)
        })?;
        if let Some(outcome) = received {
            progress.blob_finished(blob, outcome);
            return Ok(outcome);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn par_map_keeps_order_and_returns_the_first_error_in_order() {
        let items: Vec<u32> = (0..50).collect();
        for jobs in [1, 4, 16] {
            let doubled = par_map(&items, jobs, |i| {
                // Later items finish first, so completion order differs from input order.
                std::thread::sleep(std::time::Duration::from_micros(u64::from(50 - i) * 20));
                Ok(i * 2)
            })
            .unwrap();
            assert_eq!(doubled, items.iter().map(|i| i * 2).collect::<Vec<_>>());
            let err = par_map(&items, jobs, |i| match i {
                7 | 30 => Err(RegistryError::Remote(format!("item {i}"))),
                _ => Ok(*i),
            })
            .unwrap_err();
            assert_eq!(err.to_string(), "item 7", "jobs {jobs}");
        }
        assert!(
            par_map(&Vec::<u32>::new(), 4, |i| Ok(*i))
                .unwrap()
                .is_empty()
        );
    }
}
