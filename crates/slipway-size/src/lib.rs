//! Where the bytes go: size reports of Go binaries, `slipway build` output
//! directories and images; diffs between two of them; size budgets.
//!
//! - [`analyze_path`] / [`analyze`]: one ELF file, by Go package, C part, Go
//!   runtime metadata and section, reconciled with the file size;
//! - [`ImageReport`]: an image's platforms by layer (compressed sizes from the
//!   layer descriptors, whatever the compression) and the binaries inside;
//! - [`diff`]: what grew and shrank between two reports;
//! - [`Budget`] and [`check_budget`]: the release gate of `build`/`image`/`push`.

mod binary;
mod budget;
pub mod classify;
mod diff;
mod render;

use std::path::PathBuf;

use serde::Serialize;

pub use binary::{
    BinaryReport, C_CODE, C_DATA_WITHOUT_SYMBOLS, C_WITHOUT_SYMBOLS, ELF_LINKING, GO_PACKAGES,
    GO_RUNTIME, GO_VARIABLES_WITHOUT_SYMBOLS, Names, PADDING, Row, SYMBOLS_DEBUG, SectionRow,
    TYPES_WITHOUT_SYMBOLS, UNATTRIBUTED, analyze, analyze_files, analyze_path, debug_file_for,
};
pub use budget::{Budget, BudgetCheck, check_budget, over_budget_message, parse_size};
pub use diff::{DiffRow, diff};
pub use render::{human, human_bytes, human_diff};

/// What went wrong producing a size report or checking a budget.
#[derive(Debug, thiserror::Error)]
pub enum SizeError {
    #[error("{file}: {source}")]
    Elf {
        file: String,
        source: slipway_elf::ElfError,
    },
    #[error("{0}")]
    Input(String),
    #[error("{what} {}: {source}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    /// One or more budgets exceeded; the message lists them and the top contributors.
    #[error("{0}")]
    OverBudget(String),
}

impl SizeError {
    fn elf(path: &std::path::Path, source: slipway_elf::ElfError) -> SizeError {
        SizeError::Elf {
            file: path.display().to_string(),
            source,
        }
    }
}

/// One layer of a platform's image, with its compressed (descriptor) size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LayerRow {
    pub digest: String,
    pub media_type: String,
    /// Bytes pulled: the descriptor's size, compressed with whatever the layer uses.
    pub size: u64,
    /// The config history entry that made it, when it says.
    pub created_by: String,
}

/// One platform of an image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlatformReport {
    pub platform: String,
    pub manifest: String,
    /// Layers, config and manifest: what a pull of this platform transfers.
    pub compressed_size: u64,
    pub manifest_size: u64,
    pub config_size: u64,
    pub layers: Vec<LayerRow>,
    /// The ELF files in the image (uncompressed, by path in the image).
    pub binaries: Vec<BinaryReport>,
}

impl PlatformReport {
    /// `compressed_size` from its parts, so it always reconciles.
    pub fn new(
        platform: String,
        manifest: String,
        manifest_size: u64,
        config_size: u64,
        layers: Vec<LayerRow>,
        binaries: Vec<BinaryReport>,
    ) -> PlatformReport {
        let compressed_size =
            layers.iter().map(|l| l.size).sum::<u64>() + config_size + manifest_size;
        PlatformReport {
            platform,
            manifest,
            compressed_size,
            manifest_size,
            config_size,
            layers,
            binaries,
        }
    }
}

/// An image's size report, per platform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImageReport {
    pub image: String,
    pub platforms: Vec<PlatformReport>,
}

/// Whatever `slipway size` was pointed at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Report {
    Binary(BinaryReport),
    /// A `slipway build` output directory: each binary, by relative path.
    Directory {
        dir: String,
        binaries: Vec<BinaryReport>,
    },
    Image(ImageReport),
}
