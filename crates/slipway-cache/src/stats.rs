//! Hit, miss and byte counters per tier and namespace, for the run's summary
//! and `--json`.

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

/// Counters of one tier in one namespace.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TierStats {
    /// Lookups answered by this tier.
    pub hits: u64,
    /// Lookups this tier could not answer.
    pub misses: u64,
    /// Bytes served by this tier (for the remote: downloaded and verified).
    pub bytes_read: u64,
    /// Objects written to this tier.
    pub puts: u64,
    /// Bytes written to this tier.
    pub bytes_written: u64,
    /// Remote bodies dropped because their digest, checksum or key did not
    /// match (each also counted as a miss).
    pub corrupt: u64,
    /// Requests that failed (refused, timed out, 5xx, truncated); each lookup
    /// among them is also a miss.
    pub faults: u64,
}

impl TierStats {
    fn add(&mut self, o: &TierStats) {
        self.hits += o.hits;
        self.misses += o.misses;
        self.bytes_read += o.bytes_read;
        self.puts += o.puts;
        self.bytes_written += o.bytes_written;
        self.corrupt += o.corrupt;
        self.faults += o.faults;
    }
}

/// What the remote was and how it fared.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteState {
    /// The remote, credentials masked.
    pub url: String,
    /// `read` or `readwrite`.
    pub mode: String,
    /// Switched off for the rest of the run after repeated faults.
    pub disabled: bool,
    /// The run's one warning, if there were faults.
    pub warning: Option<String>,
}

/// A snapshot of a run's counters: `tiers["local"|"remote"][namespace]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    pub tiers: BTreeMap<String, BTreeMap<String, TierStats>>,
    pub remote: Option<RemoteState>,
}

impl Stats {
    /// The sum over namespaces of one tier.
    pub fn tier_total(&self, tier: &str) -> TierStats {
        let mut t = TierStats::default();
        for s in self.tiers.get(tier).into_iter().flat_map(|m| m.values()) {
            t.add(s);
        }
        t
    }

    /// Add another process's counters (e.g. one `cache-prog` per `go build`).
    pub fn merge(&mut self, other: &Stats) {
        for (tier, by_ns) in &other.tiers {
            for (ns, s) in by_ns {
                self.tiers
                    .entry(tier.clone())
                    .or_default()
                    .entry(ns.clone())
                    .or_default()
                    .add(s);
            }
        }
        match (&mut self.remote, &other.remote) {
            (None, Some(r)) => self.remote = Some(r.clone()),
            (Some(mine), Some(r)) => {
                mine.disabled |= r.disabled;
                if mine.warning.is_none() {
                    mine.warning = r.warning.clone();
                }
            }
            _ => {}
        }
    }

    /// One line per tier: "local: 10 hits, 2 misses, …".
    pub fn summary(&self) -> Vec<String> {
        self.tiers
            .keys()
            .map(|tier| {
                let t = self.tier_total(tier);
                let mut line = format!(
                    "{tier}: {} hits, {} misses, {} read, {} written",
                    t.hits,
                    t.misses,
                    human_bytes(t.bytes_read),
                    human_bytes(t.bytes_written)
                );
                if t.corrupt > 0 {
                    line.push_str(&format!(", {} corrupt", t.corrupt));
                }
                if t.faults > 0 {
                    line.push_str(&format!(", {} faults", t.faults));
                }
                line
            })
            .collect()
    }
}

/// `1.5 MiB`-style sizes for people.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

#[derive(Default)]
pub(crate) struct Counters {
    by: Mutex<BTreeMap<(&'static str, String), TierStats>>,
}

impl Counters {
    fn with(&self, tier: &'static str, ns: &str, f: impl FnOnce(&mut TierStats)) {
        let mut by = self.by.lock().unwrap_or_else(|p| p.into_inner());
        f(by.entry((tier, ns.to_string())).or_default());
    }

    pub fn local_hit(&self, ns: &str, bytes: u64) {
        self.with("local", ns, |s| {
            s.hits += 1;
            s.bytes_read += bytes;
        });
    }
    pub fn local_miss(&self, ns: &str) {
        self.with("local", ns, |s| s.misses += 1);
    }
    pub fn local_put(&self, ns: &str, bytes: u64) {
        self.with("local", ns, |s| {
            s.puts += 1;
            s.bytes_written += bytes;
        });
    }
    pub fn remote_hit(&self, ns: &str, bytes: u64) {
        self.with("remote", ns, |s| {
            s.hits += 1;
            s.bytes_read += bytes;
        });
    }
    pub fn remote_miss(&self, ns: &str) {
        self.with("remote", ns, |s| s.misses += 1);
    }
    pub fn remote_corrupt(&self, ns: &str) {
        self.with("remote", ns, |s| {
            s.corrupt += 1;
            s.misses += 1;
        });
    }
    pub fn remote_incomplete(&self, ns: &str) {
        self.with("remote", ns, |s| s.misses += 1);
    }
    pub fn remote_fault(&self, ns: &str, lookup: bool) {
        self.with("remote", ns, |s| {
            s.faults += 1;
            if lookup {
                s.misses += 1;
            }
        });
    }
    pub fn remote_put(&self, ns: &str, bytes: u64) {
        self.with("remote", ns, |s| {
            s.puts += 1;
            s.bytes_written += bytes;
        });
    }

    pub fn snapshot(&self, remote: Option<RemoteState>) -> Stats {
        let by = self.by.lock().unwrap_or_else(|p| p.into_inner());
        let mut tiers: BTreeMap<String, BTreeMap<String, TierStats>> = BTreeMap::new();
        for ((tier, ns), s) in by.iter() {
            tiers
                .entry(tier.to_string())
                .or_default()
                .insert(ns.clone(), *s);
        }
        Stats { tiers, remote }
    }
}
