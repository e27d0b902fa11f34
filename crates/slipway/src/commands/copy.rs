//! `slipway copy`: move an image between registries, layouts and archives.

use slipway_registry::{CopyOptions, Location, Merged, RawManifest, ReferrerSelection};

use crate::cli::CopyArgs;
use crate::commands::transfer::{TransferProgress, client_options, human_bytes, requested_tag};
use crate::ui::{Ui, seconds};

pub fn run(args: CopyArgs, ui: Ui) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let src_loc: Location = args.source.parse()?;
    let dst_loc: Location = args.destination.parse()?;
    // --username is for the registry being written to (or read, when only one is).
    let login_for = match (&src_loc, &dst_loc) {
        (_, d @ Location::Remote(_)) => d,
        (s, _) => s,
    };
    let options = client_options(&args.registry, login_for)?;
    let source_tag = match &src_loc {
        Location::Remote(r) if r.digest.is_none() => r.tag.clone().or(Some("latest".into())),
        Location::Remote(_) => None,
        Location::Oci { tag, .. } | Location::OciArchive { tag, .. } => tag.clone(),
        Location::DockerArchive { .. } => None,
    };
    let dst_tag = match &dst_loc {
        Location::Remote(r) => {
            if r.digest.is_some() {
                return Err(crate::input(format!(
                    "{dst_loc}: a destination takes a tag, not a digest (digests are kept as they are)"
                ))
                .into());
            }
            r.tag.clone()
        }
        Location::Oci { tag, .. } | Location::OciArchive { tag, .. } => tag.clone(),
        Location::DockerArchive { .. } => None,
    };
    let cwd = std::env::current_dir()?;
    let tag = requested_tag(&args.tag, &cwd)?.or(dst_tag).or(source_tag);
    // Layouts and archives need a name for the image; registries can take it by digest.
    let tag = match (&dst_loc, tag) {
        (Location::Remote(_), t) => t,
        (_, t) => Some(t.unwrap_or_else(|| "latest".into())),
    };
    let docker_name = match &src_loc {
        Location::Remote(r) => format!("{}:{}", r.name(), tag.as_deref().unwrap_or("latest")),
        _ => format!("slipway/image:{}", tag.as_deref().unwrap_or("latest")),
    };

    let selection = referrer_selection(&args.referrers)?;
    let compression = match &args.compression {
        Some(c) => Some(
            c.parse::<slipway_oci::Compression>()
                .map_err(|e| crate::input(format!("--compression: {e}")))?,
        ),
        None => None,
    };
    if compression.is_some() && matches!(selection, ReferrerSelection::Types(_)) {
        return Err(crate::input(
            "--referrers TYPE cannot be combined with --compression: signatures and \
             attestations name the source's digests, which the conversion changes. Copy \
             without --referrers and sign the converted image (slipway sign)"
                .to_string(),
        )
        .into());
    }
    let source = slipway_registry::open_source(&src_loc, &options)?;
    // Resolved once: what is verified is what is copied.
    let root = source.root()?;
    if let Some(key_file) = &args.verify_key {
        // The far side of an air gap: nothing goes in unless its signature holds.
        let key = slipway_verify::public_key(key_file)?;
        let checked = slipway_verify::cosign::verify_all(source.as_ref(), &root, &key)?;
        // Every blob of the image is checked too before anything is written,
        // so a corrupt layer leaves the destination untouched. (A registry
        // source is checked as it streams; a local one is cheap to read twice.)
        if source.as_remote().is_none() {
            let image = slipway_registry::closure(source.as_ref(), root.clone())?;
            let scratch = tempfile::tempdir()?;
            for blob in &image.blobs {
                source.fetch_blob(blob, scratch.path(), &slipway_registry::Quiet)?;
            }
        }
        ui.status(format!(
            "{}: {checked} signature and attestation manifest{} verified with {}",
            source.describe(),
            if checked == 1 { "" } else { "s" },
            key_file.display()
        ));
    }
    if let Some(policy) = &args.notary.trust_policy {
        // The air gap's Notary gate: a signature must pass the plant's policy.
        use crate::commands::notary;
        let trust = notary::load_trust(policy, args.notary.trust_store.as_deref())?;
        let scope = match (&args.notary.scope, &dst_loc) {
            (Some(s), _) => notary::scope_of(source.as_ref(), &src_loc, Some(s))?,
            // Judged by where the image is going, as the destination's verifiers will.
            (None, Location::Remote(r)) => r.name(),
            (None, _) => notary::scope_of(source.as_ref(), &src_loc, None)?,
        };
        let report = notary::verify_image(source.as_ref(), &root, &scope, &trust, ui)?;
        ui.status(format!(
            "{}: Notary signature by `{}` verified with trust policy statement {} for {scope}",
            source.describe(),
            report["signer"].as_str().unwrap_or("?"),
            report["policy"]
        ));
    }
    let destination = slipway_registry::open_destination(&dst_loc, &options, &docker_name)?;
    let copy_options = CopyOptions {
        tag: tag.clone(),
        immutable: args.tag.immutable,
        attachments: !args.no_attachments && selection == ReferrerSelection::All,
        referrers: if args.no_attachments {
            ReferrerSelection::None
        } else {
            selection.clone()
        },
        merge: Some(merge_attachment),
        jobs: options.jobs,
    };
    // What the copy moves, found before anything is written (a conversion
    // carries no referrers and finds its own).
    let work = match compression {
        Some(c) => Work::Convert(c),
        None => Work::Copy(slipway_registry::plan_copy(
            source.as_ref(),
            root.clone(),
            &copy_options,
        )?),
    };
    // The audit logs of the channels the image was released through (and
    // the repository's mark-bad log) go along, so `slipway history` works
    // on the far side of an air gap. Written before the image: its tag is
    // the last thing to appear.
    let carried = if !args.no_attachments
        && selection.wants(Some(slipway_release::entry::ENTRY_TYPE))
        && !matches!(dst_loc, Location::DockerArchive { .. })
    {
        let logs = match &work {
            // The entries about the image are among the referrers the plan listed.
            Work::Copy(plan) => slipway_release::history::logs_in(&plan.listed),
            Work::Convert(_) => slipway_release::history::logs_about(source.as_ref(), &root)?,
        };
        slipway_release::history::copy_logs(source.as_ref(), destination.as_ref(), &logs)?
    } else {
        0
    };
    let progress = TransferProgress::new(ui);
    let plan = match work {
        Work::Copy(plan) => plan,
        Work::Convert(compression) => {
            let attached = attached_to(source.as_ref(), &root)?;
            let report = slipway_registry::convert_root(
                source.as_ref(),
                root,
                destination.as_ref(),
                compression,
                &CopyOptions {
                    tag: tag.clone(),
                    immutable: args.tag.immutable,
                    attachments: false,
                    referrers: ReferrerSelection::None,
                    merge: None,
                    jobs: options.jobs,
                },
                &progress,
            )?;
            if attached > 0 && !args.no_attachments && selection != ReferrerSelection::None {
                ui.warn(format!(
                    "{attached} signature/attestation manifest{} of the source {} not copied: \
                 {} the old digests; sign {} again",
                    if attached == 1 { "" } else { "s" },
                    if attached == 1 { "was" } else { "were" },
                    if attached == 1 {
                        "it names"
                    } else {
                        "they name"
                    },
                    report.copy.digest
                ));
            }
            if args.json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                println!("{}", report.copy.digest);
            }
            ui.status(format!(
                "copied {} to {dst_loc} as {compression} in {}: {} layer{} recompressed, {} kept; \
             {} blob{} sent ({}); {} is now {}",
                source.describe(),
                seconds(started.elapsed()),
                report.converted_layers,
                if report.converted_layers == 1 {
                    ""
                } else {
                    "s"
                },
                report.kept_layers,
                report.copy.uploaded_blobs,
                if report.copy.uploaded_blobs == 1 {
                    ""
                } else {
                    "s"
                },
                human_bytes(report.copy.uploaded_bytes),
                report.source_digest,
                report.copy.digest,
            ));
            return Ok(());
        }
    };
    let report = slipway_registry::copy_plan(
        source.as_ref(),
        plan,
        destination.as_ref(),
        &copy_options,
        &progress,
    )?;
    if carried > 0 {
        ui.status(format!(
            "carried {carried} audit log entr{} along",
            if carried == 1 { "y" } else { "ies" }
        ));
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("{}", report.digest);
    }
    ui.status(format!(
        "copied {} to {dst_loc} in {}: {} manifest{}, {} blob{} sent ({}), {} already there{}",
        source.describe(),
        seconds(started.elapsed()),
        report.manifests,
        if report.manifests == 1 { "" } else { "s" },
        report.uploaded_blobs,
        if report.uploaded_blobs == 1 { "" } else { "s" },
        human_bytes(report.uploaded_bytes),
        report.reused_blobs + report.mounted_blobs,
        match (report.attachments.len(), report.referrers.len()) {
            (0, 0) => String::new(),
            (a, r) => format!(
                "; with {r} referrer{} and {a} attachment tag{}",
                if r == 1 { "" } else { "s" },
                if a == 1 { "" } else { "s" }
            ),
        }
    ));
    Ok(())
}

/// What a copy does: move the image as it is (what it found to move), or
/// convert its layers.
enum Work {
    Copy(slipway_registry::CopyPlan),
    Convert(slipway_oci::Compression),
}

/// How many signature, attestation and SBOM manifests hang off the image
/// or its platforms (referrers, and cosign's legacy tags).
fn attached_to(store: &dyn slipway_registry::Store, root: &RawManifest) -> anyhow::Result<usize> {
    let image = slipway_registry::closure(store, root.clone())?;
    let mut n = 0;
    for m in &image.manifests {
        n += store.referrers(&m.digest, None)?.len();
        for kind in ["sig", "att", "sbom"] {
            if store
                .tag_digest(&slipway_registry::attachment_tag(&m.digest, kind))?
                .is_some()
            {
                n += 1;
            }
        }
    }
    Ok(n)
}

/// `--referrers all|none|TYPE…`.
fn referrer_selection(values: &[String]) -> anyhow::Result<ReferrerSelection> {
    let values: Vec<&str> = values
        .iter()
        .map(|v| v.trim())
        .filter(|v| !v.is_empty())
        .collect();
    Ok(match values.as_slice() {
        [] | ["all"] => ReferrerSelection::All,
        ["none"] => ReferrerSelection::None,
        many if many.iter().any(|v| *v == "all" || *v == "none") => {
            return Err(crate::input(
                "--referrers: `all` and `none` stand alone; otherwise list artifact types"
                    .to_string(),
            )
            .into());
        }
        types => {
            if let Some(bad) = types.iter().find(|t| !t.contains('/')) {
                return Err(crate::input(format!(
                    "--referrers {bad}: an artifact type is a media type like \
                     application/vnd.dev.sigstore.bundle.v0.3+json (or use all / none)"
                ))
                .into());
            }
            ReferrerSelection::Types(types.iter().map(|t| t.to_string()).collect())
        }
    })
}

/// A `.sig`/`.att`/`.sbom` tag the destination has already: keep its layers
/// and add the arriving ones (signatures only the destination had survive).
fn merge_attachment(
    existing: &RawManifest,
    arriving: &RawManifest,
) -> Result<Option<Merged>, String> {
    let merged = slipway_attest::merge_layered(&existing.bytes, &arriving.bytes)
        .map_err(|e| e.to_string())?;
    Ok(merged.map(|m| Merged {
        bytes: m.bytes,
        media_type: m.media_type,
        blobs: m
            .blobs
            .into_iter()
            .map(|b| (b.media_type, b.bytes))
            .collect(),
    }))
}
