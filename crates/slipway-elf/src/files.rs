//! Strip and split on files: outputs are staged beside the destination and
//! committed by `slipway_fs`, so no reader ever sees a truncated file.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
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
    // commit both only when both are complete (the debug file first, so the
    // link in OUT never names a file that is not there yet).
    let mode = perms.mode() & 0o7777;
    let (stripped, debug) = std::thread::scope(|scope| {
        let debug = scope.spawn(|| match (debug_out, &split.debug) {
            (Some(path), Some(debug)) => stage(path, debug).map(Some),
            _ => Ok(None),
        });
        let stripped = stage(output, &split.stripped);
        let debug = debug.join().unwrap_or_else(|_| {
            Err(ElfError::Unsupported(
                "the debug file writer panicked".into(),
            ))
        });
        (stripped, debug)
    });
    let (stripped, debug) = (stripped?, debug?);
    if let (Some(staged), Some(path), Some(d)) = (debug, debug_out, &split.debug) {
        staged.commit(0o644).map_err(io_error(path))?;
        report.debug = Some((path.to_path_buf(), d.len));
        report.debug_crc = split.debug_crc;
    }
    stripped.commit(mode).map_err(io_error(output))?;
    Ok(report)
}

/// Write `out` to `path` with `mode`, atomically (through [`slipway_fs::Staged`]).
pub fn write_output(path: &Path, out: &Output<'_>, mode: u32) -> Result<(), ElfError> {
    stage(path, out)?.commit(mode).map_err(io_error(path))
}

fn io_error(path: &Path) -> impl Fn(std::io::Error) -> ElfError + '_ {
    move |source| ElfError::Io {
        what: "cannot write",
        path: path.to_path_buf(),
        source,
    }
}

/// Write `out` into a staged file beside `path` (removed if dropped).
fn stage(path: &Path, out: &Output<'_>) -> Result<slipway_fs::Staged, ElfError> {
    let err = io_error(path);
    let mut staged = slipway_fs::Staged::beside(path).map_err(&err)?;
    let mut w = std::io::BufWriter::with_capacity(1 << 20, staged.file());
    out.write_to(&mut w).map_err(&err)?;
    w.flush().map_err(&err)?;
    drop(w);
    Ok(staged)
}
