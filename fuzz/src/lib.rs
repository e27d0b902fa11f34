//! Helpers shared by the fuzz targets: building small ELF files around fuzzed
//! section contents, and the "loaded bytes are unchanged" check for strip.

/// A minimal little-endian ELF64 executable for amd64 with one `PT_LOAD`
/// covering the whole file at `0x400000` and one section, `name`, holding
/// `contents`. Lets a fuzzer reach a section parser without mutating a whole
/// binary around it.
pub fn elf_with_section(name: &str, contents: &[u8]) -> Vec<u8> {
    const EH: usize = 64;
    const PH: usize = 56;
    const SH: usize = 64;
    let data_at = EH + PH;
    let mut shstrtab = vec![0u8];
    let name_off = shstrtab.len();
    shstrtab.extend_from_slice(name.as_bytes());
    shstrtab.push(0);
    let shstr_name = shstrtab.len();
    shstrtab.extend_from_slice(b".shstrtab\0");
    let shstr_at = data_at + contents.len();
    let sh_at = (shstr_at + shstrtab.len()).next_multiple_of(8);
    let total = sh_at + 3 * SH;

    let mut f = Vec::with_capacity(total);
    f.extend_from_slice(b"\x7fELF\x02\x01\x01\0");
    f.extend_from_slice(&[0; 8]);
    f.extend_from_slice(&2u16.to_le_bytes()); // ET_EXEC
    f.extend_from_slice(&62u16.to_le_bytes()); // EM_X86_64
    f.extend_from_slice(&1u32.to_le_bytes());
    f.extend_from_slice(&0x40_0000u64.to_le_bytes()); // entry
    f.extend_from_slice(&(EH as u64).to_le_bytes()); // phoff
    f.extend_from_slice(&(sh_at as u64).to_le_bytes()); // shoff
    f.extend_from_slice(&0u32.to_le_bytes());
    f.extend_from_slice(&(EH as u16).to_le_bytes());
    f.extend_from_slice(&(PH as u16).to_le_bytes());
    f.extend_from_slice(&1u16.to_le_bytes());
    f.extend_from_slice(&(SH as u16).to_le_bytes());
    f.extend_from_slice(&3u16.to_le_bytes());
    f.extend_from_slice(&2u16.to_le_bytes()); // shstrndx
    // PT_LOAD, R, the whole file.
    f.extend_from_slice(&1u32.to_le_bytes());
    f.extend_from_slice(&4u32.to_le_bytes());
    f.extend_from_slice(&0u64.to_le_bytes());
    f.extend_from_slice(&0x40_0000u64.to_le_bytes());
    f.extend_from_slice(&0x40_0000u64.to_le_bytes());
    f.extend_from_slice(&(total as u64).to_le_bytes());
    f.extend_from_slice(&(total as u64).to_le_bytes());
    f.extend_from_slice(&0x1000u64.to_le_bytes());
    f.extend_from_slice(contents);
    f.extend_from_slice(&shstrtab);
    f.resize(sh_at, 0);
    let section = |f: &mut Vec<u8>, name: usize, kind: u32, flags: u64, at: usize, size: usize| {
        f.extend_from_slice(&(name as u32).to_le_bytes());
        f.extend_from_slice(&kind.to_le_bytes());
        f.extend_from_slice(&flags.to_le_bytes());
        let addr = if flags & 2 != 0 {
            0x40_0000 + at as u64
        } else {
            0
        };
        f.extend_from_slice(&addr.to_le_bytes());
        f.extend_from_slice(&(at as u64).to_le_bytes());
        f.extend_from_slice(&(size as u64).to_le_bytes());
        f.extend_from_slice(&0u32.to_le_bytes());
        f.extend_from_slice(&0u32.to_le_bytes());
        f.extend_from_slice(&1u64.to_le_bytes());
        f.extend_from_slice(&0u64.to_le_bytes());
    };
    section(&mut f, 0, 0, 0, 0, 0);
    section(&mut f, name_off, 1, 2, data_at, contents.len()); // PROGBITS, ALLOC
    section(&mut f, shstr_name, 3, 0, shstr_at, shstrtab.len());
    f
}

/// One file's loaded segments and the virtual ranges its ELF header and
/// program header table occupy (which a rewrite may legitimately change).
struct Loaded {
    segments: Vec<(u64, Vec<u8>)>,
    headers: Vec<(u64, u64)>,
}

/// What the loader maps for a file: per `PT_LOAD`, its virtual address and
/// the bytes there (file bytes, then zeros up to `p_memsz`). `None` if the
/// headers cannot be read or a segment is absurd.
fn loaded(data: &[u8]) -> Option<Loaded> {
    let headers = slipway_elf::program_headers(data).ok()?;
    let mut out = Loaded {
        segments: Vec::new(),
        headers: Vec::new(),
    };
    for p in headers
        .segments
        .iter()
        .filter(|p| p.kind == slipway_elf::PT_LOAD)
    {
        // Keep each execution cheap: the fuzzer's segments may claim
        // gigabytes; such files still go through every parser, unchecked here.
        if p.memsz > 4 << 20 || p.filesz > p.memsz {
            return None;
        }
        let start = usize::try_from(p.offset).ok()?;
        let end = start.checked_add(usize::try_from(p.filesz).ok()?)?;
        let mut bytes = data.get(start..end)?.to_vec();
        for (a, b) in [(0, headers.header_size), headers.table] {
            let (a, b) = (a.max(p.offset), b.min(p.offset + p.filesz));
            if a < b {
                let va = p.vaddr.checked_add(a - p.offset)?;
                out.headers.push((va, va.checked_add(b - a)?));
            }
        }
        bytes.resize(p.memsz as usize, 0);
        out.segments.push((p.vaddr, bytes));
    }
    Some(out)
}

/// Check that `after` maps the same bytes as `before` at every loaded virtual
/// address, apart from the two files' headers. `Ok` when `before`'s segments
/// are beyond what this check handles (it then has nothing to say).
pub fn same_loaded_bytes(before: &[u8], after: &[u8]) -> Result<(), String> {
    let Some(want) = loaded(before) else {
        return Ok(());
    };
    let got = loaded(after).ok_or("the output's program headers do not read back")?;
    if want.segments.len() != got.segments.len() {
        return Err(format!(
            "{} loaded segments became {}",
            want.segments.len(),
            got.segments.len()
        ));
    }
    let skip: Vec<(u64, u64)> = want.headers.iter().chain(&got.headers).copied().collect();
    for ((va, a), (vb, b)) in want.segments.iter().zip(&got.segments) {
        if va != vb || a.len() != b.len() {
            return Err(format!(
                "segment at {va:#x} ({} bytes) became {vb:#x} ({} bytes)",
                a.len(),
                b.len()
            ));
        }
        for (i, (x, y)) in a.iter().zip(b).enumerate() {
            // A segment may end at the top of the address space: wrap, as the
            // header ranges were computed without overflowing.
            let at = va.wrapping_add(i as u64);
            if x != y && !skip.iter().any(|(s, e)| (*s..*e).contains(&at)) {
                return Err(format!(
                    "loaded byte at {at:#x} changed: {x:#04x} -> {y:#04x}"
                ));
            }
        }
    }
    Ok(())
}
