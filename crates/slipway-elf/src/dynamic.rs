//! What a dynamically linked binary asks of the system at run time: its
//! libraries (`DT_NEEDED`), link flags, and the symbol versions it needs
//! (`.gnu.version_r`), which is what decides the oldest glibc it runs on.

use std::cmp::Ordering;

use crate::ElfError;
use crate::parse::{
    Elf, PT_DYNAMIC, SHT_DYNSYM, SHT_GNU_VERDEF, SHT_GNU_VERNEED, SHT_GNU_VERSYM, Section, c_string,
};

const DT_NULL: u64 = 0;
const DT_NEEDED: u64 = 1;
const DT_STRTAB: u64 = 5;
const DT_STRSZ: u64 = 10;
const DT_SONAME: u64 = 14;
const DT_RPATH: u64 = 15;
const DT_RUNPATH: u64 = 29;
const DF_1_NODEFLIB: u64 = 0x800;
const DT_BIND_NOW: u64 = 24;
const DT_FLAGS: u64 = 30;
const DT_FLAGS_1: u64 = 0x6fff_fffb;
const DF_BIND_NOW: u64 = 0x8;
const DF_1_NOW: u64 = 0x1;
const DF_1_PIE: u64 = 0x0800_0000;
const SHT_DYNAMIC: u32 = 6;

/// The dynamic section's facts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dynamic {
    pub needed: Vec<String>,
    pub bind_now: bool,
    pub pie_flag: bool,
    /// `DT_SONAME`: the name other objects need this one by.
    pub soname: Option<String>,
    /// `DT_RPATH` and `DT_RUNPATH`, unsplit (`:`-separated, tokens unexpanded).
    pub rpath: Option<String>,
    pub runpath: Option<String>,
    /// `DF_1_NODEFLIB`: the loader skips its default directories for this object.
    pub nodeflib: bool,
}

/// Read `.dynamic` (or `PT_DYNAMIC` when section headers are gone).
pub fn read_dynamic(elf: &Elf<'_>) -> Result<Dynamic, ElfError> {
    let is_64 = elf.header.is_64;
    let entry = if is_64 { 16 } else { 8 };
    let (bytes, strtab_section) =
        if let Some(s) = elf.sections.iter().find(|s| s.kind == SHT_DYNAMIC) {
            (elf.section_data(s)?, elf.sections.get(s.link as usize))
        } else if let Some(p) = elf.segments.iter().find(|p| p.kind == PT_DYNAMIC) {
            (elf.segment_data(p)?, None)
        } else {
            return Ok(Dynamic::default());
        };
    let r = crate::parse::Reader {
        data: bytes,
        big_endian: elf.header.big_endian,
    };
    let mut out = Dynamic::default();
    let mut needed_offsets = Vec::new();
    let (mut soname, mut rpath, mut runpath) = (None, None, None);
    let (mut strtab_addr, mut strsz) = (None, None);
    for i in 0..(bytes.len() as u64 / entry) {
        let tag = r.word(i * entry, is_64)?;
        let val = r.word(i * entry + entry / 2, is_64)?;
        match tag {
            DT_NULL => break,
            DT_NEEDED => needed_offsets.push(val),
            DT_SONAME => soname = Some(val),
            DT_RPATH => rpath = Some(val),
            DT_RUNPATH => runpath = Some(val),
            DT_STRTAB => strtab_addr = Some(val),
            DT_STRSZ => strsz = Some(val),
            DT_BIND_NOW => out.bind_now = true,
            DT_FLAGS => out.bind_now |= val & DF_BIND_NOW != 0,
            DT_FLAGS_1 => {
                out.bind_now |= val & DF_1_NOW != 0;
                out.pie_flag = val & DF_1_PIE != 0;
                out.nodeflib = val & DF_1_NODEFLIB != 0;
            }
            _ => {}
        }
    }
    if needed_offsets.is_empty() && soname.is_none() && rpath.is_none() && runpath.is_none() {
        return Ok(out);
    }
    let strings = match strtab_section {
        Some(s) if s.kind == 3 => elf.section_data(s)?,
        _ => match (strtab_addr, strsz) {
            (Some(a), Some(n)) => elf.bytes_at_vaddr(a, n).ok_or_else(|| {
                ElfError::malformed(format!(
                    "the dynamic string table at address {a:#x} is not in the file"
                ))
            })?,
            _ => return Err(ElfError::malformed("DT_NEEDED without a string table")),
        },
    };
    let string = |off: u64, what: &str| {
        usize::try_from(off)
            .ok()
            .and_then(|o| c_string(strings, o))
            .ok_or_else(|| {
                ElfError::malformed(format!(
                    "{what} name offset {off} is outside the dynamic string table"
                ))
            })
    };
    for off in needed_offsets {
        out.needed.push(string(off, "DT_NEEDED")?);
    }
    out.soname = soname.map(|o| string(o, "DT_SONAME")).transpose()?;
    out.rpath = rpath.map(|o| string(o, "DT_RPATH")).transpose()?;
    out.runpath = runpath.map(|o| string(o, "DT_RUNPATH")).transpose()?;
    Ok(out)
}

/// Versions needed from one library, in file order.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct NeededVersions {
    pub file: String,
    pub versions: Vec<String>,
    /// Those of `versions` marked `VER_FLG_WEAK`: the loader lets them be
    /// missing (the object checks for the symbols itself).
    pub weak: Vec<String>,
}

/// One `Vernaux` entry: its index (as used by `.gnu.version`) and name.
#[derive(Debug, Clone)]
struct Aux {
    index: u16,
    name: String,
}

/// `.gnu.version_r`: versions needed per library, plus the index → name map.
#[derive(Debug, Clone, Default)]
pub struct VersionNeeds {
    pub libraries: Vec<NeededVersions>,
    aux: Vec<Aux>,
}

pub fn read_version_needs(elf: &Elf<'_>) -> Result<VersionNeeds, ElfError> {
    let Some(section) = elf.sections.iter().find(|s| s.kind == SHT_GNU_VERNEED) else {
        return Ok(VersionNeeds::default());
    };
    let bytes = elf.section_data(section)?;
    let strings = linked_strings(elf, section)?;
    let r = crate::parse::Reader {
        data: bytes,
        big_endian: elf.header.big_endian,
    };
    let bad = |what: &str| ElfError::malformed(format!(".gnu.version_r: {what}"));
    let name_at = |off: u32| {
        c_string(strings, off as usize)
            .ok_or_else(|| bad(&format!("name offset {off} is outside its string table")))
    };
    // Each entry is 16 bytes: more iterations than that means a cycle.
    let limit = bytes.len() / 16 + 1;
    // Offsets are unsigned and relative; one that leaves the section is where
    // a reader adding them in 32 bits would wrap around and loop.
    let inside = |from: u64, offset: u32, field: &str| -> Result<u64, ElfError> {
        let to = from + u64::from(offset);
        if to >= bytes.len() as u64 {
            return Err(bad(&format!(
                "{field} {offset:#x} at {from:#x} points outside the section ({} bytes)",
                bytes.len()
            )));
        }
        Ok(to)
    };
    let mut out = VersionNeeds::default();
    let mut at: u64 = 0;
    let mut steps = 0;
    loop {
        steps += 1;
        if steps > limit {
            return Err(bad("the entry chain loops"));
        }
        let count = r.u16(at + 2)?;
        let file = name_at(r.u32(at + 4)?)?;
        let aux = r.u32(at + 8)?;
        let next = r.u32(at + 12)?;
        let mut versions = Vec::new();
        let mut weak = Vec::new();
        let mut a = inside(at, aux, "vn_aux")?;
        for seen in 1..=count {
            steps += 1;
            if steps > limit {
                return Err(bad("the version chain loops"));
            }
            let flags = r.u16(a + 4)?;
            let index = r.u16(a + 6)? & 0x7fff;
            let name = name_at(r.u32(a + 8)?)?;
            if flags & VER_FLG_WEAK != 0 {
                weak.push(name.clone());
            }
            versions.push(name.clone());
            out.aux.push(Aux { index, name });
            let next_aux = r.u32(a + 12)?;
            if seen == count {
                break;
            }
            // A zero offset with entries left points back at the same entry:
            // a reader that trusts the count would read it forever.
            if next_aux == 0 {
                return Err(bad(&format!(
                    "the version chain of {file} loops: vna_next is 0 after {seen} of {count} entries"
                )));
            }
            a = inside(a, next_aux, "vna_next")?;
        }
        out.libraries.push(NeededVersions {
            file,
            versions,
            weak,
        });
        if next == 0 {
            break;
        }
        at = inside(at, next, "vn_next")?;
    }
    Ok(out)
}

/// `.gnu.version_d`: the version names an object defines (`GLIBC_2.17`,
/// ...), without the base entry that only repeats its own name.
pub fn read_version_defs(elf: &Elf<'_>) -> Result<Vec<String>, ElfError> {
    let Some(section) = elf.sections.iter().find(|s| s.kind == SHT_GNU_VERDEF) else {
        return Ok(Vec::new());
    };
    let bytes = elf.section_data(section)?;
    let strings = linked_strings(elf, section)?;
    let r = crate::parse::Reader {
        data: bytes,
        big_endian: elf.header.big_endian,
    };
    let bad = |what: &str| ElfError::malformed(format!(".gnu.version_d: {what}"));
    // Each Verdef is 20 bytes: more entries than that means a cycle.
    let limit = bytes.len() / 20 + 1;
    let mut out = Vec::new();
    let mut at: u64 = 0;
    for _ in 0..limit {
        let flags = r.u16(at + 2)?;
        let count = r.u16(at + 6)?;
        let aux = r.u32(at + 12)?;
        let next = r.u32(at + 16)?;
        if count > 0 && flags & VER_FLG_BASE == 0 {
            let name_off = r.u32(at + u64::from(aux))?;
            let name = c_string(strings, name_off as usize).ok_or_else(|| {
                bad(&format!(
                    "name offset {name_off} is outside its string table"
                ))
            })?;
            out.push(name);
        }
        if next == 0 {
            return Ok(out);
        }
        at += u64::from(next);
    }
    Err(bad("the entry chain loops"))
}

const VER_FLG_BASE: u16 = 0x1;
const VER_FLG_WEAK: u16 = 0x2;

fn linked_strings<'a>(elf: &Elf<'a>, section: &Section) -> Result<&'a [u8], ElfError> {
    let s = elf.sections.get(section.link as usize).ok_or_else(|| {
        ElfError::malformed(format!(
            "{} links to section {}, which does not exist",
            section.name, section.link
        ))
    })?;
    elf.section_data(s)
}

/// A dynamic symbol that needs a particular version.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct VersionedSymbol {
    pub name: String,
    pub version: String,
}

/// Undefined dynamic symbols and the version each needs (from `.gnu.version`).
pub fn versioned_imports(
    elf: &Elf<'_>,
    needs: &VersionNeeds,
) -> Result<Vec<VersionedSymbol>, ElfError> {
    let (Some(versym), Some(dynsym)) = (
        elf.sections.iter().find(|s| s.kind == SHT_GNU_VERSYM),
        elf.sections.iter().find(|s| s.kind == SHT_DYNSYM),
    ) else {
        return Ok(Vec::new());
    };
    let versions = elf.section_data(versym)?;
    let symbols = elf.section_data(dynsym)?;
    let names = linked_strings(elf, dynsym)?;
    let is_64 = elf.header.is_64;
    let entsize: u64 = if is_64 { 24 } else { 16 };
    let (vr, sr) = (
        crate::parse::Reader {
            data: versions,
            big_endian: elf.header.big_endian,
        },
        crate::parse::Reader {
            data: symbols,
            big_endian: elf.header.big_endian,
        },
    );
    let count = (symbols.len() as u64 / entsize).min(versions.len() as u64 / 2);
    let by_index: std::collections::HashMap<u16, &str> = needs
        .aux
        .iter()
        .map(|a| (a.index, a.name.as_str()))
        .collect();
    let mut out = Vec::new();
    for i in 1..count {
        let index = vr.u16(i * 2)? & 0x7fff;
        if index < 2 {
            continue;
        }
        let shndx = sr.u16(i * entsize + if is_64 { 6 } else { 14 })?;
        if shndx != 0 {
            continue;
        }
        let Some(version) = by_index.get(&index) else {
            continue;
        };
        let name_off = sr.u32(i * entsize)?;
        let name = c_string(names, name_off as usize).ok_or_else(|| {
            ElfError::malformed(format!(
                "dynamic symbol {i}'s name offset {name_off} is outside .dynstr"
            ))
        })?;
        out.push(VersionedSymbol {
            name,
            version: version.to_string(),
        });
    }
    Ok(out)
}

/// `GLIBC_2.2.5` → `[2, 2, 5]`; `None` for other names (GLIBC_PRIVATE, ...).
pub fn glibc_version(name: &str) -> Option<Vec<u32>> {
    let rest = name.strip_prefix("GLIBC_")?;
    rest.split('.').map(|p| p.parse().ok()).collect()
}

/// Order dotted version numbers numerically (`2.9` < `2.28`).
pub fn compare_versions(a: &[u32], b: &[u32]) -> Ordering {
    let len = a.len().max(b.len());
    (0..len)
        .map(|i| {
            a.get(i)
                .copied()
                .unwrap_or(0)
                .cmp(&b.get(i).copied().unwrap_or(0))
        })
        .find(|o| o.is_ne())
        .unwrap_or(Ordering::Equal)
}

/// The highest `GLIBC_x.y` version named anywhere in `needs`.
pub fn glibc_max(needs: &VersionNeeds) -> Option<Vec<u32>> {
    needs
        .libraries
        .iter()
        .flat_map(|l| l.versions.iter())
        .filter_map(|v| glibc_version(v))
        .max_by(|a, b| compare_versions(a, b))
}

pub fn version_string(v: &[u32]) -> String {
    v.iter().map(u32::to_string).collect::<Vec<_>>().join(".")
}
