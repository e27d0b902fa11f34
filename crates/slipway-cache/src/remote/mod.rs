//! The remote tier: the Bazel remote-cache HTTP protocol or an S3 bucket,
//! both spoken with the same four requests (`GET`, `HEAD`, `PUT` on
//! `…/cas/<sha256>` and `…/ac/<sha256>`).
//!
//! Faults fail open, with a bounded cost:
//!
//! - a connection must be up within [`CONNECT_TIMEOUT`], the response must
//!   start within [`RESPONSE_TIMEOUT`], and no read of its body may stall
//!   longer than [`READ_TIMEOUT`];
//! - a refused connection, a timeout, a 5xx (or any status other than 200,
//!   201, 204 and 404), or a body cut short is a *fault*: the lookup is a
//!   miss, the upload is dropped;
//! - the first fault or corrupt body of a run prints one warning to stderr;
//! - after [`DISABLE_AFTER_CONSECUTIVE`] faults in a row, or once failed
//!   requests have taken [`DISABLE_AFTER_LOST`] in all, the remote is
//!   switched off for the rest of the run (every lookup a miss at once, no
//!   more uploads). A run thus loses at most about `DISABLE_AFTER_LOST`
//!   plus one request's timeouts per thread to a bad remote.
//!
//! A body whose digest (CAS) or checksum, namespace and key (action cache,
//! see [`crate::ActionEntry`]) do not match is *corrupt*: a miss, logged,
//! never stored.
//!
//! For bazel-remote, action-cache entries are slipway's own format, not
//! Bazel `ActionResult` protobufs, so it must run with
//! `--disable_http_ac_validation`; nginx (WebDAV `PUT`) needs nothing.

pub(crate) mod s3;

pub use s3::error_summary;

use std::collections::HashSet;
use std::io::Read;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use ureq::Agent;

use crate::config::{RemoteMode, RemoteSpec};
use crate::digest::{ActionKey, Sha256};
use crate::entry::{ActionEntry, MAX_ENTRY_BYTES};
use crate::error::CacheError;
use crate::local::{Local, Received};
use crate::stats::{Counters, RemoteState};

/// How long a connection may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long the server may take to start answering.
pub const RESPONSE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long one read of a body may stall.
pub const READ_TIMEOUT: Duration = Duration::from_secs(5);
/// Faults in a row that switch the remote off.
pub const DISABLE_AFTER_CONSECUTIVE: u32 = 3;
/// Time spent on failed requests (summed over threads) that switches the
/// remote off: a server that fails fast now and then stays useful, a slow
/// one costs at most this much.
pub const DISABLE_AFTER_LOST: Duration = Duration::from_secs(10);
/// Blobs at least this big are checked with `HEAD` before a `PUT`.
const HEAD_BEFORE_PUT: u64 = 64 << 10;
/// Threads uploading in the background.
const UPLOADERS: usize = 4;

/// The two stores on the server.
#[derive(Clone, Copy)]
pub(crate) enum Store {
    Cas,
    Ac,
}

impl Store {
    fn dir(self) -> &'static str {
        match self {
            Store::Cas => "cas",
            Store::Ac => "ac",
        }
    }
}

/// Why a request did not work.
struct Fault(String);

enum Auth {
    None,
    Basic(String),
    S3(s3::Signer),
}

/// A connection to one remote, with its health.
pub(crate) struct Remote {
    agent: Agent,
    /// The URL of the root: objects are `{base}/cas/<hex>`.
    base: String,
    /// The same as a request path (for signing).
    base_path: String,
    auth: Auth,
    shown: String,
    mode: RemoteMode,
    quiet: bool,
    counters: Arc<Counters>,
    consecutive: AtomicU32,
    lost_ms: AtomicU64,
    disabled: AtomicBool,
    warning: Mutex<Option<String>>,
}

impl Remote {
    pub fn connect(
        spec: &RemoteSpec,
        mode: RemoteMode,
        quiet: bool,
        counters: Arc<Counters>,
    ) -> Result<Remote, CacheError> {
        let (base, auth) = match spec {
            RemoteSpec::Http { base, basic_auth } => (
                base.clone(),
                match basic_auth {
                    Some(cred) => Auth::Basic(format!(
                        "Basic {}",
                        base64::engine::general_purpose::STANDARD.encode(cred)
                    )),
                    None => Auth::None,
                },
            ),
            RemoteSpec::S3 { bucket, prefix } => {
                let mut signer = s3::Signer::from_environment()?;
                let base = signer.base_url(bucket, prefix);
                (base, Auth::S3(signer))
            }
        };
        let base_path = match base.split_once("://") {
            Some((_, rest)) => rest
                .find('/')
                .map(|i| rest[i..].to_string())
                .unwrap_or_default(),
            None => String::new(),
        };
        let agent = Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_connect(Some(CONNECT_TIMEOUT))
            .timeout_recv_response(Some(RESPONSE_TIMEOUT))
            .timeout_per_read(Some(READ_TIMEOUT))
            .timeout_send_request(Some(RESPONSE_TIMEOUT))
            .timeout_per_write(Some(READ_TIMEOUT))
            .user_agent(concat!("slipway/", env!("CARGO_PKG_VERSION")))
            .build()
            .new_agent();
        Ok(Remote {
            agent,
            base,
            base_path,
            auth,
            shown: spec.to_string(),
            mode,
            quiet,
            counters,
            consecutive: AtomicU32::new(0),
            lost_ms: AtomicU64::new(0),
            disabled: AtomicBool::new(false),
            warning: Mutex::new(None),
        })
    }

    pub fn describe(&self) -> RemoteState {
        RemoteState {
            url: self.shown.clone(),
            mode: self.mode.as_str().to_string(),
            disabled: self.disabled.load(Ordering::Relaxed),
            warning: self.warning(),
        }
    }

    pub fn warning(&self) -> Option<String> {
        self.warning
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn is_disabled(&self) -> bool {
        self.disabled.load(Ordering::Relaxed)
    }

    /// Record a fault: warn once, and switch off after repeated ones.
    fn fault(&self, what: &str, started: Instant, fault: Fault) {
        let consecutive = self.consecutive.fetch_add(1, Ordering::Relaxed) + 1;
        let spent = started.elapsed().as_millis() as u64;
        let lost = self.lost_ms.fetch_add(spent, Ordering::Relaxed) + spent;
        if consecutive >= DISABLE_AFTER_CONSECUTIVE || lost >= DISABLE_AFTER_LOST.as_millis() as u64
        {
            self.disabled.store(true, Ordering::Relaxed);
        }
        self.warn(format!(
            "remote cache {} failed ({what}: {}); the build goes on with local work, and a \
             remote that keeps failing is not asked again in this run",
            self.shown, fault.0
        ));
    }

    fn ok(&self) {
        self.consecutive.store(0, Ordering::Relaxed);
    }

    /// Keep the run's first warning and print it (once).
    fn warn(&self, message: String) {
        let mut w = self.warning.lock().unwrap_or_else(|p| p.into_inner());
        if w.is_none() {
            if !self.quiet {
                eprintln!("warning: {message}");
            }
            *w = Some(message);
        }
    }

    /// A corrupt body: a miss, logged every time (it means a broken or
    /// hostile server), never used.
    fn corrupt(&self, ns: &str, what: String) {
        self.counters.remote_corrupt(ns);
        let message = format!("remote cache {}: dropped {what}", self.shown);
        if !self.quiet {
            eprintln!("warning: {message}");
        }
        let mut w = self.warning.lock().unwrap_or_else(|p| p.into_inner());
        if w.is_none() {
            *w = Some(message);
        }
    }

    fn url(&self, store: Store, hex: &str) -> (String, String) {
        let rel = format!("/{}/{hex}", store.dir());
        (
            format!("{}{rel}", self.base),
            format!("{}{rel}", self.base_path),
        )
    }

    /// Send one request; the response's status and body, or a fault.
    fn send(
        &self,
        method: &str,
        store: Store,
        hex: &str,
        body: Option<(PutBody, &Sha256)>,
    ) -> Result<ureq::http::Response<ureq::Body>, Fault> {
        let (url, path) = self.url(store, hex);
        let payload_sha = match &body {
            Some((_, sha)) => sha.to_hex(),
            None => s3::EMPTY_SHA256.to_string(),
        };
        let mut headers: Vec<(String, String)> = Vec::new();
        match &self.auth {
            Auth::None => {}
            Auth::Basic(value) => headers.push(("authorization".into(), value.clone())),
            Auth::S3(signer) => headers.extend(signer.sign(method, &path, &payload_sha)),
        }
        let result = match (method, body) {
            ("GET", _) => {
                let mut r = self.agent.get(&url);
                for (k, v) in &headers {
                    r = r.header(k, v);
                }
                r.call()
            }
            ("HEAD", _) => {
                let mut r = self.agent.head(&url);
                for (k, v) in &headers {
                    r = r.header(k, v);
                }
                r.call()
            }
            (_, Some((body, _))) => {
                let mut r = self.agent.put(&url);
                for (k, v) in &headers {
                    r = r.header(k, v);
                }
                match body {
                    PutBody::Bytes(b) => r.send(b),
                    PutBody::File(f) => r.send(f),
                }
            }
            _ => return Err(Fault(format!("{method} without a body"))),
        };
        result.map_err(|e| Fault(e.to_string()))
    }

    /// Why a response is not a success or a clean miss.
    /// `GET` an entry: the response when the remote has it (200); a miss
    /// (404) or a fault, counted and logged here, is `None`.
    fn get(
        &self,
        ns: &str,
        store: Store,
        hex: &str,
        started: Instant,
    ) -> Option<ureq::http::Response<ureq::Body>> {
        let what = match store {
            Store::Cas => "GET cas",
            Store::Ac => "GET ac",
        };
        let resp = match self.send("GET", store, hex, None) {
            Ok(r) => r,
            Err(f) => {
                self.counters.remote_fault(ns, true);
                self.fault(what, started, f);
                return None;
            }
        };
        match resp.status().as_u16() {
            200 => Some(resp),
            404 => {
                self.ok();
                self.counters.remote_miss(ns);
                None
            }
            _ => {
                self.counters.remote_fault(ns, true);
                let f = self.status_fault(resp);
                self.fault(what, started, f);
                None
            }
        }
    }

    fn status_fault(&self, resp: ureq::http::Response<ureq::Body>) -> Fault {
        let status = resp.status();
        let detail = match &self.auth {
            Auth::S3(_) => {
                let mut body = resp.into_body();
                let text = body
                    .with_config()
                    .limit(64 << 10)
                    .read_to_vec()
                    .unwrap_or_default();
                s3::error_summary(&text)
            }
            _ => None,
        };
        match detail {
            Some(d) => Fault(format!("HTTP {status}: {d}")),
            None => Fault(format!("HTTP {status}")),
        }
    }

    /// Fetch blob `d` into the local tier, verified.
    pub fn fetch_blob(
        &self,
        ns: &str,
        d: &Sha256,
        local: &Local,
    ) -> Result<Option<PathBuf>, CacheError> {
        let started = Instant::now();
        if self.is_disabled() {
            self.counters.remote_miss(ns);
            return Ok(None);
        }
        let Some(resp) = self.get(ns, Store::Cas, &d.to_hex(), started) else {
            return Ok(None);
        };
        let mut reader = resp.into_body().into_reader();
        match local.receive(d, &mut reader)? {
            Received::Stored(n) => {
                self.ok();
                self.counters.remote_hit(ns, n);
                Ok(Some(local.blob_path(d)))
            }
            Received::Mismatch(got) => {
                self.ok();
                self.corrupt(ns, format!("blob {d}: its body hashes to {got}"));
                Ok(None)
            }
            Received::ReadFailed(e) => {
                self.counters.remote_fault(ns, true);
                self.fault("GET cas body", started, Fault(e.to_string()));
                Ok(None)
            }
        }
    }

    /// Fetch and check the entry for `key`; its outputs are not fetched here.
    pub fn fetch_action(
        &self,
        ns: &str,
        key: &ActionKey,
    ) -> Result<Option<ActionEntry>, CacheError> {
        let started = Instant::now();
        if self.is_disabled() {
            self.counters.remote_miss(ns);
            return Ok(None);
        }
        let hex = key.remote_key(ns).to_hex();
        let Some(resp) = self.get(ns, Store::Ac, &hex, started) else {
            return Ok(None);
        };
        let mut bytes = Vec::new();
        let read = resp
            .into_body()
            .into_reader()
            .take(MAX_ENTRY_BYTES as u64 + 1)
            .read_to_end(&mut bytes);
        if let Err(e) = read {
            self.counters.remote_fault(ns, true);
            self.fault("GET ac body", started, Fault(e.to_string()));
            return Ok(None);
        }
        self.ok();
        match ActionEntry::decode(&bytes, ns, key) {
            Ok(entry) => {
                self.counters.remote_hit(ns, bytes.len() as u64);
                Ok(Some(entry))
            }
            Err(why) => {
                self.corrupt(ns, format!("action entry {ns}/{}: {why}", key.to_hex()));
                Ok(None)
            }
        }
    }

    /// Upload blob `d` from `path` (skipped if the server has it).
    fn upload_blob(&self, ns: &str, d: &Sha256, path: &std::path::Path) {
        let started = Instant::now();
        if self.is_disabled() {
            return;
        }
        let hex = d.to_hex();
        let Ok(file) = std::fs::File::open(path) else {
            return;
        };
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        if size >= HEAD_BEFORE_PUT {
            match self.send("HEAD", Store::Cas, &hex, None) {
                Ok(r) if r.status().as_u16() == 200 => {
                    self.ok();
                    return;
                }
                Ok(r) if r.status().as_u16() == 404 => self.ok(),
                Ok(r) => {
                    self.counters.remote_fault(ns, false);
                    let f = self.status_fault(r);
                    self.fault("HEAD cas", started, f);
                    return;
                }
                Err(f) => {
                    self.counters.remote_fault(ns, false);
                    self.fault("HEAD cas", started, f);
                    return;
                }
            }
        }
        self.put(ns, Store::Cas, &hex, PutBody::File(file), d, size);
    }

    fn upload_action(&self, ns: &str, key: &ActionKey, entry: &ActionEntry) {
        if self.is_disabled() {
            return;
        }
        let bytes = entry.encode(ns, key);
        let sha = Sha256::of(&bytes);
        let size = bytes.len() as u64;
        let hex = key.remote_key(ns).to_hex();
        self.put(ns, Store::Ac, &hex, PutBody::Bytes(bytes), &sha, size);
    }

    fn put(&self, ns: &str, store: Store, hex: &str, body: PutBody, sha: &Sha256, size: u64) {
        let started = Instant::now();
        match self.send("PUT", store, hex, Some((body, sha))) {
            Ok(r) if matches!(r.status().as_u16(), 200 | 201 | 204) => {
                self.ok();
                self.counters.remote_put(ns, size);
            }
            Ok(r) => {
                self.counters.remote_fault(ns, false);
                let f = self.status_fault(r);
                self.fault(&format!("PUT {}", store.dir()), started, f);
            }
            Err(f) => {
                self.counters.remote_fault(ns, false);
                self.fault(&format!("PUT {}", store.dir()), started, f);
            }
        }
    }
}

enum PutBody {
    Bytes(Vec<u8>),
    File(std::fs::File),
}

enum Job {
    Blob {
        ns: String,
        digest: Sha256,
        path: PathBuf,
    },
    Action {
        ns: String,
        key: ActionKey,
        entry: ActionEntry,
        blobs: Vec<(Sha256, PathBuf)>,
    },
}

/// Background uploads, so a put costs the caller only the local write.
/// Entries are sent after their outputs.
pub(crate) struct Uploader {
    tx: Mutex<Option<mpsc::Sender<Job>>>,
    pending: Arc<(Mutex<usize>, Condvar)>,
    workers: Mutex<Vec<std::thread::JoinHandle<()>>>,
}

impl Uploader {
    pub fn start(remote: Arc<Remote>) -> Uploader {
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        let pending = Arc::new((Mutex::new(0usize), Condvar::new()));
        let sent: Arc<Mutex<HashSet<Sha256>>> = Arc::default();
        let workers = (0..UPLOADERS)
            .map(|_| {
                let rx = rx.clone();
                let remote = remote.clone();
                let pending = pending.clone();
                let sent = sent.clone();
                std::thread::spawn(move || {
                    loop {
                        let job = {
                            let rx = rx.lock().unwrap_or_else(|p| p.into_inner());
                            rx.recv()
                        };
                        let Ok(job) = job else { break };
                        run_job(&remote, &sent, job);
                        let (count, cv) = &*pending;
                        let mut n = count.lock().unwrap_or_else(|p| p.into_inner());
                        *n = n.saturating_sub(1);
                        cv.notify_all();
                    }
                })
            })
            .collect();
        Uploader {
            tx: Mutex::new(Some(tx)),
            pending,
            workers: Mutex::new(workers),
        }
    }

    fn queue(&self, job: Job) {
        let tx = self.tx.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(tx) = tx.as_ref() {
            let (count, _) = &*self.pending;
            *count.lock().unwrap_or_else(|p| p.into_inner()) += 1;
            if tx.send(job).is_err() {
                *count.lock().unwrap_or_else(|p| p.into_inner()) -= 1;
            }
        }
    }

    pub fn blob(&self, ns: &str, digest: Sha256, path: PathBuf) {
        self.queue(Job::Blob {
            ns: ns.to_string(),
            digest,
            path,
        });
    }

    pub fn action(
        &self,
        ns: &str,
        key: ActionKey,
        entry: ActionEntry,
        blobs: Vec<(Sha256, PathBuf)>,
    ) {
        self.queue(Job::Action {
            ns: ns.to_string(),
            key,
            entry,
            blobs,
        });
    }

    /// Wait until every queued upload is done.
    pub fn flush(&self) {
        let (count, cv) = &*self.pending;
        let mut n = count.lock().unwrap_or_else(|p| p.into_inner());
        while *n > 0 {
            n = cv.wait(n).unwrap_or_else(|p| p.into_inner());
        }
    }
}

impl Drop for Uploader {
    fn drop(&mut self) {
        self.flush();
        self.tx.lock().unwrap_or_else(|p| p.into_inner()).take();
        for w in self
            .workers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain(..)
        {
            let _ = w.join();
        }
    }
}

fn run_job(remote: &Remote, sent: &Mutex<HashSet<Sha256>>, job: Job) {
    let first_time = |d: &Sha256| sent.lock().unwrap_or_else(|p| p.into_inner()).insert(*d);
    match job {
        Job::Blob { ns, digest, path } => {
            if first_time(&digest) {
                remote.upload_blob(&ns, &digest, &path);
            }
        }
        Job::Action {
            ns,
            key,
            entry,
            blobs,
        } => {
            for (digest, path) in blobs {
                if first_time(&digest) {
                    remote.upload_blob(&ns, &digest, &path);
                }
            }
            remote.upload_action(&ns, &key, &entry);
        }
    }
}
