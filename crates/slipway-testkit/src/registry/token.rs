//! A small bearer-token server for distribution's `auth: token` mode.
//!
//! It checks Basic credentials, grants the requested
//! `scope=repository:NAME:ACTIONS` parameters and signs an ES256 JWT whose
//! `x5c` header carries a certificate issued by the registry's test CA
//! (distribution 2.8 verifies the x5c chain against `rootcertbundle`, then the
//! raw r||s signature with the leaf's key, then `iss`, `aud`, `exp`, `nbf`
//! with 60 s of leeway). Every request is recorded, without the password.

use std::collections::BTreeMap;
use std::io::{BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64ct::{Base64, Base64UrlUnpadded, Encoding};
use p256::ecdsa::{Signature, SigningKey, signature::Signer};
use p256::pkcs8::DecodePrivateKey;

use super::Credentials;
use super::http::{self, Framing};
use super::proxy::{FaultKind, Faults, RequestKind};

/// The `service` (JWT `aud`) the test registry is configured with.
pub const SERVICE: &str = "slipway-test-registry";
/// The JWT `iss` the test registry trusts.
pub const ISSUER: &str = "slipway-test-token-server";

/// How the token server behaves.
#[derive(Debug, Clone)]
pub struct TokenConfig {
    /// The only account that gets tokens.
    pub credentials: Credentials,
    /// Requests without credentials get pull access (only) instead of a 401.
    pub anonymous_pull: bool,
    /// `expires_in` in the response: when a client should ask again.
    pub expires_in: u64,
    /// Seconds from issue to the JWT's `exp`; defaults to `expires_in`. The
    /// registry accepts a token until `exp` + 60 s, so set this to e.g. -58
    /// for tokens the registry really refuses two seconds after issue.
    pub lifetime: Option<i64>,
}

impl Default for TokenConfig {
    fn default() -> TokenConfig {
        TokenConfig {
            credentials: Credentials::default(),
            anonymous_pull: false,
            expires_in: 300,
            lifetime: None,
        }
    }
}

/// One access entry granted in a token (`type`, `name`, `actions`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Access {
    pub kind: String,
    pub name: String,
    pub actions: Vec<String>,
}

/// What the token server saw and answered for one request. The password is
/// never kept; `username` is what the client claimed.
#[derive(Debug, Clone)]
pub struct TokenRequest {
    pub method: String,
    pub service: Option<String>,
    /// Every `scope` value, split on spaces, in request order.
    pub scopes: Vec<String>,
    pub account: Option<String>,
    pub username: Option<String>,
    /// Whether the request carried credentials (Basic, or a password grant).
    pub had_credentials: bool,
    /// `grant_type` of a POST (OAuth2) request.
    pub grant_type: Option<String>,
    /// 200 when a token was issued.
    pub status: u16,
    /// What the issued token allows (empty when refused).
    pub granted: Vec<Access>,
    /// The fault injected into this request's answer, if any (status is 0
    /// for [`FaultKind::DropRequest`]: nothing was answered).
    pub fault: Option<FaultKind>,
}

struct Shared {
    config: Mutex<TokenConfig>,
    key: SigningKey,
    x5c: String,
    requests: Mutex<Vec<TokenRequest>>,
    jti: AtomicU64,
    next: AtomicU64,
    faults: Mutex<Faults>,
    stop: AtomicBool,
    conns: Mutex<BTreeMap<u64, TcpStream>>,
}

/// A running token server on 127.0.0.1; stopped on drop.
pub struct TokenServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

impl TokenServer {
    /// Start serving tokens signed with `signing_key_pem` (PKCS#8) and
    /// carrying `signing_cert_pem` in `x5c`.
    pub(crate) fn start(
        config: TokenConfig,
        signing_key_pem: &str,
        signing_cert_pem: &str,
    ) -> TokenServer {
        let key =
            SigningKey::from_pkcs8_pem(signing_key_pem).expect("token signing key (PKCS#8 P-256)");
        let listener = TcpListener::bind("127.0.0.1:0").expect("binding the token server");
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared {
            config: Mutex::new(config),
            key,
            x5c: super::pki::pem_body_base64(signing_cert_pem),
            requests: Mutex::new(Vec::new()),
            jti: AtomicU64::new(0),
            next: AtomicU64::new(0),
            faults: Mutex::new(Faults::none()),
            stop: AtomicBool::new(false),
            conns: Mutex::new(BTreeMap::new()),
        });
        let s = shared.clone();
        let accept = std::thread::Builder::new()
            .name("token-server".into())
            .spawn(move || accept_loop(listener, s))
            .unwrap();
        TokenServer {
            addr,
            shared,
            accept: Some(accept),
        }
    }

    /// `http://127.0.0.1:PORT/token`, the realm the registry advertises.
    pub fn realm(&self) -> String {
        format!("http://{}/token", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every request so far, oldest first.
    pub fn requests(&self) -> Vec<TokenRequest> {
        self.shared.requests.lock().unwrap().clone()
    }

    /// Forget the recorded requests.
    pub fn reset(&self) {
        self.shared.requests.lock().unwrap().clear();
    }

    /// Change the behaviour for the next requests (e.g. shorter lifetimes).
    pub fn set_config(&self, config: TokenConfig) {
        *self.shared.config.lock().unwrap() = config;
    }

    /// Inject faults into token answers, as [`super::FaultProxy`] does for
    /// registry requests (the realm is this server, so a proxy in front of
    /// the registry never sees token requests). Decided per token request
    /// number, with [`RequestKind::Token`].
    pub fn set_faults(&self, faults: Faults) {
        *self.shared.faults.lock().unwrap() = faults;
    }

    pub fn config(&self) -> TokenConfig {
        self.shared.config.lock().unwrap().clone()
    }
}

impl Drop for TokenServer {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
        for c in self.shared.conns.lock().unwrap().values() {
            let _ = c.shutdown(std::net::Shutdown::Both);
        }
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
    }
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let mut next = 0u64;
    for conn in listener.incoming() {
        if shared.stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(conn) = conn else { continue };
        next += 1;
        let id = next;
        if let Ok(c) = conn.try_clone() {
            shared.conns.lock().unwrap().insert(id, c);
        }
        let s = shared.clone();
        let _ = std::thread::Builder::new()
            .name("token-conn".into())
            .spawn(move || {
                let _ = serve(conn, &s);
                s.conns.lock().unwrap().remove(&id);
            });
    }
}

fn serve(conn: TcpStream, shared: &Shared) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut w = conn.try_clone()?;
    let mut r = BufReader::new(conn);
    while let Some(head) = http::read_head(&mut r)? {
        let mut body = Vec::new();
        match http::request_framing(&head)? {
            Framing::Length(n) if n <= 1 << 20 => {
                (&mut r).take(n).read_to_end(&mut body)?;
            }
            Framing::None => {}
            _ => {
                respond(&mut w, 413, r#"{"error":"body too large or chunked"}"#)?;
                return Ok(());
            }
        }
        let index = shared.next.fetch_add(1, Ordering::SeqCst);
        let faults = shared.faults.lock().unwrap().clone();
        let fault = faults.decide(index, RequestKind::Token);
        let (mut record, status, json) = handle(shared, &head, &body);
        record.fault = fault;
        let (status, json) = match fault {
            Some(FaultKind::DropRequest) => (0, String::new()),
            Some(FaultKind::Unavailable) => (503, UNAVAILABLE.to_string()),
            _ => (status, json),
        };
        if status != 200 {
            record.granted.clear();
        }
        record.status = status;
        shared.requests.lock().unwrap().push(record);
        let (h, b) = response(status, &json, faults.retry_after);
        match fault {
            Some(FaultKind::DropRequest | FaultKind::DropResponse) => return Ok(()),
            Some(FaultKind::CutHead) => {
                w.write_all(&h[..h.len() / 2])?;
                return Ok(());
            }
            Some(FaultKind::TruncateBody) => {
                w.write_all(&h)?;
                w.write_all(&b[..b.len() / 2])?;
                return Ok(());
            }
            _ => {
                w.write_all(&h)?;
                w.write_all(&b)?;
                w.flush()?;
            }
        }
        if head.header_has("Connection", "close") {
            return Ok(());
        }
    }
    Ok(())
}

const UNAVAILABLE: &str = r#"{"errors":[{"code":"UNAVAILABLE","message":"fault injected by the slipway test token server"}]}"#;

fn respond(w: &mut TcpStream, status: u16, body: &str) -> std::io::Result<()> {
    let (h, b) = response(status, body, None);
    w.write_all(&h)?;
    w.write_all(&b)?;
    w.flush()
}

/// Head and body of a JSON answer.
fn response(status: u16, body: &str, retry_after: Option<u32>) -> (Vec<u8>, Vec<u8>) {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        503 => "Service Unavailable",
        _ => "Error",
    };
    let mut extra = String::new();
    if status == 401 {
        extra.push_str("WWW-Authenticate: Basic realm=\"slipway-test\"\r\n");
    }
    if let (503, Some(s)) = (status, retry_after) {
        extra.push_str(&format!("Retry-After: {s}\r\n"));
    }
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{extra}\r\n",
        body.len()
    );
    (head.into_bytes(), body.as_bytes().to_vec())
}

fn handle(shared: &Shared, head: &http::Head, body: &[u8]) -> (TokenRequest, u16, String) {
    let method = head.start[0].clone();
    let (path, query) = head.start[1]
        .split_once('?')
        .unwrap_or((&head.start[1], ""));
    let mut params = http::parse_query(query);
    if method == "POST" {
        params.extend(http::parse_query(&String::from_utf8_lossy(body)));
    }
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let scopes: Vec<String> = params
        .iter()
        .filter(|(k, _)| k == "scope")
        .flat_map(|(_, v)| {
            v.split(' ')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect();
    let grant_type = if method == "POST" {
        get("grant_type")
    } else {
        None
    };

    // Credentials: Basic header, or a password grant's form fields.
    let basic = head
        .header("Authorization")
        .and_then(|v| {
            v.strip_prefix("Basic ")
                .or_else(|| v.strip_prefix("basic "))
        })
        .and_then(|b| Base64::decode_vec(b.trim()).ok())
        .and_then(|raw| String::from_utf8(raw).ok())
        .and_then(|s| {
            s.split_once(':')
                .map(|(u, p)| (u.to_string(), p.to_string()))
        });
    let form = match (grant_type.as_deref(), get("username"), get("password")) {
        (Some("password"), Some(u), Some(p)) => Some((u, p)),
        _ => None,
    };
    let creds = basic.or(form);
    let config = shared.config.lock().unwrap().clone();

    let mut record = TokenRequest {
        method: method.clone(),
        service: get("service"),
        scopes: scopes.clone(),
        account: get("account"),
        username: creds.as_ref().map(|(u, _)| u.clone()),
        had_credentials: creds.is_some(),
        grant_type: grant_type.clone(),
        status: 0,
        granted: Vec::new(),
        fault: None,
    };
    let answer = if path != "/token" {
        (404, r#"{"error":"not found"}"#.to_string())
    } else if method != "GET" && method != "POST" {
        (400, r#"{"error":"unsupported method"}"#.to_string())
    } else if grant_type.as_deref().is_some_and(|g| g != "password") {
        (400, r#"{"error":"unsupported_grant_type"}"#.to_string())
    } else {
        let authorised = match &creds {
            Some((u, p)) => u == &config.credentials.username && p == &config.credentials.password,
            None => config.anonymous_pull,
        };
        if !authorised {
            let why = if creds.is_some() {
                "invalid username or password"
            } else {
                "authentication required"
            };
            (
                401,
                format!(r#"{{"errors":[{{"code":"UNAUTHORIZED","message":"{why}"}}]}}"#),
            )
        } else {
            let granted = grant(&scopes, creds.is_some());
            let token = sign(
                shared,
                &config,
                creds.as_ref().map(|(u, _)| u.as_str()).unwrap_or(""),
                &granted,
            );
            record.granted = granted;
            let expires_in = config.expires_in;
            (
                200,
                serde_json::json!({"token": token, "access_token": token, "expires_in": expires_in}).to_string(),
            )
        }
    };
    (record, answer.0, answer.1)
}

/// What a scope list turns into: everything asked for by an authenticated
/// user, only `pull` for an anonymous one.
fn grant(scopes: &[String], authenticated: bool) -> Vec<Access> {
    let mut out: Vec<Access> = Vec::new();
    for scope in scopes {
        let Some((kind, rest)) = scope.split_once(':') else {
            continue;
        };
        let Some((name, actions)) = rest.rsplit_once(':') else {
            continue;
        };
        let actions: Vec<String> = actions
            .split(',')
            .filter(|a| !a.is_empty() && (authenticated || *a == "pull"))
            .map(str::to_string)
            .collect();
        if actions.is_empty() {
            continue;
        }
        match out.iter_mut().find(|a| a.kind == kind && a.name == name) {
            Some(a) => {
                for act in actions {
                    if !a.actions.contains(&act) {
                        a.actions.push(act);
                    }
                }
            }
            None => out.push(Access {
                kind: kind.to_string(),
                name: name.to_string(),
                actions,
            }),
        }
    }
    out
}

fn sign(shared: &Shared, config: &TokenConfig, subject: &str, access: &[Access]) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let lifetime = config.lifetime.unwrap_or(config.expires_in as i64);
    let jti = shared.jti.fetch_add(1, Ordering::SeqCst);
    let header = serde_json::json!({"typ": "JWT", "alg": "ES256", "x5c": [shared.x5c]});
    let access: Vec<_> = access
        .iter()
        .map(|a| serde_json::json!({"type": a.kind, "name": a.name, "actions": a.actions}))
        .collect();
    let claims = serde_json::json!({
        "iss": ISSUER, "sub": subject, "aud": SERVICE,
        "exp": now + lifetime, "nbf": now - 1, "iat": now,
        "jti": format!("slipway-test-{jti}"), "access": access,
    });
    let signing_input = format!(
        "{}.{}",
        Base64UrlUnpadded::encode_string(header.to_string().as_bytes()),
        Base64UrlUnpadded::encode_string(claims.to_string().as_bytes())
    );
    let sig: Signature = shared.key.sign(signing_input.as_bytes());
    format!(
        "{signing_input}.{}",
        Base64UrlUnpadded::encode_string(&sig.to_bytes())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_with_ports_and_anonymous_pull() {
        let s = vec![
            "repository:127.0.0.1:5000/team/app:pull,push".to_string(),
            "repository:base:pull".to_string(),
            "repository:127.0.0.1:5000/team/app:delete".to_string(),
            "junk".to_string(),
        ];
        let g = grant(&s, true);
        assert_eq!(g[0].name, "127.0.0.1:5000/team/app");
        assert_eq!(g[0].actions, ["pull", "push", "delete"]);
        assert_eq!(g.len(), 2);
        let anon = grant(&s, false);
        assert_eq!(anon[0].actions, ["pull"]);
    }
}
