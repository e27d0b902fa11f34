//! Where a promote or rollback spends its time, without a profiler: with
//! `SLIPWAY_TIMINGS=1` in the environment each span prints its start (from
//! the first span) and its length on stderr. Spans run on several threads,
//! so the start shows what overlapped.

use std::sync::OnceLock;
use std::time::Instant;

fn enabled() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| {
        std::env::var_os("SLIPWAY_TIMINGS").is_some_and(|v| !v.is_empty() && v != "0")
    })
}

fn origin() -> Instant {
    static START: OnceLock<Instant> = OnceLock::new();
    *START.get_or_init(Instant::now)
}

/// Run `f`, and report how long it took when timings are on.
pub fn span<T>(name: &str, f: impl FnOnce() -> T) -> T {
    if !enabled() {
        return f();
    }
    let start = Instant::now();
    let at = start.duration_since(origin());
    let out = f();
    eprintln!(
        "slipway: timing: {name}: {:.1} ms (at +{:.1} ms)",
        start.elapsed().as_secs_f64() * 1e3,
        at.as_secs_f64() * 1e3
    );
    out
}
