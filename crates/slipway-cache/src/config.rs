//! Where the tiers are and how the remote may be used.

use std::fmt;
use std::path::PathBuf;

use crate::error::CacheError;

/// Everything [`crate::Cache::open`] needs.
#[derive(Debug, Clone)]
pub struct CacheConfig {
    /// The local tier's directory (slipway's cache root; the CAS lives in
    /// `cas/` and the action cache in `ac/` under it).
    pub local_dir: PathBuf,
    /// The remote tier, if any.
    pub remote: Option<RemoteSpec>,
    /// Whether this runner may write to the remote.
    pub mode: RemoteMode,
    /// Do not print the remote's warning to stderr (the caller prints it,
    /// e.g. once for several processes).
    pub quiet: bool,
}

impl CacheConfig {
    /// A local-only cache in `dir`.
    pub fn local(dir: impl Into<PathBuf>) -> CacheConfig {
        CacheConfig {
            local_dir: dir.into(),
            remote: None,
            mode: RemoteMode::ReadWrite,
            quiet: false,
        }
    }
}

/// `--cache-remote-mode`: read-only runners (untrusted pull requests) never
/// send a write, not even a `HEAD` to see whether one is needed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RemoteMode {
    Read,
    #[default]
    ReadWrite,
}

impl RemoteMode {
    /// `read` or `readwrite`.
    pub fn parse(text: &str) -> Result<RemoteMode, CacheError> {
        match text {
            "read" => Ok(RemoteMode::Read),
            "readwrite" => Ok(RemoteMode::ReadWrite),
            other => Err(CacheError::Config(format!(
                "remote mode {other:?} is neither \"read\" nor \"readwrite\""
            ))),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RemoteMode::Read => "read",
            RemoteMode::ReadWrite => "readwrite",
        }
    }
}

/// A remote cache location. Credentials in a URL are kept out of
/// `Debug`/`Display` (shown as `***`).
#[derive(Clone, PartialEq, Eq)]
pub enum RemoteSpec {
    /// A Bazel remote-cache HTTP server: `base` + `/cas/<hex>` and `/ac/<hex>`.
    Http {
        /// `scheme://host[:port][/path]`, without a trailing slash or credentials.
        base: String,
        /// `user:password` from the URL, sent as HTTP basic auth.
        basic_auth: Option<String>,
    },
    /// An S3 bucket; objects are `prefix/cas/<hex>` and `prefix/ac/<hex>`.
    S3 { bucket: String, prefix: String },
}

impl RemoteSpec {
    /// Parse `http(s)://[user:password@]host[:port][/path]` or `s3://bucket[/prefix]`.
    pub fn parse(url: &str) -> Result<RemoteSpec, CacheError> {
        let bad = |why: &str| {
            CacheError::Config(format!(
                "{}: {why} (expected http://host[:port][/path], https://… or s3://bucket[/prefix])",
                redact_url(url)
            ))
        };
        if let Some(rest) = url.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            let valid = (3..=63).contains(&bucket.len())
                && bucket.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.'
                });
            if !valid {
                return Err(bad("the bucket name must be 3-63 of a-z, 0-9, '-' and '.'"));
            }
            let prefix = prefix.trim_matches('/').to_string();
            if prefix.split('/').any(|p| p == "." || p == "..")
                || prefix.contains("//")
                || prefix.chars().any(|c| c.is_control())
            {
                return Err(bad("the prefix must be plain path segments"));
            }
            return Ok(RemoteSpec::S3 {
                bucket: bucket.to_string(),
                prefix,
            });
        }
        let (scheme, rest) = if let Some(r) = url.strip_prefix("http://") {
            ("http", r)
        } else if let Some(r) = url.strip_prefix("https://") {
            ("https", r)
        } else {
            return Err(bad("unknown scheme"));
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        let (basic_auth, host) = match authority.rsplit_once('@') {
            Some((cred, host)) => (Some(cred.to_string()), host),
            None => (None, authority),
        };
        if host.is_empty() || host.contains(char::is_whitespace) {
            return Err(bad("no host"));
        }
        if path.contains(['?', '#']) || path.chars().any(|c| c.is_control() || c == ' ') {
            return Err(bad("the path must be plain (no query, fragment or spaces)"));
        }
        Ok(RemoteSpec::Http {
            base: format!("{scheme}://{host}{}", path.trim_end_matches('/')),
            basic_auth,
        })
    }
}

impl fmt::Display for RemoteSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RemoteSpec::Http { base, basic_auth } => match (basic_auth, base.split_once("://")) {
                (Some(_), Some((scheme, rest))) => write!(f, "{scheme}://***@{rest}"),
                _ => f.write_str(base),
            },
            RemoteSpec::S3 { bucket, prefix } if prefix.is_empty() => write!(f, "s3://{bucket}"),
            RemoteSpec::S3 { bucket, prefix } => write!(f, "s3://{bucket}/{prefix}"),
        }
    }
}

impl fmt::Debug for RemoteSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RemoteSpec({self})")
    }
}

/// A URL fit to print: `user:password@` becomes `***@`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let end = rest.find('/').unwrap_or(rest.len());
    match rest[..end].rfind('@') {
        Some(at) => format!("{scheme}://***@{}", &rest[at + 1..]),
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_remotes_and_hides_credentials() {
        let h = RemoteSpec::parse("http://u:secret@127.0.0.1:8080/cache/").unwrap();
        assert_eq!(
            h,
            RemoteSpec::Http {
                base: "http://127.0.0.1:8080/cache".into(),
                basic_auth: Some("u:secret".into())
            }
        );
        assert_eq!(h.to_string(), "http://***@127.0.0.1:8080/cache");
        assert!(!format!("{h:?}").contains("secret"));
        let s = RemoteSpec::parse("s3://ci-cache/go/team").unwrap();
        assert_eq!(s.to_string(), "s3://ci-cache/go/team");
        for bad in [
            "ftp://x",
            "s3://A",
            "s3://ok-bucket/../x",
            "http://",
            "http://h/p?q",
            "localhost:8080",
        ] {
            assert!(RemoteSpec::parse(bad).is_err(), "{bad}");
        }
        let e = RemoteSpec::parse("gs://u:pw@x").unwrap_err().to_string();
        assert!(!e.contains("pw"), "{e}");
        assert_eq!(RemoteMode::parse("read").unwrap(), RemoteMode::Read);
        assert!(RemoteMode::parse("write").is_err());
    }
}
