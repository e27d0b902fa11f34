//! The ELF note slipway's allocator object carries, and reading it back.
//!
//! Section `.note.slipway.allocator`, one note: owner `slipway`, type 1, the
//! description as text (`mimalloc 3.3.2`). It is allocated, so stripping
//! keeps it, and it is in the binary's own bytes, so what `inspect` and the
//! SBOM report follows from the file with nothing recorded beside it.

use slipway_elf::ElfError;

/// The note's section name.
pub const NOTE_SECTION: &str = ".note.slipway.allocator";

const OWNER: &[u8] = b"slipway\0";
const TYPE_ALLOCATOR: u32 = 1;

/// The allocator a binary says it carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllocatorNote {
    /// `mimalloc`.
    pub name: String,
    /// `3.3.2`.
    pub version: String,
}

/// The allocator linked into an ELF binary by slipway, or `None` when the
/// binary has no allocator note (its C library's malloc, or no C at all).
/// A note that is there but malformed is an error, not a silent `None`.
pub fn detect(elf: &[u8]) -> Result<Option<AllocatorNote>, ElfError> {
    let Some(section) = slipway_elf::section_contents(elf, NOTE_SECTION)? else {
        return Ok(None);
    };
    let big_endian = elf.get(5) == Some(&2);
    let word = |at: usize| -> Result<u32, ElfError> {
        let b: [u8; 4] = section
            .get(at..at + 4)
            .and_then(|s| s.try_into().ok())
            .ok_or_else(|| ElfError::Malformed(format!("{NOTE_SECTION} is truncated")))?;
        Ok(if big_endian {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        })
    };
    let (namesz, descsz, kind) = (word(0)? as usize, word(4)? as usize, word(8)?);
    let bad = |why: &str| ElfError::Malformed(format!("{NOTE_SECTION}: {why}"));
    if namesz != OWNER.len() || section.get(12..12 + namesz) != Some(OWNER) {
        return Err(bad("not owned by slipway"));
    }
    if kind != TYPE_ALLOCATOR {
        return Err(bad(&format!("unknown note type {kind}")));
    }
    let desc_at = 12 + namesz.next_multiple_of(4);
    let desc = section
        .get(desc_at..desc_at.saturating_add(descsz))
        .ok_or_else(|| bad("description runs past the section"))?;
    let text = std::str::from_utf8(desc.strip_suffix(b"\0").unwrap_or(desc))
        .map_err(|_| bad("description is not UTF-8"))?;
    let (name, version) = text
        .split_once(' ')
        .filter(|(n, v)| !n.is_empty() && !v.is_empty())
        .ok_or_else(|| bad(&format!("description {text:?} is not \"NAME VERSION\"")))?;
    Ok(Some(AllocatorNote {
        name: name.to_string(),
        version: version.to_string(),
    }))
}
