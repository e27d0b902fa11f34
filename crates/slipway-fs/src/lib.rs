//! Writing files so that nobody ever sees half of one: every write goes to a
//! temporary file in the destination's directory and is renamed into place,
//! so a reader finds the old content or the new, and a crash leaves no
//! truncated file. Modes are set explicitly, never taken from the umask.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// Write `bytes` to `path` (creating its directory) with the given mode.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    let mut tmp = temp_beside(path)?;
    tmp.write_all(bytes)?;
    finish(tmp, path, mode)
}

/// Copy the file at `from` to `path` (creating its directory) with the given mode.
pub fn copy_atomic(from: &Path, path: &Path, mode: u32) -> std::io::Result<()> {
    let mut tmp = temp_beside(path)?;
    std::io::copy(&mut std::fs::File::open(from)?, tmp.as_file_mut())?;
    finish(tmp, path, mode)
}

fn temp_beside(path: &Path) -> std::io::Result<tempfile::NamedTempFile> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    tempfile::Builder::new()
        .prefix(".slipway-tmp-")
        .tempfile_in(dir)
}

fn finish(tmp: tempfile::NamedTempFile, path: &Path, mode: u32) -> std::io::Result<()> {
    tmp.as_file().flush()?;
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(mode))?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
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
