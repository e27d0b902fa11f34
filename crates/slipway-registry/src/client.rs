//! One registry host: the connection (HTTPS, or plain HTTP only where that is
//! safe), authentication, and the retry loop every request goes through.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use ureq::http::{Response, StatusCode};
use ureq::tls::{Certificate, PemItem, RootCerts, TlsConfig};
use ureq::{Agent, Body};

use crate::auth::{Challenge, Token, parse_challenge, read_token_reply};
use crate::credentials::{self, Credentials};
use crate::error::{RegistryError, Result};

/// How hard to try before giving up on one request.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts per request, the first included.
    pub attempts: u32,
    pub first_delay: Duration,
    pub max_delay: Duration,
    /// Wall-clock limit for one request and its retries.
    pub budget: Duration,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy {
            attempts: 8,
            first_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(5),
            budget: Duration::from_secs(120),
        }
    }
}

/// Settings shared by every registry a command talks to.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Allow plain HTTP and unverified TLS for non-loopback hosts.
    pub insecure: bool,
    /// Extra PEM roots trusted besides the system's.
    pub ca_file: Option<PathBuf>,
    /// Explicit credentials (`--username` + `--password-stdin`); they win over
    /// the docker config, for `credentials_host` only (never sent elsewhere).
    pub credentials: Option<Credentials>,
    /// The one registry host (`host[:port]`) explicit credentials belong to.
    pub credentials_host: Option<String>,
    /// Where to look for docker's `config.json`; `None` skips it.
    pub docker_config: Option<PathBuf>,
    pub retry: RetryPolicy,
    /// Blobs larger than this are sent in PATCH chunks of this size.
    pub chunk_size: u64,
    /// Blob transfers in flight at once.
    pub jobs: usize,
}

impl Default for ClientOptions {
    fn default() -> ClientOptions {
        ClientOptions {
            insecure: false,
            ca_file: None,
            credentials: None,
            credentials_host: None,
            docker_config: credentials::docker_config_path(),
            retry: RetryPolicy::default(),
            chunk_size: 16 << 20,
            jobs: 4,
        }
    }
}

/// Requests made, by method, and body bytes sent: what a re-push costs.
#[derive(Debug, Default)]
pub struct Counters {
    pub get: AtomicU64,
    pub head: AtomicU64,
    pub post: AtomicU64,
    pub put: AtomicU64,
    pub patch: AtomicU64,
    pub bytes_sent: AtomicU64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Method {
    Get,
    Head,
    Post,
    Put,
    Patch,
}

impl Method {
    fn name(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
        }
    }
}

/// One request to make (again, on retry).
pub(crate) struct Req<'a> {
    pub method: Method,
    /// Absolute, or a path (possibly with query) on this registry.
    pub url: String,
    pub headers: Vec<(&'static str, String)>,
    pub body: &'a [u8],
    /// Token scopes this request needs.
    pub scopes: &'a [String],
}

/// What a response handler says about a response it could not use.
pub(crate) enum Failure {
    /// Worth another try (a short body, a reset connection).
    Retry(String),
    Fatal(RegistryError),
}

impl From<RegistryError> for Failure {
    fn from(e: RegistryError) -> Failure {
        Failure::Fatal(e)
    }
}

/// A connection to one registry host.
pub struct Client {
    /// Plain HTTP requests: no roots needed.
    plain: Agent,
    /// HTTPS requests, built on the first one: reading and decoding the
    /// system's CA bundle costs about a millisecond, which a plain-HTTP
    /// registry on this machine never needs.
    tls: OnceLock<Agent>,
    host: String,
    /// `https://host` or `http://host`, settled by [`Client::connect`].
    base: String,
    credentials: Option<Credentials>,
    /// How the registry wants to be authenticated: from the ping, or from
    /// the first 401 of a registry whose ping was open.
    challenge: Mutex<Option<Challenge>>,
    tokens: Mutex<HashMap<Vec<String>, Token>>,
    retry: RetryPolicy,
    pub(crate) options: ClientOptions,
    pub counters: Counters,
    jitter: RandomState,
    jitter_seq: AtomicU64,
}

/// 127.0.0.0/8, ::1 and localhost, with or without a port.
pub fn is_loopback(host: &str) -> bool {
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        host.rsplit_once(':').map_or(host, |(h, _)| h)
    };
    name.eq_ignore_ascii_case("localhost")
        || name == "::1"
        || name
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The trusted roots: the system bundle plus `--ca-file`, read once per
/// process and `--ca-file` (a command connects to a registry several times,
/// and the bundle is ~200 KiB of PEM).
fn load_roots(options: &ClientOptions) -> Result<RootCerts> {
    static LOADED: Mutex<Vec<(Option<PathBuf>, RootCerts)>> = Mutex::new(Vec::new());
    let mut loaded = LOADED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, roots)) = loaded.iter().find(|(ca, _)| ca == &options.ca_file) {
        return Ok(roots.clone());
    }
    let roots = read_roots(options)?;
    loaded.push((options.ca_file.clone(), roots.clone()));
    Ok(roots)
}

fn read_roots(options: &ClientOptions) -> Result<RootCerts> {
    let mut certs: Vec<Certificate<'static>> = Vec::new();
    let system = std::env::var_os("SSL_CERT_FILE")
        .map(PathBuf::from)
        .into_iter()
        .chain(
            [
                "/etc/ssl/certs/ca-certificates.crt",
                "/etc/pki/tls/certs/ca-bundle.crt",
                "/etc/ssl/cert.pem",
            ]
            .map(PathBuf::from),
        )
        .find(|p| p.is_file());
    let mut add = |path: &PathBuf, strict: bool| -> Result<()> {
        let pem = std::fs::read(path)
            .map_err(|e| RegistryError::io(format!("reading {}", path.display()), e))?;
        let before = certs.len();
        for item in ureq::tls::parse_pem(&pem) {
            match item {
                Ok(PemItem::Certificate(c)) => certs.push(c.to_owned()),
                Ok(_) => {}
                Err(_) if !strict => {}
                Err(e) => {
                    return Err(RegistryError::Input(format!(
                        "{}: not a PEM certificate file ({e})",
                        path.display()
                    )));
                }
            }
        }
        if strict && certs.len() == before {
            return Err(RegistryError::Input(format!(
                "{}: no PEM certificate in it; --ca-file takes the CA certificate that signed the registry's",
                path.display()
            )));
        }
        Ok(())
    };
    if let Some(system) = &system {
        add(system, false)?;
    }
    if let Some(ca) = &options.ca_file {
        add(ca, true)?;
    }
    Ok(if certs.is_empty() {
        RootCerts::WebPki
    } else {
        RootCerts::new_with_certs(&certs)
    })
}

/// Each connection's read and write buffers. ureq's default, 128 KiB each,
/// is zero-filled when a connection opens: 64 page faults, which cost a
/// short command (a verification) more than its requests do.
const BUFFER_SIZE: usize = 64 << 10;

fn agent(roots: RootCerts, verify: bool) -> Agent {
    let tls = TlsConfig::builder()
        .root_certs(roots)
        .disable_verification(!verify)
        .build();
    Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        // Up to 16 transfers and lookups run at once; keep their
        // connections for the next request instead of dialling again.
        .max_idle_connections(32)
        .max_idle_connections_per_host(16)
        .input_buffer_size(BUFFER_SIZE)
        .output_buffer_size(BUFFER_SIZE)
        .tls_config(tls)
        .timeout_connect(Some(Duration::from_secs(15)))
        .timeout_recv_response(Some(Duration::from_secs(120)))
        .timeout_per_read(Some(Duration::from_secs(60)))
        .user_agent(concat!("slipway/", env!("CARGO_PKG_VERSION")))
        .build()
        .new_agent()
}

/// The `host[:port]` of an absolute URL.
fn authority(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    Some(rest.split(['/', '?']).next().unwrap_or(rest))
}

/// `scheme://host[:port]`, lowercased: where a credential may go.
fn origin(url: &str) -> Option<String> {
    let scheme = url.split_once("://")?.0;
    Some(format!("{scheme}://{}", authority(url)?).to_ascii_lowercase())
}

impl Client {
    /// Connect to `host` (`host[:port]`) and learn how it wants to be
    /// authenticated. HTTPS first; plain HTTP only for loopback or `--insecure`.
    pub fn connect(host: &str, options: &ClientOptions) -> Result<Client> {
        let explicit = options
            .credentials
            .as_ref()
            .filter(|_| options.credentials_host.as_deref() == Some(host));
        let credentials = match explicit {
            Some(c) => Some(c.clone()),
            None => match &options.docker_config {
                Some(path) => credentials::from_docker_config(path, host)?,
                None => None,
            },
        };
        let mut client = Client {
            plain: agent(RootCerts::new_with_certs(&[]), !options.insecure),
            tls: OnceLock::new(),
            host: host.to_string(),
            base: format!("https://{host}"),
            credentials,
            challenge: Mutex::new(None),
            tokens: Mutex::new(HashMap::new()),
            retry: options.retry.clone(),
            options: options.clone(),
            counters: Counters::default(),
            jitter: RandomState::new(),
            jitter_seq: AtomicU64::new(0),
        };
        if options.ca_file.is_some() {
            // A --ca-file that is not a certificate is an error even when
            // the registry turns out to speak plain HTTP.
            client.tls_agent()?;
        }
        // A registry on this machine almost always speaks plain HTTP: ask that
        // first and save a TLS handshake (and the CA bundle) per command. An
        // HTTPS-only one answers the plain request with an error, and is then
        // asked over HTTPS.
        if is_loopback(host) && !options.insecure {
            client.base = format!("http://{host}");
            match client.ping(true) {
                Ok(()) => return Ok(client),
                Err(http_error) => {
                    client.base = format!("https://{host}");
                    client.ping(false).map_err(|https_error| {
                        RegistryError::Remote(format!(
                            "cannot reach the registry at {host}: over HTTP: {http_error}; over \
                             HTTPS: {https_error}. If it serves a certificate from a private CA, \
                             pass that CA with --ca-file"
                        ))
                    })?;
                    return Ok(client);
                }
            }
        }
        // Where plain HTTP is allowed, a failed TLS handshake is not worth retrying.
        match client.ping(!options.insecure) {
            Ok(()) => {}
            Err(https_error) if options.insecure => {
                client.base = format!("http://{host}");
                client.ping(true).map_err(|http_error| {
                    RegistryError::Remote(format!(
                        "cannot reach the registry at {host}: over HTTPS: {https_error}; over \
                         HTTP: {http_error}. If it serves a certificate from a private CA, pass \
                         that CA with --ca-file"
                    ))
                })?;
            }
            Err(e) => {
                return Err(RegistryError::Remote(format!(
                    "cannot reach the registry at https://{host}/v2/: {e}. slipway speaks HTTPS \
                     to registries that are not on this machine; for a registry with a private \
                     CA pass --ca-file, for a plain-HTTP one --insecure"
                )));
            }
        }
        Ok(client)
    }

    /// `GET /v2/` (retried); remembers the auth challenge.
    fn ping(&mut self, retry: bool) -> Result<()> {
        let url = format!("{}/v2/", self.base);
        let mut outcome = None;
        self.execute_with(
            "checking the registry",
            &mut || Req {
                method: Method::Get,
                url: url.clone(),
                headers: vec![],
                body: &[],
                scopes: &[],
            },
            &mut |mut resp| {
                // Read to the end, so the connection serves the next request.
                drain(&mut resp);
                let status = resp.status().as_u16();
                let challenge = resp
                    .headers()
                    .get("www-authenticate")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string);
                outcome = Some((status, challenge));
                Ok(())
            },
            false,
            retry,
        )?;
        let (status, challenge) = outcome.expect("handler ran");
        match status {
            200 => Ok(()),
            401 => {
                let header = challenge.ok_or_else(|| {
                    RegistryError::Remote(format!(
                        "{} answered 401 without a WWW-Authenticate header",
                        self.base
                    ))
                })?;
                *self.challenge.get_mut().unwrap() =
                    Some(parse_challenge(&header).ok_or_else(|| {
                        RegistryError::Remote(format!(
                            "{} asks for an authentication scheme slipway does not speak: {}",
                            self.base,
                            header.split(' ').next().unwrap_or("")
                        ))
                    })?);
                Ok(())
            }
            404 => Err(RegistryError::Remote(format!(
                "{}/v2/ is not found: this is not a registry (distribution API v2)",
                self.base
            ))),
            other => Err(RegistryError::Remote(format!(
                "{}/v2/ answered HTTP {other}",
                self.base
            ))),
        }
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    /// The HTTPS agent, reading the trusted roots on first use.
    fn tls_agent(&self) -> Result<&Agent> {
        if let Some(a) = self.tls.get() {
            return Ok(a);
        }
        let built = agent(load_roots(&self.options)?, !self.options.insecure);
        Ok(self.tls.get_or_init(|| built))
    }

    /// An absolute URL for a path or a (possibly relative) Location header.
    pub(crate) fn url(&self, location: &str) -> String {
        if location.starts_with("http://") || location.starts_with("https://") {
            location.to_string()
        } else if location.starts_with('/') {
            format!("{}{location}", self.base)
        } else {
            format!("{}/{location}", self.base)
        }
    }

    /// The Authorization header for these scopes, fetching a token if needed.
    fn authorization(&self, scopes: &[String], refresh: bool) -> Result<Option<String>> {
        let challenge = self.challenge.lock().unwrap().clone();
        match &challenge {
            None => Ok(None),
            Some(Challenge::Basic) => Ok(self.credentials.as_ref().map(Credentials::basic_header)),
            Some(Challenge::Bearer { realm, service, .. }) => {
                let now = Instant::now();
                if !refresh
                    && let Some(t) = self.tokens.lock().unwrap().get(scopes)
                    && t.fresh(now)
                {
                    return Ok(Some(format!("Bearer {}", t.value.expose())));
                }
                let token = self.fetch_token(realm, service.as_deref(), scopes)?;
                let header = format!("Bearer {}", token.value.expose());
                self.tokens.lock().unwrap().insert(scopes.to_vec(), token);
                Ok(Some(header))
            }
        }
    }

    fn fetch_token(&self, realm: &str, service: Option<&str>, scopes: &[String]) -> Result<Token> {
        let mut url = realm.to_string();
        let mut sep = if url.contains('?') { '&' } else { '?' };
        let mut param = |k: &str, v: &str| {
            url.push(sep);
            url.push_str(k);
            url.push('=');
            url.push_str(&percent_encode(v));
            sep = '&';
        };
        if let Some(s) = service {
            param("service", s);
        }
        for s in scopes {
            param("scope", s);
        }
        let cleartext = realm.starts_with("http://")
            && !(self.options.insecure || authority(realm).is_some_and(is_loopback));
        if cleartext && self.credentials.is_some() {
            return Err(RegistryError::Auth(format!(
                "the registry's token service {} is plain HTTP; slipway will not send a password \
                 there unless --insecure is given",
                realm_for_display(realm)
            )));
        }
        let basic = self.credentials.as_ref().map(Credentials::basic_header);
        let mut reply = None;
        self.execute(
            "getting a registry token",
            &mut || Req {
                method: Method::Get,
                url: url.clone(),
                headers: basic.iter().map(|b| ("authorization", b.clone())).collect(),
                body: &[],
                scopes: &[],
            },
            &mut |mut resp| {
                let status = resp.status().as_u16();
                if status != 200 {
                    let who = match &self.credentials {
                        Some(c) => {
                            format!("the credentials from {} (user {})", c.origin, c.username)
                        }
                        None => "anonymous access (no credentials found for this registry)".into(),
                    };
                    return Err(Failure::Fatal(RegistryError::Auth(format!(
                        "the token service {} refused {who} for {} (HTTP {status}); check the \
                         username and password, or log in with `docker login {}` or \
                         --username/--password-stdin",
                        realm_for_display(realm),
                        scopes.join(" "),
                        self.host
                    ))));
                }
                let body = read_limited(&mut resp, 1 << 20)?;
                reply = Some(read_token_reply(&body, Instant::now())?);
                Ok(())
            },
            false,
        )?;
        Ok(reply.expect("handler ran"))
    }

    /// Send a request until `handle` accepts a response or the retry policy
    /// gives up. Authentication (401 → token → again) and redirects for
    /// GET/HEAD happen here; `retry` false sends once (for requests whose
    /// repetition the caller must plan, like a PATCH of a chunk).
    pub(crate) fn execute<'a, T>(
        &self,
        what: &str,
        make: &mut dyn FnMut() -> Req<'a>,
        handle: &mut dyn FnMut(Response<Body>) -> std::result::Result<T, Failure>,
        authenticate: bool,
    ) -> Result<T> {
        self.execute_with(what, make, handle, authenticate, true)
    }

    pub(crate) fn execute_once<'a, T>(
        &self,
        what: &str,
        make: &mut dyn FnMut() -> Req<'a>,
        handle: &mut dyn FnMut(Response<Body>) -> std::result::Result<T, Failure>,
    ) -> Result<T> {
        self.execute_with(what, make, handle, true, false)
    }

    fn execute_with<'a, T>(
        &self,
        what: &str,
        make: &mut dyn FnMut() -> Req<'a>,
        handle: &mut dyn FnMut(Response<Body>) -> std::result::Result<T, Failure>,
        authenticate: bool,
        retry: bool,
    ) -> Result<T> {
        let started = Instant::now();
        let mut attempt = 0u32;
        let mut refreshed = false;
        let mut redirect: Option<String> = None;
        let mut redirects = 0;
        loop {
            attempt += 1;
            let req = make();
            let url = redirect.clone().unwrap_or_else(|| self.url(&req.url));
            // Credentials go only to the registry itself, over the scheme it
            // was reached by: never to another host, never downgraded to HTTP.
            let same_host = origin(&url) == origin(&self.base);
            // Headers the caller set (a token request's Basic credentials) stay
            // with the origin the request was made to.
            let same_origin = origin(&url) == origin(&self.url(&req.url));
            let auth = if authenticate && same_host {
                self.authorization(req.scopes, false)?
            } else {
                None
            };
            let agent = if url.starts_with("https://") {
                self.tls_agent()?
            } else {
                &self.plain
            };
            let sent = self.send(agent, &req, &url, auth.as_deref(), same_origin);
            let problem = match sent {
                Err(e) => format!("{} {}: {e}", req.method.name(), redact_url(&url)),
                Ok(resp) => {
                    let status = resp.status();
                    if status == StatusCode::UNAUTHORIZED && authenticate && same_host {
                        let learned = self.learn_challenge(&resp);
                        let bearer = matches!(
                            *self.challenge.lock().unwrap(),
                            Some(Challenge::Bearer { .. })
                        );
                        if (bearer || learned) && !refreshed {
                            // The token lapsed or lacks a scope: get a new one once.
                            refreshed = true;
                            self.authorization(req.scopes, true)?;
                            attempt -= 1;
                            continue;
                        }
                        return Err(self.unauthorized(what, req.scopes));
                    }
                    if status == StatusCode::FORBIDDEN && authenticate {
                        return Err(RegistryError::Auth(format!(
                            "{what}: {} denied access ({}); the account lacks permission",
                            self.host,
                            req.scopes.join(" ")
                        )));
                    }
                    if status.is_redirection()
                        && matches!(req.method, Method::Get | Method::Head)
                        && let Some(loc) = header(&resp, "location")
                    {
                        redirects += 1;
                        if redirects > 5 {
                            return Err(RegistryError::Remote(format!(
                                "{what}: too many redirects"
                            )));
                        }
                        // Never carries our Authorization to another host (see same_host).
                        redirect = Some(self.url(&loc));
                        attempt -= 1;
                        continue;
                    }
                    if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
                        let wait = retry_after(&resp);
                        let problem = format!(
                            "{} {}: HTTP {}",
                            req.method.name(),
                            redact_url(&url),
                            status.as_u16()
                        );
                        if !retry || !self.pause(attempt, started, wait) {
                            return Err(self.gave_up(what, attempt, &problem));
                        }
                        continue;
                    }
                    match handle(resp) {
                        Ok(v) => return Ok(v),
                        Err(Failure::Fatal(e)) => return Err(e),
                        Err(Failure::Retry(p)) => p,
                    }
                }
            };
            if !retry || !self.pause(attempt, started, None) {
                return Err(self.gave_up(what, attempt, &problem));
            }
        }
    }

    /// A 401 from a registry that let the ping through says how to log in:
    /// remember it. Returns whether there was nothing known before.
    fn learn_challenge(&self, resp: &Response<Body>) -> bool {
        let mut known = self.challenge.lock().unwrap();
        if known.is_some() {
            return false;
        }
        *known = header(resp, "www-authenticate").and_then(|h| parse_challenge(&h));
        known.is_some()
    }

    fn send(
        &self,
        agent: &Agent,
        req: &Req<'_>,
        url: &str,
        auth: Option<&str>,
        keep_authorization: bool,
    ) -> std::result::Result<Response<Body>, ureq::Error> {
        let counter = match req.method {
            Method::Get => &self.counters.get,
            Method::Head => &self.counters.head,
            Method::Post => &self.counters.post,
            Method::Put => &self.counters.put,
            Method::Patch => &self.counters.patch,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        self.counters
            .bytes_sent
            .fetch_add(req.body.len() as u64, Ordering::Relaxed);
        macro_rules! with_headers {
            ($b:expr) => {{
                let mut b = $b;
                for (k, v) in &req.headers {
                    if keep_authorization || !k.eq_ignore_ascii_case("authorization") {
                        b = b.header(*k, v);
                    }
                }
                if let Some(a) = auth {
                    b = b.header("authorization", a);
                }
                b
            }};
        }
        match req.method {
            Method::Get => with_headers!(agent.get(url)).call(),
            Method::Head => with_headers!(agent.head(url)).call(),
            Method::Post => with_headers!(agent.post(url)).send(req.body),
            Method::Put => with_headers!(agent.put(url)).send(req.body),
            Method::Patch => with_headers!(agent.patch(url)).send(req.body),
        }
    }

    /// Sleep before the next attempt; false when the policy says stop.
    pub(crate) fn pause(&self, attempt: u32, started: Instant, wait: Option<Duration>) -> bool {
        if attempt >= self.retry.attempts {
            return false;
        }
        let backoff = self
            .retry
            .first_delay
            .saturating_mul(1 << (attempt - 1).min(16))
            .min(self.retry.max_delay);
        // Full jitter on the upper half, so parallel uploads do not retry in step.
        let r = self
            .jitter
            .hash_one(self.jitter_seq.fetch_add(1, Ordering::Relaxed));
        let jittered = backoff / 2 + backoff.mul_f64((r % 1000) as f64 / 2000.0);
        let delay = wait.unwrap_or(jittered);
        if started.elapsed() + delay > self.retry.budget {
            return false;
        }
        std::thread::sleep(delay);
        true
    }

    fn gave_up(&self, what: &str, attempts: u32, last: &str) -> RegistryError {
        RegistryError::Remote(format!(
            "{what} failed after {attempts} attempt{}: {last}",
            if attempts == 1 { "" } else { "s" }
        ))
    }

    fn unauthorized(&self, what: &str, scopes: &[String]) -> RegistryError {
        let hint = match &self.credentials {
            Some(c) => format!(
                "it refused the credentials from {} (user {}): check the password",
                c.origin, c.username
            ),
            None => format!(
                "no credentials were found for {}: run `docker login {}` or pass \
                 --username with --password-stdin",
                self.host, self.host
            ),
        };
        RegistryError::Auth(format!(
            "{what}: {} requires authentication for {}; {hint}",
            self.host,
            if scopes.is_empty() {
                "this request".to_string()
            } else {
                scopes.join(" ")
            }
        ))
    }
}

pub(crate) fn header(resp: &Response<Body>, name: &str) -> Option<String> {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// `Retry-After` in seconds (the HTTP-date form is rare from registries and is ignored).
fn retry_after(resp: &Response<Body>) -> Option<Duration> {
    header(resp, "retry-after")?
        .trim()
        .parse::<u64>()
        .ok()
        .map(|s| Duration::from_secs(s.min(60)))
}

/// Read a whole body, refusing more than `limit` bytes; a cut-off body is retried.
/// Read and drop a small body (an error page), so the connection goes back
/// to the pool instead of being closed; a large or broken one is left.
pub(crate) fn drain(resp: &mut Response<Body>) {
    let _ = resp.body_mut().with_config().limit(64 << 10).read_to_vec();
}

pub(crate) fn read_limited(
    resp: &mut Response<Body>,
    limit: u64,
) -> std::result::Result<Vec<u8>, Failure> {
    if let Some(len) = resp.body().content_length()
        && len > limit
    {
        return Err(Failure::Fatal(RegistryError::Integrity(format!(
            "the registry sent {len} bytes where at most {limit} are expected"
        ))));
    }
    resp.body_mut()
        .with_config()
        .limit(limit)
        .read_to_vec()
        .map_err(|e| match e {
            ureq::Error::BodyExceedsLimit(_) => Failure::Fatal(RegistryError::Integrity(format!(
                "the registry sent more than {limit} bytes where at most that many are expected"
            ))),
            other => Failure::Retry(format!("reading the response: {other}")),
        })
}

/// Upload URLs carry state tokens; keep messages short and free of them.
fn redact_url(url: &str) -> &str {
    url.split('?').next().unwrap_or(url)
}

fn realm_for_display(realm: &str) -> &str {
    redact_url(realm)
}

pub(crate) fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts() {
        for h in [
            "127.0.0.1:5000",
            "127.3.2.1",
            "localhost",
            "LOCALHOST:80",
            "[::1]:5000",
        ] {
            assert!(is_loopback(h), "{h}");
        }
        for h in [
            "10.0.0.1:5000",
            "registry.local",
            "[fe80::1]:1",
            "128.0.0.1",
        ] {
            assert!(!is_loopback(h), "{h}");
        }
    }

    #[test]
    fn urls() {
        assert_eq!(authority("https://a.io:5000/v2/x?y"), Some("a.io:5000"));
        assert_eq!(authority("http://b?x"), Some("b"));
        assert_eq!(
            percent_encode("repository:a/b:pull,push"),
            "repository%3Aa%2Fb%3Apull%2Cpush"
        );
        assert_eq!(redact_url("http://h/v2/u?_state=abc"), "http://h/v2/u");
    }
}
