//! zig's per-target C runtime (libc and compiler-rt): whether this machine
//! has already built it, and how long building it took here.
//!
//! The first cgo link for a target makes zig compile the whole C library
//! (musl's sources, or glibc's stubs) and compiler-rt for that target and CPU,
//! a minute or more on 2 cores; afterwards it comes from zig's cache. zig's
//! cache is keyed by hashes of its own inputs, which slipway cannot compute,
//! so slipway keeps its own marker: after a successful cgo build or `slipway
//! warm` for a target, an empty file named for the zig version, the triple
//! and the CPU, inside zig's cache directory. Wiping zig's cache wipes the
//! markers with it, so a marker never outlives the runtime it stands for.
//!
//! The seconds each cold build took are kept too (`toolchains/cold-runtimes.json`
//! in slipway's cache), so the next cold target's estimate is this machine's
//! own figure rather than [`DEFAULT_COLD_SECONDS`].

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use slipway_fs::write_atomic;

use slipway_platform::Target;

use crate::cache::CacheDir;

/// The estimate for one target's C runtime before this machine has measured
/// one: musl and compiler-rt for one target took about 90 s on 2 cores.
pub const DEFAULT_COLD_SECONDS: u64 = 90;

/// One target's C runtime in zig's cache, for one zig version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Runtime {
    pub zig_version: String,
    /// zig's target triple, e.g. `arm-linux-musleabihf`.
    pub triple: String,
    /// zig's `-mcpu`, when the platform sets one: another CPU is another runtime.
    pub mcpu: Option<String>,
}

impl Runtime {
    pub fn new(zig_version: &str, triple: &str, mcpu: Option<&str>) -> Runtime {
        Runtime {
            zig_version: zig_version.to_string(),
            triple: triple.to_string(),
            mcpu: mcpu.map(str::to_string),
        }
    }

    /// The runtime a cgo build of `target` with zig needs; `None` for a
    /// target zig cannot build for.
    pub fn for_target(zig_version: &str, target: &Target) -> Option<Runtime> {
        Some(Runtime::new(
            zig_version,
            &target.zig_triple()?,
            target.zig_mcpu(),
        ))
    }

    /// `aarch64-linux-musl` or `arm-linux-musleabihf@generic+v7a`.
    pub fn name(&self) -> String {
        match &self.mcpu {
            Some(cpu) => format!("{}@{cpu}", self.triple),
            None => self.triple.clone(),
        }
    }

    /// What zig compiles for it, in words.
    pub fn what(&self) -> String {
        let libc = if self.triple.contains("-gnu") {
            "glibc's stubs and libc_nonshared"
        } else {
            "musl"
        };
        format!("{libc} and compiler-rt for {}", self.name())
    }

    fn marker(&self, cache: &CacheDir) -> PathBuf {
        cache
            .zig_cache()
            .join("slipway-runtimes")
            .join(&self.zig_version)
            .join(self.name())
    }

    /// Whether a cgo build or `slipway warm` for this target has succeeded
    /// with this zig and this zig cache.
    pub fn is_warm(&self, cache: &CacheDir) -> bool {
        self.marker(cache).is_file()
    }

    /// Record that the runtime is built; `cold` is how long the build that
    /// built it took, which becomes this machine's next estimate. A failure
    /// to record is harmless: the next build only says "cold" again.
    pub fn mark_warm(&self, cache: &CacheDir, cold: Option<Duration>) {
        let _ = write_atomic(&self.marker(cache), b"", 0o644);
        if let Some(took) = cold {
            let path = timings_path(cache);
            let mut all = timings(cache);
            all.insert(self.name(), took.as_secs().max(1));
            if let Ok(json) = serde_json::to_vec_pretty(&all) {
                let _ = write_atomic(&path, &json, 0o644);
            }
        }
    }
}

/// How many C runtime archives (libc, libc_nonshared, compiler-rt) zig's
/// cache holds. A count that grew during a build means zig really compiled
/// one; only then is the build's time a cold time worth learning from (a
/// missing marker alone may just mean an older slipway warmed zig's cache).
pub fn archives_in_zig_cache(cache: &CacheDir) -> usize {
    let Ok(dirs) = std::fs::read_dir(cache.zig_cache().join("o")) else {
        return 0;
    };
    dirs.filter_map(Result::ok)
        .map(|d| {
            ["libc.a", "libc_nonshared.a", "libcompiler_rt.a"]
                .iter()
                .filter(|f| d.path().join(f).is_file())
                .count()
        })
        .sum()
}

fn timings_path(cache: &CacheDir) -> PathBuf {
    cache.path("toolchains/cold-runtimes.json")
}

fn timings(cache: &CacheDir) -> BTreeMap<String, u64> {
    std::fs::read(timings_path(cache))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

/// How long one cold target is expected to take here, and whether that figure
/// was measured on this machine (else it is [`DEFAULT_COLD_SECONDS`]). The
/// target's own earlier time wins, then the median of all recorded ones.
pub fn estimate(cache: &CacheDir, runtime: &Runtime) -> (Duration, bool) {
    let all = timings(cache);
    if let Some(s) = all.get(&runtime.name()) {
        return (Duration::from_secs(*s), true);
    }
    let mut values: Vec<u64> = all.values().copied().collect();
    if values.is_empty() {
        return (Duration::from_secs(DEFAULT_COLD_SECONDS), false);
    }
    values.sort_unstable();
    (Duration::from_secs(values[values.len() / 2]), true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runtime(triple: &str, mcpu: Option<&str>) -> Runtime {
        Runtime::new("0.17.1", triple, mcpu)
    }

    #[test]
    fn markers_and_estimates_are_per_zig_and_target() {
        let dir = tempfile::tempdir().unwrap();
        let cache = CacheDir {
            root: dir.path().to_path_buf(),
        };
        assert!(
            std::env::var_os("ZIG_GLOBAL_CACHE_DIR").is_none_or(|v| v.is_empty()),
            "this test wipes zig's cache of a scratch slipway cache: unset ZIG_GLOBAL_CACHE_DIR"
        );
        let arm = runtime("arm-linux-musleabihf", Some("generic+v7a"));
        let arm6 = runtime("arm-linux-musleabihf", Some("arm1176jzf_s"));
        assert!(!arm.is_warm(&cache));
        assert_eq!(
            estimate(&cache, &arm),
            (Duration::from_secs(DEFAULT_COLD_SECONDS), false)
        );
        arm.mark_warm(&cache, Some(Duration::from_secs(70)));
        assert!(arm.is_warm(&cache));
        assert!(!arm6.is_warm(&cache), "another CPU is another runtime");
        let newer = Runtime::new("0.18.0", &arm.triple, arm.mcpu.as_deref());
        assert!(!newer.is_warm(&cache), "another zig is another runtime");
        // The target's own time, then the median of what this machine measured.
        assert_eq!(estimate(&cache, &arm), (Duration::from_secs(70), true));
        runtime("aarch64-linux-musl", None).mark_warm(&cache, Some(Duration::from_secs(50)));
        runtime("x86_64-linux-musl", None).mark_warm(&cache, Some(Duration::from_secs(60)));
        assert_eq!(estimate(&cache, &arm6), (Duration::from_secs(60), true));
        // zig's archives are counted, whatever the hash directory.
        assert_eq!(archives_in_zig_cache(&cache), 0);
        let o = cache.zig_cache().join("o/0123abcd");
        std::fs::create_dir_all(&o).unwrap();
        std::fs::write(o.join("libc.a"), b"!<arch>\n").unwrap();
        std::fs::write(o.join("libcompiler_rt.a"), b"!<arch>\n").unwrap();
        std::fs::write(o.join("other.o"), b"").unwrap();
        assert_eq!(archives_in_zig_cache(&cache), 2);
        // Wiping zig's cache wipes the markers, not the timings.
        std::fs::remove_dir_all(cache.zig_cache()).unwrap();
        assert!(!arm.is_warm(&cache));
        assert_eq!(estimate(&cache, &arm).0, Duration::from_secs(70));
        assert_eq!(arm.name(), "arm-linux-musleabihf@generic+v7a");
        assert!(arm.what().starts_with("musl and compiler-rt"));
        assert!(
            runtime("aarch64-linux-gnu.2.28", None)
                .what()
                .starts_with("glibc")
        );
    }
}
