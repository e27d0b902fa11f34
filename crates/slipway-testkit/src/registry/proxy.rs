//! A fault-injecting HTTP/1.1 reverse proxy for registry tests.
//!
//! Each client connection gets its own thread and its own upstream
//! connection; requests are forwarded as they come (keep-alive, bodies framed
//! by Content-Length or chunked, streamed, never buffered whole), the `Host`
//! header untouched so the registry's `Location`s point back at the proxy.
//! Whether request number N (counted over the proxy's life, across
//! connections) fails is a pure function of the seed and N.

use std::collections::BTreeMap;
use std::io::{self, BufReader, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use super::TestRegistry;
use super::http::{self, Framing};

/// What an injected fault does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FaultKind {
    /// Answer 503 (with `Retry-After` if configured); not forwarded.
    Unavailable,
    /// Read the request, close the connection without answering; not forwarded.
    DropRequest,
    /// Forward the head and half the request body (at most 32 KiB of a
    /// chunked one), then close both connections: an upload cut in the
    /// middle, for resume tests. Bodiless requests get
    /// [`FaultKind::DropRequest`]; chunked bodies shorter than the cut get
    /// [`FaultKind::DropResponse`].
    CutRequestBody,
    /// Forward the request (the registry acts on it), then close before
    /// sending any byte of the response.
    DropResponse,
    /// Forward, send the first half of the response head, close.
    CutHead,
    /// Forward, send the full head (with its Content-Length) and half the
    /// body, close. Responses without a body get [`FaultKind::CutHead`].
    TruncateBody,
}

impl FaultKind {
    pub const ALL: [FaultKind; 6] = [
        FaultKind::Unavailable,
        FaultKind::DropRequest,
        FaultKind::CutRequestBody,
        FaultKind::DropResponse,
        FaultKind::CutHead,
        FaultKind::TruncateBody,
    ];
}

/// What a request is, from its method and path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RequestKind {
    /// `GET`/`HEAD /v2/`.
    Ping,
    BlobHead,
    BlobGet,
    /// `POST …/blobs/uploads/` without `mount=`.
    UploadStart,
    /// `POST …/blobs/uploads/?mount=…`.
    UploadMount,
    /// `PATCH` of an upload session.
    UploadPatch,
    /// `PUT` closing an upload session (`?digest=`).
    UploadPut,
    /// `GET` of an upload session's status.
    UploadStatus,
    UploadCancel,
    ManifestHead,
    ManifestGet,
    ManifestPut,
    ManifestDelete,
    BlobDelete,
    TagsList,
    Catalog,
    Referrers,
    /// A path under `/token` (a proxy in front of a token server).
    Token,
    Other,
}

impl RequestKind {
    /// Classify a request; repository names may contain slashes.
    pub fn of(method: &str, target: &str) -> RequestKind {
        use RequestKind::*;
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let m = method.to_ascii_uppercase();
        if path == "/token" || path.starts_with("/token/") {
            return Token;
        }
        if path == "/v2/" || path == "/v2" {
            return Ping;
        }
        if path == "/v2/_catalog" {
            return Catalog;
        }
        let Some(rest) = path.strip_prefix("/v2/") else {
            return Other;
        };
        let seg: Vec<&str> = rest.split('/').collect();
        let n = seg.len();
        if n >= 3 && seg[n - 3] == "blobs" && seg[n - 2] == "uploads" {
            let started = !seg[n - 1].is_empty();
            return match (m.as_str(), started) {
                ("POST", _) if query.split('&').any(|p| p.starts_with("mount=")) => UploadMount,
                ("POST", _) => UploadStart,
                ("PATCH", _) => UploadPatch,
                ("PUT", _) => UploadPut,
                ("GET", _) => UploadStatus,
                ("DELETE", _) => UploadCancel,
                _ => Other,
            };
        }
        if n >= 3 && seg[n - 2] == "blobs" {
            return match m.as_str() {
                "HEAD" => BlobHead,
                "GET" => BlobGet,
                "DELETE" => BlobDelete,
                _ => Other,
            };
        }
        if n >= 3 && seg[n - 2] == "manifests" {
            return match m.as_str() {
                "HEAD" => ManifestHead,
                "GET" => ManifestGet,
                "PUT" => ManifestPut,
                "DELETE" => ManifestDelete,
                _ => Other,
            };
        }
        if n >= 3 && seg[n - 2] == "tags" && seg[n - 1] == "list" {
            return TagsList;
        }
        if n >= 3 && seg[n - 2] == "referrers" {
            return Referrers;
        }
        Other
    }

    /// Kinds that move blob bytes or create blobs.
    pub fn is_blob_upload(self) -> bool {
        matches!(
            self,
            RequestKind::UploadStart
                | RequestKind::UploadMount
                | RequestKind::UploadPatch
                | RequestKind::UploadPut
        )
    }
}

/// Which requests fail, and how.
#[derive(Debug, Clone)]
pub struct Faults {
    /// One request in `one_in` fails on average (seeded, so the same
    /// sequence of requests fails the same way every run). 0 = never,
    /// 1 = every request.
    pub one_in: u32,
    pub seed: u64,
    /// The faults to pick from (uniformly, seeded). Empty = all.
    pub kinds: Vec<FaultKind>,
    /// `Retry-After` seconds on injected 503s.
    pub retry_after: Option<u32>,
    /// Only requests of these kinds can fail. Empty = any.
    pub only: Vec<RequestKind>,
}

impl Faults {
    /// A transparent proxy.
    pub fn none() -> Faults {
        Faults {
            one_in: 0,
            seed: 0,
            kinds: Vec::new(),
            retry_after: None,
            only: Vec::new(),
        }
    }
    /// One request in `n` fails, with any kind of fault.
    pub fn one_in(n: u32, seed: u64) -> Faults {
        Faults {
            one_in: n,
            seed,
            ..Faults::none()
        }
    }
    /// Every request fails.
    pub fn fail_all() -> Faults {
        Faults::one_in(1, 0)
    }
    pub fn kinds(mut self, kinds: &[FaultKind]) -> Faults {
        self.kinds = kinds.to_vec();
        self
    }
    pub fn retry_after(mut self, secs: u32) -> Faults {
        self.retry_after = Some(secs);
        self
    }
    pub fn only(mut self, kinds: &[RequestKind]) -> Faults {
        self.only = kinds.to_vec();
        self
    }

    /// The fault for request number `n` of kind `kind`, if any.
    pub fn decide(&self, n: u64, kind: RequestKind) -> Option<FaultKind> {
        if self.one_in == 0 || (!self.only.is_empty() && !self.only.contains(&kind)) {
            return None;
        }
        let h = splitmix(self.seed ^ n.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        if !h.is_multiple_of(u64::from(self.one_in)) {
            return None;
        }
        let kinds: &[FaultKind] = if self.kinds.is_empty() {
            &FaultKind::ALL
        } else {
            &self.kinds
        };
        Some(kinds[(splitmix(h) % kinds.len() as u64) as usize])
    }
}

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// One request as the proxy saw it.
#[derive(Debug, Clone)]
pub struct ProxiedRequest {
    /// Request number over the proxy's life (the fault decision's input).
    pub index: u64,
    pub method: String,
    /// The request target (path and query).
    pub target: String,
    pub kind: RequestKind,
    /// Payload bytes of the request body received from the client.
    pub body_bytes: u64,
    /// The status the client got, if it got a full head.
    pub status: Option<u16>,
    pub fault: Option<FaultKind>,
}

/// Totals since the last [`FaultProxy::reset`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counters {
    pub requests: u64,
    pub by_method: BTreeMap<String, u64>,
    pub by_kind: BTreeMap<RequestKind, u64>,
    /// Request body payload bytes received from clients (all requests).
    pub request_body_bytes: u64,
    /// Request body bytes of blob uploads only (POST/PATCH/PUT of uploads).
    pub blob_upload_bytes: u64,
    pub faults: BTreeMap<FaultKind, u64>,
    /// Client connections accepted.
    pub connections: u64,
}

impl Counters {
    pub fn kind(&self, k: RequestKind) -> u64 {
        self.by_kind.get(&k).copied().unwrap_or(0)
    }
    pub fn method(&self, m: &str) -> u64 {
        self.by_method.get(m).copied().unwrap_or(0)
    }
    pub fn total_faults(&self) -> u64 {
        self.faults.values().sum()
    }
}

struct State {
    upstream: SocketAddr,
    faults: Mutex<Faults>,
    next: AtomicU64,
    log: Mutex<Vec<ProxiedRequest>>,
    connections: AtomicU64,
    stop: AtomicBool,
    conns: Mutex<BTreeMap<u64, TcpStream>>,
}

/// A running proxy on 127.0.0.1; stopped (with its connections) on drop.
pub struct FaultProxy {
    addr: SocketAddr,
    state: Arc<State>,
    accept: Option<JoinHandle<()>>,
}

impl FaultProxy {
    /// Proxy to any plain-HTTP server.
    pub fn start(upstream: SocketAddr, faults: Faults) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binding the fault proxy");
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(State {
            upstream,
            faults: Mutex::new(faults),
            next: AtomicU64::new(0),
            log: Mutex::new(Vec::new()),
            connections: AtomicU64::new(0),
            stop: AtomicBool::new(false),
            conns: Mutex::new(BTreeMap::new()),
        });
        let s = state.clone();
        let accept = std::thread::Builder::new()
            .name("fault-proxy".into())
            .spawn(move || accept_loop(listener, s))
            .unwrap();
        FaultProxy {
            addr,
            state,
            accept: Some(accept),
        }
    }

    /// Proxy to a plain-HTTP [`TestRegistry`] (TLS registries cannot be
    /// proxied: the proxy does not terminate TLS).
    pub fn in_front_of(registry: &TestRegistry, faults: Faults) -> FaultProxy {
        assert!(
            !registry.is_tls(),
            "FaultProxy speaks plain HTTP; start the registry without TLS"
        );
        FaultProxy::start(registry.addr(), faults)
    }

    /// `127.0.0.1:PORT`, to use in image references.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Change the faults from the next request on.
    pub fn set_faults(&self, faults: Faults) {
        *self.state.faults.lock().unwrap() = faults;
    }

    /// Every request since the last reset, in arrival order.
    pub fn requests(&self) -> Vec<ProxiedRequest> {
        let mut v = self.state.log.lock().unwrap().clone();
        v.sort_by_key(|r| r.index);
        v
    }

    /// Totals since the last reset.
    pub fn counters(&self) -> Counters {
        let mut c = Counters {
            connections: self.state.connections.load(Ordering::SeqCst),
            ..Counters::default()
        };
        for r in self.state.log.lock().unwrap().iter() {
            c.requests += 1;
            *c.by_method.entry(r.method.clone()).or_default() += 1;
            *c.by_kind.entry(r.kind).or_default() += 1;
            c.request_body_bytes += r.body_bytes;
            if r.kind.is_blob_upload() {
                c.blob_upload_bytes += r.body_bytes;
            }
            if let Some(f) = r.fault {
                *c.faults.entry(f).or_default() += 1;
            }
        }
        c
    }

    /// Zero the counters and the request log (the fault sequence goes on).
    pub fn reset(&self) {
        self.state.log.lock().unwrap().clear();
        self.state.connections.store(0, Ordering::SeqCst);
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
        for c in self.state.conns.lock().unwrap().values() {
            let _ = c.shutdown(Shutdown::Both);
        }
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
    }
}

fn accept_loop(listener: TcpListener, state: Arc<State>) {
    let mut id = 0u64;
    for conn in listener.incoming() {
        if state.stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(conn) = conn else { continue };
        id += 1;
        let my = id;
        state.connections.fetch_add(1, Ordering::SeqCst);
        if let Ok(c) = conn.try_clone() {
            state.conns.lock().unwrap().insert(my, c);
        }
        let s = state.clone();
        let _ = std::thread::Builder::new()
            .name("fault-proxy-conn".into())
            .spawn(move || {
                let _ = serve(conn, &s);
                s.conns.lock().unwrap().remove(&my);
            });
    }
}

struct Upstream {
    r: BufReader<TcpStream>,
    w: TcpStream,
}

fn connect(addr: SocketAddr) -> io::Result<Upstream> {
    let s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(120)))?;
    s.set_nodelay(true)?;
    Ok(Upstream {
        w: s.try_clone()?,
        r: BufReader::new(s),
    })
}

const UNAVAILABLE: &str =
    r#"{"errors":[{"code":"UNAVAILABLE","message":"fault injected by the slipway test proxy"}]}"#;

/// Serve one client connection until it closes or a fault closes it.
fn serve(client: TcpStream, state: &State) -> io::Result<()> {
    client.set_read_timeout(Some(Duration::from_secs(120)))?;
    client.set_nodelay(true)?;
    let mut cw = client.try_clone()?;
    let mut cr = BufReader::new(client);
    let mut up: Option<Upstream> = None;
    loop {
        let Some(head) = http::read_head(&mut cr)? else {
            return Ok(());
        };
        let index = state.next.fetch_add(1, Ordering::SeqCst);
        let method = head.start[0].clone();
        let kind = RequestKind::of(&method, &head.start[1]);
        let fault = state.faults.lock().unwrap().decide(index, kind);
        let mut rec = ProxiedRequest {
            index,
            method: method.clone(),
            target: head.start[1].clone(),
            kind,
            body_bytes: 0,
            status: None,
            fault,
        };
        let framing = http::request_framing(&head)?;
        let expects_continue = head.header_has("Expect", "100-continue");
        let client_close = head.header_has("Connection", "close");
        let body_limit = match (fault, framing) {
            (Some(FaultKind::CutRequestBody), Framing::Length(n)) if n >= 2 => Some(n / 2),
            (Some(FaultKind::CutRequestBody), Framing::Chunked) => Some(32 * 1024),
            (Some(FaultKind::CutRequestBody), _) => {
                rec.fault = Some(FaultKind::DropRequest);
                None
            }
            _ => None,
        };
        let fault = rec.fault;

        // Faults that never reach the registry: swallow the body, then fail.
        if matches!(fault, Some(FaultKind::Unavailable | FaultKind::DropRequest)) {
            if expects_continue {
                cw.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
            }
            let (n, _) = http::copy_body(&mut cr, &mut io::sink(), framing, None)?;
            rec.body_bytes = n;
            if fault == Some(FaultKind::DropRequest) {
                push(state, rec);
                return Ok(());
            }
            let retry = match state.faults.lock().unwrap().retry_after {
                Some(s) => format!("Retry-After: {s}\r\n"),
                None => String::new(),
            };
            rec.status = Some(503);
            push(state, rec);
            write!(
                cw,
                "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{retry}\r\n{UNAVAILABLE}",
                UNAVAILABLE.len()
            )?;
            cw.flush()?;
            if client_close {
                return Ok(());
            }
            continue;
        }

        // Forward the head, reconnecting once if an idle upstream went away.
        let fwd_head = head.to_bytes_without(&["Expect"]);
        let mut upstream = match up.take() {
            Some(u) if (&u.w).write_all(&fwd_head).is_ok() => u,
            _ => {
                let mut u = connect(state.upstream)?;
                u.w.write_all(&fwd_head)?;
                u
            }
        };
        if expects_continue {
            cw.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
        }
        let body = http::copy_body(&mut cr, &mut upstream.w, framing, body_limit);
        match body {
            Ok((n, cut)) => {
                rec.body_bytes = n;
                if cut {
                    // Both sides see the connection die mid-body.
                    push(state, rec);
                    let _ = upstream.w.flush();
                    let _ = upstream.w.shutdown(Shutdown::Both);
                    return Ok(());
                }
            }
            Err(e) => {
                push(state, rec);
                return Err(e);
            }
        }
        upstream.w.flush()?;

        // Read the response head (skipping interim 1xx answers).
        let resp = loop {
            let Some(h) = http::read_head(&mut upstream.r)? else {
                push(state, rec);
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "upstream closed",
                ));
            };
            if h.status().is_some_and(|s| (100..200).contains(&s)) {
                continue;
            }
            break h;
        };
        let rframing = http::response_framing(&method, &resp)?;
        let raw = resp.to_bytes_without(&[]);
        let fault = match fault {
            // The whole (short, chunked) body got through before the cut.
            Some(FaultKind::CutRequestBody) => Some(FaultKind::DropResponse),
            Some(FaultKind::TruncateBody)
                if !matches!(rframing, Framing::Length(n) if n >= 2)
                    && rframing != Framing::Chunked =>
            {
                Some(FaultKind::CutHead)
            }
            f => f,
        };
        rec.fault = fault;
        match fault {
            Some(FaultKind::DropResponse) => {
                push(state, rec);
                return Ok(());
            }
            Some(FaultKind::CutHead) => {
                push(state, rec);
                cw.write_all(&raw[..raw.len() / 2])?;
                cw.flush()?;
                return Ok(());
            }
            Some(FaultKind::TruncateBody) => {
                rec.status = resp.status();
                push(state, rec);
                cw.write_all(&raw)?;
                let limit = match rframing {
                    Framing::Length(n) => n / 2,
                    _ => 8, // inside the first chunk's size line or data
                };
                let _ = http::copy_body(&mut upstream.r, &mut cw, rframing, Some(limit));
                cw.flush()?;
                return Ok(());
            }
            _ => {}
        }
        rec.status = resp.status();
        push(state, rec);
        cw.write_all(&raw)?;
        http::copy_body(&mut upstream.r, &mut cw, rframing, None)?;
        cw.flush()?;
        if client_close || resp.header_has("Connection", "close") || rframing == Framing::UntilClose
        {
            return Ok(());
        }
        up = Some(upstream);
    }
}

fn push(state: &State, rec: ProxiedRequest) {
    state.log.lock().unwrap().push(rec);
}

#[cfg(test)]
mod tests {
    use super::*;
    use RequestKind::*;

    #[test]
    fn classifies_distribution_paths() {
        let cases = [
            ("GET", "/v2/", Ping),
            ("HEAD", "/v2/team/app/blobs/sha256:ab", BlobHead),
            ("GET", "/v2/a/blobs/sha256:ab", BlobGet),
            ("POST", "/v2/team/app/blobs/uploads/", UploadStart),
            (
                "POST",
                "/v2/a/blobs/uploads/?mount=sha256:ab&from=b",
                UploadMount,
            ),
            (
                "PATCH",
                "/v2/a/b/blobs/uploads/1234-5?_state=x",
                UploadPatch,
            ),
            (
                "PUT",
                "/v2/a/blobs/uploads/1234?_state=x&digest=sha256:ab",
                UploadPut,
            ),
            ("PUT", "/v2/a/b/c/manifests/latest", ManifestPut),
            ("GET", "/v2/a/manifests/sha256:ab", ManifestGet),
            ("HEAD", "/v2/blobs/manifests/v1", ManifestHead),
            ("GET", "/v2/a/tags/list?n=10", TagsList),
            ("GET", "/v2/_catalog", Catalog),
            ("GET", "/token?scope=x", Token),
            ("GET", "/elsewhere", Other),
        ];
        for (m, p, k) in cases {
            assert_eq!(RequestKind::of(m, p), k, "{m} {p}");
        }
    }

    #[test]
    fn fault_decisions_are_seeded_and_near_the_rate() {
        let f = Faults::one_in(4, 7);
        let a: Vec<_> = (0..4000).map(|n| f.decide(n, BlobHead)).collect();
        let b: Vec<_> = (0..4000).map(|n| f.decide(n, BlobHead)).collect();
        assert_eq!(a, b);
        let hits = a.iter().filter(|x| x.is_some()).count();
        assert!(
            (850..1150).contains(&hits),
            "{hits} faults in 4000 at 1 in 4"
        );
        for k in FaultKind::ALL {
            assert!(a.contains(&Some(k)), "{k:?} never chosen");
        }
        assert!((0..100).all(|n| Faults::fail_all().decide(n, Ping).is_some()));
        assert!((0..100).all(|n| Faults::none().decide(n, Ping).is_none()));
        let only = Faults::fail_all().only(&[ManifestPut]);
        assert!(only.decide(1, BlobHead).is_none() && only.decide(1, ManifestPut).is_some());
    }
}
