//! Compiling mimalloc for one target with zig cc into one relocatable
//! object, cached by content.

use std::path::PathBuf;
use std::process::Command;

use sha2::{Digest, Sha256};
use slipway_platform::{Libc, Target};
use slipway_toolchain::{CacheDir, Zig, write_atomic};

use crate::sources::{GLUE, GLUE_NAME, SHA256SUMS, SOURCES};
use crate::{AllocError, Allocator, NOTE_SECTION};

/// The object's file name in the cache.
const OBJECT: &str = "mimalloc.o";

/// The compile flags for `target`, the same on every machine.
///
/// - `MI_MALLOC_OVERRIDE`: mimalloc defines `malloc`, `free`, `calloc`,
///   `realloc`, `posix_memalign`, `aligned_alloc`, `malloc_usable_size`,
///   `memalign`, `valloc`, `pvalloc`, `reallocarray` itself, so an object
///   on the link line wins over the C library: the static linker never pulls
///   musl's malloc members from `libc.a` (no duplicate definitions), and in
///   a dynamic glibc executable they interpose libc.so's for every caller.
/// - `-ftls-model=initial-exec`: the object only ever goes into an
///   executable (static musl, or a glibc executable), never a shared object
///   loaded later, so initial-exec is valid, and in a static binary the
///   linker relaxes it to local-exec. (mimalloc's own build picks
///   local-dynamic for static musl libraries because they may end up in a
///   `dlopen`ed library; that cannot happen here.)
/// - `MI_LIBC_MUSL`: mimalloc then takes the thread id from a TLS address
///   instead of the thread pointer, as it requires for musl.
/// - `-fPIC`: the same object links into PIE and non-PIE executables.
/// - `-fvisibility=hidden`: only the malloc entry points the glue file
///   declares visible are exported by a dynamic executable; the rest of
///   mimalloc stays internal and unused parts are garbage-collected.
/// - `MI_DEFAULT_ARENA_EAGER_COMMIT=0`: arenas are committed as they are
///   used, not up front; on the benchmark (benches/allocator.py) this both
///   halved the peak RSS and ran faster. `MIMALLOC_ARENA_EAGER_COMMIT`
///   still overrides it at run time.
/// - `SLIPWAY_MI_PURGE_DELAY`, the purge delay default ([`purge_delay`];
///   mimalloc has no compile-time define for it, so slipway's unit sets the
///   default in a constructor): 0 on musl, mimalloc's own 1000 ms on glibc.
/// - `-g0`: zig cc writes DWARF by default, and with it the build
///   directory's path; the object carries no debug info and no paths.
/// - `__DATE__`/`__TIME__` are fixed: mimalloc prints them in verbose mode,
///   and they would change the bytes on every build.
pub fn flags(target: &Target) -> Vec<String> {
    let mut f: Vec<String> = [
        "-c",
        "-std=gnu11",
        "-O2",
        "-g0",
        "-fPIC",
        "-fvisibility=hidden",
        "-fno-sanitize=all",
        "-fno-builtin-malloc",
        "-ffunction-sections",
        "-fdata-sections",
        "-ftls-model=initial-exec",
        "-DMI_MALLOC_OVERRIDE",
        "-DMI_BUILD_RELEASE",
        "-DNDEBUG",
        "-DMI_DEBUG=0",
        "-DMI_DEFAULT_ARENA_EAGER_COMMIT=0",
        "-Wno-builtin-macro-redefined",
        "-D__DATE__=\"-\"",
        "-D__TIME__=\"-\"",
        "-Iinclude",
        "-Isrc",
    ]
    .map(String::from)
    .to_vec();
    if target.libc == Libc::Musl {
        f.push("-DMI_LIBC_MUSL=1".into());
    }
    f.push(format!("-DSLIPWAY_MI_PURGE_DELAY={}", purge_delay(target)));
    if let Some(desc) = Allocator::Mimalloc.description() {
        f.push(format!("-DSLIPWAY_ALLOCATOR_DESC=\"{desc}\""));
    }
    f
}

/// mimalloc's purge delay default for `target`, in milliseconds: how long
/// memory a thread freed stays resident for reuse before it goes back to
/// the OS. On musl 0: the C library's malloc it replaces is frugal, and with
/// mimalloc's 1000 ms a churning C heap kept every page freed in the last
/// second, twice musl's peak RSS on benches/allocator.py (1.19x with 0, at
/// 27x musl's throughput). On glibc mimalloc's own 1000: ptmalloc keeps
/// freed memory too, so the RSS stays within 1.15x of it, and purging at
/// once would cost half the throughput (1.8x ptmalloc's instead of 3.3x).
/// `MIMALLOC_PURGE_DELAY` overrides it at run time.
pub fn purge_delay(target: &Target) -> u32 {
    if target.libc == Libc::Musl { 0 } else { 1000 }
}

/// The key of everything that decides the object's bytes: the pinned
/// sources, the glue, the flags, zig's target and CPU, and zig's version.
pub fn input_key(target: &Target, zig_version: &str) -> Result<String, AllocError> {
    let triple = triple(target)?;
    let mut key = Sha256::new();
    for part in [
        "slipway mimalloc v1",
        SHA256SUMS,
        GLUE,
        &triple,
        target.zig_mcpu().unwrap_or(""),
        zig_version,
    ] {
        key.update(part.as_bytes());
        key.update([0u8]);
    }
    for flag in flags(target) {
        key.update(flag.as_bytes());
        key.update([0u8]);
    }
    Ok(base16ct::lower::encode_string(&key.finalize()))
}

fn triple(target: &Target) -> Result<String, AllocError> {
    target.zig_triple().ok_or_else(|| AllocError::Unsupported {
        allocator: Allocator::Mimalloc.name().into(),
        target: target.to_string(),
        why: "zig has no C target for it".into(),
    })
}

/// The mimalloc object for `target`, compiled with `zig` or taken from the
/// cache, as a path inside `cache` that callers must not modify. Refuses
/// targets [`Allocator::check`] refuses.
pub fn compile(target: &Target, zig: &Zig, cache: &CacheDir) -> Result<PathBuf, AllocError> {
    Allocator::Mimalloc.check(target)?;
    zig.check(target)?;
    let triple = triple(target)?;
    let key = input_key(target, &zig.version)?;
    let dir = cache.path("alloc");
    let out = dir.join(&key).join(OBJECT);
    let io = |what: String| move |source| AllocError::Io { what, source };
    let has_note = |bytes: &[u8]| {
        slipway_elf::section_contents(bytes, NOTE_SECTION).is_ok_and(|s| s.is_some())
    };
    // A cache hit is re-checked cheaply: an entry damaged outside slipway
    // is rebuilt rather than linked.
    if std::fs::read(&out).is_ok_and(|bytes| has_note(&bytes)) {
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
    for (rel, text) in SOURCES.iter().chain([&(GLUE_NAME, GLUE)]) {
        let path = work.path().join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(io(format!("creating {}", parent.display())))?;
        }
        std::fs::write(&path, text).map_err(io(format!("writing {}", path.display())))?;
    }
    let zig_cache = cache.zig_cache();
    let mut cmd = Command::new(&zig.path);
    cmd.arg("cc").args(flags(target));
    if let Some(cpu) = target.zig_mcpu() {
        cmd.arg(format!("-mcpu={cpu}"));
    }
    cmd.arg("-target")
        .arg(&triple)
        .arg("-o")
        .arg(OBJECT)
        .arg(GLUE_NAME)
        .current_dir(work.path())
        .env("ZIG_GLOBAL_CACHE_DIR", &zig_cache)
        .env("ZIG_LOCAL_CACHE_DIR", &zig_cache)
        .env_remove("ZIG_LIBC");
    let output = cmd
        .output()
        .map_err(io(format!("running {} cc", zig.path.display())))?;
    if !output.status.success() {
        return Err(AllocError::Compile {
            target: target.to_string(),
            status: output.status.to_string(),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        });
    }
    let built = work.path().join(OBJECT);
    let bytes = std::fs::read(&built).map_err(io(format!("reading {}", built.display())))?;
    if !has_note(&bytes) {
        return Err(AllocError::Compile {
            target: target.to_string(),
            status: "finished".into(),
            stderr: format!("the object has no {NOTE_SECTION} section"),
        });
    }
    write_atomic(&out, &bytes, 0o644).map_err(io(format!("writing {}", out.display())))?;
    Ok(out)
}
