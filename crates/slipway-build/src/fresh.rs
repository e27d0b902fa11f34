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
            go_build_id: go_build_id(&head)?,
        })
    }
}

/// The Go build ID note (owner "Go", type 4) from an ELF file's first bytes.
fn go_build_id(head: &[u8]) -> Option<String> {
    if head.get(..4)? != b"\x7fELF" {
        return None;
    }
    let is_64 = match head.get(4)? {
        1 => false,
        2 => true,
        _ => return None,
    };
    let big = match head.get(5)? {
        1 => false,
        2 => true,
        _ => return None,
    };
    // Every read goes through `bytes`, which checks its arithmetic: offsets
    // come from the file and may be anything.
    let bytes = |at: usize, len: usize| head.get(at..at.checked_add(len)?);
    let u16_at = |at: usize| -> Option<u64> {
        let b: [u8; 2] = bytes(at, 2)?.try_into().ok()?;
        Some(if big {
            u16::from_be_bytes(b)
        } else {
            u16::from_le_bytes(b)
        } as u64)
    };
    let u32_at = |at: usize| -> Option<u64> {
        let b: [u8; 4] = bytes(at, 4)?.try_into().ok()?;
        Some(if big {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        } as u64)
    };
    let u64_at = |at: usize| -> Option<u64> {
        let b: [u8; 8] = bytes(at, 8)?.try_into().ok()?;
        Some(if big {
            u64::from_be_bytes(b)
        } else {
            u64::from_le_bytes(b)
        })
    };
    let (phoff, phentsize, phnum) = if is_64 {
        (u64_at(0x20)?, u16_at(0x36)?, u16_at(0x38)?)
    } else {
        (u32_at(0x1c)?, u16_at(0x2a)?, u16_at(0x2c)?)
    };
    for i in 0..phnum {
        let ph = usize::try_from(phoff.checked_add(i.checked_mul(phentsize)?)?).ok()?;
        if u32_at(ph)? != 4 {
            continue; // not PT_NOTE
        }
        let (offset, size) = if is_64 {
            (u64_at(ph.checked_add(8)?)?, u64_at(ph.checked_add(32)?)?)
        } else {
            (u32_at(ph.checked_add(4)?)?, u32_at(ph.checked_add(16)?)?)
        };
        let start = usize::try_from(offset).ok()?;
        let end = start.checked_add(usize::try_from(size).ok()?)?;
        let mut at = start;
        // Notes: namesz, descsz, type, name (4-aligned), desc (4-aligned);
        // `at` stays below the head's length, so `at + 12` cannot overflow.
        while at + 12 <= end.min(head.len()) {
            let (namesz, descsz, kind) = (
                u32_at(at)? as usize,
                u32_at(at + 4)? as usize,
                u32_at(at + 8)?,
            );
            let name_at = at + 12;
            let desc_at = name_at.checked_add(namesz.checked_add(3)? & !3)?;
            let next = desc_at.checked_add(descsz.checked_add(3)? & !3)?;
            if kind == 4 && bytes(name_at, namesz)? == b"Go\0\0" {
                let desc = bytes(desc_at, descsz)?;
                return String::from_utf8(desc.to_vec()).ok();
            }
            at = next;
        }
    }
    None
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

    /// A minimal 64-bit little-endian ELF with one PT_NOTE holding a Go build ID.
    fn elf_with_go_note(id: &str) -> Vec<u8> {
        let mut f = vec![0u8; 0x40 + 0x38];
        f[..4].copy_from_slice(b"\x7fELF");
        f[4] = 2;
        f[5] = 1;
        f[0x20..0x28].copy_from_slice(&0x40u64.to_le_bytes()); // e_phoff
        f[0x36..0x38].copy_from_slice(&0x38u16.to_le_bytes()); // e_phentsize
        f[0x38..0x3a].copy_from_slice(&1u16.to_le_bytes()); // e_phnum
        let note_at = f.len() as u64;
        let mut note = Vec::new();
        note.extend(4u32.to_le_bytes());
        note.extend((id.len() as u32).to_le_bytes());
        note.extend(4u32.to_le_bytes());
        note.extend(b"Go\0\0");
        note.extend(id.as_bytes());
        while note.len() % 4 != 0 {
            note.push(0);
        }
        f[0x40..0x44].copy_from_slice(&4u32.to_le_bytes()); // PT_NOTE
        f[0x48..0x50].copy_from_slice(&note_at.to_le_bytes());
        f[0x60..0x68].copy_from_slice(&(note.len() as u64).to_le_bytes());
        f.extend(note);
        f
    }

    #[test]
    fn reads_go_build_ids_and_survives_garbage() {
        assert_eq!(
            go_build_id(&elf_with_go_note("abc/def")).as_deref(),
            Some("abc/def")
        );
        let real = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        assert_eq!(
            go_build_id(&real[..HEAD.min(real.len())]),
            None,
            "a Rust binary has no Go note"
        );
        let good = elf_with_go_note("abc/def");
        // Cut anywhere before the ID's last byte (the final byte is padding).
        for len in 0..good.len() - 1 {
            assert_eq!(go_build_id(&good[..len]), None, "truncated at {len}");
        }
        let mut bad = good.clone();
        bad[0x38] = 0xff; // absurd program header count
        let _ = go_build_id(&bad);
        bad[0x20..0x28].copy_from_slice(&u64::MAX.to_le_bytes());
        assert_eq!(go_build_id(&bad), None);
    }

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

    proptest::proptest! {
        /// Any mutation of a valid file gives an ID or nothing, never a panic.
        #[test]
        fn mutated_headers_never_panic(
            edits in proptest::collection::vec((0usize..160, proptest::num::u8::ANY), 1..12),
        ) {
            let mut f = elf_with_go_note("abc/def");
            for (at, byte) in edits {
                if let Some(b) = f.get_mut(at) {
                    *b = byte;
                }
            }
            let _ = go_build_id(&f);
        }
    }
}
