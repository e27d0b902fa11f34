//! Sharing zig's per-target C runtimes between machines through a cache.
//!
//! A target's runtime (musl or glibc's stubs, libc_nonshared, compiler-rt
//! and the crt objects) is what zig writes into its global cache on the
//! first cgo link for that target. slipway builds it in an empty cache of
//! its own (a "staging" directory, through the target's usual CC wrapper with
//! [`crate::zigcc::STAGING_ENV`]), so everything that cache then holds is
//! exactly that runtime. The three kinds of entries are moved, nothing else:
//!
//! - `o/<hash>/<file>`: the outputs (archives, crt objects, stub libraries);
//! - `b/<hash>/builtin.zig`: the generated module compiler-rt was built from;
//! - `h/<hash>`: zig's manifests, named by a hash of zig's version and the
//!   compilation's options, listing each input as (size, inode, mtime,
//!   content hash, base directory, path *relative* to that base: zig's lib
//!   directory or its global cache). No absolute path, no user, no HOME.
//!
//! `z/` (parsed Zig source, 40+ MB, rebuilt on demand and not needed for a
//! hit) and `tmp/` are left out. On another machine the inode and mtime of
//! every input differ, so zig re-hashes the inputs' contents and compares
//! them with the manifest: a zig whose lib directory differs in any byte
//! misses and rebuilds, it never uses the entries. A different zig version
//! never even finds the manifests (their names hash the version), and the
//! key below names the version too.
//!
//! Restoring writes the outputs first and the manifests last, each by
//! rename, and never replaces a file: a zig running at the same time sees a
//! manifest only once what it points to is complete.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::cache::CacheDir;
use crate::runtime::Runtime;

/// What the warm-up links: threads and a little libc, like runtime/cgo.
const PROGRAM: &str = "#include <pthread.h>\n#include <stdio.h>\n#include <stdlib.h>\n\
static void *run(void *arg) { return arg; }\n\
int main(void) { pthread_t t; void *r = NULL; if (pthread_create(&t, NULL, run, NULL)) return 1;\n\
pthread_join(t, &r); printf(\"%p\\n\", r); return 0; }\n";

/// Bumped when the bundle's layout or the warm-up's links change.
const FORMAT: u32 = 1;

/// The top-level directories of zig's cache that a runtime consists of.
const MOVED: [&str; 3] = ["o", "b", "h"];

/// A remote store for runtime bundles, keyed by [`share_key`]. Reads are
/// verified by the implementation (content digest) and every failure is a
/// miss; writes are best effort.
pub trait RuntimeStore: Sync {
    fn get(&self, key: &str) -> Option<Vec<u8>>;
    fn put(&self, key: &str, bundle: &[u8]);
}

/// Where a runtime came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Restored from the store.
    Hit,
    /// Built here and offered to the store.
    Built,
    /// The store's bundle was refused (the reason), then built here.
    Refused(String),
}

#[derive(Debug, thiserror::Error)]
pub enum ShareError {
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    #[error("zig could not link the warm-up program for {runtime}: {detail}")]
    Link { runtime: String, detail: String },
    #[error("a runtime bundle holds `{path}`, which is not a zig cache entry (o/, b/ or h/)")]
    BadEntry { path: String },
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> ShareError {
    let what = what.into();
    move |source| ShareError::Io { what, source }
}

/// The key a runtime is shared under: the bundle format, zig's version, the
/// host's architecture (zig itself runs there), and the CC wrapper's
/// directory name, which is the zig triple, the CPU and a digest of every
/// setting that changes what the compiler produces (per-target flags,
/// sysroot, the musl stack, slipway's rewriting rules).
pub fn share_key(runtime: &Runtime, cc: &Path) -> String {
    let wrapper = cc
        .parent()
        .and_then(Path::file_name)
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| runtime.name());
    format!(
        "slipway-zig-runtime/v{FORMAT}/zig-{}/host-{}-{}/{wrapper}",
        runtime.zig_version,
        std::env::consts::ARCH,
        std::env::consts::OS,
    )
}

/// Link the warm-up program through `cc` the ways Go's cgo links do, so
/// zig builds every runtime variant a cgo build will ask for: without
/// optimisation (Go's feature probes), and with Go's default `-O2 -g` both
/// as a position-independent `_cgo_.o` link and as the final executable
/// (static for musl, as slipway links it). With `zig_cache`, zig uses that
/// directory instead of slipway's zig cache.
pub fn link_like_go(cc: &Path, musl: bool, zig_cache: Option<&Path>) -> Result<(), String> {
    let dir = tempfile::tempdir().map_err(|e| format!("a scratch directory: {e}"))?;
    let src = dir.path().join("warm.c");
    std::fs::write(&src, PROGRAM).map_err(|e| format!("writing {}: {e}", src.display()))?;
    let static_flag: &[&str] = if musl { &["-static"] } else { &[] };
    let links: [Vec<&str>; 3] = [
        static_flag.to_vec(),
        vec!["-fPIC", "-pthread", "-O2", "-g"],
        [&["-rdynamic", "-O2", "-g", "-no-pie"][..], static_flag].concat(),
    ];
    for (i, flags) in links.iter().enumerate() {
        let mut cmd = Command::new(cc);
        cmd.arg("-o")
            .arg(dir.path().join(format!("warm{i}")))
            .arg(&src)
            .args(flags)
            .arg("-lpthread")
            .current_dir(dir.path());
        if let Some(z) = zig_cache {
            cmd.env(crate::zigcc::STAGING_ENV, z);
        }
        let out = cmd
            .output()
            .map_err(|e| format!("running {}: {e}", cc.display()))?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).trim().to_string());
        }
    }
    Ok(())
}

/// Get `runtime` into zig's cache: from `store` when it has it, else by
/// building it in a staging cache, offering that to `store` and moving it
/// into zig's cache. Either way the runtime is then marked as built.
pub fn fetch_or_build(
    cache: &CacheDir,
    runtime: &Runtime,
    cc: &Path,
    musl: bool,
    store: &dyn RuntimeStore,
) -> Result<Source, ShareError> {
    let key = share_key(runtime, cc);
    let mut refused = None;
    if let Some(bundle) = store.get(&key) {
        match restore(&bundle, &cache.zig_cache()) {
            Ok(_) => {
                runtime.mark_warm(cache, None);
                return Ok(Source::Hit);
            }
            // A bundle that does not unpack is a miss: build it here.
            Err(e) => refused = Some(e.to_string()),
        }
    }
    let started = std::time::Instant::now();
    std::fs::create_dir_all(cache.path("tmp")).map_err(io("creating slipway's tmp directory"))?;
    let staging = tempfile::Builder::new()
        .prefix("zig-runtime-")
        .tempdir_in(cache.path("tmp"))
        .map_err(io("creating a staging zig cache"))?;
    link_like_go(cc, musl, Some(staging.path())).map_err(|detail| ShareError::Link {
        runtime: runtime.name(),
        detail,
    })?;
    let bundle = pack(staging.path())?;
    restore(&bundle, &cache.zig_cache())?;
    store.put(&key, &bundle);
    runtime.mark_warm(cache, Some(started.elapsed()));
    Ok(refused.map_or(Source::Built, Source::Refused))
}

/// Every regular file under `o/`, `b/` and `h/` of a zig cache, as a gzip'd
/// tar with sorted names and fixed metadata.
pub fn pack(zig_cache: &Path) -> Result<Vec<u8>, ShareError> {
    let mut files: Vec<(String, PathBuf)> = Vec::new();
    for top in MOVED {
        collect(zig_cache, Path::new(top), &mut files)?;
    }
    files.sort();
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(1));
    let mut tar = tar::Builder::new(gz);
    for (name, path) in &files {
        let data = std::fs::read(path).map_err(io(format!("reading {}", path.display())))?;
        let mut header = tar::Header::new_ustar();
        header.set_entry_type(tar::EntryType::Regular);
        header.set_mode(0o644);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(0);
        header.set_size(data.len() as u64);
        tar.append_data(&mut header, name, data.as_slice())
            .map_err(io(format!("packing {name}")))?;
    }
    let gz = tar.into_inner().map_err(io("finishing a runtime bundle"))?;
    gz.finish().map_err(io("compressing a runtime bundle"))
}

fn collect(root: &Path, rel: &Path, out: &mut Vec<(String, PathBuf)>) -> Result<(), ShareError> {
    let dir = root.join(rel);
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io(format!("listing {}", dir.display()))(e)),
    };
    for entry in entries {
        let entry = entry.map_err(io(format!("listing {}", dir.display())))?;
        let kind = entry
            .file_type()
            .map_err(io(format!("reading {}", entry.path().display())))?;
        let rel = rel.join(entry.file_name());
        if kind.is_dir() {
            collect(root, &rel, out)?;
        } else if kind.is_file() {
            // zig's own bookkeeping (`h/timestamp`) and lock files stay.
            let name = rel.to_string_lossy().into_owned();
            if allowed(&name) {
                out.push((name, entry.path()));
            }
        }
    }
    Ok(())
}

/// Whether `name` is a path a runtime bundle may hold: `h/<hex>`,
/// `o/<hex>/<file>` or `b/<hex>/<file>`, plain names only.
fn allowed(name: &str) -> bool {
    let parts: Vec<&str> = name.split('/').collect();
    let plain =
        |p: &str| !p.is_empty() && p != "." && p != ".." && !p.contains('\0') && !p.contains('\\');
    let hex = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_hexdigit());
    match parts.as_slice() {
        ["h", f] => hex(f),
        ["o" | "b", d, f] => hex(d) && plain(f),
        _ => false,
    }
}

/// Unpack a bundle into a zig cache: outputs first, manifests last, each by
/// rename from a scratch directory inside that cache, and never over an
/// existing file (entries are named by content hashes: an existing one is
/// the same). Returns how many files were added. Checks every name before
/// writing anything.
pub fn restore(bundle: &[u8], zig_cache: &Path) -> Result<usize, ShareError> {
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(bundle));
    for entry in archive.entries().map_err(io("reading a runtime bundle"))? {
        let mut entry = entry.map_err(io("reading a runtime bundle"))?;
        let name = entry
            .path()
            .map_err(io("reading a runtime bundle"))?
            .to_string_lossy()
            .into_owned();
        if entry.header().entry_type() != tar::EntryType::Regular || !allowed(&name) {
            return Err(ShareError::BadEntry { path: name });
        }
        let mut data = Vec::new();
        entry
            .read_to_end(&mut data)
            .map_err(io(format!("reading {name} from a runtime bundle")))?;
        files.push((name, data));
    }
    let tmp = zig_cache.join("tmp");
    std::fs::create_dir_all(&tmp).map_err(io(format!("creating {}", tmp.display())))?;
    // Manifests last: `h` sorts after `b` and `o` only by luck, so say it.
    files.sort_by_key(|(name, _)| (name.starts_with("h/"), name.clone()));
    let mut added = 0;
    for (name, data) in files {
        let dest = zig_cache.join(&name);
        if dest.exists() {
            continue;
        }
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent)
                .map_err(io(format!("creating {}", parent.display())))?;
        }
        let mut staged = tempfile::NamedTempFile::new_in(&tmp)
            .map_err(io(format!("writing into {}", tmp.display())))?;
        std::io::Write::write_all(&mut staged, &data)
            .map_err(io(format!("writing {}", dest.display())))?;
        match staged.persist_noclobber(&dest) {
            Ok(_) => added += 1,
            // Another process restored or built the same entry meanwhile.
            Err(_) if dest.exists() => {}
            Err(e) => return Err(io(format!("writing {}", dest.display()))(e.error)),
        }
    }
    Ok(added)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_zig_cache_entries_are_restored() {
        for good in ["h/0a1b", "o/0123abcd/libc.a", "b/ff00/builtin.zig"] {
            assert!(allowed(good), "{good}");
        }
        for bad in [
            "/etc/passwd",
            "h/../../x",
            "o/../x/y",
            "o/abc/../../x",
            "z/abc",
            "tmp/x",
            "o/abc",
            "o/xyz/libc.a",
            "h/abc/def",
            "",
        ] {
            assert!(!allowed(bad), "{bad}");
        }
    }

    #[test]
    fn pack_and_restore_round_trip_and_never_replace() {
        let src = tempfile::tempdir().unwrap();
        let write = |rel: &str, data: &[u8]| {
            let p = src.path().join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, data).unwrap();
        };
        write("o/00aa/libc.a", b"archive");
        write("b/11bb/builtin.zig", b"pub const x = 1;");
        write("h/22cc", b"manifest");
        write("h/timestamp", b"zig's own");
        write("z/33dd", b"zir, not moved");
        write("tmp/partial", b"not moved");
        let bundle = pack(src.path()).unwrap();
        assert_eq!(
            bundle,
            pack(src.path()).unwrap(),
            "packing is deterministic"
        );

        let dest = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dest.path().join("o/00aa")).unwrap();
        std::fs::write(dest.path().join("o/00aa/libc.a"), b"already here").unwrap();
        assert_eq!(restore(&bundle, dest.path()).unwrap(), 2);
        let read = |rel: &str| std::fs::read(dest.path().join(rel)).ok();
        assert_eq!(read("o/00aa/libc.a").unwrap(), b"already here");
        assert_eq!(read("b/11bb/builtin.zig").unwrap(), b"pub const x = 1;");
        assert_eq!(read("h/22cc").unwrap(), b"manifest");
        assert!(read("z/33dd").is_none() && read("tmp/partial").is_none());
        assert!(read("h/timestamp").is_none());
        assert_eq!(restore(&bundle, dest.path()).unwrap(), 0);
    }

    #[test]
    fn a_bundle_with_a_foreign_path_writes_nothing() {
        let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(1));
        let mut tar = tar::Builder::new(gz);
        for name in ["o/00aa/libc.a", "o/00aa/../../../escape"] {
            let mut header = tar::Header::new_gnu();
            header.set_size(1);
            header.set_mode(0o644);
            header.set_entry_type(tar::EntryType::Regular);
            // Written raw, as a hostile writer would, past tar's own checks.
            let bytes = name.as_bytes();
            header.as_old_mut().name[..bytes.len()].copy_from_slice(bytes);
            header.set_cksum();
            tar.append(&header, &b"x"[..]).unwrap();
        }
        let bundle = tar.into_inner().unwrap().finish().unwrap();
        let dest = tempfile::tempdir().unwrap();
        let err = restore(&bundle, dest.path()).unwrap_err();
        assert!(matches!(err, ShareError::BadEntry { .. }), "{err}");
        assert!(!dest.path().join("o").exists(), "something was written");
    }

    #[test]
    fn the_key_names_zig_the_host_and_the_wrapper() {
        let rt = Runtime::new("0.17.1", "aarch64-linux-musl", None);
        let cc = Path::new("/c/cc/zig-0.17.1/aarch64-linux-musl-0123456789ab/cc");
        let key = share_key(&rt, cc);
        assert!(key.contains("zig-0.17.1") && key.ends_with("/aarch64-linux-musl-0123456789ab"));
        assert!(key.contains(std::env::consts::ARCH));
        let newer = Runtime::new("0.17.2", "aarch64-linux-musl", None);
        assert_ne!(share_key(&newer, cc), key);
        let other_flags = Path::new("/c/cc/zig-0.17.1/aarch64-linux-musl-ba9876543210/cc");
        assert_ne!(share_key(&rt, other_flags), key);
        // The cache's own location is not part of the key.
        let elsewhere =
            Path::new("/home/u/.cache/slipway/cc/zig-0.17.1/aarch64-linux-musl-0123456789ab/cc");
        assert_eq!(share_key(&rt, elsewhere), key);
    }
}
