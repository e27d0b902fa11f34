//! `slipway doctor`: which toolchains this machine has, and for each platform
//! and libc mode whether it can build it, and why not.

use serde::Serialize;
use slipway_platform::{Arch, CCompiler, GlibcVersion, Libc, Platform, Target};

use crate::cache::CacheDir;
use crate::gnu::GnuCc;
use crate::go::GoToolchain;
use crate::process::which;
use crate::zig::Zig;

#[derive(Debug, Serialize)]
pub struct Report {
    pub go: Found,
    pub zig: Found,
    pub gnu: Vec<Found>,
    /// qemu-user emulators, which run foreign binaries in tests.
    pub qemu: Vec<Found>,
    pub targets: Vec<Row>,
}

/// One tool: where and which version, or why it is missing.
#[derive(Debug, Serialize)]
pub struct Found {
    pub name: String,
    pub path: Option<String>,
    pub version: Option<String>,
    pub problem: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Row {
    pub platform: String,
    pub libc: String,
    /// The C compiler that would link it (`zig`, `gnu`), `null` without cgo.
    pub cc: Option<&'static str>,
    pub ok: bool,
    pub why: Option<String>,
}

/// The platforms doctor reports on: each port's default plus the variants
/// that change the C side (arm v5/v6, soft-float mips).
pub fn report_platforms() -> Vec<Platform> {
    let mut out = Vec::new();
    for arch in Arch::ALL {
        out.push(Platform::new(arch));
        let extra: &[&str] = match arch {
            Arch::Arm => &["linux/arm/v5", "linux/arm/v6"],
            Arch::Mips => &["linux/mips/softfloat"],
            Arch::Mipsle => &["linux/mipsle/softfloat"],
            Arch::Mips64 => &["linux/mips64/softfloat"],
            Arch::Mips64le => &["linux/mips64le/softfloat"],
            _ => &[],
        };
        out.extend(extra.iter().filter_map(|p| p.parse().ok()));
    }
    out.sort_by_key(|p| (Arch::ALL.iter().position(|a| *a == p.arch), p.to_string()));
    out
}

/// The glibc floor doctor checks: 2.28, or zig's floor where that is newer.
fn doctor_glibc(arch: Arch) -> Libc {
    let floor = arch.zig_glibc_floor().unwrap_or(GlibcVersion::new(2, 28));
    Libc::Glibc(floor.max(GlibcVersion::new(2, 28)))
}

pub fn run(
    go_path: Option<&std::path::Path>,
    zig_path: Option<&std::path::Path>,
    cache: &CacheDir,
) -> Report {
    let go = GoToolchain::discover(go_path);
    let zig = Zig::discover(zig_path, cache);
    let gnu: Vec<(&'static str, Option<Result<GnuCc, crate::ToolchainError>>)> = {
        let mut triples: Vec<&'static str> = report_platforms()
            .into_iter()
            .filter_map(|p| {
                Target::new(p, Libc::Glibc(GlibcVersion::new(2, 28)))
                    .gnu_triple()
                    .ok()
            })
            .collect();
        triples.sort();
        triples.dedup();
        triples
            .into_iter()
            .map(|t| (t, GnuCc::discover(t)))
            .collect()
    };

    let mut targets = Vec::new();
    for platform in report_platforms() {
        for libc in [Libc::None, Libc::Musl, doctor_glibc(platform.arch)] {
            let target = Target::new(platform.clone(), libc);
            targets.push(check_row(&target, &go, &zig, &gnu));
        }
    }

    let qemu = Arch::ALL
        .iter()
        .map(|a| {
            let name = format!("qemu-{}", a.qemu_name());
            let path = which(&name);
            Found {
                problem: path
                    .is_none()
                    .then(|| "not found: apt-get install qemu-user".to_string()),
                path: path.map(|p| p.display().to_string()),
                version: None,
                name,
            }
        })
        .collect();

    Report {
        go: match &go {
            Ok(g) => found("go", &g.path, &g.version),
            Err(e) => missing("go", e),
        },
        zig: match &zig {
            Ok(z) => found("zig", &z.path, &z.version),
            Err(e) => missing("zig", e),
        },
        gnu: gnu
            .iter()
            .map(|(triple, cc)| match cc {
                Some(Ok(cc)) => found(
                    &format!("{triple}-gcc"),
                    &cc.path,
                    &format!("{} (glibc {})", cc.version, cc.glibc),
                ),
                Some(Err(e)) => missing(&format!("{triple}-gcc"), e),
                None => Found {
                    name: format!("{triple}-gcc"),
                    path: None,
                    version: None,
                    problem: Some("not installed".into()),
                },
            })
            .collect(),
        qemu,
        targets,
    }
}

fn check_row(
    target: &Target,
    go: &Result<GoToolchain, crate::ToolchainError>,
    zig: &Result<Zig, crate::ToolchainError>,
    gnu: &[(&'static str, Option<Result<GnuCc, crate::ToolchainError>>)],
) -> Row {
    let row = |cc, why: Option<String>| Row {
        platform: target.platform.to_string(),
        libc: target.libc.to_string(),
        cc,
        ok: why.is_none(),
        why,
    };
    if let Err(e) = go {
        return row(None, Some(e.to_string()));
    }
    if let Ok(go) = go
        && let Err(e) = go.check(target)
    {
        return row(None, Some(e.to_string()));
    }
    if !target.libc.cgo() {
        return row(None, None);
    }
    // zig first; a glibc target may still be buildable with a GNU gcc.
    let zig_problem = match target.validate(CCompiler::Zig) {
        Err(e) => Some(e.to_string()),
        Ok(()) => match zig {
            Err(e) => Some(e.to_string()),
            Ok(zig) => zig.check(target).err().map(|e| e.to_string()),
        },
    };
    let Some(zig_problem) = zig_problem else {
        return row(Some("zig"), None);
    };
    if let (Libc::Glibc(_), Ok(triple)) = (target.libc, target.gnu_triple())
        && let Some((_, Some(Ok(cc)))) = gnu.iter().find(|(t, _)| *t == triple)
        && target.validate(CCompiler::Gnu).is_ok()
        && cc.check(target).is_ok()
    {
        return row(Some("gnu"), None);
    }
    row(Some("zig"), Some(zig_problem))
}

fn found(name: &str, path: &std::path::Path, version: &str) -> Found {
    Found {
        name: name.into(),
        path: Some(path.display().to_string()),
        version: Some(version.into()),
        problem: None,
    }
}

fn missing(name: &str, e: &crate::ToolchainError) -> Found {
    Found {
        name: name.into(),
        path: None,
        version: None,
        problem: Some(e.to_string()),
    }
}
