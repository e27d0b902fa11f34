//! Small read-only views for callers that need one fact [`crate::inspect()`]
//! does not report: the program headers as the loader sees them, and the
//! bytes of one named section. Both use this crate's bounds-checked parser.

use crate::ElfError;
use crate::parse::{Elf, Reader, parse_header, read_segments};

pub use crate::parse::{PF_R, PF_W, PF_X, PT_DYNAMIC, PT_GNU_STACK, PT_INTERP, PT_LOAD, Segment};

/// The machine and program headers of an ELF file: what a loader looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgramHeaders {
    /// `e_machine`.
    pub machine: u16,
    /// The size of the ELF header and the file range of the program header
    /// table, which a rewrite may change even where they lie inside a segment.
    pub header_size: u64,
    pub table: (u64, u64),
    pub segments: Vec<Segment>,
}

/// Read the program headers only (the section headers may be absent or damaged).
pub fn program_headers(data: &[u8]) -> Result<ProgramHeaders, ElfError> {
    let header = parse_header(data)?;
    let r = Reader {
        data,
        big_endian: header.big_endian,
    };
    let segments = read_segments(&r, &header)?;
    let table_len = u64::from(header.phnum) * u64::from(header.phentsize);
    Ok(ProgramHeaders {
        machine: header.machine,
        header_size: header.ehsize(),
        table: (header.phoff, header.phoff.saturating_add(table_len)),
        segments,
    })
}

/// The file bytes of the first section called `name`, `None` if there is none.
pub fn section_contents<'a>(data: &'a [u8], name: &str) -> Result<Option<&'a [u8]>, ElfError> {
    let elf = Elf::parse(data)?;
    elf.section_by_name(name)
        .map(|s| elf.section_data(s))
        .transpose()
}
