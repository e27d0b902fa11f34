//! Reading an image that already exists, wherever it is stored (a registry,
//! an OCI layout, an OCI archive): one platform's config and layers. Base
//! images and `slipway check-image` both start here.

use std::io::Read;
use std::path::Path;

use serde::Deserialize;
use slipway_oci::Digest;
use slipway_oci::spec::Platform as OciPlatform;
use slipway_registry::{Blob, Children, Quiet, RawManifest, Store};

use crate::ImageError;

/// The parts of an image config slipway reads back.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct SourceConfig {
    #[serde(default)]
    pub architecture: String,
    #[serde(default)]
    pub os: String,
    #[serde(default)]
    pub variant: Option<String>,
    #[serde(default)]
    pub config: SourceRuntime,
    #[serde(default)]
    pub rootfs: SourceRootFs,
    #[serde(default)]
    pub history: Vec<SourceHistory>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct SourceRuntime {
    #[serde(rename = "Entrypoint", default)]
    pub entrypoint: Option<Vec<String>>,
    #[serde(rename = "Cmd", default)]
    pub cmd: Option<Vec<String>>,
    #[serde(rename = "Env", default)]
    pub env: Option<Vec<String>>,
    #[serde(rename = "User", default)]
    pub user: Option<String>,
    #[serde(rename = "Labels", default)]
    pub labels: Option<std::collections::BTreeMap<String, String>>,
    #[serde(rename = "ExposedPorts", default)]
    pub exposed_ports: Option<std::collections::BTreeMap<String, serde_json::Value>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct SourceRootFs {
    #[serde(default)]
    pub diff_ids: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct SourceHistory {
    #[serde(default)]
    pub created_by: Option<String>,
    #[serde(default)]
    pub empty_layer: Option<bool>,
}

/// One platform of an existing image.
#[derive(Debug, Clone)]
pub struct SourceImage {
    pub manifest: Digest,
    pub platform: OciPlatform,
    pub config: SourceConfig,
    /// Layer blobs, bottom first, with their diff_ids.
    pub layers: Vec<(Blob, Digest)>,
}

impl SourceImage {
    /// A short name for layer `i`, for messages: what made it, if recorded.
    pub fn layer_name(&self, i: usize) -> String {
        let made_by = self
            .config
            .history
            .iter()
            .filter(|h| h.empty_layer != Some(true))
            .nth(i)
            .and_then(|h| h.created_by.clone())
            .map(|c| {
                let c = c.trim();
                if c.chars().count() > 60 {
                    format!("{}…", c.chars().take(60).collect::<String>())
                } else {
                    c.to_string()
                }
            });
        let digest = &self.layers[i].0.digest.to_string();
        match made_by {
            Some(m) if !m.is_empty() => format!("layer {i} {} ({m})", &digest[..19]),
            _ => format!("layer {i} {}", &digest[..19]),
        }
    }
}

/// `linux/arm64/v8` is `linux/arm64`; `arm` without a variant is `v7`;
/// amd64's `v1` and riscv64's `rva20u64` are their defaults.
pub fn normalise(p: &OciPlatform) -> OciPlatform {
    let variant = match (p.architecture.as_str(), p.variant.as_deref()) {
        ("arm64", Some("v8")) | ("amd64", Some("v1")) | ("riscv64", Some("rva20u64")) => None,
        ("arm", None) => Some("v7".to_string()),
        (_, v) => v.map(str::to_string),
    };
    OciPlatform {
        architecture: p.architecture.clone(),
        os: p.os.clone(),
        variant,
    }
}

fn read_blob(store: &dyn Store, blob: &Blob, scratch: &Path) -> Result<Vec<u8>, ImageError> {
    let path = store.fetch_blob(blob, scratch, &Quiet)?;
    std::fs::read(&path).map_err(|e| ImageError::Io {
        what: format!("reading {}", path.display()),
        source: e,
    })
}

/// Every runnable platform of the image `root` names.
pub fn platforms(
    store: &dyn Store,
    root: &RawManifest,
    scratch: &Path,
) -> Result<Vec<SourceImage>, ImageError> {
    let manifests = match root.children()? {
        Children::Manifests(children) => children
            .iter()
            .map(|c| store.manifest(&c.digest))
            .collect::<Result<Vec<_>, _>>()?,
        Children::Blobs(_) => vec![root.clone()],
    };
    let mut out = Vec::new();
    for m in manifests {
        let Children::Blobs(blobs) = m.children()? else {
            continue;
        };
        let Some((config_blob, layers)) = blobs.split_first() else {
            continue;
        };
        let bytes = read_blob(store, config_blob, scratch)?;
        let config: SourceConfig = serde_json::from_slice(&bytes).map_err(|e| {
            ImageError::Input(format!(
                "{}: config {} is not an image config: {e}",
                store.describe(),
                config_blob.digest
            ))
        })?;
        if config.os.is_empty() || config.architecture.is_empty() {
            continue; // a signature, an attestation, an SBOM
        }
        if config.rootfs.diff_ids.len() != layers.len() {
            return Err(ImageError::Input(format!(
                "{}: manifest {} has {} layers but its config lists {} diff_ids",
                store.describe(),
                m.digest,
                layers.len(),
                config.rootfs.diff_ids.len()
            )));
        }
        let diff_ids = config
            .rootfs
            .diff_ids
            .iter()
            .map(|d| {
                Digest::parse(d).ok_or_else(|| {
                    ImageError::Input(format!("{}: bad diff_id `{d}`", store.describe()))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        out.push(SourceImage {
            manifest: m.digest.clone(),
            platform: OciPlatform {
                architecture: config.architecture.clone(),
                os: config.os.clone(),
                variant: config.variant.clone(),
            },
            layers: layers.iter().cloned().zip(diff_ids).collect(),
            config,
        });
    }
    Ok(out)
}

/// The platform of `images` matching `wanted` after normalisation, or an
/// error that lists what there is.
pub fn select(
    images: Vec<SourceImage>,
    wanted: &OciPlatform,
    what: &str,
) -> Result<SourceImage, ImageError> {
    let want = normalise(wanted);
    let names: Vec<String> = images.iter().map(|i| i.platform.to_string()).collect();
    images
        .into_iter()
        .find(|i| normalise(&i.platform) == want)
        .ok_or_else(|| {
            ImageError::Input(format!(
                "{what} has no {want} image (it has {}); choose a base that has every \
                 platform you build, or build fewer platforms",
                if names.is_empty() {
                    "none".to_string()
                } else {
                    names.join(", ")
                }
            ))
        })
}

/// A layer blob uncompressed as its media type says (plain tar, gzip or
/// zstd; anything else is refused by name).
pub fn uncompress(bytes: Vec<u8>, blob: &Blob) -> Result<Vec<u8>, ImageError> {
    let mut out = Vec::new();
    slipway_oci::compression::decoder(&blob.media_type, bytes.as_slice())
        .map_err(|e| ImageError::Input(format!("layer {}: {e}", blob.digest)))?
        .read_to_end(&mut out)
        .map_err(|e| {
            ImageError::Layer(format!(
                "layer {} is not valid {}: {e}",
                blob.digest, blob.media_type
            ))
        })?;
    Ok(out)
}

/// Every layer of `image`, uncompressed, bottom first.
pub fn layers(
    store: &dyn Store,
    image: &SourceImage,
    scratch: &Path,
) -> Result<Vec<Vec<u8>>, ImageError> {
    image
        .layers
        .iter()
        .map(|(blob, _)| uncompress(read_blob(store, blob, scratch)?, blob))
        .collect()
}

/// The programs an image starts: its entrypoint (or cmd), found through the
/// config's PATH, and the program slipway's init starts after `--`.
fn started_programs(image: &SourceImage, fs: &crate::RootFs<'_>) -> Vec<String> {
    let rc = &image.config.config;
    let argv = rc
        .entrypoint
        .clone()
        .filter(|e| !e.is_empty())
        .or_else(|| rc.cmd.clone())
        .unwrap_or_default();
    let path = rc
        .env
        .iter()
        .flatten()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or("/usr/local/bin:/usr/bin:/bin")
        .to_string();
    let find = |prog: &str| -> String {
        if prog.contains('/') {
            return prog.to_string();
        }
        path.split(':')
            .map(|d| format!("{}/{prog}", d.trim_end_matches('/')))
            .find(|p| fs.file(p).is_some())
            .unwrap_or_else(|| prog.to_string())
    };
    let mut out = Vec::new();
    if let Some(first) = argv.first() {
        out.push(find(first));
        if first.ends_with("slipway-init")
            && let Some(i) = argv.iter().position(|a| a == "--")
            && let Some(prog) = argv.get(i + 1)
        {
            out.push(find(prog));
        }
    }
    out
}

/// Which programs of an existing image the closure check looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Programs {
    /// What the image starts: its entrypoint (or cmd), and the program
    /// slipway's init starts.
    Started,
    /// These paths.
    Listed(Vec<String>),
    /// Every ELF program in the image (not shared libraries).
    EveryElf,
}

/// Run the closure check on existing images.
pub fn check_images(
    store: &dyn Store,
    images: &[SourceImage],
    which: &Programs,
    scratch: &Path,
) -> Result<Vec<crate::PlatformCheck>, ImageError> {
    let mut out = Vec::new();
    for image in images {
        let started = std::time::Instant::now();
        let layers = layers(store, image, scratch)?;
        let mut fs = crate::RootFs::new();
        for (i, bytes) in layers.iter().enumerate() {
            fs.add_tar(&image.layer_name(i), bytes)?;
        }
        let triplet = crate::multiarch_triplet(
            &image.platform.architecture,
            image.platform.variant.as_deref(),
        )
        .unwrap_or("unknown-linux-gnu");
        let programs = match which {
            Programs::Started => started_programs(image, &fs),
            Programs::Listed(paths) => paths.clone(),
            Programs::EveryElf => fs.elf_programs(),
        };
        if programs.is_empty() {
            return Err(ImageError::Input(match which {
                Programs::EveryElf => format!(
                    "{}: the {} image holds no ELF program",
                    store.describe(),
                    image.platform
                ),
                _ => format!(
                    "{}: the {} image has no entrypoint or cmd; name the binaries to check with \
                     --binary PATH, or check every program with --all",
                    store.describe(),
                    image.platform
                ),
            }));
        }
        let search = crate::library_path(image.config.config.env.as_deref().unwrap_or_default());
        out.push(crate::PlatformCheck {
            platform: image.platform.to_string(),
            binaries: programs
                .iter()
                .map(|p| crate::check_with_library_path(&fs, p, triplet, &search))
                .collect(),
            micros: started.elapsed().as_micros() as u64,
            base_micros: None,
        });
    }
    Ok(out)
}
