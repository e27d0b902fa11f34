//! `WWW-Authenticate` challenges and the bearer-token flow: which scopes to
//! ask for, and keeping each token until shortly before it expires.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde::Deserialize;

use crate::credentials::Secret;

/// A parsed `WWW-Authenticate` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    Basic,
    Bearer {
        realm: String,
        service: Option<String>,
        /// The scope the registry says this request needs, if it says.
        scope: Option<String>,
    },
}

/// Parse `Bearer realm="…",service="…",scope="…"` or `Basic realm="…"`.
/// `None` for anything else, which the caller reports.
pub fn parse_challenge(header: &str) -> Option<Challenge> {
    let header = header.trim();
    let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
    let params = parse_params(rest)?;
    match scheme.to_ascii_lowercase().as_str() {
        "basic" => Some(Challenge::Basic),
        "bearer" => Some(Challenge::Bearer {
            realm: params.get("realm")?.clone(),
            service: params.get("service").cloned(),
            scope: params.get("scope").cloned(),
        }),
        _ => None,
    }
}

/// `k=v` or `k="v"` pairs separated by commas; quoted values may hold commas
/// and backslash escapes.
fn parse_params(s: &str) -> Option<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        if chars.peek().is_none() {
            return Some(out);
        }
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' {
                break;
            }
            key.push(c);
            chars.next();
        }
        chars.next()?; // '='
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next()? {
                    '"' => break,
                    '\\' => value.push(chars.next()?),
                    c => value.push(c),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == ',' {
                    break;
                }
                value.push(c);
                chars.next();
            }
        }
        out.insert(key.trim().to_ascii_lowercase(), value.trim().to_string());
    }
}

/// The token endpoint's reply; registries use either field name.
#[derive(Deserialize)]
pub(crate) struct TokenReply {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    access_token: Option<String>,
    #[serde(default)]
    expires_in: Option<u64>,
}

/// A bearer token and when to stop using it.
#[derive(Debug, Clone)]
pub(crate) struct Token {
    pub value: Secret,
    pub expires: Instant,
}

impl Token {
    pub(crate) fn from_reply(reply: TokenReply, now: Instant) -> Option<Token> {
        let value = reply
            .token
            .filter(|t| !t.is_empty())
            .or(reply.access_token.filter(|t| !t.is_empty()))?;
        // The spec's default lifetime is 60 s; renew 10 % early so a request
        // in flight does not carry a token that lapses on the way.
        let lifetime = reply.expires_in.unwrap_or(60).clamp(1, 86_400);
        let usable = Duration::from_millis(lifetime * 900);
        Some(Token {
            value: Secret::new(value),
            expires: now + usable,
        })
    }

    pub(crate) fn fresh(&self, now: Instant) -> bool {
        now < self.expires
    }
}

/// Read a token service's JSON reply into a token that lasts from `now`.
pub(crate) fn read_token_reply(body: &[u8], now: Instant) -> crate::Result<Token> {
    let parsed: TokenReply = serde_json::from_slice(body).map_err(|e| {
        crate::RegistryError::Remote(format!("the token service sent invalid JSON: {e}"))
    })?;
    Token::from_reply(parsed, now)
        .ok_or_else(|| crate::RegistryError::Remote("the token service sent no token".to_string()))
}

/// Whether a token service's reply holds a usable token; the token itself
/// stays inside the client. For the fuzz targets in `fuzz/`.
#[doc(hidden)]
pub fn token_reply_is_usable(body: &[u8]) -> bool {
    read_token_reply(body, Instant::now()).is_ok()
}

/// Scopes for acting on `repository` (plus pull on mount sources), sorted
/// so equal needs share one cached token.
pub(crate) fn scopes(repository: &str, push: bool, mount_from: &[String]) -> Vec<String> {
    let mut out = vec![format!(
        "repository:{repository}:{}",
        if push { "pull,push" } else { "pull" }
    )];
    for from in mount_from {
        if from != repository {
            out.push(format!("repository:{from}:pull"));
        }
    }
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges() {
        assert_eq!(
            parse_challenge(
                r#"Bearer realm="https://auth.example.com/token",service="registry.example.com",scope="repository:a/b:pull,push""#
            ),
            Some(Challenge::Bearer {
                realm: "https://auth.example.com/token".into(),
                service: Some("registry.example.com".into()),
                scope: Some("repository:a/b:pull,push".into()),
            })
        );
        assert_eq!(
            parse_challenge(r#"Basic realm="Registry Realm""#),
            Some(Challenge::Basic)
        );
        assert_eq!(
            parse_challenge(r#"bearer realm=http://127.0.0.1:1/t, service=x"#),
            Some(Challenge::Bearer {
                realm: "http://127.0.0.1:1/t".into(),
                service: Some("x".into()),
                scope: None,
            })
        );
        assert_eq!(parse_challenge("Negotiate abc"), None);
        assert_eq!(parse_challenge(r#"Bearer service="x""#), None);
        assert_eq!(parse_challenge(r#"Bearer realm="unterminated"#), None);
    }

    #[test]
    fn token_lifetimes() {
        let now = Instant::now();
        let t = Token::from_reply(
            TokenReply {
                token: None,
                access_token: Some("abc".into()),
                expires_in: Some(10),
            },
            now,
        )
        .unwrap();
        assert!(t.fresh(now + Duration::from_secs(8)));
        assert!(!t.fresh(now + Duration::from_secs(10)));
        assert!(
            Token::from_reply(
                TokenReply {
                    token: Some(String::new()),
                    access_token: None,
                    expires_in: None
                },
                now
            )
            .is_none()
        );
    }

    #[test]
    fn scope_sets() {
        assert_eq!(
            scopes("team/app", true, &["base/img".into(), "team/app".into()]),
            vec!["repository:base/img:pull", "repository:team/app:pull,push"]
        );
    }

    proptest::proptest! {
        #[test]
        fn challenge_parsing_never_panics(s in "\\PC{0,120}") {
            let _ = parse_challenge(&s);
        }
    }
}
