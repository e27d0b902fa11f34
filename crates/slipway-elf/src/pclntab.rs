//! Go's function table (`.gopclntab`): the name, entry address and extent of
//! every Go function. It is loaded at run time (tracebacks need it), so it
//! survives stripping: `slipway size` reads packages from it when a binary
//! has no symbol table and no debug file.
//!
//! Layouts read: Go 1.16-1.17 (magic `0xfffffffa`), 1.18-1.19 (`0xfffffff0`)
//! and 1.20 onwards (`0xfffffff1`). Older tables are refused as unsupported.

use serde::Serialize;

use crate::ElfError;
use crate::parse::{Elf, Reader, c_string};

const MAGIC_116: u32 = 0xffff_fffa;
const MAGIC_118: u32 = 0xffff_fff0;
const MAGIC_120: u32 = 0xffff_fff1;

/// One Go function: `size` runs to the next function's entry, so it includes
/// the alignment padding after it (the symbol table's size does not).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GoFunc {
    pub name: String,
    pub entry: u64,
    pub size: u64,
}

/// The decoded function table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GoFuncTable {
    /// `1.16`, `1.18` or `1.20`: the first Go release with this layout.
    pub layout: &'static str,
    pub ptr_size: u8,
    /// The instruction size quantum (1 on x86, 2 on s390x, 4 on RISC machines).
    pub quantum: u8,
    /// The address the table's entries are relative to (`runtime.text`).
    pub text_start: u64,
    /// The end of the last function (`runtime.etext`).
    pub text_end: u64,
    /// Sorted by entry address.
    pub funcs: Vec<GoFunc>,
}

/// The function table of an ELF file's `.gopclntab`, `None` when it has none.
pub fn go_functions(data: &[u8]) -> Result<Option<GoFuncTable>, ElfError> {
    let elf = Elf::parse(data)?;
    let Some(section) = elf.section_by_name(".gopclntab") else {
        return Ok(None);
    };
    let table = elf.section_data(section)?;
    let text = elf.section_by_name(".text").map(|s| s.addr);
    let mut parsed = parse_pclntab(table, elf.header.big_endian, text)?;
    // Go 1.26 stopped storing textStart in the header (it needed a
    // relocation); the module data still records it.
    if parsed.layout != "1.16"
        && parsed.text_start == 0
        && let Some(base) = module_text(&elf, section.addr, table)?
    {
        for f in &mut parsed.funcs {
            f.entry = f.entry.wrapping_add(base);
        }
        parsed.text_start = base;
        parsed.text_end = parsed.text_end.wrapping_add(base);
    }
    Ok(Some(parsed))
}

/// `runtime.text` from the module data (`runtime.firstmoduledata`). Its
/// `text` field is word 22 (the layout every Go release since 1.16 shares).
fn module_text(elf: &Elf<'_>, table_addr: u64, table: &[u8]) -> Result<Option<u64>, ElfError> {
    Ok(module_data(elf, table_addr, table)?.map(|m| m.word(22)))
}

/// The module data record (`runtime.firstmoduledata`): the record that
/// starts with a pointer to the function table and then the function-name
/// slice, whose data pointer is the table's address plus the header's
/// `funcnameOffset`. `None` when no section holds it.
fn module_data<'a>(
    elf: &Elf<'a>,
    table_addr: u64,
    table: &[u8],
) -> Result<Option<ModuleWords<'a>>, ElfError> {
    let big_endian = elf.header.big_endian;
    let t = Reader {
        data: table,
        big_endian,
    };
    let ptr = u64::from(t.bytes(7, 1)?[0]);
    // A damaged header's pointer size would make the scan below not move.
    if ptr != 4 && ptr != 8 {
        return Ok(None);
    }
    let is_64 = ptr == 8;
    let funcname = t.word(8 + 3 * ptr, is_64)?;
    let wanted_names = table_addr.wrapping_add(funcname);
    for name in [".go.module", ".noptrdata", ".data", ".data.rel.ro"] {
        let Some(s) = elf.section_by_name(name) else {
            continue;
        };
        let data = elf.section_data(s)?;
        let r = Reader { data, big_endian };
        let mut at = 0u64;
        // The fields read below end at word 41.
        while at + 42 * ptr <= data.len() as u64 {
            if r.word(at, is_64)? == table_addr && r.word(at + ptr, is_64)? == wanted_names {
                return Ok(Some(ModuleWords {
                    data: &data[at as usize..],
                    big_endian,
                    ptr,
                }));
            }
            at += ptr;
        }
    }
    Ok(None)
}

/// The words of a module data record, at least 42 of them.
struct ModuleWords<'a> {
    data: &'a [u8],
    big_endian: bool,
    ptr: u64,
}

impl ModuleWords<'_> {
    fn word(&self, i: u64) -> u64 {
        let r = Reader {
            data: self.data,
            big_endian: self.big_endian,
        };
        // In range: module_data checked the record holds 42 words.
        r.word(i * self.ptr, self.ptr == 8).unwrap_or(0)
    }
}

/// Where Go's linker put Go's own code and data, as the module data
/// (`runtime.firstmoduledata`) records it: the brackets the symbols
/// `runtime.text`..`runtime.etext` and so on mark, which a stripped binary
/// still carries because the garbage collector and reflection need them.
/// Each range is `[start, end)` in virtual addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct GoModuleRanges {
    pub text: (u64, u64),
    /// Pointer-free package variables (`runtime.noptrdata`..`enoptrdata`).
    pub noptrdata: (u64, u64),
    /// Package variables with pointers (`runtime.data`..`edata`).
    pub data: (u64, u64),
    /// Type descriptors (`runtime.types`..`etypes`); since Go 1.26 this
    /// is all of Go's read-only data, strings and constants included.
    pub types: (u64, u64),
    /// `runtime.rodata`, where Go's read-only data starts (Go 1.18 and
    /// later record it; the end is not recorded).
    pub rodata: Option<u64>,
}

/// The module data's ranges of an ELF file, `None` when it has no function
/// table, no module data is found, or the fields do not describe ranges of
/// its loaded sections (a layout this reader does not know).
///
/// The record's fields from word 22: `text, etext, noptrdata, enoptrdata,
/// data, edata, bss, ebss, noptrbss, enoptrbss`, then Go 1.20 added
/// `covctrs, ecovctrs`, then `end, gcdata, gcbss, types, etypes`, then
/// (Go 1.18 and later) `rodata`.
pub fn go_module_ranges(data: &[u8]) -> Result<Option<GoModuleRanges>, ElfError> {
    let elf = Elf::parse(data)?;
    let Some(section) = elf.section_by_name(".gopclntab") else {
        return Ok(None);
    };
    let table = elf.section_data(section)?;
    let r = Reader {
        data: table,
        big_endian: elf.header.big_endian,
    };
    let layout = match r.u32(0) {
        Ok(MAGIC_116) => 116,
        Ok(MAGIC_118) => 118,
        Ok(MAGIC_120) => 120,
        _ => return Ok(None),
    };
    let Some(m) = module_data(&elf, section.addr, table)? else {
        return Ok(None);
    };
    let types_at = if layout == 120 { 37 } else { 35 };
    let ranges = GoModuleRanges {
        text: (m.word(22), m.word(23)),
        noptrdata: (m.word(24), m.word(25)),
        data: (m.word(26), m.word(27)),
        types: (m.word(types_at), m.word(types_at + 1)),
        rodata: (layout >= 118).then(|| m.word(types_at + 2)),
    };
    // Every range must be ordered and lie inside one loaded section, and
    // rodata must start at or before the types: otherwise the fields are
    // not what this layout says, and nothing is claimed.
    let loaded = |(a, b): (u64, u64)| {
        a <= b
            && elf.sections.iter().any(|s| {
                s.flags & SHF_ALLOC != 0 && s.addr <= a && b <= s.addr.saturating_add(s.size)
            })
    };
    let sane = [ranges.text, ranges.noptrdata, ranges.data, ranges.types]
        .into_iter()
        .all(loaded)
        && ranges
            .rodata
            .is_none_or(|r| r <= ranges.types.0 && loaded((r, r)));
    Ok(sane.then_some(ranges))
}

const SHF_ALLOC: u64 = 2;

/// Decode a function table held in memory. `text_section` is the `.text`
/// address, the base of Go 1.16-1.17 tables' relative entries when a
/// consistency check needs one (later layouts carry their own base).
pub fn parse_pclntab(
    table: &[u8],
    big_endian: bool,
    text_section: Option<u64>,
) -> Result<GoFuncTable, ElfError> {
    let bad = |what: String| ElfError::malformed(format!(".gopclntab: {what}"));
    let r = Reader {
        data: table,
        big_endian,
    };
    let magic = r
        .u32(0)
        .map_err(|_| bad("shorter than its header".into()))?;
    let layout = match magic {
        MAGIC_116 => "1.16",
        MAGIC_118 => "1.18",
        MAGIC_120 => "1.20",
        other => {
            return Err(ElfError::Unsupported(format!(
                ".gopclntab magic {other:#010x}: only the tables of Go 1.16 and later are read"
            )));
        }
    };
    let head = r
        .bytes(4, 4)
        .map_err(|_| bad("shorter than its header".into()))?;
    let (quantum, ptr_size) = (head[2], head[3]);
    if head[0] != 0 || head[1] != 0 || !matches!(quantum, 1 | 2 | 4) || !matches!(ptr_size, 4 | 8) {
        return Err(bad(format!(
            "header bytes {head:02x?} (expected 0, 0, a quantum of 1, 2 or 4, a pointer size of 4 or 8)"
        )));
    }
    let is_64 = ptr_size == 8;
    let p = u64::from(ptr_size);
    let word = |i: u64| {
        r.word(8 + i * p, is_64)
            .map_err(|_| bad("shorter than its header".into()))
    };
    let nfunc = word(0)?;
    // Go 1.18 added textStart after nfiles; every later field moves by one.
    let (text_start, shift) = if layout == "1.16" {
        (text_section.unwrap_or(0), 0)
    } else {
        (word(2)?, 1)
    };
    let funcname_off = word(2 + shift)?;
    let functab_off = word(6 + shift)?;
    let names = table
        .get(usize::try_from(funcname_off).unwrap_or(usize::MAX)..)
        .ok_or_else(|| {
            bad(format!(
                "function names at {funcname_off:#x} lie past its end"
            ))
        })?;
    // Each entry is two words (1.16) or two u32s; the last holds only the end.
    let entry_size = if layout == "1.16" { 2 * p } else { 8 };
    nfunc
        .checked_add(1)
        .and_then(|n| n.checked_mul(entry_size))
        .filter(|n| {
            functab_off
                .checked_add(*n)
                .is_some_and(|end| end <= table.len() as u64)
        })
        .ok_or_else(|| {
            bad(format!(
                "{nfunc} functions at {functab_off:#x} do not fit in its {} bytes",
                table.len()
            ))
        })?;
    let entry_at = |i: u64| -> Result<(u64, u64), ElfError> {
        let at = functab_off + i * entry_size;
        if layout == "1.16" {
            Ok((r.word(at, is_64)?, r.word(at + p, is_64)?))
        } else {
            Ok((
                text_start.wrapping_add(r.u32(at)?.into()),
                r.u32(at + 4)?.into(),
            ))
        }
    };
    let mut funcs = Vec::with_capacity(nfunc.min(1 << 20) as usize);
    let mut previous = 0u64;
    for i in 0..nfunc {
        let (entry, funcoff) = entry_at(i)?;
        let (next, _) = entry_at(i + 1)?;
        if next < entry || entry < previous {
            return Err(bad(format!(
                "function {i}'s entry {entry:#x} is out of order"
            )));
        }
        previous = entry;
        // The _func record: the entry (a word in 1.16, a u32 offset later), then nameOff.
        let name_field = functab_off
            .checked_add(funcoff)
            .and_then(|f| f.checked_add(if layout == "1.16" { p } else { 4 }))
            .ok_or_else(|| {
                bad(format!(
                    "function {i}'s record offset {funcoff:#x} overflows"
                ))
            })?;
        let name_off = r.u32(name_field).map_err(|_| {
            bad(format!(
                "function {i}'s record at {funcoff:#x} lies past its end"
            ))
        })?;
        let name = c_string(names, name_off as usize).ok_or_else(|| {
            bad(format!(
                "function {i}'s name offset {name_off:#x} lies past the name table"
            ))
        })?;
        funcs.push(GoFunc {
            name,
            entry,
            size: next - entry,
        });
    }
    let text_end = if nfunc == 0 {
        text_start
    } else {
        entry_at(nfunc)?.0
    };
    Ok(GoFuncTable {
        layout,
        ptr_size,
        quantum,
        text_start,
        text_end,
        funcs,
    })
}
