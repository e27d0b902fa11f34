//! Package URLs (purl): `pkg:type/namespace/name@version?qualifiers`, each
//! part percent-encoded as the purl specification asks.

/// Percent-encode everything but ASCII letters, digits and `.-_~`, plus the
/// characters in `keep`.
fn encode(s: &str, keep: &[u8]) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b".-_~".contains(&b) || keep.contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn with_version(mut purl: String, version: Option<&str>) -> String {
    if let Some(v) = version {
        purl.push('@');
        purl.push_str(&encode(v, &[]));
    }
    purl
}

/// `pkg:golang/<module path>@<version>`; each path segment is encoded on its
/// own so the slashes stay separators. `(devel)` is no version: it is left out.
pub fn golang(path: &str, version: Option<&str>) -> String {
    let segments: Vec<String> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| encode(s, &[]))
        .collect();
    let version = version.filter(|v| *v != "(devel)" && !v.is_empty());
    with_version(format!("pkg:golang/{}", segments.join("/")), version)
}

/// `pkg:generic/<name>@<version>`.
pub fn generic(name: &str, version: Option<&str>) -> String {
    with_version(format!("pkg:generic/{}", encode(name, &[])), version)
}

/// `pkg:oci/<name>@<digest>?arch=…&repository_url=…&tag=…` for an image
/// named `registry/repo[:tag]`.
pub fn oci(reference: &str, digest: &str, arch: Option<&str>) -> String {
    let (repo, tag) = split_tag(reference);
    let name = repo.rsplit('/').next().unwrap_or(repo).to_ascii_lowercase();
    let mut qualifiers: Vec<(&str, String)> = Vec::new();
    if let Some(a) = arch {
        qualifiers.push(("arch", encode(a, &[])));
    }
    if repo.contains('/') {
        qualifiers.push(("repository_url", encode(repo, b"/:")));
    }
    if let Some(t) = tag {
        qualifiers.push(("tag", encode(t, &[])));
    }
    let mut purl = with_version(format!("pkg:oci/{}", encode(&name, &[])), Some(digest));
    if !qualifiers.is_empty() {
        let q: Vec<String> = qualifiers.iter().map(|(k, v)| format!("{k}={v}")).collect();
        purl.push('?');
        purl.push_str(&q.join("&"));
    }
    purl
}

/// `registry:5000/team/svc:1.0` → (`registry:5000/team/svc`, `1.0`); a colon
/// before the last slash belongs to the registry's port.
fn split_tag(reference: &str) -> (&str, Option<&str>) {
    let reference = reference.split('@').next().unwrap_or(reference);
    let slash = reference.rfind('/').map_or(0, |i| i + 1);
    match reference[slash..].rfind(':') {
        Some(i) => (&reference[..slash + i], Some(&reference[slash + i + 1..])),
        None => (reference, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn golang_purls() {
        assert_eq!(
            golang("golang.org/x/text", Some("v0.14.0")),
            "pkg:golang/golang.org/x/text@v0.14.0"
        );
        assert_eq!(
            golang("github.com/a/b", Some("v2.0.0+incompatible")),
            "pkg:golang/github.com/a/b@v2.0.0%2Bincompatible"
        );
        assert_eq!(
            golang("example.com/m", Some("(devel)")),
            "pkg:golang/example.com/m"
        );
    }

    #[test]
    fn oci_purls() {
        assert_eq!(
            oci("localhost:5000/team/Svc:1.0", "sha256:ab", Some("arm64")),
            "pkg:oci/svc@sha256%3Aab?arch=arm64&repository_url=localhost:5000/team/Svc&tag=1.0"
        );
        assert_eq!(oci("hello", "sha256:ab", None), "pkg:oci/hello@sha256%3Aab");
    }
}
