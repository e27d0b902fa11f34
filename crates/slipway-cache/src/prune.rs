//! How big the local cache is, and trimming it to a size, least recently
//! used first.
//!
//! Prunable parts of slipway's cache directory:
//!
//! - `cas/` blobs and `ac/` action entries of this crate (one item per file);
//! - `stage/<key>/`, the per-target directories `go build -o` writes into
//!   (one item per directory, as old as its newest file).
//!
//! Everything else there (zig's own cache in `zig/`, the C compiler
//! wrappers) is counted as `other` and never removed: zig and the wrappers
//! manage it themselves.
//!
//! The rule that keeps a concurrent build safe: nothing used within
//! [`GRACE`] is removed. A cache hit marks its file used at most every ten
//! minutes, and a build writes its stage directory when it runs, so any file
//! a build has touched in its last 50 minutes is kept. A stage directory is
//! first renamed aside and then deleted, so nobody sees half of one; a build
//! that starts afterwards simply makes it again.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::Serialize;

/// Items used more recently than this are never pruned.
pub const GRACE: Duration = Duration::from_secs(3600);

/// Files and bytes of one part.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Part {
    pub files: u64,
    pub bytes: u64,
}

impl Part {
    fn add(&mut self, files: u64, bytes: u64) {
        self.files += files;
        self.bytes += bytes;
    }
}

/// The local cache's size by part.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Usage {
    pub dir: PathBuf,
    /// Blobs (`cas/`).
    pub cas: Part,
    /// Action entries (`ac/`).
    pub ac: Part,
    /// Build stages (`stage/`).
    pub stage: Part,
    /// Everything else (zig's cache, wrappers): counted, never pruned.
    pub other: Part,
    /// All of it.
    pub total: Part,
}

/// What a prune did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PruneReport {
    pub before: Usage,
    pub after: Usage,
    /// Items removed (a stage directory counts once).
    pub removed_items: u64,
    pub removed_bytes: u64,
    /// Items kept only because they were used within the grace period.
    pub kept_recent: u64,
}

/// One removable thing.
struct Item {
    path: PathBuf,
    bytes: u64,
    files: u64,
    used: SystemTime,
    is_dir: bool,
}

/// Walk `dir`: (files, bytes, newest modification time).
fn walk(dir: &Path, tick: &mut dyn FnMut()) -> (u64, u64, SystemTime) {
    let mut files = 0;
    let mut bytes = 0;
    let mut newest = SystemTime::UNIX_EPOCH;
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let Ok(meta) = e.metadata() else { continue };
            if meta.is_dir() {
                todo.push(e.path());
            } else {
                files += 1;
                bytes += meta.len();
                if let Ok(m) = meta.modified() {
                    newest = newest.max(m);
                }
                tick();
            }
        }
    }
    (files, bytes, newest)
}

/// The prunable items under `root` and the usage of everything.
fn scan(root: &Path, tick: &mut dyn FnMut()) -> (Usage, Vec<Item>) {
    let mut usage = Usage {
        dir: root.to_path_buf(),
        ..Usage::default()
    };
    let mut items = Vec::new();
    let Ok(entries) = std::fs::read_dir(root) else {
        return (usage, items);
    };
    for top in entries.flatten() {
        let name = top.file_name();
        let path = top.path();
        match name.to_str() {
            Some("cas") | Some("ac") => {
                let mut todo = vec![path.clone()];
                while let Some(d) = todo.pop() {
                    let Ok(entries) = std::fs::read_dir(&d) else {
                        continue;
                    };
                    for e in entries.flatten() {
                        let Ok(meta) = e.metadata() else { continue };
                        if meta.is_dir() {
                            todo.push(e.path());
                            continue;
                        }
                        tick();
                        if name == "cas" {
                            usage.cas.add(1, meta.len());
                        } else {
                            usage.ac.add(1, meta.len());
                        }
                        items.push(Item {
                            path: e.path(),
                            bytes: meta.len(),
                            files: 1,
                            used: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
                            is_dir: false,
                        });
                    }
                }
            }
            Some("stage") => {
                let Ok(stages) = std::fs::read_dir(&path) else {
                    continue;
                };
                for s in stages.flatten() {
                    let p = s.path();
                    if !p.is_dir() {
                        continue;
                    }
                    let (files, bytes, newest) = walk(&p, tick);
                    usage.stage.add(files, bytes);
                    let own = s
                        .metadata()
                        .and_then(|m| m.modified())
                        .unwrap_or(SystemTime::UNIX_EPOCH);
                    items.push(Item {
                        path: p,
                        bytes,
                        files,
                        used: newest.max(own),
                        is_dir: true,
                    });
                }
            }
            _ => {
                if top.metadata().map(|m| m.is_dir()).unwrap_or(false) {
                    let (files, bytes, _) = walk(&path, tick);
                    usage.other.add(files, bytes);
                } else if let Ok(m) = top.metadata() {
                    usage.other.add(1, m.len());
                }
            }
        }
    }
    for p in [usage.cas, usage.ac, usage.stage, usage.other] {
        usage.total.add(p.files, p.bytes);
    }
    (usage, items)
}

/// The size of the cache at `root`; `tick` is called once per file seen.
pub fn usage(root: &Path, tick: &mut dyn FnMut()) -> Usage {
    scan(root, tick).0
}

/// Remove the least recently used items until the prunable parts (`cas`,
/// `ac`, `stage`) total at most `max_bytes`, never one used within `grace`.
/// `progress(done, of)` follows the removals.
pub fn prune(
    root: &Path,
    max_bytes: u64,
    grace: Duration,
    tick: &mut dyn FnMut(),
    progress: &mut dyn FnMut(u64, u64),
) -> std::io::Result<PruneReport> {
    let (before, mut items) = scan(root, tick);
    let prunable = before.cas.bytes + before.ac.bytes + before.stage.bytes;
    let mut report = PruneReport {
        before: before.clone(),
        ..PruneReport::default()
    };
    if prunable <= max_bytes {
        report.after = before;
        return Ok(report);
    }
    items.sort_by(|a, b| a.used.cmp(&b.used).then_with(|| a.path.cmp(&b.path)));
    let now = SystemTime::now();
    let mut excess = prunable - max_bytes;
    let planned: Vec<&Item> = {
        let mut out = Vec::new();
        for item in &items {
            if excess == 0 {
                break;
            }
            let age = now.duration_since(item.used).unwrap_or_default();
            if age < grace {
                report.kept_recent += 1;
                continue;
            }
            excess = excess.saturating_sub(item.bytes);
            out.push(item);
        }
        out
    };
    let of = planned.len() as u64;
    for (i, item) in planned.into_iter().enumerate() {
        let gone = if item.is_dir {
            // Aside first, so a reader never sees half a directory.
            let aside = item.path.with_file_name(format!(
                ".pruning-{}-{}",
                std::process::id(),
                item.path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .unwrap_or("stage")
            ));
            std::fs::rename(&item.path, &aside).and_then(|()| std::fs::remove_dir_all(&aside))
        } else {
            std::fs::remove_file(&item.path)
        };
        match gone {
            Ok(()) => {
                report.removed_items += 1;
                report.removed_bytes += item.bytes;
            }
            // Someone else removed it first: fine.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(std::io::Error::new(
                    e.kind(),
                    format!("cannot remove {}: {e}", item.path.display()),
                ));
            }
        }
        let _ = item.files;
        progress(i as u64 + 1, of);
    }
    report.after = scan(root, &mut || {}).0;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prunes_oldest_first_and_keeps_recent_items() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let old = SystemTime::now() - Duration::from_secs(7200);
        let older = SystemTime::now() - Duration::from_secs(9000);
        let put = |rel: &str, len: usize, when: Option<SystemTime>| {
            let p = root.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, vec![7u8; len]).unwrap();
            if let Some(t) = when {
                std::fs::File::options()
                    .append(true)
                    .open(&p)
                    .unwrap()
                    .set_modified(t)
                    .unwrap();
            }
        };
        put("cas/aa/old", 1000, Some(old));
        put("stage/k1/app", 3000, Some(older));
        put("cas/bb/new", 1000, None);
        put("zig/o/x/libc.a", 5000, Some(older));
        std::fs::File::open(root.join("stage/k1"))
            .unwrap()
            .set_modified(older)
            .unwrap();
        let u = usage(root, &mut || {});
        assert_eq!(
            u.cas,
            Part {
                files: 2,
                bytes: 2000
            }
        );
        assert_eq!(
            u.stage,
            Part {
                files: 1,
                bytes: 3000
            }
        );
        assert_eq!(
            u.other,
            Part {
                files: 1,
                bytes: 5000
            }
        );
        assert_eq!(u.total.bytes, 10000);
        let mut seen = Vec::new();
        let r = prune(root, 1500, GRACE, &mut || {}, &mut |d, of| {
            seen.push((d, of))
        })
        .unwrap();
        // The stage (oldest) and the old blob go; the new blob stays though
        // the limit is not met, and zig's cache is never touched.
        assert_eq!(r.removed_items, 2);
        assert_eq!(r.removed_bytes, 4000);
        assert_eq!(seen, vec![(1, 2), (2, 2)]);
        assert!(!root.join("stage/k1").exists());
        assert!(root.join("cas/bb/new").exists());
        assert!(root.join("zig/o/x/libc.a").exists());
        assert_eq!(r.after.total.bytes, 6000);
        let r = prune(root, 0, GRACE, &mut || {}, &mut |_, _| {}).unwrap();
        assert_eq!((r.removed_items, r.kept_recent), (0, 1));
    }
}
