//! What every place images live in can do, so one copy routine serves
//! registry → archive, archive → registry, layout → registry and so on.
//! Manifests travel as raw bytes: re-serialising would change their digests.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use slipway_oci::Digest;

use crate::error::{RegistryError, Result};

pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";

/// The manifest media types slipway moves; anything else is refused by name.
pub const MANIFEST_TYPES: [&str; 4] = [OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST];

/// Largest manifest accepted (distribution's own limit is 4 MiB).
pub const MANIFEST_LIMIT: u64 = 4 << 20;

/// A manifest exactly as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawManifest {
    pub bytes: Vec<u8>,
    pub media_type: String,
    pub digest: Digest,
}

/// A content descriptor as found inside manifests.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Blob {
    #[serde(rename = "mediaType", default)]
    pub media_type: String,
    #[serde(deserialize_with = "digest")]
    pub digest: Digest,
    pub size: u64,
}

pub(crate) fn digest<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<Digest, D::Error> {
    let s = String::deserialize(d)?;
    Digest::parse(&s).ok_or_else(|| {
        serde::de::Error::custom(format!("`{s}` is not a sha256 digest slipway can verify"))
    })
}

#[derive(Deserialize)]
struct Loose {
    #[serde(rename = "mediaType", default)]
    media_type: Option<String>,
    #[serde(rename = "artifactType", default)]
    artifact_type: Option<String>,
    #[serde(default)]
    subject: Option<Blob>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
    #[serde(default)]
    manifests: Vec<Blob>,
    #[serde(default)]
    config: Option<Blob>,
    #[serde(default)]
    layers: Vec<Blob>,
}

/// What a manifest points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Children {
    /// An index: platform manifests (or nested indexes).
    Manifests(Vec<Blob>),
    /// An image manifest: its config and layers.
    Blobs(Vec<Blob>),
}

impl RawManifest {
    /// Check bytes against the digest they were asked for (if any) and work
    /// out the media type from the header or the document itself.
    pub fn verify(
        bytes: Vec<u8>,
        content_type: Option<&str>,
        expected: Option<&Digest>,
        whence: &str,
    ) -> Result<RawManifest> {
        if bytes.len() as u64 > MANIFEST_LIMIT {
            return Err(RegistryError::Integrity(format!(
                "{whence}: the manifest is {} bytes, over the {MANIFEST_LIMIT}-byte limit",
                bytes.len()
            )));
        }
        let digest = Digest::of(&bytes);
        if let Some(want) = expected
            && *want != digest
        {
            return Err(RegistryError::Integrity(format!(
                "{whence}: the manifest's content has digest {digest}, not the {want} it was \
                 fetched by; the source is corrupt or tampered with"
            )));
        }
        let loose: Loose = serde_json::from_slice(&bytes).map_err(|e| {
            RegistryError::Integrity(format!("{whence}: the manifest is not valid JSON: {e}"))
        })?;
        let header = content_type
            .map(|c| c.split(';').next().unwrap_or(c).trim())
            .filter(|c| MANIFEST_TYPES.contains(c));
        let media_type = match (loose.media_type.as_deref(), header) {
            (Some(m), _) if !m.is_empty() => m.to_string(),
            (_, Some(h)) => h.to_string(),
            _ => content_type.unwrap_or("").to_string(),
        };
        if !MANIFEST_TYPES.contains(&media_type.as_str()) {
            return Err(RegistryError::Integrity(format!(
                "{whence}: unknown manifest media type `{media_type}`; slipway moves OCI and \
                 Docker v2 images and indexes only"
            )));
        }
        Ok(RawManifest {
            bytes,
            media_type,
            digest,
        })
    }

    pub fn is_index(&self) -> bool {
        self.media_type == OCI_INDEX || self.media_type == DOCKER_LIST
    }

    /// The manifest this one refers to (OCI 1.1 `subject`), if any: a
    /// signature, attestation or SBOM names the image it is about this way.
    pub fn subject(&self) -> Result<Option<Blob>> {
        Ok(self.loose()?.subject)
    }

    /// How this manifest appears in a referrers list: its `artifactType`
    /// (else its config's media type, as the distribution spec says) and its
    /// annotations.
    pub fn as_referrer(&self) -> Result<Referrer> {
        let loose = self.loose()?;
        let artifact_type = loose
            .artifact_type
            .filter(|t| !t.is_empty())
            .or_else(|| loose.config.map(|c| c.media_type).filter(|t| !t.is_empty()));
        Ok(Referrer {
            media_type: self.media_type.clone(),
            digest: self.digest.clone(),
            size: self.bytes.len() as u64,
            artifact_type,
            annotations: loose.annotations,
        })
    }

    fn loose(&self) -> Result<Loose> {
        serde_json::from_slice(&self.bytes)
            .map_err(|e| RegistryError::Integrity(format!("manifest {}: {e}", self.digest)))
    }

    pub fn children(&self) -> Result<Children> {
        let loose: Loose = serde_json::from_slice(&self.bytes)
            .map_err(|e| RegistryError::Integrity(format!("manifest {}: {e}", self.digest)))?;
        if self.is_index() {
            Ok(Children::Manifests(loose.manifests))
        } else {
            let config = loose.config.ok_or_else(|| {
                RegistryError::Integrity(format!("manifest {} has no config", self.digest))
            })?;
            Ok(Children::Blobs(
                std::iter::once(config).chain(loose.layers).collect(),
            ))
        }
    }
}

/// The tag that stands in for the referrers API on registries without it
/// (the distribution spec's tag schema): `sha256-<hex>`. It names an image
/// index listing the referrers of `subject`.
pub fn referrers_tag(subject: &Digest) -> String {
    format!("sha256-{}", subject.hex())
}

/// One entry of a referrers list: a manifest whose `subject` is the digest
/// asked about, described as the referrers API describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Referrer {
    #[serde(rename = "mediaType")]
    pub media_type: String,
    pub digest: Digest,
    pub size: u64,
    /// The manifest's `artifactType`, else its config's media type.
    #[serde(
        rename = "artifactType",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub artifact_type: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// A referrers list as the API returns it and the fallback tag stores it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ReferrersIndex {
    #[serde(rename = "schemaVersion")]
    pub schema_version: u32,
    #[serde(rename = "mediaType", default)]
    pub media_type: String,
    #[serde(default)]
    pub manifests: Vec<Referrer>,
}

impl ReferrersIndex {
    pub fn new(manifests: Vec<Referrer>) -> ReferrersIndex {
        ReferrersIndex {
            schema_version: 2,
            media_type: OCI_INDEX.into(),
            manifests,
        }
    }

    /// Parse a referrers list. Entries whose digest is not one slipway can
    /// check are refused as a whole (the list is not trustworthy then).
    pub fn parse(bytes: &[u8], whence: &str) -> Result<ReferrersIndex> {
        serde_json::from_slice(bytes).map_err(|e| {
            RegistryError::Integrity(format!("{whence}: not a valid referrers list: {e}"))
        })
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a referrers index serialises")
    }
}

/// Keep the referrers whose artifact type is `filter` (all when `None`).
/// Registries may ignore the filter, so it is always applied here too.
pub fn filter_referrers(list: Vec<Referrer>, filter: Option<&str>) -> Vec<Referrer> {
    match filter {
        None => list,
        Some(t) => list
            .into_iter()
            .filter(|r| r.artifact_type.as_deref() == Some(t))
            .collect(),
    }
}

/// What happened to one blob at the destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlobOutcome {
    /// Sent; this many bytes went over the wire.
    Uploaded(u64),
    /// Already there.
    Reused,
    /// Linked from another repository of the same registry.
    Mounted,
}

/// Hooks for showing transfer progress. All methods may be called from
/// several threads at once.
pub trait Progress: Sync {
    fn blob_started(&self, _blob: &Blob, _action: &str) {}
    fn blob_bytes(&self, _blob: &Blob, _bytes: u64) {}
    fn blob_finished(&self, _blob: &Blob, _outcome: BlobOutcome) {}
    fn manifest_written(&self, _digest: &Digest, _tag: Option<&str>) {}
}

/// Refuse a blob [`Store::read_blob`] would hold in memory when it claims
/// more than `limit` bytes.
pub(crate) fn check_small(blob: &Blob, limit: u64) -> Result<()> {
    if blob.size > limit {
        return Err(RegistryError::Integrity(format!(
            "blob {} claims {} bytes; at most {limit} are read into memory",
            blob.digest, blob.size
        )));
    }
    Ok(())
}

/// `size` bytes of `src` from `from` to `out` at `to`. Offsets are given,
/// never the files' own, so copies side by side may share either file. The
/// kernel copies where it can (`copy_file_range`); where it refuses (another
/// file system on an old kernel, a special file), the bytes go through a
/// buffer.
pub(crate) fn copy_at(
    src: &std::fs::File,
    from: u64,
    size: u64,
    out: &std::fs::File,
    to: u64,
) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::FileExt;
    let ends_early =
        || std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "the file ends early");
    let mut done = 0u64;
    while done < size {
        let (Ok(mut off_in), Ok(mut off_out)) =
            (i64::try_from(from + done), i64::try_from(to + done))
        else {
            break;
        };
        let want = (size - done).min(1 << 30) as usize;
        // The system call itself: glibc has its wrapper only since 2.27,
        // and the wheel is built for 2.17.
        // SAFETY: both descriptors are open for the call, and the offsets
        // are locals the kernel updates.
        let n = unsafe {
            libc::syscall(
                libc::SYS_copy_file_range,
                src.as_raw_fd(),
                &mut off_in as *mut i64,
                out.as_raw_fd(),
                &mut off_out as *mut i64,
                want,
                0u32,
            )
        };
        match n {
            0 => return Err(ends_early()),
            n if n > 0 => done += n as u64,
            _ => break,
        }
    }
    let mut buf = vec![0u8; (size - done).min(1 << 20) as usize];
    while done < size {
        let want = (size - done).min(buf.len() as u64) as usize;
        let n = src.read_at(&mut buf[..want], from + done)?;
        if n == 0 {
            return Err(ends_early());
        }
        out.write_all_at(&buf[..n], to + done)?;
        done += n as u64;
    }
    Ok(())
}

/// A [`Progress`] that shows nothing.
pub struct Quiet;
impl Progress for Quiet {}

/// A place images are read from or written to.
pub trait Store: Sync {
    /// For messages: `registry.io/team/svc`, `oci:out/image`, …
    fn describe(&self) -> String;

    /// The manifest the location names (its tag or digest, or the only image).
    fn root(&self) -> Result<RawManifest>;

    fn manifest(&self, digest: &Digest) -> Result<RawManifest>;

    /// The manifest under `tag`, if there is one.
    fn tagged(&self, tag: &str) -> Result<Option<RawManifest>>;

    /// The digest under `tag`, without fetching more than needed.
    fn tag_digest(&self, tag: &str) -> Result<Option<Digest>> {
        Ok(self.tagged(tag)?.map(|m| m.digest))
    }

    /// Every tag, where the store can list them at once (a registry's tag
    /// list, a layout's index). `None`: ask with [`Store::tagged`] instead.
    fn tags(&self) -> Result<Option<Vec<String>>> {
        Ok(None)
    }

    fn has_blob(&self, blob: &Blob) -> Result<bool>;

    fn has_manifest(&self, digest: &Digest) -> Result<bool>;

    /// The blob as a verified local file; `scratch` is where a download may go.
    fn fetch_blob(&self, blob: &Blob, scratch: &Path, progress: &dyn Progress) -> Result<PathBuf>;

    /// A small blob's bytes (a signature envelope, a config), checked
    /// against its digest; refused when it claims more than `limit` bytes.
    fn read_blob(&self, blob: &Blob, limit: u64) -> Result<Vec<u8>> {
        check_small(blob, limit)?;
        let scratch = tempfile::tempdir()
            .map_err(|e| RegistryError::io("creating a scratch directory", e))?;
        let path = self.fetch_blob(blob, scratch.path(), &Quiet)?;
        std::fs::read(&path)
            .map_err(|e| RegistryError::io(format!("reading {}", path.display()), e))
    }

    /// Write the blob, checked against its digest, at `offset` of `out`.
    /// Positioned writes: downloads side by side share the file, and a
    /// retried one starts over. The default goes through a scratch file.
    fn fetch_blob_at(
        &self,
        blob: &Blob,
        out: &std::fs::File,
        offset: u64,
        progress: &dyn Progress,
    ) -> Result<()> {
        let scratch = tempfile::tempdir()
            .map_err(|e| RegistryError::io("creating a scratch directory", e))?;
        let path = self.fetch_blob(blob, scratch.path(), progress)?;
        let io = |e| RegistryError::io(format!("copying {}", blob.digest), e);
        let file = std::fs::File::open(&path).map_err(io)?;
        copy_at(&file, 0, blob.size, out, offset).map_err(io)
    }

    /// Store `file` (already verified to be `blob`).
    fn push_blob(&self, blob: &Blob, file: &Path, progress: &dyn Progress) -> Result<BlobOutcome>;

    /// Told, before a copy writes anything, every blob and manifest it is
    /// about to write: an archive being made lays out its tar now, and then
    /// takes blobs straight into place through [`Store::receive_blob`].
    fn expect(&self, blobs: &[Blob], manifests: &[&RawManifest]) -> Result<()> {
        let _ = (blobs, manifests);
        Ok(())
    }

    /// Take `blob` in place, where [`Store::expect`] made room for it:
    /// `fill` writes it, checked, at the offset given of the file given.
    /// `None`: no room, so [`Store::push_blob`] it instead.
    fn receive_blob(
        &self,
        blob: &Blob,
        fill: &mut dyn FnMut(&std::fs::File, u64) -> Result<()>,
    ) -> Result<Option<BlobOutcome>> {
        let _ = (blob, fill);
        Ok(None)
    }

    /// Store a manifest, under `tag` if given, else by digest only.
    fn push_manifest(&self, manifest: &RawManifest, tag: Option<&str>) -> Result<()>;

    /// Make everything written visible (an archive is written here, at once).
    fn finish(&self) -> Result<()> {
        Ok(())
    }

    /// The tag the location names, for a destination.
    fn target_tag(&self) -> Option<String>;

    /// The repository name the image goes by (`registry.io/team/svc`), as a
    /// signature's identity: a registry's repository, or the name a layout
    /// recorded for the image (`io.containerd.image.name`, without its tag).
    fn image_name(&self) -> Option<String> {
        None
    }

    /// Store `manifest`, which has a `subject`, so that [`Store::referrers`]
    /// of that subject lists it (OCI 1.1 referrers). Its blobs must be
    /// stored first. A registry without the referrers API gets the fallback
    /// tag `sha256-<hex>` updated (read, add, write, re-checked against a
    /// concurrent writer); a layout lists it in `index.json`. Pushing a
    /// referrer that is already listed changes nothing.
    fn push_referrer(&self, manifest: &RawManifest) -> Result<()> {
        let _ = manifest;
        Err(RegistryError::Input(format!(
            "{} cannot hold referrers",
            self.describe()
        )))
    }

    /// [`Store::push_referrer`] for several manifests at once (a registry
    /// without the API updates each fallback tag once, not once per referrer).
    fn push_referrers(&self, manifests: &[RawManifest]) -> Result<()> {
        manifests.iter().try_for_each(|m| self.push_referrer(m))
    }

    /// The manifests whose `subject` is `subject`, optionally only those of
    /// one `artifact_type`, as the referrers API lists them (fallback tag
    /// and layout index included). Nothing refers to it: an empty list.
    fn referrers(&self, subject: &Digest, artifact_type: Option<&str>) -> Result<Vec<Referrer>> {
        let _ = (subject, artifact_type);
        Ok(Vec::new())
    }

    /// The registry repository behind this store, if it is one (for mounts).
    fn as_remote(&self) -> Option<&crate::remote::Remote> {
        None
    }
}

/// Store small in-memory content (signature payloads, SBOMs, configs)
/// unless the store has it already.
pub fn put_bytes(store: &dyn Store, media_type: &str, bytes: &[u8]) -> Result<Blob> {
    let blob = Blob {
        media_type: media_type.to_string(),
        digest: Digest::of(bytes),
        size: bytes.len() as u64,
    };
    if !store.has_blob(&blob)? {
        let mut tmp = tempfile::NamedTempFile::new()
            .map_err(|e| RegistryError::io("creating a temporary file", e))?;
        std::io::Write::write_all(&mut tmp, bytes)
            .map_err(|e| RegistryError::io("writing a temporary file", e))?;
        store.push_blob(&blob, tmp.path(), &Quiet)?;
    }
    Ok(blob)
}

/// Store a manifest and the blobs it needs (given as bytes), under `tag`:
/// how signatures, attestations and SBOMs are attached to an image.
pub fn put_manifest_with_blobs(
    store: &dyn Store,
    manifest: &[u8],
    media_type: &str,
    blobs: &[(&str, &[u8])],
    tag: &str,
) -> Result<RawManifest> {
    for (media, bytes) in blobs {
        put_bytes(store, media, bytes)?;
    }
    let raw = RawManifest::verify(manifest.to_vec(), Some(media_type), None, &store.describe())?;
    store.push_manifest(&raw, Some(tag))?;
    Ok(raw)
}

/// The empty descriptor's media type: an artifact manifest with no config
/// blob uses it (with the two-byte blob `{}`) and says what it is in
/// `artifactType`.
pub const EMPTY_MEDIA_TYPE: &str = "application/vnd.oci.empty.v1+json";

/// Store a referrer manifest (it must have a `subject`) and the small blobs
/// it needs: how signature bundles and other artifacts are attached as
/// OCI 1.1 referrers. See [`Store::push_referrer`].
pub fn put_referrer(
    store: &dyn Store,
    manifest: &[u8],
    blobs: &[(&str, &[u8])],
) -> Result<RawManifest> {
    for (media, bytes) in blobs {
        put_bytes(store, media, bytes)?;
    }
    let raw = RawManifest::verify(
        manifest.to_vec(),
        Some(OCI_MANIFEST),
        None,
        &store.describe(),
    )?;
    if raw.subject()?.is_none() {
        return Err(RegistryError::Input(format!(
            "manifest {} has no subject, so it cannot be stored as a referrer",
            raw.digest
        )));
    }
    store.push_referrer(&raw)?;
    Ok(raw)
}

/// Hash a file and compare it with the descriptor; for blobs from disk.
pub fn verify_file(path: &Path, blob: &Blob) -> Result<()> {
    use sha2::{Digest as _, Sha256};
    use std::io::Read;
    let mut f = std::fs::File::open(path)
        .map_err(|e| RegistryError::io(format!("opening {}", path.display()), e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        let n = f
            .read(&mut buf)
            .map_err(|e| RegistryError::io(format!("reading {}", path.display()), e))?;
        if n == 0 {
            break;
        }
        total += n as u64;
        hasher.update(&buf[..n]);
    }
    let got = Digest::from_sha256(&hasher.finalize());
    if total != blob.size || got != blob.digest {
        return Err(RegistryError::Integrity(format!(
            "blob {} is corrupt at {}: {total} bytes with digest {got}, expected {} bytes",
            blob.digest,
            path.display(),
            blob.size
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifests_are_checked() {
        let body = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}"#.to_vec();
        let d = Digest::of(&body);
        let m = RawManifest::verify(body.clone(), None, Some(&d), "t").unwrap();
        assert!(m.is_index());
        assert_eq!(m.children().unwrap(), Children::Manifests(vec![]));
        let other = Digest::of(b"x");
        assert!(matches!(
            RawManifest::verify(body, None, Some(&other), "t"),
            Err(RegistryError::Integrity(_))
        ));
        let odd = br#"{"schemaVersion":2,"mediaType":"application/vnd.example.thing+json"}"#;
        let e = RawManifest::verify(odd.to_vec(), None, None, "t").unwrap_err();
        assert!(e.to_string().contains("unknown manifest media type"), "{e}");
        // No mediaType field: the Content-Type header decides.
        let bare = br#"{"schemaVersion":2,"config":{"mediaType":"c","digest":"sha256:0000000000000000000000000000000000000000000000000000000000000000","size":2},"layers":[]}"#;
        let m = RawManifest::verify(bare.to_vec(), Some(OCI_MANIFEST), None, "t").unwrap();
        assert_eq!(m.media_type, OCI_MANIFEST);
        assert!(matches!(m.children().unwrap(), Children::Blobs(b) if b.len() == 1));
    }

    proptest::proptest! {
        #[test]
        fn manifest_parsing_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..300)) {
            if let Ok(m) = RawManifest::verify(bytes, Some(OCI_MANIFEST), None, "t") {
                let _ = m.children();
            }
        }
    }
}
