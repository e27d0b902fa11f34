//! Reading and rewriting ELF binaries of every Go target: 32- and 64-bit,
//! both byte orders, one implementation for all of them.
//!
//! - [`inspect()`]: architecture, linking, glibc floor, hardening, sections and
//!   Go build info of a binary;
//! - [`strip()`] / [`strip_file`]: strip and split debug info natively;
//! - [`summarize`] and [`glibc_floor`]: what `slipway build` checks;
//! - [`symbols()`], [`file_layout`] and [`go_functions`]: where the bytes
//!   are, for `slipway size`;
//! - [`program_headers`] and [`section_contents`]: single facts for other crates.

mod buildinfo;
mod dynamic;
mod files;
mod inspect;
mod mips;
mod parse;
mod pclntab;
mod policy;
mod runtime;
mod strip;
mod symbols;
mod views;

pub use buildinfo::{GoBuildInfo, Module, Settings, parse_modinfo};
pub use dynamic::{NeededVersions, VersionedSymbol, compare_versions, glibc_version};
pub use files::{StripReport, strip_file, write_output};
pub use inspect::{Debuglink, Inspection, SectionInfo, arch_name, go_build_id, inspect};
pub use mips::{SHT_MIPS_DWARF, retype_debug_sections_for_mips};
pub use parse::check_structure;
pub use pclntab::{
    GoFunc, GoFuncTable, GoModuleRanges, go_functions, go_module_ranges, parse_pclntab,
};
pub use policy::{ElfSummary, GlibcFloorViolation, glibc_floor, summarize};
pub use runtime::{RuntimeNeeds, runtime_needs};
pub use strip::{Output, Piece, Split, StripMode, debuglink_contents, is_debug_section, strip};
pub use symbols::{
    FileLayout, STT_FILE, STT_FUNC, STT_NOTYPE, STT_OBJECT, STT_SECTION, STT_TLS, SectionHeader,
    Symbol, file_layout, symbols,
};
pub use views::{
    PF_R, PF_W, PF_X, PT_DYNAMIC, PT_GNU_STACK, PT_INTERP, PT_LOAD, ProgramHeaders, Segment,
    program_headers, section_contents,
};

/// What went wrong reading or rewriting an ELF file.
#[derive(Debug, thiserror::Error)]
pub enum ElfError {
    #[error("not an ELF file (no \\x7fELF magic at the start)")]
    NotElf,
    #[error("truncated ELF file: needed {len} bytes at offset {at:#x}")]
    Truncated { at: u64, len: u64 },
    #[error("malformed ELF: {0}")]
    Malformed(String),
    #[error("unsupported ELF file: {0}")]
    Unsupported(String),
    #[error("{what} {}: {source}", path.display())]
    Io {
        what: &'static str,
        path: std::path::PathBuf,
        source: std::io::Error,
    },
}

impl ElfError {
    pub(crate) fn malformed(what: impl Into<String>) -> ElfError {
        ElfError::Malformed(what.into())
    }
}
