//! `slipway copy --compression`: copy an image while recompressing its
//! filesystem layers (gzip ⇄ zstd, or plain tar to either).
//!
//! Each layer that needs it is streamed through disk, never held in memory:
//! the source blob is decompressed into a scratch file while its SHA-256 is
//! checked against the config's diff_id, then compressed from that file
//! (whose length the zstd frame header records) into another, and pushed.
//! Configs, and so diff_ids, move unchanged; manifests that point at a
//! converted layer are rewritten with only the layer descriptors changed
//! (keys, their order and every other byte kept), and indexes above them
//! with only the child digests and sizes changed, so a conversion back
//! gives the original bytes when the original was written by the same
//! compressor. Layers already in the target algorithm are kept as they are,
//! whatever their level: recompressing would change digests for nothing.
//!
//! Signatures, attestations and other referrers of the source name its
//! digests, which the conversion changes, so none are carried; index
//! entries that are Docker attestation manifests of a converted manifest
//! are dropped for the same reason. The report lists what was left behind.

use std::collections::{HashMap, HashSet};
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::Path;

use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::value::RawValue;
use slipway_oci::{Algorithm, Compression, Digest, LayerFormat};

use crate::copy::{CopyOptions, CopyReport, closure, transfer_blobs};
use crate::error::{RegistryError, Result};
use crate::store::{Blob, BlobOutcome, Children, DOCKER_MANIFEST, Progress, RawManifest, Store};

const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
/// The index annotations buildx uses for an attestation manifest of a platform manifest.
const DOCKER_REFERENCE_TYPE: &str = "vnd.docker.reference.type";

/// What a converting copy did, as `slipway copy --json` reports it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ConvertReport {
    #[serde(flatten)]
    pub copy: CopyReport,
    /// The digest the source had (`digest` is the converted image's).
    pub source_digest: String,
    /// What the layers were converted to, e.g. `zstd:19`.
    pub compression: String,
    /// Distinct layer blobs recompressed, and layer descriptors already in
    /// the target algorithm (or not filesystem layers) kept as they were.
    pub converted_layers: usize,
    pub kept_layers: usize,
    /// Index entries left out: attestation manifests of converted images.
    pub dropped_manifests: Vec<String>,
}

/// Copy the image `root` from `src` to `dst` with its layers in
/// `compression`. `options.attachments` and `options.referrers` are not
/// used: nothing attached to the source applies to the converted image.
pub fn convert_root(
    src: &dyn Store,
    root: RawManifest,
    dst: &dyn Store,
    compression: Compression,
    options: &CopyOptions,
    progress: &dyn Progress,
) -> Result<ConvertReport> {
    compression.check()?;
    let image = closure(src, root.clone())?;
    let scratch = tempfile::Builder::new()
        .prefix("slipway-convert-")
        .tempdir()
        .map_err(|e| RegistryError::io("creating a scratch directory", e))?;
    let mut report = ConvertReport {
        source_digest: root.digest.to_string(),
        compression: compression.to_string(),
        ..ConvertReport::default()
    };
    // Old manifest digest → the manifest that replaces it.
    let mut replaced: HashMap<Digest, RawManifest> = HashMap::new();
    let mut dropped: HashSet<Digest> = HashSet::new();
    let mut verbatim: Vec<Blob> = Vec::new();
    let mut seen_blobs: HashSet<Digest> = HashSet::new();
    // Converted layers are cached by source digest: a layer shared by
    // several platforms is converted once.
    let mut converted: HashMap<Digest, Blob> = HashMap::new();
    let mut outcomes: Vec<BlobOutcome> = Vec::new();
    for m in &image.manifests {
        let new = match m.children()? {
            Children::Manifests(_) => rewrite_index(m, &replaced, &mut dropped, &mut report)?,
            Children::Blobs(blobs) => {
                let (config, layers) = blobs
                    .split_first()
                    .expect("children() puts the config first");
                let mut changes: Vec<(usize, Blob)> = Vec::new();
                let mut diff_ids: Option<Vec<String>> = None;
                if seen_blobs.insert(config.digest.clone()) {
                    verbatim.push(config.clone());
                }
                for (i, layer) in layers.iter().enumerate() {
                    let Some(format) = LayerFormat::of(&layer.media_type) else {
                        report.kept_layers += 1;
                        if seen_blobs.insert(layer.digest.clone()) {
                            verbatim.push(layer.clone());
                        }
                        continue;
                    };
                    let already = matches!(
                        (format, compression.algorithm),
                        (LayerFormat::Gzip, Algorithm::Gzip) | (LayerFormat::Zstd, Algorithm::Zstd)
                    );
                    if already {
                        report.kept_layers += 1;
                        if seen_blobs.insert(layer.digest.clone()) {
                            verbatim.push(layer.clone());
                        }
                        continue;
                    }
                    let media_type = target_media_type(m, compression)?;
                    if let Some(done) = converted.get(&layer.digest) {
                        changes.push((i, done.clone()));
                        continue;
                    }
                    if diff_ids.is_none() {
                        diff_ids =
                            Some(read_diff_ids(src, m, config, layers.len(), scratch.path())?);
                    }
                    let diff_id = &diff_ids.as_ref().expect("read above")[i];
                    let (blob, outcome) = convert_layer(
                        src,
                        dst,
                        layer,
                        diff_id,
                        compression,
                        media_type,
                        scratch.path(),
                        progress,
                    )?;
                    outcomes.push(outcome);
                    converted.insert(layer.digest.clone(), blob.clone());
                    changes.push((i, blob));
                    report.converted_layers += 1;
                }
                rewrite_manifest(m, &changes)?
            }
        };
        if let Some(new) = new {
            replaced.insert(m.digest.clone(), new);
        }
    }
    let new_root = replaced.get(&root.digest).cloned().unwrap_or(root);
    report.copy.digest = new_root.digest.to_string();
    report.copy.tag = options.tag.clone();
    if options.immutable
        && let Some(tag) = &options.tag
        && let Some(existing) = dst.tag_digest(tag)?
        && existing != new_root.digest
    {
        return Err(RegistryError::Conflict(format!(
            "{} already has tag `{tag}` on {existing}; --immutable refuses to move it to {}. \
             Use a new tag (e.g. --tag auto) or drop --immutable",
            dst.describe(),
            new_root.digest
        )));
    }
    // Blobs only dropped manifests use stay behind.
    let kept: Vec<&RawManifest> = image
        .manifests
        .iter()
        .filter(|m| !dropped.contains(&m.digest))
        .collect();
    let mut needed: HashSet<Digest> = HashSet::new();
    for m in &kept {
        if let Children::Blobs(blobs) = m.children()? {
            needed.extend(blobs.into_iter().map(|b| b.digest));
        }
    }
    verbatim.retain(|b| needed.contains(&b.digest));
    transfer_blobs(
        src,
        dst,
        &verbatim,
        options.jobs,
        progress,
        &mut report.copy,
    )?;
    for o in outcomes {
        match o {
            BlobOutcome::Uploaded(n) => {
                report.copy.uploaded_blobs += 1;
                report.copy.uploaded_bytes += n;
            }
            BlobOutcome::Reused => report.copy.reused_blobs += 1,
            BlobOutcome::Mounted => report.copy.mounted_blobs += 1,
        }
    }
    let (_, children) = kept.split_last().expect("closure has its root");
    let mut written = 0;
    for m in children {
        let m = replaced.get(&m.digest).unwrap_or(m);
        if !dst.has_manifest(&m.digest)? {
            dst.push_manifest(m, None)?;
        }
        progress.manifest_written(&m.digest, None);
        written += 1;
    }
    let tag = options.tag.as_deref();
    let present = match tag {
        Some(t) => dst.tag_digest(t)?.as_ref() == Some(&new_root.digest),
        None => dst.has_manifest(&new_root.digest)?,
    };
    if !present {
        dst.push_manifest(&new_root, tag)?;
    }
    progress.manifest_written(&new_root.digest, tag);
    dst.finish()?;
    report.copy.manifests = written + 1;
    Ok(report)
}

/// The media type a converted layer of manifest `m` gets.
fn target_media_type(m: &RawManifest, compression: Compression) -> Result<&'static str> {
    if m.media_type != DOCKER_MANIFEST {
        return Ok(compression.media_type());
    }
    match compression.algorithm {
        Algorithm::Gzip => Ok(DOCKER_LAYER_GZIP),
        Algorithm::Zstd => Err(RegistryError::Input(format!(
            "manifest {} is a Docker schema 2 manifest, which has no zstd layer type; \
             copy it to an OCI image first (skopeo copy --format oci) or keep gzip",
            m.digest
        ))),
    }
}

/// The config's diff_ids, one per layer.
fn read_diff_ids(
    src: &dyn Store,
    m: &RawManifest,
    config: &Blob,
    layers: usize,
    scratch: &Path,
) -> Result<Vec<String>> {
    #[derive(Deserialize)]
    struct Config {
        #[serde(default)]
        rootfs: Option<RootFs>,
    }
    #[derive(Deserialize)]
    struct RootFs {
        #[serde(default)]
        diff_ids: Vec<String>,
    }
    let path = src.fetch_blob(config, scratch, &crate::store::Quiet)?;
    let bytes = std::fs::read(&path)
        .map_err(|e| RegistryError::io(format!("reading {}", path.display()), e))?;
    let c: Config = serde_json::from_slice(&bytes).map_err(|e| {
        RegistryError::Integrity(format!(
            "config {} of manifest {}: {e}",
            config.digest, m.digest
        ))
    })?;
    let diff_ids = c.rootfs.map(|r| r.diff_ids).unwrap_or_default();
    if diff_ids.len() != layers {
        return Err(RegistryError::Integrity(format!(
            "manifest {} has {layers} layers but its config {} lists {} diff_ids; \
             a layer cannot be converted without the digest it must uncompress to",
            m.digest,
            config.digest,
            diff_ids.len()
        )));
    }
    Ok(diff_ids)
}

/// Counts the compressed bytes read, for the progress bar.
struct Counting<'a, R> {
    inner: R,
    blob: &'a Blob,
    progress: &'a dyn Progress,
}

impl<R: Read> Read for Counting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.progress.blob_bytes(self.blob, n as u64);
        Ok(n)
    }
}

/// Decompress `layer` to a scratch file (checking it against `diff_id`),
/// compress that into another and push it: streaming, in bounded memory.
#[allow(clippy::too_many_arguments)]
fn convert_layer(
    src: &dyn Store,
    dst: &dyn Store,
    layer: &Blob,
    diff_id: &str,
    compression: Compression,
    media_type: &str,
    scratch: &Path,
    progress: &dyn Progress,
) -> Result<(Blob, BlobOutcome)> {
    use sha2::{Digest as _, Sha256};
    let io = |what: &str, p: &Path, e: std::io::Error| {
        RegistryError::io(format!("{what} {}", p.display()), e)
    };
    let file = src.fetch_blob(layer, scratch, progress)?;
    let tar_path = scratch.join(format!("{}.tar", layer.digest.hex()));
    let input = std::fs::File::open(&file).map_err(|e| io("opening", &file, e))?;
    progress.blob_started(layer, "converting");
    let counted = BufReader::with_capacity(
        256 << 10,
        Counting {
            inner: input,
            blob: layer,
            progress,
        },
    );
    let mut decoder = slipway_oci::compression::decoder(&layer.media_type, counted)
        .map_err(|e| RegistryError::Integrity(format!("layer {}: {e}", layer.digest)))?;
    let mut tar = BufWriter::with_capacity(
        1 << 20,
        std::fs::File::create(&tar_path).map_err(|e| io("creating", &tar_path, e))?,
    );
    let mut hasher = Sha256::new();
    let mut len = 0u64;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = decoder.read(&mut buf).map_err(|e| {
            RegistryError::Integrity(format!(
                "layer {} ({}) does not decompress: {e}",
                layer.digest, layer.media_type
            ))
        })?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        tar.write_all(&buf[..n])
            .map_err(|e| io("writing", &tar_path, e))?;
        len += n as u64;
    }
    tar.flush().map_err(|e| io("writing", &tar_path, e))?;
    drop(tar);
    drop(decoder);
    progress.blob_finished(layer, BlobOutcome::Reused);
    if file.starts_with(scratch) {
        let _ = std::fs::remove_file(&file);
    }
    let got = Digest::from_sha256(&hasher.finalize());
    if got.to_string() != diff_id {
        return Err(RegistryError::Integrity(format!(
            "layer {} uncompresses to {got}, not the diff_id {diff_id} its config names; \
             the source image is corrupt",
            layer.digest
        )));
    }
    let out_path = scratch.join(format!("{}.out", layer.digest.hex()));
    let (digest, size) = {
        let input = BufReader::with_capacity(
            1 << 20,
            std::fs::File::open(&tar_path).map_err(|e| io("opening", &tar_path, e))?,
        );
        let out = BufWriter::with_capacity(
            1 << 20,
            std::fs::File::create(&out_path).map_err(|e| io("creating", &out_path, e))?,
        );
        compression.compress_stream(input, len, out)?
    };
    let _ = std::fs::remove_file(&tar_path);
    let blob = Blob {
        media_type: media_type.to_string(),
        digest,
        size,
    };
    let outcome = if dst.has_blob(&blob)? {
        progress.blob_finished(&blob, BlobOutcome::Reused);
        BlobOutcome::Reused
    } else {
        let o = dst.push_blob(&blob, &out_path, progress)?;
        progress.blob_finished(&blob, o);
        o
    };
    let _ = std::fs::remove_file(&out_path);
    Ok((blob, outcome))
}

/// A JSON object whose keys keep their order and whose values keep their
/// bytes: rewriting one field leaves every other byte as it was.
struct Ordered(Vec<(String, Box<RawValue>)>);

impl<'de> Deserialize<'de> for Ordered {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Ordered, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Ordered;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<Ordered, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry::<String, Box<RawValue>>()? {
                    entries.push(entry);
                }
                Ok(Ordered(entries))
            }
        }
        d.deserialize_map(V)
    }
}

impl Serialize for Ordered {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl Ordered {
    fn parse(bytes: &[u8], whence: &Digest) -> Result<Ordered> {
        serde_json::from_slice(bytes)
            .map_err(|e| RegistryError::Integrity(format!("manifest {whence}: {e}")))
    }

    fn get(&self, key: &str) -> Option<&RawValue> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_ref())
    }

    /// Replace `key`'s value where it stands (or add it at the end).
    fn set(&mut self, key: &str, value: &impl Serialize) -> Result<()> {
        let raw = serde_json::value::to_raw_value(value)
            .map_err(|e| RegistryError::Integrity(format!("serialising {key}: {e}")))?;
        match self.0.iter_mut().find(|(k, _)| k == key) {
            Some((_, v)) => *v = raw,
            None => self.0.push((key.to_string(), raw)),
        }
        Ok(())
    }

    fn to_bytes(&self) -> Result<Vec<u8>> {
        serde_json::to_vec(self)
            .map_err(|e| RegistryError::Integrity(format!("serialising a manifest: {e}")))
    }
}

fn verified(m: &RawManifest, bytes: Vec<u8>) -> Result<RawManifest> {
    RawManifest::verify(
        bytes,
        Some(&m.media_type),
        None,
        &format!("converting {}", m.digest),
    )
}

/// `m` with the layer descriptors at the given positions replaced; `None`
/// when nothing changed.
fn rewrite_manifest(m: &RawManifest, changes: &[(usize, Blob)]) -> Result<Option<RawManifest>> {
    if changes.is_empty() {
        return Ok(None);
    }
    let mut doc = Ordered::parse(&m.bytes, &m.digest)?;
    let raw_layers = doc
        .get("layers")
        .ok_or_else(|| RegistryError::Integrity(format!("manifest {} has no layers", m.digest)))?;
    let mut layers: Vec<Ordered> = serde_json::from_str(raw_layers.get())
        .map_err(|e| RegistryError::Integrity(format!("manifest {}: layers: {e}", m.digest)))?;
    for (i, blob) in changes {
        let layer = layers.get_mut(*i).ok_or_else(|| {
            RegistryError::Integrity(format!("manifest {} has no layer {i}", m.digest))
        })?;
        layer.set("mediaType", &blob.media_type)?;
        layer.set("digest", &blob.digest)?;
        layer.set("size", &blob.size)?;
    }
    doc.set("layers", &layers)?;
    Ok(Some(verified(m, doc.to_bytes()?)?))
}

/// The index `m` pointing at the replaced children, without attestation
/// manifests of replaced ones; `None` when nothing changed.
fn rewrite_index(
    m: &RawManifest,
    replaced: &HashMap<Digest, RawManifest>,
    dropped: &mut HashSet<Digest>,
    report: &mut ConvertReport,
) -> Result<Option<RawManifest>> {
    #[derive(Deserialize)]
    struct Entry {
        #[serde(deserialize_with = "crate::store::digest")]
        digest: Digest,
        #[serde(default)]
        annotations: HashMap<String, String>,
    }
    let mut doc = Ordered::parse(&m.bytes, &m.digest)?;
    let Some(raw) = doc.get("manifests") else {
        return Ok(None);
    };
    let entries: Vec<Box<RawValue>> = serde_json::from_str(raw.get())
        .map_err(|e| RegistryError::Integrity(format!("index {}: manifests: {e}", m.digest)))?;
    let mut out: Vec<Box<RawValue>> = Vec::new();
    let mut changed = false;
    for raw in entries {
        let entry: Entry = serde_json::from_str(raw.get())
            .map_err(|e| RegistryError::Integrity(format!("index {}: {e}", m.digest)))?;
        let refers_to_replaced = entry.annotations.contains_key(DOCKER_REFERENCE_TYPE)
            && entry
                .annotations
                .get("vnd.docker.reference.digest")
                .and_then(|d| Digest::parse(d))
                .is_some_and(|d| replaced.contains_key(&d));
        if refers_to_replaced {
            dropped.insert(entry.digest.clone());
            report.dropped_manifests.push(entry.digest.to_string());
            changed = true;
            continue;
        }
        match replaced.get(&entry.digest) {
            Some(new) => {
                let mut e = Ordered::parse(raw.get().as_bytes(), &m.digest)?;
                e.set("digest", &new.digest)?;
                e.set("size", &(new.bytes.len() as u64))?;
                out.push(
                    serde_json::value::to_raw_value(&e).map_err(|e| {
                        RegistryError::Integrity(format!("index {}: {e}", m.digest))
                    })?,
                );
                changed = true;
            }
            None => out.push(raw),
        }
    }
    if !changed {
        return Ok(None);
    }
    doc.set("manifests", &out)?;
    Ok(Some(verified(m, doc.to_bytes()?)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewriting_keeps_every_other_byte() {
        let body = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:1111111111111111111111111111111111111111111111111111111111111111","size":5},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:2222222222222222222222222222222222222222222222222222222222222222","size":7,"annotations":{"z":"1","a":"2"}}],"annotations":{"zz":"x","aa":"y"}}"#;
        let m = RawManifest::verify(body.to_vec(), None, None, "t").unwrap();
        let blob = Blob {
            media_type: slipway_oci::spec::MEDIA_LAYER_ZSTD.into(),
            digest: Digest::of(b"new"),
            size: 9,
        };
        let new = rewrite_manifest(&m, &[(0, blob.clone())]).unwrap().unwrap();
        let expected = String::from_utf8(body.to_vec())
            .unwrap()
            .replace("tar+gzip", "tar+zstd")
            .replace(
                "sha256:2222222222222222222222222222222222222222222222222222222222222222",
                &blob.digest.to_string(),
            )
            .replace("\"size\":7", "\"size\":9");
        assert_eq!(String::from_utf8(new.bytes).unwrap(), expected);
        assert_eq!(rewrite_manifest(&m, &[]).unwrap(), None);
    }

    #[test]
    fn index_rewrite_follows_children_and_drops_their_attestations() {
        let old = Digest::of(b"old platform manifest");
        let other = Digest::of(b"untouched platform manifest");
        let att = Digest::of(b"attestation manifest");
        let body = format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{old}","size":10,"platform":{{"architecture":"arm64","os":"linux"}}}},{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{other}","size":11}},{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{att}","size":12,"annotations":{{"vnd.docker.reference.digest":"{old}","vnd.docker.reference.type":"attestation-manifest"}}}}],"annotations":{{"b":"1","a":"2"}}}}"#
        );
        let index = RawManifest::verify(body.clone().into_bytes(), None, None, "t").unwrap();
        let new_child = RawManifest::verify(
            br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"c","digest":"sha256:1111111111111111111111111111111111111111111111111111111111111111","size":2},"layers":[]}"#.to_vec(),
            None,
            None,
            "t",
        )
        .unwrap();
        let replaced = HashMap::from([(old.clone(), new_child.clone())]);
        let (mut dropped, mut report) = (HashSet::new(), ConvertReport::default());
        let new = rewrite_index(&index, &replaced, &mut dropped, &mut report)
            .unwrap()
            .unwrap();
        let expected = body
            .replace(
                &format!(r#",{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{att}","size":12,"annotations":{{"vnd.docker.reference.digest":"{old}","vnd.docker.reference.type":"attestation-manifest"}}}}"#),
                "",
            )
            .replace(&format!(r#""digest":"{old}","size":10"#), &format!(r#""digest":"{}","size":{}"#, new_child.digest, new_child.bytes.len()));
        assert_eq!(String::from_utf8(new.bytes).unwrap(), expected);
        assert_eq!(dropped, HashSet::from([att.clone()]));
        assert_eq!(report.dropped_manifests, [att.to_string()]);
        // Nothing replaced below it: the index stays as it is.
        let none = HashMap::new();
        assert_eq!(
            rewrite_index(
                &index,
                &none,
                &mut HashSet::new(),
                &mut ConvertReport::default()
            )
            .unwrap(),
            None
        );
    }
}
