use slipway_platform::{GlibcVersion, TargetError};

#[derive(Debug, thiserror::Error)]
pub enum ToolchainError {
    #[error(
        "go not found (looked in {looked}): install Go from https://go.dev/dl or pass --go PATH"
    )]
    GoNotFound { looked: String },

    #[error(
        "zig not found: {detail}. cgo targets (--libc musl or glibc:X.Y) need zig as the C cross compiler: run `pip install ziglang`, put `zig` on PATH, or pass --zig PATH"
    )]
    ZigNotFound { detail: String },

    #[error("{gcc} not found: install Debian's gcc-{gcc_pkg} (apt-get install gcc-{gcc_pkg}) or use --cc zig",
        gcc_pkg = triple.replace('_', "-"), gcc = format!("{triple}-gcc"))]
    GnuNotFound { triple: &'static str },

    #[error("the installed {go} has no {platform} port: upgrade Go or drop the platform")]
    PortMissing { platform: String, go: String },

    #[error("zig {zig} has no C library {triple} for {platform}")]
    ZigNoLibc {
        triple: String,
        zig: String,
        platform: String,
    },

    #[error("zig {zig} cannot link against glibc {wanted}: it knows glibc versions up to {newest}")]
    ZigNoGlibc {
        wanted: GlibcVersion,
        zig: String,
        newest: String,
    },

    #[error(
        "{gcc} links against glibc {have} from its sysroot, newer than the floor glibc:{floor}: its binaries would need glibc {have} on the device; use --cc zig, which caps glibc symbol versions, or raise the floor to glibc:{have}"
    )]
    GnuGlibcTooNew {
        gcc: String,
        have: GlibcVersion,
        floor: GlibcVersion,
    },

    #[error(transparent)]
    Target(#[from] TargetError),

    #[error("cannot run `{command}`: {source}")]
    Spawn {
        command: String,
        source: std::io::Error,
    },

    #[error("`{command}` failed ({status}){}", if stderr.is_empty() { String::new() } else { format!(":\n{stderr}") })]
    Failed {
        command: String,
        status: String,
        stderr: String,
    },

    #[error("unexpected output from {tool}: {detail}")]
    Unexpected { tool: String, detail: String },

    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
}
