//! Writing files so that nobody ever sees half of one: every write goes to a
//! temporary file in the destination's directory, is flushed to disk
//! (`fsync`), renamed into place, and the directory is flushed too. A reader
//! finds the old content or the new, and a crash (of slipway or of the
//! machine) leaves the old file or the complete new one, never a truncated
//! one. Modes are set explicitly, never taken from the umask.
//!
//! The cost of the two flushes is measured by `benches/fsync.sh`.

use std::fs::File;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Write `bytes` to `path` (creating its directory) with the given mode.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    let mut staged = Staged::beside(path)?;
    staged.file().write_all(bytes)?;
    staged.commit(mode)
}

/// Copy the file at `from` to `path` (creating its directory) with the given mode.
pub fn copy_atomic(from: &Path, path: &Path, mode: u32) -> std::io::Result<()> {
    let mut staged = Staged::beside(path)?;
    std::io::copy(&mut File::open(from)?, staged.file())?;
    staged.commit(mode)
}

/// A file being written beside its destination; it appears there, complete
/// and on disk, only at [`Staged::commit`]. Dropped uncommitted, it is removed.
/// Staging several files and committing them in turn keeps each one whole.
pub struct Staged {
    tmp: tempfile::NamedTempFile,
    path: PathBuf,
}

impl Staged {
    /// Start a temporary file in `path`'s directory (created if missing).
    pub fn beside(path: &Path) -> std::io::Result<Staged> {
        let dir = parent(path);
        std::fs::create_dir_all(dir)?;
        let tmp = tempfile::Builder::new()
            .prefix(".slipway-tmp-")
            .tempfile_in(dir)?;
        Ok(Staged {
            tmp,
            path: path.to_path_buf(),
        })
    }

    /// The temporary file, to write the content into.
    pub fn file(&mut self) -> &mut File {
        self.tmp.as_file_mut()
    }

    /// Set the mode, flush the content to disk, rename it into place and
    /// flush the directory entry.
    pub fn commit(self, mode: u32) -> std::io::Result<()> {
        let file = self.tmp.as_file();
        file.set_permissions(std::fs::Permissions::from_mode(mode))?;
        file.sync_all()?;
        self.tmp.persist(&self.path).map_err(|e| e.error)?;
        File::open(parent(&self.path))?.sync_all()
    }

    /// Set the mode and rename the file into place without flushing
    /// anything to disk. Running processes still only ever see the whole
    /// file, but after a machine crash it may be shorter than written (empty
    /// on ext4 and XFS). Only for caches whose readers check what they read
    /// (size or digest) and treat a short file as missing: there the two
    /// `fsync`s would cost more than the data (about 14 ms a file on a busy
    /// disk, `benches/fsync.sh`).
    pub fn commit_unsynced(self, mode: u32) -> std::io::Result<()> {
        let file = self.tmp.as_file();
        file.set_permissions(std::fs::Permissions::from_mode(mode))?;
        self.tmp.persist(&self.path).map_err(|e| e.error)?;
        Ok(())
    }
}

fn parent(path: &Path) -> &Path {
    path.parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_copies_and_replaces_with_fixed_modes() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("sub/a");
        write_atomic(&a, b"one", 0o600).unwrap();
        write_atomic(&a, b"two", 0o644).unwrap();
        assert_eq!(std::fs::read(&a).unwrap(), b"two");
        assert_eq!(
            std::fs::metadata(&a).unwrap().permissions().mode() & 0o777,
            0o644
        );
        let b = dir.path().join("b");
        copy_atomic(&a, &b, 0o755).unwrap();
        assert_eq!(std::fs::read(&b).unwrap(), b"two");
        assert_eq!(
            std::fs::metadata(&b).unwrap().permissions().mode() & 0o777,
            0o755
        );
        // Nothing temporary is left behind, and a failed copy changes nothing.
        assert!(copy_atomic(&dir.path().join("missing"), &b, 0o644).is_err());
        assert_eq!(std::fs::read(&b).unwrap(), b"two");
        let names = |d: &Path| -> Vec<String> {
            let mut v: Vec<String> = std::fs::read_dir(d)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            v.sort();
            v
        };
        assert_eq!(names(dir.path()), ["b", "sub"]);
        assert_eq!(names(&dir.path().join("sub")), ["a"]);
    }
}
