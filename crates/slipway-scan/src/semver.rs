//! Semantic versions as the Go vulnerability database compares them: semver
//! 2.0.0 precedence, a `v` prefix accepted, build metadata (`+incompatible`)
//! ignored. Go pseudo-versions (`v0.0.0-20240101000000-abcdef123456`) are
//! ordinary prereleases, so they need no special case.

use std::cmp::Ordering;
use std::fmt;

/// A parsed version (the `semver` crate's), with the text it came from.
/// Equality and order follow semver precedence, so two versions differing
/// only in build metadata are equal.
#[derive(Debug, Clone)]
pub struct Version {
    parsed: ::semver::Version,
    text: String,
}

impl Version {
    /// Parse `1.2.3`, `v1.2.3-rc.1+meta`. `None` for anything else (Go's
    /// `(devel)`, a local path, `1.2`).
    pub fn parse(s: &str) -> Option<Version> {
        let parsed = ::semver::Version::parse(s.strip_prefix('v').unwrap_or(s)).ok()?;
        Some(Version {
            parsed,
            text: s.to_string(),
        })
    }

    /// The text it was parsed from.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn is_prerelease(&self) -> bool {
        !self.parsed.pre.is_empty()
    }
}

/// A decimal number without leading zeros (semver forbids them).
fn num(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || (s.len() > 1 && s.starts_with('0'))
    {
        return None;
    }
    s.parse().ok()
}

impl Ord for Version {
    fn cmp(&self, other: &Version) -> Ordering {
        self.parsed.cmp_precedence(&other.parsed)
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Version) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Version {
    fn eq(&self, other: &Version) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Version {}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// The semver of a Go toolchain version as the database spells it:
/// `go1.21` → `1.21.0`, `go1.21.3` → `1.21.3`, `go1.21rc2` → `1.21.0-rc.2`,
/// `go1.22beta1` → `1.22.0-beta.1`. A suffix after a space or `-`/`+` (`go1.22.1
/// X:boringcrypto`, `go1.25.0-devel_…`) is dropped. `None` for a development
/// toolchain (`devel go1.23-…`) or anything unparseable.
pub fn go_version_to_semver(go: &str) -> Option<String> {
    let v = go.strip_prefix("go")?;
    let v = v.split([' ', '+']).next()?;
    // `-devel_…`/`-X:…` suffixes are not prereleases of the version before them.
    let v = v.split('-').next()?;
    let (nums, pre) = match v.find(|c: char| c.is_ascii_alphabetic()) {
        Some(i) => (&v[..i], Some(&v[i..])),
        None => (v, None),
    };
    let parts: Vec<&str> = nums.split('.').collect();
    if parts.is_empty() || parts.len() > 3 || parts.iter().any(|p| num(p).is_none()) {
        return None;
    }
    let minor = parts.get(1).copied().unwrap_or("0");
    let patch = parts.get(2).copied().unwrap_or("0");
    let core = format!("{}.{minor}.{patch}", parts[0]);
    let semver = match pre {
        None => core,
        Some(pre) => {
            // rc2 → rc.2, beta1 → beta.1; only these two appear in Go releases.
            let split = pre.find(|c: char| c.is_ascii_digit())?;
            let (word, n) = pre.split_at(split);
            if !matches!(word, "rc" | "beta" | "alpha") || num(n).is_none() || parts.len() == 3 {
                return None;
            }
            format!("{core}-{word}.{n}")
        }
    };
    Version::parse(&semver).map(|_| semver)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap_or_else(|| panic!("{s} should parse"))
    }

    #[test]
    fn precedence_follows_semver() {
        let order = [
            "1.0.0-alpha",
            "1.0.0-alpha.1",
            "1.0.0-alpha.beta",
            "1.0.0-beta",
            "1.0.0-beta.2",
            "1.0.0-beta.11",
            "1.0.0-rc.1",
            "1.0.0",
            "1.0.1",
            "1.2.0",
            "1.10.0",
            "2.0.0",
        ];
        for w in order.windows(2) {
            assert!(v(w[0]) < v(w[1]), "{} < {}", w[0], w[1]);
        }
    }

    #[test]
    fn prefix_and_build_metadata_do_not_count() {
        assert_eq!(v("v1.2.3"), v("1.2.3"));
        assert_eq!(v("v2.0.0+incompatible"), v("2.0.0"));
        assert_eq!(v("1.0.0+a"), v("1.0.0+b"));
    }

    #[test]
    fn pseudo_versions_sort_before_the_release_they_precede() {
        let pseudo = v("v0.0.0-20240101000000-abcdef123456");
        assert!(pseudo < v("0.0.1"));
        assert!(pseudo > v("0.0.0-0"));
        let later = v("v1.2.4-0.20240101000000-abcdef123456");
        assert!(later > v("1.2.3") && later < v("1.2.4"));
    }

    #[test]
    fn rejects_what_is_not_semver() {
        for s in [
            "", "(devel)", "1.2", "01.2.3", "1.2.3-01", "1.2.3-", "1.2.3+", "1.2.3.4", "v",
            "../lib",
        ] {
            assert!(Version::parse(s).is_none(), "{s}");
        }
    }

    #[test]
    fn go_versions_map_to_the_database_spelling() {
        for (go, semver) in [
            ("go1.21", "1.21.0"),
            ("go1.21.3", "1.21.3"),
            ("go1.21rc2", "1.21.0-rc.2"),
            ("go1.22beta1", "1.22.0-beta.1"),
            ("go1.26.8", "1.26.8"),
            ("go1.22.1 X:boringcrypto", "1.22.1"),
            ("go1.9", "1.9.0"),
        ] {
            assert_eq!(go_version_to_semver(go).as_deref(), Some(semver), "{go}");
        }
        for bad in ["devel go1.23-abc", "1.21", "go", "go1.21.3rc1", "gox"] {
            assert_eq!(go_version_to_semver(bad), None, "{bad}");
        }
    }

    proptest::proptest! {
        #[test]
        fn parse_never_panics(s in "\\PC{0,40}") {
            let _ = Version::parse(&s);
            let _ = go_version_to_semver(&s);
        }

        #[test]
        fn order_is_total_and_consistent(a in "v?[0-9]{1,2}\\.[0-9]{1,2}\\.[0-9]{1,2}(-[a-z0-9]{1,4}(\\.[a-z0-9]{1,3})?)?",
                                         b in "v?[0-9]{1,2}\\.[0-9]{1,2}\\.[0-9]{1,2}(-[a-z0-9]{1,4}(\\.[a-z0-9]{1,3})?)?") {
            if let (Some(x), Some(y)) = (Version::parse(&a), Version::parse(&b)) {
                proptest::prop_assert_eq!(x.cmp(&y), y.cmp(&x).reverse());
            }
        }
    }
}
