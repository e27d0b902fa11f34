//! Compiling one C file into a static musl executable with zig cc, cached by
//! content.

use std::path::PathBuf;
use std::process::Command;

use sha2::{Digest, Sha256};
use slipway_platform::{Arch, Float, Libc, Platform, Target};
use slipway_toolchain::{CacheDir, Zig, write_atomic};

use crate::InitError;
use crate::check::check_binary;

/// zig's `-target` and `-mcpu` for a static musl build for `platform`.
pub fn zig_target(platform: &Platform) -> Result<(String, Option<&'static str>), InitError> {
    if platform.arch.is_mips64() && platform.variant.float() == Float::Soft {
        return Err(InitError::Unsupported {
            platform: platform.to_string(),
            why: "zig ships no soft-float mips64 musl; use the hardfloat variant".into(),
        });
    }
    let target = Target::new(platform.clone(), Libc::Musl);
    let triple = target.zig_triple().ok_or_else(|| InitError::Unsupported {
        platform: platform.to_string(),
        why: "no zig target triple for it".into(),
    })?;
    Ok((triple, target.zig_mcpu()))
}

/// The compiler and linker flags, the same for every C file built this way.
///
/// Size: `-Os`, sections garbage-collected, no unwind tables, stripped.
/// Hardening: stack protector, zeroed locals, full RELRO, non-executable
/// stack, and on amd64/arm64 stack-clash protection and CET/PAC-BTI
/// instrumentation of our own code (not enforced: musl's objects lack it).
/// Reproducibility: no build id, and no paths in the output (nothing but
/// the stripped code and data is kept).
pub fn flags(platform: &Platform) -> Vec<String> {
    let mut f: Vec<String> = [
        "-std=c11",
        "-Os",
        "-static",
        "-s",
        "-Wall",
        "-Wextra",
        "-fno-sanitize=all",
        "-fstack-protector-strong",
        "-ftrivial-auto-var-init=zero",
        "-ffunction-sections",
        "-fdata-sections",
        "-fno-asynchronous-unwind-tables",
        "-fno-unwind-tables",
        "-Wl,--gc-sections",
        "-Wl,-z,relro,-z,now",
        "-Wl,-z,noexecstack",
        "-Wl,--build-id=none",
    ]
    .map(String::from)
    .to_vec();
    match platform.arch {
        Arch::Amd64 => {
            f.push("-fstack-clash-protection".into());
            f.push("-fcf-protection=full".into());
        }
        Arch::Arm64 => {
            f.push("-fstack-clash-protection".into());
            f.push("-mbranch-protection=standard".into());
        }
        _ => {}
    }
    f.push(format!(
        "-DSLIPWAY_INIT_VERSION=\"{}\"",
        env!("CARGO_PKG_VERSION")
    ));
    f
}

/// LLVM's MIPS backend writes a `.pdr` section (procedure descriptors, for
/// debuggers) for every function, musl's included; `-s` keeps it since it is
/// not debug info, and it would more than double the init. This script drops
/// it at link time.
const MIPS_DISCARD_SCRIPT: &str =
    "SECTIONS { /DISCARD/ : { *(.pdr) *(.mdebug.*) *(.comment) } } INSERT AFTER .bss;\n";

fn linker_script(platform: &Platform) -> Option<&'static str> {
    (platform.arch.is_mips32() || platform.arch.is_mips64()).then_some(MIPS_DISCARD_SCRIPT)
}

/// The key of everything that decides the bytes of `source` compiled for
/// `platform` by zig `zig_version`: the source, the flags, the zig target and
/// CPU, the linker script. Two builds with the same key give the same bytes.
pub fn input_key(
    name: &str,
    source: &str,
    platform: &Platform,
    zig_version: &str,
) -> Result<String, InitError> {
    let (triple, mcpu) = zig_target(platform)?;
    let mut key = Sha256::new();
    for part in [
        "slipway static C v1",
        name,
        source,
        &triple,
        mcpu.unwrap_or(""),
        zig_version,
        linker_script(platform).unwrap_or(""),
    ] {
        key.update(part.as_bytes());
        key.update([0u8]);
    }
    for flag in flags(platform) {
        key.update(flag.as_bytes());
        key.update([0u8]);
    }
    Ok(hex(&key.finalize()))
}

/// Compile `source` (one C file) for `platform` into a static executable
/// named `name`, or return the cached one. The cache key covers the source,
/// the flags, the zig target and the zig version; the entry is checked
/// (machine, static, no W+X) before it is written, and written by rename.
pub fn compile_static(
    name: &str,
    source: &str,
    platform: &Platform,
    zig: &Zig,
    cache: &CacheDir,
) -> Result<PathBuf, InitError> {
    let (triple, mcpu) = zig_target(platform)?;
    zig.check(&Target::new(platform.clone(), Libc::Musl))?;
    let flags = flags(platform);
    let key = input_key(name, source, platform, &zig.version)?;
    let dir = cache.path("init");
    let out = dir.join(&key).join(name);

    let io = |what: String| move |source| InitError::Io { what, source };
    let bad = |why: String| InitError::BadBinary {
        name: name.to_string(),
        platform: platform.to_string(),
        why,
    };
    let verify = |bytes: &[u8]| -> Result<(), InitError> {
        let facts = check_binary(bytes, platform.arch).map_err(bad)?;
        let problems = facts.problems();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(bad(problems.join("; ")))
        }
    };

    // A cache hit is re-checked: it costs one small read and catches an entry
    // damaged outside slipway.
    if std::fs::read(&out).is_ok_and(|bytes| verify(&bytes).is_ok()) {
        return Ok(out);
    }

    std::fs::create_dir_all(&dir).map_err(io(format!("creating {}", dir.display())))?;
    let work = tempfile::Builder::new()
        .prefix(".build-")
        .tempdir_in(&dir)
        .map_err(io(format!(
            "creating a build directory in {}",
            dir.display()
        )))?;
    let src = work.path().join(format!("{name}.c"));
    std::fs::write(&src, source).map_err(io(format!("writing {}", src.display())))?;
    let bin = work.path().join(name);

    let zig_cache = cache.zig_cache();
    let mut cmd = Command::new(&zig.path);
    cmd.arg("cc").arg("-target").arg(&triple);
    if let Some(cpu) = mcpu {
        cmd.arg(format!("-mcpu={cpu}"));
    }
    if let Some(script) = linker_script(platform) {
        let path = work.path().join("discard.ld");
        std::fs::write(&path, script).map_err(io(format!("writing {}", path.display())))?;
        cmd.arg(format!("-Wl,-T,{}", path.display()));
    }
    cmd.args(&flags)
        .arg("-o")
        .arg(&bin)
        .arg(&src)
        .current_dir(work.path())
        .env("ZIG_GLOBAL_CACHE_DIR", &zig_cache)
        .env("ZIG_LOCAL_CACHE_DIR", &zig_cache)
        .env_remove("ZIG_LIBC");
    let output = cmd
        .output()
        .map_err(io(format!("running {} cc", zig.path.display())))?;
    if !output.status.success() {
        return Err(InitError::Compile {
            name: name.to_string(),
            platform: platform.to_string(),
            status: output.status.to_string(),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        });
    }
    let bytes = std::fs::read(&bin).map_err(io(format!("reading {}", bin.display())))?;
    verify(&bytes)?;
    write_atomic(&out, &bytes, 0o755).map_err(io(format!("writing {}", out.display())))?;
    Ok(out)
}

fn hex(bytes: &[u8]) -> String {
    base16ct::lower::encode_string(bytes)
}
