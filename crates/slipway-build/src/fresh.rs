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

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Record {
    pub staged: Option<Fingerprint>,
    pub sha256: String,
    /// Installed copies: absolute path → fingerprint right after installing.
    pub installed: BTreeMap<PathBuf, Fingerprint>,
}

impl Record {
    fn path(stage: &Path) -> PathBuf {
        let mut p = stage.as_os_str().to_owned();
        p.push(".record.json");
        PathBuf::from(p)
    }

    /// The record of a staging file, if there is a readable one.
    pub fn load(stage: &Path) -> Option<Record> {
        serde_json::from_slice(&std::fs::read(Self::path(stage)).ok()?).ok()
    }

    /// The digest of the staged binary if it is unchanged since it was checked.
    pub fn digest_if_unchanged(stage: &Path) -> Option<(String, u64)> {
        let record = Self::load(stage)?;
        let now = Fingerprint::of(stage)?;
        let size = now.size;
        (record.staged == Some(now)).then_some((record.sha256, size))
    }

    /// Remember a freshly checked staged binary (installed copies are forgotten).
    pub fn checked(stage: &Path, sha256: &str) {
        let record = Record {
            staged: Fingerprint::of(stage),
            sha256: sha256.to_string(),
            installed: BTreeMap::new(),
        };
        record.save(stage);
    }

    /// Whether `dest` is still the copy installed from this digest.
    pub fn is_installed(stage: &Path, dest: &Path, sha256: &str) -> bool {
        let Some(record) = Self::load(stage) else {
            return false;
        };
        record.sha256 == sha256
            && record
                .installed
                .get(dest)
                .is_some_and(|f| Fingerprint::of(dest).as_ref() == Some(f))
    }

    /// Remember that `dest` now holds this stage's binary.
    pub fn installed(stage: &Path, dest: &Path) {
        let (Some(mut record), Some(fingerprint)) = (Self::load(stage), Fingerprint::of(dest))
        else {
            return;
        };
        record.installed.insert(dest.to_path_buf(), fingerprint);
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
        let dest = dir.path().join("out");
        std::fs::write(&stage, elf_with_go_note("one/1")).unwrap();
        assert_eq!(Record::digest_if_unchanged(&stage), None, "no record yet");
        Record::checked(&stage, "aaaa");
        let size = std::fs::metadata(&stage).unwrap().len();
        assert_eq!(
            Record::digest_if_unchanged(&stage),
            Some(("aaaa".into(), size))
        );

        std::fs::copy(&stage, &dest).unwrap();
        assert!(!Record::is_installed(&stage, &dest, "aaaa"));
        Record::installed(&stage, &dest);
        assert!(Record::is_installed(&stage, &dest, "aaaa"));
        assert!(
            !Record::is_installed(&stage, &dest, "bbbb"),
            "another digest"
        );

        // New content of the same size (another build ID) invalidates both.
        std::fs::write(&dest, elf_with_go_note("two/2")).unwrap();
        assert!(!Record::is_installed(&stage, &dest, "aaaa"));
        std::fs::write(&stage, elf_with_go_note("two/2")).unwrap();
        assert_eq!(Record::digest_if_unchanged(&stage), None);
        // A file without a Go build ID is never trusted.
        std::fs::write(&stage, b"no elf here").unwrap();
        Record::checked(&stage, "cccc");
        assert_eq!(Record::digest_if_unchanged(&stage), None);
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
