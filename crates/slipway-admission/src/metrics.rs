//! Prometheus text-format metrics: decisions by endpoint and result, request
//! and verification latency histograms, cache hits, and refused requests.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Histogram bucket upper bounds, in seconds: fine below 10 ms, where warm
/// answers land, coarse up to the API server's 10 s timeout.
const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

pub struct Histogram {
    counts: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    /// Sum in microseconds (an integer, so it can be atomic).
    sum_us: AtomicU64,
}

impl Histogram {
    fn new() -> Histogram {
        Histogram {
            counts: std::array::from_fn(|_| AtomicU64::new(0)),
            count: AtomicU64::new(0),
            sum_us: AtomicU64::new(0),
        }
    }

    pub fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        for (i, bound) in BUCKETS.iter().enumerate() {
            if secs <= *bound {
                self.counts[i].fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_us.fetch_add(
            d.as_micros().min(u64::MAX as u128) as u64,
            Ordering::Relaxed,
        );
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        for (i, bound) in BUCKETS.iter().enumerate() {
            let _ = writeln!(
                out,
                "{name}_bucket{{{labels}{sep}le=\"{bound}\"}} {}",
                self.counts[i].load(Ordering::Relaxed)
            );
        }
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {count}");
        let braces = if labels.is_empty() {
            String::new()
        } else {
            format!("{{{labels}}}")
        };
        let _ = writeln!(
            out,
            "{name}_sum{braces} {}",
            self.sum_us.load(Ordering::Relaxed) as f64 / 1e6
        );
        let _ = writeln!(out, "{name}_count{braces} {count}");
    }
}

/// The webhook's two endpoints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    Validate,
    Mutate,
}

impl Endpoint {
    fn index(self) -> usize {
        self as usize
    }
    fn name(self) -> &'static str {
        match self {
            Endpoint::Validate => "validate",
            Endpoint::Mutate => "mutate",
        }
    }
}

/// What the webhook decided about one review.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Allowed,
    Denied,
    /// Admitted unverified because a registry was down and the rule fails open.
    FailOpen,
}

const OUTCOMES: [Outcome; 3] = [Outcome::Allowed, Outcome::Denied, Outcome::FailOpen];

impl Outcome {
    fn name(self) -> &'static str {
        match self {
            Outcome::Allowed => "allowed",
            Outcome::Denied => "denied",
            Outcome::FailOpen => "fail_open",
        }
    }
}

/// Requests answered with an HTTP error instead of a review.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    TooLarge,
    Malformed,
    NotFound,
    Method,
    Protocol,
}

const REFUSALS: [Refusal; 5] = [
    Refusal::TooLarge,
    Refusal::Malformed,
    Refusal::NotFound,
    Refusal::Method,
    Refusal::Protocol,
];

impl Refusal {
    fn name(self) -> &'static str {
        match self {
            Refusal::TooLarge => "too_large",
            Refusal::Malformed => "malformed",
            Refusal::NotFound => "not_found",
            Refusal::Method => "method",
            Refusal::Protocol => "protocol",
        }
    }
}

/// Lookups of one cache: answered from it, computed, or shared with a
/// concurrent review that was computing the same key.
#[derive(Default)]
pub struct CacheCounts {
    pub hits: AtomicU64,
    pub misses: AtomicU64,
    pub shared: AtomicU64,
}

impl CacheCounts {
    pub fn count(&self, how: crate::cache::Lookup) {
        use crate::cache::Lookup;
        match how {
            Lookup::Hit => &self.hits,
            Lookup::Miss => &self.misses,
            Lookup::Shared => &self.shared,
        }
        .fetch_add(1, Ordering::Relaxed);
    }
}

/// The files a reload reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reloaded {
    Tls,
    Policy,
}

pub struct Metrics {
    decisions: [[AtomicU64; 3]; 2],
    latency: [Histogram; 2],
    pub verification: Histogram,
    pub verification_cache: CacheCounts,
    pub tag_cache: CacheCounts,
    pub registry_errors: AtomicU64,
    refused: [AtomicU64; 5],
    /// [tls, policy] × [ok, failed]
    reloads: [[AtomicU64; 2]; 2],
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        Metrics {
            decisions: std::array::from_fn(|_| std::array::from_fn(|_| AtomicU64::new(0))),
            latency: [Histogram::new(), Histogram::new()],
            verification: Histogram::new(),
            verification_cache: CacheCounts::default(),
            tag_cache: CacheCounts::default(),
            registry_errors: AtomicU64::new(0),
            refused: std::array::from_fn(|_| AtomicU64::new(0)),
            reloads: std::array::from_fn(|_| std::array::from_fn(|_| AtomicU64::new(0))),
        }
    }

    pub fn decision(&self, endpoint: Endpoint, outcome: Outcome, took: Duration) {
        self.decisions[endpoint.index()][outcome as usize].fetch_add(1, Ordering::Relaxed);
        self.latency[endpoint.index()].observe(took);
    }

    pub fn reloaded(&self, what: Reloaded, ok: bool) {
        self.reloads[what as usize][usize::from(!ok)].fetch_add(1, Ordering::Relaxed);
    }

    pub fn refused(&self, why: Refusal) {
        self.refused[why as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// The text exposition format (version 0.0.4).
    pub fn render(&self) -> String {
        let mut out = String::new();
        let endpoints = [Endpoint::Validate, Endpoint::Mutate];
        out.push_str("# HELP slipway_admission_decisions_total Admission reviews answered, by endpoint and result.\n");
        out.push_str("# TYPE slipway_admission_decisions_total counter\n");
        for e in endpoints {
            for o in OUTCOMES {
                let _ = writeln!(
                    out,
                    "slipway_admission_decisions_total{{endpoint=\"{}\",result=\"{}\"}} {}",
                    e.name(),
                    o.name(),
                    self.decisions[e.index()][o as usize].load(Ordering::Relaxed)
                );
            }
        }
        out.push_str("# HELP slipway_admission_review_duration_seconds Time from a review's last byte to its answer.\n");
        out.push_str("# TYPE slipway_admission_review_duration_seconds histogram\n");
        for e in endpoints {
            self.latency[e.index()].render(
                &mut out,
                "slipway_admission_review_duration_seconds",
                &format!("endpoint=\"{}\"", e.name()),
            );
        }
        out.push_str("# HELP slipway_admission_verification_duration_seconds Time to verify one image digest against the registry (cache misses only).\n");
        out.push_str("# TYPE slipway_admission_verification_duration_seconds histogram\n");
        self.verification.render(
            &mut out,
            "slipway_admission_verification_duration_seconds",
            "",
        );
        out.push_str(
            "# HELP slipway_admission_cache_requests_total Cache lookups, by cache and result (shared: waited for a concurrent review's lookup of the same key).\n",
        );
        out.push_str("# TYPE slipway_admission_cache_requests_total counter\n");
        for (cache, result, v) in [
            ("verification", "hit", &self.verification_cache.hits),
            ("verification", "miss", &self.verification_cache.misses),
            ("verification", "shared", &self.verification_cache.shared),
            ("tag", "hit", &self.tag_cache.hits),
            ("tag", "miss", &self.tag_cache.misses),
            ("tag", "shared", &self.tag_cache.shared),
        ] {
            let _ = writeln!(
                out,
                "slipway_admission_cache_requests_total{{cache=\"{cache}\",result=\"{result}\"}} {}",
                v.load(Ordering::Relaxed)
            );
        }
        out.push_str("# HELP slipway_admission_registry_errors_total Registry lookups that failed to reach an answer.\n");
        out.push_str("# TYPE slipway_admission_registry_errors_total counter\n");
        let _ = writeln!(
            out,
            "slipway_admission_registry_errors_total {}",
            self.registry_errors.load(Ordering::Relaxed)
        );
        out.push_str("# HELP slipway_admission_refused_requests_total HTTP requests answered with an error status, by reason.\n");
        out.push_str("# TYPE slipway_admission_refused_requests_total counter\n");
        for r in REFUSALS {
            let _ = writeln!(
                out,
                "slipway_admission_refused_requests_total{{reason=\"{}\"}} {}",
                r.name(),
                self.refused[r as usize].load(Ordering::Relaxed)
            );
        }
        out.push_str("# HELP slipway_admission_reloads_total Changed TLS or policy files read while serving, by file and result.\n");
        out.push_str("# TYPE slipway_admission_reloads_total counter\n");
        for (what, name) in [(Reloaded::Tls, "tls"), (Reloaded::Policy, "policy")] {
            for (i, result) in ["ok", "failed"].iter().enumerate() {
                let _ = writeln!(
                    out,
                    "slipway_admission_reloads_total{{file=\"{name}\",result=\"{result}\"}} {}",
                    self.reloads[what as usize][i].load(Ordering::Relaxed)
                );
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counts_and_buckets() {
        let m = Metrics::new();
        m.decision(Endpoint::Mutate, Outcome::Denied, Duration::from_millis(3));
        m.refused(Refusal::TooLarge);
        let text = m.render();
        assert!(text.contains(
            "slipway_admission_decisions_total{endpoint=\"mutate\",result=\"denied\"} 1"
        ));
        assert!(text.contains(
            "slipway_admission_review_duration_seconds_bucket{endpoint=\"mutate\",le=\"0.0025\"} 0"
        ));
        assert!(text.contains(
            "slipway_admission_review_duration_seconds_bucket{endpoint=\"mutate\",le=\"0.005\"} 1"
        ));
        assert!(text.contains("slipway_admission_refused_requests_total{reason=\"too_large\"} 1"));
    }
}
