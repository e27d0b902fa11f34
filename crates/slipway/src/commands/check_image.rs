//! `slipway check-image`: the runtime closure check on an image that exists.

use slipway_oci::spec::Platform as OciPlatform;
use slipway_registry::Location;

use crate::cli::CheckImageArgs;
use crate::commands::transfer::client_options;
use crate::input;
use crate::ui::Ui;

pub fn run(args: CheckImageArgs, ui: Ui) -> anyhow::Result<()> {
    let location: Location = args.image.parse()?;
    let options = client_options(&args.registry, &location)?;
    let wanted = args.platform.as_deref().map(parse_platform).transpose()?;
    let store = slipway_registry::open_source(&location, &options)?;
    let root = store.root()?;
    let scratch = tempfile::Builder::new()
        .prefix("slipway-check-")
        .tempdir()?;
    let images = slipway_image::source::platforms(store.as_ref(), &root, scratch.path())?;
    if images.is_empty() {
        return Err(input(format!(
            "{location} holds no runnable image (no platform with an OS)"
        ))
        .into());
    }
    let images = match &wanted {
        Some(p) => vec![slipway_image::source::select(
            images,
            p,
            &location.to_string(),
        )?],
        None => images,
    };
    use slipway_image::source::Programs;
    let which = match (args.all, args.binaries.is_empty()) {
        (true, false) => {
            return Err(input("--all and --binary both choose what to check: use one").into());
        }
        (true, true) => Programs::EveryElf,
        (false, false) => Programs::Listed(args.binaries.clone()),
        (false, true) => Programs::Started,
    };
    let checks =
        slipway_image::source::check_images(store.as_ref(), &images, &which, scratch.path())?;
    let failed: usize = checks
        .iter()
        .flat_map(|c| &c.binaries)
        .filter(|b| !b.ok())
        .count();
    if args.json {
        let value = serde_json::json!({
            "image": location.to_string(),
            "digest": root.digest.to_string(),
            "ok": failed == 0,
            "platforms": checks,
        });
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        for c in &checks {
            for b in &c.binaries {
                let verdict = match (b.ok(), b.is_static) {
                    (true, true) => "ok (static)".to_string(),
                    (true, false) => format!("ok ({} libraries)", b.libraries.len()),
                    (false, _) => "cannot start".to_string(),
                };
                println!("{:<22} {:<28} {verdict}", c.platform, b.binary);
                for p in &b.problems {
                    println!("  {p}");
                }
            }
        }
    }
    if failed > 0 {
        // Exit code 1: the image is wrong, not the request.
        anyhow::bail!(
            "{failed} program{} in {location} cannot start",
            if failed == 1 { "" } else { "s" }
        );
    }
    ui.status(format!("{location}: every program checked can start"));
    Ok(())
}

/// `linux/arm64`, `linux/arm/v7`.
fn parse_platform(s: &str) -> anyhow::Result<OciPlatform> {
    let parts: Vec<&str> = s.split('/').collect();
    match parts[..] {
        [os, arch] if !os.is_empty() && !arch.is_empty() => Ok(OciPlatform {
            os: os.into(),
            architecture: arch.into(),
            variant: None,
        }),
        [os, arch, variant] if !os.is_empty() && !arch.is_empty() && !variant.is_empty() => {
            Ok(OciPlatform {
                os: os.into(),
                architecture: arch.into(),
                variant: Some(variant.into()),
            })
        }
        _ => Err(input(format!(
            "--platform {s}: write OS/ARCH[/VARIANT], e.g. linux/arm64 or linux/arm/v7"
        ))
        .into()),
    }
}
