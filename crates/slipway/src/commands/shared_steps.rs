//! slipway's own slow steps through the build cache's tiers: zig's
//! per-target C runtimes (see `slipway_toolchain::runtime_share`) and
//! compressed layers. Only used when a remote cache is configured; without
//! one, zig's own cache and the local layer records already cover a machine.
//!
//! Everything here fails open: a remote fault, a refused bundle or a failed
//! staging build costs time and one line on stderr, never the build.

use std::sync::Mutex;

use slipway_build::Plan;
use slipway_cache::{ActionEntry, ActionKey, Cache, CacheConfig, Stats};
use slipway_platform::{Libc, Target};
use slipway_toolchain::runtime::Runtime;
use slipway_toolchain::runtime_share::{self, RuntimeStore, Source};

use crate::ui::Ui;

/// The cache namespace of zig runtime bundles.
pub const ZIG_NS: &str = "zig";

/// The run's cache with its remote, when one is configured for `plan`'s
/// module; `None` (and a warning) when it cannot be opened.
pub fn open(plan: &Plan, ui: Ui) -> Option<Cache> {
    let (spec, mode) = match super::cache::remote_for(Some(&plan.module_dir)) {
        Ok(Some(r)) => r,
        Ok(None) => return None,
        Err(e) => {
            ui.warn(format!("remote cache: {e:#}"));
            return None;
        }
    };
    let config = CacheConfig {
        local_dir: plan.cache.root.clone(),
        remote: Some(spec),
        mode,
        quiet: !ui.live,
    };
    match Cache::open(&config) {
        Ok(c) => Some(c),
        Err(e) => {
            ui.warn(format!("remote cache: {e}"));
            None
        }
    }
}

/// [`Cache`] as the store of runtime bundles: one action entry per key,
/// naming the bundle's blob in the CAS (so every read is verified by digest).
pub struct ZigStore<'a>(pub &'a Cache);

fn action_key(key: &str) -> ActionKey {
    ActionKey::derive(["zig-runtime-bundle", key])
}

impl RuntimeStore for ZigStore<'_> {
    fn get(&self, key: &str) -> Option<Vec<u8>> {
        let entry = self.0.get_action(ZIG_NS, &action_key(key)).ok()??;
        let output = entry.outputs.first()?;
        let path = self.0.get_blob(ZIG_NS, &output.digest).ok()??;
        std::fs::read(path).ok()
    }

    fn put(&self, key: &str, bundle: &[u8]) {
        let Ok(digest) = self.0.put_blob(ZIG_NS, bundle) else {
            return;
        };
        let entry = ActionEntry::single(digest, bundle.len() as u64);
        let _ = self.0.put_action(ZIG_NS, &action_key(key), &entry);
    }
}

/// Get the C runtime of every cold target of `plan` through the cache:
/// restored when the remote has it, else built here in isolation and
/// uploaded. Returns the targets whose runtime is now in zig's cache, with
/// where it came from; a target that failed is left to the build itself.
pub fn prepare_runtimes(
    plan: &Plan,
    cold: &[(Target, Runtime)],
    cache: &Cache,
    jobs: usize,
    ui: Ui,
) -> Vec<(Target, Source)> {
    let store = ZigStore(cache);
    let queue: Mutex<Vec<&(Target, Runtime)>> = Mutex::new(cold.iter().rev().collect());
    let done: Mutex<Vec<(Target, Source)>> = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..jobs.clamp(1, cold.len().max(1)) {
            scope.spawn(|| {
                loop {
                    let next = queue.lock().unwrap_or_else(|e| e.into_inner()).pop();
                    let Some((target, rt)) = next else { break };
                    let Some(cc) = plan
                        .targets
                        .iter()
                        .find(|t| &t.target == target)
                        .and_then(|t| t.env.get("CC"))
                    else {
                        continue;
                    };
                    let started = std::time::Instant::now();
                    let musl = matches!(target.libc, Libc::Musl);
                    match runtime_share::fetch_or_build(
                        &plan.cache,
                        rt,
                        std::path::Path::new(cc),
                        musl,
                        &store,
                    ) {
                        Ok(source) => {
                            let how = match &source {
                                Source::Hit => "restored from the remote cache".to_string(),
                                Source::Built => "built and uploaded".to_string(),
                                Source::Refused(why) => {
                                    format!("built (the remote's copy was refused: {why})")
                                }
                            };
                            ui.status(format!(
                                "{target}: zig runtime {} {how} in {}",
                                rt.name(),
                                crate::ui::seconds(started.elapsed())
                            ));
                            done.lock()
                                .unwrap_or_else(|e| e.into_inner())
                                .push((target.clone(), source));
                        }
                        Err(e) => ui.warn(format!(
                            "{target}: sharing zig's runtime failed ({e}); the build compiles it"
                        )),
                    }
                }
            });
        }
    });
    cache.flush();
    done.into_inner().unwrap_or_else(|e| e.into_inner())
}

/// Counters of this run's namespaces (`zig`, `layer`), for `--json`.
static LAST: Mutex<Option<Stats>> = Mutex::new(None);

/// Print one line per tier for namespace `ns` of `cache`'s counters (e.g.
/// `zig cache remote: 3 hits, 0 misses, …`) and the run's remote warning,
/// and keep them for [`last_run`].
pub fn finish(ns: &str, cache: &Cache, ui: Ui) {
    let stats = cache.stats();
    if let Some(w) = stats.remote.as_ref().and_then(|r| r.warning.as_ref()) {
        ui.warn(w);
    }
    let mut only = Stats {
        tiers: Default::default(),
        remote: stats.remote.clone(),
    };
    for (tier, per_ns) in &stats.tiers {
        if let Some(t) = per_ns.get(ns) {
            only.tiers
                .entry(tier.clone())
                .or_default()
                .insert(ns.to_string(), *t);
        }
    }
    for line in only.summary() {
        ui.status(format!("{ns} cache {line}"));
    }
    let mut last = LAST.lock().unwrap_or_else(|e| e.into_inner());
    match last.as_mut() {
        Some(all) => {
            for (tier, per_ns) in only.tiers {
                all.tiers.entry(tier).or_default().extend(per_ns);
            }
        }
        None => *last = Some(only),
    }
}

/// The counters [`finish`] kept, for a command's `--json`.
pub fn last_run() -> Option<Stats> {
    LAST.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

/// The cache namespace of compressed layers.
pub const LAYER_NS: &str = "layer";

/// [`Cache`] as the shared tier of compressed layers: one action entry per
/// (diff_id, compression settings) naming the compressed blob in the CAS.
/// slipway-oci checks every blob it gets (decompressed, it must hash to the
/// diff_id).
pub struct LayerStore(pub std::sync::Arc<Cache>);

fn layer_key(diff_id: &slipway_oci::Digest, compression: &str) -> ActionKey {
    ActionKey::derive(["compressed-layer", &diff_id.to_string(), compression])
}

impl slipway_oci::tier::LayerTier for LayerStore {
    fn get(&self, diff_id: &slipway_oci::Digest, compression: &str) -> Option<Vec<u8>> {
        let entry = self
            .0
            .get_action(LAYER_NS, &layer_key(diff_id, compression))
            .ok()??;
        let output = entry.outputs.first()?;
        let path = self.0.get_blob(LAYER_NS, &output.digest).ok()??;
        std::fs::read(path).ok()
    }

    fn put(&self, diff_id: &slipway_oci::Digest, compression: &str, blob: &[u8]) {
        let Ok(digest) = self.0.put_blob(LAYER_NS, blob) else {
            return;
        };
        let entry = ActionEntry::single(digest, blob.len() as u64);
        let _ = self
            .0
            .put_action(LAYER_NS, &layer_key(diff_id, compression), &entry);
    }
}
