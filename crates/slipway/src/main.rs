//! The slipway command line: parse, dispatch to one module per command, and
//! turn errors into a message that says what to do and an exit code that
//! says what kind of failure it was.

// cli.rs's doc comments are the --help text clap prints, where `[:tag]` means
// an optional part and `<digest>` a placeholder, not rustdoc links or HTML.
#[allow(rustdoc::broken_intra_doc_links, rustdoc::invalid_html_tags)]
mod cli;
mod commands;
mod config;
mod ui;

use std::process::ExitCode;

use clap::Parser;
use slipway_build::{BuildError, ErrorKind};
use slipway_platform::{PlatformError, TargetError};
use slipway_registry::RegistryError;
use slipway_toolchain::{CacheDir, ToolchainError};

use cli::{Cli, Command};

/// A problem with what the user asked for (exit 2) that has no typed error.
#[derive(Debug)]
pub struct InputError(pub String);

impl std::fmt::Display for InputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InputError {}

pub fn input(msg: impl Into<String>) -> InputError {
    InputError(msg.into())
}

fn main() -> ExitCode {
    // Die quietly when stdout goes away (`slipway targets | head`), as Unix
    // tools do, instead of failing a write; Rust starts with SIGPIPE ignored.
    // SAFETY: called first thing, before any thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let mut args = std::env::args_os();
    let _program = args.next();
    if args.next().as_deref() == Some(std::ffi::OsStr::new("zig-cc")) {
        return ExitCode::from(commands::zig_cc::run(args.collect()));
    }

    let cli = Cli::parse();
    let ui = ui::Ui::new(cli.color);
    let cache = CacheDir::resolve(cli.cache_dir.as_deref());
    commands::cache::set_flags(cli.cache_remote.clone(), cli.cache_remote_mode);
    let result = match cli.command {
        Command::Build(args) => commands::build::run(args, &cache, ui),
        Command::Image(args) => commands::image::run(args, &cache, ui),
        Command::Push(args) => commands::push::run(args, &cache, ui),
        Command::Copy(args) => commands::copy::run(args, ui),
        Command::Targets(args) => commands::targets::run(args),
        Command::Doctor(args) => commands::doctor::run(args, &cache),
        Command::Warm(args) => commands::warm::run(args, &cache, ui),
        Command::Inspect(args) => commands::inspect::run(args),
        Command::CheckImage(args) => commands::check_image::run(args, ui),
        Command::Strip(args) => commands::strip::run(args, ui),
        Command::Sbom(args) => commands::sbom::run(args, &cache, ui),
        Command::Scan(args) => commands::scan::run(args, ui),
        Command::Size(args) => commands::size::run(args, ui),
        Command::Keygen(args) => commands::keygen::run(args, ui),
        Command::Sign(args) => commands::sign::run_sign(args, ui),
        Command::Verify(args) => commands::sign::run_verify(args, ui),
        Command::Attest(args) => commands::sign::run_attest(args, &cache, ui),
        Command::Resolve(args) => commands::resolve::run(args, ui),
        Command::Promote(args) => commands::release::run_promote(args, ui),
        Command::Rollback(args) => commands::release::run_rollback(args, ui),
        Command::MarkBad(args) => commands::release::run_mark_bad(args, ui),
        Command::History(args) => commands::release::run_history(args, ui),
        Command::CacheProg => commands::cache::run_prog(&cache),
        Command::Cache(cmd) => commands::cache::run(cmd, &cache, ui),
        Command::Admission(command) => commands::admission::run(command, ui),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            ui.error(format!("{e:#}"));
            ExitCode::from(exit_code(&e))
        }
    }
}

fn registry_exit_code(r: &RegistryError) -> u8 {
    match r {
        RegistryError::Input(_) | RegistryError::Auth(_) | RegistryError::NotFound(_) => 2,
        RegistryError::Io { .. } => 3,
        RegistryError::Remote(_) | RegistryError::Integrity(_) | RegistryError::Conflict(_) => 1,
    }
}

fn notary_exit_code(n: &slipway_notary::NotaryError) -> u8 {
    match n {
        slipway_notary::NotaryError::Io { .. } => 3,
        slipway_notary::NotaryError::Format(_) => 1,
        _ => 2,
    }
}

/// 1: the build failed; 2: invalid input; 3: the machine (toolchains, files);
/// 4: another release command won a race on the same channel.
fn exit_code(e: &anyhow::Error) -> u8 {
    for cause in e.chain() {
        if let Some(r) = cause.downcast_ref::<slipway_release::Error>() {
            use slipway_release::Error as E;
            return match r {
                E::Input(_) => 2,
                E::LostRace(_) => 4,
                E::Io { .. } => 3,
                E::Registry(r) => registry_exit_code(r),
                E::Policy { .. } | E::MarkedBad(_) | E::Tampered { .. } => 1,
            };
        }
        if let Some(b) = cause.downcast_ref::<BuildError>() {
            return match b.kind() {
                ErrorKind::Input => 2,
                ErrorKind::Environment => 3,
                ErrorKind::Build => 1,
            };
        }
        if let Some(t) = cause.downcast_ref::<ToolchainError>() {
            return if matches!(t, ToolchainError::Target(_)) {
                2
            } else {
                3
            };
        }
        if let Some(i) = cause.downcast_ref::<slipway_image::ImageError>() {
            use slipway_image::ImageError as E;
            return match i {
                E::Input(_) => 2,
                E::Io { .. } => 3,
                E::Oci(slipway_oci::OciError::Input(_)) => 2,
                E::Oci(slipway_oci::OciError::Io { .. }) => 3,
                E::Closure(_) | E::Secrets(_) | E::Layer(_) | E::Oci(_) => 1,
                E::Registry(r) => match r {
                    RegistryError::Input(_)
                    | RegistryError::Auth(_)
                    | RegistryError::NotFound(_) => 2,
                    RegistryError::Io { .. } => 3,
                    _ => 1,
                },
            };
        }
        if let Some(o) = cause.downcast_ref::<slipway_oci::OciError>() {
            return match o {
                slipway_oci::OciError::Input(_) => 2,
                slipway_oci::OciError::Io { .. } => 3,
                slipway_oci::OciError::Layer(_) => 1,
            };
        }
        if let Some(r) = cause.downcast_ref::<RegistryError>() {
            return registry_exit_code(r);
        }
        if let Some(s) = cause.downcast_ref::<slipway_sbom::SbomError>() {
            return match s {
                slipway_sbom::SbomError::Io { .. } | slipway_sbom::SbomError::Zig(_) => 3,
                _ => 2,
            };
        }
        if let Some(s) = cause.downcast_ref::<slipway_scan::ScanError>() {
            return match s {
                slipway_scan::ScanError::Io { .. } => 3,
                _ => 2,
            };
        }
        if let Some(n) = cause.downcast_ref::<slipway_notary::NotaryError>() {
            return notary_exit_code(n);
        }
        if let Some(v) = cause.downcast_ref::<slipway_verify::VerifyError>() {
            use slipway_verify::VerifyError as E;
            return match v {
                E::Rejected(_) => 1,
                E::Input(_) => 2,
                E::Io { .. } => 3,
                E::Registry(r) => registry_exit_code(r),
                E::Notary(n) => notary_exit_code(n),
            };
        }
        if let Some(r) = cause.downcast_ref::<slipway_resolve::ResolveError>() {
            return match r {
                slipway_resolve::ResolveError::Io { .. } => 3,
                r if r.is_input() => 2,
                _ => 1,
            };
        }
        if let Some(s) = cause.downcast_ref::<slipway_size::SizeError>() {
            return match s {
                slipway_size::SizeError::Io { .. } => 3,
                slipway_size::SizeError::OverBudget(_) => 1,
                _ => 2,
            };
        }
        if let Some(c) = cause.downcast_ref::<slipway_cache::CacheError>() {
            return match c {
                slipway_cache::CacheError::Io { .. } => 3,
                _ => 2,
            };
        }
        if let Some(p) = cause.downcast_ref::<slipway_cache::prog::ProgError>() {
            return match p {
                slipway_cache::prog::ProgError::Protocol { .. } => 2,
                _ => 3,
            };
        }
        if let Some(a) = cause.downcast_ref::<slipway_admission::Error>() {
            return match a {
                slipway_admission::Error::Bind { .. } => 3,
                _ => 2,
            };
        }
        if cause.is::<slipway_attest::KeyError>() {
            return 2;
        }
        if cause.is::<PlatformError>() || cause.is::<TargetError>() || cause.is::<InputError>() {
            return 2;
        }
        if cause.is::<std::io::Error>() {
            return 3;
        }
    }
    1
}
