//! The image stage of slipway as a library: from built binaries and the
//! `[image]` settings to a stored, multi-platform image set.
//!
//! - [`prepare`] reads and checks everything the module adds (base files,
//!   data, CA bundle) and runs the secret gate on it, before any compiling;
//! - [`Prepared::assemble`] lays out each platform (base, init, data, glibc
//!   runtime, app), proves with the [`closure`] check that every binary can
//!   start in the merged layers, and only then compresses and stores them;
//! - [`rootfs`] is the merged view of an image's layers the check runs on,
//!   also used to check images that already exist.

pub mod assemble;
pub mod base;
pub mod caps;
pub mod closure;
pub mod rootfs;
pub mod runtime;
mod secrets;
pub mod source;
mod staged;

pub use assemble::{
    APP_DIR, Assembly, ImageSettings, NONROOT, PlatformCheck, Prepared, Runtime, Target,
    git_metadata, prepare,
};
pub use closure::{
    Closure, Problem, check, check_with_library_path, library_path, multiarch_triplet,
};
pub use rootfs::RootFs;
pub use secrets::SecretsFound;
pub use staged::Staged;

/// What can go wrong in the image stage.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// The settings or files the user gave are wrong.
    #[error("{0}")]
    Input(String),
    /// A binary could not start in the image; nothing was written.
    #[error("{}", closure_message(.0))]
    Closure(Vec<Problem>),
    #[error(transparent)]
    Secrets(#[from] SecretsFound),
    #[error("layer: {0}")]
    Layer(String),
    #[error(transparent)]
    Oci(#[from] slipway_oci::OciError),
    /// Reading a base or an existing image.
    #[error(transparent)]
    Registry(#[from] slipway_registry::RegistryError),
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
}

fn closure_message(problems: &[Problem]) -> String {
    let mut out = String::from("the runtime closure check failed; nothing was written:");
    for p in problems {
        out.push_str("\n  ");
        out.push_str(&p.to_string());
    }
    let glibc_loader = problems.iter().any(|p| {
        matches!(p, Problem::MissingInterpreter { interpreter, .. } if !interpreter.contains("ld-musl"))
    });
    if glibc_loader {
        out.push_str(
            "\nA glibc binary needs glibc in the image. Choose one: runtime = \"glibc\" in \
             [image] (or --runtime glibc) copies the loader and libraries from a sysroot \
             (default: Debian's libc6-<arch>-cross); or build on a base image that has them; \
             or build with --libc musl for a static binary.",
        );
    } else if problems
        .iter()
        .any(|p| matches!(p, Problem::MissingLibrary { .. }))
    {
        out.push_str(
            "\nAdd the missing libraries to the image (a base image that has them, or \
             [image] files), or link them statically.",
        );
    }
    out
}
