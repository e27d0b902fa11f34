use slipway_toolchain::ToolchainError;

/// Why the allocator cannot be built, or found in a binary.
#[derive(Debug, thiserror::Error)]
pub enum AllocError {
    #[error("allocator = \"{allocator}\" cannot be used for {target}: {why}")]
    Unsupported {
        allocator: String,
        target: String,
        why: String,
    },

    #[error("unknown allocator {0:?}: use \"libc\" or \"mimalloc\"")]
    Unknown(String),

    #[error(transparent)]
    Toolchain(#[from] ToolchainError),

    #[error("zig cc failed to compile mimalloc for {target} ({status}):\n{stderr}")]
    Compile {
        target: String,
        status: String,
        stderr: String,
    },

    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
}
