//! Where the bytes of one ELF file go. Every byte of the file lands in
//! exactly one row of [`BinaryReport::breakdown`], so the rows add up to the
//! file size by construction; what no rule explains is the `unattributed` row.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use serde::Serialize;
use slipway_elf::{GoFuncTable, GoModuleRanges, STT_FUNC, SectionHeader, Symbol};

use crate::SizeError;
use crate::classify::{CPart, c_part, cgo_callee, go_metadata, package_of};

/// One labelled number of bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Row {
    pub name: String,
    pub size: u64,
}

/// One section, as `readelf -S` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SectionRow {
    pub index: u32,
    pub name: String,
    /// `PROGBITS`, `NOBITS`, `SYMTAB`, ... (a number for other types).
    #[serde(rename = "type")]
    pub kind: String,
    pub addr: u64,
    pub offset: u64,
    /// `sh_size`; NOBITS sections take this much memory and no file bytes.
    pub size: u64,
    pub file_size: u64,
    /// What the section's bytes count as in the breakdown.
    pub counted_as: &'static str,
}

/// The size report of one ELF file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BinaryReport {
    pub path: String,
    pub file_size: u64,
    /// Where symbol names came from: `symbol table`, `debug file NAME`,
    /// `Go function table` or `none`.
    pub symbols_from: String,
    /// Top-level rows; they add up to `file_size`.
    pub breakdown: Vec<Row>,
    /// Go code and data by package (largest first).
    pub packages: Vec<Row>,
    /// The C parts (largest first).
    pub c_parts: Vec<Row>,
    /// Go runtime metadata: function table, type data, build info (largest first).
    pub go_runtime: Vec<Row>,
    pub sections: Vec<SectionRow>,
    /// Bytes inside code/data sections no symbol covers, per section.
    pub unattributed: Vec<Row>,
    /// Problems that limited the report (an unreadable debug file, ...).
    pub notes: Vec<String>,
}

pub const GO_PACKAGES: &str = "Go packages";
pub const GO_RUNTIME: &str = "Go runtime metadata";
pub const C_CODE: &str = "C code and data";
pub const ELF_LINKING: &str = "ELF headers, notes and dynamic linking";
pub const SYMBOLS_DEBUG: &str = "symbol tables and debug info";
pub const PADDING: &str = "alignment padding between sections";
pub const UNATTRIBUTED: &str = "unattributed (no symbol covers it)";

/// Sections that are Go runtime metadata as a whole.
const GO_METADATA_SECTIONS: &[&str] = &[
    ".gopclntab",
    ".gosymtab",
    ".typelink",
    ".itablink",
    ".go.buildinfo",
    ".go.fipsinfo",
    ".go.module",
    ".note.go.buildid",
];

/// Loaded sections that serve the loader and unwinder, not the program's code.
const LINKING_SECTIONS: &[&str] = &[
    ".interp",
    ".init",
    ".fini",
    ".plt",
    ".plt.got",
    ".plt.sec",
    ".got",
    ".got.plt",
    ".eh_frame",
    ".eh_frame_hdr",
    ".init_array",
    ".fini_array",
    ".preinit_array",
    ".dynamic",
    ".ARM.exidx",
    ".ARM.extab",
    ".MIPS.abiflags",
    ".MIPS.options",
    ".reginfo",
    ".rld_map",
];

/// `readelf -S`'s name for a section type (processor-specific ones by machine).
fn section_type(kind: u32, machine: u16) -> String {
    const EM_ARM: u16 = 40;
    const EM_RISCV: u16 = 243;
    const EM_MIPS: u16 = 8;
    const EM_X86_64: u16 = 62;
    match kind {
        0x7000_0003 if machine == EM_ARM => "ARM_ATTRIBUTES".into(),
        0x7000_0003 if machine == EM_RISCV => "RISCV_ATTRIBUTES".into(),
        0x7000_0001 if machine == EM_ARM => "ARM_EXIDX".into(),
        0x7000_0001 if machine == EM_X86_64 => "X86_64_UNWIND".into(),
        0x7000_0006 if machine == EM_MIPS => "MIPS_REGINFO".into(),
        0x7000_000d if machine == EM_MIPS => "MIPS_OPTIONS".into(),
        0x6fff_fff5 => "GNU_ATTRIBUTES".into(),
        0x6fff_fff7 => "GNU_LIBLIST".into(),
        17 => "GROUP".into(),
        18 => "SYMTAB SECTION INDICES".into(),
        0 => "NULL".into(),
        1 => "PROGBITS".into(),
        2 => "SYMTAB".into(),
        3 => "STRTAB".into(),
        4 => "RELA".into(),
        5 => "HASH".into(),
        6 => "DYNAMIC".into(),
        7 => "NOTE".into(),
        8 => "NOBITS".into(),
        9 => "REL".into(),
        11 => "DYNSYM".into(),
        14 => "INIT_ARRAY".into(),
        15 => "FINI_ARRAY".into(),
        16 => "PREINIT_ARRAY".into(),
        0x6fff_fff6 => "GNU_HASH".into(),
        0x6fff_fffe => "VERNEED".into(),
        0x6fff_fffd => "VERDEF".into(),
        0x6fff_ffff => "VERSYM".into(),
        0x7000_001e => "MIPS_DWARF".into(),
        0x7000_002a => "MIPS_ABIFLAGS".into(),
        n => format!("{n:#x}"),
    }
}

/// What a whole section counts as, or `None` for code/data sections whose
/// bytes are attributed symbol by symbol.
fn section_class(s: &SectionHeader) -> Option<&'static str> {
    const SHF_ALLOC: u64 = 2;
    if GO_METADATA_SECTIONS.contains(&s.name.as_str()) {
        return Some(GO_RUNTIME);
    }
    if s.flags & SHF_ALLOC == 0 {
        return Some(if s.name == ".shstrtab" {
            ELF_LINKING
        } else {
            SYMBOLS_DEBUG
        });
    }
    if s.kind != 1 || LINKING_SECTIONS.contains(&s.name.as_str()) || s.name.starts_with(".rel") {
        return Some(ELF_LINKING);
    }
    None
}

/// Address ranges the Go linker marks with `runtime.X`/`runtime.eX` symbols:
/// everything inside is Go's, everything in the same sections outside is C.
#[derive(Default)]
struct GoRanges {
    ranges: Vec<(u64, u64)>,
    /// `runtime.types`..`runtime.etypes`: type descriptors and strings.
    types: Option<(u64, u64)>,
    /// Go's text as the function table bounds it, when names come from the
    /// table alone (no symbol table says where C code is).
    table_text: Option<(u64, u64)>,
    /// Go's package variables (`noptrdata` and `data`) as the module data
    /// records them, when names come from the function table alone.
    module_vars: Vec<(u64, u64)>,
}

impl GoRanges {
    fn from_symbols(
        symbols: &[Symbol],
        table: Option<&GoFuncTable>,
        module: Option<&GoModuleRanges>,
    ) -> GoRanges {
        let find = |n: &str| symbols.iter().find(|s| s.name == n).map(|s| s.value);
        let mut out = GoRanges::default();
        for (start, end) in [
            ("runtime.text", "runtime.etext"),
            ("runtime.rodata", "runtime.erodata"),
            ("runtime.noptrdata", "runtime.enoptrdata"),
            ("runtime.data", "runtime.edata"),
        ] {
            if let (Some(a), Some(b)) = (find(start), find(end))
                && a <= b
            {
                out.ranges.push((a, b));
            }
        }
        if let (Some(a), Some(b)) = (find("runtime.types"), find("runtime.etypes"))
            && a <= b
        {
            out.types = Some((a, b));
        }
        if out.ranges.is_empty()
            && let Some(t) = table
        {
            out.ranges.push((t.text_start, t.text_end));
            out.table_text = Some((t.text_start, t.text_end));
            // The module data survives stripping: it brackets Go's data as
            // the runtime.* symbols would.
            if let Some(m) = module {
                let (ta, tb) = m.types;
                out.ranges.push((m.rodata.unwrap_or(ta).min(ta), tb));
                out.types = Some(m.types);
                out.module_vars = vec![m.noptrdata, m.data];
                out.ranges.extend([m.noptrdata, m.data]);
            }
        }
        out
    }

    fn contains(&self, addr: u64) -> bool {
        self.ranges.iter().any(|(a, b)| (*a..*b).contains(&addr))
    }
}

/// The symbols a report names bytes with, and where they came from.
pub struct Names {
    pub symbols: Vec<Symbol>,
    pub from: String,
}

/// A file's split debug info, found through its `.gnu_debuglink` (beside
/// the file, as `slipway build` and `slipway strip --debug-out` put it) and
/// checked against the CRC the link records.
pub fn debug_file_for(path: &Path, data: &[u8]) -> Result<Option<(String, Vec<u8>)>, String> {
    let Ok(info) = slipway_elf::inspect(data) else {
        return Ok(None);
    };
    let Some(link) = info.debuglink else {
        return Ok(None);
    };
    let candidate = path.with_file_name(&link.file);
    let bytes = match std::fs::read(&candidate) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read {}: {e}", candidate.display())),
    };
    let crc = crc32fast::hash(&bytes);
    if crc != link.crc {
        return Err(format!(
            "{} does not match the binary's debuglink (CRC {crc:08x}, expected {:08x}); it belongs to another build",
            candidate.display(),
            link.crc
        ));
    }
    Ok(Some((link.file, bytes)))
}

/// Analyse a file on disk, using its split debug file when it has no symbols.
pub fn analyze_path(path: &Path) -> Result<BinaryReport, SizeError> {
    analyze_files(path, None)
}

fn read(path: &Path) -> Result<Vec<u8>, SizeError> {
    std::fs::read(path).map_err(|source| SizeError::Io {
        what: "reading",
        path: path.to_path_buf(),
        source,
    })
}

/// Analyse a file on disk with the symbols of `debug` (a split debug file
/// known to belong to it, as a build's staging keeps them) or, when `None`,
/// of the file itself or the debug file its debuglink names.
pub fn analyze_files(path: &Path, debug: Option<&Path>) -> Result<BinaryReport, SizeError> {
    let data = read(path)?;
    let mut notes = Vec::new();
    let own = slipway_elf::symbols(&data).map_err(|e| SizeError::elf(path, e))?;
    let names = if let (true, Some(debug)) = (own.is_empty(), debug) {
        let bytes = read(debug)?;
        let symbols = slipway_elf::symbols(&bytes).map_err(|e| SizeError::elf(debug, e))?;
        Some(Names {
            symbols,
            from: format!("debug file {}", debug.display()),
        })
    } else if own.is_empty() {
        match debug_file_for(path, &data) {
            Ok(Some((name, bytes))) => match slipway_elf::symbols(&bytes) {
                Ok(symbols) if !symbols.is_empty() => Some(Names {
                    symbols,
                    from: format!("debug file {name}"),
                }),
                Ok(_) => None,
                Err(e) => {
                    notes.push(format!("debug file {name} unreadable: {e}"));
                    None
                }
            },
            Ok(None) => None,
            Err(note) => {
                notes.push(note);
                None
            }
        }
    } else {
        Some(Names {
            symbols: own,
            from: "symbol table".into(),
        })
    };
    let mut report = analyze(&path.display().to_string(), &data, names)?;
    report.notes.splice(0..0, notes);
    Ok(report)
}

/// Analyse ELF bytes. `names` are the symbols to use (the file's own, or
/// its debug file's); without them Go functions come from `.gopclntab`.
pub fn analyze(label: &str, data: &[u8], names: Option<Names>) -> Result<BinaryReport, SizeError> {
    let bad = |e| SizeError::Elf {
        file: label.to_string(),
        source: e,
    };
    let layout = slipway_elf::file_layout(data).map_err(bad)?;
    let mut notes = Vec::new();
    let table = match slipway_elf::go_functions(data) {
        Ok(t) => t,
        Err(e) => {
            notes.push(format!("Go function table unreadable: {e}"));
            None
        }
    };
    let (symbols, from) = match names {
        Some(n) => (n.symbols, n.from),
        None => match &table {
            Some(t) => (
                t.funcs
                    .iter()
                    .map(|f| Symbol {
                        name: f.name.clone(),
                        value: f.entry,
                        size: f.size,
                        kind: STT_FUNC,
                        binding: 1,
                        section: 0,
                    })
                    .collect(),
                "Go function table".to_string(),
            ),
            None => (Vec::new(), "none".to_string()),
        },
    };
    let go_funcs: HashSet<&str> = table
        .as_ref()
        .map(|t| t.funcs.iter().map(|f| f.name.as_str()).collect())
        .unwrap_or_default();
    // Only needed when the table is all there is to name things.
    let module = match (&table, from.as_str()) {
        (Some(_), "Go function table") => match slipway_elf::go_module_ranges(data) {
            Ok(m) => m,
            Err(e) => {
                notes.push(format!("Go module data unreadable: {e}"));
                None
            }
        },
        _ => None,
    };
    let ranges = GoRanges::from_symbols(&symbols, table.as_ref(), module.as_ref());
    let called: HashSet<&str> = symbols.iter().filter_map(|s| cgo_callee(&s.name)).collect();

    let mut acc = Accounts::default();
    let file_size = data.len() as u64;
    // File ranges claimed so far, to count each byte once.
    let mut claimed: Vec<(u64, u64, &'static str)> = vec![(0, layout.header_size, ELF_LINKING)];
    for (start, len) in [layout.program_headers, layout.section_headers] {
        if len > 0 {
            claimed.push((start, start.saturating_add(len), ELF_LINKING));
        }
    }
    let mut sections = Vec::new();
    for s in &layout.sections {
        let class = section_class(s);
        sections.push(SectionRow {
            index: s.index,
            name: s.name.clone(),
            kind: section_type(s.kind, layout.machine),
            addr: s.addr,
            offset: s.offset,
            size: s.size,
            file_size: s.file_size,
            counted_as: class.unwrap_or("symbols"),
        });
        if s.file_size == 0 {
            continue;
        }
        let end = s.offset.saturating_add(s.file_size);
        match class {
            Some(c) => {
                if c == GO_RUNTIME {
                    acc.runtime(&format!("{} section", s.name), s.file_size);
                }
                claimed.push((s.offset, end, c));
            }
            None => {
                attribute_section(s, &symbols, &go_funcs, &ranges, &called, &mut acc);
                claimed.push((s.offset, end, "content"));
            }
        }
    }
    // Sections may overlap headers or each other in odd files: count the
    // overlap once, and whatever no range covers is padding.
    claimed.sort_by_key(|(a, b, _)| (*a, *b));
    let mut cursor = 0u64;
    let mut padding = 0u64;
    let mut overlap = 0u64;
    let mut whole = BTreeMap::<&'static str, u64>::new();
    for (a, b, class) in &claimed {
        let (a, b) = ((*a).min(file_size), (*b).min(file_size));
        if a > cursor {
            padding += a - cursor;
        }
        let start = a.max(cursor);
        if b > start {
            if *class != "content" {
                *whole.entry(class).or_default() += b - start;
            }
            overlap += start - a;
        } else {
            overlap += b.saturating_sub(a);
        }
        cursor = cursor.max(b);
    }
    padding += file_size.saturating_sub(cursor);
    if overlap > 0 {
        notes.push(format!(
            "{overlap} bytes lie in more than one section or header; counted once"
        ));
    }
    // Content sections: their attributed bytes, then the rest as unattributed.
    let content: u64 = layout
        .sections
        .iter()
        .filter(|s| section_class(s).is_none())
        .map(|s| s.file_size)
        .sum();
    let attributed = acc.packages_total() + acc.c_total() + acc.runtime_in_content;
    let mut breakdown = vec![
        Row {
            name: GO_PACKAGES.into(),
            size: acc.packages_total(),
        },
        Row {
            name: GO_RUNTIME.into(),
            size: acc.runtime_in_content + whole.get(GO_RUNTIME).copied().unwrap_or(0),
        },
        Row {
            name: C_CODE.into(),
            size: acc.c_total(),
        },
        Row {
            name: ELF_LINKING.into(),
            size: whole.get(ELF_LINKING).copied().unwrap_or(0),
        },
        Row {
            name: SYMBOLS_DEBUG.into(),
            size: whole.get(SYMBOLS_DEBUG).copied().unwrap_or(0),
        },
        Row {
            name: PADDING.into(),
            size: padding,
        },
    ];
    // Content sections overlapping something else were counted in `whole`
    // only for their unclaimed part; what remains is the reconciliation.
    let accounted: u64 = breakdown.iter().map(|r| r.size).sum();
    let rest = file_size.saturating_sub(accounted);
    if accounted > file_size || rest != content.saturating_sub(attributed) {
        notes.push(format!(
            "the rows before `unattributed` add up to {accounted} bytes of {file_size}"
        ));
    }
    breakdown.push(Row {
        name: UNATTRIBUTED.into(),
        size: rest,
    });
    let unattributed = acc.unattributed_rows();
    Ok(BinaryReport {
        path: label.to_string(),
        file_size,
        symbols_from: from,
        breakdown,
        packages: sorted(acc.packages),
        c_parts: sorted(acc.c_parts),
        go_runtime: sorted(acc.go_runtime),
        sections,
        unattributed,
        notes,
    })
}

impl BinaryReport {
    /// The largest parts of the file across packages, C parts and runtime
    /// metadata, each labelled with its table: what a budget failure shows.
    pub fn top(&self, n: usize) -> Vec<Row> {
        let mut rows: Vec<Row> = self
            .packages
            .iter()
            .map(|r| Row {
                name: format!("Go package {}", r.name),
                size: r.size,
            })
            .chain(self.c_parts.iter().map(|r| Row {
                name: format!("C: {}", r.name),
                size: r.size,
            }))
            .chain(self.go_runtime.iter().map(|r| Row {
                name: format!("Go runtime metadata: {}", r.name),
                size: r.size,
            }))
            .collect();
        rows.sort_by(|a, b| b.size.cmp(&a.size).then_with(|| a.name.cmp(&b.name)));
        rows.truncate(n);
        rows
    }
}

#[derive(Default)]
struct Accounts {
    packages: BTreeMap<String, u64>,
    c_parts: BTreeMap<String, u64>,
    go_runtime: BTreeMap<String, u64>,
    /// Runtime metadata found inside code/data sections (type data, ...).
    runtime_in_content: u64,
    unattributed: BTreeMap<String, u64>,
}

impl Accounts {
    fn runtime(&mut self, what: &str, n: u64) {
        *self.go_runtime.entry(what.to_string()).or_default() += n;
    }
    fn packages_total(&self) -> u64 {
        self.packages.values().sum()
    }
    fn c_total(&self) -> u64 {
        self.c_parts.values().sum()
    }
    fn unattributed_rows(&self) -> Vec<Row> {
        sorted(self.unattributed.clone())
    }
}

fn sorted(map: BTreeMap<String, u64>) -> Vec<Row> {
    let mut rows: Vec<Row> = map
        .into_iter()
        .filter(|(_, size)| *size > 0)
        .map(|(name, size)| Row { name, size })
        .collect();
    rows.sort_by(|a, b| b.size.cmp(&a.size).then_with(|| a.name.cmp(&b.name)));
    rows
}

/// Attribute one code/data section's bytes symbol by symbol. Symbols are
/// clipped to the section and to each other, so no byte counts twice.
fn attribute_section(
    s: &SectionHeader,
    symbols: &[Symbol],
    go_funcs: &HashSet<&str>,
    ranges: &GoRanges,
    called: &HashSet<&str>,
    acc: &mut Accounts,
) {
    let (start, end) = (s.addr, s.addr.saturating_add(s.file_size));
    let mut inside: Vec<&Symbol> = symbols
        .iter()
        .filter(|sym| sym.size > 0 && sym.value >= start && sym.value < end)
        .collect();
    inside.sort_by(|a, b| a.value.cmp(&b.value).then(b.size.cmp(&a.size)));
    // Aliases (`free` and `c.malloc.free` at one address): the most
    // specific C part any of them names.
    let mut alias_part: HashMap<u64, CPart> = HashMap::new();
    for sym in &inside {
        let part = c_part(&sym.name, called.contains(sym.name.as_str()));
        alias_part
            .entry(sym.value)
            .and_modify(|p| *p = (*p).min(part))
            .or_insert(part);
    }
    let mut cursor = start;
    let mut gaps: Vec<(u64, u64)> = Vec::new();
    for sym in inside {
        let from = sym.value.max(cursor);
        let to = sym.value.saturating_add(sym.size).min(end);
        if to <= from {
            continue;
        }
        if from > cursor {
            gaps.push((cursor, from));
        }
        let n = to - from;
        let is_go = go_funcs.contains(sym.name.as_str()) || ranges.contains(sym.value);
        if is_go {
            if let Some(what) = go_metadata(&sym.name) {
                acc.runtime(what, n);
                acc.runtime_in_content += n;
            } else {
                let package = package_of(&sym.name).unwrap_or("(no package: assembly helpers)");
                *acc.packages.entry(package.to_string()).or_default() += n;
            }
        } else {
            let part = alias_part[&sym.value];
            *acc.c_parts.entry(part.label().to_string()).or_default() += n;
        }
        cursor = to;
    }
    if end > cursor {
        gaps.push((cursor, end));
    }
    // Unnamed bytes between runtime.types and runtime.etypes are the type
    // descriptors and string data the linker emits without symbols.
    let overlap = |(a, b): (u64, u64), (ra, rb): (u64, u64)| b.min(rb).saturating_sub(a.max(ra));
    for (a, b) in gaps {
        let mut unnamed = b - a;
        if let Some(types) = ranges.types {
            let n = overlap((a, b), types);
            if n > 0 {
                // Without any data symbols (a stripped binary), nothing
                // splits off the packages' constants named in it either.
                let what = if ranges.table_text.is_some() {
                    TYPES_WITHOUT_SYMBOLS
                } else {
                    "type descriptors and strings without symbols"
                };
                acc.runtime(what, n);
                acc.runtime_in_content += n;
                unnamed -= n;
            }
        }
        // Go's package variables, bracketed by the module data; only a
        // symbol table could say which package each belongs to.
        let vars: u64 = ranges.module_vars.iter().map(|r| overlap((a, b), *r)).sum();
        if vars > 0 {
            *acc.packages
                .entry(GO_VARIABLES_WITHOUT_SYMBOLS.to_string())
                .or_default() += vars;
            unnamed = unnamed.saturating_sub(vars);
        }
        // The host linker merges C's .data into the same output section as
        // Go's; Go's part is bracketed exactly, so the rest of it is C.
        if ranges.table_text.is_some() && !ranges.module_vars.is_empty() && s.name == ".data" {
            let go: u64 = ranges.ranges.iter().map(|r| overlap((a, b), *r)).sum();
            let c = (b - a).saturating_sub(go);
            if c > 0 {
                *acc.c_parts
                    .entry(C_DATA_WITHOUT_SYMBOLS.to_string())
                    .or_default() += c;
                unnamed = unnamed.saturating_sub(c);
            }
        }
        // Without symbols (names from the function table only), code
        // outside Go's text range is the C side of a cgo build: the table
        // covers every Go function, and the host linker puts C around them.
        if let Some((ga, gb)) = ranges.table_text
            && s.flags & SHF_EXECINSTR != 0
        {
            let inside = b.min(gb).saturating_sub(a.max(ga));
            let outside = (b - a) - inside;
            // Under 64 bytes is the alignment padding after the last Go
            // function (functions align to at most 64), not code.
            if outside >= 64 {
                *acc.c_parts
                    .entry(C_WITHOUT_SYMBOLS.to_string())
                    .or_default() += outside;
                unnamed -= outside;
            }
        }
        if unnamed > 0 {
            *acc.unattributed.entry(s.name.clone()).or_default() += unnamed;
        }
    }
}

const SHF_EXECINSTR: u64 = 4;
/// Go's read-only data when no symbol names any of it: the module data's
/// `types`..`etypes` (since Go 1.26 all of Go's read-only data).
pub const TYPES_WITHOUT_SYMBOLS: &str =
    "type descriptors, strings and constants (no symbols to split them)";
/// Go's package variables when no symbol names their packages.
pub const GO_VARIABLES_WITHOUT_SYMBOLS: &str =
    "(package variables of every package: no symbols name the packages)";
/// C's part of `.data` when no symbol names it.
pub const C_DATA_WITHOUT_SYMBOLS: &str = "C data outside Go's data (no symbols to name it)";
/// The C part of code only the function table's extent tells apart.
pub const C_WITHOUT_SYMBOLS: &str = "C code outside Go's text (no symbols to name it)";
