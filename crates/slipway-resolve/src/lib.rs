//! Pinning Kubernetes manifests to image digests, the way `ko resolve` does
//! for any image: every container image of a workload (`name:tag`, or a bare
//! `name`) becomes `name@sha256:…`, looked up in its registry, so what runs is
//! exactly what was verified, whatever happens to the tag later.
//!
//! Only the image values change. The YAML is never re-serialised: the
//! [`scan`] module finds each image's bytes in the source and [`splice`]s the
//! new text in, so comments, key order, quoting, indentation and document
//! separators stay byte for byte as they were. See `docs/resolve.md`.

mod error;
mod resolve;
pub mod scan;

pub use error::{ResolveError, ScanError};
pub use resolve::{Change, Channel, Resolved, Resolver, Via, collect_files};
pub use scan::{ImageSite, Style, find_images, rewrite, splice};

/// Several files as one YAML stream, as `kubectl apply -f -` reads it: each
/// file's text as it is, with a `---` line between files that do not start
/// with one.
pub fn join_stream<'a>(texts: impl IntoIterator<Item = &'a str>) -> String {
    let mut out = String::new();
    for (i, text) in texts.into_iter().enumerate() {
        if i > 0 {
            if !out.ends_with('\n') {
                out.push('\n');
            }
            if !text.starts_with("---") {
                out.push_str("---\n");
            }
        }
        out.push_str(text);
    }
    out
}
