//! Stripping and splitting debug information without moving a single loaded
//! byte.
//!
//! Everything the loader maps (ELF header, program headers, every segment and
//! allocated section) is kept at its offset, so the stripped binary runs
//! exactly as the original did: only the non-allocated sections after it are
//! dropped or re-laid out, then a new `.gnu_debuglink`, name table and section
//! header table are appended. This is why it works for Go's MIPS binaries that
//! GNU objcopy refuses (it rebuilds segments from sections; this never does),
//! and why it costs little more than a copy of the kept bytes. The output is a
//! list of slices borrowed from the input plus a few small owned buffers, so
//! nothing large is copied in memory before it is written.

use crate::ElfError;
use crate::parse::{
    Elf, Header, PT_LOAD, PT_PHDR, SHF_INFO_LINK, SHN_LORESERVE, SHT_NOBITS, SHT_NOTE, SHT_SYMTAB,
    SHT_SYMTAB_SHNDX, Section,
};

const SHT_PROGBITS: u32 = 1;
const SHT_STRTAB: u32 = 3;
const SHT_RELA: u32 = 4;
const SHT_REL: u32 = 9;
/// MIPS toolchains give DWARF sections their own type.
pub const SHT_MIPS_DWARF: u32 = 0x7000_001e;
const ET_REL: u16 = 1;

/// What to remove from the binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StripMode {
    /// DWARF only (`.debug_*`, `.zdebug_*`): symbols stay for backtraces and profilers.
    Debug,
    /// DWARF, `.symtab`/`.strtab` and `.comment`: the smallest binary that runs.
    All,
}

impl std::str::FromStr for StripMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "debug" => Ok(StripMode::Debug),
            "all" => Ok(StripMode::All),
            _ => Err(format!("unknown strip mode `{s}`: use debug or all")),
        }
    }
}

/// Part of an output file: borrowed from the input, or made here.
#[derive(Debug, Clone)]
pub enum Piece<'a> {
    Borrowed(&'a [u8]),
    Owned(Vec<u8>),
    Zeros(usize),
}

impl Piece<'_> {
    pub fn len(&self) -> usize {
        match self {
            Piece::Borrowed(b) => b.len(),
            Piece::Owned(b) => b.len(),
            Piece::Zeros(n) => *n,
        }
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// An output file as pieces, in order.
#[derive(Debug, Clone, Default)]
pub struct Output<'a> {
    pub pieces: Vec<Piece<'a>>,
    pub len: u64,
}

impl<'a> Output<'a> {
    fn push(&mut self, p: Piece<'a>) {
        self.len += p.len() as u64;
        if !p.is_empty() {
            self.pieces.push(p);
        }
    }
    /// Pad with zeros to a multiple of `align`. A corrupt alignment (not a
    /// power of two, or absurdly large) is treated as none rather than
    /// padding the file by exabytes.
    fn align(&mut self, align: u64) {
        let align = if align.is_power_of_two() && align <= 1 << 16 {
            align
        } else {
            1
        };
        let rem = self.len % align;
        if rem != 0 {
            self.push(Piece::Zeros((align - rem) as usize));
        }
    }
    pub fn to_vec(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(self.len as usize);
        for p in &self.pieces {
            match p {
                Piece::Borrowed(b) => v.extend_from_slice(b),
                Piece::Owned(b) => v.extend_from_slice(b),
                Piece::Zeros(n) => v.resize(v.len() + n, 0),
            }
        }
        v
    }
    pub fn crc32(&self) -> u32 {
        let mut h = crc32fast::Hasher::new();
        let zeros = [0u8; 4096];
        for p in &self.pieces {
            match p {
                Piece::Borrowed(b) => h.update(b),
                Piece::Owned(b) => h.update(b),
                Piece::Zeros(n) => {
                    let mut left = *n;
                    while left > 0 {
                        let k = left.min(zeros.len());
                        h.update(&zeros[..k]);
                        left -= k;
                    }
                }
            }
        }
        h.finalize()
    }
    pub fn write_to(&self, w: &mut impl std::io::Write) -> std::io::Result<()> {
        let zeros = [0u8; 4096];
        for p in &self.pieces {
            match p {
                Piece::Borrowed(b) => w.write_all(b)?,
                Piece::Owned(b) => w.write_all(b)?,
                Piece::Zeros(n) => {
                    let mut left = *n;
                    while left > 0 {
                        let k = left.min(zeros.len());
                        w.write_all(&zeros[..k])?;
                        left -= k;
                    }
                }
            }
        }
        Ok(())
    }
}

/// Whether a section holds DWARF.
pub fn is_debug_section(s: &Section) -> bool {
    !s.is_alloc()
        && (s.name.starts_with(".debug")
            || s.name.starts_with(".zdebug")
            || s.kind == SHT_MIPS_DWARF)
}

/// The two files a split produces.
#[derive(Debug, Clone)]
pub struct Split<'a> {
    pub stripped: Output<'a>,
    /// The debug file, when a debuglink name was given.
    pub debug: Option<Output<'a>>,
    /// The debug file's CRC-32, as recorded in `.gnu_debuglink`.
    pub debug_crc: Option<u32>,
}

/// Strip `data`; with `debuglink`, also build the debug file and link the
/// stripped binary to it under that file name.
pub fn strip<'a>(
    data: &'a [u8],
    mode: StripMode,
    debuglink: Option<&str>,
) -> Result<Split<'a>, ElfError> {
    let elf = Elf::parse(data)?;
    if elf.header.e_type == ET_REL {
        return Err(ElfError::Unsupported(
            "relocatable object files (.o): strip the linked executable instead".into(),
        ));
    }
    if elf.sections.is_empty() {
        return Err(ElfError::Unsupported(
            "the file has no section headers, so there is nothing to strip".into(),
        ));
    }
    // Everything is checked up front, so the output never points past its end.
    for s in &elf.sections {
        elf.section_data(s)?;
    }
    for p in &elf.segments {
        elf.segment_data(p)?;
    }
    if let Some(name) = debuglink
        && (name.is_empty() || name.contains('/') || name.contains('\0'))
    {
        return Err(ElfError::Unsupported(format!(
            "debug file name `{name}` must be a plain file name"
        )));
    }
    let debug = match debuglink {
        Some(_) => Some(debug_file(&elf)?),
        None => None,
    };
    let debug_crc = debug.as_ref().map(Output::crc32);
    let link = match (debuglink, debug_crc) {
        (Some(name), Some(crc)) => Some(debuglink_contents(name, crc, elf.header.big_endian)),
        _ => None,
    };
    let stripped = stripped_file(&elf, mode, link)?;
    Ok(Split {
        stripped,
        debug,
        debug_crc,
    })
}

/// `.gnu_debuglink` contents: name, NUL, padding to 4, CRC-32 in file order.
pub fn debuglink_contents(name: &str, crc: u32, big_endian: bool) -> Vec<u8> {
    let mut v = name.as_bytes().to_vec();
    v.push(0);
    while !v.len().is_multiple_of(4) {
        v.push(0);
    }
    v.extend_from_slice(&if big_endian {
        crc.to_be_bytes()
    } else {
        crc.to_le_bytes()
    });
    v
}

/// Which sections the stripped binary loses.
fn removed_sections(elf: &Elf<'_>, mode: StripMode) -> Vec<bool> {
    let secs = &elf.sections;
    let shstrndx = usize::from(elf.header.shstrndx);
    let mut removed: Vec<bool> = secs
        .iter()
        .enumerate()
        .map(|(i, s)| {
            if i == 0 || s.is_alloc() {
                return false;
            }
            // Replaced by a fresh one (or dropped) every time.
            if s.name == ".gnu_debuglink" || i == shstrndx {
                return true;
            }
            is_debug_section(s)
                || (mode == StripMode::All
                    && (s.kind == SHT_SYMTAB || s.kind == SHT_SYMTAB_SHNDX || s.name == ".comment"))
        })
        .collect();
    // Relocations for removed sections go too (binaries linked with --emit-relocs).
    for (i, s) in secs.iter().enumerate() {
        if !s.is_alloc()
            && (s.kind == SHT_REL || s.kind == SHT_RELA)
            && removed.get(s.info as usize).copied().unwrap_or(false)
        {
            removed[i] = true;
        }
    }
    if mode == StripMode::All {
        // A string table nobody kept links to any more.
        let mut linked = vec![false; secs.len()];
        for (j, o) in secs.iter().enumerate() {
            if !removed[j]
                && (o.link as usize) != j
                && let Some(l) = linked.get_mut(o.link as usize)
            {
                *l = true;
            }
        }
        for (i, s) in secs.iter().enumerate() {
            if s.kind == SHT_STRTAB && !s.is_alloc() && i != shstrndx && !linked[i] {
                removed[i] = true;
            }
        }
    }
    removed
}

/// The end of everything the loader or the ELF header needs, in the file.
fn loaded_end(elf: &Elf<'_>) -> u64 {
    let h = &elf.header;
    let mut end = h.ehsize();
    if h.phnum > 0 {
        end = end.max(h.phoff + u64::from(h.phnum) * u64::from(h.phentsize));
    }
    for p in &elf.segments {
        end = end.max(p.offset.saturating_add(p.filesz));
    }
    for s in &elf.sections {
        if s.is_alloc() && s.kind != SHT_NOBITS {
            end = end.max(s.offset.saturating_add(s.size));
        }
    }
    end.min(elf.data.len() as u64)
}

/// The last loadable segment often ends in padding after its last section
/// (Go rounds it). When those bytes are zeros the loader supplies them anyway
/// (they are within `p_memsz`), so `p_filesz` can end at the section, as
/// objcopy does, and the non-loaded tail starts earlier. Returns the new
/// program headers and loaded end, or `None` when nothing can be trimmed.
fn trim_zero_tail(elf: &Elf<'_>, prefix_end: u64) -> Option<(Vec<crate::parse::Segment>, u64)> {
    let h = &elf.header;
    let table_end = h
        .phoff
        .checked_add(u64::from(h.phnum) * u64::from(h.phentsize))?;
    if h.phnum == 0
        || u64::from(h.phentsize) != h.min_phentsize()
        || h.phoff < h.ehsize()
        || table_end > prefix_end
    {
        return None;
    }
    let mut segments = elf.segments.clone();
    let mut changed = false;
    for p in segments.iter_mut().filter(|p| p.kind == PT_LOAD) {
        let end = p.offset.checked_add(p.filesz)?;
        if end != prefix_end || p.memsz < p.filesz {
            continue;
        }
        let content_end = elf
            .sections
            .iter()
            .filter(|s| s.is_alloc() && s.kind != SHT_NOBITS && s.size > 0)
            .filter(|s| s.offset >= p.offset && s.offset + s.size <= end)
            .map(|s| s.offset + s.size)
            .max()?;
        let tail = elf.data.get(content_end as usize..end as usize)?;
        if content_end < end && tail.iter().all(|b| *b == 0) {
            p.filesz = content_end - p.offset;
            changed = true;
        }
    }
    if !changed {
        return None;
    }
    // Anything else (another segment, a section, the tables) may still need the bytes.
    let mut new_end = h.ehsize().max(table_end);
    for p in &segments {
        new_end = new_end.max(p.offset.saturating_add(p.filesz));
    }
    for s in &elf.sections {
        if s.is_alloc() && s.kind != SHT_NOBITS {
            new_end = new_end.max(s.offset + s.size);
        }
    }
    (new_end < prefix_end).then_some((segments, new_end))
}

fn stripped_file<'a>(
    elf: &Elf<'a>,
    mode: StripMode,
    link: Option<Vec<u8>>,
) -> Result<Output<'a>, ElfError> {
    let h = &elf.header;
    let removed = removed_sections(elf, mode);
    let mut map: Vec<Option<u32>> = Vec::with_capacity(elf.sections.len());
    let mut next = 0u32;
    for r in &removed {
        map.push(if *r {
            None
        } else {
            next += 1;
            Some(next - 1)
        });
    }
    let remap = |i: u32| -> u32 {
        if i == 0 || i >= SHN_LORESERVE {
            return i;
        }
        map.get(i as usize).copied().flatten().unwrap_or(0)
    };
    let changes_indices = map
        .iter()
        .enumerate()
        .any(|(i, m)| m.is_some_and(|m| m as usize != i));

    let mut prefix_end = loaded_end(elf);
    let trimmed = trim_zero_tail(elf, prefix_end);
    if let Some((_, end)) = &trimmed {
        prefix_end = *end;
    }
    // Every loaded byte is kept as it is, `.dynsym` included: the loader reads
    // it from memory, and rewriting a section index there could turn a
    // defined symbol into SHN_UNDEF. Its other section indices matter to no
    // loader; they may go stale when non-loaded sections before them go.
    let prefix = &elf.data[..prefix_end as usize];

    let mut out = Output::default();
    // The header is rewritten at the end; reserve its bytes now.
    out.push(Piece::Zeros(h.ehsize() as usize));
    match trimmed {
        Some((segments, _)) => {
            // Same bytes, except the program headers with the trimmed sizes.
            let (start, end) = (h.ehsize() as usize, h.phoff as usize);
            let table_end = end + usize::from(h.phnum) * usize::from(h.phentsize);
            let mut table = Vec::with_capacity(table_end - end);
            for seg in &segments {
                encode_segment(&mut table, h, seg);
            }
            out.push(Piece::Borrowed(&prefix[start..end]));
            out.push(Piece::Owned(table));
            out.push(Piece::Borrowed(&prefix[table_end..]));
        }
        None => out.push(Piece::Borrowed(&prefix[h.ehsize() as usize..])),
    }

    let mut rebuilt = if mode == StripMode::Debug {
        rebuild_symbols(elf, &removed, &remap)?
    } else {
        Vec::new()
    };

    let mut names = StringTable::default();
    let name_offsets: Vec<u32> = elf
        .sections
        .iter()
        .enumerate()
        .map(|(i, s)| {
            if i == 0 || removed[i] {
                0
            } else {
                names.add(&s.name)
            }
        })
        .collect();
    let link_name = link.as_ref().map(|_| names.add(".gnu_debuglink"));
    let shstrtab_name = names.add(".shstrtab");
    let table = names.finish();
    // The small new tables go first: they fill the alignment gap after the
    // loaded bytes instead of adding padding at the end.
    let mut new_headers = Vec::new();
    if let (Some(link), Some(name_offset)) = (link, link_name) {
        out.align(4);
        new_headers.push(Section {
            name: ".gnu_debuglink".into(),
            name_offset,
            kind: SHT_PROGBITS,
            flags: 0,
            addr: 0,
            offset: out.len,
            size: link.len() as u64,
            link: 0,
            info: 0,
            align: 4,
            entsize: 0,
        });
        out.push(Piece::Owned(link));
    }
    new_headers.push(Section {
        name: ".shstrtab".into(),
        name_offset: shstrtab_name,
        kind: SHT_STRTAB,
        flags: 0,
        addr: 0,
        offset: out.len,
        size: table.len() as u64,
        link: 0,
        info: 0,
        align: 1,
        entsize: 0,
    });
    out.push(Piece::Owned(table));

    let mut headers: Vec<Section> = Vec::new();
    for (i, s) in elf.sections.iter().enumerate() {
        if removed[i] {
            continue;
        }
        let mut n = s.clone();
        if let Some(pos) = rebuilt.iter().position(|(index, _, _)| *index == i) {
            let (_, bytes, info) = rebuilt.swap_remove(pos);
            n.name_offset = name_offsets[i];
            n.link = remap(s.link);
            if let Some(info) = info {
                n.info = info;
            }
            out.align(s.align);
            n.offset = out.len;
            n.size = bytes.len() as u64;
            out.push(Piece::Owned(bytes));
            headers.push(n);
            continue;
        }
        n.name_offset = name_offsets[i];
        n.link = remap(s.link);
        if s.flags & SHF_INFO_LINK != 0 || s.kind == SHT_REL || s.kind == SHT_RELA {
            n.info = remap(s.info);
        }
        let in_prefix = s.kind == SHT_NOBITS || s.offset.saturating_add(s.size) <= prefix_end;
        if i != 0 && !in_prefix {
            out.align(s.align);
            n.offset = out.len;
            let bytes = elf.section_data(s)?;
            if s.kind == SHT_SYMTAB && changes_indices {
                let mut copy = bytes.to_vec();
                remap_symbols(&mut copy, h, &remap);
                out.push(Piece::Owned(copy));
            } else {
                out.push(Piece::Borrowed(bytes));
            }
        } else if s.kind == SHT_SYMTAB && changes_indices && i != 0 {
            // A symbol table inside the loaded prefix: rare; patch a copy at the end.
            out.align(s.align);
            n.offset = out.len;
            let mut copy = elf.section_data(s)?.to_vec();
            remap_symbols(&mut copy, h, &remap);
            out.push(Piece::Owned(copy));
        }
        headers.push(n);
    }
    let shstrndx = headers.len() + new_headers.len() - 1;
    headers.extend(new_headers);
    finish(elf, out, headers, shstrndx, None)
}

/// Append the section header table and write the ELF header into piece 0.
fn finish<'a>(
    elf: &Elf<'a>,
    mut out: Output<'a>,
    headers: Vec<Section>,
    shstrndx: usize,
    phoff: Option<u64>,
) -> Result<Output<'a>, ElfError> {
    let h = &elf.header;
    if headers.len() >= SHN_LORESERVE as usize {
        return Err(ElfError::Unsupported("more than 65279 sections".into()));
    }
    out.align(if h.is_64 { 8 } else { 4 });
    let shoff = out.len;
    let mut table = Vec::with_capacity(headers.len() * h.min_shentsize() as usize);
    for s in &headers {
        encode_section(&mut table, h, s);
    }
    out.push(Piece::Owned(table));

    let mut ehdr = elf.data[..h.ehsize() as usize].to_vec();
    let w = Writer {
        big_endian: h.big_endian,
    };
    if h.is_64 {
        w.put_u64(&mut ehdr, 0x28, shoff);
        w.put_u16(&mut ehdr, 0x3a, h.min_shentsize() as u16);
        w.put_u16(&mut ehdr, 0x3c, headers.len() as u16);
        w.put_u16(&mut ehdr, 0x3e, shstrndx as u16);
    } else {
        let shoff = u32::try_from(shoff)
            .map_err(|_| ElfError::Unsupported("output over 4 GiB for an ELF32 file".into()))?;
        w.put_u32(&mut ehdr, 0x20, shoff);
        w.put_u16(&mut ehdr, 0x2e, h.min_shentsize() as u16);
        w.put_u16(&mut ehdr, 0x30, headers.len() as u16);
        w.put_u16(&mut ehdr, 0x32, shstrndx as u16);
    }
    if let Some(phoff) = phoff {
        if h.is_64 {
            w.put_u64(&mut ehdr, 0x20, phoff);
            w.put_u16(&mut ehdr, 0x36, h.min_phentsize() as u16);
        } else {
            w.put_u32(&mut ehdr, 0x1c, phoff as u32);
            w.put_u16(&mut ehdr, 0x2a, h.min_phentsize() as u16);
        }
    }
    out.pieces[0] = Piece::Owned(ehdr);
    Ok(out)
}

/// The debug file: same section table, loaded contents turned into NOBITS,
/// DWARF, symbols and notes kept.
fn debug_file<'a>(elf: &Elf<'a>) -> Result<Output<'a>, ElfError> {
    let h = &elf.header;
    let mut out = Output::default();
    out.push(Piece::Zeros(h.ehsize() as usize));
    let mut phoff = None;
    if h.phnum > 0 {
        let at = out.len;
        let mut table = Vec::new();
        let table_size = u64::from(h.phnum) * h.min_phentsize();
        let phdr_vaddr = elf
            .segments
            .iter()
            .find(|p| p.kind == PT_PHDR)
            .map(|p| p.vaddr);
        for p in &elf.segments {
            let mut p = p.clone();
            // No loaded bytes live here: the segments describe the real binary,
            // except the program header table itself, which sits where it did.
            p.filesz = 0;
            p.offset = 0;
            if h.phoff == at {
                if p.kind == PT_PHDR {
                    p.offset = at;
                    p.filesz = table_size;
                } else if p.kind == PT_LOAD
                    && phdr_vaddr.is_some_and(|v| v >= p.vaddr && v - p.vaddr == at)
                {
                    p.filesz = at + table_size;
                }
            }
            encode_segment(&mut table, h, &p);
        }
        out.push(Piece::Owned(table));
        phoff = Some(at);
    }
    let mut headers = Vec::with_capacity(elf.sections.len());
    for (i, s) in elf.sections.iter().enumerate() {
        let mut n = s.clone();
        if i == 0 {
            headers.push(n);
            continue;
        }
        // The name table always keeps its bytes, even if flagged as loaded.
        let keep_data = s.kind != SHT_NOBITS
            && (!s.is_alloc() || s.kind == SHT_NOTE || i == usize::from(h.shstrndx));
        if keep_data {
            out.align(s.align);
            n.offset = out.len;
            out.push(Piece::Borrowed(elf.section_data(s)?));
        } else {
            if s.is_alloc() {
                n.kind = SHT_NOBITS;
            }
            n.offset = out.len;
        }
        headers.push(n);
    }
    finish(elf, out, headers, usize::from(h.shstrndx), phoff)
}

/// Symbols that only describe debug info: source file names (`STT_FILE`)
/// and anything defined in a removed section. Dropping them, and the names
/// only they used, is what `objcopy --strip-debug` does too.
///
/// Returns the new `.symtab` (with its new `sh_info`) and `.strtab` contents,
/// keyed by section index; nothing when another section refers to symbol
/// numbers (relocations) or shares the string table, since renumbering would
/// break those.
#[allow(clippy::type_complexity)]
fn rebuild_symbols(
    elf: &Elf<'_>,
    removed: &[bool],
    remap: &dyn Fn(u32) -> u32,
) -> Result<Vec<(usize, Vec<u8>, Option<u32>)>, ElfError> {
    let h = &elf.header;
    let Some(sym_index) = elf.sections.iter().position(|s| s.kind == SHT_SYMTAB) else {
        return Ok(Vec::new());
    };
    if removed[sym_index] {
        return Ok(Vec::new());
    }
    let symtab = &elf.sections[sym_index];
    let str_index = symtab.link as usize;
    let shared = elf.sections.iter().enumerate().any(|(j, o)| {
        !removed[j]
            && j != sym_index
            && (o.link as usize == sym_index || o.link as usize == str_index)
    });
    let Some(strtab) = elf.sections.get(str_index) else {
        return Ok(Vec::new());
    };
    if shared || str_index == 0 || str_index == usize::from(h.shstrndx) || strtab.kind != SHT_STRTAB
    {
        return Ok(Vec::new());
    }
    let (size, name_at, info_at, shndx_at) = if h.is_64 {
        (24, 0, 4, 6)
    } else {
        (16, 0, 12, 14)
    };
    let syms = elf.section_data(symtab)?;
    let strings = elf.section_data(strtab)?;
    let r = crate::parse::Reader {
        data: syms,
        big_endian: h.big_endian,
    };
    let w = Writer {
        big_endian: h.big_endian,
    };
    let mut kept: Vec<(Vec<u8>, &[u8])> = Vec::with_capacity(syms.len() / size);
    let mut locals = 0u32;
    for (k, sym) in syms.chunks_exact(size).enumerate() {
        let at = (k * size) as u64;
        let info = sym[info_at];
        let shndx = u32::from(r.u16(at + shndx_at as u64)?);
        let in_removed = shndx != 0
            && shndx < SHN_LORESERVE
            && removed.get(shndx as usize).copied().unwrap_or(false);
        if k != 0 && (info & 0xf == 4 || in_removed) {
            continue;
        }
        let mut out = sym.to_vec();
        let name_off = r.u32(at + name_at as u64)? as usize;
        let name = strings
            .get(name_off..)
            .map(|rest| &rest[..rest.iter().position(|b| *b == 0).unwrap_or(rest.len())])
            .unwrap_or_default();
        w.put_u16(&mut out, shndx_at, remap(shndx) as u16);
        if (k as u64) < u64::from(symtab.info) {
            locals += 1;
        }
        kept.push((out, name));
    }
    // Names that end another name share its bytes, as linkers do.
    let mut unique: Vec<&[u8]> = kept
        .iter()
        .map(|(_, n)| *n)
        .filter(|n| !n.is_empty())
        .collect();
    unique.sort_unstable_by(|a, b| a.iter().rev().cmp(b.iter().rev()));
    unique.dedup();
    let mut new_strings = StringTable::default();
    let mut offsets: std::collections::HashMap<&[u8], u32> =
        std::collections::HashMap::with_capacity(unique.len());
    let mut anchor: Option<(&[u8], u32)> = None;
    for name in unique.iter().rev() {
        if let Some((longer, at)) = anchor
            && longer.ends_with(name)
        {
            offsets.insert(name, at + (longer.len() - name.len()) as u32);
            continue;
        }
        let at = new_strings.add_bytes(name);
        offsets.insert(name, at);
        anchor = Some((name, at));
    }
    let mut new_syms = Vec::with_capacity(kept.len() * size);
    for (mut sym, name) in kept {
        let off = if name.is_empty() {
            0
        } else {
            offsets.get(name).copied().unwrap_or(0)
        };
        w.put_u32(&mut sym, name_at, off);
        new_syms.extend_from_slice(&sym);
    }
    Ok(vec![
        (sym_index, new_syms, Some(locals)),
        (str_index, new_strings.finish(), None),
    ])
}

/// Rewrite every symbol's section index through `remap`.
fn remap_symbols(table: &mut [u8], h: &Header, remap: &dyn Fn(u32) -> u32) {
    let (size, at) = if h.is_64 { (24, 6) } else { (16, 14) };
    let w = Writer {
        big_endian: h.big_endian,
    };
    for sym in table.chunks_exact_mut(size) {
        let b = [sym[at], sym[at + 1]];
        let old = if h.big_endian {
            u16::from_be_bytes(b)
        } else {
            u16::from_le_bytes(b)
        };
        let new = remap(u32::from(old));
        if new != u32::from(old) {
            w.put_u16(sym, at, new as u16);
        }
    }
}

/// A section name table under construction.
#[derive(Default)]
struct StringTable {
    bytes: Vec<u8>,
}

impl StringTable {
    fn add(&mut self, name: &str) -> u32 {
        self.add_bytes(name.as_bytes())
    }
    fn add_bytes(&mut self, name: &[u8]) -> u32 {
        if self.bytes.is_empty() {
            self.bytes.push(0);
        }
        let at = self.bytes.len() as u32;
        self.bytes.extend_from_slice(name);
        self.bytes.push(0);
        at
    }
    fn finish(mut self) -> Vec<u8> {
        if self.bytes.is_empty() {
            self.bytes.push(0);
        }
        self.bytes
    }
}

struct Writer {
    big_endian: bool,
}

impl Writer {
    fn put_u16(&self, buf: &mut [u8], at: usize, v: u16) {
        let b = if self.big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        };
        buf[at..at + 2].copy_from_slice(&b);
    }
    fn put_u32(&self, buf: &mut [u8], at: usize, v: u32) {
        let b = if self.big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        };
        buf[at..at + 4].copy_from_slice(&b);
    }
    fn put_u64(&self, buf: &mut [u8], at: usize, v: u64) {
        let b = if self.big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        };
        buf[at..at + 8].copy_from_slice(&b);
    }
}

fn push_u32(buf: &mut Vec<u8>, be: bool, v: u32) {
    buf.extend_from_slice(&if be { v.to_be_bytes() } else { v.to_le_bytes() });
}
fn push_u64(buf: &mut Vec<u8>, be: bool, v: u64) {
    buf.extend_from_slice(&if be { v.to_be_bytes() } else { v.to_le_bytes() });
}
fn push_word(buf: &mut Vec<u8>, h: &Header, v: u64) {
    if h.is_64 {
        push_u64(buf, h.big_endian, v)
    } else {
        push_u32(buf, h.big_endian, v as u32)
    }
}

fn encode_section(buf: &mut Vec<u8>, h: &Header, s: &Section) {
    let be = h.big_endian;
    push_u32(buf, be, s.name_offset);
    push_u32(buf, be, s.kind);
    push_word(buf, h, s.flags);
    push_word(buf, h, s.addr);
    push_word(buf, h, s.offset);
    push_word(buf, h, s.size);
    push_u32(buf, be, s.link);
    push_u32(buf, be, s.info);
    push_word(buf, h, s.align);
    push_word(buf, h, s.entsize);
}

fn encode_segment(buf: &mut Vec<u8>, h: &Header, p: &crate::parse::Segment) {
    let be = h.big_endian;
    push_u32(buf, be, p.kind);
    if h.is_64 {
        push_u32(buf, be, p.flags);
        push_u64(buf, be, p.offset);
        push_u64(buf, be, p.vaddr);
        push_u64(buf, be, p.paddr);
        push_u64(buf, be, p.filesz);
        push_u64(buf, be, p.memsz);
        push_u64(buf, be, p.align);
    } else {
        push_u32(buf, be, p.offset as u32);
        push_u32(buf, be, p.vaddr as u32);
        push_u32(buf, be, p.paddr as u32);
        push_u32(buf, be, p.filesz as u32);
        push_u32(buf, be, p.memsz as u32);
        push_u32(buf, be, p.flags);
        push_u32(buf, be, p.align as u32);
    }
}
