//! Go's `GOCACHEPROG` protocol (Go 1.24+): `go` starts the program and
//! speaks JSON with it over stdin and stdout.
//!
//! - The program speaks first: `{"ID":0,"KnownCommands":["get","put","close"]}`.
//! - Each request is one JSON object per line: `ID`, `Command`, `ActionID`
//!   and `OutputID` (32 bytes each, base64 in JSON), `BodySize`. A `put`
//!   with `BodySize > 0` is followed by one more line, the body as a JSON
//!   string of base64.
//! - Each response is one line: `ID`, `Err`; for `get`: `Miss`, `OutputID`,
//!   `Size`, `Time`, `DiskPath`; for `put`: `DiskPath`. Responses may come in
//!   any order.
//!
//! `go` keeps only a few requests in flight (one per build job), so the
//! time of each round trip is the cost. A `get` the local tier answers (all
//! of a no-op rebuild) is answered on the reading thread, with no hand-over;
//! only puts and lookups that need the remote go to a pool of threads,
//! started as they are needed, so a slow remote never holds up other
//! requests. Each response is one `write` of one line.
//! - `DiskPath` names a file of the local tier holding exactly the body;
//!   `go` reads it directly.
//!
//! An action's entry (namespace `"go"`) has one output, the body, and keeps
//! Go's `OutputID` and the time of the put in its `meta`.

use std::io::{BufRead, Write};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

use crate::{ActionEntry, ActionKey, Cache, Stats};

/// The namespace of Go's build cache entries.
pub const NAMESPACE: &str = "go";
/// The most threads answering puts and remote lookups at once.
pub const WORKERS: usize = 16;
/// The longest request line accepted (a put body line is base64 of the
/// body, so this bounds a body to about 1.5 GiB).
pub const MAX_LINE: usize = 2 << 30;

/// A request from `go`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Request {
    #[serde(rename = "ID")]
    pub id: i64,
    #[serde(rename = "Command")]
    pub command: String,
    #[serde(rename = "ActionID", default, with = "b64opt")]
    pub action_id: Option<Vec<u8>>,
    #[serde(rename = "OutputID", default, with = "b64opt")]
    pub output_id: Option<Vec<u8>>,
    #[serde(rename = "BodySize", default)]
    pub body_size: i64,
}

/// A response to `go`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Response {
    #[serde(rename = "ID")]
    pub id: i64,
    #[serde(rename = "Err", skip_serializing_if = "String::is_empty")]
    pub err: String,
    #[serde(rename = "KnownCommands", skip_serializing_if = "Vec::is_empty")]
    pub known_commands: Vec<String>,
    #[serde(rename = "Miss", skip_serializing_if = "std::ops::Not::not")]
    pub miss: bool,
    #[serde(
        rename = "OutputID",
        skip_serializing_if = "Option::is_none",
        with = "b64opt"
    )]
    pub output_id: Option<Vec<u8>>,
    #[serde(rename = "Size", skip_serializing_if = "is_zero")]
    pub size: i64,
    #[serde(rename = "Time", skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
    #[serde(rename = "DiskPath", skip_serializing_if = "String::is_empty")]
    pub disk_path: String,
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

mod b64opt {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(b) => s.serialize_str(&STANDARD.encode(b)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
        let text: Option<String> = Option::deserialize(d)?;
        match text {
            None => Ok(None),
            Some(t) => STANDARD
                .decode(t.as_bytes())
                .map(Some)
                .map_err(serde::de::Error::custom),
        }
    }
}

/// Why serving stopped before `close`.
#[derive(Debug, thiserror::Error)]
pub enum ProgError {
    #[error("GOCACHEPROG: reading requests: {0}")]
    Read(std::io::Error),
    #[error("GOCACHEPROG: writing responses: {0}")]
    Write(std::io::Error),
    #[error("GOCACHEPROG: request line {line} is not a request: {why}")]
    Protocol { line: u64, why: String },
}

/// A parsed request with its body, ready to serve.
#[derive(Debug, PartialEq, Eq)]
pub struct Incoming {
    pub request: Request,
    pub body: Vec<u8>,
}

/// Reads requests (and put bodies) from `go`'s side of the pipe.
pub struct RequestReader<R> {
    input: R,
    line: Vec<u8>,
    count: u64,
}

impl<R: BufRead> RequestReader<R> {
    pub fn new(input: R) -> RequestReader<R> {
        RequestReader {
            input,
            line: Vec::new(),
            count: 0,
        }
    }

    /// The next non-empty line, without its newline; `None` at end of input.
    fn next_line(&mut self) -> Result<Option<&[u8]>, ProgError> {
        loop {
            self.line.clear();
            let mut limited = std::io::Read::take(&mut self.input, MAX_LINE as u64 + 1);
            let n = limited
                .read_until(b'\n', &mut self.line)
                .map_err(ProgError::Read)?;
            if n == 0 {
                return Ok(None);
            }
            self.count += 1;
            if self.line.len() > MAX_LINE {
                return Err(ProgError::Protocol {
                    line: self.count,
                    why: format!("longer than {MAX_LINE} bytes"),
                });
            }
            while matches!(self.line.last(), Some(b'\n' | b'\r')) {
                self.line.pop();
            }
            if !self.line.iter().all(u8::is_ascii_whitespace) {
                return Ok(Some(&self.line));
            }
        }
    }

    /// The next request; `None` at end of input.
    pub fn next_request(&mut self) -> Result<Option<Incoming>, ProgError> {
        let Some(line) = self.next_line()? else {
            return Ok(None);
        };
        let request: Request = serde_json::from_slice(line).map_err(|e| ProgError::Protocol {
            line: self.count,
            why: e.to_string(),
        })?;
        let mut body = Vec::new();
        if request.command == "put" && request.body_size > 0 {
            let at = self.count + 1;
            let Some(line) = self.next_line()? else {
                return Err(ProgError::Protocol {
                    line: at,
                    why: format!("end of input before the body of request {}", request.id),
                });
            };
            let text: String = serde_json::from_slice(line).map_err(|e| ProgError::Protocol {
                line: at,
                why: format!("the body is not a JSON string: {e}"),
            })?;
            body = STANDARD
                .decode(text.as_bytes())
                .map_err(|e| ProgError::Protocol {
                    line: at,
                    why: format!("the body is not base64: {e}"),
                })?;
            if body.len() as i64 != request.body_size {
                return Err(ProgError::Protocol {
                    line: at,
                    why: format!(
                        "the body has {} bytes, BodySize says {}",
                        body.len(),
                        request.body_size
                    ),
                });
            }
        }
        Ok(Some(Incoming { request, body }))
    }
}

/// The hello `go` waits for.
pub fn hello() -> Response {
    Response {
        id: 0,
        known_commands: vec!["get".into(), "put".into(), "close".into()],
        ..Response::default()
    }
}

/// Threads for the requests the reading thread does not answer itself,
/// started only when none is free.
struct Pool {
    tx: mpsc::Sender<Incoming>,
    rx: Arc<Mutex<mpsc::Receiver<Incoming>>>,
    /// Idle threads minus queued jobs: at or below zero, a new job would wait.
    spare: Arc<AtomicIsize>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Pool {
    fn new() -> Pool {
        let (tx, rx) = mpsc::channel::<Incoming>();
        Pool {
            tx,
            rx: Arc::new(Mutex::new(rx)),
            spare: Arc::default(),
            threads: Vec::new(),
        }
    }

    fn submit<W: Write + Send + 'static>(
        &mut self,
        job: Incoming,
        cache: &Arc<Cache>,
        out: &Arc<Mutex<W>>,
        write_error: &Arc<Mutex<Option<std::io::Error>>>,
    ) -> bool {
        if self.spare.fetch_sub(1, Ordering::SeqCst) <= 0 && self.threads.len() < WORKERS {
            let rx = self.rx.clone();
            let spare = self.spare.clone();
            let cache = cache.clone();
            let out = out.clone();
            let write_error = write_error.clone();
            // A new thread is one more idle one (taking a job changes
            // nothing: one idle thread and one queued job fewer).
            self.spare.fetch_add(1, Ordering::SeqCst);
            self.threads.push(std::thread::spawn(move || {
                loop {
                    let job = rx.lock().unwrap_or_else(|p| p.into_inner()).recv();
                    let Ok(job) = job else { break };
                    let response = answer(&cache, job);
                    if let Err(ProgError::Write(e)) = send(&out, &response) {
                        *write_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                    }
                    spare.fetch_add(1, Ordering::SeqCst);
                }
            }));
        }
        self.tx.send(job).is_ok()
    }

    fn finish(self) {
        drop(self.tx);
        for t in self.threads {
            let _ = t.join();
        }
    }
}

/// Serve `go` until `close` or end of input; the run's counters.
pub fn serve<R: BufRead, W: Write + Send + 'static>(
    cache: Arc<Cache>,
    input: R,
    output: W,
) -> Result<Stats, ProgError> {
    let out = Arc::new(Mutex::new(output));
    send(&out, &hello())?;
    let write_error: Arc<Mutex<Option<std::io::Error>>> = Arc::default();
    let mut pool = Pool::new();
    let mut reader = RequestReader::new(input);
    let mut close_id = None;
    let mut failure = None;
    loop {
        match reader.next_request() {
            Ok(None) => break,
            Ok(Some(incoming)) if incoming.request.command == "close" => {
                close_id = Some(incoming.request.id);
                break;
            }
            Ok(Some(incoming)) => {
                if incoming.request.command == "get"
                    && let Some(response) = answer_local(&cache, &incoming.request)
                {
                    if let Err(e) = send(&out, &response) {
                        failure = Some(e);
                        break;
                    }
                    continue;
                }
                if !pool.submit(incoming, &cache, &out, &write_error) {
                    break;
                }
            }
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    pool.finish();
    cache.flush();
    if let Some(e) = write_error.lock().unwrap_or_else(|p| p.into_inner()).take() {
        return Err(ProgError::Write(e));
    }
    if let Some(e) = failure {
        return Err(e);
    }
    if let Some(id) = close_id {
        send(
            &out,
            &Response {
                id,
                ..Response::default()
            },
        )?;
    }
    Ok(cache.stats())
}

fn send<W: Write>(out: &Mutex<W>, response: &Response) -> Result<(), ProgError> {
    let mut line = serde_json::to_vec(response).map_err(|e| ProgError::Write(e.into()))?;
    line.push(b'\n');
    let mut w = out.lock().unwrap_or_else(|p| p.into_inner());
    w.write_all(&line).map_err(ProgError::Write)?;
    w.flush().map_err(ProgError::Write)
}

/// The answer to a `get` that needs no network: a local hit, a miss when
/// there is no remote, or a bad request. `None`: ask the remote.
fn answer_local(cache: &Cache, request: &Request) -> Option<Response> {
    let found = action_key(request).and_then(|key| {
        cache
            .get_action_local(NAMESPACE, &key)
            .map_err(|e| e.to_string())
    });
    let result = match found {
        Ok(Some(entry)) => hit(cache, &entry),
        Ok(None) if cache.has_remote() => return None,
        Ok(None) => Ok(miss()),
        Err(e) => Err(e),
    };
    Some(finish(request.id, result))
}

/// Serve one request; failures become `Err` responses (a miss to `go`).
/// A `get` here has missed locally ([`answer_local`]) and asks the remote.
fn answer(cache: &Cache, incoming: Incoming) -> Response {
    let id = incoming.request.id;
    let result = match incoming.request.command.as_str() {
        "get" => get_remote(cache, &incoming.request),
        "put" => put(cache, &incoming.request, &incoming.body),
        other => Err(format!("unknown command {other:?}")),
    };
    finish(id, result)
}

fn finish(id: i64, result: Result<Response, String>) -> Response {
    match result {
        Ok(mut r) => {
            r.id = id;
            r
        }
        Err(err) => Response {
            id,
            err,
            ..Response::default()
        },
    }
}

fn action_key(request: &Request) -> Result<ActionKey, String> {
    request
        .action_id
        .as_deref()
        .and_then(ActionKey::from_slice)
        .ok_or_else(|| "ActionID must be 32 bytes".to_string())
}

fn miss() -> Response {
    Response {
        miss: true,
        ..Response::default()
    }
}

fn get_remote(cache: &Cache, request: &Request) -> Result<Response, String> {
    let key = action_key(request)?;
    match cache
        .get_action_remote(NAMESPACE, &key)
        .map_err(|e| e.to_string())?
    {
        Some(entry) => hit(cache, &entry),
        None => Ok(miss()),
    }
}

/// The response for an entry whose output is in the local tier.
fn hit(cache: &Cache, entry: &ActionEntry) -> Result<Response, String> {
    let (Some(output), Some(output_id)) = (
        entry.outputs.first(),
        entry
            .meta
            .get("output_id")
            .and_then(|h| crate::Sha256::from_hex(h)),
    ) else {
        return Ok(miss());
    };
    // Go's OutputID is the SHA-256 of the body, so the entry can be checked
    // against the blob it names (itself verified by digest).
    if output_id != output.digest {
        return Ok(miss());
    }
    // The cache found the output in the local tier at exactly this size.
    Ok(Response {
        output_id: Some(output_id.0.to_vec()),
        size: output.size as i64,
        time: entry.meta.get("time").cloned(),
        disk_path: cache.local.blob_path(&output.digest).display().to_string(),
        ..Response::default()
    })
}

fn put(cache: &Cache, request: &Request, body: &[u8]) -> Result<Response, String> {
    let key = action_key(request)?;
    let output_id = request
        .output_id
        .as_deref()
        .and_then(crate::Sha256::from_slice)
        .ok_or("OutputID must be 32 bytes")?;
    let digest = cache.put_blob(NAMESPACE, body).map_err(|e| e.to_string())?;
    let mut entry = ActionEntry::single(digest, body.len() as u64);
    entry.meta.insert("output_id".into(), output_id.to_hex());
    entry.meta.insert("time".into(), rfc3339_now());
    cache
        .put_action(NAMESPACE, &key, &entry)
        .map_err(|e| e.to_string())?;
    Ok(Response {
        disk_path: cache.local.blob_path(&digest).display().to_string(),
        ..Response::default()
    })
}

/// Now as `YYYY-MM-DDTHH:MM:SSZ`.
fn rfc3339_now() -> String {
    let unix = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let d = crate::remote::s3::amz_date(unix);
    format!(
        "{}-{}-{}T{}:{}:{}Z",
        &d[0..4],
        &d[4..6],
        &d[6..8],
        &d[9..11],
        &d[11..13],
        &d[13..15]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_requests_bodies_and_blank_lines() {
        let body = STANDARD.encode(b"hello");
        let action = STANDARD.encode([1u8; 32]);
        let text = format!(
            "{{\"ID\":1,\"Command\":\"get\",\"ActionID\":\"{action}\"}}\n\n\
             {{\"ID\":2,\"Command\":\"put\",\"ActionID\":\"{action}\",\"OutputID\":\"{action}\",\"BodySize\":5}}\n\n\"{body}\"\n\
             {{\"ID\":3,\"Command\":\"put\",\"ActionID\":\"{action}\",\"OutputID\":\"{action}\"}}\n\n\
             {{\"ID\":4,\"Command\":\"close\"}}\n"
        );
        let mut r = RequestReader::new(text.as_bytes());
        let a = r.next_request().unwrap().unwrap();
        assert_eq!(a.request.action_id.as_deref(), Some(&[1u8; 32][..]));
        let b = r.next_request().unwrap().unwrap();
        assert_eq!(b.body, b"hello");
        let c = r.next_request().unwrap().unwrap();
        assert_eq!((c.request.id, c.body.len()), (3, 0));
        assert_eq!(r.next_request().unwrap().unwrap().request.command, "close");
        assert!(r.next_request().unwrap().is_none());
    }

    #[test]
    fn bad_requests_say_which_line() {
        for (text, want) in [
            ("{\"ID\":1}\n", "line 1"),
            ("nonsense\n", "line 1"),
            (
                "\n{\"ID\":2,\"Command\":\"put\",\"BodySize\":3}\n\"aGk=\"\n",
                "BodySize says 3",
            ),
            (
                "{\"ID\":2,\"Command\":\"put\",\"BodySize\":3}\n",
                "end of input",
            ),
            (
                "{\"ID\":2,\"Command\":\"put\",\"BodySize\":3}\n\"@@@\"\n",
                "base64",
            ),
        ] {
            let e = RequestReader::new(text.as_bytes())
                .next_request()
                .unwrap_err()
                .to_string();
            assert!(e.contains(want), "{text:?}: {e}");
        }
    }

    #[test]
    fn responses_use_go_field_names() {
        let r = Response {
            id: 7,
            output_id: Some(vec![0; 2]),
            size: 5,
            disk_path: "/x".into(),
            ..Response::default()
        };
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            r#"{"ID":7,"OutputID":"AAA=","Size":5,"DiskPath":"/x"}"#
        );
        assert_eq!(
            serde_json::to_string(&hello()).unwrap(),
            r#"{"ID":0,"KnownCommands":["get","put","close"]}"#
        );
        assert!(rfc3339_now().ends_with('Z'));
    }
}
