//! The facts `slipway build` checks on every binary it produces: the right
//! architecture, static when promised, and no glibc newer than the floor.

use crate::ElfError;
use crate::dynamic::{
    compare_versions, glibc_version, read_dynamic, read_version_needs, version_string,
    versioned_imports,
};
use crate::inspect::interpreter;
use crate::parse::Elf;

/// What a build needs to know about a binary it produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElfSummary {
    /// `e_machine` (62 = x86-64, 183 = AArch64, 8 = MIPS, ...).
    pub machine: u16,
    pub is_64: bool,
    pub big_endian: bool,
    /// The `PT_INTERP` program interpreter; `None` for a static executable.
    pub interpreter: Option<String>,
    /// `DT_NEEDED` libraries.
    pub needed: Vec<String>,
}

impl ElfSummary {
    pub fn is_static(&self) -> bool {
        self.interpreter.is_none() && self.needed.is_empty()
    }
}

/// Summarise an ELF file's header, interpreter and needed libraries.
pub fn summarize(data: &[u8]) -> Result<ElfSummary, ElfError> {
    let elf = Elf::parse(data)?;
    Ok(ElfSummary {
        machine: elf.header.machine,
        is_64: elf.header.is_64,
        big_endian: elf.header.big_endian,
        interpreter: interpreter(&elf)?,
        needed: read_dynamic(&elf)?.needed,
    })
}

/// Why a binary does not run on the glibc floor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GlibcFloorViolation {
    /// The newest version needed, e.g. `2.34`.
    pub needs: String,
    /// `GLIBC_PRIVATE` is needed: such a binary runs on one glibc build only.
    pub private: bool,
    /// Imported symbols that need more than the floor: (symbol, version).
    pub symbols: Vec<(String, String)>,
}

impl std::fmt::Display for GlibcFloorViolation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown: Vec<String> = self
            .symbols
            .iter()
            .take(12)
            .map(|(s, v)| format!("{s}@{v}"))
            .collect();
        write!(f, "needs glibc {}", self.needs)?;
        if self.private {
            write!(f, " and GLIBC_PRIVATE")?;
        }
        if !shown.is_empty() {
            write!(f, " for {}", shown.join(", "))?;
            if self.symbols.len() > shown.len() {
                write!(f, " and {} more", self.symbols.len() - shown.len())?;
            }
        }
        Ok(())
    }
}

/// Check that nothing in the binary needs a glibc newer than `floor` (`[2, 28]`)
/// nor `GLIBC_PRIVATE`.
pub fn glibc_floor(data: &[u8], floor: &[u32]) -> Result<Option<GlibcFloorViolation>, ElfError> {
    let elf = Elf::parse(data)?;
    let needs = read_version_needs(&elf)?;
    let too_new = |v: &str| {
        v == "GLIBC_PRIVATE"
            || glibc_version(v).is_some_and(|n| compare_versions(&n, floor).is_gt())
    };
    let mut worst: Option<Vec<u32>> = None;
    let mut private = false;
    for v in needs.libraries.iter().flat_map(|l| l.versions.iter()) {
        if v == "GLIBC_PRIVATE" {
            private = true;
        } else if let Some(n) = glibc_version(v)
            && compare_versions(&n, floor).is_gt()
            && worst
                .as_ref()
                .is_none_or(|w| compare_versions(&n, w).is_gt())
        {
            worst = Some(n);
        }
    }
    if worst.is_none() && !private {
        return Ok(None);
    }
    let symbols = versioned_imports(&elf, &needs)?
        .into_iter()
        .filter(|s| too_new(&s.version))
        .map(|s| (s.name, s.version))
        .collect();
    Ok(Some(GlibcFloorViolation {
        needs: worst
            .map(|w| version_string(&w))
            .unwrap_or_else(|| version_string(floor)),
        private,
        symbols,
    }))
}
