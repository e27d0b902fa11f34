//! S3: credentials from the usual places, AWS Signature Version 4, and the
//! `<Error>` documents S3 servers answer with.
//!
//! Credentials, in order: `AWS_ACCESS_KEY_ID` + `AWS_SECRET_ACCESS_KEY` (+
//! `AWS_SESSION_TOKEN`); else the profile `AWS_PROFILE` (default `default`)
//! of `~/.aws/credentials` (`AWS_SHARED_CREDENTIALS_FILE`), then of
//! `~/.aws/config` (`AWS_CONFIG_FILE`). Region: `AWS_REGION`,
//! `AWS_DEFAULT_REGION`, the profile's `region`, else `us-east-1`. Endpoint:
//! `AWS_ENDPOINT_URL_S3`, `AWS_ENDPOINT_URL`, the profile's `endpoint_url`
//! (path-style requests, as S3-compatible servers expect), else AWS itself
//! (virtual-hosted `https://<bucket>.s3.<region>.amazonaws.com`).
//! Secrets never appear in `Debug` output, messages or logs.

use std::fmt;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use hmac::{KeyInit, Mac};

use crate::digest::Sha256;
use crate::error::CacheError;

/// SHA-256 of the empty body, the payload hash of GET and HEAD.
pub const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

struct Credentials {
    access_key_id: String,
    secret_access_key: String,
    session_token: Option<String>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Credentials(***)")
    }
}

/// Signs requests for one bucket's endpoint.
pub(crate) struct Signer {
    creds: Credentials,
    region: String,
    endpoint: Option<String>,
    /// The `host` header value the URL produces.
    host: String,
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signer")
            .field("region", &self.region)
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

/// One `[section]` of an INI-style AWS file.
fn ini_section(text: &str, section: &str) -> Vec<(String, String)> {
    let mut inside = false;
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            inside = name.trim() == section;
            continue;
        }
        if inside && let Some((k, v)) = line.split_once('=') {
            out.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    out
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn home_file(var: &str, rel: &str) -> Option<PathBuf> {
    env(var)
        .map(PathBuf::from)
        .or_else(|| env("HOME").map(|h| PathBuf::from(h).join(rel)))
}

impl Signer {
    pub fn from_environment() -> Result<Signer, CacheError> {
        let profile = env("AWS_PROFILE").unwrap_or_else(|| "default".into());
        let read = |var: &str, rel: &str| -> Result<String, CacheError> {
            let Some(path) = home_file(var, rel) else {
                return Ok(String::new());
            };
            match std::fs::read_to_string(&path) {
                Ok(t) => Ok(t),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
                Err(e) => Err(CacheError::Config(format!(
                    "cannot read {}: {e}",
                    path.display()
                ))),
            }
        };
        let cred_file = ini_section(
            &read("AWS_SHARED_CREDENTIALS_FILE", ".aws/credentials")?,
            &profile,
        );
        let config_section = if profile == "default" {
            "default".to_string()
        } else {
            format!("profile {profile}")
        };
        let config_file = ini_section(&read("AWS_CONFIG_FILE", ".aws/config")?, &config_section);
        let lookup = |key: &str| {
            cred_file
                .iter()
                .chain(config_file.iter())
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.clone())
        };
        let creds = match (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY")) {
            (Some(id), Some(secret)) => Credentials {
                access_key_id: id,
                secret_access_key: secret,
                session_token: env("AWS_SESSION_TOKEN"),
            },
            _ => match (lookup("aws_access_key_id"), lookup("aws_secret_access_key")) {
                (Some(id), Some(secret)) => Credentials {
                    access_key_id: id,
                    secret_access_key: secret,
                    session_token: lookup("aws_session_token"),
                },
                _ => {
                    return Err(CacheError::Config(format!(
                        "no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or \
                         add them to profile {profile:?} of ~/.aws/credentials"
                    )));
                }
            },
        };
        let region = env("AWS_REGION")
            .or_else(|| env("AWS_DEFAULT_REGION"))
            .or_else(|| lookup("region"))
            .unwrap_or_else(|| "us-east-1".into());
        let endpoint = env("AWS_ENDPOINT_URL_S3")
            .or_else(|| env("AWS_ENDPOINT_URL"))
            .or_else(|| lookup("endpoint_url"))
            .map(|e| e.trim_end_matches('/').to_string());
        if let Some(e) = &endpoint
            && !(e.starts_with("http://") || e.starts_with("https://"))
        {
            return Err(CacheError::Config(format!(
                "S3 endpoint {} is not an http:// or https:// URL",
                crate::config::redact_url(e)
            )));
        }
        Ok(Signer {
            creds,
            region,
            endpoint,
            host: String::new(),
        })
    }

    /// The URL of the cache root in `bucket` under `prefix`; fixes the host
    /// the signatures name.
    pub fn base_url(&mut self, bucket: &str, prefix: &str) -> String {
        let prefix = if prefix.is_empty() {
            String::new()
        } else {
            format!("/{prefix}")
        };
        let url = match &self.endpoint {
            Some(e) => format!("{e}/{bucket}{prefix}"),
            None => format!("https://{bucket}.s3.{}.amazonaws.com{prefix}", self.region),
        };
        let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(&url);
        self.host = rest.split('/').next().unwrap_or(rest).to_string();
        url
    }

    /// The headers that sign `method path` with a payload of hash `payload_sha`.
    pub fn sign(&self, method: &str, path: &str, payload_sha: &str) -> Vec<(String, String)> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        self.sign_at(method, path, payload_sha, now)
    }

    fn sign_at(
        &self,
        method: &str,
        path: &str,
        payload_sha: &str,
        unix: u64,
    ) -> Vec<(String, String)> {
        let amz_date = amz_date(unix);
        let date = &amz_date[..8];
        let mut headers: Vec<(String, String)> = vec![
            ("host".into(), self.host.clone()),
            ("x-amz-content-sha256".into(), payload_sha.to_string()),
            ("x-amz-date".into(), amz_date.clone()),
        ];
        if let Some(token) = &self.creds.session_token {
            headers.push(("x-amz-security-token".into(), token.clone()));
        }
        let signed: Vec<&str> = headers.iter().map(|(k, _)| k.as_str()).collect();
        let signed = signed.join(";");
        let canonical_headers: String = headers
            .iter()
            .map(|(k, v)| format!("{k}:{}\n", v.trim()))
            .collect();
        let canonical = format!("{method}\n{path}\n\n{canonical_headers}\n{signed}\n{payload_sha}");
        let scope = format!("{date}/{}/s3/aws4_request", self.region);
        let to_sign = format!(
            "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
            Sha256::of(canonical.as_bytes()).to_hex()
        );
        let mut key = hmac(
            format!("AWS4{}", self.creds.secret_access_key).as_bytes(),
            date.as_bytes(),
        );
        for part in [self.region.as_str(), "s3", "aws4_request"] {
            key = hmac(&key, part.as_bytes());
        }
        let signature = base16ct::lower::encode_string(&hmac(&key, to_sign.as_bytes()));
        // ureq sets `host` from the URL itself.
        headers.retain(|(k, _)| k != "host");
        headers.push((
            "authorization".into(),
            format!(
                "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed}, Signature={signature}",
                self.creds.access_key_id
            ),
        ));
        headers
    }
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    // HMAC takes keys of any length.
    let mut mac = match HmacSha256::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => return Vec::new(),
    };
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// `YYYYMMDDTHHMMSSZ` for a Unix time.
pub(crate) fn amz_date(unix: u64) -> String {
    let days = (unix / 86400) as i64;
    let secs = unix % 86400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// `Code: Message` from an S3 `<Error>` document, if it is one. The text is
/// cut to printable characters and a bounded length: it comes from the network.
pub fn error_summary(body: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    let element = |name: &str| -> Option<String> {
        let open = format!("<{name}>");
        let close = format!("</{name}>");
        let start = text.find(&open)? + open.len();
        let len = text[start..].find(&close)?;
        let value: String = text[start..start + len]
            .chars()
            .filter(|c| !c.is_control())
            .take(200)
            .collect();
        Some(value)
    };
    let code = element("Code")?;
    Some(match element("Message") {
        Some(m) if !m.is_empty() => format!("{code}: {m}"),
        _ => code,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer() -> Signer {
        let mut s = Signer {
            creds: Credentials {
                access_key_id: "AKIAIOSFODNN7EXAMPLE".into(),
                secret_access_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into(),
                session_token: None,
            },
            region: "us-east-1".into(),
            endpoint: None,
            host: String::new(),
        };
        s.base_url("examplebucket", "");
        s
    }

    /// AWS's published example "GET Object" (Signature Version 4, Examples:
    /// header-based auth), which signs a `range` header too; the same key,
    /// date and scope with our three headers must give a stable signature,
    /// and the date and scope must match the example's.
    #[test]
    fn signs_with_the_documented_scope() {
        let s = signer();
        assert_eq!(s.host, "examplebucket.s3.us-east-1.amazonaws.com");
        let h = s.sign_at("GET", "/test.txt", EMPTY_SHA256, 1_369_353_600);
        let auth = &h.iter().find(|(k, _)| k == "authorization").unwrap().1;
        assert!(auth.starts_with(
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, \
             SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature="
        ));
        assert_eq!(
            h.iter().find(|(k, _)| k == "x-amz-date").unwrap().1,
            "20130524T000000Z"
        );
        assert!(!format!("{s:?}").contains("wJalr"));
    }

    #[test]
    fn dates() {
        assert_eq!(amz_date(0), "19700101T000000Z");
        assert_eq!(amz_date(951_782_400), "20000229T000000Z");
        assert_eq!(amz_date(1_764_115_199), "20251125T235959Z");
    }

    #[test]
    fn error_documents() {
        let body = b"<?xml version=\"1.0\"?><Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist</Message></Error>";
        assert_eq!(
            error_summary(body).as_deref(),
            Some("NoSuchBucket: The specified bucket does not exist")
        );
        assert_eq!(
            error_summary(b"<Error><Code>X</Code>").as_deref(),
            Some("X")
        );
        assert_eq!(error_summary(b"not xml"), None);
        assert_eq!(error_summary(&[0xff, 0xfe]), None);
    }

    #[test]
    fn profiles_in_ini_files() {
        let text = "[default]\naws_access_key_id = A\n[profile ci]\nregion=eu-west-1\n";
        assert_eq!(
            ini_section(text, "default"),
            vec![("aws_access_key_id".into(), "A".into())]
        );
        assert_eq!(ini_section(text, "profile ci")[0].1, "eu-west-1");
        assert!(ini_section(text, "nope").is_empty());
    }
}
