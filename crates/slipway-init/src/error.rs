use slipway_toolchain::ToolchainError;

/// Why the init (or another static helper) could not be built for a platform.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error("cannot build the init for {platform}: {why}")]
    Unsupported { platform: String, why: String },

    #[error(transparent)]
    Toolchain(#[from] ToolchainError),

    #[error("zig cc failed to compile {name} for {platform} ({status}):\n{stderr}")]
    Compile {
        name: String,
        platform: String,
        status: String,
        stderr: String,
    },

    #[error("{name} built for {platform} is not usable: {why}")]
    BadBinary {
        name: String,
        platform: String,
        why: String,
    },

    #[error(
        "the init for {platform} is {size} bytes, over the {max}-byte limit: check the zig version and flags"
    )]
    TooLarge {
        platform: String,
        size: u64,
        max: u64,
    },

    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
}
