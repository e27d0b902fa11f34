//! Reading ELF binaries of every Go target: 32- and 64-bit, both byte orders.
//!
//! Today this answers what a build needs to check its result (architecture,
//! static or not); the full inspect/strip toolkit grows here.

use object::elf;
use object::read::elf::{ElfFile32, ElfFile64, FileHeader, ProgramHeader};
use object::{Endianness, FileKind};

#[derive(Debug, thiserror::Error)]
pub enum ElfError {
    #[error("not an ELF file")]
    NotElf,
    #[error("malformed ELF: {0}")]
    Malformed(String),
}

/// What a build needs to know about a binary it produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElfSummary {
    /// `e_machine` (62 = x86-64, 183 = AArch64, 8 = MIPS, ...).
    pub machine: u16,
    pub is_64: bool,
    pub big_endian: bool,
    /// The `PT_INTERP` program interpreter; `None` for a static executable.
    pub interpreter: Option<String>,
}

impl ElfSummary {
    pub fn is_static(&self) -> bool {
        self.interpreter.is_none()
    }
}

/// Summarise an ELF file's header and program interpreter.
pub fn summarize(data: &[u8]) -> Result<ElfSummary, ElfError> {
    match FileKind::parse(data).map_err(|_| ElfError::NotElf)? {
        FileKind::Elf32 => summarize_file(
            &ElfFile32::<Endianness>::parse(data).map_err(malformed)?,
            false,
        ),
        FileKind::Elf64 => summarize_file(
            &ElfFile64::<Endianness>::parse(data).map_err(malformed)?,
            true,
        ),
        _ => Err(ElfError::NotElf),
    }
}

fn malformed(e: object::Error) -> ElfError {
    ElfError::Malformed(e.to_string())
}

fn summarize_file<H: FileHeader<Endian = Endianness>>(
    file: &object::read::elf::ElfFile<'_, H>,
    is_64: bool,
) -> Result<ElfSummary, ElfError> {
    let endian = file.endian();
    let data = file.data();
    let mut interpreter = None;
    for segment in file.elf_program_headers() {
        if segment.p_type(endian) == elf::PT_INTERP {
            let bytes = segment
                .data(endian, data)
                .map_err(|_| ElfError::Malformed("PT_INTERP outside the file".into()))?;
            let text = bytes.split(|b| *b == 0).next().unwrap_or_default();
            interpreter = Some(String::from_utf8_lossy(text).into_owned());
        }
    }
    Ok(ElfSummary {
        machine: file.elf_header().e_machine(endian).0,
        is_64,
        big_endian: !matches!(endian, Endianness::Little),
        interpreter,
    })
}

/// `SHT_MIPS_DWARF`: the section type MIPS toolchains give DWARF sections.
pub const SHT_MIPS_DWARF: u32 = 0x7000_001e;

/// Retype `.debug_*` sections from `SHT_PROGBITS` to `SHT_MIPS_DWARF` in a MIPS
/// object, in place, so lld can merge them with the C toolchain's. Returns how
/// many sections changed. Only section header type fields are written.
pub fn retype_debug_sections_for_mips(data: &mut [u8]) -> Result<usize, ElfError> {
    let headers = SectionHeaders::read(data)?;
    if headers.machine != 8 {
        return Err(ElfError::Malformed(format!(
            "machine {} is not MIPS",
            headers.machine
        )));
    }
    let mut changed = 0;
    for index in 0..headers.count {
        let (name, kind) = headers.name_and_type(data, index)?;
        if kind == elf::SHT_PROGBITS.0 && name.starts_with(b".debug_") {
            headers.set_type(data, index, SHT_MIPS_DWARF)?;
            changed += 1;
        }
    }
    Ok(changed)
}

/// Where the section headers of an ELF file are, read with bounds checks only.
struct SectionHeaders {
    is_64: bool,
    big_endian: bool,
    machine: u16,
    offset: usize,
    entry_size: usize,
    count: usize,
    names_offset: usize,
    names_size: usize,
}

impl SectionHeaders {
    fn read(data: &[u8]) -> Result<SectionHeaders, ElfError> {
        if data.len() < 52 || &data[..4] != b"\x7fELF" {
            return Err(ElfError::NotElf);
        }
        let is_64 = match data[4] {
            1 => false,
            2 => true,
            c => return Err(ElfError::Malformed(format!("ELF class {c}"))),
        };
        let big_endian = match data[5] {
            1 => false,
            2 => true,
            e => return Err(ElfError::Malformed(format!("ELF data encoding {e}"))),
        };
        let r = Reader { data, big_endian };
        let machine = r.u16(18)?;
        let (offset, entry_size, count, names_index) = if is_64 {
            (
                r.u64(0x28)?,
                r.u16(0x3a)? as usize,
                r.u16(0x3c)? as usize,
                r.u16(0x3e)? as usize,
            )
        } else {
            (
                r.u32(0x20)? as u64,
                r.u16(0x2e)? as usize,
                r.u16(0x30)? as usize,
                r.u16(0x32)? as usize,
            )
        };
        let min_entry = if is_64 { 64 } else { 40 };
        if count == 0 {
            return Err(ElfError::Malformed("no section headers".into()));
        }
        if entry_size < min_entry {
            return Err(ElfError::Malformed(format!(
                "section header size {entry_size}"
            )));
        }
        let offset = usize::try_from(offset)
            .map_err(|_| ElfError::Malformed("section header offset".into()))?;
        let end = count
            .checked_mul(entry_size)
            .and_then(|n| n.checked_add(offset));
        if end.is_none_or(|end| end > data.len()) {
            return Err(ElfError::Malformed(
                "section headers run past the end of the file".into(),
            ));
        }
        if names_index >= count {
            return Err(ElfError::Malformed(format!(
                "section name table index {names_index} of {count}"
            )));
        }
        let mut headers = SectionHeaders {
            is_64,
            big_endian,
            machine,
            offset,
            entry_size,
            count,
            names_offset: 0,
            names_size: 0,
        };
        let (names_offset, names_size) = headers.extent(data, names_index)?;
        headers.names_offset = names_offset;
        headers.names_size = names_size;
        Ok(headers)
    }

    fn base(&self, index: usize) -> usize {
        self.offset + index * self.entry_size
    }

    fn reader<'a>(&self, data: &'a [u8]) -> Reader<'a> {
        Reader {
            data,
            big_endian: self.big_endian,
        }
    }

    /// File offset and size of a section.
    fn extent(&self, data: &[u8], index: usize) -> Result<(usize, usize), ElfError> {
        let r = self.reader(data);
        let base = self.base(index);
        let (offset, size) = if self.is_64 {
            (r.u64(base + 0x18)?, r.u64(base + 0x20)?)
        } else {
            (r.u32(base + 0x10)? as u64, r.u32(base + 0x14)? as u64)
        };
        let bad = || ElfError::Malformed(format!("section {index} lies outside the file"));
        let offset = usize::try_from(offset).map_err(|_| bad())?;
        let size = usize::try_from(size).map_err(|_| bad())?;
        if offset.checked_add(size).is_none_or(|end| end > data.len()) {
            return Err(bad());
        }
        Ok((offset, size))
    }

    fn name_and_type<'a>(&self, data: &'a [u8], index: usize) -> Result<(&'a [u8], u32), ElfError> {
        let r = self.reader(data);
        let base = self.base(index);
        let name = r.u32(base)? as usize;
        let kind = r.u32(base + 4)?;
        if name >= self.names_size {
            return Err(ElfError::Malformed(format!(
                "section {index} name offset {name} is outside the name table"
            )));
        }
        let names = &data[self.names_offset + name..self.names_offset + self.names_size];
        let end = names.iter().position(|b| *b == 0).unwrap_or(names.len());
        Ok((&names[..end], kind))
    }

    fn set_type(&self, data: &mut [u8], index: usize, kind: u32) -> Result<(), ElfError> {
        let at = self.base(index) + 4;
        let bytes = if self.big_endian {
            kind.to_be_bytes()
        } else {
            kind.to_le_bytes()
        };
        data.get_mut(at..at + 4)
            .ok_or_else(|| ElfError::Malformed("section header".into()))?
            .copy_from_slice(&bytes);
        Ok(())
    }
}

struct Reader<'a> {
    data: &'a [u8],
    big_endian: bool,
}

impl Reader<'_> {
    fn bytes<const N: usize>(&self, at: usize) -> Result<[u8; N], ElfError> {
        self.data
            .get(at..at + N)
            .and_then(|s| s.try_into().ok())
            .ok_or_else(|| ElfError::Malformed(format!("truncated at offset {at}")))
    }
    fn u16(&self, at: usize) -> Result<u16, ElfError> {
        let b = self.bytes::<2>(at)?;
        Ok(if self.big_endian {
            u16::from_be_bytes(b)
        } else {
            u16::from_le_bytes(b)
        })
    }
    fn u32(&self, at: usize) -> Result<u32, ElfError> {
        let b = self.bytes::<4>(at)?;
        Ok(if self.big_endian {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        })
    }
    fn u64(&self, at: usize) -> Result<u64, ElfError> {
        let b = self.bytes::<8>(at)?;
        Ok(if self.big_endian {
            u64::from_be_bytes(b)
        } else {
            u64::from_le_bytes(b)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_non_elf_and_truncated_input() {
        assert!(matches!(summarize(b"#!/bin/sh\n"), Err(ElfError::NotElf)));
        let mut header = vec![0x7f, b'E', b'L', b'F', 2, 1, 1];
        header.resize(20, 0);
        assert!(summarize(&header).is_err());
    }

    #[test]
    fn retyping_refuses_non_mips_and_survives_garbage() {
        let exe = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        let mut copy = exe.clone();
        assert!(
            matches!(retype_debug_sections_for_mips(&mut copy), Err(ElfError::Malformed(m)) if m.contains("not MIPS"))
        );
        assert_eq!(copy, exe, "a refused file is left as it was");
        // Every truncation of a real header is an error, never a panic.
        for len in [0, 4, 51, 52, 64, 200, 4096] {
            let mut cut = exe[..len.min(exe.len())].to_vec();
            assert!(
                retype_debug_sections_for_mips(&mut cut).is_err(),
                "length {len}"
            );
        }
    }

    #[test]
    fn reads_the_running_test_binary() {
        let exe = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        let summary = summarize(&exe).unwrap();
        assert!(summary.is_64);
        assert!(!summary.big_endian);
    }
}
