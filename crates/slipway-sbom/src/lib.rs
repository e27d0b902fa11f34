//! Software bills of materials for what slipway ships: SPDX 2.3 JSON and
//! CycloneDX 1.6 JSON, written by hand-made serde structs (the existing SBOM
//! crates are stale or stop at CycloneDX 1.5).
//!
//! An [`SbomInput`] says what is described (an image, a binary, a directory)
//! and what it holds: Go binaries with their build info (main module, every
//! dependency module, the standard library) and, for cgo, their C parts (the
//! C library and the compiler runtime), plus slipway's PID-1 init. Build one
//! with [`from_binary`] / [`read_dir`] or by hand, then render it with
//! [`Format::render`]. Documents are deterministic: the same input gives the
//! same bytes, with sorted components, ids derived from content, the
//! namespace / serial number derived from the subject's digest and the time
//! taken from the input (`SOURCE_DATE_EPOCH`), never from the clock.

mod cyclonedx;
mod detect;
mod graph;
mod model;
mod purl;
mod spdx;

use std::path::PathBuf;

pub use detect::{
    CToolchain, ZigInfo, from_binary, from_binary_with_debug, init_from_binary,
    musl_version_in_lib_dir, read_dir, sha256_hex,
};
pub use model::{CPart, CPartKind, GoBinary, InitProgram, Linkage, SbomInput, Subject};

/// Where SPDX document namespaces live; `.invalid` because the namespace only
/// has to be a unique URI, not a page anyone serves.
pub const NAMESPACE_BASE: &str = "https://slipway.invalid/spdx";

/// What went wrong building an SBOM's input.
#[derive(Debug, thiserror::Error)]
pub enum SbomError {
    #[error("{path}: {source}")]
    Elf {
        path: String,
        source: slipway_elf::ElfError,
    },
    #[error("{path}: not a Go binary (it has no Go build information)")]
    NotGo { path: String },
    #[error("{}: no Go binaries in this directory", dir.display())]
    NoGoBinaries { dir: PathBuf },
    #[error("{what} {}: {source}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("zig: {0}")]
    Zig(String),
    #[error("SOURCE_DATE_EPOCH=`{0}` is not a whole number of seconds since 1970")]
    BadEpoch(String),
}

/// The document formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    SpdxJson,
    CycloneDxJson,
}

impl Format {
    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Format::SpdxJson => "spdx-json",
            Format::CycloneDxJson => "cyclonedx-json",
        }
    }

    /// `spdx-json` or `cyclonedx-json`.
    pub fn parse(s: &str) -> Option<Format> {
        match s {
            "spdx-json" | "spdx" => Some(Format::SpdxJson),
            "cyclonedx-json" | "cyclonedx" => Some(Format::CycloneDxJson),
            _ => None,
        }
    }

    /// The media type registries and cosign use for an attached SBOM.
    pub fn media_type(self) -> &'static str {
        match self {
            Format::SpdxJson => "text/spdx+json",
            Format::CycloneDxJson => "application/vnd.cyclonedx+json",
        }
    }

    /// The in-toto predicate type for an attestation of this document.
    pub fn predicate_type(self) -> &'static str {
        match self {
            Format::SpdxJson => "https://spdx.dev/Document",
            Format::CycloneDxJson => "https://cyclonedx.org/bom",
        }
    }

    /// The document's bytes.
    pub fn render(self, input: &SbomInput) -> Vec<u8> {
        match self {
            Format::SpdxJson => spdx::render(input),
            Format::CycloneDxJson => cyclonedx::render(input),
        }
    }
}

/// The two renderers by name, for callers that prefer `Document::spdx(&input)`.
pub struct Document;

impl Document {
    /// SPDX 2.3 JSON.
    pub fn spdx(input: &SbomInput) -> Vec<u8> {
        spdx::render(input)
    }

    /// CycloneDX 1.6 JSON.
    pub fn cyclonedx(input: &SbomInput) -> Vec<u8> {
        cyclonedx::render(input)
    }
}

/// `SOURCE_DATE_EPOCH` from the environment, else 0 (1970): a document's
/// time must not come from the clock.
pub fn source_date_epoch() -> Result<u64, SbomError> {
    match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(v) if v.trim().is_empty() => Ok(0),
        Ok(v) => v.trim().parse().map_err(|_| SbomError::BadEpoch(v)),
        Err(std::env::VarError::NotPresent) => Ok(0),
        Err(std::env::VarError::NotUnicode(v)) => {
            Err(SbomError::BadEpoch(v.to_string_lossy().into_owned()))
        }
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    base16ct::lower::encode_string(bytes)
}

/// A name-based (version 5) UUID of the subject's digest, the format and the
/// tool, so a document's identity follows from what it describes.
pub(crate) fn document_uuid(input: &SbomInput, format: &str) -> String {
    use sha1::Digest;
    // RFC 9562's URL namespace.
    const NS_URL: [u8; 16] = [
        0x6b, 0xa7, 0xb8, 0x11, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30,
        0xc8,
    ];
    let name = format!(
        "{NAMESPACE_BASE}/{format}/{}/{}/{}-{}",
        input.subject.digest(),
        input.subject.name(),
        input.tool_name,
        input.tool_version
    );
    let mut h = sha1::Sha1::new();
    h.update(NS_URL);
    h.update(name.as_bytes());
    let d = h.finalize();
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    b[6] = (b[6] & 0x0f) | 0x50;
    b[8] = (b[8] & 0x3f) | 0x80;
    let x = hex(&b);
    format!(
        "{}-{}-{}-{}-{}",
        &x[..8],
        &x[8..12],
        &x[12..16],
        &x[16..20],
        &x[20..]
    )
}

/// Seconds since 1970 as `YYYY-MM-DDThh:mm:ssZ`, the same function the
/// image configs use.
pub(crate) fn rfc3339(secs: u64) -> String {
    slipway_oci::spec::rfc3339(i64::try_from(secs).unwrap_or(i64::MAX))
}

/// Pretty JSON with a final newline. Serialising these plain structs cannot fail.
pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> Vec<u8> {
    let mut out = serde_json::to_vec_pretty(value).unwrap_or_default();
    out.push(b'\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(4_102_444_799), "2099-12-31T23:59:59Z");
    }

    #[test]
    fn uuid_is_version_5_and_stable() {
        let input = SbomInput {
            subject: Subject::Binary {
                file_name: "x".into(),
                sha256: "00".repeat(32),
            },
            binaries: Vec::new(),
            init: None,
            created: 0,
            tool_name: "slipway".into(),
            tool_version: "0".into(),
        };
        let a = document_uuid(&input, "spdx");
        assert_eq!(a, document_uuid(&input, "spdx"));
        assert_ne!(a, document_uuid(&input, "cyclonedx"));
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "5");
        assert!("89ab".contains(&a[19..20]));
    }
}
