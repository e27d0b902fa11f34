//! Real cache servers for the remote-cache tests, started on 127.0.0.1 and
//! stopped on drop: Debian's nginx serving the Bazel HTTP cache protocol
//! through WebDAV `PUT`, and versitygw (an S3 server, posix backend) built
//! by `scripts/install-go-tool.sh`. A small HTTP proxy injects the faults a
//! healthy server does not produce.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::supply_chain::go_tool;

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port on 127.0.0.1")
}

fn wait_for_port(port: u16, child: &mut Child, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{what} exited before listening: {status}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{what} did not listen on 127.0.0.1:{port} within 20 s");
}

/// nginx with WebDAV `PUT` on a directory: the Bazel remote-cache HTTP
/// protocol (`/cas/<sha256>`, `/ac/<sha256>`), as Bazel's docs describe.
pub struct Nginx {
    child: Option<Child>,
    dir: PathBuf,
    port: u16,
}

impl Nginx {
    /// Start nginx with its config, storage and logs in `dir`.
    pub fn start(dir: &Path) -> Nginx {
        let nginx = ["/usr/sbin/nginx", "/usr/bin/nginx"]
            .into_iter()
            .map(PathBuf::from)
            .find(|p| p.is_file())
            .unwrap_or_else(|| {
                panic!("nginx is required by this test: run scripts/setup.sh (Debian package nginx-light)")
            });
        let mut n = Nginx {
            child: None,
            dir: dir.to_path_buf(),
            port: free_port(),
        };
        std::fs::create_dir_all(n.storage()).expect("nginx storage dir");
        std::fs::create_dir_all(dir.join("tmp")).expect("nginx temp dir");
        // One process that serves itself: it keeps the test's user (no
        // switch to www-data) and dies whole when the test kills it.
        let conf = format!(
            "daemon off;
master_process off;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log {d}/access.log;
    client_body_temp_path {d}/tmp/body;
    proxy_temp_path {d}/tmp/proxy;
    fastcgi_temp_path {d}/tmp/fastcgi;
    uwsgi_temp_path {d}/tmp/uwsgi;
    scgi_temp_path {d}/tmp/scgi;
    server {{
        listen 127.0.0.1:{port};
        location / {{
            root {d}/storage;
            dav_methods PUT;
            create_full_put_path on;
            dav_access user:rw group:r all:r;
            client_max_body_size 2g;
        }}
    }}
}}
",
            d = dir.display(),
            port = n.port
        );
        std::fs::write(dir.join("nginx.conf"), conf).expect("writing nginx.conf");
        n.spawn(&nginx);
        n
    }

    fn spawn(&mut self, nginx: &Path) {
        let mut child = Command::new(nginx)
            .arg("-p")
            .arg(&self.dir)
            .arg("-e")
            .arg(self.dir.join("error.log"))
            .arg("-c")
            .arg(self.dir.join("nginx.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("starting nginx: {e}"));
        wait_for_port(self.port, &mut child, "nginx");
        self.child = Some(child);
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Where the bodies are: `cas/<sha256>`, `ac/<sha256>`.
    pub fn storage(&self) -> PathBuf {
        self.dir.join("storage")
    }

    /// Kill the server now (SIGKILL: no goodbye to its clients).
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        self.kill();
    }
}

/// versitygw serving a posix directory as S3 on 127.0.0.1, with one bucket.
pub struct Versitygw {
    child: Child,
    dir: PathBuf,
    port: u16,
    pub bucket: String,
    pub access_key: String,
    pub secret_key: String,
}

impl Versitygw {
    /// Start versitygw with its root in `dir` and bucket `bucket` made.
    pub fn start(dir: &Path, bucket: &str) -> Versitygw {
        let bin = go_tool("versitygw");
        let root = dir.join("gw");
        std::fs::create_dir_all(root.join(bucket)).expect("the bucket directory");
        let port = free_port();
        let access_key = "slipwaytest".to_string();
        let secret_key = "slipway-test-secret-key-0123456789".to_string();
        let mut child = Command::new(&bin)
            .arg("--access")
            .arg(&access_key)
            .arg("--secret")
            .arg(&secret_key)
            .arg("--port")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--quiet")
            .arg("posix")
            .arg(&root)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", bin.display()));
        wait_for_port(port, &mut child, "versitygw");
        Versitygw {
            child,
            dir: root,
            port,
            bucket: bucket.to_string(),
            access_key,
            secret_key,
        }
    }

    /// `http://127.0.0.1:PORT`, the S3 endpoint.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Where the bucket's objects are, as files.
    pub fn bucket_dir(&self) -> PathBuf {
        self.dir.join(&self.bucket)
    }

    /// The variables an S3 client needs (endpoint, keys, region).
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            ("AWS_ENDPOINT_URL".into(), self.endpoint()),
            ("AWS_ACCESS_KEY_ID".into(), self.access_key.clone()),
            ("AWS_SECRET_ACCESS_KEY".into(), self.secret_key.clone()),
            ("AWS_REGION".into(), "us-east-1".into()),
        ]
    }
}

impl Drop for Versitygw {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP/1.1 proxy in front of a server that breaks every `every`-th
/// request, cycling through three faults: a 503, a connection closed
/// without an answer, and a response cut off halfway through its body.
pub struct FaultProxy {
    port: u16,
    stop: Arc<AtomicBool>,
    /// Requests seen.
    pub requests: Arc<AtomicU64>,
    /// Requests broken.
    pub faults: Arc<AtomicU64>,
}

impl FaultProxy {
    pub fn start(upstream_port: u16, every: u64) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binding the fault proxy");
        let port = listener.local_addr().expect("proxy address").port();
        listener
            .set_nonblocking(true)
            .expect("nonblocking listener");
        let stop = Arc::new(AtomicBool::new(false));
        let requests = Arc::new(AtomicU64::new(0));
        let faults = Arc::new(AtomicU64::new(0));
        let (s, r, f) = (stop.clone(), requests.clone(), faults.clone());
        std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((client, _)) => {
                        let (r, f) = (r.clone(), f.clone());
                        std::thread::spawn(move || {
                            let _ = serve(client, upstream_port, every, &r, &f);
                        });
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        FaultProxy {
            port,
            stop,
            requests,
            faults,
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// One request: head lines and body.
fn read_request(r: &mut BufReader<TcpStream>) -> std::io::Result<Option<(Vec<String>, Vec<u8>)>> {
    let mut head = Vec::new();
    loop {
        let mut line = String::new();
        if r.read_line(&mut line)? == 0 {
            return Ok(None);
        }
        let line = line.trim_end().to_string();
        if line.is_empty() {
            if head.is_empty() {
                continue;
            }
            break;
        }
        head.push(line);
    }
    let len = content_length(&head);
    let mut body = vec![0; len];
    r.read_exact(&mut body)?;
    Ok(Some((head, body)))
}

fn content_length(head: &[String]) -> usize {
    head.iter()
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse().ok())
        .unwrap_or(0)
}

fn serve(
    client: TcpStream,
    upstream_port: u16,
    every: u64,
    requests: &AtomicU64,
    faults: &AtomicU64,
) -> std::io::Result<()> {
    client.set_nonblocking(false)?;
    let mut reader = BufReader::new(client.try_clone()?);
    let mut client = client;
    // One request per connection: every answer closes it.
    let Some((head, body)) = read_request(&mut reader)? else {
        return Ok(());
    };
    {
        let n = requests.fetch_add(1, Ordering::Relaxed) + 1;
        let fault = n.is_multiple_of(every);
        let kind = (n / every) % 3;
        if fault && kind == 0 {
            faults.fetch_add(1, Ordering::Relaxed);
            client.write_all(
                b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
            )?;
            return Ok(());
        }
        if fault && kind == 1 {
            faults.fetch_add(1, Ordering::Relaxed);
            let _ = client.shutdown(Shutdown::Both);
            return Ok(());
        }
        // Forward on a fresh connection that closes after the answer.
        let mut up = TcpStream::connect(("127.0.0.1", upstream_port))?;
        for line in &head {
            let lower = line.to_ascii_lowercase();
            if lower.starts_with("connection:") {
                continue;
            }
            up.write_all(line.as_bytes())?;
            up.write_all(b"\r\n")?;
        }
        up.write_all(b"connection: close\r\n\r\n")?;
        up.write_all(&body)?;
        let mut answer = Vec::new();
        up.read_to_end(&mut answer)?;
        let is_head = head.first().is_some_and(|l| l.starts_with("HEAD "));
        if fault && !is_head {
            // Cut the body in half, keeping the promised length.
            faults.fetch_add(1, Ordering::Relaxed);
            let split = answer
                .windows(4)
                .position(|w| w == b"\r\n\r\n")
                .map(|p| p + 4)
                .unwrap_or(answer.len());
            let keep = split + (answer.len() - split) / 2;
            client.write_all(&answer[..keep])?;
            let _ = client.shutdown(Shutdown::Both);
            return Ok(());
        }
        // Pass the answer on, but close afterwards (the upstream did).
        client.write_all(&answer)?;
        let _ = client.shutdown(Shutdown::Both);
    }
    Ok(())
}
