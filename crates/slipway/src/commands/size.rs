//! `slipway size`: where the bytes of a binary, a build output or an image
//! go, and `--diff` between two of them. The accounting is slipway-size's;
//! this reads the inputs and prints.

use std::path::Path;

use anyhow::Context;
use serde::Deserialize;
use slipway_registry::{Children, Quiet};
use slipway_registry::{ClientOptions, Location};
use slipway_size::{ImageReport, LayerRow, PlatformReport, Report};

use crate::cli::SizeArgs;
use crate::commands::image_ref;
use crate::commands::scan::{is_elf, walk};
use crate::commands::transfer::client_options;
use crate::input;
use crate::ui::{Ui, seconds};

pub fn run(args: SizeArgs, ui: Ui) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    if let Some(pair) = &args.diff {
        let [old, new] = pair.as_slice() else {
            return Err(input("--diff takes two arguments: OLD NEW").into());
        };
        let old_report = load(old, &args, ui)?;
        let new_report = load(new, &args, ui)?;
        if std::mem::discriminant(&old_report) != std::mem::discriminant(&new_report) {
            return Err(input(format!(
                "--diff {old} {new}: compare a binary with a binary, a directory with a directory, an image with an image"
            ))
            .into());
        }
        let rows = slipway_size::diff(&old_report, &new_report);
        if args.json {
            let value = serde_json::json!({ "old": old, "new": new, "changes": rows });
            println!("{}", serde_json::to_string_pretty(&value)?);
        } else {
            print!("{}", slipway_size::human_diff(&rows, args.top.max(1) * 4));
        }
        ui.status(format!(
            "{} rows changed between {old} and {new} ({})",
            rows.len(),
            seconds(started.elapsed())
        ));
        return Ok(());
    }
    let target = args
        .target
        .as_deref()
        .ok_or_else(|| input("give a BINARY, DIR or IMAGE, or --diff OLD NEW"))?;
    let report = load(target, &args, ui)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", slipway_size::human(&report, args.top.max(1)));
    }
    ui.status(format!(
        "size report of {target} in {}",
        seconds(started.elapsed())
    ));
    Ok(())
}

/// The report of whatever `arg` names.
fn load(arg: &str, args: &SizeArgs, ui: Ui) -> anyhow::Result<Report> {
    match image_ref::classify(arg)? {
        image_ref::Subject::Path(path) => {
            if path.is_dir() {
                directory(&path)
            } else {
                Ok(Report::Binary(binary(&path)?))
            }
        }
        image_ref::Subject::Image(location) => {
            ui.status(format!("reading {location}"));
            let options = client_options(&args.registry, &location)?;
            Ok(Report::Image(image(
                &location,
                &options,
                args.platform.as_deref(),
            )?))
        }
    }
}

fn binary(path: &Path) -> anyhow::Result<slipway_size::BinaryReport> {
    slipway_size::analyze_path(path).map_err(|e| match e {
        slipway_size::SizeError::Elf { .. } => anyhow::Error::new(input(format!(
            "{e}; slipway size reads ELF binaries, `slipway build` output directories and images"
        ))),
        other => anyhow::Error::new(other),
    })
}

/// Every ELF program under `dir` (split `.debug` files are read through
/// their binary), labelled by path relative to `dir`.
fn directory(dir: &Path) -> anyhow::Result<Report> {
    let mut files = Vec::new();
    walk(dir, &mut files)?;
    files.sort();
    let mut binaries = Vec::new();
    for f in files {
        if f.extension().is_some_and(|e| e == "debug") || !is_elf(&f)? {
            continue;
        }
        let mut report = binary(&f)?;
        report.path = f
            .strip_prefix(dir)
            .unwrap_or(&f)
            .to_string_lossy()
            .into_owned();
        binaries.push(report);
    }
    if binaries.is_empty() {
        return Err(input(format!(
            "no ELF binaries under {}: give a binary, a `slipway build` output directory or an image",
            dir.display()
        ))
        .into());
    }
    Ok(Report::Directory {
        dir: dir.display().to_string(),
        binaries,
    })
}

#[derive(Deserialize)]
struct History {
    #[serde(default)]
    created_by: String,
    #[serde(default)]
    empty_layer: bool,
}

#[derive(Deserialize)]
struct Config {
    #[serde(default)]
    history: Vec<History>,
}

/// Each platform of an image: its layers with their descriptor sizes (what
/// a pull transfers, whatever the compression), and its binaries.
fn image(
    location: &Location,
    options: &ClientOptions,
    platform: Option<&str>,
) -> anyhow::Result<ImageReport> {
    let (_, platforms) = image_ref::read_platforms(location, options, platform)?;
    let store = slipway_registry::open_source(location, options)?;
    let scratch = tempfile::Builder::new()
        .prefix("slipway-size-")
        .tempdir()
        .context("creating a scratch directory")?;
    let mut out = Vec::new();
    for p in platforms {
        let manifest = store.manifest(&p.manifest)?;
        let Children::Blobs(blobs) = manifest.children()? else {
            continue;
        };
        let Some((config, layers)) = blobs.split_first() else {
            continue;
        };
        let config_path = store.fetch_blob(config, scratch.path(), &Quiet)?;
        let config_bytes = std::fs::read(&config_path)
            .with_context(|| format!("reading {}", config_path.display()))?;
        let history: Vec<String> = serde_json::from_slice::<Config>(&config_bytes)
            .map(|c| {
                c.history
                    .into_iter()
                    .filter(|h| !h.empty_layer)
                    .map(|h| h.created_by)
                    .collect()
            })
            .unwrap_or_default();
        let layers: Vec<LayerRow> = layers
            .iter()
            .enumerate()
            .map(|(i, l)| LayerRow {
                digest: l.digest.to_string(),
                media_type: l.media_type.clone(),
                size: l.size,
                created_by: history.get(i).cloned().unwrap_or_default(),
            })
            .collect();
        let mut binaries = Vec::new();
        for (path, bytes) in &p.executables {
            binaries.push(
                slipway_size::analyze(path, bytes, None)
                    .map_err(|e| input(format!("{}: {e}", p.platform)))?,
            );
        }
        out.push(PlatformReport::new(
            p.platform.clone(),
            p.manifest.to_string(),
            manifest.bytes.len() as u64,
            config.size,
            layers,
            binaries,
        ));
    }
    Ok(ImageReport {
        image: location.to_string(),
        platforms: out,
    })
}
