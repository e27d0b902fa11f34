//! What can go wrong, with where it went wrong.

use std::path::PathBuf;

use slipway_registry::RegistryError;

use crate::scan::MAX_DEPTH;

/// A problem in one file's YAML; `line`/`column` are 1-based.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScanError {
    #[error("line {line}, column {column}: not valid YAML: {message}")]
    Syntax {
        line: usize,
        column: usize,
        message: String,
    },
    #[error("line {line}, column {column}: nested deeper than {MAX_DEPTH} levels")]
    TooDeep { line: usize, column: usize },
    #[error(
        "line {line}, column {column}: the image at {path} cannot be rewritten in place: {why}"
    )]
    Unrewritable {
        line: usize,
        column: usize,
        path: String,
        why: String,
    },
}

impl ScanError {
    pub fn line(&self) -> usize {
        match self {
            ScanError::Syntax { line, .. }
            | ScanError::TooDeep { line, .. }
            | ScanError::Unrewritable { line, .. } => *line,
        }
    }

    pub fn column(&self) -> usize {
        match self {
            ScanError::Syntax { column, .. }
            | ScanError::TooDeep { column, .. }
            | ScanError::Unrewritable { column, .. } => *column,
        }
    }

    /// The message without its position.
    pub fn message(&self) -> String {
        let full = self.to_string();
        match full.split_once(": ") {
            Some((_, rest)) => rest.to_string(),
            None => full,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    /// The file is not YAML slipway can edit in place.
    #[error("{}:{}:{}: {}; nothing was written", file.display(), error.line(), error.column(), error.message())]
    Yaml { file: PathBuf, error: ScanError },
    /// An image value is not an image reference.
    #[error("{}:{line}: {error}", file.display())]
    Reference {
        file: PathBuf,
        line: usize,
        error: RegistryError,
    },
    /// The registry has no such tag or digest.
    #[error("{}:{line}: {message}", file.display())]
    NotFound {
        file: PathBuf,
        line: usize,
        message: String,
    },
    /// Talking to the registry failed.
    #[error("{}:{line}: resolving {image}: {error}", file.display())]
    Registry {
        file: PathBuf,
        line: usize,
        image: String,
        error: RegistryError,
    },
    /// Reading or writing a file failed.
    #[error("{}: {error}", path.display())]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    /// Arguments that cannot work.
    #[error("{0}")]
    Input(String),
}

impl ResolveError {
    /// Whether the fault is in what the user gave (as opposed to the
    /// registry or the machine).
    pub fn is_input(&self) -> bool {
        match self {
            ResolveError::Yaml { .. }
            | ResolveError::Reference { .. }
            | ResolveError::NotFound { .. }
            | ResolveError::Input(_) => true,
            ResolveError::Registry { error, .. } => matches!(
                error,
                RegistryError::Input(_) | RegistryError::Auth(_) | RegistryError::NotFound(_)
            ),
            ResolveError::Io { .. } => false,
        }
    }
}
