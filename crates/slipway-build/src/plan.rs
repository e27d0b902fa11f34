//! From a request to a plan: every target's exact environment and `go build`
//! command, decided and checked before anything is built.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};
use slipway_platform::{CCompiler, Libc, Platform, Target, check_ldflags};
use slipway_toolchain::runtime::Runtime;
use slipway_toolchain::{
    CCompilers, CSettings, CacheDir, GoToolchain, MUSL_THREAD_STACK_MAX, PASSED_THROUGH,
};

use crate::BuildError;
use crate::env;
use crate::post_link::StripPolicy;

/// What the user asked for, from the command line and `slipway.toml`.
#[derive(Debug, Clone)]
pub struct BuildRequest {
    /// The module's root directory (holding go.mod), absolute.
    pub module_dir: PathBuf,
    /// The main package, relative to the module: `.` or `./cmd/server`.
    pub package: String,
    /// The binary's file name; default: the package's last path element.
    pub name: Option<String>,
    pub targets: Vec<Target>,
    pub cc: CCompiler,
    pub out_dir: PathBuf,
    pub tags: Vec<String>,
    pub ldflags: Vec<String>,
    /// Extra variables the user declared (`[build.env]`, `--env`).
    pub env: BTreeMap<String, String>,
    /// Stamp VCS information (`-buildvcs=true`). Off by default: an untracked
    /// file anywhere in the checkout flips `vcs.modified` and changes the binary.
    pub buildvcs: bool,
    /// What happens to debug info after the link.
    pub strip: StripPolicy,
    /// Per-platform C settings (`[build.target."linux/arm64"]`): a vendor
    /// SDK's sysroot and flags. Platforms not built are ignored.
    pub c_settings: BTreeMap<Platform, CSettings>,
    /// The default thread stack of musl targets in bytes, 0 for musl's own
    /// 128 KiB (see [`slipway_toolchain::MUSL_THREAD_STACK_DEFAULT`]).
    pub musl_stack: u64,
    /// The malloc of the C code: the C library's, or mimalloc linked in.
    pub allocator: slipway_alloc::Allocator,
}

#[derive(Debug, Clone)]
pub struct Plan {
    pub module_dir: PathBuf,
    pub module_path: String,
    pub package: String,
    pub name: String,
    pub go: PathBuf,
    pub go_version: String,
    pub zig_version: Option<String>,
    pub source_date_epoch: Option<i64>,
    /// The inherited environment, build knobs removed.
    pub base_env: Vec<(OsString, OsString)>,
    /// Names of inherited build knobs that were dropped.
    pub dropped_env: Vec<String>,
    pub out_dir: PathBuf,
    pub strip: StripPolicy,
    pub targets: Vec<PlannedTarget>,
    /// The C allocator every target links (checked in each result).
    pub allocator: slipway_alloc::Allocator,
    /// slipway's cache, where the staging files are and where zig's C
    /// runtimes are recorded once built.
    pub cache: CacheDir,
}

#[derive(Debug, Clone)]
pub struct PlannedTarget {
    pub target: Target,
    /// Everything set on top of `base_env`.
    pub env: BTreeMap<String, String>,
    /// Arguments to `go`.
    pub args: Vec<String>,
    /// Where `go build` writes. It stays between runs so Go's own up-to-date
    /// check makes a no-op rebuild cost no link.
    pub stage: PathBuf,
    /// The zig C runtime a cgo target links against (`None` without cgo or
    /// with a GNU compiler): cold until zig has built it once on this machine.
    pub runtime: Option<Runtime>,
}

impl PlannedTarget {
    /// The `go build` command for this target.
    pub fn command(&self, plan: &Plan) -> Command {
        let mut cmd = Command::new(&plan.go);
        cmd.env_clear()
            .envs(plan.base_env.iter().map(|(k, v)| (k, v)))
            .envs(&self.env)
            .args(&self.args);
        cmd.current_dir(&plan.module_dir);
        cmd
    }
}

/// Check a request without touching the machine: targets, flags, names, env.
pub fn validate_request(req: &BuildRequest) -> Result<(), BuildError> {
    if req.targets.is_empty() {
        return Err(BuildError::NoTargets);
    }
    for target in &req.targets {
        target.validate(req.cc)?;
    }
    let mut libcs: Vec<Libc> = req.targets.iter().map(|t| t.libc).collect();
    libcs.dedup();
    for libc in libcs {
        check_ldflags(libc, &req.ldflags)?;
    }
    let package_ok = req.package == "."
        || (req.package.starts_with("./")
            && !req.package.contains("...")
            && !req.package.split('/').any(|seg| seg == ".."));
    if !package_ok {
        return Err(BuildError::BadPackage {
            package: req.package.clone(),
        });
    }
    if let Some(name) = &req.name {
        let ok = !name.is_empty()
            && !name.starts_with('.')
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
        if !ok {
            return Err(BuildError::BadName { name: name.clone() });
        }
    }
    if let Some(name) = req.env.keys().find(|k| env::DERIVED.contains(&k.as_str())) {
        return Err(BuildError::DerivedEnv { name: name.clone() });
    }
    if req.musl_stack > MUSL_THREAD_STACK_MAX || (req.musl_stack > 0 && req.musl_stack < 16384) {
        return Err(BuildError::MuslStack {
            bytes: req.musl_stack,
        });
    }
    if req.allocator != slipway_alloc::Allocator::Libc
        && req.ldflags.iter().any(|f| f.contains("extldflags"))
    {
        return Err(BuildError::AllocatorExtldflags {
            allocator: req.allocator.name().into(),
        });
    }
    for target in &req.targets {
        req.allocator.check(target)?;
        if req.allocator != slipway_alloc::Allocator::Libc && req.cc != CCompiler::Zig {
            return Err(BuildError::AllocatorNeedsZig {
                allocator: req.allocator.name().into(),
                target: target.to_string(),
            });
        }
    }
    // Settings of platforms not being built are not used, so not checked
    // either: a CI job building one platform needs only that SDK.
    let built = |p: &Platform| req.targets.iter().any(|t| &t.platform == p);
    for (platform, settings) in req.c_settings.iter().filter(|(p, _)| built(p)) {
        settings.check().map_err(|problem| BuildError::CSettings {
            platform: platform.to_string(),
            problem: problem.0,
        })?;
    }
    Ok(())
}

/// Resolve toolchains for every target and write down exactly what will run.
pub fn plan(
    req: &BuildRequest,
    go: &GoToolchain,
    compilers: &mut CCompilers<'_>,
    cache: &CacheDir,
) -> Result<Plan, BuildError> {
    validate_request(req)?;
    let go_mod = req.module_dir.join("go.mod");
    let go_mod_text = std::fs::read_to_string(&go_mod).map_err(|_| BuildError::NotAModule {
        dir: req.module_dir.clone(),
    })?;
    let module_path = module_path(&go_mod_text).ok_or_else(|| BuildError::NotAModule {
        dir: req.module_dir.clone(),
    })?;
    let import_path = match req.package.strip_prefix("./") {
        Some(rel) if !rel.is_empty() => format!("{module_path}/{}", rel.trim_end_matches('/')),
        _ => module_path.clone(),
    };
    let name = req
        .name
        .clone()
        .unwrap_or_else(|| default_exe_name(&import_path));
    let source_date_epoch = source_date_epoch(&req.module_dir)?;
    let (base_env, dropped_env) = env::inherited(std::env::vars_os(), PASSED_THROUGH);
    let fixed = env::fixed(&go.passed_env, source_date_epoch);

    let mut targets = Vec::with_capacity(req.targets.len());
    for target in &req.targets {
        go.check(target)?;
        let no_settings = CSettings::default();
        let settings = req.c_settings.get(&target.platform).unwrap_or(&no_settings);
        let alloc_object = if req.allocator == slipway_alloc::Allocator::Mimalloc {
            let zig = compilers.zig_for(target)?;
            Some(slipway_alloc::compile(target, zig, cache)?)
        } else {
            None
        };
        let cc = compilers.cc_for(target, req.cc, settings, req.musl_stack, &req.env)?;
        let mut vars = fixed.clone();
        vars.extend(req.env.clone());
        vars.extend(target.go_env().into_iter().map(|(k, v)| (k.to_string(), v)));
        if let Some(cc) = cc {
            vars.insert("CC".into(), cc.path.display().to_string());
            vars.extend(cc.env);
        }
        let stage = cache.path(format!(
            "stage/{}/{name}",
            stage_key(&req.module_dir, &req.package, target, req.cc, req.allocator)
        ));
        let runtime = match (compilers.zig(), req.cc, target.libc.cgo()) {
            (Some(zig), CCompiler::Zig, true) => Runtime::for_target(&zig.version, target),
            _ => None,
        };
        targets.push(PlannedTarget {
            runtime,
            args: go_build_args(req, target, &stage, alloc_object.as_deref()),
            env: vars,
            target: target.clone(),
            stage,
        });
    }
    Ok(Plan {
        module_dir: req.module_dir.clone(),
        module_path,
        package: req.package.clone(),
        name,
        go: go.path.clone(),
        go_version: go.version.clone(),
        zig_version: compilers.zig().map(|z| z.version.clone()),
        source_date_epoch,
        base_env,
        dropped_env,
        out_dir: req.out_dir.clone(),
        strip: req.strip,
        targets,
        allocator: req.allocator,
        cache: cache.clone(),
    })
}

fn go_build_args(
    req: &BuildRequest,
    target: &Target,
    stage: &Path,
    alloc_object: Option<&Path>,
) -> Vec<String> {
    let mut args = vec![
        "build".to_string(),
        "-trimpath".to_string(),
        format!("-buildvcs={}", req.buildvcs),
    ];
    let mut tags: Vec<String> = target.build_tags().iter().map(|t| t.to_string()).collect();
    tags.extend(
        req.tags
            .iter()
            .filter(|t| !tags.contains(t))
            .cloned()
            .collect::<Vec<_>>(),
    );
    if !tags.is_empty() {
        args.push(format!("-tags={}", tags.join(",")));
    }
    let mut ldflags = target.ldflags();
    if let Some(object) = alloc_object {
        // The allocator object goes to the external link only (after Go's
        // and cgo's objects, before the C library, so its malloc wins).
        // Keeping it off the C compiler's command line keeps Go's cached
        // cgo objects shared between allocators: switching only relinks.
        let object = object.display();
        match ldflags.iter_mut().find(|f| f.starts_with("-extldflags=")) {
            Some(flag) => *flag = format!("'{flag} {object}'"),
            None => ldflags.push(format!("'-extldflags={object}'")),
        }
    }
    ldflags.extend(req.ldflags.iter().cloned());
    if !ldflags.is_empty() {
        args.push(format!("-ldflags={}", ldflags.join(" ")));
    }
    args.push("-o".to_string());
    args.push(stage.display().to_string());
    args.push(req.package.clone());
    args
}

fn stage_key(
    module_dir: &Path,
    package: &str,
    target: &Target,
    cc: CCompiler,
    allocator: slipway_alloc::Allocator,
) -> String {
    let mut h = Sha256::new();
    // A binary with another allocator is another binary; libc keeps the
    // keys stages had before allocators existed.
    if allocator != slipway_alloc::Allocator::Libc {
        h.update(format!("allocator={allocator}\0").as_bytes());
    }
    for part in [
        module_dir.to_string_lossy().as_ref(),
        package,
        &target.to_string(),
        cc.name(),
    ] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    base16ct::lower::encode_string(&h.finalize()[..10])
}

/// The `module` directive of a go.mod file.
pub fn module_path(go_mod: &str) -> Option<String> {
    go_mod.lines().find_map(|line| {
        let rest = line.trim().strip_prefix("module")?;
        if !rest.starts_with([' ', '\t', '"']) {
            return None;
        }
        let path = rest
            .split("//")
            .next()?
            .trim()
            .trim_matches(|c| c == '"' || c == '`');
        (!path.is_empty()).then(|| path.to_string())
    })
}

/// Go's default executable name: the import path's last element, or the one
/// before a major-version suffix (`example.com/tool/v2` → `tool`).
pub fn default_exe_name(import_path: &str) -> String {
    let mut parts = import_path.rsplit('/');
    let last = parts.next().unwrap_or(import_path);
    let is_major =
        last.len() > 1 && last.starts_with('v') && last[1..].chars().all(|c| c.is_ascii_digit());
    match parts.next() {
        Some(prev) if is_major => prev.to_string(),
        _ => last.to_string(),
    }
}

/// `SOURCE_DATE_EPOCH` from the environment, else the last commit's time when
/// the module is in git, else none.
fn source_date_epoch(module_dir: &Path) -> Result<Option<i64>, BuildError> {
    if let Some(value) = std::env::var_os("SOURCE_DATE_EPOCH") {
        let value = value.to_string_lossy().into_owned();
        return value
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| BuildError::BadSourceDateEpoch { value });
    }
    let out = Command::new("git")
        .arg("-C")
        .arg(module_dir)
        .args(["log", "-1", "--format=%ct"])
        .output();
    Ok(out
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_directive() {
        assert_eq!(
            module_path("// c\nmodule example.com/svc\n\ngo 1.22\n").as_deref(),
            Some("example.com/svc")
        );
        assert_eq!(
            module_path("module \"example.com/q\" // x\n").as_deref(),
            Some("example.com/q")
        );
        assert_eq!(module_path("modules x\n"), None);
        assert_eq!(module_path("go 1.22\n"), None);
    }

    #[test]
    fn exe_names_follow_go() {
        assert_eq!(default_exe_name("example.com/svc/cmd/server"), "server");
        assert_eq!(default_exe_name("example.com/tool/v2"), "tool");
        assert_eq!(default_exe_name("hello"), "hello");
        assert_eq!(default_exe_name("example.com/v"), "v");
    }

    fn request(package: &str) -> BuildRequest {
        BuildRequest {
            module_dir: "/m".into(),
            package: package.into(),
            name: None,
            targets: vec![Target::new("linux/arm64".parse().unwrap(), Libc::Musl)],
            cc: CCompiler::Zig,
            out_dir: "/o".into(),
            tags: vec![],
            ldflags: vec![],
            env: BTreeMap::new(),
            buildvcs: false,
            strip: StripPolicy::Split,
            c_settings: BTreeMap::new(),
            musl_stack: slipway_toolchain::MUSL_THREAD_STACK_DEFAULT,
            allocator: slipway_alloc::Allocator::Libc,
        }
    }

    #[test]
    fn requests_are_checked_before_anything_runs() {
        assert!(validate_request(&request(".")).is_ok());
        assert!(validate_request(&request("./cmd/server")).is_ok());
        for bad in ["cmd/server", "./...", "../other", "./a/../../b", ""] {
            assert!(
                matches!(
                    validate_request(&request(bad)),
                    Err(BuildError::BadPackage { .. })
                ),
                "{bad}"
            );
        }
        let mut r = request(".");
        r.name = Some("../evil".into());
        assert!(matches!(
            validate_request(&r),
            Err(BuildError::BadName { .. })
        ));
        let mut r = request(".");
        r.env.insert("GOARCH".into(), "arm".into());
        assert_eq!(
            validate_request(&r).unwrap_err().to_string(),
            "GOARCH cannot be declared in [build.env] or --env: slipway sets it from the target (use platforms, libc and cc instead)"
        );
        for bad in [4096, (8 << 20) + 1] {
            let mut r = request(".");
            r.musl_stack = bad;
            assert!(matches!(
                validate_request(&r),
                Err(BuildError::MuslStack { .. })
            ));
        }
        let mut r = request(".");
        r.musl_stack = 0;
        assert!(validate_request(&r).is_ok());
        let mut r = request(".");
        r.c_settings.insert(
            "linux/arm64".parse().unwrap(),
            CSettings {
                sysroot: Some("/no/such/sdk".into()),
                ..CSettings::default()
            },
        );
        assert_eq!(
            validate_request(&r).unwrap_err().to_string(),
            "[build.target.\"linux/arm64\"] in slipway.toml: sysroot /no/such/sdk is not a directory: point it at the SDK's root (the directory holding usr/include and usr/lib)"
        );
        let mut r = request(".");
        r.targets.clear();
        assert!(matches!(validate_request(&r), Err(BuildError::NoTargets)));
        let mut r = request(".");
        r.targets = vec![Target::new("linux/ppc64".parse().unwrap(), Libc::Musl)];
        assert!(matches!(validate_request(&r), Err(BuildError::Target(_))));
        let mut r = request(".");
        r.targets = vec![Target::new("linux/arm64".parse().unwrap(), Libc::None)];
        r.ldflags = vec!["-linkmode=external".into()];
        assert!(matches!(validate_request(&r), Err(BuildError::Target(_))));
    }

    #[test]
    fn go_build_arguments() {
        let mut r = request("./cmd/x");
        r.tags = vec!["netgo".into(), "extra".into()];
        r.ldflags = vec!["-s".into()];
        let args = go_build_args(&r, &r.targets[0], Path::new("/stage/x"), None);
        assert_eq!(
            args,
            [
                "build",
                "-trimpath",
                "-buildvcs=false",
                "-tags=netgo,osusergo,extra",
                "-ldflags=-linkmode=external -extldflags=-static -s",
                "-o",
                "/stage/x",
                "./cmd/x"
            ]
        );
    }

    /// The allocator object joins the external link's flags (and nothing
    /// the C compiler sees), for static and dynamic targets alike.
    #[test]
    fn the_allocator_object_goes_to_the_external_link() {
        let r = request("./cmd/x");
        let object = Path::new("/cache/alloc/k/mimalloc.o");
        let args = go_build_args(&r, &r.targets[0], Path::new("/stage/x"), Some(object));
        assert!(
            args.contains(
                &"-ldflags=-linkmode=external '-extldflags=-static /cache/alloc/k/mimalloc.o'"
                    .to_string()
            ),
            "{args:?}"
        );
        let glibc = Target::new(
            r.targets[0].platform.clone(),
            Libc::Glibc(slipway_platform::GlibcVersion::new(2, 28)),
        );
        let args = go_build_args(&r, &glibc, Path::new("/stage/x"), Some(object));
        assert!(
            args.contains(
                &"-ldflags=-linkmode=external '-extldflags=/cache/alloc/k/mimalloc.o'".to_string()
            ),
            "{args:?}"
        );
    }
}
