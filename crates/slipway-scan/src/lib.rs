//! What slipway checks before it ships a binary or an image, with no
//! scanner binary:
//!
//! - [`osv`]: match a Go binary's modules and standard library (from its
//!   build info) against the Go vulnerability database, a directory or zip
//!   of OSV entries;
//! - [`secrets`]: find credentials (AWS keys, private keys, JWTs, password
//!   assignments, high-entropy tokens) in files bound for an image, reporting
//!   where and what kind, never the value.

pub mod osv;
pub mod secrets;
pub mod semver;

use std::path::{Path, PathBuf};

pub use slipway_elf::GoBuildInfo;

/// What went wrong reading a database or a binary.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The database is not in the expected layout or an entry is malformed;
    /// `file` names the file (inside the zip, when it is one).
    #[error("vulnerability database {file}: {msg}")]
    Db { file: String, msg: String },
    /// An ELF file whose Go build info cannot be read.
    #[error("{0}")]
    Binary(#[from] slipway_elf::ElfError),
}

impl ScanError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> ScanError {
        ScanError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// The Go build info of an ELF file's bytes; `Ok(None)` for a file that is
/// not ELF or not built by Go.
pub fn go_build_info(data: &[u8]) -> Result<Option<GoBuildInfo>, ScanError> {
    if !data.starts_with(b"\x7fELF") {
        return Ok(None);
    }
    Ok(slipway_elf::inspect(data)?.go)
}
