//! `slipway sbom PATH [--format spdx-json|cyclonedx-json] [--output FILE]`:
//! an SBOM of one Go binary or of every Go binary under a directory.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use slipway_sbom::{
    CToolchain, Format, GoBinary, InitProgram, SbomError, SbomInput, Subject, ZigInfo,
};
use slipway_toolchain::{CacheDir, Zig};

use crate::cli::SbomArgs;
use crate::commands::image_ref;
use crate::commands::transfer::client_options;
use crate::ui::Ui;

pub fn run(args: SbomArgs, cache: &CacheDir, ui: Ui) -> anyhow::Result<()> {
    let format = Format::parse(&args.format).ok_or_else(|| {
        crate::input(format!(
            "--format {}: unknown SBOM format; use spdx-json or cyclonedx-json",
            args.format
        ))
    })?;
    let input = match image_ref::classify(&args.target)? {
        image_ref::Subject::Path(path) => path_input(&path, &args, cache, ui)?,
        image_ref::Subject::Image(location) => {
            let options = client_options(&args.registry, &location)?;
            let image =
                image_ref::read_platform(&location, &options, args.platform.as_deref(), ui)?;
            image_input(&image, &hints(&args), cache, ui)?
        }
    };
    for b in &input.binaries {
        for note in &b.notes {
            ui.warn(format!("{}: {note}", b.path));
        }
    }
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

/// What the caller knows of the C toolchain that built the binaries.
pub struct Hints<'a> {
    pub zig: Option<&'a Path>,
    pub glibc: Option<&'a str>,
}

/// Read the binaries with what is known of the C toolchain; when some are
/// cgo, ask the zig for musl's and compiler_rt's versions and read again.
fn with_toolchain<T>(
    hints: &Hints<'_>,
    cache: &CacheDir,
    ui: Ui,
    read: impl Fn(&CToolchain) -> anyhow::Result<(Vec<GoBinary>, T)>,
) -> anyhow::Result<(Vec<GoBinary>, T, CToolchain)> {
    let mut known = CToolchain {
        glibc_floor: hints.glibc.map(str::to_string),
        ..CToolchain::default()
    };
    let (binaries, extra) = read(&known)?;
    if !binaries.iter().any(GoBinary::is_cgo) {
        return Ok((binaries, extra, known));
    }
    match Zig::discover(hints.zig, cache)
        .map_err(|e| e.to_string())
        .and_then(|z| ZigInfo::probe(&z.path).map_err(|e| e.to_string()))
    {
        Ok(zig) => {
            known.zig = Some(zig);
            let (binaries, extra) = read(&known)?;
            Ok((binaries, extra, known))
        }
        Err(e) => {
            ui.warn(format!(
                "no zig to take the musl and compiler_rt versions from ({e}); they are recorded as unknown"
            ));
            Ok((binaries, extra, known))
        }
    }
}

fn input(
    subject: Subject,
    binaries: Vec<GoBinary>,
    init: Option<InitProgram>,
) -> anyhow::Result<SbomInput> {
    Ok(SbomInput {
        subject,
        binaries,
        init,
        created: slipway_sbom::source_date_epoch().map_err(|e| crate::input(e.to_string()))?,
        tool_name: "slipway".into(),
        tool_version: env!("CARGO_PKG_VERSION").into(),
    })
}

/// A binary, or every Go binary in a directory.
fn path_input(path: &Path, args: &SbomArgs, cache: &CacheDir, ui: Ui) -> anyhow::Result<SbomInput> {
    let meta = std::fs::metadata(path).map_err(|e| {
        crate::input(format!(
            "{}: {e}\n  slipway sbom takes a Go binary or a directory of them (a `slipway build` output)",
            path.display()
        ))
    })?;
    let (binaries, (), _) = with_toolchain(&hints(args), cache, ui, |known| {
        Ok((read(path, meta.is_dir(), known)?, ()))
    })?;
    let subject = if meta.is_dir() {
        let name = std::fs::canonicalize(path)
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| path.display().to_string());
        Subject::directory(&name, &binaries)
    } else {
        Subject::Binary {
            file_name: binaries[0].path.clone(),
            sha256: binaries[0].sha256.clone(),
        }
    };
    input(subject, binaries, None)
}

fn hints(args: &SbomArgs) -> Hints<'_> {
    Hints {
        zig: args.zig.as_deref(),
        glibc: args.glibc.as_deref(),
    }
}

/// One platform of an image: its Go binaries and slipway's init.
pub fn image_input(
    image: &image_ref::ImagePlatform,
    hints: &Hints<'_>,
    cache: &CacheDir,
    ui: Ui,
) -> anyhow::Result<SbomInput> {
    let files = &image.contents.executables;
    let (binaries, (), known) = with_toolchain(hints, cache, ui, |known| {
        let mut binaries = Vec::new();
        for (path, bytes) in files {
            if path == slipway_init::PATH_IN_IMAGE {
                continue;
            }
            match slipway_sbom::from_binary(bytes, path, known) {
                Ok(b) => binaries.push(b),
                // C programs and other non-Go ELF files are not Go components.
                Err(SbomError::NotGo { .. }) => ui.warn(format!(
                    "{path}: an ELF file without Go build info; not described"
                )),
                Err(e) => return Err(e.into()),
            }
        }
        Ok((binaries, ()))
    })?;
    if binaries.is_empty() {
        return Err(crate::input(format!(
            "{} ({}) holds no Go binary",
            image.name, image.contents.platform
        ))
        .into());
    }
    let init = files
        .iter()
        .find(|(p, _)| p == slipway_init::PATH_IN_IMAGE)
        .map(|(p, bytes)| {
            slipway_sbom::init_from_binary(bytes, p, env!("CARGO_PKG_VERSION"), &known)
        })
        .transpose()?;
    let subject = Subject::Image {
        name: image.name.clone(),
        index_digest: image.index_digest.clone(),
        manifest_digest: image.contents.manifest.to_string(),
        platform: image.contents.platform.clone(),
    };
    input(subject, binaries, init)
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
