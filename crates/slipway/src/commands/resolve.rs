//! `slipway resolve`: pin the images in Kubernetes manifests to digests.

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use slipway_registry::ClientOptions;
use slipway_resolve::{Channel, ResolveError, Resolved, Resolver, Via};

use crate::cli::ResolveArgs;
use crate::input;
use crate::ui::{Ui, seconds};

pub fn run(args: ResolveArgs, ui: Ui) -> anyhow::Result<()> {
    let started = Instant::now();
    let stdin = Path::new("-");
    if args.json && !args.in_place && args.output.is_none() {
        return Err(input(
            "--json prints the report on stdout, where the YAML would go: add -o FILE or --in-place",
        )
        .into());
    }
    if args.in_place && args.files.iter().any(|f| f == stdin) {
        return Err(input("--in-place cannot rewrite stdin (-f -): use -o FILE or stdout").into());
    }
    if args.files.iter().filter(|f| *f == stdin).count() > 1 {
        return Err(input("-f - (stdin) can be given once").into());
    }
    let channel = match &args.channel {
        Some(name) => Some(Channel {
            tag: slipway_release::ChannelName::parse(name)?.tag(),
            name: name.clone(),
        }),
        None => None,
    };

    // Read everything first: nothing is written unless every file resolves.
    let mut inputs: Vec<(PathBuf, String)> = Vec::new();
    for f in &args.files {
        if f == stdin {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|error| ResolveError::Io {
                    path: "<stdin>".into(),
                    error,
                })?;
            inputs.push(("<stdin>".into(), text));
            continue;
        }
        for file in slipway_resolve::collect_files(std::slice::from_ref(f), args.recursive)? {
            let text = std::fs::read_to_string(&file).map_err(|error| ResolveError::Io {
                path: file.clone(),
                error,
            })?;
            inputs.push((file, text));
        }
    }

    let options = ClientOptions {
        insecure: args.insecure,
        ca_file: args.ca_file.clone(),
        ..ClientOptions::default()
    };
    let mut resolver = Resolver::new(options, channel);
    let spinner = ui.live.then(|| {
        let s = indicatif::ProgressBar::new_spinner();
        s.enable_steady_tick(Duration::from_millis(120));
        s
    });
    let mut results: Vec<Resolved> = Vec::with_capacity(inputs.len());
    for (file, text) in inputs {
        if let Some(s) = &spinner {
            s.set_message(format!("resolving images in {}", file.display()));
        }
        let resolved = resolver.resolve_text(&file, text);
        let resolved = match resolved {
            Ok(r) => r,
            Err(e) => {
                if let Some(s) = &spinner {
                    s.finish_and_clear();
                }
                return Err(e.into());
            }
        };
        results.push(resolved);
    }
    if let Some(s) = &spinner {
        s.finish_and_clear();
    }
    for change in results.iter().flat_map(|r| &r.changes) {
        if let Via::Pinned {
            tag_digest: Some(now),
        } = &change.via
        {
            ui.warn(format!(
                "{}:{}: {} is pinned, but its tag now points at {now}; the pin is kept",
                change.file.display(),
                change.line,
                change.from
            ));
        }
    }

    let mut written = Vec::new();
    if args.in_place {
        for r in results.iter().filter(|r| r.changed()) {
            let mode = std::fs::metadata(&r.file)
                .map(|m| m.permissions().mode() & 0o7777)
                .map_err(|error| ResolveError::Io {
                    path: r.file.clone(),
                    error,
                })?;
            slipway_fs::write_atomic(&r.file, r.text.as_bytes(), mode).map_err(|error| {
                ResolveError::Io {
                    path: r.file.clone(),
                    error,
                }
            })?;
            written.push(r.file.clone());
        }
    } else {
        let stream = slipway_resolve::join_stream(results.iter().map(|r| r.text.as_str()));
        match &args.output {
            Some(out) => {
                slipway_fs::write_atomic(out, stream.as_bytes(), 0o644).map_err(|error| {
                    ResolveError::Io {
                        path: out.clone(),
                        error,
                    }
                })?;
                written.push(out.clone());
            }
            None => {
                let mut stdout = std::io::stdout().lock();
                stdout.write_all(stream.as_bytes())?;
                stdout.flush()?;
            }
        }
    }

    let images: usize = results.iter().map(|r| r.changes.len()).sum();
    let pinned: usize = results
        .iter()
        .flat_map(|r| &r.changes)
        .filter(|c| c.from != c.to)
        .count();
    if args.json {
        let report = serde_json::json!({
            "files": results.iter().map(|r| serde_json::json!({
                "file": r.file,
                "changed": r.changed(),
                "images": r.changes,
            })).collect::<Vec<_>>(),
            "written": written,
            "channel": args.channel,
            "registry_lookups": resolver.lookups,
        });
        println!("{}", serde_json::to_string_pretty(&report)?);
    }
    ui.status(format!(
        "{images} image reference{} in {} file{}: {pinned} pinned, {} already pinned and checked \
         ({} registry lookup{}, {})",
        if images == 1 { "" } else { "s" },
        results.len(),
        if results.len() == 1 { "" } else { "s" },
        images - pinned,
        resolver.lookups,
        if resolver.lookups == 1 { "" } else { "s" },
        seconds(started.elapsed())
    ));
    Ok(())
}
