//! From built binaries and `[image]` settings to a stored image set:
//! deterministic layers (base files, init, data, glibc runtime, app), the
//! runtime config, the secret gate and the closure check, in that order,
//! with nothing stored before every check has passed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::str::FromStr;
use std::time::Instant;

use serde::Serialize;
use slipway_oci::spec::{Empty, Platform as OciPlatform, RuntimeConfig, rfc3339};
use slipway_oci::{BlobStore, Compression, CompressionSettings, ImageSet, LayerTar, PlatformImage};
use slipway_scan::secrets::Allow;

use crate::closure::{Closure, check_with_library_path, library_path, multiarch_triplet};
use crate::rootfs::RootFs;
use crate::secrets::SecretGate;
use crate::source::SourceImage;
use crate::{ImageError, runtime};

/// Where the app binary lives in every image.
pub const APP_DIR: &str = "/app";
/// The unprivileged user images run as (distroless's `nonroot`).
pub const NONROOT: &str = "65532:65532";
/// Where slipway's init goes.
const INIT_PATH: &str = slipway_init::PATH_IN_IMAGE;

/// What the image adds to a dynamically linked binary so it can start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runtime {
    /// The loader and libraries from a glibc sysroot.
    Glibc,
}

impl FromStr for Runtime {
    type Err = ImageError;
    fn from_str(s: &str) -> Result<Runtime, ImageError> {
        match s {
            "glibc" => Ok(Runtime::Glibc),
            _ => Err(ImageError::Input(format!(
                "runtime = \"{s}\": the valid choice is \"glibc\" (copy the loader and \
                 libraries from a sysroot); leave it out for static binaries"
            ))),
        }
    }
}

/// The `[image]` settings, typed. `source` strings say where each came from.
#[derive(Debug, Clone)]
pub struct ImageSettings {
    /// `NUMBER[/tcp|udp|sctp]`.
    pub ports: Vec<String>,
    pub env: Vec<String>,
    pub cmd: Vec<String>,
    /// A PEM bundle path, or "host".
    pub ca_certs: Option<String>,
    pub zoneinfo: bool,
    /// A directory of the module, relative to it, for /app/data.
    pub data: Option<String>,
    /// How slipway's own layers are compressed (a base's stay as they are).
    pub compression: Compression,
    pub init: bool,
    /// (entry, where it was given) for the secret gate's allow-list.
    pub allow_secrets: Vec<(String, String)>,
    pub runtime: Option<Runtime>,
    /// The glibc sysroot for `runtime`; default Debian's cross glibc per target.
    pub sysroot: Option<PathBuf>,
    /// The base image reference, as written; `None`: slipway's minimal base files.
    pub base: Option<String>,
    /// A name in the image's /etc/passwd or `uid[:gid]`; default 65532:65532.
    pub user: Option<String>,
    /// Absolute; default "/".
    pub workdir: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    /// Replaces `/app/<name>` as what the image (or its init) starts.
    pub entrypoint: Option<Vec<String>>,
    /// Extra module files: (path in the module, absolute path in the image, mode).
    pub files: Vec<(String, String, String)>,
    /// Linux file capabilities for the app binary (`CAP_NET_BIND_SERVICE`, ...).
    pub capabilities: Vec<String>,
}

impl Default for ImageSettings {
    fn default() -> ImageSettings {
        ImageSettings {
            ports: Vec::new(),
            env: Vec::new(),
            cmd: Vec::new(),
            ca_certs: None,
            zoneinfo: false,
            data: None,
            compression: Compression::default(),
            init: true,
            allow_secrets: Vec::new(),
            runtime: None,
            sysroot: None,
            base: None,
            user: None,
            workdir: None,
            labels: BTreeMap::new(),
            annotations: BTreeMap::new(),
            entrypoint: None,
            files: Vec::new(),
            capabilities: Vec::new(),
        }
    }
}

/// One platform's built binaries.
#[derive(Debug, Clone)]
pub struct Target {
    pub platform: OciPlatform,
    /// For messages: `linux/arm64`, with libc if it matters.
    pub label: String,
    /// The stripped app binaries: (name under /app, file). The first is
    /// what the image starts unless `entrypoint` says otherwise.
    pub apps: Vec<(String, PathBuf)>,
    /// slipway's init for this platform (the bytes slipway ships), when the
    /// image has one.
    pub init: Option<&'static [u8]>,
}

/// The closure check's findings for one platform.
#[derive(Debug, Clone, Serialize)]
pub struct PlatformCheck {
    pub platform: String,
    pub binaries: Vec<Closure>,
    /// How long the check took (merging the layers' file lists included).
    pub micros: u64,
    /// With a base image: reading and uncompressing its layers for the check
    /// (and, the first time, copying them into the blob store).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base_micros: Option<u64>,
}

/// A stored image set and what it took.
#[derive(Debug)]
pub struct Assembly {
    pub set: ImageSet,
    /// Layers compressed now, and layers found already compressed.
    pub compressed_layers: usize,
    pub reused_layers: usize,
    /// Secret-gate findings the allow-list let through.
    pub allowed_secrets: usize,
    pub checks: Vec<PlatformCheck>,
    /// The base image used, if any.
    pub base: Option<crate::base::BaseReport>,
}

/// Everything read from the module and the machine, checked before compiling.
pub struct Prepared {
    settings: ImageSettings,
    ports: BTreeMap<String, Empty>,
    base: LayerTar,
    data: Option<LayerTar>,
    gate: SecretGate,
}

/// Check the settings and read the files the module adds, so a missing file
/// or a secret fails in a second, not after minutes of compiling.
pub fn prepare(settings: ImageSettings, module_dir: &Path) -> Result<Prepared, ImageError> {
    settings
        .compression
        .check()
        .map_err(|e| ImageError::Input(format!("compression in [image]: {e}")))?;
    let ports = exposed_ports(&settings.ports)?;
    if let Some(w) = &settings.workdir
        && !w.starts_with('/')
    {
        return Err(ImageError::Input(format!(
            "workdir = \"{w}\" in [image]: give an absolute path in the image, e.g. \"/app\""
        )));
    }
    if let Some(e) = &settings.entrypoint
        && e.first().is_none_or(|p| p.is_empty())
    {
        return Err(ImageError::Input(
            "entrypoint in [image] is empty: give the program first, e.g. [\"/app/gwctl\", \"serve\"]".into(),
        ));
    }
    if let Some(u) = &settings.user {
        parse_user(u)?;
    }
    if !settings.capabilities.is_empty() {
        crate::caps::vfs_cap_data(&settings.capabilities)?;
    }
    let base = base_files(&settings)?;
    let mut data = data_files(&settings, module_dir)?;
    if !settings.files.is_empty() {
        let tar = data.get_or_insert_with(LayerTar::new);
        extra_files(tar, &settings.files, module_dir)?;
    }
    let allow = settings
        .allow_secrets
        .iter()
        .map(|(entry, source)| {
            entry
                .parse::<Allow>()
                .map_err(|e| ImageError::Input(format!("{source}: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if let Some(root) = &settings.sysroot
        && !root.is_dir()
    {
        return Err(ImageError::Input(format!(
            "sysroot = \"{}\": no such directory; give the root of a target file system \
             (with lib/ or usr/lib/<triplet>/)",
            root.display()
        )));
    }
    let mut gate = SecretGate::new(allow);
    gate.check(&base);
    if let Some(d) = &data {
        gate.check(d);
    }
    gate.finish()?;
    Ok(Prepared {
        settings,
        ports,
        base,
        data,
        gate,
    })
}

fn read(path: &Path) -> Result<Vec<u8>, ImageError> {
    std::fs::read(path).map_err(|e| ImageError::Io {
        what: format!("reading {}", path.display()),
        source: e,
    })
}

/// One platform's layers, before compression.
struct Planned {
    target: Target,
    layers: Vec<(LayerTar, String)>,
    entrypoint: Vec<String>,
}

impl Prepared {
    /// The image's `Env`: slipway's PATH and the module's variables, after
    /// the base's, whose variables stay unless slipway sets the same one.
    fn image_env(&self, base: Option<&SourceImage>) -> Vec<String> {
        let mut env = vec![format!("PATH={APP_DIR}:/usr/bin:/bin")];
        env.extend(self.settings.env.clone());
        let Some(image) = base else {
            return env;
        };
        let ours: Vec<String> = env
            .iter()
            .filter_map(|e| e.split_once('=').map(|(k, _)| k.to_string()))
            .collect();
        let inherited = image.config.config.env.iter().flatten().filter(|e| {
            e.split_once('=')
                .is_some_and(|(k, _)| !ours.iter().any(|o| o == k))
        });
        inherited.cloned().chain(env).collect()
    }

    /// How many secret-gate findings the allow-list let through so far.
    pub fn allowed_secrets(&self) -> usize {
        self.gate.allowed
    }

    /// Lay out, check, compress and store every platform's image.
    /// `mtime` stamps every file.
    #[allow(clippy::too_many_arguments)]
    pub fn assemble(
        mut self,
        base: Option<&crate::base::Base<'_>>,
        store: &BlobStore,
        layer_cache: &Path,
        targets: Vec<Target>,
        mtime: u64,
        meta: BTreeMap<String, String>,
    ) -> Result<Assembly, ImageError> {
        if self.settings.base.is_some() != base.is_some() {
            return Err(ImageError::Input(
                "the base image was named but not opened (or opened but not named)".into(),
            ));
        }
        let mut planned = Vec::new();
        let mut app_paths = Vec::new();
        for target in targets {
            let mut layers: Vec<(LayerTar, String)> = Vec::new();
            let mut apps = Vec::new();
            for (name, path) in &target.apps {
                if name.is_empty() || name.contains('/') || apps.iter().any(|(n, _)| n == name) {
                    return Err(ImageError::Input(format!(
                        "two binaries would both be {APP_DIR}/{name}: give each package in \
                         [image] packages its own directory name"
                    )));
                }
                apps.push((name.clone(), read(path)?));
            }
            let Some((first, _)) = apps.first() else {
                return Err(ImageError::Input("no binary to put in the image".into()));
            };
            let app_path = format!("{APP_DIR}/{first}");
            app_paths = apps.iter().map(|(n, _)| format!("{APP_DIR}/{n}")).collect();
            let program = self
                .settings
                .entrypoint
                .clone()
                .unwrap_or_else(|| vec![app_path.clone()]);
            let entrypoint = match &target.init {
                Some(init) => {
                    let mut tar = LayerTar::new();
                    tar.file(INIT_PATH, 0o755, init.to_vec())?;
                    self.gate.check(&tar);
                    layers.push((tar, format!("slipway: {INIT_PATH} for {}", target.platform)));
                    let mut e = slipway_init::entrypoint(&program[0]);
                    e.extend(program[1..].iter().cloned());
                    e
                }
                None => program.clone(),
            };
            if let Some(Runtime::Glibc) = self.settings.runtime {
                let triplet = triplet(&target.platform)?;
                let sysroot = self
                    .settings
                    .sysroot
                    .clone()
                    .unwrap_or_else(|| runtime::default_sysroot(triplet));
                let binaries: Vec<&[u8]> = apps.iter().map(|(_, b)| b.as_slice()).collect();
                let tar = runtime::glibc_layer(&binaries, &sysroot, triplet)?;
                if tar.files().next().is_some() {
                    layers.push((
                        tar,
                        format!("slipway: glibc runtime for {}", target.platform),
                    ));
                }
            }
            let mut app = LayerTar::new();
            for (name, bytes) in apps {
                let path = format!("{APP_DIR}/{name}");
                app.file(&path, 0o555, bytes)?;
                if !self.settings.capabilities.is_empty() {
                    let caps = crate::caps::vfs_cap_data(&self.settings.capabilities)?;
                    app.xattr(&path, "security.capability", caps)?;
                }
            }
            self.gate.check(&app);
            let names: Vec<&str> = target.apps.iter().map(|(n, _)| n.as_str()).collect();
            let what = match names[..] {
                [one] => format!("{APP_DIR}/{one}"),
                _ => format!("{APP_DIR}/{{{}}}", names.join(",")),
            };
            layers.push((app, format!("slipway: {what} for {}", target.label)));
            planned.push(Planned {
                target,
                layers,
                entrypoint,
            });
        }
        // Nothing is stored while a secret is unaccounted for ...
        self.gate.finish()?;

        // The base's layers, copied into the store once per digest.
        let mut from_base = Vec::new();
        let mut base_micros = Vec::new();
        for p in &planned {
            let started = Instant::now();
            from_base.push(match base {
                Some(b) => {
                    let image = b.image_for(&p.target.platform)?;
                    let (layers, tars) = b.import(image, store)?;
                    Some((image.clone(), layers, tars))
                }
                None => None,
            });
            base_micros.push(base.map(|_| started.elapsed().as_micros() as u64));
        }
        let base_files_used = self.base.entries().next().is_some();

        // ... or while a binary could not start.
        let mut checks = Vec::new();
        let mut problems = Vec::new();
        for ((p, b), base_micros) in planned.iter().zip(&from_base).zip(base_micros) {
            let started = Instant::now();
            let mut fs = RootFs::new();
            if let Some((_, layers, tars)) = b {
                for (layer, tar) in layers.iter().zip(tars) {
                    fs.add_tar(&layer.created_by, tar)?;
                }
            }
            if base_files_used {
                fs.add_layer_tar("slipway: base files", &self.base);
            }
            let (before_app, app) = p.layers.split_at(p.layers.len() - 1);
            for (tar, name) in before_app {
                fs.add_layer_tar(name, tar);
            }
            if let Some(d) = &self.data {
                fs.add_layer_tar("slipway: data files", d);
            }
            fs.add_layer_tar(&app[0].1, &app[0].0);
            let triplet = multiarch_triplet(
                &p.target.platform.architecture,
                p.target.platform.variant.as_deref(),
            )
            .unwrap_or("unknown-linux-gnu");
            if let Some(u) = &self.settings.user {
                check_user(&fs, u)?;
            }
            // The loader ignores LD_LIBRARY_PATH for a binary with file
            // capabilities (secure execution); the init has none.
            let env = self.image_env(b.as_ref().map(|(image, _, _)| image));
            let image_path = library_path(&env);
            let app_path: &[String] = match self.settings.capabilities.is_empty() {
                true => &image_path,
                false => &[],
            };
            let mut binaries: Vec<Closure> = app_paths
                .iter()
                .map(|a| check_with_library_path(&fs, a, triplet, app_path))
                .collect();
            if let Some(prog) = self.settings.entrypoint.as_ref().and_then(|e| e.first())
                && !app_paths.contains(prog)
            {
                binaries.push(check_with_library_path(&fs, prog, triplet, &image_path));
            }
            if p.target.init.is_some() {
                binaries.push(check_with_library_path(
                    &fs,
                    INIT_PATH,
                    triplet,
                    &image_path,
                ));
            }
            for b in &binaries {
                problems.extend(b.problems.iter().cloned().map(|mut pr| {
                    label(&mut pr, &p.target.label);
                    pr
                }));
            }
            checks.push(PlatformCheck {
                platform: p.target.label.clone(),
                binaries,
                micros: started.elapsed().as_micros() as u64,
                base_micros,
            });
        }
        if !problems.is_empty() {
            return Err(ImageError::Closure(problems));
        }

        let threads = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1);
        let gz = CompressionSettings {
            compression: self.settings.compression,
            threads,
        };
        let (mut compressed, mut reused) = (0, 0);
        let mut layer =
            |tar: &LayerTar, created_by: &str| -> Result<slipway_oci::Layer, ImageError> {
                let (layer, was_cached) =
                    slipway_oci::build_layer(store, layer_cache, tar, mtime, gz, created_by)?;
                if was_cached {
                    reused += 1
                } else {
                    compressed += 1
                }
                Ok(layer)
            };
        let base_layer = match base_files_used {
            true => Some(layer(&self.base, "slipway: base files")?),
            false => None,
        };
        let data_layer = match &self.data {
            Some(tar) => Some(layer(tar, "slipway: data files")?),
            None => None,
        };
        let created = rfc3339(mtime as i64);
        let mut images = Vec::new();
        for (p, b) in planned.into_iter().zip(from_base) {
            let mut layers = Vec::new();
            let mut annotations: BTreeMap<String, String> = meta
                .clone()
                .into_iter()
                .chain(self.settings.annotations.clone())
                .collect();
            let env = self.image_env(b.as_ref().map(|(image, _, _)| image));
            // The base's labels and ports stay; slipway's and the module's win.
            let mut labels = BTreeMap::new();
            let mut exposed_ports = self.ports.clone();
            if let Some((image, base_layers, _)) = b {
                layers.extend(base_layers);
                if let Some(base) = base {
                    annotations.insert(crate::base::BASE_NAME.into(), base.name.clone());
                }
                annotations.insert(crate::base::BASE_DIGEST.into(), image.manifest.to_string());
                let rc = &image.config.config;
                labels.extend(rc.labels.clone().unwrap_or_default());
                for port in rc.exposed_ports.iter().flat_map(|p| p.keys()) {
                    exposed_ports.entry(port.clone()).or_default();
                }
            }
            layers.extend(base_layer.clone());
            let (app, rest) = p
                .layers
                .split_last()
                .expect("the app layer is always there");
            for (tar, name) in rest {
                layers.push(layer(tar, name)?);
            }
            layers.extend(data_layer.clone());
            layers.push(layer(&app.0, &app.1)?);
            images.push(PlatformImage {
                platform: p.target.platform.clone(),
                layers,
                config: RuntimeConfig {
                    user: Some(self.settings.user.clone().unwrap_or_else(|| NONROOT.into())),
                    exposed_ports,
                    env,
                    entrypoint: p.entrypoint,
                    cmd: self.settings.cmd.clone(),
                    working_dir: Some(self.settings.workdir.clone().unwrap_or_else(|| "/".into())),
                    labels: labels
                        .into_iter()
                        .chain(meta.clone())
                        .chain(self.settings.labels.clone())
                        .collect(),
                },
                annotations,
            });
        }
        let base_manifests: Vec<(String, String)> = images
            .iter()
            .filter_map(|i| {
                i.annotations
                    .get(crate::base::BASE_DIGEST)
                    .map(|d| (i.platform.to_string(), d.clone()))
            })
            .collect();
        let set = slipway_oci::assemble(store, &created, images, meta).map_err(|e| match e {
            slipway_oci::OciError::Layer(m) => ImageError::Input(m),
            other => ImageError::Oci(other),
        })?;
        Ok(Assembly {
            set,
            compressed_layers: compressed,
            reused_layers: reused,
            allowed_secrets: self.gate.allowed,
            checks,
            base: base.map(|b| crate::base::BaseReport {
                name: b.name.clone(),
                digest: b.digest.to_string(),
                manifests: base_manifests,
            }),
        })
    }
}

/// `name`, `uid` or `uid:gid` (numbers, or a user and group name).
fn parse_user(user: &str) -> Result<(&str, Option<&str>), ImageError> {
    let (u, g) = match user.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (user, None),
    };
    let ok = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
    };
    if !ok(u) || g.is_some_and(|g| !ok(g)) {
        return Err(ImageError::Input(format!(
            "user = \"{user}\" in [image]: give a user name from the image's /etc/passwd, \
             a uid, or uid:gid (e.g. \"65532:65532\")"
        )));
    }
    Ok((u, g))
}

/// A user given by name must be in the image's /etc/passwd (the base's, or
/// slipway's minimal one), or the runtime cannot start the container.
fn check_user(fs: &RootFs<'_>, user: &str) -> Result<(), ImageError> {
    let (u, g) = parse_user(user)?;
    let names = |path: &str| -> Vec<String> {
        fs.file(path)
            .map(|(_, data, _)| {
                String::from_utf8_lossy(data)
                    .lines()
                    .filter_map(|l| l.split(':').next())
                    .filter(|n| !n.is_empty() && !n.starts_with('#'))
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    };
    let numeric = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    if !numeric(u) {
        let users = names("/etc/passwd");
        if !users.iter().any(|n| n == u) {
            return Err(ImageError::Input(format!(
                "user = \"{user}\" in [image]: the image's /etc/passwd has no user `{u}` \
                 (it has: {}); use one of those, or a numeric uid:gid",
                if users.is_empty() {
                    "no /etc/passwd".into()
                } else {
                    users.join(", ")
                }
            )));
        }
    }
    if let Some(g) = g
        && !numeric(g)
    {
        let groups = names("/etc/group");
        if !groups.iter().any(|n| n == g) {
            return Err(ImageError::Input(format!(
                "user = \"{user}\" in [image]: the image's /etc/group has no group `{g}` \
                 (it has: {}); use one of those, or a numeric gid",
                if groups.is_empty() {
                    "no /etc/group".into()
                } else {
                    groups.join(", ")
                }
            )));
        }
    }
    Ok(())
}

/// `[image] files`: module files, each with an explicit octal mode.
fn extra_files(
    tar: &mut LayerTar,
    files: &[(String, String, String)],
    module_dir: &Path,
) -> Result<(), ImageError> {
    let module = module_dir.canonicalize().map_err(|e| ImageError::Io {
        what: format!("resolving {}", module_dir.display()),
        source: e,
    })?;
    for (src, dst, mode) in files {
        let key = format!("files entry {{ src = \"{src}\", dst = \"{dst}\" }} in [image]");
        let mode = u32::from_str_radix(mode.trim_start_matches("0o"), 8)
            .ok()
            .filter(|m| *m <= 0o7777)
            .ok_or_else(|| {
                ImageError::Input(format!(
                    "{key}: mode = \"{mode}\" is not an octal mode; write e.g. \"0644\" or \"0755\""
                ))
            })?;
        if !dst.starts_with('/') {
            return Err(ImageError::Input(format!(
                "{key}: dst must be an absolute path in the image"
            )));
        }
        let path = module_dir.join(src);
        let real = path.canonicalize().map_err(|e| {
            ImageError::Input(format!("{key}: cannot read {}: {e}", path.display()))
        })?;
        if !real.starts_with(&module) || !real.is_file() {
            return Err(ImageError::Input(format!(
                "{key}: src must be a file inside the module"
            )));
        }
        tar.file(dst, mode, read(&real)?)
            .map_err(|e| ImageError::Input(format!("{key}: {e}")))?;
    }
    Ok(())
}

/// Say which platform a problem is on.
fn label(problem: &mut crate::Problem, platform: &str) {
    use crate::Problem::*;
    let binary = match problem {
        Unreadable { path, .. } => path,
        MissingInterpreter { binary, .. }
        | MissingLibrary { binary, .. }
        | MissingVersion { binary, .. } => binary,
    };
    *binary = format!("{binary} on {platform}");
}

fn triplet(platform: &OciPlatform) -> Result<&'static str, ImageError> {
    multiarch_triplet(&platform.architecture, platform.variant.as_deref()).ok_or_else(|| {
        ImageError::Input(format!(
            "runtime = \"glibc\" does not know where glibc lives for {platform}"
        ))
    })
}

fn exposed_ports(ports: &[String]) -> Result<BTreeMap<String, Empty>, ImageError> {
    let mut out = BTreeMap::new();
    for p in ports {
        let (num, proto) = p.split_once('/').unwrap_or((p, "tcp"));
        let ok = num.parse::<u16>().is_ok_and(|n| n > 0) && matches!(proto, "tcp" | "udp" | "sctp");
        if !ok {
            return Err(ImageError::Input(format!(
                "port `{p}` in [image] ports: write NUMBER[/tcp|udp|sctp], e.g. \"8080/tcp\""
            )));
        }
        out.insert(format!("{num}/{proto}"), Empty {});
    }
    Ok(out)
}

/// The layer every platform shares: users, name service, /tmp, optional CA bundle and zoneinfo.
/// With a base image, only what the settings ask for (CA bundle, zoneinfo):
/// users, name service and /tmp are the base's.
fn base_files(settings: &ImageSettings) -> Result<LayerTar, ImageError> {
    let mut t = LayerTar::new();
    if settings.base.is_none() {
        t.file("/etc/passwd", 0o644, b"root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/nonexistent:/sbin/nologin\n".to_vec())?;
        t.file(
            "/etc/group",
            0o644,
            b"root:x:0:\nnonroot:x:65532:\n".to_vec(),
        )?;
        t.file("/etc/nsswitch.conf", 0o644, b"hosts: files dns\n".to_vec())?;
        t.dir("/tmp", 0o1777)?;
    }
    if let Some(ca) = &settings.ca_certs {
        let path = if ca == "host" {
            PathBuf::from("/etc/ssl/certs/ca-certificates.crt")
        } else {
            PathBuf::from(ca)
        };
        let pem = std::fs::read(&path).map_err(|e| {
            ImageError::Input(format!("ca_certs = \"{ca}\" in slipway.toml: cannot read {}: {e}; give a PEM bundle or \"host\"", path.display()))
        })?;
        if !pem.windows(27).any(|w| w == b"-----BEGIN CERTIFICATE-----") {
            return Err(ImageError::Input(format!(
                "{} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
                path.display()
            )));
        }
        t.file("/etc/ssl/certs/ca-certificates.crt", 0o644, pem)?;
    }
    if settings.zoneinfo {
        let root = Path::new("/usr/share/zoneinfo");
        if !root.is_dir() {
            return Err(ImageError::Input("zoneinfo = true, but this machine has no /usr/share/zoneinfo: install tzdata, or build with the timetzdata tag instead".into()));
        }
        add_tree(&mut t, root, "/usr/share/zoneinfo", None)?;
    }
    Ok(t)
}

/// Files from the module's data directory, under /app/data.
fn data_files(settings: &ImageSettings, module_dir: &Path) -> Result<Option<LayerTar>, ImageError> {
    let Some(rel) = &settings.data else {
        return Ok(None);
    };
    let dir = module_dir.join(rel);
    if !dir.is_dir() {
        return Err(ImageError::Input(format!(
            "data = \"{rel}\" in slipway.toml: {} is not a directory of the module",
            dir.display()
        )));
    }
    let mut t = LayerTar::new();
    let module = module_dir.canonicalize().map_err(|e| ImageError::Io {
        what: format!("resolving {}", module_dir.display()),
        source: e,
    })?;
    add_tree(&mut t, &dir, &format!("{APP_DIR}/data"), Some(&module))?;
    Ok(Some(t))
}

/// Add a directory tree. Symlinks are kept as links when they stay inside
/// `confine` (when given); one that leads outside it is refused.
fn add_tree(
    t: &mut LayerTar,
    dir: &Path,
    to: &str,
    confine: Option<&Path>,
) -> Result<(), ImageError> {
    use std::os::unix::fs::PermissionsExt;
    let io = |what: &str, path: &Path, e: std::io::Error| ImageError::Io {
        what: format!("{what} {}", path.display()),
        source: e,
    };
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| io("reading", dir, e))?
        .collect::<Result<_, _>>()
        .map_err(|e| io("reading", dir, e))?;
    entries.sort_by_key(|e| e.file_name());
    t.dir(to, 0o755)?;
    for entry in entries {
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        let target = format!("{to}/{name}");
        let kind = entry.file_type().map_err(|e| io("reading", &path, e))?;
        if kind.is_symlink() {
            let link = std::fs::read_link(&path).map_err(|e| io("reading", &path, e))?;
            if let Some(root) = confine {
                let resolved = path.canonicalize().ok();
                if !resolved.as_deref().is_some_and(|r| r.starts_with(root)) {
                    return Err(ImageError::Input(format!(
                        "{} is a symlink to {} outside the module: copy the file in, or remove the link",
                        path.display(),
                        link.display()
                    )));
                }
            }
            t.symlink(&target, &link.to_string_lossy())?;
        } else if kind.is_dir() {
            add_tree(t, &path, &target, confine)?;
        } else if kind.is_file() {
            // Executable bits survive; everything else is normalised.
            let meta = entry.metadata().map_err(|e| io("reading", &path, e))?;
            let exec = meta.permissions().mode() & 0o111 != 0;
            t.file(&target, if exec { 0o755 } else { 0o644 }, read(&path)?)?;
        }
    }
    Ok(())
}

/// org.opencontainers.image.* from git (when the module is in git) and the build time.
pub fn git_metadata(module_dir: &Path, created: &str) -> BTreeMap<String, String> {
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

    #[test]
    fn bad_settings_name_the_key_and_the_choices() {
        let e = "musl".parse::<Runtime>().unwrap_err().to_string();
        assert!(
            e.contains("runtime = \"musl\"") && e.contains("\"glibc\""),
            "{e}"
        );
        let bad = ImageSettings {
            ports: vec!["http".into()],
            ..ImageSettings::default()
        };
        let e = prepare(bad, Path::new(".")).err().unwrap().to_string();
        assert!(e.contains("port `http`"), "{e}");
    }
}
