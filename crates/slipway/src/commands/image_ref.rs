//! Commands that take "a binary, a directory, or an image" (`sbom`, `scan`)
//! decide here which one they were given, and read one platform of an image
//! wherever it is stored.

use std::path::{Path, PathBuf};

use slipway_registry::contents::PlatformContents;
use slipway_registry::{ClientOptions, Location};

use crate::input;
use crate::ui::Ui;

/// What a PATH|REF argument names.
pub enum Subject {
    /// A file or directory on disk.
    Path(PathBuf),
    /// An image: `oci:`/`oci-archive:` forms, an OCI layout directory, or a registry reference.
    Image(Location),
}

/// Files win over references: `oci:`, `oci-archive:` and `docker://` are
/// always images; a directory holding an OCI layout is one; anything else
/// that exists is a path; the rest must parse as a registry reference.
pub fn classify(arg: &str) -> anyhow::Result<Subject> {
    if arg.starts_with("oci:") || arg.starts_with("oci-archive:") || arg.starts_with("docker://") {
        return Ok(Subject::Image(arg.parse()?));
    }
    let path = Path::new(arg);
    if path.join("oci-layout").is_file() {
        return Ok(Subject::Image(Location::Oci {
            dir: path.to_path_buf(),
            tag: None,
        }));
    }
    if path.exists() {
        return Ok(Subject::Path(path.to_path_buf()));
    }
    match arg.parse::<Location>() {
        Ok(l @ Location::Remote(_)) if arg.contains('/') => Ok(Subject::Image(l)),
        _ => Err(input(format!(
            "{arg}: no such file, and not an image reference; give a binary, a directory, \
             oci:DIR, oci-archive:FILE or host/repository[:tag]"
        ))
        .into()),
    }
}

/// One platform of an image, with what names it.
pub struct ImagePlatform {
    /// The reference as given, for documents and messages.
    pub name: String,
    /// The index digest when the image is multi-platform.
    pub index_digest: Option<String>,
    pub contents: PlatformContents,
}

/// The host's platform in OCI spelling, the default pick.
fn host_platform() -> String {
    let arch = slipway_oci::spec::host_architecture();
    format!("linux/{arch}")
}

/// Every platform of the image at `location`, or only `platform` when given.
pub fn read_platforms(
    location: &Location,
    options: &ClientOptions,
    platform: Option<&str>,
) -> anyhow::Result<(Option<String>, Vec<PlatformContents>)> {
    let store = slipway_registry::open_source(location, options)?;
    let root = store.root()?;
    let index_digest = root.is_index().then(|| root.digest.to_string());
    let platforms = slipway_registry::contents::platforms(store.as_ref(), &root)?;
    if platforms.is_empty() {
        return Err(input(format!(
            "{location} holds no runnable image (no platform with an OS)"
        ))
        .into());
    }
    let Some(wanted) = platform.map(normalise) else {
        return Ok((index_digest, platforms));
    };
    let names: Vec<String> = platforms.iter().map(|p| p.platform.clone()).collect();
    let chosen: Vec<PlatformContents> = platforms
        .into_iter()
        .filter(|p| normalise(&p.platform) == wanted)
        .collect();
    if chosen.is_empty() {
        return Err(input(format!(
            "{location} has no {wanted} image; it has {}",
            names.join(", ")
        ))
        .into());
    }
    Ok((index_digest, chosen))
}

/// One platform of the image at `location`: `platform`, else the only one,
/// else this machine's.
pub fn read_platform(
    location: &Location,
    options: &ClientOptions,
    platform: Option<&str>,
    ui: Ui,
) -> anyhow::Result<ImagePlatform> {
    let (index_digest, mut platforms) = read_platforms(location, options, platform)?;
    if platforms.len() > 1 {
        let host = host_platform();
        let names: Vec<String> = platforms.iter().map(|p| p.platform.clone()).collect();
        let Some(i) = names.iter().position(|n| *n == host) else {
            return Err(input(format!(
                "{location} has {} platforms ({}); choose one with --platform",
                names.len(),
                names.join(", ")
            ))
            .into());
        };
        ui.status(format!(
            "{location} has {} platforms; reading {host} (choose with --platform)",
            names.len()
        ));
        platforms = vec![platforms.swap_remove(i)];
    }
    let contents = platforms.pop().expect("at least one platform");
    Ok(ImagePlatform {
        name: location.to_string(),
        index_digest,
        contents,
    })
}

/// `linux/arm64/v8` is `linux/arm64`; `linux/arm` is `linux/arm/v7`.
fn normalise(p: &str) -> String {
    match p {
        "linux/arm64/v8" => "linux/arm64".into(),
        "linux/arm" => "linux/arm/v7".into(),
        other => other.to_string(),
    }
}
