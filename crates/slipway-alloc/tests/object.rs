//! The mimalloc object: the same bytes from any cache directory, reused
//! from the cache, rebuilt when the cache entry is damaged, and carrying
//! the note that names it.

use std::path::Path;

use slipway_alloc::{MIMALLOC_VERSION, compile, detect};
use slipway_platform::{GlibcVersion, Libc, Target};
use slipway_toolchain::{CacheDir, Zig};

/// A cache of its own whose zig cache is the machine's shared one.
fn private_cache(dir: &Path) -> CacheDir {
    let shared = CacheDir::resolve(None).zig_cache();
    std::fs::create_dir_all(&shared).unwrap();
    std::os::unix::fs::symlink(&shared, dir.join("zig")).unwrap();
    CacheDir {
        root: dir.to_path_buf(),
    }
}

#[test]
fn the_object_is_reproducible_cached_and_named() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let (cache_a, cache_b) = (private_cache(a.path()), private_cache(b.path()));
    let zig = Zig::discover(None, &cache_a)
        .unwrap_or_else(|e| panic!("zig is required (scripts/setup.sh installs it): {e}"));
    // One target keeps this test short: each compile here is cold.
    {
        let target = Target::new("linux/arm64".parse().unwrap(), Libc::Musl);
        let first = compile(&target, &zig, &cache_a).unwrap();
        let second = compile(&target, &zig, &cache_b).unwrap();
        let bytes = std::fs::read(&first).unwrap();
        assert!(
            bytes == std::fs::read(&second).unwrap(),
            "{target}: the bytes differ"
        );
        let note = detect(&bytes).unwrap().expect("note");
        assert_eq!(
            (note.name.as_str(), note.version.as_str()),
            ("mimalloc", MIMALLOC_VERSION)
        );

        // A hit is the same file, untouched.
        let modified = std::fs::metadata(&first).unwrap().modified().unwrap();
        assert_eq!(compile(&target, &zig, &cache_a).unwrap(), first);
        assert_eq!(
            std::fs::metadata(&first).unwrap().modified().unwrap(),
            modified
        );

        // A damaged entry is rebuilt rather than linked.
        std::fs::write(&first, b"not an object").unwrap();
        assert_eq!(compile(&target, &zig, &cache_a).unwrap(), first);
        assert!(
            std::fs::read(&first).unwrap() == bytes,
            "{target}: rebuilt differently"
        );
    }
    // musl and glibc objects differ (MI_LIBC_MUSL), so do their keys.
    let musl = Target::new("linux/amd64".parse().unwrap(), Libc::Musl);
    let glibc = Target::new(
        "linux/amd64".parse().unwrap(),
        Libc::Glibc(GlibcVersion::new(2, 28)),
    );
    assert_ne!(
        slipway_alloc::input_key(&musl, &zig.version).unwrap(),
        slipway_alloc::input_key(&glibc, &zig.version).unwrap()
    );
    // Refused targets are refused before anything is compiled.
    let mips = Target::new("linux/mipsle".parse().unwrap(), Libc::Musl);
    assert!(compile(&mips, &zig, &cache_a).is_err());
    assert!(
        !a.path()
            .join("alloc")
            .read_dir()
            .unwrap()
            .any(|e| { e.unwrap().file_name().to_string_lossy().contains("mips") })
    );
}
