//! A bounds-checked, class- and byte-order-neutral view of an ELF file's
//! headers. Every later step (inspect, strip, policy) works on these plain
//! structs, so 32/64-bit and big/little-endian differ in one place only.

use crate::ElfError;

pub const SHT_NOBITS: u32 = 8;
pub const SHT_NOTE: u32 = 7;
pub const SHT_SYMTAB: u32 = 2;
pub const SHT_DYNSYM: u32 = 11;
pub const SHT_SYMTAB_SHNDX: u32 = 18;
pub const SHT_GNU_VERNEED: u32 = 0x6fff_fffe;
pub const SHT_GNU_VERDEF: u32 = 0x6fff_fffd;
pub const SHT_GNU_VERSYM: u32 = 0x6fff_ffff;
pub const SHF_ALLOC: u64 = 0x2;
pub const SHF_COMPRESSED: u64 = 0x800;
pub const SHF_INFO_LINK: u64 = 0x40;
pub const PT_LOAD: u32 = 1;
pub const PT_DYNAMIC: u32 = 2;
pub const PT_INTERP: u32 = 3;
pub const PT_NOTE: u32 = 4;
pub const PT_PHDR: u32 = 6;
pub const PT_GNU_STACK: u32 = 0x6474_e551;
pub const PT_GNU_RELRO: u32 = 0x6474_e552;
pub const PF_X: u32 = 1;
pub const PF_W: u32 = 2;
pub const PF_R: u32 = 4;
/// Section indices at or above this are special (SHN_ABS, SHN_COMMON, ...).
pub const SHN_LORESERVE: u32 = 0xff00;

/// Reads integers of the file's byte order from anywhere, never out of bounds.
#[derive(Clone, Copy)]
pub struct Reader<'a> {
    pub data: &'a [u8],
    pub big_endian: bool,
}

impl<'a> Reader<'a> {
    pub fn bytes(&self, at: u64, len: u64) -> Result<&'a [u8], ElfError> {
        let start = usize::try_from(at).ok();
        let end = at.checked_add(len).and_then(|e| usize::try_from(e).ok());
        match (start, end) {
            (Some(s), Some(e)) if e <= self.data.len() => Ok(&self.data[s..e]),
            _ => Err(ElfError::Truncated { at, len }),
        }
    }
    fn array<const N: usize>(&self, at: u64) -> Result<[u8; N], ElfError> {
        let b = self.bytes(at, N as u64)?;
        let mut out = [0u8; N];
        out.copy_from_slice(b);
        Ok(out)
    }
    pub fn u16(&self, at: u64) -> Result<u16, ElfError> {
        let b = self.array::<2>(at)?;
        Ok(if self.big_endian {
            u16::from_be_bytes(b)
        } else {
            u16::from_le_bytes(b)
        })
    }
    pub fn u32(&self, at: u64) -> Result<u32, ElfError> {
        let b = self.array::<4>(at)?;
        Ok(if self.big_endian {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        })
    }
    pub fn u64(&self, at: u64) -> Result<u64, ElfError> {
        let b = self.array::<8>(at)?;
        Ok(if self.big_endian {
            u64::from_be_bytes(b)
        } else {
            u64::from_le_bytes(b)
        })
    }
    /// A word: 4 bytes in ELF32, 8 in ELF64.
    pub fn word(&self, at: u64, is_64: bool) -> Result<u64, ElfError> {
        if is_64 {
            self.u64(at)
        } else {
            self.u32(at).map(u64::from)
        }
    }
}

/// The fields of the ELF header slipway uses.
#[derive(Debug, Clone)]
pub struct Header {
    pub is_64: bool,
    pub big_endian: bool,
    pub e_type: u16,
    pub machine: u16,
    pub phoff: u64,
    pub phentsize: u16,
    pub phnum: u16,
    pub shoff: u64,
    pub shentsize: u16,
    pub shnum: u16,
    pub shstrndx: u16,
}

impl Header {
    pub fn ehsize(&self) -> u64 {
        if self.is_64 { 64 } else { 52 }
    }
    pub fn min_phentsize(&self) -> u64 {
        if self.is_64 { 56 } else { 32 }
    }
    pub fn min_shentsize(&self) -> u64 {
        if self.is_64 { 64 } else { 40 }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    pub kind: u32,
    pub flags: u32,
    pub offset: u64,
    pub vaddr: u64,
    pub paddr: u64,
    pub filesz: u64,
    pub memsz: u64,
    pub align: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub name: String,
    pub name_offset: u32,
    pub kind: u32,
    pub flags: u64,
    pub addr: u64,
    pub offset: u64,
    pub size: u64,
    pub link: u32,
    pub info: u32,
    pub align: u64,
    pub entsize: u64,
}

impl Section {
    pub fn is_alloc(&self) -> bool {
        self.flags & SHF_ALLOC != 0
    }
    /// Bytes this section occupies in the file (NOBITS and NULL occupy none;
    /// a NULL header's size means nothing, or a section count).
    pub fn file_size(&self) -> u64 {
        if self.kind == SHT_NOBITS || self.kind == 0 {
            0
        } else {
            self.size
        }
    }
}

/// A parsed ELF file: header, program headers and section headers, checked
/// against the file's length.
#[derive(Debug, Clone)]
pub struct Elf<'a> {
    pub data: &'a [u8],
    pub header: Header,
    pub segments: Vec<Segment>,
    pub sections: Vec<Section>,
}

/// The ELF header alone: enough for the program headers, which sit at the
/// start of a file, without the section headers, which usually sit at its end.
pub fn parse_header(data: &[u8]) -> Result<Header, ElfError> {
    if data.len() < 4 || &data[..4] != b"\x7fELF" {
        return Err(ElfError::NotElf);
    }
    if data.len() < 52 {
        return Err(ElfError::Truncated { at: 0, len: 52 });
    }
    let is_64 = match data[4] {
        1 => false,
        2 => true,
        c => {
            return Err(ElfError::malformed(format!(
                "ELF class byte {c} (expected 1 or 2)"
            )));
        }
    };
    let big_endian = match data[5] {
        1 => false,
        2 => true,
        e => {
            return Err(ElfError::malformed(format!(
                "ELF data encoding byte {e} (expected 1 or 2)"
            )));
        }
    };
    let r = Reader { data, big_endian };
    let header = if is_64 {
        Header {
            is_64,
            big_endian,
            e_type: r.u16(16)?,
            machine: r.u16(18)?,
            phoff: r.u64(0x20)?,
            shoff: r.u64(0x28)?,
            phentsize: r.u16(0x36)?,
            phnum: r.u16(0x38)?,
            shentsize: r.u16(0x3a)?,
            shnum: r.u16(0x3c)?,
            shstrndx: r.u16(0x3e)?,
        }
    } else {
        Header {
            is_64,
            big_endian,
            e_type: r.u16(16)?,
            machine: r.u16(18)?,
            phoff: r.u32(0x1c)?.into(),
            shoff: r.u32(0x20)?.into(),
            phentsize: r.u16(0x2a)?,
            phnum: r.u16(0x2c)?,
            shentsize: r.u16(0x2e)?,
            shnum: r.u16(0x30)?,
            shstrndx: r.u16(0x32)?,
        }
    };
    Ok(header)
}

impl<'a> Elf<'a> {
    pub fn parse(data: &'a [u8]) -> Result<Elf<'a>, ElfError> {
        let header = parse_header(data)?;
        let r = Reader {
            data,
            big_endian: header.big_endian,
        };
        let segments = read_segments(&r, &header)?;
        let sections = read_sections(&r, &header)?;
        Ok(Elf {
            data,
            header,
            segments,
            sections,
        })
    }

    pub fn reader(&self) -> Reader<'a> {
        Reader {
            data: self.data,
            big_endian: self.header.big_endian,
        }
    }

    /// A section's bytes in the file (empty for NOBITS).
    pub fn section_data(&self, s: &Section) -> Result<&'a [u8], ElfError> {
        // A NOBITS or empty section's offset is only a position hint; it may
        // lie past the end (strip leaves such hints when it shortens a file).
        if s.file_size() == 0 {
            return Ok(&[]);
        }
        self.reader().bytes(s.offset, s.file_size()).map_err(|_| {
            ElfError::malformed(format!(
                "section {} (offset {:#x}, size {:#x}) runs past the end of the file ({} bytes)",
                s.name,
                s.offset,
                s.size,
                self.data.len()
            ))
        })
    }

    pub fn section_by_name(&self, name: &str) -> Option<&Section> {
        self.sections.iter().find(|s| s.name == name)
    }

    pub fn segment_data(&self, p: &Segment) -> Result<&'a [u8], ElfError> {
        self.reader().bytes(p.offset, p.filesz).map_err(|_| {
            ElfError::malformed(format!(
                "segment at offset {:#x} (size {:#x}) runs past the end of the file",
                p.offset, p.filesz
            ))
        })
    }

    /// The file bytes behind a virtual address range, if one PT_LOAD holds them.
    pub fn bytes_at_vaddr(&self, vaddr: u64, len: u64) -> Option<&'a [u8]> {
        self.segments.iter().find_map(|p| {
            if p.kind != PT_LOAD || vaddr < p.vaddr {
                return None;
            }
            let rel = vaddr - p.vaddr;
            if rel.checked_add(len)? > p.filesz {
                return None;
            }
            self.reader().bytes(p.offset.checked_add(rel)?, len).ok()
        })
    }
}

/// Check that a file's headers parse and that every section and segment lies
/// inside it: the structural promise every output of this crate keeps.
pub fn check_structure(data: &[u8]) -> Result<(), ElfError> {
    let elf = Elf::parse(data)?;
    for s in &elf.sections {
        elf.section_data(s)?;
    }
    for p in &elf.segments {
        elf.segment_data(p)?;
    }
    Ok(())
}

pub(crate) fn read_segments(r: &Reader<'_>, h: &Header) -> Result<Vec<Segment>, ElfError> {
    // Relocatable objects have no program headers; Go's own go.o leaves the
    // count set with an entry size of 0, so ignore both there.
    if h.phnum == 0 || h.e_type == 1 {
        return Ok(Vec::new());
    }
    if u64::from(h.phentsize) < h.min_phentsize() {
        return Err(ElfError::malformed(format!(
            "program header entry size {} is smaller than {}",
            h.phentsize,
            h.min_phentsize()
        )));
    }
    let total = u64::from(h.phnum) * u64::from(h.phentsize);
    r.bytes(h.phoff, total).map_err(|_| {
        ElfError::malformed(format!(
            "{} program headers at offset {:#x} run past the end of the file",
            h.phnum, h.phoff
        ))
    })?;
    let mut out = Vec::with_capacity(h.phnum.into());
    for i in 0..u64::from(h.phnum) {
        let b = h.phoff + i * u64::from(h.phentsize);
        out.push(if h.is_64 {
            Segment {
                kind: r.u32(b)?,
                flags: r.u32(b + 4)?,
                offset: r.u64(b + 8)?,
                vaddr: r.u64(b + 16)?,
                paddr: r.u64(b + 24)?,
                filesz: r.u64(b + 32)?,
                memsz: r.u64(b + 40)?,
                align: r.u64(b + 48)?,
            }
        } else {
            Segment {
                kind: r.u32(b)?,
                offset: r.u32(b + 4)?.into(),
                vaddr: r.u32(b + 8)?.into(),
                paddr: r.u32(b + 12)?.into(),
                filesz: r.u32(b + 16)?.into(),
                memsz: r.u32(b + 20)?.into(),
                flags: r.u32(b + 24)?,
                align: r.u32(b + 28)?.into(),
            }
        });
    }
    Ok(out)
}

fn read_sections(r: &Reader<'_>, h: &Header) -> Result<Vec<Section>, ElfError> {
    if h.shnum == 0 {
        if h.shoff != 0 {
            return Err(ElfError::Unsupported(
                "more than 65279 sections (extended section numbering)".into(),
            ));
        }
        return Ok(Vec::new());
    }
    if u64::from(h.shentsize) < h.min_shentsize() {
        return Err(ElfError::malformed(format!(
            "section header entry size {} is smaller than {}",
            h.shentsize,
            h.min_shentsize()
        )));
    }
    let total = u64::from(h.shnum) * u64::from(h.shentsize);
    r.bytes(h.shoff, total).map_err(|_| {
        ElfError::malformed(format!(
            "{} section headers at offset {:#x} run past the end of the file ({} bytes)",
            h.shnum,
            h.shoff,
            r.data.len()
        ))
    })?;
    if h.shstrndx >= h.shnum {
        return Err(ElfError::malformed(format!(
            "section name table index {} is not below the section count {}",
            h.shstrndx, h.shnum
        )));
    }
    let mut out = Vec::with_capacity(h.shnum.into());
    for i in 0..u64::from(h.shnum) {
        let b = h.shoff + i * u64::from(h.shentsize);
        let w = |off32: u64, off64: u64| {
            if h.is_64 {
                r.u64(b + off64)
            } else {
                r.u32(b + off32).map(u64::from)
            }
        };
        out.push(Section {
            name: String::new(),
            name_offset: r.u32(b)?,
            kind: r.u32(b + 4)?,
            flags: w(8, 8)?,
            addr: w(12, 16)?,
            offset: w(16, 24)?,
            size: w(20, 32)?,
            link: r.u32(b + if h.is_64 { 40 } else { 24 })?,
            info: r.u32(b + if h.is_64 { 44 } else { 28 })?,
            align: w(32, 48)?,
            entsize: w(36, 56)?,
        });
    }
    // e_shstrndx = SHN_UNDEF (0) means the file has no name table; an empty
    // table's offset is only a hint, as for any empty section.
    let names = &out[usize::from(h.shstrndx)];
    let table = if h.shstrndx == 0 || names.file_size() == 0 {
        &[][..]
    } else {
        r.bytes(names.offset, names.file_size()).map_err(|_| {
            ElfError::malformed(format!(
                "the section name table (offset {:#x}, size {:#x}) runs past the end of the file",
                names.offset, names.size
            ))
        })?
    };
    // Index 0 is reserved: the spec makes it SHT_NULL. A file that gives it
    // a type would have it copied into strip's outputs as a section with
    // bytes that are not there.
    if out.first().is_some_and(|s| s.kind != 0) {
        return Err(ElfError::malformed(
            "section 0 is not SHT_NULL (the ELF spec reserves it)".to_string(),
        ));
    }
    for (i, s) in out.iter_mut().enumerate() {
        if (i == 0 || table.is_empty()) && s.name_offset == 0 {
            continue;
        }
        s.name = section_name(table, s.name_offset as usize).ok_or_else(|| {
            ElfError::malformed(format!(
                "section {i}'s name offset {} is outside the name table",
                s.name_offset
            ))
        })?;
    }
    Ok(out)
}

/// Section names are short; a longer "name" means a corrupt table, and
/// bounding the scan keeps a file with 65535 such sections cheap to reject.
fn section_name(table: &[u8], at: usize) -> Option<String> {
    let rest = table.get(at..)?;
    let rest = &rest[..rest.len().min(4096)];
    let end = rest.iter().position(|b| *b == 0)?;
    Some(String::from_utf8_lossy(&rest[..end]).into_owned())
}

/// The NUL-terminated string at `at` (to the end of the table if unterminated).
pub fn c_string(table: &[u8], at: usize) -> Option<String> {
    let rest = table.get(at..)?;
    let end = rest.iter().position(|b| *b == 0).unwrap_or(rest.len());
    Some(String::from_utf8_lossy(&rest[..end]).into_owned())
}
