//! OCI layouts on disk as a [`Store`]: a directory, an OCI archive (a tar of
//! one: read in place, or unpacked to a temporary directory to be added to
//! and written back whole), or a `docker load` tar (write only).

use std::collections::{HashMap, HashSet};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use slipway_oci::spec::{Descriptor, Index, REF_NAME};

use slipway_oci::Digest;

use crate::error::{RegistryError, Result};
use crate::store::{
    Blob, BlobOutcome, Progress, RawManifest, Referrer, ReferrersIndex, Store, copy_at,
    filter_referrers, verify_file,
};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    Dir,
    OciArchive(PathBuf),
    DockerArchive(PathBuf),
}

pub struct Layout {
    kind: Kind,
    /// The layout directory: the user's, or a temporary one for archives.
    root: PathBuf,
    _tmp: Option<tempfile::TempDir>,
    tag: Option<String>,
    index: Mutex<Vec<Descriptor>>,
    verified: Mutex<HashSet<Digest>>,
    /// The subject of each manifest listed in index.json, once read.
    subjects: Mutex<std::collections::HashMap<Digest, Option<Digest>>>,
    /// For docker-archive: the `RepoTags` entry.
    docker_name: Option<String>,
    /// An archive opened only to read: its blobs stay in the tar until one
    /// is fetched, so a copy whose destination has them reads none.
    packed: Option<Packed>,
    /// A new archive whose tar was laid out before a copy into it began.
    planned: OnceLock<Planned>,
}

/// A new archive's tar, laid out by [`Store::expect`] with a place for
/// every blob and manifest of the copy, in the order
/// [`Layout::write_archive`] would write them: blobs go straight into
/// place as they arrive, instead of into scratch files copied at the end.
struct Planned {
    /// The tar, for positioned writes from several downloads at once.
    file: std::fs::File,
    /// The same file beside the archive, which [`Store::finish`] commits.
    staged: Mutex<Option<slipway_fs::Staged>>,
    /// Digest → (offset of its bytes in the tar, size).
    places: HashMap<Digest, (u64, u64)>,
    /// The blobs written into their places so far.
    filled: Mutex<HashSet<Digest>>,
    /// Where the entries after the blobs (index.json, oci-layout) begin.
    tail: u64,
}

/// Where each blob of an archive read in place lies in the tar.
struct Packed {
    file: std::fs::File,
    /// Digest → (offset of its bytes in the archive, size).
    blobs: HashMap<Digest, (u64, u64)>,
}

const LAYOUT_FILE: &[u8] = br#"{"imageLayoutVersion":"1.0.0"}"#;

/// Tags cosign and slipway use for things attached to an image: the legacy
/// `sha256-<hex>.sig/.att/.sbom` and the referrers fallback `sha256-<hex>`.
pub fn is_attachment_tag(tag: &str) -> bool {
    let Some(rest) = tag.strip_prefix("sha256-") else {
        return false;
    };
    let hex = rest.split('.').next().unwrap_or("");
    let suffix = &rest[hex.len()..];
    hex.len() == 64
        && hex.bytes().all(|b| b.is_ascii_hexdigit())
        && ["", ".sig", ".att", ".sbom"].contains(&suffix)
}

/// The annotation on an `index.json` entry that marks it as a referrer of
/// the digest it names (proposed for the image-spec; oras and slipway read
/// untagged entries' `subject` anyway).
pub const REFERRER_SUBJECT: &str = "org.opencontainers.image.referrer.subject";

fn read_index(root: &Path, whence: &str) -> Result<Vec<Descriptor>> {
    let path = root.join("index.json");
    let bytes = std::fs::read(&path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            RegistryError::Input(format!(
                "{whence} is not an OCI layout: it has no index.json"
            ))
        } else {
            RegistryError::io(format!("reading {}", path.display()), e)
        }
    })?;
    // `mediaType` is optional in index.json, so read it loosely.
    #[derive(serde::Deserialize)]
    struct IndexFile {
        #[serde(default)]
        manifests: Vec<Descriptor>,
    }
    let index: IndexFile = serde_json::from_slice(&bytes).map_err(|e| {
        RegistryError::Integrity(format!(
            "{whence}: index.json is not a valid OCI index: {e}"
        ))
    })?;
    Ok(index.manifests)
}

impl Layout {
    /// An existing layout directory, to read or add to.
    pub fn open_dir(dir: &Path, tag: Option<String>) -> Result<Layout> {
        let whence = format!("oci:{}", dir.display());
        if !dir.join("oci-layout").is_file() {
            return Err(RegistryError::Input(format!(
                "{whence} is not an OCI layout (no oci-layout file); write one with \
                 `slipway image --out {}` or `slipway copy`",
                dir.display()
            )));
        }
        let index = read_index(dir, &whence)?;
        Ok(Layout::new(Kind::Dir, dir.to_path_buf(), None, tag, index))
    }

    /// A layout directory to write to, created if missing.
    pub fn create_dir(dir: &Path, tag: Option<String>) -> Result<Layout> {
        if dir.join("oci-layout").is_file() {
            return Layout::open_dir(dir, tag);
        }
        if dir.exists()
            && std::fs::read_dir(dir)
                .map(|mut d| d.next().is_some())
                .unwrap_or(true)
        {
            return Err(RegistryError::Input(format!(
                "refusing to write into {}: it exists and is not an OCI layout",
                dir.display()
            )));
        }
        std::fs::create_dir_all(dir.join("blobs/sha256"))
            .map_err(|e| RegistryError::io(format!("creating {}", dir.display()), e))?;
        slipway_fs::write_atomic(&dir.join("oci-layout"), LAYOUT_FILE, 0o644)
            .map_err(|e| RegistryError::io(format!("writing {}", dir.display()), e))?;
        Ok(Layout::new(Kind::Dir, dir.to_path_buf(), None, tag, vec![]))
    }

    /// An OCI archive. Read: `keep` unpacks the existing file (it must
    /// exist); otherwise the archive starts empty and replaces any old file
    /// on [`Store::finish`].
    pub fn open_archive(file: &Path, tag: Option<String>, keep: bool) -> Result<Layout> {
        let tmp = scratch_near(file)?;
        let root = tmp.path().to_path_buf();
        let index = if keep {
            unpack(file, &root)?;
            read_index(&root, &format!("oci-archive:{}", file.display()))?
        } else {
            std::fs::create_dir_all(root.join("blobs/sha256"))
                .map_err(|e| RegistryError::io("creating a scratch directory", e))?;
            vec![]
        };
        Ok(Layout::new(
            Kind::OciArchive(file.to_path_buf()),
            root,
            Some(tmp),
            tag,
            index,
        ))
    }

    /// An OCI archive to read from, in place: only its index is read now,
    /// and a blob is copied out (to the system's temporary directory, so the
    /// archive may sit on read-only media) only when it is fetched.
    pub fn read_archive(file: &Path, tag: Option<String>) -> Result<Layout> {
        let tmp = tempfile::Builder::new()
            .prefix("slipway-archive-")
            .tempdir()
            .map_err(|e| RegistryError::io("creating a scratch directory", e))?;
        let root = tmp.path().to_path_buf();
        let packed = scan(file, &root)?;
        let index = read_index(&root, &format!("oci-archive:{}", file.display()))?;
        let mut layout = Layout::new(
            Kind::OciArchive(file.to_path_buf()),
            root,
            Some(tmp),
            tag,
            index,
        );
        layout.packed = Some(packed);
        Ok(layout)
    }

    /// A `docker load` tar naming the image `name` (`repo:tag`).
    pub fn create_docker_archive(file: &Path, name: String) -> Result<Layout> {
        let tmp = scratch_near(file)?;
        let root = tmp.path().to_path_buf();
        std::fs::create_dir_all(root.join("blobs/sha256"))
            .map_err(|e| RegistryError::io("creating a scratch directory", e))?;
        let mut l = Layout::new(
            Kind::DockerArchive(file.to_path_buf()),
            root,
            Some(tmp),
            None,
            vec![],
        );
        l.docker_name = Some(name);
        Ok(l)
    }

    fn new(
        kind: Kind,
        root: PathBuf,
        tmp: Option<tempfile::TempDir>,
        tag: Option<String>,
        index: Vec<Descriptor>,
    ) -> Layout {
        Layout {
            kind,
            root,
            _tmp: tmp,
            tag,
            index: Mutex::new(index),
            verified: Mutex::new(HashSet::new()),
            subjects: Mutex::new(Default::default()),
            docker_name: None,
            packed: None,
            planned: OnceLock::new(),
        }
    }

    /// Where a blob lies inside a tar rather than in the directory: an
    /// archive read in place, or a blob written into a planned archive.
    /// (The tar, the offset of its bytes, its size.)
    fn in_tar(&self, digest: &Digest) -> Option<(&std::fs::File, u64, u64)> {
        if let Some(p) = &self.packed
            && let Some(&(offset, size)) = p.blobs.get(digest)
        {
            return Some((&p.file, offset, size));
        }
        let p = self.planned.get()?;
        if !p.filled.lock().unwrap().contains(digest) {
            return None;
        }
        let &(offset, size) = p.places.get(digest)?;
        Some((&p.file, offset, size))
    }

    /// The size of the blob the layout holds, if it holds it.
    fn blob_size(&self, digest: &Digest) -> Option<u64> {
        if let Some((_, _, size)) = self.in_tar(digest) {
            return Some(size);
        }
        std::fs::metadata(self.blob_path(digest))
            .ok()
            .filter(|m| m.is_file())
            .map(|m| m.len())
    }

    /// A blob's bytes, read whole (callers bound the size first).
    fn blob_bytes(&self, digest: &Digest) -> std::io::Result<Vec<u8>> {
        if let Some((file, offset, size)) = self.in_tar(digest) {
            let mut buf = vec![0; size as usize];
            file.read_exact_at(&mut buf, offset)?;
            return Ok(buf);
        }
        std::fs::read(self.blob_path(digest))
    }

    /// The blob as a file: where it is, or copied out of a packed archive
    /// (once; the copy appears whole, under its final name, by rename).
    fn blob_file(&self, digest: &Digest) -> Result<Option<PathBuf>> {
        let path = self.blob_path(digest);
        if path.is_file() {
            return Ok(Some(path));
        }
        let Some((file, offset, size)) = self.in_tar(digest) else {
            return Ok(None);
        };
        let io = |e| RegistryError::io(format!("copying {digest} out of {}", self.describe()), e);
        let dir = path.parent().unwrap_or(&self.root);
        let out = tempfile::NamedTempFile::new_in(dir).map_err(io)?;
        copy_at(file, offset, size, out.as_file(), 0).map_err(io)?;
        out.persist(&path).map_err(|e| io(e.error))?;
        Ok(Some(path))
    }

    fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.root.join("blobs/sha256").join(digest.hex())
    }

    fn read_manifest(&self, digest: &Digest, media_hint: Option<&str>) -> Result<RawManifest> {
        // index.json may point anywhere, a layer included: look before reading.
        if self
            .blob_size(digest)
            .is_some_and(|size| size > crate::store::MANIFEST_LIMIT)
        {
            return Err(RegistryError::Integrity(format!(
                "{}: {digest} is larger than a manifest may be ({} bytes)",
                self.describe(),
                crate::store::MANIFEST_LIMIT
            )));
        }
        let bytes = self.blob_bytes(digest).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                RegistryError::NotFound(format!("{} lacks manifest {digest}", self.describe()))
            } else {
                RegistryError::io(format!("reading {digest} in {}", self.describe()), e)
            }
        })?;
        RawManifest::verify(bytes, media_hint, Some(digest), &self.describe())
    }
}

/// Ask the kernel to start writing `len` bytes at `offset` of `file` to
/// disk now, without waiting: the archive's final flush then finds most of
/// it written already, while later blobs were still downloading. Only a
/// hint; failures change nothing.
fn start_writeback(file: &std::fs::File, offset: u64, len: u64) {
    use std::os::fd::AsRawFd;
    let (Ok(offset), Ok(len)) = (i64::try_from(offset), i64::try_from(len)) else {
        return;
    };
    // SAFETY: a valid open descriptor; the call only schedules writeback.
    unsafe {
        libc::sync_file_range(file.as_raw_fd(), offset, len, libc::SYNC_FILE_RANGE_WRITE);
    }
}

/// A tar header as slipway writes them: every field fixed, so archives are
/// reproducible.
fn tar_header(path: &str, size: u64, dir: bool) -> std::io::Result<tar::Header> {
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(if dir {
        tar::EntryType::Directory
    } else {
        tar::EntryType::Regular
    });
    h.set_path(path)?;
    h.set_size(size);
    h.set_mode(if dir { 0o755 } else { 0o644 });
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    h.set_username("")?;
    h.set_groupname("")?;
    h.set_device_major(0)?;
    h.set_device_minor(0)?;
    h.set_cksum();
    Ok(h)
}

/// The entries after the blobs, sorted: index.json, docker's manifest.json
/// when given, oci-layout.
fn append_small<W: std::io::Write>(
    builder: &mut tar::Builder<W>,
    index: &[u8],
    docker: Option<&[u8]>,
) -> std::io::Result<()> {
    let mut small: Vec<(&str, &[u8])> = vec![("index.json", index), ("oci-layout", LAYOUT_FILE)];
    if let Some(d) = docker {
        small.push(("manifest.json", d));
    }
    small.sort();
    for (name, bytes) in small {
        builder.append(&tar_header(name, bytes.len() as u64, false)?, bytes)?;
    }
    Ok(())
}

/// A temporary directory beside `file`, so the final rename stays on one file system.
fn scratch_near(file: &Path) -> Result<tempfile::TempDir> {
    let parent = file
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !parent.is_dir() {
        return Err(RegistryError::Input(format!(
            "{}: the directory {} does not exist",
            file.display(),
            parent.display()
        )));
    }
    tempfile::Builder::new()
        .prefix(".slipway-archive-")
        .tempdir_in(parent)
        .map_err(|e| {
            RegistryError::io(
                format!("creating a scratch directory in {}", parent.display()),
                e,
            )
        })
}

/// Unpack an OCI archive, taking only `oci-layout`, `index.json` and
/// `blobs/sha256/<hex>` regular files; anything that could escape the
/// directory is refused.
fn unpack(file: &Path, root: &Path) -> Result<()> {
    let packed = scan(file, root)?;
    for (digest, &(offset, size)) in &packed.blobs {
        let target = root.join("blobs/sha256").join(digest.hex());
        let out = std::fs::File::create(&target)
            .map_err(|e| RegistryError::io(format!("unpacking {digest}"), e))?;
        copy_at(&packed.file, offset, size, &out, 0)
            .map_err(|e| RegistryError::io(format!("unpacking {digest}"), e))?;
    }
    Ok(())
}

/// The member of an OCI archive `entry` is, if slipway reads it: `oci-layout`,
/// `index.json` or `blobs/sha256/<hex>` (other files, such as docker's
/// `manifest.json`, and directories are skipped). Such a member that is not
/// a regular file is an error.
fn archive_member<R: std::io::Read>(
    entry: &tar::Entry<'_, R>,
    whence: &str,
) -> Result<Option<String>> {
    let raw = entry.path_bytes();
    let name = String::from_utf8_lossy(&raw);
    let name = name.trim_start_matches("./");
    let kind = entry.header().entry_type();
    if kind.is_dir() {
        return Ok(None);
    }
    let accepted = match name {
        "oci-layout" | "index.json" => true,
        n => n
            .strip_prefix("blobs/sha256/")
            .is_some_and(|h| Digest::parse(&format!("sha256:{h}")).is_some()),
    };
    if !accepted {
        return Ok(None); // manifest.json, repositories, other algorithms: not ours to read
    }
    if !kind.is_file() {
        return Err(RegistryError::Integrity(format!(
            "{whence}: {name} is not a regular file in the archive"
        )));
    }
    Ok(Some(name.to_string()))
}

/// Read an OCI archive's table of contents without unpacking it: where each
/// `blobs/sha256/<hex>` file lies, with `oci-layout` and `index.json`
/// written into `root`. Entries are taken and refused as [`unpack`] does.
fn scan(file: &Path, root: &Path) -> Result<Packed> {
    let whence = format!("oci-archive:{}", file.display());
    let f = std::fs::File::open(file).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            RegistryError::Input(format!("{} does not exist", file.display()))
        } else {
            RegistryError::io(format!("opening {}", file.display()), e)
        }
    })?;
    let bad = |e: std::io::Error| {
        RegistryError::Integrity(format!("{whence} is not a readable tar archive: {e}"))
    };
    std::fs::create_dir_all(root.join("blobs/sha256"))
        .map_err(|e| RegistryError::io("creating a scratch directory", e))?;
    let mut blobs = HashMap::new();
    let mut saw_index = false;
    let mut archive = tar::Archive::new(&f);
    for entry in archive.entries_with_seek().map_err(bad)? {
        let mut entry = entry.map_err(bad)?;
        let Some(name) = archive_member(&entry, &whence)? else {
            continue;
        };
        match name.as_str() {
            "oci-layout" | "index.json" => {
                saw_index |= name == "index.json";
                let target = root.join(&name);
                let mut out = std::fs::File::create(&target)
                    .map_err(|e| RegistryError::io(format!("reading {name}"), e))?;
                std::io::copy(&mut entry, &mut out).map_err(bad)?;
            }
            n => {
                let digest = Digest::parse(&format!("sha256:{}", &n["blobs/sha256/".len()..]))
                    .expect("archive_member checked the name");
                blobs.insert(digest, (entry.raw_file_position(), entry.size()));
            }
        }
    }
    if !saw_index {
        return Err(RegistryError::Input(format!(
            "{whence} is not an OCI archive: it has no index.json"
        )));
    }
    // The offsets must lie inside the file: a truncated archive is refused now.
    let len = f
        .metadata()
        .map_err(|e| RegistryError::io(format!("reading {}", file.display()), e))?
        .len();
    if let Some((d, _)) = blobs.iter().find(|(_, (o, s))| o.saturating_add(*s) > len) {
        return Err(RegistryError::Integrity(format!(
            "{whence} is cut short: {d} runs past its end"
        )));
    }
    Ok(Packed { file: f, blobs })
}

impl Store for Layout {
    fn describe(&self) -> String {
        match &self.kind {
            Kind::Dir => format!("oci:{}", self.root.display()),
            Kind::OciArchive(f) => format!("oci-archive:{}", f.display()),
            Kind::DockerArchive(f) => format!("docker-archive:{}", f.display()),
        }
    }

    fn root(&self) -> Result<RawManifest> {
        let entry = {
            let index = self.index.lock().unwrap();
            let name = |d: &Descriptor| d.annotations.get(REF_NAME).cloned();
            match &self.tag {
                Some(tag) => index
                    .iter()
                    .find(|d| name(d).as_ref() == Some(tag))
                    .cloned()
                    .ok_or_else(|| {
                        let tags: Vec<String> = index.iter().filter_map(name).collect();
                        RegistryError::NotFound(format!(
                            "{} has no image tagged `{tag}`; its tags: {}",
                            self.describe(),
                            if tags.is_empty() {
                                "none".into()
                            } else {
                                tags.join(", ")
                            }
                        ))
                    })?,
                None => {
                    let mut images: Vec<&Descriptor> = index
                        .iter()
                        .filter(|d| !name(d).is_some_and(|n| is_attachment_tag(&n)))
                        .filter(|d| !d.annotations.contains_key(REFERRER_SUBJECT))
                        .collect();
                    if images.len() > 1 {
                        // Other tools list referrers untagged: they are not images.
                        images.retain(|d| !matches!(self.subject_of(d), Ok(Some(_))));
                    }
                    match images.as_slice() {
                        [one] => (*one).clone(),
                        [] => {
                            return Err(RegistryError::NotFound(format!(
                                "{} holds no image",
                                self.describe()
                            )));
                        }
                        many => {
                            let tags: Vec<String> = many.iter().filter_map(|d| name(d)).collect();
                            return Err(RegistryError::Input(format!(
                                "{} holds {} images; name one as {}:TAG (tags: {})",
                                self.describe(),
                                many.len(),
                                self.describe(),
                                tags.join(", ")
                            )));
                        }
                    }
                }
            }
        };
        self.read_manifest(&entry.digest, Some(&entry.media_type))
    }

    fn manifest(&self, digest: &Digest) -> Result<RawManifest> {
        self.read_manifest(digest, None)
    }

    fn tagged(&self, tag: &str) -> Result<Option<RawManifest>> {
        let entry = self
            .index
            .lock()
            .unwrap()
            .iter()
            .find(|d| d.annotations.get(REF_NAME).map(String::as_str) == Some(tag))
            .cloned();
        entry
            .map(|d| self.read_manifest(&d.digest, Some(&d.media_type)))
            .transpose()
    }

    /// The tags in the layout's index.json.
    fn tags(&self) -> Result<Option<Vec<String>>> {
        Ok(Some(
            self.index
                .lock()
                .unwrap()
                .iter()
                .filter_map(|d| d.annotations.get(REF_NAME).cloned())
                .collect(),
        ))
    }

    fn has_blob(&self, blob: &Blob) -> Result<bool> {
        Ok(self.blob_size(&blob.digest) == Some(blob.size))
    }

    fn has_manifest(&self, digest: &Digest) -> Result<bool> {
        Ok(self.blob_size(digest).is_some())
    }

    fn fetch_blob(
        &self,
        blob: &Blob,
        _scratch: &Path,
        _progress: &dyn Progress,
    ) -> Result<PathBuf> {
        let Some(path) = self.blob_file(&blob.digest)? else {
            return Err(RegistryError::NotFound(format!(
                "{} lacks blob {}, which its image refers to",
                self.describe(),
                blob.digest
            )));
        };
        if !self.verified.lock().unwrap().contains(&blob.digest) {
            verify_file(&path, blob)?;
            self.verified.lock().unwrap().insert(blob.digest.clone());
        }
        Ok(path)
    }

    fn read_blob(&self, blob: &Blob, limit: u64) -> Result<Vec<u8>> {
        crate::store::check_small(blob, limit)?;
        // The blob is a file here already: no scratch copy.
        let path = self.fetch_blob(blob, &self.root, &crate::store::Quiet)?;
        std::fs::read(&path)
            .map_err(|e| RegistryError::io(format!("reading {}", path.display()), e))
    }

    fn push_blob(&self, blob: &Blob, file: &Path, progress: &dyn Progress) -> Result<BlobOutcome> {
        let dest = self.blob_path(&blob.digest);
        progress.blob_started(blob, "writing");
        if std::fs::hard_link(file, &dest).is_err() && !self.has_blob(blob)? {
            if self.staged() {
                // As in push_manifest: the archive is flushed as a whole.
                std::fs::copy(file, &dest).map(|_| ())
            } else {
                slipway_fs::copy_atomic(file, &dest, 0o644)
            }
            .map_err(|e| RegistryError::io(format!("writing {}", dest.display()), e))?;
        }
        progress.blob_bytes(blob, blob.size);
        Ok(BlobOutcome::Uploaded(blob.size))
    }

    fn expect(&self, blobs: &[Blob], manifests: &[&RawManifest]) -> Result<()> {
        // Only a new, empty OCI archive: anything already staged would need
        // a place the plan does not know of.
        let Kind::OciArchive(file) = &self.kind else {
            return Ok(());
        };
        if self.packed.is_some()
            || self.planned.get().is_some()
            || !self.index.lock().unwrap().is_empty()
            || self.staged_names()?.next().is_some()
        {
            return Ok(());
        }
        let mut entries: std::collections::BTreeMap<String, (Digest, u64)> = blobs
            .iter()
            .map(|b| (b.digest.hex().to_string(), (b.digest.clone(), b.size)))
            .collect();
        for m in manifests {
            entries.insert(
                m.digest.hex().to_string(),
                (m.digest.clone(), m.bytes.len() as u64),
            );
        }
        let io = |e| RegistryError::io(format!("writing {}", file.display()), e);
        let mut staged = slipway_fs::Staged::beside(file).map_err(io)?;
        let out = staged.file().try_clone().map_err(io)?;
        let mut places = HashMap::new();
        let mut at = 0u64;
        for dir in ["blobs/", "blobs/sha256/"] {
            out.write_all_at(tar_header(dir, 0, true).map_err(io)?.as_bytes(), at)
                .map_err(io)?;
            at += 512;
        }
        for (hex, (digest, size)) in entries {
            let name = format!("blobs/sha256/{hex}");
            out.write_all_at(tar_header(&name, size, false).map_err(io)?.as_bytes(), at)
                .map_err(io)?;
            places.insert(digest, (at + 512, size));
            at += 512 + size.next_multiple_of(512);
        }
        // The places not yet written read as zeros, as the padding must.
        out.set_len(at).map_err(io)?;
        let planned = Planned {
            file: out,
            staged: Mutex::new(Some(staged)),
            places,
            filled: Mutex::new(HashSet::new()),
            tail: at,
        };
        let _ = self.planned.set(planned);
        Ok(())
    }

    fn receive_blob(
        &self,
        blob: &Blob,
        fill: &mut dyn FnMut(&std::fs::File, u64) -> Result<()>,
    ) -> Result<Option<BlobOutcome>> {
        let Some(p) = self.planned.get() else {
            return Ok(None);
        };
        let Some(&(offset, size)) = p.places.get(&blob.digest) else {
            return Ok(None);
        };
        if size != blob.size {
            return Ok(None);
        }
        fill(&p.file, offset)?;
        p.filled.lock().unwrap().insert(blob.digest.clone());
        start_writeback(&p.file, offset, size);
        Ok(Some(BlobOutcome::Uploaded(size)))
    }

    fn push_manifest(&self, manifest: &RawManifest, tag: Option<&str>) -> Result<()> {
        let dest = self.blob_path(&manifest.digest);
        if self.staged() {
            // Scratch space for an archive, which is itself written and
            // flushed atomically at the end: flushing each file here buys nothing.
            std::fs::write(&dest, &manifest.bytes)
        } else {
            slipway_fs::write_atomic(&dest, &manifest.bytes, 0o644)
        }
        .map_err(|e| RegistryError::io(format!("writing {}", dest.display()), e))?;
        if let Some(tag) = tag {
            let mut d = Descriptor {
                media_type: manifest.media_type.clone(),
                digest: manifest.digest.clone(),
                size: manifest.bytes.len() as u64,
                platform: None,
                annotations: Default::default(),
            };
            d.annotations.insert(REF_NAME.into(), tag.into());
            let mut index = self.index.lock().unwrap();
            match index
                .iter_mut()
                .find(|e| e.annotations.get(REF_NAME).map(String::as_str) == Some(tag))
            {
                Some(existing) => *existing = d,
                None => index.push(d),
            }
        }
        Ok(())
    }

    fn push_referrer(&self, manifest: &RawManifest) -> Result<()> {
        let subject = manifest.subject()?.ok_or_else(|| {
            RegistryError::Input(format!(
                "manifest {} has no subject, so it is not a referrer",
                manifest.digest
            ))
        })?;
        self.push_manifest(manifest, None)?;
        let mut index = self.index.lock().unwrap();
        if index.iter().any(|d| d.digest == manifest.digest) {
            return Ok(());
        }
        let mut d = Descriptor {
            media_type: manifest.media_type.clone(),
            digest: manifest.digest.clone(),
            size: manifest.bytes.len() as u64,
            platform: None,
            annotations: Default::default(),
        };
        d.annotations
            .insert(REFERRER_SUBJECT.into(), subject.digest.to_string());
        index.push(d);
        Ok(())
    }

    fn referrers(&self, subject: &Digest, artifact_type: Option<&str>) -> Result<Vec<Referrer>> {
        let entries = self.index.lock().unwrap().clone();
        let mut out: Vec<Referrer> = Vec::new();
        let fallback = crate::store::referrers_tag(subject);
        for entry in &entries {
            let name = entry.annotations.get(REF_NAME);
            if name == Some(&fallback) {
                // A fallback index copied in from a registry without the API.
                let m = self.read_manifest(&entry.digest, Some(&entry.media_type))?;
                if let Ok(list) = ReferrersIndex::parse(&m.bytes, &self.describe()) {
                    for r in list.manifests {
                        if !out.iter().any(|o| o.digest == r.digest)
                            && self.has_manifest(&r.digest)?
                        {
                            out.push(r);
                        }
                    }
                }
                continue;
            }
            if name.is_some_and(|n| is_attachment_tag(n)) {
                continue;
            }
            if self.subject_of(entry)?.as_ref() != Some(subject)
                || out.iter().any(|o| o.digest == entry.digest)
            {
                continue;
            }
            let m = self.read_manifest(&entry.digest, Some(&entry.media_type))?;
            out.push(m.as_referrer()?);
        }
        Ok(filter_referrers(out, artifact_type))
    }

    fn finish(&self) -> Result<()> {
        if self.packed.is_some() {
            // Its blobs are still in the old file: rewriting it would lose them.
            return Err(RegistryError::Input(format!(
                "{} was opened to read; open it for update to add to it",
                self.describe()
            )));
        }
        let index = Index {
            schema_version: 2,
            media_type: crate::store::OCI_INDEX.into(),
            manifests: self.index.lock().unwrap().clone(),
            annotations: Default::default(),
        };
        let index_bytes = serde_json::to_vec(&index)
            .map_err(|e| RegistryError::Input(format!("serialising index.json: {e}")))?;
        let write = |path: &Path, bytes: &[u8]| {
            slipway_fs::write_atomic(path, bytes, 0o644)
                .map_err(|e| RegistryError::io(format!("writing {}", path.display()), e))
        };
        let file = match &self.kind {
            Kind::Dir => return write(&self.root.join("index.json"), &index_bytes),
            Kind::OciArchive(f) | Kind::DockerArchive(f) => f,
        };
        if let Some(planned) = self.planned.get() {
            if self.finish_planned(planned, file, &index_bytes)? {
                return Ok(());
            }
            // Not what was planned, or finished once already: the blobs
            // written in place join the rest in the directory, and the tar
            // is written anew from there.
            let filled: Vec<Digest> = planned.filled.lock().unwrap().drain().collect();
            for digest in filled {
                let Some(&(offset, size)) = planned.places.get(&digest) else {
                    continue;
                };
                let io = |e| RegistryError::io(format!("writing {}", file.display()), e);
                let out = std::fs::File::create(self.blob_path(&digest)).map_err(io)?;
                copy_at(&planned.file, offset, size, &out, 0).map_err(io)?;
            }
        }
        let docker = match &self.docker_name {
            Some(name) => Some(self.docker_manifest(name)?),
            None => None,
        };
        self.write_archive(file, &index_bytes, docker)
    }

    fn target_tag(&self) -> Option<String> {
        self.tag.clone()
    }

    fn image_name(&self) -> Option<String> {
        let index = self.index.lock().unwrap();
        let entry = match &self.tag {
            Some(t) => index
                .iter()
                .find(|d| d.annotations.get(REF_NAME) == Some(t)),
            None => index.iter().find(|d| {
                !d.annotations
                    .get(REF_NAME)
                    .is_some_and(|n| is_attachment_tag(n))
                    && !d.annotations.contains_key(REFERRER_SUBJECT)
            }),
        }?;
        let name = entry.annotations.get("io.containerd.image.name")?;
        // Drop the tag: a ':' after the last '/'.
        Some(match name.rfind(':') {
            Some(i) if !name[i..].contains('/') => name[..i].to_string(),
            _ => name.clone(),
        })
    }
}

impl Layout {
    /// Whether this is the scratch directory of an archive (written out as
    /// one file by [`Store::finish`]) rather than a layout kept as it is.
    fn staged(&self) -> bool {
        matches!(self.kind, Kind::OciArchive(_) | Kind::DockerArchive(_))
    }

    /// Write the layout as one tar at `file`, streaming each blob from disk
    /// (bounded memory whatever the image's size) into a temporary file that
    /// replaces `file` once complete. Entries are sorted and every header
    /// field is fixed, as in slipway's layers, so the bytes are reproducible.
    fn write_archive(&self, file: &Path, index: &[u8], docker: Option<Vec<u8>>) -> Result<()> {
        let mut names: Vec<String> = self.staged_names()?.collect();
        names.sort();
        let io = |what: &str, e: std::io::Error| {
            RegistryError::io(format!("writing {}: {what}", file.display()), e)
        };
        let mut staged = slipway_fs::Staged::beside(file).map_err(|e| io("a temporary file", e))?;
        let out = std::io::BufWriter::with_capacity(1 << 20, staged.file());
        let mut builder = tar::Builder::new(out);
        for dir in ["blobs/", "blobs/sha256/"] {
            builder
                .append(
                    &tar_header(dir, 0, true).map_err(|e| io(dir, e))?,
                    std::io::empty(),
                )
                .map_err(|e| io(dir, e))?;
        }
        for hex in names {
            let name = format!("blobs/sha256/{hex}");
            let path = self.root.join(&name);
            let f = std::fs::File::open(&path)
                .map_err(|e| RegistryError::io(format!("reading {}", path.display()), e))?;
            let size = f
                .metadata()
                .map_err(|e| RegistryError::io(format!("reading {}", path.display()), e))?
                .len();
            builder
                .append(
                    &tar_header(&name, size, false).map_err(|e| io(&name, e))?,
                    f,
                )
                .map_err(|e| io(&name, e))?;
        }
        append_small(&mut builder, index, docker.as_deref()).map_err(|e| io("index.json", e))?;
        let out = builder.into_inner().map_err(|e| io("the end", e))?;
        out.into_inner()
            .map_err(|e| io("flushing", e.into_error()))?;
        // Flushed to disk before it takes the archive's name.
        staged.commit(0o644).map_err(|e| io("committing", e))
    }

    /// Complete a tar laid out by [`Store::expect`]: the manifests pushed
    /// meanwhile go into their places, then index.json and oci-layout. False
    /// when what was stored is not what was planned (the planned tar is then
    /// dropped unnamed), or when it was completed once already: the caller
    /// then writes the archive anew.
    fn finish_planned(&self, planned: &Planned, file: &Path, index: &[u8]) -> Result<bool> {
        let io = |e| RegistryError::io(format!("writing {}", file.display()), e);
        if planned.staged.lock().unwrap().is_none() {
            return Ok(false);
        }
        let names: HashSet<&str> = planned.places.keys().map(Digest::hex).collect();
        if self
            .staged_names()?
            .any(|hex| !names.contains(hex.as_str()))
        {
            return Ok(false);
        }
        let filled = planned.filled.lock().unwrap().clone();
        for (digest, &(offset, size)) in &planned.places {
            if filled.contains(digest) {
                continue;
            }
            let path = self.blob_path(digest);
            match std::fs::File::open(&path) {
                Ok(f) if f.metadata().map(|m| m.len()).map_err(io)? == size => {
                    copy_at(&f, 0, size, &planned.file, offset).map_err(io)?;
                }
                _ => return Ok(false),
            }
        }
        let mut tail = Vec::new();
        let mut builder = tar::Builder::new(&mut tail);
        append_small(&mut builder, index, None).map_err(io)?;
        builder.finish().map_err(io)?;
        drop(builder);
        planned.file.write_all_at(&tail, planned.tail).map_err(io)?;
        let Some(staged) = planned.staged.lock().unwrap().take() else {
            return Ok(false);
        };
        staged.commit(0o644).map_err(io)?;
        Ok(true)
    }

    /// The names (hex digests) of the blobs in the directory.
    fn staged_names(&self) -> Result<impl Iterator<Item = String>> {
        let dir = self.root.join("blobs/sha256");
        Ok(std::fs::read_dir(&dir)
            .map_err(|e| RegistryError::io(format!("listing {}", dir.display()), e))?
            .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned())))
    }

    /// The `subject` of the manifest an index.json entry names (cached).
    fn subject_of(&self, entry: &Descriptor) -> Result<Option<Digest>> {
        if let Some(s) = entry
            .annotations
            .get(REFERRER_SUBJECT)
            .and_then(|s| Digest::parse(s))
        {
            return Ok(Some(s));
        }
        if let Some(known) = self.subjects.lock().unwrap().get(&entry.digest) {
            return Ok(known.clone());
        }
        let m = self.read_manifest(&entry.digest, Some(&entry.media_type))?;
        let subject = m.subject()?.map(|b| b.digest);
        self.subjects
            .lock()
            .unwrap()
            .insert(entry.digest.clone(), subject.clone());
        Ok(subject)
    }

    /// `manifest.json` for `docker load`: the host's platform, else the first.
    fn docker_manifest(&self, name: &str) -> Result<Vec<u8>> {
        let root = self
            .index
            .lock()
            .unwrap()
            .iter()
            .find(|d| !d.annotations.contains_key(REFERRER_SUBJECT))
            .cloned()
            .ok_or_else(|| RegistryError::Input("nothing was copied into the archive".into()))?;
        let mut manifest = self.read_manifest(&root.digest, Some(&root.media_type))?;
        if manifest.is_index() {
            let index: Index = serde_json::from_slice(&manifest.bytes)
                .map_err(|e| RegistryError::Integrity(format!("index {}: {e}", manifest.digest)))?;
            let host = slipway_oci::spec::host_architecture();
            let chosen = index
                .manifests
                .iter()
                .find(|d| d.platform.as_ref().is_some_and(|p| p.architecture == host))
                .or(index.manifests.first())
                .ok_or_else(|| RegistryError::Input("the image index is empty".into()))?;
            manifest = self.read_manifest(&chosen.digest, Some(&chosen.media_type))?;
        }
        let m: slipway_oci::spec::Manifest = serde_json::from_slice(&manifest.bytes)
            .map_err(|e| RegistryError::Integrity(format!("manifest {}: {e}", manifest.digest)))?;
        let path = |d: &Digest| format!("blobs/sha256/{}", d.hex());
        let entry = serde_json::json!([{
            "Config": path(&m.config.digest),
            "RepoTags": [name],
            "Layers": m.layers.iter().map(|l| path(&l.digest)).collect::<Vec<_>>(),
        }]);
        Ok(entry.to_string().into_bytes())
    }
}
