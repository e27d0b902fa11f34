//! The init binary itself: static, no loader, no W+X segment, within 32 KiB
//! on every architecture; what ships is what the source gives; compiled
//! results cached by content; clear errors.

mod common;

use std::path::Path;

use std::os::unix::fs::PermissionsExt;

use slipway_init::prebuilt::{PREBUILT, ZIG_VERSION};
use slipway_init::{BinaryFacts, InitError, MAX_SIZE, build, check_binary, compile};
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

/// Every init slipway ships: static, hardened, small, and it runs on its
/// architecture (qemu-user for foreign ones; ARM under an ARMv5 CPU model,
/// since that one binary serves every ARM variant).
#[test]
fn shipped_inits_are_static_small_and_hardened_and_run() {
    let mut report = String::new();
    let dir = tempfile::tempdir().unwrap();
    for shipped in PREBUILT {
        let name = shipped.platform;
        let p = platform(name);
        let facts: BinaryFacts =
            check_binary(shipped.bytes, p.arch).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!facts.has_interp, "{name}: PT_INTERP");
        assert!(!facts.has_dynamic, "{name}: PT_DYNAMIC");
        assert!(!facts.writable_and_executable, "{name}: W+X segment");
        assert!(facts.has_gnu_stack, "{name}: no PT_GNU_STACK");
        assert!(
            facts.size <= MAX_SIZE,
            "{name}: {} bytes > {MAX_SIZE}",
            facts.size
        );
        let path = dir.path().join(shipped.file);
        std::fs::write(&path, shipped.bytes).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        let run = |args: &[&str]| match p.arch {
            Arch::Arm => {
                let qemu = slipway_testkit::require("qemu-arm", "qemu-user");
                std::process::Command::new(qemu)
                    .env("QEMU_CPU", "arm926")
                    .arg(&path)
                    .args(args)
                    .output()
                    .unwrap()
            }
            arch => run_on(arch, &path, args, None),
        };
        let out = run(&["--version"]);
        assert!(
            out.status.success() && out.stdout.starts_with(b"slipway-init "),
            "{name}: --version: {out:?}"
        );
        let out = run(&["does-not-exist"]);
        assert_eq!(out.status.code(), Some(127), "{name}: {out:?}");
        report.push_str(&format!("{name:<24} {:>6} bytes\n", facts.size));
    }
    eprintln!("slipway-init sizes (limit {MAX_SIZE}):\n{report}");
}

/// The slow half of the proof that what ships is what the source says:
/// every shipped init is compiled again from `init/slipway-init.c` with the
/// pinned zig, into a fresh cache, and must come out byte for byte the same.
#[test]
fn shipped_inits_are_rebuilt_from_source_byte_for_byte() {
    let zig = common::zig();
    assert_eq!(
        zig.version, ZIG_VERSION,
        "the shipped inits are built with zig {ZIG_VERSION}; scripts/setup.sh installs it \
         (pip install ziglang=={ZIG_VERSION})"
    );
    let dir = tempfile::tempdir().unwrap();
    let fresh = private_cache(dir.path());
    for shipped in PREBUILT {
        let p = platform(shipped.platform);
        let rebuilt = std::fs::read(compile(&p, zig, &fresh).unwrap()).unwrap();
        assert!(
            rebuilt == shipped.bytes,
            "{}: the shipped init differs from a build of init/slipway-init.c; rebuild with \
             `cargo run -p slipway-init --example build-init -- --update`",
            shipped.platform
        );
    }
}

#[test]
fn cache_is_keyed_by_content_and_repairs_damage() {
    let zig = common::zig();
    let dir = tempfile::tempdir().unwrap();
    let cache = private_cache(dir.path());
    let amd64 = platform("linux/amd64");
    let first = compile(&amd64, zig, &cache).unwrap();
    assert!(first.starts_with(dir.path().join("init")), "{first:?}");
    let modified = std::fs::metadata(&first).unwrap().modified().unwrap();
    // A hit is the same file, not a new compile.
    assert_eq!(compile(&amd64, zig, &cache).unwrap(), first);
    assert_eq!(
        std::fs::metadata(&first).unwrap().modified().unwrap(),
        modified
    );
    // Another target is another entry.
    let arm64 = compile(&platform("linux/arm64"), zig, &cache).unwrap();
    assert_ne!(arm64, first);
    // A damaged entry is rebuilt, not handed out.
    std::fs::write(&first, b"not an ELF file").unwrap();
    let again = compile(&amd64, zig, &cache).unwrap();
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
    let softfloat_mips64 = platform("linux/mips64/softfloat");
    let err = compile(&softfloat_mips64, zig, &cache).unwrap_err();
    assert!(matches!(err, InitError::Unsupported { .. }), "{err}");
    assert!(err.to_string().contains("soft-float mips64"), "{err}");
    let err = build(&softfloat_mips64).unwrap_err();
    assert!(err.to_string().contains("soft-float mips64"), "{err}");

    assert!(check_binary(b"", Arch::Amd64).is_err());
    assert!(check_binary(b"\x7fELF garbage", Arch::Amd64).is_err());
    let init = build(&platform("linux/amd64")).unwrap();
    let err = check_binary(init, Arch::Arm64).unwrap_err();
    assert!(err.contains("machine"), "{err}");
}

/// The checks see a writable and executable stack when there is one.
#[test]
fn check_finds_an_executable_stack() {
    let init = build(&platform("linux/amd64")).unwrap();
    let mut bytes = init.to_vec();
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
        check_binary(init, Arch::Amd64)
            .unwrap()
            .problems()
            .is_empty()
    );
}
