//! HTTPS for the webhook: std's TcpListener, rustls, and one thread per
//! connection up to a bound (the API server keeps a few keep-alive
//! connections open; a connection over the bound is closed at once).
//!
//! Only what the API server and Prometheus need of HTTP/1.1 is spoken:
//! requests with a Content-Length body (no chunked uploads), keep-alive,
//! `POST /validate`, `POST /mutate`, `GET /healthz`, `/readyz`, `/metrics`.
//! Anything else gets a clear 4xx and the server carries on.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ServerConfig, ServerConnection, StreamOwned};

use crate::Error;
use crate::engine::Engine;
use crate::metrics::{Endpoint, Refusal};
use crate::reload::Current;

/// Connection-level limits.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Open connections at most.
    pub connections: usize,
    /// The largest request body accepted.
    pub max_body: usize,
    /// How long a connection may sit between (or inside) requests.
    pub idle: Duration,
}

/// The request line and headers may take this much; more is a 431.
const MAX_HEAD: usize = 16 << 10;

/// An oversized body up to this size is read and dropped before the 413, so
/// the connection stays usable; a larger one closes the connection.
const DRAIN_LIMIT: usize = 64 << 20;

/// Read a PEM certificate chain and private key into a rustls server config.
pub fn tls_config(cert: &Path, key: &Path) -> Result<Arc<ServerConfig>, Error> {
    let tls = |path: &Path, msg: String| Error::Tls {
        path: path.to_path_buf(),
        msg,
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| tls(cert, e.to_string()))?
        .collect::<Result<_, _>>()
        .map_err(|e| tls(cert, e.to_string()))?;
    if certs.is_empty() {
        return Err(tls(
            cert,
            "holds no PEM certificate (-----BEGIN CERTIFICATE-----)".into(),
        ));
    }
    let private = PrivateKeyDer::from_pem_file(key).map_err(|e| {
        tls(
            key,
            format!("{e}; give an unencrypted PKCS#8, PKCS#1 or SEC1 private key in PEM"),
        )
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| tls(cert, e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, private)
        .map_err(|e| tls(key, format!("does not go with {}: {e}", cert.display())))?;
    Ok(Arc::new(config))
}

pub struct Server {
    listener: TcpListener,
    current: Arc<Current>,
    limits: Limits,
    open: Arc<AtomicUsize>,
}

impl Server {
    pub fn bind(addr: &str, current: Arc<Current>, limits: Limits) -> Result<Server, Error> {
        let listener = TcpListener::bind(addr).map_err(|error| Error::Bind {
            addr: addr.to_string(),
            error,
        })?;
        Ok(Server {
            listener,
            current,
            limits,
            open: Arc::new(AtomicUsize::new(0)),
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serve until the process ends.
    pub fn run(self) -> ! {
        loop {
            let stream = match self.listener.accept() {
                Ok((s, _)) => s,
                Err(e) => {
                    // Out of file descriptors and the like: wait, do not spin.
                    eprintln!("slipway admission: accept failed: {e}");
                    std::thread::sleep(Duration::from_millis(50));
                    continue;
                }
            };
            if self.open.fetch_add(1, Ordering::SeqCst) >= self.limits.connections {
                self.open.fetch_sub(1, Ordering::SeqCst);
                drop(stream);
                continue;
            }
            let current = self.current.clone();
            let limits = self.limits.clone();
            let open = self.open.clone();
            let spawned = std::thread::Builder::new()
                .name("admission-conn".into())
                .spawn(move || {
                    // A panic would end only this connection; catch it so the
                    // count stays right.
                    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        serve_connection(stream, &current, &limits)
                    }));
                    open.fetch_sub(1, Ordering::SeqCst);
                });
            if spawned.is_err() {
                self.open.fetch_sub(1, Ordering::SeqCst);
            }
        }
    }
}

/// One parsed request head.
struct Head {
    method: String,
    path: String,
    content_length: Option<usize>,
    chunked: bool,
    close: bool,
}

enum HeadError {
    /// The peer closed or timed out between requests: just close.
    Gone,
    Bad(u16, String),
}

fn read_head<R: BufRead>(r: &mut R) -> Result<Head, HeadError> {
    let mut raw = Vec::new();
    // Read lines until the empty one, at most MAX_HEAD bytes.
    loop {
        let before = raw.len();
        let n = r
            .by_ref()
            .take((MAX_HEAD + 1 - raw.len()) as u64)
            .read_until(b'\n', &mut raw)
            .map_err(|_| HeadError::Gone)?;
        if n == 0 {
            if raw.is_empty() {
                return Err(HeadError::Gone);
            }
            return Err(HeadError::Bad(400, "the request head ended early".into()));
        }
        if raw.len() > MAX_HEAD {
            return Err(HeadError::Bad(
                431,
                format!("the request line and headers exceed {MAX_HEAD} bytes"),
            ));
        }
        let line = &raw[before..];
        if line == b"\r\n" || line == b"\n" {
            if before == 0 {
                // Tolerate a stray blank line before a request.
                raw.clear();
                continue;
            }
            break;
        }
    }
    let text = std::str::from_utf8(&raw)
        .map_err(|_| HeadError::Bad(400, "the request head is not UTF-8".into()))?;
    let mut lines = text.lines();
    let request_line = lines.next().unwrap_or("");
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(HeadError::Bad(
            400,
            format!("{request_line:?} is not an HTTP request line"),
        ));
    };
    if !version.starts_with("HTTP/1.") {
        return Err(HeadError::Bad(
            505,
            format!("{version} is not spoken here; use HTTP/1.1"),
        ));
    }
    let mut head = Head {
        method: method.to_string(),
        path: target.split('?').next().unwrap_or("").to_string(),
        content_length: None,
        chunked: false,
        close: version == "HTTP/1.0",
    };
    for line in lines {
        if line.is_empty() {
            continue;
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(HeadError::Bad(400, format!("header {line:?} has no ':'")));
        };
        let value = value.trim();
        match name.trim().to_ascii_lowercase().as_str() {
            "content-length" => {
                let n = value.parse::<usize>().map_err(|_| {
                    HeadError::Bad(400, format!("Content-Length {value:?} is not a number"))
                })?;
                if head.content_length.is_some_and(|old| old != n) {
                    return Err(HeadError::Bad(400, "two different Content-Lengths".into()));
                }
                head.content_length = Some(n);
            }
            "transfer-encoding" => head.chunked = !value.eq_ignore_ascii_case("identity"),
            "connection" => {
                if value.eq_ignore_ascii_case("close") {
                    head.close = true;
                } else if value.eq_ignore_ascii_case("keep-alive") {
                    head.close = false;
                }
            }
            _ => {}
        }
    }
    Ok(head)
}

/// Parse an HTTP/1.1 request head (request line and headers) the way the
/// server does: (method, path, Content-Length), or (status, message) for a
/// head it refuses. For fuzzing and tests.
pub fn parse_head(bytes: &[u8]) -> Result<(String, String, Option<usize>), (u16, String)> {
    match read_head(&mut std::io::Cursor::new(bytes)) {
        Ok(h) => Ok((h.method, h.path, h.content_length)),
        Err(HeadError::Gone) => Err((0, "no request".into())),
        Err(HeadError::Bad(status, msg)) => Err((status, msg)),
    }
}

struct Reply {
    status: u16,
    content_type: &'static str,
    body: Vec<u8>,
    close: bool,
}

impl Reply {
    fn text(status: u16, msg: impl Into<String>) -> Reply {
        let mut body = msg.into().into_bytes();
        body.push(b'\n');
        Reply {
            status,
            content_type: "text/plain; charset=utf-8",
            body,
            close: false,
        }
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        411 => "Length Required",
        413 => "Content Too Large",
        415 => "Unsupported Media Type",
        431 => "Request Header Fields Too Large",
        505 => "HTTP Version Not Supported",
        _ => "Error",
    }
}

fn write_reply<W: Write>(w: &mut W, reply: &Reply) -> std::io::Result<()> {
    let mut out = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n{}\r\n",
        reply.status,
        reason(reply.status),
        reply.content_type,
        reply.body.len(),
        if reply.close {
            "Connection: close\r\n"
        } else {
            ""
        }
    )
    .into_bytes();
    out.extend_from_slice(&reply.body);
    w.write_all(&out)?;
    w.flush()
}

fn serve_connection(stream: TcpStream, current: &Current, limits: &Limits) {
    let _ = stream.set_nodelay(true);
    let _ = stream.set_read_timeout(Some(limits.idle));
    let _ = stream.set_write_timeout(Some(limits.idle));
    // The certificate in use when the connection opened; a reloaded one
    // serves the connections opened after it.
    let Ok(conn) = ServerConnection::new(current.tls()) else {
        return;
    };
    let tls_stream = StreamOwned::new(conn, stream);
    let mut reader = BufReader::with_capacity(16 << 10, tls_stream);
    loop {
        let reply = match read_head(&mut reader) {
            Err(HeadError::Gone) => return,
            Err(HeadError::Bad(status, msg)) => {
                current.metrics.refused(Refusal::Protocol);
                let mut r = Reply::text(status, msg);
                r.close = true;
                r
            }
            Ok(head) => handle(&mut reader, &head, &current.engine(), limits),
        };
        if write_reply(reader.get_mut(), &reply).is_err() || reply.close {
            let s = reader.get_mut();
            s.conn.send_close_notify();
            let _ = s.conn.complete_io(&mut s.sock);
            return;
        }
    }
}

fn handle<R: Read>(reader: &mut R, head: &Head, engine: &Engine, limits: &Limits) -> Reply {
    let endpoint = match head.path.as_str() {
        "/validate" => Some(Endpoint::Validate),
        "/mutate" => Some(Endpoint::Mutate),
        _ => None,
    };
    // A body we will not read means the connection cannot be reused.
    let has_body = head.chunked || head.content_length.is_some_and(|n| n > 0);
    let refuse = |why: Refusal, status: u16, msg: String| {
        engine.metrics.refused(why);
        let mut r = Reply::text(status, msg);
        r.close = has_body || head.close;
        r
    };
    let Some(endpoint) = endpoint else {
        if head.method != "GET" && head.method != "HEAD" {
            return refuse(
                Refusal::Method,
                405,
                format!("{} {}: only GET is served here", head.method, head.path),
            );
        }
        let mut r = match head.path.as_str() {
            "/healthz" => Reply::text(200, "ok"),
            "/readyz" => Reply::text(200, "ready"),
            "/metrics" => Reply {
                status: 200,
                content_type: "text/plain; version=0.0.4; charset=utf-8",
                body: engine.metrics.render().into_bytes(),
                close: false,
            },
            other => {
                return refuse(
                    Refusal::NotFound,
                    404,
                    format!(
                        "{other}: not found; the webhook serves POST /validate and /mutate, and GET /healthz, /readyz and /metrics"
                    ),
                );
            }
        };
        r.close = has_body || head.close;
        return r;
    };
    if head.method != "POST" {
        return refuse(
            Refusal::Method,
            405,
            format!(
                "{} {}: send the AdmissionReview with POST",
                head.method, head.path
            ),
        );
    }
    if head.chunked {
        return refuse(
            Refusal::Protocol,
            411,
            "send the AdmissionReview with a Content-Length, not chunked".into(),
        );
    }
    let Some(length) = head.content_length else {
        return refuse(
            Refusal::Protocol,
            411,
            "the request has no Content-Length".into(),
        );
    };
    if length > limits.max_body {
        // Read (and drop) a body of reasonable size, so the client sees the
        // answer instead of a reset connection, and the connection lives on.
        let drained = length <= DRAIN_LIMIT
            && std::io::copy(&mut reader.take(length as u64), &mut std::io::sink())
                .is_ok_and(|n| n == length as u64);
        let mut r = refuse(
            Refusal::TooLarge,
            413,
            format!(
                "the request body is {length} bytes; this webhook accepts at most {} (maxRequestBytes in the policy)",
                limits.max_body
            ),
        );
        r.close = !drained || head.close;
        return r;
    }
    let mut body = vec![0; length];
    if reader.read_exact(&mut body).is_err() {
        return refuse(
            Refusal::Protocol,
            400,
            format!("the body ended before its Content-Length of {length} bytes"),
        );
    }
    match engine.review(endpoint, &body) {
        Ok(answer) => Reply {
            status: 200,
            content_type: "application/json",
            body: answer,
            close: head.close,
        },
        Err(e) => {
            engine.metrics.refused(Refusal::Malformed);
            let mut r = Reply::text(400, format!("not an AdmissionReview: {e}"));
            r.close = head.close;
            r
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(text: &str) -> Result<Head, HeadError> {
        read_head(&mut std::io::Cursor::new(text.as_bytes().to_vec()))
    }

    #[test]
    fn heads() {
        let h =
            head("POST /validate?timeout=10s HTTP/1.1\r\nHost: x\r\nContent-Length: 12\r\n\r\n")
                .ok()
                .unwrap();
        assert_eq!((h.method.as_str(), h.path.as_str()), ("POST", "/validate"));
        assert_eq!(h.content_length, Some(12));
        assert!(!h.close);
        assert!(matches!(head(""), Err(HeadError::Gone)));
        assert!(matches!(head("GET /\r\n\r\n"), Err(HeadError::Bad(400, _))));
        assert!(matches!(
            head("GET / HTTP/2\r\n\r\n"),
            Err(HeadError::Bad(505, _))
        ));
        assert!(matches!(
            head("POST / HTTP/1.1\r\nContent-Length: x\r\n\r\n"),
            Err(HeadError::Bad(400, _))
        ));
        let long = format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(MAX_HEAD));
        assert!(matches!(head(&long), Err(HeadError::Bad(431, _))));
    }
}
