//! `prog::serve` answers `go`'s requests concurrently: a server that only
//! answers once two requests are waiting at the same time gets both.
//! (A stand-in server: no real one can be told to hold requests like this.)

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use slipway_cache::{Cache, CacheConfig, RemoteMode, RemoteSpec};

#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn requests_are_served_concurrently() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let waiting = Arc::new((Mutex::new(0usize), Condvar::new()));
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { return };
            let waiting = waiting.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(conn.try_clone().unwrap());
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                }
                let (count, cv) = &*waiting;
                let mut n = count.lock().unwrap();
                *n += 1;
                cv.notify_all();
                // Hold this answer until a second request waits too (or give up).
                let (n, _) = cv
                    .wait_timeout_while(n, Duration::from_secs(20), |n| *n < 2)
                    .unwrap();
                drop(n);
                let mut conn = conn;
                let _ = conn.write_all(
                    b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                );
            });
        }
    });

    let dir = tempfile::tempdir().unwrap();
    let cache = Arc::new(
        Cache::open(&CacheConfig {
            local_dir: dir.path().to_path_buf(),
            remote: Some(RemoteSpec::parse(&format!("http://127.0.0.1:{port}")).unwrap()),
            mode: RemoteMode::Read,
            quiet: true,
        })
        .unwrap(),
    );
    let a = STANDARD.encode([1u8; 32]);
    let b = STANDARD.encode([2u8; 32]);
    let input = format!(
        "{{\"ID\":1,\"Command\":\"get\",\"ActionID\":\"{a}\"}}\n\
         {{\"ID\":2,\"Command\":\"get\",\"ActionID\":\"{b}\"}}\n\
         {{\"ID\":3,\"Command\":\"close\"}}\n"
    );
    let out = Shared::default();
    let stats = slipway_cache::prog::serve(cache, input.as_bytes(), out.clone()).unwrap();
    let remote = stats.tier_total("remote");
    // Served one after the other, the first request would time out (a fault).
    assert_eq!((remote.faults, remote.misses), (0, 2), "{stats:?}");
    let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        r#"{"ID":0,"KnownCommands":["get","put","close"]}"#
    );
    let mut answers: Vec<&str> = lines[1..3].to_vec();
    answers.sort();
    assert_eq!(
        answers,
        [r#"{"ID":1,"Miss":true}"#, r#"{"ID":2,"Miss":true}"#]
    );
    assert_eq!(lines[3], r#"{"ID":3}"#);
}

/// Run `serve` on `input` with a cache in `dir` and no remote; the response lines.
fn serve_local(dir: &std::path::Path, input: &str) -> Vec<String> {
    let cache = Arc::new(
        Cache::open(&CacheConfig {
            local_dir: dir.to_path_buf(),
            remote: None,
            mode: RemoteMode::Read,
            quiet: true,
        })
        .unwrap(),
    );
    let out = Shared::default();
    slipway_cache::prog::serve(cache, input.as_bytes(), out.clone()).unwrap();
    let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
    text.lines().map(str::to_string).collect()
}

/// The local tier is written without `fsync`, so after a machine crash a
/// blob can be shorter than written. Such a blob is a miss (never handed to
/// `go` as `DiskPath`), and the next put of the same output writes it again.
#[test]
fn a_blob_cut_short_by_a_crash_is_a_miss_and_is_written_again() {
    let dir = tempfile::tempdir().unwrap();
    let body = b"compiled package bytes".repeat(100);
    let output_id: [u8; 32] = {
        use sha2::Digest;
        sha2::Sha256::digest(&body).into()
    };
    let action = STANDARD.encode([7u8; 32]);
    let put = format!(
        "{{\"ID\":1,\"Command\":\"put\",\"ActionID\":\"{action}\",\"OutputID\":\"{}\",\"BodySize\":{}}}\n\"{}\"\n\
         {{\"ID\":2,\"Command\":\"close\"}}\n",
        STANDARD.encode(output_id),
        body.len(),
        STANDARD.encode(&body)
    );
    let get = format!(
        "{{\"ID\":1,\"Command\":\"get\",\"ActionID\":\"{action}\"}}\n{{\"ID\":2,\"Command\":\"close\"}}\n"
    );
    let lines = serve_local(dir.path(), &put);
    let answer: serde_json::Value = serde_json::from_str(&lines[1]).unwrap();
    let disk_path = answer["DiskPath"].as_str().unwrap().to_string();
    assert_eq!(std::fs::read(&disk_path).unwrap(), body);
    let lines = serve_local(dir.path(), &get);
    assert!(lines[1].contains("DiskPath"), "{lines:?}");

    // What a crash before the data reached the disk leaves (ext4, XFS).
    std::fs::File::options()
        .write(true)
        .open(&disk_path)
        .unwrap()
        .set_len(0)
        .unwrap();
    let lines = serve_local(dir.path(), &get);
    assert_eq!(lines[1], r#"{"ID":1,"Miss":true}"#);

    // go compiles again and puts the same output: it is whole again.
    serve_local(dir.path(), &put);
    assert_eq!(std::fs::read(&disk_path).unwrap(), body);
    let lines = serve_local(dir.path(), &get);
    let answer: serde_json::Value = serde_json::from_str(&lines[1]).unwrap();
    assert_eq!(answer["Size"], body.len());
    assert_eq!(answer["DiskPath"], disk_path.as_str());
}
