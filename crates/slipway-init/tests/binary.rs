//! The init binary itself: static, no loader, no W+X segment, within 32 KiB
//! on every architecture; reproducible; cached by content; clear errors.

mod common;

use std::path::Path;

use slipway_init::{BinaryFacts, InitError, MAX_SIZE, build, check_binary};
use slipway_platform::{Arch, Platform};
use slipway_testkit::run_on;
use slipway_toolchain::CacheDir;

fn platform(s: &str) -> Platform {
    s.parse().unwrap_or_else(|e| panic!("platform {s}: {e}"))
}

/// A cache of its own whose zig cache is the shared one, so only the init
/// itself is compiled again (zig's musl builds take a minute per target).
fn private_cache(dir: &Path) -> CacheDir {
    let shared = common::cache().zig_cache();
    std::fs::create_dir_all(&shared).unwrap();
    std::os::unix::fs::symlink(&shared, dir.join("zig")).unwrap();
    CacheDir {
        root: dir.to_path_buf(),
    }
}

#[test]
fn static_small_and_hardened_on_every_architecture() {
    let cache = common::cache();
    let zig = common::zig();
    let mut report = String::new();
    for name in [
        "linux/amd64",
        "linux/arm64",
        "linux/arm/v7",
        "linux/riscv64",
        "linux/mipsle/softfloat",
        "linux/mips64",
    ] {
        let p = platform(name);
        let path = build(&p, zig, &cache).unwrap_or_else(|e| panic!("{name}: {e}"));
        let bytes = std::fs::read(&path).unwrap();
        let facts: BinaryFacts =
            check_binary(&bytes, p.arch).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!facts.has_interp, "{name}: PT_INTERP");
        assert!(!facts.has_dynamic, "{name}: PT_DYNAMIC");
        assert!(!facts.writable_and_executable, "{name}: W+X segment");
        assert!(facts.has_gnu_stack, "{name}: no PT_GNU_STACK");
        assert!(
            facts.size <= MAX_SIZE,
            "{name}: {} bytes > {MAX_SIZE}",
            facts.size
        );
        // It runs on its architecture (qemu-user for foreign ones).
        let out = run_on(p.arch, &path, &["--version"], None);
        assert!(
            out.status.success() && out.stdout.starts_with(b"slipway-init "),
            "{name}: --version: {out:?}"
        );
        let out = run_on(p.arch, &path, &["does-not-exist"], None);
        assert_eq!(out.status.code(), Some(127), "{name}: {out:?}");
        report.push_str(&format!("{name:<24} {:>6} bytes\n", facts.size));
    }
    eprintln!("slipway-init sizes (limit {MAX_SIZE}):\n{report}");
}

#[test]
fn same_source_target_and_zig_give_the_same_bytes() {
    let zig = common::zig();
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let (ca, cb) = (private_cache(a.path()), private_cache(b.path()));
    for name in ["linux/amd64", "linux/arm64"] {
        let p = platform(name);
        let first = std::fs::read(build(&p, zig, &ca).unwrap()).unwrap();
        let second = std::fs::read(build(&p, zig, &cb).unwrap()).unwrap();
        assert!(first == second, "{name}: two builds differ");
        let shared = std::fs::read(build(&p, zig, &common::cache()).unwrap()).unwrap();
        assert!(first == shared, "{name}: differs from the shared cache's");
    }
}

#[test]
fn cache_is_keyed_by_content_and_repairs_damage() {
    let zig = common::zig();
    let dir = tempfile::tempdir().unwrap();
    let cache = private_cache(dir.path());
    let amd64 = platform("linux/amd64");
    let first = build(&amd64, zig, &cache).unwrap();
    assert!(first.starts_with(dir.path().join("init")), "{first:?}");
    let modified = std::fs::metadata(&first).unwrap().modified().unwrap();
    // A hit is the same file, not a new compile.
    assert_eq!(build(&amd64, zig, &cache).unwrap(), first);
    assert_eq!(
        std::fs::metadata(&first).unwrap().modified().unwrap(),
        modified
    );
    // Another target is another entry.
    let arm64 = build(&platform("linux/arm64"), zig, &cache).unwrap();
    assert_ne!(arm64, first);
    // A damaged entry is rebuilt, not handed out.
    std::fs::write(&first, b"not an ELF file").unwrap();
    let again = build(&amd64, zig, &cache).unwrap();
    assert_eq!(again, first);
    check_binary(&std::fs::read(&again).unwrap(), Arch::Amd64).unwrap();
    // Nothing half-written is left next to the entries.
    for entry in std::fs::read_dir(dir.path().join("init")).unwrap() {
        let name = entry.unwrap().file_name();
        assert!(
            !name.to_string_lossy().starts_with('.'),
            "leftover {name:?}"
        );
    }
}

#[test]
fn bad_input_gives_clear_errors() {
    let zig = common::zig();
    let cache = common::cache();
    let err = build(&platform("linux/mips64/softfloat"), zig, &cache).unwrap_err();
    assert!(matches!(err, InitError::Unsupported { .. }), "{err}");
    assert!(err.to_string().contains("soft-float mips64"), "{err}");

    assert!(check_binary(b"", Arch::Amd64).is_err());
    assert!(check_binary(b"\x7fELF garbage", Arch::Amd64).is_err());
    let init = std::fs::read(build(&platform("linux/amd64"), zig, &cache).unwrap()).unwrap();
    let err = check_binary(&init, Arch::Arm64).unwrap_err();
    assert!(err.contains("machine"), "{err}");
}

/// The checks see a writable and executable stack when there is one.
#[test]
fn check_finds_an_executable_stack() {
    let init =
        std::fs::read(build(&platform("linux/amd64"), common::zig(), &common::cache()).unwrap())
            .unwrap();
    let mut bytes = init.clone();
    // ELF64 little-endian: e_phoff at 0x20, e_phentsize at 0x36, e_phnum at 0x38.
    let phoff = u64::from_le_bytes(bytes[0x20..0x28].try_into().unwrap()) as usize;
    let phentsize = u16::from_le_bytes(bytes[0x36..0x38].try_into().unwrap()) as usize;
    let phnum = u16::from_le_bytes(bytes[0x38..0x3a].try_into().unwrap()) as usize;
    let mut patched = false;
    for i in 0..phnum {
        let at = phoff + i * phentsize;
        let p_type = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap());
        if p_type == 0x6474_e551 {
            bytes[at + 4..at + 8].copy_from_slice(&7u32.to_le_bytes());
            patched = true;
        }
    }
    assert!(patched, "the init has no PT_GNU_STACK");
    let facts = check_binary(&bytes, Arch::Amd64).unwrap();
    assert!(facts.writable_and_executable);
    assert!(!facts.problems().is_empty());
    assert!(
        check_binary(&init, Arch::Amd64)
            .unwrap()
            .problems()
            .is_empty()
    );
}
