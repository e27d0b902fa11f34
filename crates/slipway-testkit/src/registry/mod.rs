//! Real registries for tests: Debian's `docker-registry` (distribution 2.8)
//! on a free 127.0.0.1 port, a bearer-token server, and a fault-injecting
//! proxy. See `docs/registry-testing.md` for the details.
//!
//! ```no_run
//! use slipway_testkit::registry::*;
//!
//! let tmp = tempfile::tempdir().unwrap();
//! let image = write_test_layout(tmp.path(), "v1", &["linux/amd64", "linux/arm64"], 4096, 1);
//!
//! // Plain HTTP, no auth.
//! let reg = TestRegistry::plain();
//! // ... push image.dir to reg.reference("team/app:v1") with the client under test ...
//! // The registry's own storage says where the tag points:
//! assert_eq!(reg.tag_digest("team/app", "v1"), Some(image.index_digest.clone()));
//!
//! // HTTPS with a test CA (ca_file(), cert_dir()) and htpasswd (credentials()).
//! let tls = TestRegistry::tls_basic();
//!
//! // Token auth; token_requests() shows the scopes each request asked for.
//! let tok = TestRegistry::token(TokenConfig { expires_in: 5, ..TokenConfig::default() });
//!
//! // Faults in front of a plain-HTTP registry: push to proxy.host() instead.
//! let proxy = FaultProxy::in_front_of(&reg, Faults::one_in(4, 42));
//! // ... push ...
//! let c = proxy.counters();
//! println!("{} requests, {} faults, {} blob bytes", c.requests, c.total_faults(), c.blob_upload_bytes);
//! proxy.set_faults(Faults::fail_all());
//! proxy.reset();
//! ```
//!
//! Everything stops on drop (the registry process is killed, its temporary
//! directory removed, the servers' threads and connections closed), also when
//! a test panics. Keep these values in locals, not in a `static` (statics
//! never drop). When a test fails, print [`TestRegistry::log`]: the
//! registry's own log, with every request it served.

mod http;
mod layout;
mod pki;
mod proxy;
mod token;

use std::fmt;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub use layout::{TestImage, write_test_layout};
pub use proxy::{Counters, FaultKind, FaultProxy, Faults, ProxiedRequest, RequestKind};
pub use token::{Access, ISSUER, SERVICE, TokenConfig, TokenRequest, TokenServer};

use crate::require;

/// A user name and password. `Debug` does not show the password.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl Credentials {
    pub fn new(username: &str, password: &str) -> Credentials {
        Credentials {
            username: username.into(),
            password: password.into(),
        }
    }

    /// `user:password`, as skopeo's `--creds` wants it.
    pub fn user_colon_password(&self) -> String {
        format!("{}:{}", self.username, self.password)
    }
}

impl Default for Credentials {
    /// A distinctive password, so tests can assert it never shows up in output.
    fn default() -> Credentials {
        Credentials::new("slipway-tester", "pw-Zq7-never-print-me")
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Credentials {{ username: {:?}, password: <hidden> }}",
            self.username
        )
    }
}

/// How clients authenticate.
#[derive(Debug, Clone)]
pub enum Auth {
    None,
    /// `auth: htpasswd` with one bcrypt entry.
    Htpasswd(Credentials),
    /// `auth: token` backed by a [`TokenServer`].
    Token(TokenConfig),
}

/// A registry set-up.
#[derive(Debug, Clone)]
pub struct RegistryConfig {
    /// Serve HTTPS with a certificate from a CA made for this registry.
    pub tls: bool,
    pub auth: Auth,
}

/// A running `docker-registry serve`; killed, and its storage removed, on drop.
pub struct TestRegistry {
    child: Child,
    addr: SocketAddr,
    tls: bool,
    dir: tempfile::TempDir,
    log_path: PathBuf,
    ca_file: Option<PathBuf>,
    cert_dir: Option<PathBuf>,
    credentials: Option<Credentials>,
    token: Option<TokenServer>,
}

impl TestRegistry {
    /// Plain HTTP, no authentication.
    pub fn plain() -> TestRegistry {
        TestRegistry::start(RegistryConfig {
            tls: false,
            auth: Auth::None,
        })
    }

    /// HTTPS (test CA in [`TestRegistry::ca_file`]) with htpasswd basic auth
    /// for [`Credentials::default`].
    pub fn tls_basic() -> TestRegistry {
        TestRegistry::start(RegistryConfig {
            tls: true,
            auth: Auth::Htpasswd(Credentials::default()),
        })
    }

    /// Plain HTTP with token auth from a [`TokenServer`] configured by `config`.
    pub fn token(config: TokenConfig) -> TestRegistry {
        TestRegistry::start(RegistryConfig {
            tls: false,
            auth: Auth::Token(config),
        })
    }

    /// Any combination. Panics, with the registry's log, if it does not come up.
    pub fn start(config: RegistryConfig) -> TestRegistry {
        let binary = require("docker-registry", "docker-registry");
        let dir = tempfile::Builder::new()
            .prefix("slipway-registry-")
            .tempdir()
            .expect("temporary directory");
        let root = dir.path().to_path_buf();
        let storage = root.join("storage");
        std::fs::create_dir_all(&storage).unwrap();

        let pki_dir = root.join("pki");
        let ca = (config.tls || matches!(config.auth, Auth::Token(_)))
            .then(|| pki::new_ca(&pki_dir, "slipway test CA"));
        let mut cert_dir = None;
        let mut tls_yaml = String::new();
        if config.tls {
            let ca = ca.as_ref().unwrap();
            let server = pki::server_cert(&pki_dir, ca);
            tls_yaml = format!(
                "  tls:\n    certificate: {}\n    key: {}\n",
                server.cert.display(),
                server.key.display()
            );
            // skopeo's --cert-dir reads every *.crt in a directory as a CA.
            let d = root.join("certs.d");
            std::fs::create_dir_all(&d).unwrap();
            std::fs::copy(&ca.cert, d.join("ca.crt")).unwrap();
            cert_dir = Some(d);
        }

        let mut credentials = None;
        let mut token = None;
        let auth_yaml = match &config.auth {
            Auth::None => String::new(),
            Auth::Htpasswd(c) => {
                let htpasswd = require("htpasswd", "apache2-utils");
                let out = Command::new(htpasswd)
                    .args(["-Bbn", &c.username, &c.password])
                    .output()
                    .expect("running htpasswd");
                assert!(
                    out.status.success(),
                    "htpasswd failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                let file = root.join("htpasswd");
                std::fs::write(&file, &out.stdout).unwrap();
                credentials = Some(c.clone());
                format!(
                    "auth:\n  htpasswd:\n    realm: slipway-test\n    path: {}\n",
                    file.display()
                )
            }
            Auth::Token(tc) => {
                let ca = ca.as_ref().unwrap();
                let signer = pki::token_signing_cert(&pki_dir, ca);
                let server = TokenServer::start(
                    tc.clone(),
                    &std::fs::read_to_string(&signer.key).unwrap(),
                    &std::fs::read_to_string(&signer.cert).unwrap(),
                );
                let yaml = format!(
                    "auth:\n  token:\n    realm: {}\n    service: {SERVICE}\n    issuer: {ISSUER}\n    rootcertbundle: {}\n",
                    server.realm(),
                    ca.cert.display()
                );
                credentials = Some(tc.credentials.clone());
                token = Some(server);
                yaml
            }
        };

        let log_path = root.join("registry.log");
        let mut last_log = String::new();
        for _attempt in 0..5 {
            let addr = free_port();
            let yaml = format!(
                "version: 0.1\nlog:\n  level: info\n  formatter: text\n  fields:\n    service: slipway-test-registry\n\
                 storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n  maintenance:\n    uploadpurging:\n      enabled: false\n\
                 http:\n  addr: {addr}\n  secret: slipway-test-http-secret\n  headers:\n    X-Content-Type-Options: [nosniff]\n{tls_yaml}\
                 {auth_yaml}health:\n  storagedriver:\n    enabled: false\n",
                storage.display()
            );
            let config_file = root.join("config.yml");
            std::fs::write(&config_file, yaml).unwrap();
            let log = std::fs::File::create(&log_path).unwrap();
            let mut child = Command::new(&binary)
                .arg("serve")
                .arg(&config_file)
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .expect("starting docker-registry");
            match wait_ready(
                &mut child,
                addr,
                config.tls,
                &log_path,
                Duration::from_secs(30),
            ) {
                Ok(()) => {
                    return TestRegistry {
                        child,
                        addr,
                        tls: config.tls,
                        dir,
                        log_path,
                        ca_file: ca.as_ref().map(|c| c.cert.clone()),
                        cert_dir,
                        credentials,
                        token,
                    };
                }
                Err(why) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    last_log = read_log(&log_path);
                    // Another process may have taken the port between our
                    // probe and the registry's bind: retry on a new one.
                    if !last_log.contains("address already in use") {
                        panic!("docker-registry did not start: {why}\nits log:\n{last_log}");
                    }
                }
            }
        }
        panic!("docker-registry never got a free port; last log:\n{last_log}");
    }

    /// `127.0.0.1:PORT`, for image references.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT` or `https://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!(
            "{}://{}",
            if self.tls { "https" } else { "http" },
            self.addr
        )
    }

    /// `127.0.0.1:PORT/<repo_and_tag>`.
    pub fn reference(&self, repo_and_tag: &str) -> String {
        format!("{}/{repo_and_tag}", self.addr)
    }

    pub fn is_tls(&self) -> bool {
        self.tls
    }

    /// The CA (PEM) that signed the TLS certificate and the token signer.
    pub fn ca_file(&self) -> Option<&Path> {
        self.ca_file.as_deref()
    }

    /// A directory holding only `ca.crt` (for `skopeo --cert-dir`); TLS only.
    pub fn cert_dir(&self) -> Option<&Path> {
        self.cert_dir.as_deref()
    }

    /// The account that can push (htpasswd or token set-ups).
    pub fn credentials(&self) -> Option<&Credentials> {
        self.credentials.as_ref()
    }

    pub fn token_server(&self) -> Option<&TokenServer> {
        self.token.as_ref()
    }

    /// Requests the token server received (empty without token auth).
    pub fn token_requests(&self) -> Vec<TokenRequest> {
        self.token
            .as_ref()
            .map(TokenServer::requests)
            .unwrap_or_default()
    }

    /// The registry's log so far (startup, every request, errors).
    pub fn log(&self) -> String {
        read_log(&self.log_path)
    }

    /// Root of the filesystem storage driver.
    pub fn storage_dir(&self) -> PathBuf {
        self.dir.path().join("storage")
    }

    /// The digest `repo:tag` points to, read from the registry's storage (no
    /// HTTP, no auth): `None` if the tag does not exist.
    pub fn tag_digest(&self, repo: &str, tag: &str) -> Option<String> {
        let link = self
            .storage_dir()
            .join("docker/registry/v2/repositories")
            .join(repo)
            .join("_manifests/tags")
            .join(tag)
            .join("current/link");
        std::fs::read_to_string(link)
            .ok()
            .map(|s| s.trim().to_string())
    }

    /// Where the registry keeps a blob's bytes (`sha256:…`).
    pub fn blob_path(&self, digest: &str) -> PathBuf {
        let hex = digest.strip_prefix("sha256:").expect("a sha256 digest");
        self.storage_dir()
            .join("docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }

    /// Flip every byte of a stored blob, keeping its length: the registry
    /// then serves content that does not match its digest.
    pub fn corrupt_blob(&self, digest: &str) {
        let path = self.blob_path(digest);
        let data = std::fs::read(&path).unwrap_or_else(|e| panic!("blob {digest} not stored: {e}"));
        std::fs::write(&path, data.iter().map(|b| !b).collect::<Vec<u8>>()).unwrap();
    }

    /// skopeo flags to use this registry as a copy destination
    /// (`--dest-tls-verify`, `--dest-cert-dir`, `--dest-creds`).
    pub fn skopeo_dest_args(&self) -> Vec<String> {
        self.skopeo_args("dest")
    }

    /// skopeo flags for `inspect` (or a copy source).
    pub fn skopeo_src_args(&self) -> Vec<String> {
        self.skopeo_args("")
    }

    fn skopeo_args(&self, prefix: &str) -> Vec<String> {
        let p = if prefix.is_empty() {
            String::new()
        } else {
            format!("{prefix}-")
        };
        let mut out = Vec::new();
        match &self.cert_dir {
            Some(d) => out.push(format!("--{p}cert-dir={}", d.display())),
            None => out.push(format!("--{p}tls-verify=false")),
        }
        if let Some(c) = &self.credentials {
            out.push(format!("--{p}creds={}", c.user_colon_password()));
        }
        out
    }
}

impl Drop for TestRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port nobody listens on right now (the kernel's pick for :0).
fn free_port() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").expect("binding 127.0.0.1:0");
    l.local_addr().unwrap()
}

fn read_log(path: &Path) -> String {
    std::fs::read(path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

/// Poll until `/v2/` answers (plain HTTP) or the listener is up and logged
/// (TLS), or the process exits.
fn wait_ready(
    child: &mut Child,
    addr: SocketAddr,
    tls: bool,
    log: &Path,
    timeout: Duration,
) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            return Err(format!("it exited with {status}"));
        }
        if let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
            if tls {
                // Go serves right after listening; the log line says TLS is on.
                if read_log(log).contains("listening on") {
                    return Ok(());
                }
            } else {
                let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
                let req = format!("GET /v2/ HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
                let mut resp = Vec::new();
                if s.write_all(req.as_bytes()).is_ok() && s.read_to_end(&mut resp).is_ok() {
                    let text = String::from_utf8_lossy(&resp);
                    if text.starts_with("HTTP/1.1 200") || text.starts_with("HTTP/1.1 401") {
                        return Ok(());
                    }
                }
            }
        }
        if Instant::now() > deadline {
            return Err(format!("/v2/ did not answer within {timeout:?}"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
