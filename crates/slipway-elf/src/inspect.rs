//! `slipway inspect`: everything a release engineer asks of a binary before
//! shipping it to a device, in one serialisable value.

use serde::Serialize;

use crate::ElfError;
use crate::buildinfo::{GoBuildInfo, read_go_buildinfo};
use crate::dynamic::{NeededVersions, glibc_max, read_dynamic, read_version_needs, version_string};
use crate::parse::{
    Elf, PF_X, PT_GNU_RELRO, PT_GNU_STACK, PT_INTERP, PT_NOTE, SHF_COMPRESSED, SHT_NOTE,
};

const ET_DYN: u16 = 3;
const NT_GNU_BUILD_ID: u32 = 3;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Debuglink {
    pub file: String,
    /// CRC-32 of the debug file, as stored in the file's byte order.
    pub crc: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SectionInfo {
    pub name: String,
    pub size: u64,
    pub compressed: bool,
}

/// Everything `slipway inspect` reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Inspection {
    /// The Go name of the architecture (`amd64`, `mipsle`, ...).
    pub arch: String,
    /// `e_machine`.
    pub machine: u16,
    /// `ELF32` or `ELF64`.
    pub class: &'static str,
    /// `little` or `big`.
    pub endian: &'static str,
    /// `EXEC`, `DYN`, `REL`, `CORE` or a number.
    pub file_type: String,
    /// No program interpreter and no needed libraries.
    #[serde(rename = "static")]
    pub is_static: bool,
    pub interpreter: Option<String>,
    pub needed: Vec<String>,
    /// The newest `GLIBC_x.y` any library reference needs.
    pub glibc_max: Option<String>,
    pub glibc_private: bool,
    /// Symbol versions needed, per library (`.gnu.version_r`).
    pub versions: Vec<NeededVersions>,
    pub build_id: Option<String>,
    pub debuglink: Option<Debuglink>,
    pub pie: bool,
    pub relro: bool,
    pub bind_now: bool,
    pub nx_stack: bool,
    pub sections: Vec<SectionInfo>,
    pub go: Option<GoBuildInfo>,
}

/// Inspect an ELF file held in memory.
pub fn inspect(data: &[u8]) -> Result<Inspection, ElfError> {
    let elf = Elf::parse(data)?;
    let h = &elf.header;
    let interpreter = interpreter(&elf)?;
    let dynamic = read_dynamic(&elf)?;
    let needs = read_version_needs(&elf)?;
    let glibc_private = needs
        .libraries
        .iter()
        .any(|l| l.versions.iter().any(|v| v == "GLIBC_PRIVATE"));
    let stack = elf.segments.iter().find(|p| p.kind == PT_GNU_STACK);
    Ok(Inspection {
        arch: arch_name(h.machine, h.is_64, h.big_endian),
        machine: h.machine,
        class: if h.is_64 { "ELF64" } else { "ELF32" },
        endian: if h.big_endian { "big" } else { "little" },
        file_type: match h.e_type {
            1 => "REL".into(),
            2 => "EXEC".into(),
            3 => "DYN".into(),
            4 => "CORE".into(),
            n => n.to_string(),
        },
        is_static: interpreter.is_none() && dynamic.needed.is_empty(),
        pie: h.e_type == ET_DYN && (interpreter.is_some() || dynamic.pie_flag),
        interpreter,
        needed: dynamic.needed,
        glibc_max: glibc_max(&needs).map(|v| version_string(&v)),
        glibc_private,
        versions: needs.libraries,
        build_id: build_id(&elf)?,
        debuglink: debuglink(&elf)?,
        relro: elf.segments.iter().any(|p| p.kind == PT_GNU_RELRO),
        bind_now: dynamic.bind_now,
        nx_stack: stack.is_some_and(|p| p.flags & PF_X == 0),
        sections: elf
            .sections
            .iter()
            .skip(1)
            .map(|s| SectionInfo {
                name: s.name.clone(),
                size: s.size,
                compressed: s.flags & SHF_COMPRESSED != 0 || s.name.starts_with(".zdebug"),
            })
            .collect(),
        go: read_go_buildinfo(&elf)?,
    })
}

pub(crate) fn interpreter(elf: &Elf<'_>) -> Result<Option<String>, ElfError> {
    let Some(p) = elf.segments.iter().find(|p| p.kind == PT_INTERP) else {
        return Ok(None);
    };
    let bytes = elf.segment_data(p)?;
    let text = bytes.split(|b| *b == 0).next().unwrap_or_default();
    Ok(Some(String::from_utf8_lossy(text).into_owned()))
}

/// The Go spelling of an architecture, or `machine-N` for others.
pub fn arch_name(machine: u16, is_64: bool, big_endian: bool) -> String {
    let name = match (machine, is_64, big_endian) {
        (62, true, false) => "amd64",
        (3, false, false) => "386",
        (40, false, false) => "arm",
        (183, true, false) => "arm64",
        (243, true, false) => "riscv64",
        (243, false, false) => "riscv32",
        (8, false, true) => "mips",
        (8, false, false) => "mipsle",
        (8, true, true) => "mips64",
        (8, true, false) => "mips64le",
        (21, true, true) => "ppc64",
        (21, true, false) => "ppc64le",
        (20, false, true) => "ppc",
        (22, true, true) => "s390x",
        (258, true, false) => "loong64",
        _ => return format!("machine-{machine}"),
    };
    name.to_string()
}

/// One ELF note.
pub(crate) struct Note<'a> {
    pub name: &'a [u8],
    pub kind: u32,
    pub desc: &'a [u8],
}

/// Iterate the notes in a note section or segment's bytes.
pub(crate) fn notes(data: &[u8], big_endian: bool, align: u64) -> Result<Vec<Note<'_>>, ElfError> {
    let align = if align == 8 { 8 } else { 4 };
    let r = crate::parse::Reader { data, big_endian };
    let pad = |n: u64| n.checked_add(align - 1).map(|v| v & !(align - 1));
    let mut out = Vec::new();
    let mut at: u64 = 0;
    while at + 12 <= data.len() as u64 {
        let namesz = u64::from(r.u32(at)?);
        let descsz = u64::from(r.u32(at + 4)?);
        let kind = r.u32(at + 8)?;
        let name_at = at + 12;
        let desc_at = pad(name_at + namesz).ok_or_else(|| ElfError::malformed("note size"))?;
        let name = r
            .bytes(name_at, namesz)
            .map_err(|_| ElfError::malformed("a note's name runs past its section"))?;
        let desc = r
            .bytes(desc_at, descsz)
            .map_err(|_| ElfError::malformed("a note's descriptor runs past its section"))?;
        let name = name.strip_suffix(b"\0").unwrap_or(name);
        out.push(Note { name, kind, desc });
        at = pad(desc_at + descsz).ok_or_else(|| ElfError::malformed("note size"))?;
    }
    Ok(out)
}

/// Go's build ID from the first bytes of an ELF file (Go and lld put its note
/// in the first page), so a caller need not read a whole binary. `None` when
/// `head` holds no Go build ID note, or is not a well-formed ELF start.
pub fn go_build_id(head: &[u8]) -> Option<String> {
    let header = crate::parse::parse_header(head).ok()?;
    let r = crate::parse::Reader {
        data: head,
        big_endian: header.big_endian,
    };
    let segments = crate::parse::read_segments(&r, &header).ok()?;
    for p in segments.iter().filter(|p| p.kind == PT_NOTE) {
        let Ok(data) = r.bytes(p.offset, p.filesz) else {
            continue;
        };
        for note in notes(data, header.big_endian, p.align).ok()? {
            if note.kind == 4 && note.name.split(|b| *b == 0).next() == Some(b"Go") {
                return String::from_utf8(note.desc.to_vec()).ok();
            }
        }
    }
    None
}

fn build_id(elf: &Elf<'_>) -> Result<Option<String>, ElfError> {
    let mut blobs = Vec::new();
    if elf.sections.is_empty() {
        for p in elf.segments.iter().filter(|p| p.kind == PT_NOTE) {
            blobs.push((elf.segment_data(p)?, p.align));
        }
    } else {
        for s in elf.sections.iter().filter(|s| s.kind == SHT_NOTE) {
            blobs.push((elf.section_data(s)?, s.align));
        }
    }
    for (data, align) in blobs {
        for note in notes(data, elf.header.big_endian, align)? {
            if note.name == b"GNU" && note.kind == NT_GNU_BUILD_ID {
                return Ok(Some(base16ct::lower::encode_string(note.desc)));
            }
        }
    }
    Ok(None)
}

fn debuglink(elf: &Elf<'_>) -> Result<Option<Debuglink>, ElfError> {
    let Some(s) = elf.section_by_name(".gnu_debuglink") else {
        return Ok(None);
    };
    let data = elf.section_data(s)?;
    let bad = || ElfError::malformed(".gnu_debuglink has no NUL-terminated name and CRC");
    let end = data.iter().position(|b| *b == 0).ok_or_else(bad)?;
    let crc_at = (end + 4) & !3;
    let r = crate::parse::Reader {
        data,
        big_endian: elf.header.big_endian,
    };
    let crc = r.u32(crc_at as u64).map_err(|_| bad())?;
    Ok(Some(Debuglink {
        file: String::from_utf8_lossy(&data[..end]).into_owned(),
        crc,
    }))
}
