//! The hermetic environment `go build` runs in.
//!
//! Inherited Go and cgo knobs (`GOARCH`, `CGO_CFLAGS`, `CC`, `GOEXPERIMENT`, ...)
//! are dropped, because a stray one silently changes what is built. What says
//! where modules come from and where caches live (`GOPROXY`, `GOCACHE`, ...)
//! is passed through from the user's `go env`. Everything that decides the
//! build is then set explicitly, and `GOENV=off` keeps the user's `go env -w`
//! file from adding anything behind our back.

use std::collections::BTreeMap;
use std::ffi::OsString;

/// Variables a user may not declare in `[build.env]`: slipway derives them
/// from the target, and a second source would contradict it.
pub const DERIVED: &[&str] = &[
    "GOOS",
    "GOARCH",
    "GOAMD64",
    "GO386",
    "GOARM",
    "GOARM64",
    "GOMIPS",
    "GOMIPS64",
    "GOPPC64",
    "GORISCV64",
    "CGO_ENABLED",
    "CC",
    "GOENV",
    "GOTOOLCHAIN",
];

/// Go variables that say where things are, not what is built: inherited as they are.
const WHERE_NOT_WHAT: &[&str] = &["GOROOT", "GOTMPDIR", "GOCACHEPROG", "GOBIN"];

/// Whether an inherited variable is a build knob slipway drops.
pub fn is_build_knob(name: &str) -> bool {
    name.starts_with("GO") || name.starts_with("CGO_") || matches!(name, "CC" | "CXX")
}

/// The parent environment with build knobs removed, and the names removed
/// (names only: values can hold credentials).
pub fn inherited(
    parent: impl Iterator<Item = (OsString, OsString)>,
    passed_through: &[&str],
) -> (Vec<(OsString, OsString)>, Vec<String>) {
    let mut kept = Vec::new();
    let mut dropped = Vec::new();
    for (key, value) in parent {
        let name = key.to_string_lossy().into_owned();
        if !is_build_knob(&name) || WHERE_NOT_WHAT.contains(&name.as_str()) {
            kept.push((key, value));
        } else if !passed_through.contains(&name.as_str()) {
            // Passed-through settings come back explicitly from `go env`.
            dropped.push(name);
        }
    }
    dropped.sort();
    (kept, dropped)
}

/// The settings every build gets, on top of the target's own.
pub fn fixed(
    passed: &BTreeMap<String, String>,
    source_date_epoch: Option<i64>,
) -> BTreeMap<String, String> {
    let mut env: BTreeMap<String, String> = passed.clone();
    env.insert("GOENV".into(), "off".into());
    // Build with the Go that was checked, never a downloaded one.
    env.insert("GOTOOLCHAIN".into(), "local".into());
    // A go.work in some parent directory would change the build by checkout location.
    env.insert("GOWORK".into(), "off".into());
    if let Some(epoch) = source_date_epoch {
        env.insert("SOURCE_DATE_EPOCH".into(), epoch.to_string());
    }
    env
}

/// A value safe to show: credentials in URLs (`https://user:token@host`) are masked.
pub fn redact(value: &str) -> String {
    value
        .split(',')
        .map(|part| match (part.find("://"), part.find('@')) {
            (Some(scheme), Some(at)) if at > scheme => {
                let userinfo = &part[scheme + 3..at];
                let user = userinfo.split(':').next().unwrap_or_default();
                format!("{}{}:***{}", &part[..scheme + 3], user, &part[at..])
            }
            _ => part.to_string(),
        })
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(OsString, OsString)> {
        pairs
            .iter()
            .map(|(k, v)| (OsString::from(k), OsString::from(v)))
            .collect()
    }

    #[test]
    fn drops_build_knobs_and_reports_names_only() {
        let parent = vars(&[
            ("PATH", "/usr/bin"),
            ("GOARCH", "arm"),
            ("GOARM", "6"),
            ("CGO_CFLAGS", "-O3"),
            ("CC", "gcc"),
            ("GOPROXY", "https://me:secret@proxy.example"),
            ("GOROOT", "/usr/local/go"),
            ("HOME", "/root"),
        ]);
        let (kept, dropped) = inherited(parent.into_iter(), crate::PASSED_THROUGH);
        let kept: Vec<String> = kept
            .iter()
            .map(|(k, _)| k.to_string_lossy().into_owned())
            .collect();
        assert_eq!(kept, ["PATH", "GOROOT", "HOME"]);
        assert_eq!(dropped, ["CC", "CGO_CFLAGS", "GOARCH", "GOARM"]);
    }

    #[test]
    fn fixed_settings_pin_the_toolchain_and_workspace() {
        let passed = BTreeMap::from([("GOPROXY".to_string(), "off".to_string())]);
        let env = fixed(&passed, Some(1_700_000_000));
        assert_eq!(env["GOENV"], "off");
        assert_eq!(env["GOTOOLCHAIN"], "local");
        assert_eq!(env["GOWORK"], "off");
        assert_eq!(env["GOPROXY"], "off");
        assert_eq!(env["SOURCE_DATE_EPOCH"], "1700000000");
    }

    #[test]
    fn credentials_are_masked() {
        assert_eq!(
            redact("https://me:secret@proxy.example,direct"),
            "https://me:***@proxy.example,direct"
        );
        assert_eq!(
            redact("https://proxy.golang.org,direct"),
            "https://proxy.golang.org,direct"
        );
        assert_eq!(redact("off"), "off");
    }
}
