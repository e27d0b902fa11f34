//! OCI images without a daemon: deterministic layer tars, pinned parallel
//! gzip or pinned zstd, image configs, manifests and indexes in a content-addressed store,
//! and writers for OCI layouts, OCI archives and `docker load` tars.

pub mod compression;
mod digest;
pub mod gzip;
pub mod image;
pub mod layout;
pub mod spec;
pub mod store;
pub mod tar;
pub mod tier;
pub mod zstd;

pub use compression::{Algorithm, Compression, LayerFormat};
pub use digest::Digest;
pub use image::{CompressionSettings, ImageSet, Layer, PlatformImage, assemble, build_layer};
pub use layout::{Format, ImageName};
pub use store::BlobStore;
pub use tar::{EntryKind, LayerTar};

#[derive(Debug, thiserror::Error)]
pub enum OciError {
    /// Something about the requested image or output is wrong.
    #[error("{0}")]
    Input(String),
    #[error("layer: {0}")]
    Layer(String),
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
}

impl OciError {
    pub(crate) fn io(what: String, source: std::io::Error) -> OciError {
        OciError::Io { what, source }
    }
}
