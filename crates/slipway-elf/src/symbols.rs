//! The static symbol table (`.symtab`) and the file layout of every section:
//! what `slipway size` attributes bytes with. Dynamic symbols are not read
//! here: they name imports, not bytes of this file.

use serde::Serialize;

use crate::ElfError;
use crate::parse::{Elf, SHN_LORESERVE, SHT_SYMTAB, c_string};

/// `STT_FUNC`, `STT_OBJECT`, ... as the symbol table stores them.
pub const STT_NOTYPE: u8 = 0;
pub const STT_OBJECT: u8 = 1;
pub const STT_FUNC: u8 = 2;
pub const STT_SECTION: u8 = 3;
pub const STT_FILE: u8 = 4;
pub const STT_TLS: u8 = 6;

/// One `.symtab` entry that names bytes: defined in a real section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Symbol {
    pub name: String,
    pub value: u64,
    pub size: u64,
    /// `STT_*`.
    pub kind: u8,
    /// `STB_LOCAL` (0), `STB_GLOBAL` (1), `STB_WEAK` (2), ...
    pub binding: u8,
    /// The defining section's index.
    pub section: u32,
}

/// Every `.symtab` entry defined in a section (not undefined, absolute or
/// common), in table order. Empty when the file has no `.symtab` (stripped).
pub fn symbols(data: &[u8]) -> Result<Vec<Symbol>, ElfError> {
    let elf = Elf::parse(data)?;
    let Some(table) = elf.sections.iter().find(|s| s.kind == SHT_SYMTAB) else {
        return Ok(Vec::new());
    };
    let entries = elf.section_data(table)?;
    let names = elf
        .sections
        .get(table.link as usize)
        .ok_or_else(|| {
            ElfError::malformed(format!(
                ".symtab links to section {}, which does not exist",
                table.link
            ))
        })
        .and_then(|s| elf.section_data(s))?;
    let is_64 = elf.header.is_64;
    let entsize: u64 = if is_64 { 24 } else { 16 };
    let r = crate::parse::Reader {
        data: entries,
        big_endian: elf.header.big_endian,
    };
    let count = entries.len() as u64 / entsize;
    let mut out = Vec::new();
    for i in 1..count {
        let b = i * entsize;
        let (name_off, value, size, info, shndx) = if is_64 {
            (
                r.u32(b)?,
                r.u64(b + 8)?,
                r.u64(b + 16)?,
                r.bytes(b + 4, 1)?[0],
                r.u16(b + 6)?,
            )
        } else {
            (
                r.u32(b)?,
                r.u32(b + 4)?.into(),
                r.u32(b + 8)?.into(),
                r.bytes(b + 12, 1)?[0],
                r.u16(b + 14)?,
            )
        };
        let kind = info & 0xf;
        if shndx == 0
            || u32::from(shndx) >= SHN_LORESERVE
            || kind == STT_SECTION
            || kind == STT_FILE
        {
            continue;
        }
        let name = c_string(names, name_off as usize).ok_or_else(|| {
            ElfError::malformed(format!(
                "symbol {i}'s name offset {name_off} is outside its string table ({} bytes)",
                names.len()
            ))
        })?;
        out.push(Symbol {
            name,
            value,
            size,
            kind,
            binding: info >> 4,
            section: shndx.into(),
        });
    }
    Ok(out)
}

/// One section header as `readelf -S` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SectionHeader {
    pub index: u32,
    pub name: String,
    /// `SHT_*`.
    pub kind: u32,
    pub flags: u64,
    pub addr: u64,
    pub offset: u64,
    /// `sh_size` (for NOBITS, memory only).
    pub size: u64,
    /// Bytes it occupies in the file (0 for NOBITS).
    pub file_size: u64,
}

/// Where everything in an ELF file lies: the headers and every section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileLayout {
    pub machine: u16,
    pub is_64: bool,
    pub big_endian: bool,
    /// The ELF header's size (at offset 0).
    pub header_size: u64,
    /// File ranges (start, length) of the program and section header tables.
    pub program_headers: (u64, u64),
    pub section_headers: (u64, u64),
    pub sections: Vec<SectionHeader>,
}

/// The layout of an ELF file (the section table in header order).
pub fn file_layout(data: &[u8]) -> Result<FileLayout, ElfError> {
    let elf = Elf::parse(data)?;
    let h = &elf.header;
    let mut sections = Vec::with_capacity(elf.sections.len());
    for (i, s) in elf.sections.iter().enumerate() {
        // The same bounds check every reader of this crate makes.
        elf.section_data(s)?;
        sections.push(SectionHeader {
            index: i as u32,
            name: s.name.clone(),
            kind: s.kind,
            flags: s.flags,
            addr: s.addr,
            offset: s.offset,
            size: s.size,
            file_size: s.file_size(),
        });
    }
    let phnum = if h.e_type == 1 { 0 } else { u64::from(h.phnum) };
    Ok(FileLayout {
        machine: h.machine,
        is_64: h.is_64,
        big_endian: h.big_endian,
        header_size: h.ehsize(),
        program_headers: (h.phoff, phnum * u64::from(h.phentsize)),
        section_headers: (h.shoff, u64::from(h.shnum) * u64::from(h.shentsize)),
        sections,
    })
}
