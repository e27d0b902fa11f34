//! `slipway push`: build the image and push it to a registry.

use std::path::PathBuf;
use std::sync::atomic::Ordering;

use slipway_oci::ImageName;
use slipway_registry::{CopyOptions, Location, Progress, Remote, Store};
use slipway_toolchain::CacheDir;

use crate::cli::PushArgs;
use crate::commands::image::{self, Assembled};
use crate::commands::sign;
use crate::commands::transfer::{TransferProgress, client_options, human_bytes, requested_tag};
use crate::input;
use crate::ui::{Ui, seconds};

pub fn run(mut args: PushArgs, cache: &CacheDir, ui: Ui) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    // `slipway push REF` fills the first positional (DIR); move it where it belongs.
    let reference = match args.reference.take() {
        Some(r) => r,
        None => {
            let r = args.settings.dir.to_string_lossy().into_owned();
            args.settings.dir = PathBuf::from(".");
            r
        }
    };
    let mut target = match reference.parse::<Location>()? {
        Location::Remote(r) => r,
        other => {
            return Err(input(format!(
                "push sends to a registry (host[:port]/repository[:tag]); to write {other}, use \
                 `slipway image --out` or `slipway copy`"
            ))
            .into());
        }
    };
    if target.digest.is_some() {
        return Err(input(format!(
            "{reference}: push writes a tag, not a digest; drop the @sha256:… part"
        ))
        .into());
    }
    let module_dir = std::path::absolute(&args.settings.dir)?;
    let tag = requested_tag(&args.tag, &module_dir)?
        .or(target.tag.clone())
        .unwrap_or_else(|| "latest".into());
    target.tag = Some(tag.clone());
    let options = client_options(&args.registry, &Location::Remote(target.clone()))?;

    // Reach the registry, check credentials and read the signing key before
    // minutes of compiling.
    let key = sign::supply_chain_key(&args.supply_chain)?;
    let remote = Remote::open(target.clone(), &options)?;
    let before = remote.tag_digest(&tag)?;

    let name: ImageName = format!("{}:{tag}", target.name())
        .parse()
        .map_err(|e: slipway_oci::OciError| input(e.to_string()))?;
    let Assembled {
        store,
        set,
        provenance,
        budgets,
        ..
    } = image::assemble(
        &args.settings,
        &args.secrets.allow_secrets,
        &args.content,
        Some(name.to_string()),
        cache.path("push/out"),
        cache,
        ui,
    )?;
    if args.tag.immutable
        && let Some(existing) = &before
        && *existing != set.index.digest
    {
        return Err(slipway_registry::RegistryError::Conflict(format!(
            "{target} already points at {existing}; --immutable refuses to move it to {}. \
             Use a new tag (e.g. --tag auto) or drop --immutable",
            set.index.digest
        ))
        .into());
    }
    // The built image is copied straight out of the blob store.
    let source = slipway_image::Staged::new(&store, &set, &name);
    let progress = TransferProgress::new(ui);
    // Everything by digest first, signatures and attestations included; the
    // tag moves last, onto an image that is complete and signed.
    let mut report = slipway_registry::copy(
        &source,
        &remote,
        &CopyOptions {
            tag: None,
            immutable: false,
            attachments: false,
            referrers: slipway_registry::ReferrerSelection::None,
            merge: None,
            jobs: options.jobs,
        },
        &progress,
    )?;
    let attached = sign::finish_image(
        &remote,
        &set.index.digest,
        key.as_ref(),
        &args.supply_chain,
        &provenance,
        cache,
        ui,
    )?;
    let root = source.root()?;
    let current = match args.tag.immutable {
        true => remote.lookup_tag(&tag)?,
        false => before,
    };
    if current.as_ref() != Some(&root.digest) {
        if args.tag.immutable
            && let Some(existing) = &current
        {
            return Err(slipway_registry::RegistryError::Conflict(format!(
                "{target} moved to {existing} while pushing; --immutable refuses to move it to {}",
                root.digest
            ))
            .into());
        }
        remote.push_manifest(&root, Some(&tag))?;
    }
    progress.manifest_written(&root.digest, Some(&tag));
    report.tag = Some(tag.clone());
    let c = &remote.client.counters;
    if args.json {
        let value = serde_json::json!({
            "reference": format!("{}@{}", target.name(), report.digest),
            "digest": report.digest,
            "tag": tag,
            "platforms": set.manifests.iter().filter_map(|m| m.descriptor.platform.as_ref().map(|p| p.to_string())).collect::<Vec<_>>(),
            "uploaded_blobs": report.uploaded_blobs,
            "uploaded_bytes": report.uploaded_bytes,
            "reused_blobs": report.reused_blobs,
            "mounted_blobs": report.mounted_blobs,
            "manifests": report.manifests,
            "requests": {
                "GET": c.get.load(Ordering::Relaxed),
                "HEAD": c.head.load(Ordering::Relaxed),
                "POST": c.post.load(Ordering::Relaxed),
                "PUT": c.put.load(Ordering::Relaxed),
                "PATCH": c.patch.load(Ordering::Relaxed),
            },
            "bytes_sent": c.bytes_sent.load(Ordering::Relaxed),
            "attached": attached,
            "budgets": budgets,
            "cache_steps": super::shared_steps::last_run(),
            "cache": super::cache::last_run(),
        });
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        println!("{}@{}", target.name(), report.digest);
    }
    ui.status(format!(
        "pushed {target} in {}: {} blob{} sent ({}), {} already there",
        seconds(started.elapsed()),
        report.uploaded_blobs,
        if report.uploaded_blobs == 1 { "" } else { "s" },
        human_bytes(report.uploaded_bytes),
        report.reused_blobs + report.mounted_blobs,
    ));
    Ok(())
}
