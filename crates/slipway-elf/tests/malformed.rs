//! Malformed input is an error, never a panic: real binaries (Go for a 64-bit
//! little-endian and a 32-bit big-endian target, a gcc C binary with symbol
//! versions) are mutated by proptest and handed to every entry point, plus
//! hand-made damage: truncation, bad offsets, overlapping sections, absurd
//! counts, looping version chains and fake Go build info.
//!
//! These are quick, seeded runs on every `cargo test`; the coverage-guided
//! fuzzing of the same entry points lives in `fuzz/` (see docs/fuzzing.md).
//! The number of mutated executions is printed (run with `--nocapture`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use proptest::prelude::*;
use slipway_elf::{ElfError, StripMode};
use slipway_testkit::{example, require, stdout_ok};

static EXECUTIONS: AtomicUsize = AtomicUsize::new(0);

/// Every entry point on one input; Ok or Err are both fine, a panic is not.
fn exercise(data: &[u8]) {
    EXECUTIONS.fetch_add(1, Ordering::Relaxed);
    let _ = slipway_elf::inspect(data);
    let _ = slipway_elf::summarize(data);
    let _ = slipway_elf::glibc_floor(data, &[2, 17]);
    for mode in [StripMode::All, StripMode::Debug] {
        if let Ok(split) = slipway_elf::strip(data, mode, Some("x.debug")) {
            // Whatever strip produced must itself be readable.
            let stripped = split.stripped.to_vec();
            slipway_elf::check_structure(&stripped).expect("the stripped file is well-formed");
            if let Some(d) = split.debug {
                let _ = d.crc32();
                if let Err(e) = slipway_elf::check_structure(&d.to_vec()) {
                    panic!("the debug file is malformed: {e}");
                }
            }
        }
    }
    let mut copy = data.to_vec();
    let _ = slipway_elf::retype_debug_sections_for_mips(&mut copy);
}

struct Samples {
    _dir: tempfile::TempDir,
    files: Vec<(String, Vec<u8>)>,
}

fn samples() -> &'static Samples {
    static SAMPLES: OnceLock<Samples> = OnceLock::new();
    SAMPLES.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let go = require("go", "golang");
        let mut files = Vec::new();
        for (goarch, extra) in [("amd64", None), ("mips", Some(("GOMIPS", "softfloat")))] {
            let out = dir.path().join(format!("hello-{goarch}"));
            let mut cmd = Command::new(&go);
            cmd.current_dir(example("hello"))
                .env("CGO_ENABLED", "0")
                .env("GOARCH", goarch)
                .args(["build", "-trimpath", "-o"])
                .arg(&out)
                .arg(".");
            if let Some((k, v)) = extra {
                cmd.env(k, v);
            }
            stdout_ok(&cmd.output().unwrap(), "go build");
            files.push((format!("go-{goarch}"), std::fs::read(&out).unwrap()));
        }
        let c = c_binary(dir.path());
        files.push(("gcc".into(), std::fs::read(c).unwrap()));
        Samples { _dir: dir, files }
    })
}

fn c_binary(dir: &Path) -> PathBuf {
    let src = dir.join("v.c");
    std::fs::write(
        &src,
        "#include <stdio.h>\n#include <pthread.h>\nstatic void *f(void *a) { return a; }\nint main(void) { pthread_t t; pthread_create(&t, 0, f, 0); pthread_join(t, 0); puts(\"ok\"); return 0; }\n",
    )
    .unwrap();
    let out = dir.join("v");
    let gcc = require("gcc", "gcc");
    stdout_ok(
        &Command::new(gcc)
            .args(["-g", "-pthread", "-o"])
            .arg(&out)
            .arg(&src)
            .output()
            .unwrap(),
        "gcc",
    );
    out
}

/// Offsets where damage matters most: headers, section headers, and the
/// sections inspect decodes.
fn hot_ranges(data: &[u8]) -> Vec<(usize, usize)> {
    let mut ranges = vec![(0, 64.min(data.len()))];
    let elf_class64 = data.get(4) == Some(&2);
    let be = data.get(5) == Some(&2);
    let rd = |at: usize, n: usize| -> usize {
        let b = &data[at..at + n];
        let mut v: u64 = 0;
        for i in 0..n {
            let byte = if be { b[i] } else { b[n - 1 - i] };
            v = (v << 8) | u64::from(byte);
        }
        v as usize
    };
    let (phoff, phnum, phent, shoff, shnum, shent) = if elf_class64 {
        (
            rd(0x20, 8),
            rd(0x38, 2),
            rd(0x36, 2),
            rd(0x28, 8),
            rd(0x3c, 2),
            rd(0x3a, 2),
        )
    } else {
        (
            rd(0x1c, 4),
            rd(0x2c, 2),
            rd(0x2a, 2),
            rd(0x20, 4),
            rd(0x30, 2),
            rd(0x2e, 2),
        )
    };
    ranges.push((phoff, phoff + phnum * phent));
    ranges.push((shoff, shoff + shnum * shent));
    let parsed = slipway_elf::inspect(data).unwrap();
    let _ = parsed;
    // The small sections that inspect decodes byte by byte.
    for i in 0..shnum {
        let b = shoff + i * shent;
        let (off, size) = if elf_class64 {
            (rd(b + 24, 8), rd(b + 32, 8))
        } else {
            (rd(b + 16, 4), rd(b + 20, 4))
        };
        if size > 0 && size <= 4096 && off + size <= data.len() {
            ranges.push((off, off + size));
        }
    }
    ranges.retain(|(a, b)| a < b && *b <= data.len());
    ranges
}

#[derive(Debug, Clone)]
enum Damage {
    /// Overwrite bytes in a hot range: (range index, position, bytes).
    Hot(usize, usize, Vec<u8>),
    /// Overwrite a 4- or 8-byte field anywhere in a hot range with an extreme value.
    Field(usize, usize, u64, bool),
    /// Overwrite bytes anywhere in the file.
    Anywhere(usize, Vec<u8>),
    /// Cut the file.
    Truncate(usize),
}

fn damage() -> impl Strategy<Value = Vec<Damage>> {
    let extreme = prop_oneof![
        Just(0u64),
        Just(1),
        Just(0x7fff_ffff),
        Just(0xffff_ffff),
        Just(u64::MAX),
        Just(0xffff),
        any::<u64>(),
    ];
    let one = prop_oneof![
        4 => (any::<usize>(), any::<usize>(), proptest::collection::vec(any::<u8>(), 1..8))
            .prop_map(|(r, p, b)| Damage::Hot(r, p, b)),
        3 => (any::<usize>(), any::<usize>(), extreme, any::<bool>())
            .prop_map(|(r, p, v, wide)| Damage::Field(r, p, v, wide)),
        1 => (any::<usize>(), proptest::collection::vec(any::<u8>(), 1..16))
            .prop_map(|(p, b)| Damage::Anywhere(p, b)),
        1 => any::<usize>().prop_map(Damage::Truncate),
    ];
    proptest::collection::vec(one, 1..5)
}

fn apply(original: &[u8], ranges: &[(usize, usize)], damage: &[Damage]) -> Vec<u8> {
    let mut data = original.to_vec();
    let mut len = data.len();
    for d in damage {
        match d {
            Damage::Hot(r, p, bytes) => {
                let (a, b) = ranges[r % ranges.len()];
                let at = a + p % (b - a);
                for (i, v) in bytes.iter().enumerate() {
                    if let Some(slot) = data.get_mut(at + i) {
                        *slot = *v;
                    }
                }
            }
            Damage::Field(r, p, v, wide) => {
                let (a, b) = ranges[r % ranges.len()];
                let at = (a + p % (b - a)) & !3;
                let bytes = if *wide {
                    v.to_le_bytes().to_vec()
                } else {
                    (*v as u32).to_le_bytes().to_vec()
                };
                for (i, v) in bytes.iter().enumerate() {
                    if let Some(slot) = data.get_mut(at + i) {
                        *slot = *v;
                    }
                }
            }
            Damage::Anywhere(p, bytes) => {
                let at = p % data.len();
                for (i, v) in bytes.iter().enumerate() {
                    if let Some(slot) = data.get_mut(at + i) {
                        *slot = *v;
                    }
                }
            }
            Damage::Truncate(n) => len = len.min(n % original.len()),
        }
    }
    data.truncate(len);
    data
}

fn mutate_sample(index: usize, cases: u32) {
    let (name, original) = &samples().files[index];
    let ranges = hot_ranges(original);
    let mine = AtomicUsize::new(0);
    let config = ProptestConfig {
        cases,
        // Fixed, so a run in CI is the run that passed here.
        rng_seed: proptest::test_runner::RngSeed::Fixed(0x5117_0a7e + index as u64),
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    proptest!(config, |(d in damage())| {
        let data = apply(original, &ranges, &d);
        mine.fetch_add(1, Ordering::Relaxed);
        exercise(&data);
    });
    println!(
        "{name}: {} mutated executions (all entry points each)",
        mine.load(Ordering::Relaxed)
    );
}

#[test]
fn mutated_go_amd64_never_panics() {
    mutate_sample(0, 1000);
}

#[test]
fn mutated_go_mips_big_endian_never_panics() {
    mutate_sample(1, 1000);
}

#[test]
fn mutated_gcc_binary_never_panics() {
    mutate_sample(2, 3000);
}

fn put(data: &mut [u8], at: usize, bytes: &[u8]) {
    data[at..at + bytes.len()].copy_from_slice(bytes);
}

#[test]
fn every_truncation_of_the_headers_is_an_error() {
    let (_, go) = &samples().files[0];
    // Every length through the headers, and around each section's edges.
    let mut lengths: Vec<usize> = (0..4096).collect();
    let shnum = u16::from_le_bytes(go[0x3c..0x3e].try_into().unwrap()) as usize;
    for i in 1..shnum {
        let at = shdr(go, i);
        let offset = u64::from_le_bytes(go[at + 24..at + 32].try_into().unwrap()) as usize;
        let size = u64::from_le_bytes(go[at + 32..at + 40].try_into().unwrap()) as usize;
        let kind = u32::from_le_bytes(go[at + 4..at + 8].try_into().unwrap());
        if kind != 8 && size > 0 {
            lengths.extend([offset + 1, offset + size / 2, offset + size - 1]);
        }
    }
    lengths.retain(|l| *l < go.len());
    for len in lengths {
        let cut = &go[..len];
        exercise(cut);
        assert!(slipway_elf::inspect(cut).is_err(), "length {len}");
        assert!(
            slipway_elf::strip(cut, StripMode::All, None).is_err(),
            "length {len}"
        );
    }
}

/// Section header `i` of a 64-bit little-endian file: its file position.
fn shdr(data: &[u8], i: usize) -> usize {
    let shoff = u64::from_le_bytes(data[0x28..0x30].try_into().unwrap()) as usize;
    let shent = u16::from_le_bytes(data[0x3a..0x3c].try_into().unwrap()) as usize;
    shoff + i * shent
}

fn section_index(data: &[u8], name: &str) -> usize {
    let info = slipway_elf::inspect(data).unwrap();
    info.sections.iter().position(|s| s.name == name).unwrap() + 1
}

#[test]
fn bad_offsets_overlaps_and_absurd_counts() {
    let (_, go) = &samples().files[0];
    let len = go.len() as u64;
    let shnum = u16::from_le_bytes(go[0x3c..0x3e].try_into().unwrap()) as usize;
    // A section that starts or ends past the end of the file.
    for i in 1..shnum {
        for (offset, size) in [(len - 1, 16u64), (u64::MAX - 4, 8), (0, len + 1)] {
            let mut d = go.clone();
            let at = shdr(&d, i);
            put(&mut d, at + 24, &offset.to_le_bytes());
            put(&mut d, at + 32, &size.to_le_bytes());
            put(&mut d, at + 4, &1u32.to_le_bytes()); // PROGBITS, so it has bytes
            exercise(&d);
            let e = slipway_elf::strip(&d, StripMode::All, Some("x.debug")).unwrap_err();
            assert!(matches!(e, ElfError::Malformed(_)), "section {i}: {e}");
        }
    }
    // Overlapping sections: the symbol table on top of .text. Stripping must
    // still keep every loaded byte and produce a file that runs its parser.
    let mut d = go.clone();
    let text = shdr(&d, section_index(go, ".text"));
    let symtab = shdr(&d, section_index(go, ".symtab"));
    let text_offset = d[text + 24..text + 32].to_vec();
    put(&mut d, symtab + 24, &text_offset);
    exercise(&d);
    let split = slipway_elf::strip(&d, StripMode::Debug, Some("x.debug")).unwrap();
    let out = split.stripped.to_vec();
    // Go puts its section headers inside the first segment: those bytes, like
    // everything loaded, are kept as they were.
    // (The program headers before them may change: see trim_zero_tail.)
    let (tables_end, loaded_end) = (64 + 6 * 56, 0x1000usize);
    assert!(
        out[tables_end..loaded_end] == d[tables_end..loaded_end],
        "the loaded bytes changed"
    );

    // Absurd counts and entry sizes.
    for (at, value) in [
        (0x3c, 0xffffu16),
        (0x38, 0xffff),
        (0x3a, 1),
        (0x36, 1),
        (0x3e, 0xfffe),
        (0x3a, 0xffff),
    ] {
        let mut d = go.clone();
        put(&mut d, at, &value.to_le_bytes());
        exercise(&d);
        assert!(
            slipway_elf::inspect(&d).is_err(),
            "header field {at:#x} = {value}"
        );
    }
    // Extended numbering (e_shnum = 0 with a section table) is refused clearly.
    let mut d = go.clone();
    put(&mut d, 0x3c, &0u16.to_le_bytes());
    let e = slipway_elf::strip(&d, StripMode::All, None).unwrap_err();
    assert!(e.to_string().contains("extended section numbering"), "{e}");
}

/// `.gnu.version_r` of the gcc sample: its file position and the position of
/// the first entry's first `Vernaux`.
fn version_needs(c: &[u8]) -> (usize, usize) {
    let at = shdr(c, section_index(c, ".gnu.version_r"));
    let offset = u64::from_le_bytes(c[at + 24..at + 32].try_into().unwrap()) as usize;
    let aux = offset + u32::from_le_bytes(c[offset + 8..offset + 12].try_into().unwrap()) as usize;
    (offset, aux)
}

fn version_error(d: &[u8]) -> String {
    exercise(d);
    let e = slipway_elf::inspect(d).unwrap_err();
    assert!(matches!(e, ElfError::Malformed(_)), "{e}");
    let text = e.to_string();
    assert!(text.contains(".gnu.version_r"), "{text}");
    text
}

#[test]
fn looping_version_chains_are_errors() {
    let (_, c) = &samples().files[2];
    let (offset, aux) = version_needs(c);
    // The sample is sound: libc's entry needs two or more versions, chained.
    let count = u16::from_le_bytes(c[offset + 2..offset + 4].try_into().unwrap());
    assert!(count >= 2, "{count} versions");
    assert!(slipway_elf::inspect(c).is_ok());

    // A self-loop: the first Vernaux's vna_next is 0 (back to itself) while
    // vn_cnt says 0xffff entries follow.
    let mut d = c.clone();
    put(&mut d, offset + 2, &0xffffu16.to_le_bytes());
    put(&mut d, aux + 12, &0u32.to_le_bytes());
    let text = version_error(&d);
    assert!(
        text.contains("loops") && text.contains("1 of 65535"),
        "{text}"
    );

    // A two-entry cycle: the second Vernaux points back at the first, by an
    // offset that wraps around in 32-bit arithmetic (-16).
    let mut d = c.clone();
    put(&mut d, offset + 2, &0xffffu16.to_le_bytes());
    let second = aux + u32::from_le_bytes(c[aux + 12..aux + 16].try_into().unwrap()) as usize;
    assert_eq!(second, aux + 16, "Vernaux entries are adjacent");
    put(&mut d, second + 12, &0u32.wrapping_sub(16).to_le_bytes());
    let text = version_error(&d);
    assert!(text.contains("vna_next 0xfffffff0"), "{text}");

    // The same cycle one level up: the Verneed entry's vn_next wraps back to itself.
    let mut d = c.clone();
    put(
        &mut d,
        offset + 12,
        &0u32.wrapping_sub(0x10_0000).to_le_bytes(),
    );
    let text = version_error(&d);
    assert!(text.contains("vn_next"), "{text}");

    // vn_aux wrapping to before the entry.
    let mut d = c.clone();
    put(&mut d, offset + 8, &u32::MAX.to_le_bytes());
    let text = version_error(&d);
    assert!(text.contains("vn_aux"), "{text}");
}

/// Found by `cargo fuzz` (target `elf`): a `.dynsym` entry naming a section
/// that strip removes was rewritten to SHN_UNDEF, changing loaded bytes and
/// turning a defined symbol into an undefined one.
#[test]
fn strip_never_rewrites_the_loaded_dynamic_symbols() {
    let (_, c) = &samples().files[2];
    let at = shdr(c, section_index(c, ".dynsym"));
    let offset = u64::from_le_bytes(c[at + 24..at + 32].try_into().unwrap()) as usize;
    let size = u64::from_le_bytes(c[at + 32..at + 40].try_into().unwrap()) as usize;
    let debug_info = section_index(c, ".debug_info") as u16;
    let mut d = c.clone();
    // Symbol 1's st_shndx (64-bit: 24-byte entries, st_shndx at +6).
    put(&mut d, offset + 24 + 6, &debug_info.to_le_bytes());
    for mode in [StripMode::All, StripMode::Debug] {
        let out = slipway_elf::strip(&d, mode, Some("x.debug"))
            .unwrap()
            .stripped
            .to_vec();
        assert!(
            out[offset..offset + size] == d[offset..offset + size],
            "{mode:?}: .dynsym changed"
        );
    }
}

/// Found by `cargo fuzz` (target `elf`): strip kept an empty section whose
/// offset pointed past the end of the shortened file, and its own reader
/// then refused the output. An empty section's offset is only a hint.
#[test]
fn an_empty_section_past_the_end_is_read_and_stripped() {
    let (_, c) = &samples().files[2];
    let at = shdr(c, section_index(c, ".comment"));
    let mut d = c.clone();
    put(&mut d, at + 24, &(c.len() as u64 + 0x1000).to_le_bytes());
    put(&mut d, at + 32, &0u64.to_le_bytes());
    exercise(&d);
    slipway_elf::inspect(&d).unwrap();
    for mode in [StripMode::All, StripMode::Debug] {
        let out = slipway_elf::strip(&d, mode, Some("x.debug"))
            .unwrap()
            .stripped
            .to_vec();
        slipway_elf::inspect(&out).unwrap();
    }
}

/// Found by `cargo fuzz` (target `elf`): a size in the null section header
/// (index 0, which has no contents) made strip's output unreadable.
#[test]
fn the_null_section_has_no_contents_whatever_its_size() {
    let (_, c) = &samples().files[2];
    let mut d = c.clone();
    put(&mut d, shdr(c, 0) + 32, &(c.len() as u64 * 2).to_le_bytes());
    exercise(&d);
    slipway_elf::check_structure(&d).unwrap();
    let out = slipway_elf::strip(&d, StripMode::All, None)
        .unwrap()
        .stripped
        .to_vec();
    slipway_elf::check_structure(&out).unwrap();
}

/// Found by `cargo fuzz` (target `elf`): a null section header (index 0)
/// given a type and a range was copied into the split debug file, where its
/// range lay past the end. Index 0 must be SHT_NULL; anything else is refused.
#[test]
fn a_typed_null_section_is_refused() {
    let (_, c) = &samples().files[2];
    let mut d = c.clone();
    let at = shdr(c, 0);
    put(&mut d, at + 4, &1u32.to_le_bytes()); // SHT_PROGBITS
    put(&mut d, at + 24, &2u64.to_le_bytes());
    put(&mut d, at + 32, &0x2008u64.to_le_bytes());
    exercise(&d);
    let e = slipway_elf::check_structure(&d).unwrap_err().to_string();
    assert!(e.contains("section 0 is not SHT_NULL"), "{e}");
    assert!(slipway_elf::strip(&d, StripMode::All, Some("x.debug")).is_err());
}

/// Found by `cargo fuzz` (target `elf`): a file whose e_shstrndx is 0
/// (SHN_UNDEF: no name table) had section 0's range read as the name table,
/// so the split debug file, shorter than that range, did not parse again.
#[test]
fn no_name_table_means_no_names() {
    let input = include_bytes!("../../../fuzz/seeds/elf/no-name-table");
    exercise(input);
    for mode in [StripMode::All, StripMode::Debug] {
        let split = slipway_elf::strip(input, mode, Some("x.debug")).unwrap();
        slipway_elf::check_structure(&split.debug.unwrap().to_vec()).unwrap();
    }
}

#[test]
fn fake_go_buildinfo_is_an_error() {
    let (_, go) = &samples().files[0];
    let i = section_index(go, ".go.buildinfo");
    let at = shdr(go, i);
    let offset = u64::from_le_bytes(go[at + 24..at + 32].try_into().unwrap()) as usize;
    let size = u64::from_le_bytes(go[at + 32..at + 40].try_into().unwrap()) as usize;
    let fakes: Vec<(&str, Vec<u8>)> = vec![
        ("no magic", vec![0u8; 32]),
        ("huge inline length", {
            let mut v = b"\xff Go buildinf:\x08\x02".to_vec();
            v.resize(32, 0);
            v.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
            v
        }),
        ("overlong varint", {
            let mut v = b"\xff Go buildinf:\x08\x02".to_vec();
            v.resize(32, 0);
            v.extend_from_slice(&[0x80; 12]);
            v
        }),
        ("pointers to nowhere", {
            let mut v = b"\xff Go buildinf:\x08\x00".to_vec();
            v.extend_from_slice(&u64::MAX.to_le_bytes());
            v.extend_from_slice(&0x1000u64.to_le_bytes());
            v
        }),
        ("bad pointer size", {
            let mut v = b"\xff Go buildinf:\x03\x00".to_vec();
            v.resize(32, 0);
            v
        }),
        ("bad module text", {
            let mut v = b"\xff Go buildinf:\x08\x02".to_vec();
            v.resize(32, 0);
            v.extend_from_slice(&[6]);
            v.extend_from_slice(b"go1.99");
            let mut text = vec![0x30u8; 16];
            text.extend_from_slice(b"=>\tnothing to replace\n");
            text.extend_from_slice(&[0xf9u8; 16]);
            v.push(text.len() as u8);
            v.extend_from_slice(&text);
            v
        }),
    ];
    for (what, fake) in fakes {
        assert!(fake.len() <= size);
        let mut d = go.clone();
        d[offset..offset + size].fill(0);
        put(&mut d, offset, &fake);
        exercise(&d);
        let e = slipway_elf::inspect(&d).unwrap_err();
        assert!(e.to_string().contains("Go build info"), "{what}: {e}");
    }
}
