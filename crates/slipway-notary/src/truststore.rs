//! notation's trust store on disk: `<dir>/x509/{ca,signingAuthority,tsa}/<name>/`
//! holding PEM or DER certificate files (`.pem`, `.crt`, `.cer`, or any
//! name: notation reads every regular file). Directories and symlinks inside
//! a named store are refused, as notation refuses them.

use std::path::{Path, PathBuf};

use crate::cert::Certificate;
use crate::error::NotaryError;
use crate::policy::StoreType;

#[derive(Debug, Clone)]
pub struct TrustStore {
    /// The directory that holds `x509/`.
    root: PathBuf,
}

impl TrustStore {
    /// `dir` is the trust store itself (it holds `x509/`) or notation's
    /// configuration directory (it holds `truststore/x509/`).
    pub fn open(dir: &Path) -> Result<TrustStore, NotaryError> {
        for root in [dir.to_path_buf(), dir.join("truststore")] {
            if root.join("x509").is_dir() {
                return Ok(TrustStore { root });
            }
        }
        Err(NotaryError::TrustStore(format!(
            "{} holds no x509/ directory; a trust store is laid out as DIR/x509/ca/NAME/*.pem",
            dir.display()
        )))
    }

    pub fn path(&self, kind: StoreType, name: &str) -> PathBuf {
        self.root.join("x509").join(kind.dir_name()).join(name)
    }

    /// The certificates of the named store `kind:name`.
    pub fn certificates(
        &self,
        kind: StoreType,
        name: &str,
    ) -> Result<Vec<Certificate>, NotaryError> {
        let dir = self.path(kind, name);
        let bad = |msg: String| NotaryError::TrustStore(msg);
        let meta = std::fs::symlink_metadata(&dir).map_err(|e| {
            bad(format!(
                "{}:{name} ({}) cannot be read: {e}",
                kind.dir_name(),
                dir.display()
            ))
        })?;
        if !meta.is_dir() {
            return Err(bad(format!(
                "{} is not a directory (symlinks are not followed)",
                dir.display()
            )));
        }
        let mut entries: Vec<_> = std::fs::read_dir(&dir)
            .map_err(|e| NotaryError::io(format!("listing {}", dir.display()), e))?
            .collect::<Result<_, _>>()
            .map_err(|e| NotaryError::io(format!("listing {}", dir.display()), e))?;
        entries.sort_by_key(|e| e.file_name());
        let mut out = Vec::new();
        for entry in entries {
            let path = entry.path();
            let ft = entry
                .file_type()
                .map_err(|e| NotaryError::io(format!("reading {}", path.display()), e))?;
            if !ft.is_file() {
                return Err(bad(format!(
                    "{} is not a regular file; a named store holds certificate files only",
                    path.display()
                )));
            }
            let bytes = std::fs::read(&path)
                .map_err(|e| NotaryError::io(format!("reading {}", path.display()), e))?;
            let certs = Certificate::read_all(&bytes)
                .map_err(|e| bad(format!("{}: {e}", path.display())))?;
            if certs.is_empty() {
                return Err(bad(format!(
                    "{} holds no certificate; every file in a trust store must hold PEM or DER certificates",
                    path.display()
                )));
            }
            for cert in &certs {
                if !cert.is_ca() && cert.is_self_signed() != Ok(true) {
                    return Err(bad(format!(
                        "{}: `{}` is neither a CA nor a self-signed signing certificate",
                        path.display(),
                        cert.subject
                    )));
                }
            }
            out.extend(certs);
        }
        if out.is_empty() {
            return Err(bad(format!("{} holds no certificates", dir.display())));
        }
        Ok(out)
    }
}
