//! Strip and split on files: outputs are written to a temporary file beside
//! the destination and renamed, so no reader ever sees a truncated file.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::ElfError;
use crate::strip::{Output, StripMode, strip};

/// What a strip wrote.
#[derive(Debug, Clone)]
pub struct StripReport {
    pub input_size: u64,
    pub output: PathBuf,
    pub output_size: u64,
    pub debug: Option<(PathBuf, u64)>,
    pub debug_crc: Option<u32>,
}

/// Strip `input` into `output`; with `debug_out`, also write the debug file
/// and link to it by its file name. The output keeps the input's permissions.
pub fn strip_file(
    input: &Path,
    output: &Path,
    debug_out: Option<&Path>,
    mode: StripMode,
) -> Result<StripReport, ElfError> {
    let io = |what, path: &Path| {
        let path = path.to_path_buf();
        move |source| ElfError::Io { what, path, source }
    };
    let data = std::fs::read(input).map_err(io("cannot read", input))?;
    let perms = std::fs::metadata(input)
        .map_err(io("cannot read", input))?
        .permissions();
    let link_name = match debug_out {
        Some(d) => Some(
            d.file_name()
                .and_then(|n| n.to_str())
                .ok_or_else(|| {
                    ElfError::Unsupported(format!(
                        "debug file {} needs a UTF-8 file name",
                        d.display()
                    ))
                })?
                .to_string(),
        ),
        None => None,
    };
    let split = strip(&data, mode, link_name.as_deref())?;
    let mut report = StripReport {
        input_size: data.len() as u64,
        output: output.to_path_buf(),
        output_size: split.stripped.len,
        debug: None,
        debug_crc: None,
    };
    // The two files are independent: write them at the same time, then
    // rename both only when both are complete (the debug file first, so the
    // link in OUT never names a file that is not there yet).
    let (stripped, debug) = std::thread::scope(|scope| {
        let debug = scope.spawn(|| match (debug_out, &split.debug) {
            (Some(path), Some(debug)) => write_temp(
                path,
                debug,
                Some(std::os::unix::fs::PermissionsExt::from_mode(0o644)),
            )
            .map(Some),
            _ => Ok(None),
        });
        let stripped = write_temp(output, &split.stripped, Some(perms));
        let debug = debug.join().unwrap_or_else(|_| {
            Err(ElfError::Unsupported(
                "the debug file writer panicked".into(),
            ))
        });
        (stripped, debug)
    });
    let (stripped, debug) = (stripped?, debug?);
    if let (Some(tmp), Some(path), Some(d)) = (debug, debug_out, &split.debug) {
        persist(tmp, path)?;
        report.debug = Some((path.to_path_buf(), d.len));
        report.debug_crc = split.debug_crc;
    }
    persist(stripped, output)?;
    Ok(report)
}

/// Write `out` to `path` through a temporary file in the same directory.
pub fn write_atomic(
    path: &Path,
    out: &Output<'_>,
    perms: Option<std::fs::Permissions>,
) -> Result<(), ElfError> {
    persist(write_temp(path, out, perms)?, path)
}

fn io_error(path: &Path) -> impl Fn(std::io::Error) -> ElfError + '_ {
    move |source| ElfError::Io {
        what: "cannot write",
        path: path.to_path_buf(),
        source,
    }
}

/// Write `out` into a temporary file beside `path` (removed if dropped).
fn write_temp(
    path: &Path,
    out: &Output<'_>,
    perms: Option<std::fs::Permissions>,
) -> Result<tempfile::NamedTempFile, ElfError> {
    let err = io_error(path);
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".slipway-")
        .tempfile_in(dir)
        .map_err(&err)?;
    {
        let mut w = std::io::BufWriter::with_capacity(1 << 20, tmp.as_file_mut());
        out.write_to(&mut w).map_err(&err)?;
        w.flush().map_err(&err)?;
    }
    if let Some(p) = perms {
        tmp.as_file().set_permissions(p).map_err(&err)?;
    }
    Ok(tmp)
}

fn persist(tmp: tempfile::NamedTempFile, path: &Path) -> Result<(), ElfError> {
    tmp.persist(path).map_err(|e| io_error(path)(e.error))?;
    Ok(())
}
