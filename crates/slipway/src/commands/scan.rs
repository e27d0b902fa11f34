//! `slipway scan PATH --db DIR|ZIP`: known vulnerabilities in Go binaries,
//! from their build info and an offline Go vulnerability database.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Serialize;
use slipway_scan::osv::{Database, Finding, ScannedModule};

use crate::cli::ScanArgs;
use crate::commands::image_ref;
use crate::commands::transfer::client_options;
use crate::input;
use crate::ui::Ui;

/// One scanned binary.
#[derive(Debug, Serialize)]
pub struct BinaryReport {
    pub path: PathBuf,
    /// The Go toolchain that built it.
    pub go: String,
    pub modules: Vec<ScannedModule>,
    pub findings: Vec<Finding>,
}

pub fn run(args: ScanArgs, ui: Ui) -> anyhow::Result<()> {
    let fail = match args.fail_on.as_str() {
        "any" => true,
        "none" => false,
        other => {
            return Err(input(format!(
                "--fail-on {other}: use `any` (exit 1 on any finding) or `none` (report only)"
            ))
            .into());
        }
    };
    if !args.db.exists() {
        return Err(input(format!(
            "--db {}: no such file or directory; download https://vuln.go.dev/vulndb.zip (or mirror the database directory) and point --db at it",
            args.db.display()
        ))
        .into());
    }
    let started = std::time::Instant::now();
    let db = Database::open(&args.db)?;
    let binaries = match image_ref::classify(&args.target)? {
        image_ref::Subject::Path(path) => go_binaries(&path, ui)?,
        image_ref::Subject::Image(location) => {
            let options = client_options(&args.registry, &location)?;
            let (_, platforms) =
                image_ref::read_platforms(&location, &options, args.platform.as_deref())?;
            image_binaries(&platforms)?
        }
    };
    let mut reports = Vec::new();
    for (path, info) in binaries {
        let findings = db
            .scan(&info)
            .with_context(|| format!("scanning {}", path.display()))?;
        reports.push(BinaryReport {
            path,
            go: info.version.clone(),
            modules: slipway_scan::osv::modules(&info),
            findings,
        });
    }
    let total: usize = reports.iter().map(|r| r.findings.len()).sum();
    if args.json {
        let value = serde_json::json!({
            "database": {
                "location": db.location(),
                "modified": db.modified(),
            },
            "binaries": reports,
            "findings": total,
        });
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        print!("{}", human(&reports));
    }
    ui.status(format!(
        "{} binar{} checked against {} ({} modules indexed{}) in {}: {total} known vulnerabilit{}",
        reports.len(),
        if reports.len() == 1 { "y" } else { "ies" },
        db.location().display(),
        db.module_count(),
        db.modified()
            .map(|m| format!(", modified {m}"))
            .unwrap_or_default(),
        crate::ui::seconds(started.elapsed()),
        if total == 1 { "y" } else { "ies" },
    ));
    if fail && total > 0 {
        anyhow::bail!(
            "{total} known vulnerabilit{} found: upgrade the modules (or Go) to the fixed versions listed, or pass --fail-on none to report without failing",
            if total == 1 { "y" } else { "ies" }
        );
    }
    Ok(())
}

fn human(reports: &[BinaryReport]) -> String {
    let mut out = String::new();
    for r in reports {
        let checked = r.modules.iter().filter(|m| m.skipped.is_none()).count();
        out.push_str(&format!(
            "{} ({}, {checked} module{} checked): {}\n",
            r.path.display(),
            r.go,
            if checked == 1 { "" } else { "s" },
            match r.findings.len() {
                0 => "no known vulnerabilities".to_string(),
                1 => "1 vulnerability".to_string(),
                n => format!("{n} vulnerabilities"),
            }
        ));
        for m in r.modules.iter().filter(|m| m.skipped.is_some()) {
            out.push_str(&format!(
                "  not checked  {} {}: {}\n",
                m.path,
                m.version,
                m.skipped.as_deref().unwrap_or_default()
            ));
        }
        for f in &r.findings {
            let aliases = if f.aliases.is_empty() {
                String::new()
            } else {
                format!(" ({})", f.aliases.join(", "))
            };
            out.push_str(&format!(
                "  {}{aliases}  {} {} -> {}\n",
                f.id,
                f.module,
                f.installed,
                f.fixed.as_deref().unwrap_or("no fix yet")
            ));
            if !f.imports.is_empty() {
                out.push_str(&format!("    packages: {}\n", f.imports.join(", ")));
            }
            if let Some(s) = &f.summary {
                out.push_str(&format!("    {s}\n"));
            }
        }
    }
    out
}

/// The Go binaries in an image's platforms, named `<platform>:<path in image>`.
fn image_binaries(
    platforms: &[slipway_registry::contents::PlatformContents],
) -> anyhow::Result<Vec<(PathBuf, slipway_scan::GoBuildInfo)>> {
    let mut out = Vec::new();
    for p in platforms {
        for (path, bytes) in &p.executables {
            if let Some(info) = slipway_scan::go_build_info(bytes)? {
                out.push((PathBuf::from(format!("{}:{path}", p.platform)), info));
            }
        }
    }
    if out.is_empty() {
        return Err(input("the image holds no Go binary to scan").into());
    }
    Ok(out)
}

/// The Go binaries at `path`: the file itself, or every Go ELF under the
/// directory (sorted, symlinks not followed).
fn go_binaries(path: &Path, ui: Ui) -> anyhow::Result<Vec<(PathBuf, slipway_scan::GoBuildInfo)>> {
    let meta =
        std::fs::symlink_metadata(path).map_err(|e| input(format!("{}: {e}", path.display())))?;
    if !meta.is_dir() {
        let data =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        let info = slipway_scan::go_build_info(&data).map_err(|e| {
            input(format!(
                "{}: {e}; slipway scan reads Go build info from ELF binaries",
                path.display()
            ))
        })?;
        return match info {
            Some(info) => Ok(vec![(path.to_path_buf(), info)]),
            None => Err(input(format!(
                "{} is not a Go binary (no Go build info): give a binary built by go, or a directory of them",
                path.display()
            ))
            .into()),
        };
    }
    let mut files = Vec::new();
    walk(path, &mut files)?;
    files.sort();
    let mut out = Vec::new();
    for f in files {
        // Split debug info (`slipway build` writes <name>.debug beside each
        // binary) is ELF but not a program.
        if f.extension().is_some_and(|e| e == "debug") || !is_elf(&f)? {
            continue;
        }
        let data = std::fs::read(&f).with_context(|| format!("cannot read {}", f.display()))?;
        match slipway_scan::go_build_info(&data) {
            Ok(Some(info)) => out.push((f, info)),
            Ok(None) => {}
            // A split-off .debug file or a damaged ELF: say so, scan the rest.
            Err(e) => ui.warn(format!("{}: skipped ({e})", f.display())),
        }
    }
    if out.is_empty() {
        return Err(input(format!(
            "no Go binaries under {}: give a binary or a directory holding some (e.g. a slipway build output)",
            path.display()
        ))
        .into());
    }
    Ok(out)
}

/// Every regular file under `dir`, recursively (for `scan` and `size` of a directory).
pub(crate) fn walk(dir: &Path, files: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let entry = entry?;
        let kind = entry.file_type()?;
        if kind.is_dir() {
            walk(&entry.path(), files)?;
        } else if kind.is_file() {
            files.push(entry.path());
        }
    }
    Ok(())
}

/// Whether the file starts with the ELF magic.
pub(crate) fn is_elf(path: &Path) -> anyhow::Result<bool> {
    let mut magic = [0u8; 4];
    let mut f =
        std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(f.read_exact(&mut magic).is_ok() && &magic == b"\x7fELF")
}
