//! `slipway sbom PATH [--format spdx-json|cyclonedx-json] [--output FILE]`:
//! an SBOM of one Go binary or of every Go binary under a directory.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use slipway_sbom::{CToolchain, Format, GoBinary, SbomError, SbomInput, Subject, ZigInfo};
use slipway_toolchain::{CacheDir, Zig};

use crate::cli::SbomArgs;
use crate::ui::Ui;

pub fn run(args: SbomArgs, cache: &CacheDir, ui: Ui) -> anyhow::Result<()> {
    let format = Format::parse(&args.format).ok_or_else(|| {
        crate::input(format!(
            "--format {}: unknown SBOM format; use spdx-json or cyclonedx-json",
            args.format
        ))
    })?;
    let meta = std::fs::metadata(&args.path).map_err(|e| {
        crate::input(format!(
            "{}: {e}\n  slipway sbom takes a Go binary or a directory of them (a `slipway build` output)",
            args.path.display()
        ))
    })?;
    let mut known = CToolchain {
        glibc_floor: args.glibc.clone(),
        ..CToolchain::default()
    };
    // The zig is only asked when a binary has C parts: pure Go needs none.
    let mut binaries = read(&args.path, meta.is_dir(), &known)?;
    if binaries.iter().any(GoBinary::is_cgo) {
        match Zig::discover(args.zig.as_deref(), cache)
            .map_err(|e| e.to_string())
            .and_then(|z| ZigInfo::probe(&z.path).map_err(|e| e.to_string()))
        {
            Ok(zig) => {
                known.zig = Some(zig);
                binaries = read(&args.path, meta.is_dir(), &known)?;
            }
            Err(e) => ui.warn(format!(
                "no zig to take the musl and compiler_rt versions from ({e}); they are recorded as unknown"
            )),
        }
    }
    for b in &binaries {
        for note in &b.notes {
            ui.warn(format!("{}: {note}", b.path));
        }
    }
    let subject = if meta.is_dir() {
        let name = std::fs::canonicalize(&args.path)
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| args.path.display().to_string());
        Subject::directory(&name, &binaries)
    } else {
        Subject::Binary {
            file_name: binaries[0].path.clone(),
            sha256: binaries[0].sha256.clone(),
        }
    };
    let input = SbomInput {
        subject,
        binaries,
        init: None,
        created: slipway_sbom::source_date_epoch().map_err(|e| crate::input(e.to_string()))?,
        tool_name: "slipway".into(),
        tool_version: env!("CARGO_PKG_VERSION").into(),
    };
    let bytes = format.render(&input);
    match &args.output {
        Some(file) => {
            slipway_fs::write_atomic(file, &bytes, 0o644)
                .with_context(|| format!("cannot write {}", file.display()))?;
            ui.status(format!(
                "{} SBOM of {} binar{} written to {}",
                format.name(),
                input.binaries.len(),
                if input.binaries.len() == 1 {
                    "y"
                } else {
                    "ies"
                },
                file.display()
            ));
        }
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(&bytes)
                .and_then(|()| out.flush())
                .context("cannot write to stdout")?;
        }
    }
    Ok(())
}

fn read(path: &Path, is_dir: bool, known: &CToolchain) -> anyhow::Result<Vec<GoBinary>> {
    let hint = |e: SbomError| -> anyhow::Error {
        match e {
            SbomError::Io { .. } => e.into(),
            SbomError::NotGo { .. } | SbomError::Elf { .. } => crate::input(format!(
                "{e}\n  slipway sbom describes Go programs: pass a Go executable (one with build info, as `go version -m` shows) or a directory holding some"
            ))
            .into(),
            SbomError::NoGoBinaries { .. } => crate::input(format!(
                "{e}\n  it looked for ELF files with Go build info; build with `slipway build` first, or pass a binary"
            ))
            .into(),
            other => other.into(),
        }
    };
    if is_dir {
        return slipway_sbom::read_dir(path, known).map_err(hint);
    }
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    if !bytes.starts_with(b"\x7fELF") {
        return Err(hint(SbomError::NotGo {
            path: path.display().to_string(),
        }));
    }
    let debug = slipway_elf::inspect(&bytes)
        .ok()
        .and_then(|i| i.debuglink)
        .and_then(|d| std::fs::read(path.with_file_name(d.file)).ok());
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string());
    slipway_sbom::from_binary_with_debug(&bytes, debug.as_deref(), &name, known)
        .map(|b| vec![b])
        .map_err(hint)
}
