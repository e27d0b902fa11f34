//! Registry credentials: given on the command line, or found the way docker
//! finds them in `~/.docker/config.json` (`credHelpers`, `credsStore`, `auths`).
//! Secrets are wrapped so that no `Debug` or error message can show them.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine as _;
use serde::Deserialize;

use crate::error::{RegistryError, Result};

/// A password or token; prints as `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }
    /// The value, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: Secret,
    /// Where they came from, for messages ("--username", "credsStore pass", …).
    pub origin: String,
}

impl Credentials {
    /// The `Authorization: Basic …` value.
    pub(crate) fn basic_header(&self) -> String {
        let raw = format!("{}:{}", self.username, self.password.expose());
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(raw)
        )
    }
}

// No Debug: these hold passwords.
#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DockerConfig {
    #[serde(default)]
    auths: BTreeMap<String, AuthEntry>,
    #[serde(default)]
    cred_helpers: BTreeMap<String, String>,
    #[serde(default)]
    creds_store: Option<String>,
}

#[derive(Default, Deserialize)]
struct AuthEntry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    identitytoken: Option<String>,
}

/// The docker config file: `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`.
pub fn docker_config_path() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("DOCKER_CONFIG") {
        return Some(PathBuf::from(dir).join("config.json"));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".docker/config.json"))
}

/// `https://index.docker.io/v1/` and `http://host:5000/v2` both name a host.
fn normalise_key(key: &str) -> &str {
    let k = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    let k = k.split('/').next().unwrap_or(k);
    if k == "index.docker.io" || k == "registry-1.docker.io" {
        "docker.io"
    } else {
        k
    }
}

/// Credentials for `registry` from the docker config at `path`; `None` when
/// it has nothing for that host (anonymous access is then tried).
pub fn from_docker_config(path: &Path, registry: &str) -> Result<Option<Credentials>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(RegistryError::io(format!("reading {}", path.display()), e)),
    };
    let config: DockerConfig = serde_json::from_str(&text).map_err(|e| {
        RegistryError::Input(format!(
            "{}: not a valid docker config ({e}); fix or move it, or pass --username/--password-stdin",
            path.display()
        ))
    })?;
    let wanted = normalise_key(registry);
    if let Some((_, helper)) = config
        .cred_helpers
        .iter()
        .find(|(k, _)| normalise_key(k) == wanted)
    {
        return run_helper(helper, registry);
    }
    if let Some(store) = &config.creds_store
        && let Some(c) = run_helper(store, registry)?
    {
        return Ok(Some(c));
    }
    let Some((key, entry)) = config
        .auths
        .iter()
        .find(|(k, _)| normalise_key(k) == wanted)
    else {
        return Ok(None);
    };
    let origin = format!("{} (auths.{key})", path.display());
    if entry
        .identitytoken
        .as_deref()
        .is_some_and(|t| !t.is_empty())
    {
        return Err(RegistryError::Auth(format!(
            "{origin} holds an OAuth identity token, which slipway cannot use yet; \
             log in with a username and password or pass --username/--password-stdin"
        )));
    }
    if let (Some(u), Some(p)) = (&entry.username, &entry.password) {
        return Ok(Some(Credentials {
            username: u.clone(),
            password: Secret::new(p.clone()),
            origin,
        }));
    }
    let Some(auth) = entry.auth.as_deref().filter(|a| !a.is_empty()) else {
        return Ok(None);
    };
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(auth.trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| {
            s.split_once(':')
                .map(|(u, p)| (u.to_string(), p.to_string()))
        });
    match decoded {
        Some((username, password)) => Ok(Some(Credentials {
            username,
            password: Secret::new(password),
            origin,
        })),
        None => Err(RegistryError::Input(format!(
            "{origin}: `auth` is not base64 of user:password; run `docker login {registry}` again"
        ))),
    }
}

#[derive(Deserialize)]
struct HelperReply {
    #[serde(rename = "Username")]
    username: String,
    #[serde(rename = "Secret")]
    secret: String,
}

/// `docker-credential-<name> get` with the host on stdin.
fn run_helper(name: &str, registry: &str) -> Result<Option<Credentials>> {
    let program = format!("docker-credential-{name}");
    let mut child = Command::new(&program)
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            RegistryError::Input(format!(
                "the docker config names credential helper `{name}`, but `{program}` cannot run ({e}); \
                 install it or pass --username/--password-stdin"
            ))
        })?;
    if let Some(mut stdin) = child.stdin.take() {
        // A helper that exits without reading is reported by its status below.
        let _ = stdin.write_all(registry.as_bytes());
    }
    let out = child
        .wait_with_output()
        .map_err(|e| RegistryError::io(format!("running {program}"), e))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        if stdout.contains("credentials not found") {
            return Ok(None);
        }
        // Helpers print only a short reason; nothing secret was sent to it but the host.
        let reason = String::from_utf8_lossy(&out.stderr);
        let reason = if reason.trim().is_empty() {
            stdout.trim().to_string()
        } else {
            reason.trim().to_string()
        };
        return Err(RegistryError::Auth(format!(
            "`{program} get` failed for {registry}: {}",
            reason.chars().take(200).collect::<String>()
        )));
    }
    let reply: HelperReply = serde_json::from_str(&stdout).map_err(|_| {
        RegistryError::Auth(format!(
            "`{program} get` did not answer with {{\"Username\",\"Secret\"}} JSON for {registry}"
        ))
    })?;
    if reply.secret.is_empty() {
        return Ok(None);
    }
    Ok(Some(Credentials {
        username: reply.username,
        password: Secret::new(reply.secret),
        origin: format!("credential helper {program}"),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(json: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        std::fs::write(&path, json).unwrap();
        (dir, path)
    }

    #[test]
    fn auths_entries() {
        let b64 = base64::engine::general_purpose::STANDARD.encode("ci:s3cret");
        let (_d, path) = config(&format!(
            r#"{{"auths":{{"https://reg.example.com/v2/":{{"auth":"{b64}"}},"other.io":{{"auth":""}}}}}}"#
        ));
        let c = from_docker_config(&path, "reg.example.com")
            .unwrap()
            .unwrap();
        assert_eq!(c.username, "ci");
        assert_eq!(c.password.expose(), "s3cret");
        assert!(!format!("{c:?}").contains("s3cret"));
        assert_eq!(from_docker_config(&path, "other.io").unwrap(), None);
        assert_eq!(from_docker_config(&path, "nowhere.io").unwrap(), None);
    }

    #[test]
    fn missing_helper_is_a_clear_error() {
        let (_d, path) = config(r#"{"credHelpers":{"reg.io":"slipway-test-absent"}}"#);
        let e = from_docker_config(&path, "reg.io").unwrap_err().to_string();
        assert!(e.contains("docker-credential-slipway-test-absent"), "{e}");
    }

    #[test]
    fn bad_json_names_the_file() {
        let (_d, path) = config("{not json");
        let e = from_docker_config(&path, "reg.io").unwrap_err().to_string();
        assert!(e.contains("config.json"), "{e}");
    }
}
