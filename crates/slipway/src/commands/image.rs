//! `slipway image`: plan, build and assemble a multi-platform OCI image.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use slipway_attest::provenance::{GitSource, ProvenanceInput, Tool};
use slipway_oci::spec::{Platform as OciPlatform, rfc3339};
use slipway_oci::{BlobStore, Format, ImageName};
use slipway_registry::{ClientOptions, Location};
use slipway_toolchain::CacheDir;

use crate::cli::{BuildSettings, ContentArgs, ImageArgs};
use crate::commands::{build, sign};
use crate::config::ImageConfig;
use crate::input;
use crate::ui::{Ui, seconds};

/// An image assembled into the blob store, not yet written anywhere.
pub struct Assembled {
    pub store: BlobStore,
    pub set: slipway_oci::ImageSet,
    pub name: ImageName,
    pub plan: slipway_build::Plan,
    /// The build's inputs, for SLSA provenance.
    pub provenance: ProvenanceInput,
    /// Layers compressed now, and layers found already compressed.
    pub compressed_layers: usize,
    pub reused_layers: usize,
    /// The runtime closure check, per platform.
    pub checks: Vec<slipway_image::PlatformCheck>,
    /// The base image built on, if any.
    pub base: Option<slipway_image::base::BaseReport>,
    /// The size budgets checked (binaries, then each platform's image).
    pub budgets: Vec<slipway_size::BudgetCheck>,
}

pub fn run(args: ImageArgs, cache: &CacheDir, ui: Ui) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let (module_dir, cfg) = build::load_module(&args.settings.dir)?;
    let icfg = &cfg.image;
    let format: Format = args
        .format
        .as_deref()
        .or(icfg.format.as_deref())
        .unwrap_or("oci")
        .parse()
        .map_err(input_err)?;
    let out = match (&args.out, &icfg.out) {
        (Some(out), _) => std::path::absolute(out)?,
        (None, Some(out)) => module_dir.join(out),
        (None, None) if format == Format::Oci => module_dir.join("dist/image"),
        (None, None) => module_dir.join("dist/image.tar"),
    };
    if format == Format::DockerArchive
        && (args.supply_chain.sign_key.is_some() || args.supply_chain.sbom)
    {
        return Err(input(
            "docker-archive cannot carry signatures or SBOMs (docker load drops them); \
             use --format oci or oci-archive, or slipway push",
        )
        .into());
    }
    let key = sign::supply_chain_key(&args.supply_chain)?;
    let Assembled {
        store,
        set,
        name,
        plan,
        provenance,
        compressed_layers,
        reused_layers,
        checks,
        base,
        budgets,
    } = assemble(
        &args.settings,
        &args.secrets.allow_secrets,
        &args.content,
        args.tag.clone(),
        out.clone(),
        cache,
        ui,
    )?;
    match format {
        // One archive writer, the one `slipway copy` uses: it streams each
        // blob from the blob store, so memory stays bounded whatever the size.
        Format::DockerArchive | Format::OciArchive => {
            if out.is_dir() {
                return Err(input(format!(
                    "{} is a directory; an archive format needs a file path",
                    out.display()
                ))
                .into());
            }
            let location = match format {
                Format::DockerArchive => Location::DockerArchive { file: out.clone() },
                _ => Location::OciArchive {
                    file: out.clone(),
                    tag: Some(name.tag.clone()),
                },
            };
            // A fresh archive that replaces any old file at `out` once complete.
            let dest = slipway_registry::open_destination(
                &location,
                &ClientOptions::default(),
                &name.to_string(),
            )?;
            slipway_registry::copy(
                &slipway_image::Staged::new(&store, &set, &name),
                dest.as_ref(),
                &slipway_registry::CopyOptions {
                    tag: Some(name.tag.clone()),
                    immutable: false,
                    attachments: false,
                    referrers: slipway_registry::ReferrerSelection::None,
                    merge: None,
                    jobs: 4,
                },
                &slipway_registry::Quiet,
            )?;
        }
        Format::Oci => {
            slipway_oci::layout::write(&store, &set, &name, &out).map_err(|e| match e {
                slipway_oci::OciError::Input(_) => anyhow::Error::new(input(e.to_string())),
                other => anyhow::Error::new(other),
            })?
        }
    }
    let attached = match format {
        // Opening an archive to add to it unpacks it and writes it back
        // whole: only when something is added.
        Format::Oci | Format::OciArchive
            if sign::adds_anything(key.as_ref(), &args.supply_chain) =>
        {
            let location = match format {
                Format::Oci => Location::Oci {
                    dir: out.clone(),
                    tag: Some(name.tag.clone()),
                },
                _ => Location::OciArchive {
                    file: out.clone(),
                    tag: Some(name.tag.clone()),
                },
            };
            let written = slipway_registry::open_for_update(&location, &ClientOptions::default())?;
            let summary = sign::finish_image(
                written.as_ref(),
                &set.index.digest,
                key.as_ref(),
                &args.supply_chain,
                &provenance,
                cache,
                ui,
            )?;
            written.finish()?;
            summary
        }
        _ => serde_json::Value::Null,
    };

    let manifests: Vec<_> = set
        .manifests
        .iter()
        .zip(&plan.targets)
        .map(|(m, t)| {
            serde_json::json!({
                "platform": t.target.platform.to_string(),
                "oci_platform": m.descriptor.platform.as_ref().map(|p| p.to_string()),
                "digest": m.descriptor.digest.to_string(),
                "size": m.total_size(),
            })
        })
        .collect();
    if args.json {
        let value = serde_json::json!({
            "index_digest": set.index.digest.to_string(),
            "manifests": manifests,
            "tag": name.to_string(),
            "cache_steps": super::shared_steps::last_run(),
            "cache": super::cache::last_run(),
            "format": args.format.as_deref().or(icfg.format.as_deref()).unwrap_or("oci"),
            "out": out,
            "compressed_layers": compressed_layers,
            "attached": attached,
            "reused_layers": reused_layers,
            "closure": checks,
            "base": base,
            "budgets": budgets,
        });
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        for (m, t) in set.manifests.iter().zip(&plan.targets) {
            println!(
                "{:<26} {}  {:>9} bytes",
                t.target.platform.to_string(),
                m.descriptor.digest,
                m.total_size()
            );
        }
        println!("{:<26} {}", "index", set.index.digest);
    }
    ui.status(format!(
        "image {name} ({} platform{}) in {} written to {}",
        set.manifests.len(),
        if set.manifests.len() == 1 { "" } else { "s" },
        seconds(started.elapsed()),
        out.display()
    ));
    Ok(())
}

/// Plan, build and assemble the image the module describes. `out` is where
/// the build would install (unused by images, but part of the plan).
pub fn assemble(
    settings: &BuildSettings,
    allow_secrets: &[String],
    content: &ContentArgs,
    tag: Option<String>,
    out: PathBuf,
    cache: &CacheDir,
    ui: Ui,
) -> anyhow::Result<Assembled> {
    let (module_dir, cfg) = build::load_module(&settings.dir)?;
    let icfg = &cfg.image;
    // Everything read from the module and the host is read and checked
    // before building, so a missing file fails in a second, not after
    // minutes of compiling; the secret gate sees the module's files now.
    let prepared = slipway_image::prepare(
        image_settings(icfg, allow_secrets, content, &module_dir)?,
        &module_dir,
    )
    .map_err(|e| image_err(e, ui))?;
    // The init ships inside slipway, built for every architecture: a pure-Go
    // image needs no C compiler.
    let with_init = icfg.init.unwrap_or(true);
    // Budgets are read now, so a typo fails before compiling.
    let binary_budget = build::binary_budget(settings, &cfg.build)?;
    let image_budget = crate::config::budget(
        content.image_budget.as_deref(),
        "--image-budget",
        icfg.budget.as_ref(),
        "budget in [image] of slipway.toml",
    )
    .map_err(input)?;

    // The binaries are never installed anywhere: the image takes them from staging.
    // One plan per package: `[image] packages`, else the build's one package.
    let packages: Vec<Option<String>> = match &icfg.packages {
        Some(list) if !list.is_empty() => {
            if settings.package.is_some() {
                return Err(input(
                    "--package and packages in [image] both name what to build: use one",
                )
                .into());
            }
            list.iter().cloned().map(Some).collect()
        }
        _ => vec![None],
    };
    let mut plans = Vec::new();
    for package in &packages {
        let mut build_cfg = cfg.build.clone();
        if let Some(p) = package {
            build_cfg.package = Some(p.clone());
            build_cfg.name = None; // each binary is named for its package
        }
        plans.push(build::plan(
            settings,
            &build_cfg,
            &module_dir,
            out.clone(),
            cache,
        )?);
    }
    let plan = plans.remove(0);
    let name: ImageName = tag
        .or(icfg.tag.clone())
        .unwrap_or_else(|| format!("{}:latest", plan.name.to_ascii_lowercase()))
        .parse()
        .map_err(input_err)?;
    build::warn_dropped(&plan, ui);
    // A platform slipway ships no init for fails now, not after compiling.
    if with_init {
        for t in &plan.targets {
            slipway_init::build(&t.target.platform).map_err(|e| input(e.to_string()))?;
        }
    }
    // The base is read, and every platform found in it, before compiling.
    let base_store = match base_location(content, icfg, &module_dir)? {
        Some((name, location)) => Some((
            name,
            slipway_registry::open_source(&location, &ClientOptions::default())?,
        )),
        None => None,
    };
    let base = match &base_store {
        Some((name, store)) => {
            let base = slipway_image::base::open(store.as_ref(), name)?;
            let platforms: Vec<OciPlatform> = plan
                .targets
                .iter()
                .map(|t| oci_platform(&t.target))
                .collect();
            base.check_platforms(&platforms)?;
            ui.status(format!("base {name} is {}", base.digest));
            Some(base)
        }
        None => None,
    };
    let built = build::execute(&plan, settings.jobs, ui)?;
    let mut more = Vec::new();
    for p in &plans {
        more.push((p.name.clone(), build::execute(p, settings.jobs, ui)?));
    }
    let mut budgets = build::check_binaries(&plan, &built, binary_budget.as_ref())?;
    for (i, p) in plans.iter().enumerate() {
        budgets.extend(build::check_binaries(
            p,
            &more[i].1,
            binary_budget.as_ref(),
        )?);
    }

    let mut targets = Vec::new();
    for (i, b) in built.iter().enumerate() {
        let mut apps = vec![(plan.name.clone(), b.shipped.binary.path.clone())];
        for (name, built) in &more {
            apps.push((name.clone(), built[i].shipped.binary.path.clone()));
        }
        let init = match with_init {
            true => {
                Some(slipway_init::build(&b.target.platform).map_err(|e| input(e.to_string()))?)
            }
            false => None,
        };
        targets.push(slipway_image::Target {
            platform: oci_platform(&b.target),
            label: b.target.to_string(),
            apps,
            init,
        });
    }
    let mtime = plan.source_date_epoch.unwrap_or(0).max(0) as u64;
    let meta = slipway_image::git_metadata(&module_dir, &rfc3339(mtime as i64));
    let store = BlobStore::new(cache.path("oci/blobs"));
    // With a remote cache, compressed layers come from it (or go to it).
    let shared = super::shared_steps::open(&plan, ui).map(std::sync::Arc::new);
    if let Some(c) = &shared {
        slipway_oci::tier::set_layer_tier(Some(std::sync::Arc::new(
            super::shared_steps::LayerStore(c.clone()),
        )));
    }
    let assembled = prepared.assemble(
        base.as_ref(),
        &store,
        &cache.path("oci/layers"),
        targets,
        mtime,
        meta.clone(),
    );
    if let Some(c) = shared {
        slipway_oci::tier::set_layer_tier(None);
        c.flush();
        super::shared_steps::finish(super::shared_steps::LAYER_NS, &c, ui);
    }
    let assembly = assembled.map_err(|e| image_err(e, ui))?;
    if assembly.allowed_secrets > 0 {
        ui.status(format!(
            "secret gate: {} finding{} allowed by the allow-list",
            assembly.allowed_secrets,
            if assembly.allowed_secrets == 1 {
                ""
            } else {
                "s"
            }
        ));
    }
    // Checked before anything leaves the blob store (a cache): `image` and
    // `push` write and push nothing for an image over its budget.
    if let Some(budget) = &image_budget {
        let mut checks = Vec::new();
        for (i, (m, b)) in assembly.set.manifests.iter().zip(&built).enumerate() {
            let size = m.total_size();
            let top = if size > budget.limit {
                image_top(m, b, &more, i)?
            } else {
                Vec::new()
            };
            checks.push(slipway_size::check_budget(
                format!("the {} image", b.target.platform),
                size,
                budget,
                top,
            ));
        }
        if let Some(e) = slipway_size::over_budget_message(&checks) {
            return Err(e.into());
        }
        budgets.extend(checks);
    }
    let provenance = provenance(&plan, &plans, &meta);
    Ok(Assembled {
        budgets,
        store,
        set: assembly.set,
        name,
        plan,
        provenance,
        compressed_layers: assembly.compressed_layers,
        reused_layers: assembly.reused_layers,
        checks: assembly.checks,
        base: assembly.base,
    })
}

/// The largest parts of one platform's image: its layers (compressed, as
/// their descriptors record) and the largest parts of its binaries.
fn image_top(
    manifest: &slipway_oci::image::StoredManifest,
    app: &slipway_build::Built,
    more: &[(String, Vec<slipway_build::Built>)],
    platform: usize,
) -> anyhow::Result<Vec<slipway_size::Row>> {
    let mut rows: Vec<slipway_size::Row> = manifest
        .layers
        .iter()
        .map(|l| slipway_size::Row {
            name: format!("layer {} (compressed)", l.created_by),
            size: l.size,
        })
        .collect();
    rows.sort_by_key(|r| std::cmp::Reverse(r.size));
    let mut built = vec![app];
    built.extend(more.iter().filter_map(|(_, b)| b.get(platform)));
    for b in built {
        let s = &b.shipped;
        let debug = s.debug.as_ref().map(|d| d.path.as_path());
        let report = slipway_size::analyze_files(&s.binary.path, debug)?;
        let name = s
            .binary
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        rows.extend(report.top(5).into_iter().map(|r| slipway_size::Row {
            name: format!("{name} (uncompressed): {}", r.name),
            size: r.size,
        }));
    }
    Ok(rows)
}

fn oci_platform(target: &slipway_platform::Target) -> OciPlatform {
    OciPlatform {
        architecture: target.arch().goarch().to_string(),
        os: "linux".into(),
        variant: target.platform.oci_variant(),
    }
}

/// `--base`, else `base` in `[image]` (its paths relative to the module): the
/// name as written (recorded in the image) and where it is.
fn base_location(
    content: &ContentArgs,
    icfg: &ImageConfig,
    module_dir: &Path,
) -> anyhow::Result<Option<(String, Location)>> {
    let (name, from_config) = match (&content.base, &icfg.base) {
        (Some(flag), _) => (flag.clone(), false),
        (None, Some(key)) => (key.clone(), true),
        (None, None) => return Ok(None),
    };
    let whence = if from_config {
        "base in [image]"
    } else {
        "--base"
    };
    let location: Location = name
        .parse()
        .map_err(|e| input(format!("{whence} = \"{name}\": {e}")))?;
    let location = match location {
        Location::Oci { dir, tag } if from_config && dir.is_relative() => Location::Oci {
            dir: module_dir.join(dir),
            tag,
        },
        Location::OciArchive { file, tag } if from_config && file.is_relative() => {
            Location::OciArchive {
                file: module_dir.join(file),
                tag,
            }
        }
        Location::DockerArchive { .. } => {
            return Err(input(format!(
                "{whence} = \"{name}\": a docker-archive cannot be read; use a registry \
                 reference, oci:DIR[:tag] or oci-archive:FILE[:tag]"
            ))
            .into());
        }
        other => other,
    };
    Ok(Some((name, location)))
}

/// `[image]` and the flags, as the image stage's typed settings.
fn image_settings(
    icfg: &ImageConfig,
    allow_secrets: &[String],
    content: &ContentArgs,
    module_dir: &Path,
) -> anyhow::Result<slipway_image::ImageSettings> {
    let runtime = match (&content.runtime, &icfg.runtime) {
        (Some(flag), _) => Some(
            flag.parse()
                .map_err(|e: slipway_image::ImageError| input(format!("--runtime {flag}: {e}")))?,
        ),
        (None, Some(key)) => Some(key.parse().map_err(|e: slipway_image::ImageError| {
            input(format!("[image] in slipway.toml: {e}"))
        })?),
        (None, None) => None,
    };
    let sysroot = match (&content.sysroot, &icfg.sysroot) {
        (Some(flag), _) => Some(std::path::absolute(flag)?),
        (None, Some(key)) => Some(module_dir.join(key)),
        (None, None) => None,
    };
    let mut allow: Vec<(String, String)> = allow_secrets
        .iter()
        .map(|a| (a.clone(), "--allow-secret".to_string()))
        .collect();
    allow.extend(
        icfg.allow_secrets
            .iter()
            .flatten()
            .map(|a| (a.clone(), "allow_secrets in [image]".to_string())),
    );
    Ok(slipway_image::ImageSettings {
        ports: icfg.ports.clone().unwrap_or_default(),
        env: icfg.env.clone().unwrap_or_default(),
        cmd: icfg.cmd.clone().unwrap_or_default(),
        ca_certs: icfg.ca_certs.clone(),
        zoneinfo: icfg.zoneinfo == Some(true),
        data: icfg.data.clone(),
        compression: compression(icfg, content)?,
        init: icfg.init.unwrap_or(true),
        allow_secrets: allow,
        runtime,
        sysroot,
        base: content.base.clone().or(icfg.base.clone()),
        user: icfg.user.clone(),
        workdir: icfg.workdir.clone(),
        labels: icfg.labels.clone().unwrap_or_default(),
        annotations: icfg.annotations.clone().unwrap_or_default(),
        entrypoint: icfg.entrypoint.clone(),
        files: icfg
            .files
            .iter()
            .flatten()
            .map(|f| (f.src.clone(), f.dst.clone(), f.mode.clone()))
            .collect(),
        capabilities: icfg.capabilities.clone().unwrap_or_default(),
    })
}

/// `--compression`, else `compression` in `[image]` (with `gzip_level`, the
/// older way to give a gzip level), else gzip at level 6.
fn compression(
    icfg: &ImageConfig,
    content: &ContentArgs,
) -> anyhow::Result<slipway_oci::Compression> {
    let parse = |s: &str, whence: &str| {
        s.parse::<slipway_oci::Compression>()
            .map_err(|e| anyhow::Error::from(input(format!("{whence}: {e}"))))
    };
    if let Some(flag) = &content.compression {
        return parse(flag, "--compression");
    }
    let whence = "[image] in slipway.toml";
    match (&icfg.compression, icfg.gzip_level) {
        (None, level) => parse(&format!("gzip:{}", level.unwrap_or(6)), whence),
        (Some(c), None) => parse(c, whence),
        (Some(c), Some(level)) if c == "gzip" => parse(&format!("gzip:{level}"), whence),
        (Some(c), Some(_)) => Err(input(format!(
            "{whence}: compression = \"{c}\" and gzip_level are both set; give the level once, \
             as compression = \"gzip:N\" or \"zstd:N\", and drop gzip_level"
        ))
        .into()),
    }
}

/// Show each secret finding (never its value) before the error itself.
fn image_err(e: slipway_image::ImageError, ui: Ui) -> anyhow::Error {
    if let slipway_image::ImageError::Secrets(found) = &e {
        for f in &found.findings {
            ui.error(format!("secret in the image: {f}"));
        }
    }
    anyhow::Error::new(e)
}

/// What SLSA provenance says about this build: the inputs that decide the
/// output, with nothing from this machine (no paths, no clock).
fn provenance(
    plan: &slipway_build::Plan,
    more: &[slipway_build::Plan],
    meta: &BTreeMap<String, String>,
) -> ProvenanceInput {
    let first = plan.targets.first();
    // `go build` flags, without the output path and the package.
    let mut flags = Vec::new();
    let mut args = first.map(|t| t.args.iter()).into_iter().flatten();
    while let Some(a) = args.next() {
        match a.as_str() {
            "build" => {}
            "-o" => {
                args.next();
            }
            a if a == plan.package => {}
            a => flags.push(a.to_string()),
        }
    }
    let source = match (
        meta.get("org.opencontainers.image.source"),
        meta.get("org.opencontainers.image.revision"),
    ) {
        (Some(uri), Some(commit)) => Some(GitSource {
            uri: format!("git+{uri}"),
            commit: commit.clone(),
        }),
        _ => None,
    };
    ProvenanceInput {
        slipway_version: env!("CARGO_PKG_VERSION").into(),
        packages: std::iter::once(plan)
            .chain(more)
            .map(|p| p.package.clone())
            .collect(),
        platforms: plan
            .targets
            .iter()
            .map(|t| t.target.platform.to_string())
            .collect(),
        libc: first.map(|t| t.target.libc.to_string()).unwrap_or_default(),
        flags,
        source,
        go: Tool {
            version: plan.go_version.clone(),
            sha256: None,
        },
        zig: plan.zig_version.clone().map(|version| Tool {
            version,
            sha256: None,
        }),
        source_date_epoch: plan.source_date_epoch.unwrap_or(0),
    }
}

fn input_err(e: slipway_oci::OciError) -> anyhow::Error {
    anyhow::Error::new(input(e.to_string()))
}
