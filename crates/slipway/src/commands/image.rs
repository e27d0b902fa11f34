//! `slipway image`: plan, build and assemble a multi-platform OCI image.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Context;
use slipway_attest::provenance::{GitSource, ProvenanceInput, Tool};
use slipway_oci::spec::{Empty, Platform as OciPlatform, RuntimeConfig, rfc3339};
use slipway_oci::{BlobStore, Format, GzipSettings, ImageName, LayerTar, PlatformImage};
use slipway_registry::{ClientOptions, Location};
use slipway_scan::secrets::{Allow, SecretFinding};
use slipway_toolchain::CacheDir;

use crate::cli::{BuildSettings, ImageArgs};
use crate::commands::{build, sign};
use crate::config::ImageConfig;
use crate::input;
use crate::ui::{Ui, seconds};

/// Where the app binary lives in every image.
pub const APP_DIR: &str = "/app";
/// The unprivileged user images run as (distroless's `nonroot`).
pub const NONROOT: &str = "65532:65532";

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
    } = assemble(
        &args.settings,
        &args.secrets.allow_secrets,
        args.tag.clone(),
        out.clone(),
        cache,
        ui,
    )?;
    slipway_oci::layout::write(&store, &set, &name, format, &out).map_err(|e| match e {
        slipway_oci::OciError::Input(_) => anyhow::Error::new(input(e.to_string())),
        other => anyhow::Error::new(other),
    })?;
    let attached = match format {
        Format::Oci | Format::OciArchive => {
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
        Format::DockerArchive => serde_json::Value::Null,
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
            "format": args.format.as_deref().or(icfg.format.as_deref()).unwrap_or("oci"),
            "out": out,
            "compressed_layers": compressed_layers,
            "attached": attached,
            "reused_layers": reused_layers,
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
    tag: Option<String>,
    out: PathBuf,
    cache: &CacheDir,
    ui: Ui,
) -> anyhow::Result<Assembled> {
    let (module_dir, cfg) = build::load_module(&settings.dir)?;
    let icfg = &cfg.image;
    let gzip_level = icfg.gzip_level.unwrap_or(6);
    if !(1..=9).contains(&gzip_level) {
        return Err(input(format!(
            "gzip_level = {gzip_level} in slipway.toml: use 1 (fastest) to 9 (smallest)"
        ))
        .into());
    }
    let ports = exposed_ports(icfg)?;
    // Everything read from the module and the host is read before building, so
    // a missing file fails in a second, not after minutes of compiling.
    let base = base_files(icfg)?;
    let data = data_files(icfg, &module_dir)?;
    // The secret gate: files the module adds are checked now, before any
    // compiling; the binaries and the init once they exist.
    let allow = allow_list(allow_secrets, icfg)?;
    let mut secrets = SecretGate::new(allow);
    secrets.check(&base);
    if let Some(d) = &data {
        secrets.check(d);
    }
    secrets.finish(ui)?;
    // The init ships inside slipway, built for every architecture: a pure-Go
    // image needs no C compiler.
    let init = icfg.init.unwrap_or(true);

    // The binaries are never installed anywhere: the image takes them from staging.
    let plan = build::plan(settings, &cfg.build, &module_dir, out, cache)?;
    let name: ImageName = tag
        .or(icfg.tag.clone())
        .unwrap_or_else(|| format!("{}:latest", plan.name.to_ascii_lowercase()))
        .parse()
        .map_err(input_err)?;
    build::warn_dropped(&plan, ui);
    if init {
        for t in &plan.targets {
            slipway_init::build(&t.target.platform).map_err(|e| input(e.to_string()))?;
        }
    }
    let built = build::execute(&plan, settings.jobs, ui)?;

    let store = BlobStore::new(cache.path("oci/blobs"));
    let layer_cache = cache.path("oci/layers");
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let gz = GzipSettings {
        level: gzip_level,
        threads,
    };
    let mtime = plan.source_date_epoch.unwrap_or(0).max(0) as u64;
    let created = rfc3339(mtime as i64);
    let (mut compressed, mut reused) = (0, 0);
    let mut layer = |tar: &LayerTar, created_by: &str| -> anyhow::Result<slipway_oci::Layer> {
        let (layer, was_cached) =
            slipway_oci::build_layer(&store, &layer_cache, tar, mtime, gz, created_by)?;
        if was_cached {
            reused += 1
        } else {
            compressed += 1
        }
        Ok(layer)
    };
    let base_layer = layer(&base, "slipway: base files")?;
    let data_layer = match &data {
        Some(tar) => Some(layer(tar, "slipway: data files")?),
        None => None,
    };
    let meta = git_metadata(&module_dir, &created);
    let app_path = format!("{APP_DIR}/{}", plan.name);

    let mut images = Vec::new();
    for b in &built {
        let shipped = &b.shipped.binary.path;
        let bytes =
            std::fs::read(shipped).with_context(|| format!("reading {}", shipped.display()))?;
        let mut app = LayerTar::new();
        app.file(&app_path, 0o555, bytes)?;
        secrets.check(&app);
        let app_layer = layer(&app, &format!("slipway: {app_path} for {}", b.target))?;
        let mut layers = vec![base_layer.clone()];
        let entrypoint = match init {
            true => {
                let init = slipway_init::build(&b.target.platform)?;
                let mut tar = LayerTar::new();
                tar.file(slipway_init::PATH_IN_IMAGE, 0o755, init.to_vec())?;
                secrets.check(&tar);
                layers.push(layer(
                    &tar,
                    &format!(
                        "slipway: {} for {}",
                        slipway_init::PATH_IN_IMAGE,
                        b.target.platform
                    ),
                )?);
                slipway_init::entrypoint(&app_path)
            }
            false => vec![app_path.clone()],
        };
        layers.extend(data_layer.clone());
        layers.push(app_layer);
        let mut env = vec![format!("PATH={APP_DIR}:/usr/bin:/bin")];
        env.extend(icfg.env.clone().unwrap_or_default());
        images.push(PlatformImage {
            platform: OciPlatform {
                architecture: b.target.arch().goarch().to_string(),
                os: "linux".into(),
                variant: b.target.platform.oci_variant(),
            },
            layers,
            config: RuntimeConfig {
                user: Some(NONROOT.into()),
                exposed_ports: ports.clone(),
                env,
                entrypoint,
                cmd: icfg.cmd.clone().unwrap_or_default(),
                working_dir: Some("/".into()),
                labels: meta.clone(),
            },
            annotations: meta.clone(),
        });
    }
    // Nothing is written while a secret is unaccounted for.
    secrets.finish(ui)?;
    let set = slipway_oci::assemble(&store, &created, images, meta.clone()).map_err(input_err)?;
    let provenance = provenance(&plan, &meta);
    Ok(Assembled {
        store,
        set,
        name,
        plan,
        provenance,
        compressed_layers: compressed,
        reused_layers: reused,
    })
}

/// What SLSA provenance says about this build: the inputs that decide the
/// output, with nothing from this machine (no paths, no clock).
fn provenance(plan: &slipway_build::Plan, meta: &BTreeMap<String, String>) -> ProvenanceInput {
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
        package: plan.package.clone(),
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

/// `--allow-secret` flags and `allow_secrets` in `[image]`, together.
fn allow_list(flags: &[String], icfg: &ImageConfig) -> anyhow::Result<Vec<Allow>> {
    let from_config = icfg.allow_secrets.iter().flatten();
    let flagged = flags.iter().map(|f| (f, "--allow-secret"));
    flagged
        .chain(from_config.map(|c| (c, "allow_secrets in [image]")))
        .map(|(entry, source)| {
            entry
                .parse::<Allow>()
                .map_err(|e| anyhow::Error::new(input(format!("{source}: {e}"))))
        })
        .collect()
}

/// Scans every file headed for a layer and refuses the image while any
/// finding is not on the allow-list.
struct SecretGate {
    allow: Vec<Allow>,
    found: Vec<SecretFinding>,
    allowed: usize,
}

impl SecretGate {
    fn new(allow: Vec<Allow>) -> SecretGate {
        SecretGate {
            allow,
            found: Vec::new(),
            allowed: 0,
        }
    }

    fn check(&mut self, tar: &LayerTar) {
        for (path, data) in tar.files() {
            // Findings and allow-lists use the path as seen in the image.
            let path = format!("/{}", path.trim_start_matches('/'));
            let all = slipway_scan::secrets::scan(&path, data);
            let n = all.len();
            let left = slipway_scan::secrets::not_allowed(all, &self.allow);
            self.allowed += n - left.len();
            self.found.extend(left);
        }
    }

    /// Report what was found (never the values) and fail on anything left.
    fn finish(&mut self, ui: Ui) -> anyhow::Result<()> {
        if self.allowed > 0 {
            ui.status(format!(
                "secret gate: {} finding{} allowed by the allow-list",
                self.allowed,
                if self.allowed == 1 { "" } else { "s" }
            ));
            self.allowed = 0;
        }
        if self.found.is_empty() {
            return Ok(());
        }
        self.found.sort();
        self.found.dedup();
        for f in &self.found {
            ui.error(format!("secret in the image: {f}"));
        }
        let first = &self.found[0];
        anyhow::bail!(
            "{} possible secret{} in files bound for the image; nothing was written. Remove them, \
or if one is intended (a test key, a public token), allow it with --allow-secret {}:{} or \
allow_secrets = [\"{}:{}\"] in [image] of slipway.toml",
            self.found.len(),
            if self.found.len() == 1 { "" } else { "s" },
            first.path,
            first.kind,
            first.path,
            first.kind
        )
    }
}

fn input_err(e: slipway_oci::OciError) -> anyhow::Error {
    anyhow::Error::new(input(e.to_string()))
}

fn exposed_ports(icfg: &ImageConfig) -> anyhow::Result<BTreeMap<String, Empty>> {
    let mut ports = BTreeMap::new();
    for p in icfg.ports.clone().unwrap_or_default() {
        let (num, proto) = p.split_once('/').unwrap_or((&p, "tcp"));
        let ok = num.parse::<u16>().is_ok_and(|n| n > 0) && matches!(proto, "tcp" | "udp" | "sctp");
        if !ok {
            return Err(input(format!(
                "port `{p}` in [image] ports: write NUMBER[/tcp|udp|sctp], e.g. \"8080/tcp\""
            ))
            .into());
        }
        ports.insert(format!("{num}/{proto}"), Empty {});
    }
    Ok(ports)
}

/// The layer every platform shares: users, name service, /tmp, optional CA bundle and zoneinfo.
fn base_files(icfg: &ImageConfig) -> anyhow::Result<LayerTar> {
    let mut t = LayerTar::new();
    t.file("/etc/passwd", 0o644, b"root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/nonexistent:/sbin/nologin\n".to_vec())?;
    t.file(
        "/etc/group",
        0o644,
        b"root:x:0:\nnonroot:x:65532:\n".to_vec(),
    )?;
    t.file("/etc/nsswitch.conf", 0o644, b"hosts: files dns\n".to_vec())?;
    t.dir("/tmp", 0o1777)?;
    if let Some(ca) = &icfg.ca_certs {
        let path = if ca == "host" {
            PathBuf::from("/etc/ssl/certs/ca-certificates.crt")
        } else {
            PathBuf::from(ca)
        };
        let pem = std::fs::read(&path).map_err(|e| {
            input(format!("ca_certs = \"{ca}\" in slipway.toml: cannot read {}: {e}; give a PEM bundle or \"host\"", path.display()))
        })?;
        if !pem.windows(27).any(|w| w == b"-----BEGIN CERTIFICATE-----") {
            return Err(input(format!(
                "{} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
                path.display()
            ))
            .into());
        }
        t.file("/etc/ssl/certs/ca-certificates.crt", 0o644, pem)?;
    }
    if icfg.zoneinfo == Some(true) {
        let root = Path::new("/usr/share/zoneinfo");
        if !root.is_dir() {
            return Err(input("zoneinfo = true, but this machine has no /usr/share/zoneinfo: install tzdata, or build with the timetzdata tag instead").into());
        }
        add_tree(&mut t, root, "/usr/share/zoneinfo", None)?;
    }
    Ok(t)
}

/// Files from the module's data directory, under /app/data.
fn data_files(icfg: &ImageConfig, module_dir: &Path) -> anyhow::Result<Option<LayerTar>> {
    let Some(rel) = &icfg.data else {
        return Ok(None);
    };
    let dir = module_dir.join(rel);
    if !dir.is_dir() {
        return Err(input(format!(
            "data = \"{rel}\" in slipway.toml: {} is not a directory of the module",
            dir.display()
        ))
        .into());
    }
    let mut t = LayerTar::new();
    let module = module_dir.canonicalize()?;
    add_tree(&mut t, &dir, &format!("{APP_DIR}/data"), Some(&module))?;
    Ok(Some(t))
}

/// Add a directory tree. Symlinks are kept as links when they stay inside
/// `confine` (when given); one that leads outside it is refused.
fn add_tree(t: &mut LayerTar, dir: &Path, to: &str, confine: Option<&Path>) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    t.dir(to, 0o755)?;
    for entry in entries {
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        let target = format!("{to}/{name}");
        let kind = entry.file_type()?;
        if kind.is_symlink() {
            let link = std::fs::read_link(&path)?;
            if let Some(root) = confine {
                let resolved = path.canonicalize().ok();
                if !resolved.as_deref().is_some_and(|r| r.starts_with(root)) {
                    return Err(input(format!(
                        "{} is a symlink to {} outside the module: copy the file in, or remove the link",
                        path.display(),
                        link.display()
                    ))
                    .into());
                }
            }
            t.symlink(&target, &link.to_string_lossy())?;
        } else if kind.is_dir() {
            add_tree(t, &path, &target, confine)?;
        } else if kind.is_file() {
            // Executable bits survive; everything else is normalised.
            let exec = entry.metadata()?.permissions().mode() & 0o111 != 0;
            t.file(
                &target,
                if exec { 0o755 } else { 0o644 },
                std::fs::read(&path)?,
            )?;
        }
    }
    Ok(())
}

/// org.opencontainers.image.* from git (when the module is in git) and the build time.
fn git_metadata(module_dir: &Path, created: &str) -> BTreeMap<String, String> {
    let git = |args: &[&str]| {
        Command::new("git")
            .arg("-C")
            .arg(module_dir)
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .filter(|s| !s.is_empty())
    };
    let mut meta = BTreeMap::new();
    meta.insert(
        "org.opencontainers.image.created".to_string(),
        created.to_string(),
    );
    if let Some(rev) = git(&["rev-parse", "HEAD"]) {
        meta.insert("org.opencontainers.image.revision".into(), rev);
    }
    if let Some(version) = git(&["describe", "--tags", "--always"]) {
        meta.insert("org.opencontainers.image.version".into(), version);
    }
    if let Some(url) = git(&["remote", "get-url", "origin"]) {
        meta.insert(
            "org.opencontainers.image.source".into(),
            strip_credentials(&url),
        );
    }
    meta
}

/// `https://user:token@host/x` → `https://host/x`: never publish a credential.
fn strip_credentials(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}{}", &url[..scheme + 3], &url[at + 1..])
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_never_reach_labels() {
        assert_eq!(
            strip_credentials("https://me:tok@git.example.com/a.git"),
            "https://git.example.com/a.git"
        );
        assert_eq!(
            strip_credentials("git@github.com:a/b.git"),
            "git@github.com:a/b.git"
        );
    }
}
