//! Moving OCI images between registries, layout directories and archives.
//!
//! [`Remote`] speaks the distribution protocol (anonymous, basic and bearer
//! auth; HEAD before upload; cross-repository mounts; chunked uploads that
//! resume; verified downloads; bounded retries). [`Layout`] reads and writes
//! OCI layouts and archives. Both are [`Store`]s, and [`copy`] moves an image
//! with all its platforms and attached signatures between any two of them,
//! keeping every manifest's bytes, and so every digest, unchanged.

mod auth;
mod client;
pub mod contents;
mod convert;
mod copy;
mod credentials;
mod error;
mod layout;
mod reference;
mod remote;
mod store;

pub use auth::{Challenge, parse_challenge, token_reply_is_usable};
pub use client::{Client, ClientOptions, Counters, RetryPolicy, is_loopback};
pub use convert::{ConvertReport, convert_root};
pub use copy::{
    Closure, CopyOptions, CopyPlan, CopyReport, MergeFn, Merged, ReferrerSelection, attachment_tag,
    closure, copy, copy_plan, copy_root, plan_copy,
};
pub use credentials::{Credentials, Secret, docker_config_path, from_docker_config};
pub use error::{RegistryError, Result};
pub use layout::{Layout, REFERRER_SUBJECT, is_attachment_tag};
pub use reference::{Location, RemoteRef, valid_tag};
pub use remote::Remote;
pub use store::{
    Blob, BlobOutcome, Children, EMPTY_MEDIA_TYPE, MANIFEST_TYPES, Progress, Quiet, RawManifest,
    Referrer, ReferrersIndex, Store, filter_referrers, put_bytes, put_manifest_with_blobs,
    put_referrer, referrers_tag, verify_file,
};

/// Open `location` to read an image from.
pub fn open_source(location: &Location, options: &ClientOptions) -> Result<Box<dyn Store>> {
    Ok(match location {
        Location::Remote(r) => Box::new(Remote::open(r.clone(), options)?),
        Location::Oci { dir, tag } => Box::new(Layout::open_dir(dir, tag.clone())?),
        Location::OciArchive { file, tag } => Box::new(Layout::read_archive(file, tag.clone())?),
        Location::DockerArchive { .. } => {
            return Err(RegistryError::Input(
                "docker-archive is a destination only; read from oci:, oci-archive: or a registry"
                    .into(),
            ));
        }
    })
}

/// Open `location` to write a copy into. A new archive replaces the old file
/// once complete; a layout directory is added to. `docker_name` names the
/// image inside a docker-archive.
pub fn open_destination(
    location: &Location,
    options: &ClientOptions,
    docker_name: &str,
) -> Result<Box<dyn Store>> {
    Ok(match location {
        Location::Remote(r) => Box::new(Remote::open(r.clone(), options)?),
        Location::Oci { dir, tag } => Box::new(Layout::create_dir(dir, tag.clone())?),
        Location::OciArchive { file, tag } => {
            Box::new(Layout::open_archive(file, tag.clone(), false)?)
        }
        Location::DockerArchive { file } => Box::new(Layout::create_docker_archive(
            file,
            docker_name.to_string(),
        )?),
    })
}

/// Open `location` to add things to an image already there (signatures,
/// attestations): an archive keeps its content.
pub fn open_for_update(location: &Location, options: &ClientOptions) -> Result<Box<dyn Store>> {
    match location {
        Location::OciArchive { file, tag } => {
            Ok(Box::new(Layout::open_archive(file, tag.clone(), true)?))
        }
        other => open_source(other, options),
    }
}
