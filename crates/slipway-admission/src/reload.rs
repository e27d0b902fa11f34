//! Picking up a new TLS certificate and a new policy without a restart.
//!
//! cert-manager renews the serving certificate and the kubelet swaps the
//! mounted Secret (and a ConfigMap holding the policy) in place; a webhook
//! that read them only at start would serve an expired certificate, or an
//! old policy, until someone restarts it. A watcher thread reads the files
//! every few seconds and compares their content. When it changed and the
//! new files load, new connections get the new certificate (open ones keep
//! theirs) and the next review uses the new policy, with empty caches,
//! because verdicts are keyed by rule. When the new files do not load, the
//! webhook keeps serving with what it has, says why on stderr, and counts
//! it in `slipway_admission_reloads_total{result="failed"}`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use rustls::ServerConfig;
use slipway_oci::Digest;

use crate::engine::Engine;
use crate::metrics::{Metrics, Reloaded};
use crate::policy::Policy;
use crate::server::tls_config;

/// The TLS configuration and the engine now in use; a reload swaps them.
pub struct Current {
    tls: RwLock<Arc<ServerConfig>>,
    engine: RwLock<Arc<Engine>>,
    /// Kept across reloads, so counters only ever grow.
    pub metrics: Arc<Metrics>,
}

impl Current {
    pub fn new(tls: Arc<ServerConfig>, engine: Engine) -> Current {
        Current {
            tls: RwLock::new(tls),
            metrics: engine.metrics.clone(),
            engine: RwLock::new(Arc::new(engine)),
        }
    }

    /// For a new connection.
    pub fn tls(&self) -> Arc<ServerConfig> {
        self.tls.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// For one review.
    pub fn engine(&self) -> Arc<Engine> {
        self.engine
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// The files to watch, and how often.
#[derive(Debug, Clone)]
pub struct Watch {
    pub policy: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
    pub every: Duration,
}

/// The content of `paths`, as one digest (None for a file that cannot be
/// read right now: the kubelet swapping a volume, say).
fn stamp(paths: &[&Path]) -> Option<Digest> {
    let mut all = Vec::new();
    for p in paths {
        let bytes = std::fs::read(p).ok()?;
        all.extend_from_slice(Digest::of(&bytes).to_string().as_bytes());
    }
    Some(Digest::of(&all))
}

/// Watch the files on a thread of its own, for the life of the process.
pub fn watch(current: Arc<Current>, w: Watch) -> std::io::Result<()> {
    let mut tls_seen = stamp(&[&w.cert, &w.key]);
    let mut policy_seen = stamp(&[&w.policy]);
    std::thread::Builder::new()
        .name("admission-reload".into())
        .spawn(move || {
            loop {
                std::thread::sleep(w.every);
                let tls_now = stamp(&[&w.cert, &w.key]);
                if tls_now.is_some() && tls_now != tls_seen {
                    tls_seen = tls_now;
                    reload_tls(&current, &w);
                }
                let policy_now = stamp(&[&w.policy]);
                if policy_now.is_some() && policy_now != policy_seen {
                    policy_seen = policy_now;
                    reload_policy(&current, &w);
                }
            }
        })
        .map(|_| ())
}

fn reload_tls(current: &Current, w: &Watch) {
    match tls_config(&w.cert, &w.key) {
        Ok(config) => {
            *current.tls.write().unwrap_or_else(|e| e.into_inner()) = config;
            current.metrics.reloaded(Reloaded::Tls, true);
            eprintln!(
                "slipway admission: reloaded the TLS certificate {} (new connections use it)",
                w.cert.display()
            );
        }
        Err(e) => {
            current.metrics.reloaded(Reloaded::Tls, false);
            eprintln!(
                "slipway admission: the TLS files changed but do not load, keeping the old certificate: {e}"
            );
        }
    }
}

fn reload_policy(current: &Current, w: &Watch) {
    match Policy::load(&w.policy) {
        Ok(policy) => {
            let engine = Engine::with_metrics(policy, current.metrics.clone());
            *current.engine.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(engine);
            current.metrics.reloaded(Reloaded::Policy, true);
            eprintln!(
                "slipway admission: reloaded the policy {} (caches emptied)",
                w.policy.display()
            );
        }
        Err(e) => {
            current.metrics.reloaded(Reloaded::Policy, false);
            eprintln!(
                "slipway admission: the policy changed but does not load, keeping the old one: {e}"
            );
        }
    }
}
