//! Remembering what a staged binary was, so a no-op rebuild does no work.
//!
//! Go's up-to-date check leaves an unchanged staged binary's bytes alone (it
//! only touches its mtime). Reading, checking and hashing it again, and the
//! installed copy too, would cost more than Go's own no-op build. So each
//! staging file has a record beside it: the file's fingerprint when it was last
//! checked, its digest, and the fingerprints of the copies installed from it.
//!
//! The fingerprint is the size plus Go's build ID, read from the first few KiB.
//! The build ID's second half is Go's hash of the executable's content, which
//! is what Go itself trusts to decide that a file is up to date. A binary with
//! no Go build ID there is always hashed in full.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// How much of a file is read to find the Go build ID note (Go and lld put it
/// in the first page).
const HEAD: usize = 64 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprint {
    size: u64,
    go_build_id: String,
}

impl Fingerprint {
    pub fn of(path: &Path) -> Option<Fingerprint> {
        let mut file = std::fs::File::open(path).ok()?;
        let size = file.metadata().ok()?.len();
        let mut head = Vec::with_capacity(HEAD);
        file.by_ref()
            .take(HEAD as u64)
            .read_to_end(&mut head)
            .ok()?;
        Some(Fingerprint {
            size,
            go_build_id: slipway_elf::go_build_id(&head)?,
        })
    }
}

/// What identifies a file only slipway writes (post-link outputs, installed
/// copies): nothing else touches them, so metadata is enough.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Written {
    size: u64,
    mtime_ns: i128,
    inode: u64,
    device: u64,
}

impl Written {
    pub fn of(path: &Path) -> Option<Written> {
        use std::os::unix::fs::MetadataExt;
        let m = std::fs::metadata(path).ok()?;
        Some(Written {
            size: m.len(),
            mtime_ns: m.mtime() as i128 * 1_000_000_000 + m.mtime_nsec() as i128,
            inode: m.ino(),
            device: m.dev(),
        })
    }
}

/// A post-link output and its digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Output {
    pub path: PathBuf,
    pub sha256: String,
    pub size: u64,
    written: Option<Written>,
}

impl Output {
    pub fn new(path: PathBuf, sha256: String, size: u64) -> Output {
        let written = Written::of(&path);
        Output {
            path,
            sha256,
            size,
            written,
        }
    }

    fn unchanged(&self) -> bool {
        self.written.is_some() && Written::of(&self.path) == self.written
    }
}

/// What a staged binary became after the post-link stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shipped {
    pub binary: Output,
    pub debug: Option<Output>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Record {
    staged: Fingerprint,
    /// The strip policy the outputs were made with.
    policy: String,
    shipped: Shipped,
    /// Installed copies: absolute path → identity right after installing.
    installed: BTreeMap<PathBuf, Written>,
}

impl Record {
    fn path(stage: &Path) -> PathBuf {
        let mut p = stage.as_os_str().to_owned();
        p.push(".record.json");
        PathBuf::from(p)
    }

    fn load(stage: &Path) -> Option<Record> {
        serde_json::from_slice(&std::fs::read(Self::path(stage)).ok()?).ok()
    }

    /// The post-link outputs of the staged binary, if neither it nor they
    /// changed since they were made with this policy.
    pub fn shipped_if_unchanged(stage: &Path, policy: &str) -> Option<Shipped> {
        let record = Self::load(stage)?;
        let fresh = record.policy == policy
            && Fingerprint::of(stage).as_ref() == Some(&record.staged)
            && record.shipped.binary.unchanged()
            && record.shipped.debug.as_ref().is_none_or(Output::unchanged);
        fresh.then_some(record.shipped)
    }

    /// Remember freshly made outputs (installed copies are forgotten).
    pub fn made(stage: &Path, policy: &str, shipped: &Shipped) {
        let Some(staged) = Fingerprint::of(stage) else {
            return;
        };
        let record = Record {
            staged,
            policy: policy.into(),
            shipped: shipped.clone(),
            installed: BTreeMap::new(),
        };
        record.save(stage);
    }

    /// Whether `dest` is still the copy installed from these outputs.
    pub fn is_installed(stage: &Path, shipped: &Shipped, dest: &Path) -> bool {
        Self::load(stage).is_some_and(|r| {
            r.shipped == *shipped
                && r.installed
                    .get(dest)
                    .is_some_and(|w| Written::of(dest).as_ref() == Some(w))
        })
    }

    /// Remember that `dest` now holds one of this stage's outputs.
    pub fn installed(stage: &Path, dest: &Path) {
        let (Some(mut record), Some(written)) = (Self::load(stage), Written::of(dest)) else {
            return;
        };
        record.installed.insert(dest.to_path_buf(), written);
        record.save(stage);
    }

    /// A record is only an optimisation: failing to write one changes nothing.
    fn save(&self, stage: &Path) {
        if let Ok(bytes) = serde_json::to_vec(self) {
            let _ = slipway_toolchain::write_atomic(&Self::path(stage), &bytes, 0o644);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use slipway_testkit::elf_with_go_note;

    #[test]
    fn a_changed_file_is_not_trusted() {
        let dir = tempfile::tempdir().unwrap();
        let stage = dir.path().join("bin");
        let out = dir.path().join("bin.stripped");
        let dest = dir.path().join("installed");
        std::fs::write(&stage, elf_with_go_note("one/1")).unwrap();
        std::fs::write(&out, b"stripped").unwrap();
        let shipped = Shipped {
            binary: Output::new(out.clone(), "aaaa".into(), 8),
            debug: None,
        };
        assert_eq!(
            Record::shipped_if_unchanged(&stage, "split"),
            None,
            "no record yet"
        );
        Record::made(&stage, "split", &shipped);
        assert_eq!(
            Record::shipped_if_unchanged(&stage, "split"),
            Some(shipped.clone())
        );
        assert_eq!(
            Record::shipped_if_unchanged(&stage, "strip"),
            None,
            "another policy"
        );

        std::fs::copy(&out, &dest).unwrap();
        assert!(!Record::is_installed(&stage, &shipped, &dest));
        Record::installed(&stage, &dest);
        assert!(Record::is_installed(&stage, &shipped, &dest));

        // Rewritten files are not trusted: the installed copy, the output, the stage.
        std::thread::sleep(std::time::Duration::from_millis(5));
        std::fs::write(&dest, b"stripped").unwrap();
        assert!(!Record::is_installed(&stage, &shipped, &dest));
        std::fs::write(&out, b"STRIPPED").unwrap();
        assert_eq!(Record::shipped_if_unchanged(&stage, "split"), None);
        Record::made(
            &stage,
            "split",
            &Shipped {
                binary: Output::new(out.clone(), "bbbb".into(), 8),
                debug: None,
            },
        );
        std::fs::write(&stage, elf_with_go_note("two/2")).unwrap();
        assert_eq!(Record::shipped_if_unchanged(&stage, "split"), None);
        // A staged file without a Go build ID is never trusted.
        std::fs::write(&stage, b"no elf here").unwrap();
        Record::made(&stage, "split", &shipped);
        assert_eq!(Record::shipped_if_unchanged(&stage, "split"), None);
    }
}
