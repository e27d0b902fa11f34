use std::path::PathBuf;

use slipway_platform::TargetError;
use slipway_toolchain::ToolchainError;

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("no go.mod in {dir}: slipway builds a Go module; pass the module's directory")]
    NotAModule { dir: PathBuf },

    #[error("--package `{package}` must be a path inside the module, like ./cmd/server or .")]
    BadPackage { package: String },

    #[error("name `{name}` cannot be a file name: use letters, digits, '.', '-' and '_'")]
    BadName { name: String },

    #[error(
        "{name} cannot be declared in [build.env] or --env: slipway sets it from the target (use platforms, libc and cc instead)"
    )]
    DerivedEnv { name: String },

    #[error(
        "no platforms to build: pass --platform (for example linux/amd64,linux/arm64) or set platforms in slipway.toml"
    )]
    NoTargets,

    #[error("[build.target.\"{platform}\"] in slipway.toml: {problem}")]
    CSettings { platform: String, problem: String },

    #[error(
        "musl_thread_stack = {bytes} bytes is out of range: give 16KiB to 8MiB (musl ignores more than 8 MiB), or \"musl\" for musl's own 128 KiB"
    )]
    MuslStack { bytes: u64 },

    #[error("SOURCE_DATE_EPOCH=`{value}` is not a whole number of seconds since 1970")]
    BadSourceDateEpoch { value: String },

    #[error(transparent)]
    Target(#[from] TargetError),

    #[error(transparent)]
    Toolchain(#[from] ToolchainError),

    #[error(transparent)]
    Alloc(#[from] slipway_alloc::AllocError),

    #[error(
        "allocator = \"{allocator}\" needs cc = \"zig\": slipway compiles it with zig, and {target} uses the GNU C compiler; drop --cc gnu or keep allocator = \"libc\""
    )]
    AllocatorNeedsZig { allocator: String, target: String },

    #[error(
        "allocator = \"{allocator}\" cannot be combined with -extldflags in ldflags: slipway passes the allocator to the external linker that way; put C linker flags under [build.target.\"PLATFORM\"] ldflags in slipway.toml instead"
    )]
    AllocatorExtldflags { allocator: String },

    #[error(
        "{target}: allocator = \"{allocator}\" was asked for, but the linked binary does not carry it (no {section} section): the C link did not include it"
    )]
    AllocatorMissing {
        target: String,
        allocator: String,
        section: String,
    },

    #[error("cannot use {path} as the output directory: {why}")]
    OutDir { path: PathBuf, why: String },

    #[error("go build failed for {target}:\n{output}")]
    GoBuild { target: String, output: String },

    #[error(
        "`{package}` is package {name}, not package main: slipway builds commands; point --package at a main package (for example ./cmd/server)"
    )]
    NotMain { package: String, name: String },

    #[error(
        "{target}: the result is dynamically linked (interpreter {interpreter}), but {libc} targets must be static"
    )]
    NotStatic {
        target: String,
        libc: String,
        interpreter: String,
    },

    #[error("strip = `{value}` is not a strip policy: use split, strip or none")]
    BadStrip { value: String },

    #[error(
        "{target}: the result does not run on glibc {floor}: it {detail}; raise the floor (--libc glibc:X.Y) or avoid those functions"
    )]
    GlibcFloor {
        target: String,
        floor: String,
        detail: String,
    },

    #[error("{target}: the result is not an ELF binary for this architecture ({detail})")]
    WrongBinary { target: String, detail: String },

    #[error("{} of {} targets failed:\n\n{}", failures.len(), total, failures.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n\n"))]
    Several {
        failures: Vec<BuildError>,
        total: usize,
    },

    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
}

impl BuildError {
    pub(crate) fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> BuildError {
        let what = what.into();
        move |source| BuildError::Io { what, source }
    }

    /// Whether the error is the user's input (exit 2) rather than the build
    /// (exit 1) or the machine (exit 3).
    pub fn kind(&self) -> ErrorKind {
        match self {
            BuildError::NotAModule { .. }
            | BuildError::BadPackage { .. }
            | BuildError::BadName { .. }
            | BuildError::DerivedEnv { .. }
            | BuildError::NoTargets
            | BuildError::BadSourceDateEpoch { .. }
            | BuildError::BadStrip { .. }
            | BuildError::CSettings { .. }
            | BuildError::MuslStack { .. }
            | BuildError::Target(_)
            | BuildError::NotMain { .. }
            | BuildError::AllocatorNeedsZig { .. }
            | BuildError::AllocatorExtldflags { .. }
            | BuildError::Alloc(
                slipway_alloc::AllocError::Unsupported { .. }
                | slipway_alloc::AllocError::Unknown(_),
            ) => ErrorKind::Input,
            BuildError::Alloc(slipway_alloc::AllocError::Toolchain(ToolchainError::Target(_))) => {
                ErrorKind::Input
            }
            BuildError::Alloc(slipway_alloc::AllocError::Compile { .. }) => ErrorKind::Build,
            BuildError::Alloc(_) => ErrorKind::Environment,
            BuildError::Toolchain(ToolchainError::Target(_)) => ErrorKind::Input,
            BuildError::Toolchain(_) => ErrorKind::Environment,
            BuildError::OutDir { .. } | BuildError::Io { .. } => ErrorKind::Environment,
            BuildError::GoBuild { .. }
            | BuildError::NotStatic { .. }
            | BuildError::GlibcFloor { .. }
            | BuildError::WrongBinary { .. }
            | BuildError::AllocatorMissing { .. } => ErrorKind::Build,
            BuildError::Several { failures, .. } => failures
                .iter()
                .map(BuildError::kind)
                .min()
                .unwrap_or(ErrorKind::Build),
        }
    }
}

/// What kind of failure, for exit codes. Ordered by what a user should fix first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ErrorKind {
    Input,
    Environment,
    Build,
}
