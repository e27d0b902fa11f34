//! A repository in a registry as a [`Store`]: manifests and blobs over the
//! distribution API, with uploads that resume and downloads that verify.

use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use sha2::{Digest as _, Sha256};
use slipway_oci::Digest;

use crate::auth::scopes;
use crate::client::{Client, ClientOptions, Failure, Method, Req, header, read_limited};
use crate::error::{RegistryError, Result};
use crate::reference::RemoteRef;
use crate::store::{
    Blob, BlobOutcome, MANIFEST_TYPES, OCI_INDEX, Progress, RawManifest, Referrer, ReferrersIndex,
    Store, filter_referrers, referrers_tag,
};

const ACCEPT: &str = "application/vnd.oci.image.index.v1+json, \
application/vnd.oci.image.manifest.v1+json, \
application/vnd.docker.distribution.manifest.list.v2+json, \
application/vnd.docker.distribution.manifest.v2+json";

pub struct Remote {
    pub client: Arc<Client>,
    pub reference: RemoteRef,
    /// Tags looked up or written by us, so one push asks about each only once.
    known_tags: Mutex<HashMap<String, Option<Digest>>>,
    /// Whether the registry serves the referrers API, once seen.
    referrers_api: Mutex<Option<bool>>,
    /// Manifests fetched by digest (content-addressed, so they cannot go
    /// stale): a referrers list that lacks artifact types makes the
    /// manifests be read once to learn them, and a copy then needs them again.
    by_digest: Mutex<HashMap<Digest, RawManifest>>,
}

impl Remote {
    pub fn open(reference: RemoteRef, options: &ClientOptions) -> Result<Remote> {
        let client = Client::connect(reference.api_host(), options)?;
        Ok(Remote {
            client: Arc::new(client),
            reference,
            known_tags: Mutex::new(HashMap::new()),
            referrers_api: Mutex::new(None),
            by_digest: Mutex::new(HashMap::new()),
        })
    }

    fn repo(&self) -> &str {
        &self.reference.repository
    }

    fn scopes(&self, push: bool, mount_from: Option<&str>) -> Vec<String> {
        let from: Vec<String> = mount_from.into_iter().map(str::to_string).collect();
        scopes(self.repo(), push, &from)
    }

    fn get_manifest(
        &self,
        reference: &str,
        expected: Option<&Digest>,
    ) -> Result<Option<RawManifest>> {
        let url = format!("/v2/{}/manifests/{reference}", self.repo());
        let scopes = self.scopes(false, None);
        let whence = format!("{}/{}:{reference}", self.client.host(), self.repo());
        self.client.execute(
            &format!("fetching manifest {whence}"),
            &mut || Req {
                method: Method::Get,
                url: url.clone(),
                headers: vec![("accept", ACCEPT.to_string())],
                body: &[],
                scopes: &scopes,
            },
            &mut |mut resp| {
                match resp.status().as_u16() {
                    200 => {}
                    404 => {
                        crate::client::drain(&mut resp);
                        return Ok(None);
                    }
                    s => {
                        return Err(Failure::Fatal(RegistryError::Remote(format!(
                            "fetching manifest {whence}: HTTP {s}"
                        ))));
                    }
                }
                let content_type = header(&resp, "content-type");
                let advertised = header(&resp, "docker-content-digest");
                let bytes = read_limited(&mut resp, crate::store::MANIFEST_LIMIT)?;
                let m = RawManifest::verify(bytes, content_type.as_deref(), expected, &whence)?;
                if let Some(adv) = advertised.as_deref().and_then(Digest::parse)
                    && adv != m.digest
                {
                    return Err(Failure::Retry(format!(
                        "the manifest body hashes to {} but the registry says {adv}",
                        m.digest
                    )));
                }
                Ok(Some(m))
            },
            true,
        )
    }

    /// HEAD a tag (or digest) for the digest it names, now (no cache).
    pub fn lookup_tag(&self, tag: &str) -> Result<Option<Digest>> {
        let url = format!("/v2/{}/manifests/{tag}", self.repo());
        let scopes = self.scopes(false, None);
        let found = self.client.execute(
            &format!("looking up {tag}"),
            &mut || Req {
                method: Method::Head,
                url: url.clone(),
                headers: vec![("accept", ACCEPT.to_string())],
                body: &[],
                scopes: &scopes,
            },
            &mut |resp| match resp.status().as_u16() {
                200 => Ok(Some(header(&resp, "docker-content-digest"))),
                404 => Ok(None),
                s => Err(Failure::Fatal(RegistryError::Remote(format!(
                    "looking up tag {tag}: HTTP {s}"
                )))),
            },
            true,
        )?;
        match found {
            None => Ok(None),
            Some(Some(d)) if Digest::parse(&d).is_some() => Ok(Digest::parse(&d)),
            // No digest header: fetch and hash the manifest instead.
            Some(_) => Ok(self.tagged(tag)?.map(|m| m.digest)),
        }
    }

    /// Start an upload session, or mount from `mount_from` when it has the blob.
    fn start_upload(&self, blob: &Blob, mount_from: Option<&str>) -> Result<Option<String>> {
        let scopes = self.scopes(true, mount_from);
        let url = match mount_from {
            Some(from) => format!(
                "/v2/{}/blobs/uploads/?mount={}&from={}",
                self.repo(),
                blob.digest,
                crate::client::percent_encode(from)
            ),
            None => format!("/v2/{}/blobs/uploads/", self.repo()),
        };
        self.client.execute(
            &format!("starting the upload of {}", blob.digest),
            &mut || Req {
                method: Method::Post,
                url: url.clone(),
                headers: vec![("content-length", "0".into())],
                body: &[],
                scopes: &scopes,
            },
            &mut |resp| match resp.status().as_u16() {
                201 => Ok(None),
                202 => header(&resp, "location").map(Some).ok_or_else(|| {
                    Failure::Fatal(RegistryError::Remote(
                        "the registry started an upload without a Location".into(),
                    ))
                }),
                s => Err(Failure::Fatal(RegistryError::Remote(format!(
                    "starting the upload of {} to {}/{}: HTTP {s}",
                    blob.digest,
                    self.client.host(),
                    self.repo()
                )))),
            },
            true,
        )
    }

    /// Where an interrupted upload stands: its new Location and the next offset.
    fn upload_status(&self, location: &str, scopes: &[String]) -> Result<Option<(String, u64)>> {
        self.client.execute(
            "asking how far an upload got",
            &mut || Req {
                method: Method::Get,
                url: location.to_string(),
                headers: vec![],
                body: &[],
                scopes,
            },
            &mut |resp| match resp.status().as_u16() {
                204 | 200 => {
                    let next = header(&resp, "range")
                        .and_then(|r| parse_range_end(&r))
                        .map_or(0, |end| end.saturating_add(1));
                    let loc = header(&resp, "location").unwrap_or_else(|| location.to_string());
                    Ok(Some((loc, next)))
                }
                404 => Ok(None),
                s => Err(Failure::Fatal(RegistryError::Remote(format!(
                    "asking how far an upload got: HTTP {s}"
                )))),
            },
            true,
        )
    }

    /// One upload session from start to the final PUT. `Ok(false)` means the
    /// session was lost, its failure counted in `failures` (which ends the
    /// upload once the retry budget is spent), and a new one should start.
    fn upload_session(
        &self,
        blob: &Blob,
        file: &File,
        mut location: String,
        progress: &dyn Progress,
        failures: &mut u32,
        sent: &mut u64,
    ) -> Result<bool> {
        let scopes = self.scopes(true, None);
        let chunk = self.client.options.chunk_size.max(1);
        let read_at = |offset: u64, len: u64| -> Result<Vec<u8>> {
            let mut buf = vec![0u8; len as usize];
            file.read_exact_at(&mut buf, offset)
                .map_err(|e| RegistryError::io(format!("reading blob {}", blob.digest), e))?;
            Ok(buf)
        };
        let started = Instant::now();
        let mut offset = 0u64;
        let monolithic = blob.size <= chunk;
        if !monolithic {
            while offset < blob.size {
                let len = chunk.min(blob.size - offset);
                let body = read_at(offset, len)?;
                let end = offset + len - 1;
                let result = self.client.execute_once(
                    &format!("uploading {} bytes {offset}-{end}", blob.digest),
                    &mut || Req {
                        method: Method::Patch,
                        url: location.clone(),
                        headers: vec![
                            ("content-type", "application/octet-stream".into()),
                            ("content-range", format!("{offset}-{end}")),
                        ],
                        body: &body,
                        scopes: &scopes,
                    },
                    &mut |resp| match resp.status().as_u16() {
                        202 => Ok((
                            header(&resp, "location"),
                            header(&resp, "range").and_then(|r| parse_range_end(&r)),
                        )),
                        s => Err(Failure::Retry(format!("PATCH answered HTTP {s}"))),
                    },
                );
                match result {
                    Ok((loc, range_end)) => {
                        *sent += len;
                        progress.blob_bytes(blob, len);
                        if let Some(l) = loc {
                            location = l;
                        }
                        let next = range_end.map_or(end + 1, |e| e.saturating_add(1));
                        if next <= offset || next > blob.size {
                            // A Range that does not move forward, or runs past
                            // the blob: this session cannot be trusted.
                            self.note_failure(
                                failures,
                                started,
                                &RegistryError::Remote(format!(
                                    "the registry reported Range 0-{} after sending bytes {offset}-{end}",
                                    next.saturating_sub(1)
                                )),
                            )?;
                            return Ok(false);
                        }
                        offset = next;
                    }
                    Err(e) => {
                        self.note_failure(failures, started, &e)?;
                        // Resume where the registry says it got to.
                        match self.upload_status(&location, &scopes)? {
                            // distribution says `0-0` both for nothing and for
                            // one byte received: only a clear offset is resumed.
                            Some((loc, next)) if next > 1 && next <= blob.size => {
                                location = loc;
                                offset = next;
                            }
                            _ => return Ok(false),
                        }
                    }
                }
            }
        }
        let body = if monolithic {
            read_at(0, blob.size)?
        } else {
            Vec::new()
        };
        let sep = if location.contains('?') { '&' } else { '?' };
        let url = format!("{location}{sep}digest={}", blob.digest);
        let result = self.client.execute_once(
            &format!("finishing the upload of {}", blob.digest),
            &mut || Req {
                method: Method::Put,
                url: url.clone(),
                headers: vec![("content-type", "application/octet-stream".into())],
                body: &body,
                scopes: &scopes,
            },
            &mut |resp| match resp.status().as_u16() {
                201 | 204 => Ok(()),
                400 => Err(Failure::Fatal(RegistryError::Integrity(format!(
                    "the registry rejected blob {} (HTTP 400): its content does not match the digest",
                    blob.digest
                )))),
                s => Err(Failure::Retry(format!("PUT answered HTTP {s}"))),
            },
        );
        match result {
            Ok(()) => {
                *sent += body.len() as u64;
                if monolithic {
                    progress.blob_bytes(blob, blob.size);
                }
                Ok(true)
            }
            Err(RegistryError::Integrity(m)) => Err(RegistryError::Integrity(m)),
            Err(e) => {
                *sent += body.len() as u64;
                self.note_failure(failures, started, &e)?;
                // The PUT may have landed before the connection dropped.
                Ok(self.has_blob(blob)?)
            }
        }
    }

    fn note_failure(&self, failures: &mut u32, started: Instant, e: &RegistryError) -> Result<()> {
        *failures += 1;
        if matches!(e, RegistryError::Auth(_)) || !self.client.pause(*failures, started, None) {
            return Err(RegistryError::Remote(format!(
                "uploading to {}/{} failed {failures} times; last: {e}",
                self.client.host(),
                self.repo()
            )));
        }
        Ok(())
    }
}

/// The `rel="next"` target of a `Link` header.
fn next_link(link: &str) -> Option<String> {
    link.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        params.contains("rel=\"next\"").then(|| {
            target
                .trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_string()
        })
    })
}

/// The end of `Range: 0-N` (also `bytes=0-N`).
fn parse_range_end(range: &str) -> Option<u64> {
    let r = range.trim().trim_start_matches("bytes=");
    r.split_once('-')?.1.trim().parse().ok()
}

impl Store for Remote {
    fn describe(&self) -> String {
        self.reference.to_string()
    }

    fn root(&self) -> Result<RawManifest> {
        let r = self.reference.reference();
        self.get_manifest(&r, self.reference.digest.as_ref())?
            .ok_or_else(|| {
                RegistryError::NotFound(format!(
                    "{} does not exist (no manifest {r} in {}/{})",
                    self.reference,
                    self.client.host(),
                    self.repo()
                ))
            })
    }

    fn manifest(&self, digest: &Digest) -> Result<RawManifest> {
        if let Some(m) = self.by_digest.lock().unwrap().get(digest) {
            return Ok(m.clone());
        }
        let m = self
            .get_manifest(&digest.to_string(), Some(digest))?
            .ok_or_else(|| {
                RegistryError::NotFound(format!(
                    "{}/{} lacks manifest {digest}, which the image refers to",
                    self.client.host(),
                    self.repo()
                ))
            })?;
        self.by_digest
            .lock()
            .unwrap()
            .insert(digest.clone(), m.clone());
        Ok(m)
    }

    fn tagged(&self, tag: &str) -> Result<Option<RawManifest>> {
        self.get_manifest(tag, None)
    }

    fn tag_digest(&self, tag: &str) -> Result<Option<Digest>> {
        if let Some(known) = self.known_tags.lock().unwrap().get(tag) {
            return Ok(known.clone());
        }
        let digest = self.lookup_tag(tag)?;
        self.known_tags
            .lock()
            .unwrap()
            .insert(tag.to_string(), digest.clone());
        Ok(digest)
    }

    /// `GET /v2/<name>/tags/list`, every page. `None` where the registry
    /// will not list them (404, 405, the account may not, or the listing
    /// fails): the caller then asks about each tag it wants, and those
    /// lookups report a registry that is really in trouble.
    fn tags(&self) -> Result<Option<Vec<String>>> {
        #[derive(serde::Deserialize)]
        struct TagList {
            #[serde(default)]
            tags: Option<Vec<String>>,
        }
        let whence = format!("{}/{} tags", self.client.host(), self.repo());
        let listed = self.list_pages(
            &whence,
            format!("/v2/{}/tags/list", self.repo()),
            "application/json",
            &|bytes| {
                let list: TagList = serde_json::from_slice(bytes).map_err(|e| {
                    RegistryError::Remote(format!(
                        "{whence}: the tag list is not JSON of the distribution API ({e})"
                    ))
                })?;
                Ok(list.tags.unwrap_or_default())
            },
        );
        Ok(listed.unwrap_or(None))
    }

    fn has_blob(&self, blob: &Blob) -> Result<bool> {
        let url = format!("/v2/{}/blobs/{}", self.repo(), blob.digest);
        let scopes = self.scopes(false, None);
        self.client.execute(
            &format!("checking for blob {}", blob.digest),
            &mut || Req {
                method: Method::Head,
                url: url.clone(),
                headers: vec![],
                body: &[],
                scopes: &scopes,
            },
            &mut |resp| match resp.status().as_u16() {
                200 => Ok(true),
                404 => Ok(false),
                s => Err(Failure::Fatal(RegistryError::Remote(format!(
                    "checking for blob {}: HTTP {s}",
                    blob.digest
                )))),
            },
            true,
        )
    }

    fn has_manifest(&self, digest: &Digest) -> Result<bool> {
        // A tag seen pointing at it proves it is there.
        let known = self
            .known_tags
            .lock()
            .unwrap()
            .values()
            .any(|d| d.as_ref() == Some(digest));
        Ok(known || self.tag_digest(&digest.to_string())?.is_some())
    }

    fn fetch_blob(&self, blob: &Blob, scratch: &Path, progress: &dyn Progress) -> Result<PathBuf> {
        let dest = scratch.join(blob.digest.hex());
        let tmp = tempfile::NamedTempFile::new_in(scratch)
            .map_err(|e| RegistryError::io("creating a download file", e))?;
        self.fetch_blob_at(blob, tmp.as_file(), 0, progress)?;
        tmp.persist(&dest)
            .map_err(|e| RegistryError::io("saving a download", e.error))?;
        Ok(dest)
    }

    fn fetch_blob_at(
        &self,
        blob: &Blob,
        out: &File,
        offset: u64,
        progress: &dyn Progress,
    ) -> Result<()> {
        progress.blob_started(blob, "downloading");
        self.get_blob(blob, &mut |resp| {
            self.blob_answer(resp.status().as_u16(), blob)?;
            let mut reader = resp.into_body().into_reader();
            let mut hasher = Sha256::new();
            let mut total = 0u64;
            let mut buf = vec![0u8; 256 << 10];
            loop {
                let n = match reader.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) => return Err(Failure::Retry(format!("reading blob: {e}"))),
                };
                if total + n as u64 > blob.size {
                    return Err(Failure::Fatal(RegistryError::Integrity(format!(
                        "the registry sent more than the {} bytes blob {} has",
                        blob.size, blob.digest
                    ))));
                }
                hasher.update(&buf[..n]);
                out.write_all_at(&buf[..n], offset + total)
                    .map_err(|e| RegistryError::io("writing a download", e))?;
                total += n as u64;
                progress.blob_bytes(blob, n as u64);
            }
            self.check_received(blob, total, Digest::from_sha256(&hasher.finalize()))?;
            Ok(())
        })?;
        progress.blob_finished(blob, BlobOutcome::Reused);
        Ok(())
    }

    fn read_blob(&self, blob: &Blob, limit: u64) -> Result<Vec<u8>> {
        crate::store::check_small(blob, limit)?;
        // Straight into memory: a scratch file would cost more than the bytes.
        self.get_blob(blob, &mut |mut resp| {
            self.blob_answer(resp.status().as_u16(), blob)?;
            let bytes = read_limited(&mut resp, blob.size)?;
            self.check_received(blob, bytes.len() as u64, Digest::of(&bytes))?;
            Ok(bytes)
        })
    }

    fn push_blob(&self, blob: &Blob, file: &Path, progress: &dyn Progress) -> Result<BlobOutcome> {
        self.push_blob_from(blob, file, progress, None)
    }

    fn push_manifest(&self, manifest: &RawManifest, tag: Option<&str>) -> Result<()> {
        self.put_manifest(manifest, tag, None).map(|_| ())
    }

    fn push_referrer(&self, manifest: &RawManifest) -> Result<()> {
        self.push_referrers(std::slice::from_ref(manifest))
    }

    fn push_referrers(&self, manifests: &[RawManifest]) -> Result<()> {
        // Subjects whose fallback tag needs these entries.
        let mut fallback: Vec<(Digest, Vec<Referrer>)> = Vec::new();
        let subjects = manifests
            .iter()
            .map(|manifest| {
                manifest.subject()?.ok_or_else(|| {
                    RegistryError::Input(format!(
                        "manifest {} has no subject, so it is not a referrer",
                        manifest.digest
                    ))
                })
            })
            .collect::<Result<Vec<_>>>()?;
        // The manifests side by side; the fallback bookkeeping after, in order.
        let indexed = crate::copy::par_map(manifests, self.client.options.jobs, |m| {
            self.put_manifest(m, None, None)
        })?;
        for ((manifest, subject), indexed) in manifests.iter().zip(subjects).zip(indexed) {
            if indexed {
                *self.referrers_api.lock().unwrap() = Some(true);
                continue;
            }
            // No `OCI-Subject` in the answer: the registry did not index the
            // subject, so the client keeps the fallback tag up to date.
            let entry = manifest.as_referrer()?;
            match fallback.iter_mut().find(|(s, _)| *s == subject.digest) {
                Some((_, list)) => list.push(entry),
                None => fallback.push((subject.digest, vec![entry])),
            }
        }
        // Some registries index `subject` without saying so: if the API
        // lists the entries already, the fallback tag is not needed.
        let api_missing = *self.referrers_api.lock().unwrap() == Some(false);
        let listings =
            crate::copy::par_map(&fallback, self.client.options.jobs, |(subject, _)| {
                if api_missing {
                    Ok(None)
                } else {
                    self.referrers_from_api(subject, None)
                }
            })?;
        let mut pending = Vec::new();
        for ((subject, entries), listed) in fallback.into_iter().zip(listings) {
            match listed {
                Some(list)
                    if entries
                        .iter()
                        .all(|e| list.iter().any(|r| r.digest == e.digest)) => {}
                Some(_) => pending.push((subject, entries)),
                None => {
                    *self.referrers_api.lock().unwrap() = Some(false);
                    pending.push((subject, entries));
                }
            }
        }
        // One read-add-write per subject, the subjects side by side.
        std::thread::scope(|s| {
            let handles: Vec<_> = pending
                .into_iter()
                .map(|(subject, entries)| s.spawn(move || self.add_to_fallback(&subject, entries)))
                .collect();
            handles.into_iter().try_for_each(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(RegistryError::Remote(
                        "updating a referrers fallback tag failed unexpectedly".into(),
                    ))
                })
            })
        })
    }

    fn referrers(&self, subject: &Digest, artifact_type: Option<&str>) -> Result<Vec<Referrer>> {
        // A registry without the API answers its 404 without touching its
        // storage, so asking first costs little there. Reading the fallback
        // tag beside it on another thread was measured slower on both kinds
        // of registry (a thread, a connection and a malloc arena per command).
        let known_absent = *self.referrers_api.lock().unwrap() == Some(false);
        let from_api = if known_absent {
            None
        } else {
            self.referrers_from_api(subject, artifact_type)?
        };
        if let Some(list) = from_api {
            // Some registries report the config's media type (the empty
            // type, for artifacts) instead of `artifactType`: ask the manifest.
            let mut list = list
                .into_iter()
                .map(|r| match r.artifact_type.as_deref() {
                    None | Some(crate::store::EMPTY_MEDIA_TYPE) => {
                        self.manifest(&r.digest)?.as_referrer()
                    }
                    Some(_) => Ok(r),
                })
                .collect::<Result<Vec<_>>>()?;
            // The API's order is the registry's choice (go-containerregistry's
            // is random): sorted, a copy writes the same archive every time.
            list.sort_by(|a, b| a.digest.cmp(&b.digest));
            return Ok(filter_referrers(list, artifact_type));
        }
        *self.referrers_api.lock().unwrap() = Some(false);
        let list = self
            .fallback_list(subject)?
            .map(|(l, _)| l)
            .unwrap_or_default();
        Ok(filter_referrers(list, artifact_type))
    }

    fn target_tag(&self) -> Option<String> {
        self.reference.tag.clone()
    }

    fn as_remote(&self) -> Option<&Remote> {
        Some(self)
    }

    fn image_name(&self) -> Option<String> {
        Some(self.reference.name())
    }
}

impl Remote {
    /// GET a blob and hand the answer to `handle`, with the client's
    /// authentication and retries.
    fn get_blob<T>(
        &self,
        blob: &Blob,
        handle: &mut dyn FnMut(ureq::http::Response<ureq::Body>) -> std::result::Result<T, Failure>,
    ) -> Result<T> {
        let url = format!("/v2/{}/blobs/{}", self.repo(), blob.digest);
        let scopes = self.scopes(false, None);
        self.client.execute(
            &format!("downloading blob {}", blob.digest),
            &mut || Req {
                method: Method::Get,
                url: url.clone(),
                headers: vec![],
                body: &[],
                scopes: &scopes,
            },
            handle,
            true,
        )
    }

    /// The status of a blob GET: 200 goes on; 404 means the repository lacks
    /// a blob the image refers to, which no retry fixes; anything else is
    /// retried.
    fn blob_answer(&self, status: u16, blob: &Blob) -> std::result::Result<(), Failure> {
        match status {
            200 => Ok(()),
            404 => Err(Failure::Fatal(RegistryError::NotFound(format!(
                "{}/{} lacks blob {}, which the image refers to",
                self.client.host(),
                self.repo(),
                blob.digest
            )))),
            s => Err(Failure::Retry(format!("GET blob answered HTTP {s}"))),
        }
    }

    /// A downloaded blob against its descriptor: a short body is retried, a
    /// wrong digest is refused.
    fn check_received(
        &self,
        blob: &Blob,
        received: u64,
        got: Digest,
    ) -> std::result::Result<(), Failure> {
        if received < blob.size {
            return Err(Failure::Retry(format!(
                "blob {} ended after {received} of {} bytes",
                blob.digest, blob.size
            )));
        }
        if got != blob.digest {
            return Err(Failure::Fatal(RegistryError::Integrity(format!(
                "{}/{} served content with digest {got} for blob {}; refusing it \
                 (the registry's storage is corrupt or something altered the data)",
                self.client.host(),
                self.repo(),
                blob.digest
            ))));
        }
        Ok(())
    }

    /// Record `manifest`, already stored (under a tag, say), as a referrer
    /// of its subject without writing it again: nothing to do when the
    /// registry's referrers API lists it, else it is added to the subject's
    /// fallback tag. For a writer whose manifest must not be rewritten while
    /// others read it (a registry may rewrite its links non-atomically).
    pub fn index_referrer(&self, manifest: &RawManifest) -> Result<()> {
        let subject = manifest.subject()?.ok_or_else(|| {
            RegistryError::Input(format!(
                "manifest {} has no subject, so it is not a referrer",
                manifest.digest
            ))
        })?;
        let entry = manifest.as_referrer()?;
        let listed = if *self.referrers_api.lock().unwrap() == Some(false) {
            None
        } else {
            self.referrers_from_api(&subject.digest, None)?
        };
        match listed {
            Some(list) if list.iter().any(|r| r.digest == manifest.digest) => Ok(()),
            Some(_) => self.add_to_fallback(&subject.digest, vec![entry]),
            None => {
                *self.referrers_api.lock().unwrap() = Some(false);
                self.add_to_fallback(&subject.digest, vec![entry])
            }
        }
    }

    /// PUT a manifest under `tag` (else its digest), conditionally on the
    /// current content's digest when `if_match` is given. Returns whether
    /// the registry said it processed a `subject` (`OCI-Subject`).
    fn put_manifest(
        &self,
        manifest: &RawManifest,
        tag: Option<&str>,
        if_match: Option<&Digest>,
    ) -> Result<bool> {
        let reference = tag.map_or_else(|| manifest.digest.to_string(), str::to_string);
        let url = format!("/v2/{}/manifests/{reference}", self.repo());
        let scopes = self.scopes(true, None);
        debug_assert!(MANIFEST_TYPES.contains(&manifest.media_type.as_str()));
        let processed = self.client.execute(
            &format!("writing manifest {reference}"),
            &mut || {
                let mut headers = vec![("content-type", manifest.media_type.clone())];
                if let Some(d) = if_match {
                    headers.push(("if-match", format!("\"{d}\"")));
                }
                Req {
                    method: Method::Put,
                    url: url.clone(),
                    headers,
                    body: &manifest.bytes,
                    scopes: &scopes,
                }
            },
            &mut |mut resp| match resp.status().as_u16() {
                201 | 200 | 204 => Ok(header(&resp, "oci-subject").is_some()),
                412 => Err(Failure::Fatal(RegistryError::Conflict(format!(
                    "{reference} changed while slipway was updating it"
                )))),
                s => {
                    let detail = read_limited(&mut resp, 64 << 10)
                        .ok()
                        .map(|b| {
                            String::from_utf8_lossy(&b)
                                .chars()
                                .take(300)
                                .collect::<String>()
                        })
                        .unwrap_or_default();
                    Err(Failure::Fatal(RegistryError::Remote(format!(
                        "{} refused manifest {reference} for {} (HTTP {s}): {}",
                        self.client.host(),
                        self.repo(),
                        detail.trim()
                    ))))
                }
            },
            true,
        )?;
        if let Some(tag) = tag {
            self.known_tags
                .lock()
                .unwrap()
                .insert(tag.to_string(), Some(manifest.digest.clone()));
        }
        Ok(processed)
    }

    /// `GET /v2/<name>/referrers/<digest>`, every page. `None` when the
    /// registry has no such API (404/405), so the caller reads the fallback tag.
    fn referrers_from_api(
        &self,
        subject: &Digest,
        artifact_type: Option<&str>,
    ) -> Result<Option<Vec<Referrer>>> {
        let mut url = format!("/v2/{}/referrers/{subject}", self.repo());
        if let Some(t) = artifact_type {
            url.push_str(&format!(
                "?artifactType={}",
                crate::client::percent_encode(t)
            ));
        }
        let whence = format!(
            "{}/{} referrers of {subject}",
            self.client.host(),
            self.repo()
        );
        let listed = self.list_pages(&whence, url, OCI_INDEX, &|bytes| {
            Ok(ReferrersIndex::parse(bytes, &whence)?.manifests)
        })?;
        if listed.is_some() {
            *self.referrers_api.lock().unwrap() = Some(true);
        }
        Ok(listed)
    }

    /// A listing the registry pages with `Link: <…>; rel="next"`: every
    /// page from `url`, each read by `parse`. `None` when the registry has
    /// no such endpoint (404, 405).
    fn list_pages<T>(
        &self,
        whence: &str,
        mut url: String,
        accept: &str,
        parse: &dyn Fn(&[u8]) -> Result<Vec<T>>,
    ) -> Result<Option<Vec<T>>> {
        let scopes = self.scopes(false, None);
        let mut all = Vec::new();
        for _page in 0..1000 {
            let page = self.client.execute(
                &format!("listing {whence}"),
                &mut || Req {
                    method: Method::Get,
                    url: url.clone(),
                    headers: vec![("accept", accept.to_string())],
                    body: &[],
                    scopes: &scopes,
                },
                &mut |mut resp| match resp.status().as_u16() {
                    200 => {
                        let next = header(&resp, "link").and_then(|l| next_link(&l));
                        let bytes = read_limited(&mut resp, crate::store::MANIFEST_LIMIT)?;
                        Ok(Some((parse(&bytes)?, next)))
                    }
                    404 | 405 => {
                        crate::client::drain(&mut resp);
                        Ok(None)
                    }
                    s => Err(Failure::Fatal(RegistryError::Remote(format!(
                        "listing {whence}: HTTP {s}"
                    )))),
                },
                true,
            )?;
            let Some((list, next)) = page else {
                return Ok(None);
            };
            all.extend(list);
            match next {
                Some(n) => url = n,
                None => return Ok(Some(all)),
            }
        }
        Err(RegistryError::Remote(format!(
            "{whence} run past 1000 pages"
        )))
    }

    /// The fallback tag's list and the digest of the index holding it.
    /// A missing or unusable tag means no referrers, as the spec says.
    fn fallback_list(&self, subject: &Digest) -> Result<Option<(Vec<Referrer>, Digest)>> {
        let tag = referrers_tag(subject);
        self.known_tags.lock().unwrap().remove(&tag);
        let manifest = match self.get_manifest(&tag, None) {
            Ok(Some(m)) => m,
            Ok(None) => return Ok(None),
            Err(RegistryError::Integrity(_)) => return Ok(None),
            Err(e) => return Err(e),
        };
        if !manifest.is_index() {
            return Ok(None);
        }
        let whence = format!("{}/{}:{tag}", self.client.host(), self.repo());
        match ReferrersIndex::parse(&manifest.bytes, &whence) {
            Ok(index) => Ok(Some((index.manifests, manifest.digest))),
            Err(_) => Ok(None),
        }
    }

    /// Add `entry` to the fallback tag of `subject`: read, add, write
    /// (conditionally, where the registry honours `If-Match`), then read
    /// again after a pause. A concurrent writer who wrote over our entry is
    /// detected by that check, and we write again, merged with theirs.
    fn add_to_fallback(&self, subject: &Digest, entries: Vec<Referrer>) -> Result<()> {
        let tag = referrers_tag(subject);
        let mut wrote = false;
        let mut confirmations = 0;
        for attempt in 0u32..16 {
            let current = self.fallback_list(subject)?;
            let (mut list, etag) = match current {
                Some((l, d)) => (l, Some(d)),
                None => (Vec::new(), None),
            };
            let missing: Vec<&Referrer> = entries
                .iter()
                .filter(|e| !list.iter().any(|r| r.digest == e.digest))
                .collect();
            if missing.is_empty() {
                // Listed by an earlier push: done. Listed after our own
                // write: done once it is still there after a second pause,
                // long enough for a concurrent read-add-write to land.
                confirmations += 1;
                if !wrote || confirmations >= 2 {
                    return Ok(());
                }
            } else {
                // Missing after our write: someone wrote over it; merge again
                // with theirs.
                confirmations = 0;
                list.extend(missing.into_iter().cloned());
                let bytes = ReferrersIndex::new(list).to_bytes();
                let raw = RawManifest::verify(bytes, Some(OCI_INDEX), None, &tag)?;
                match self.put_manifest(&raw, Some(&tag), etag.as_ref()) {
                    Ok(_) | Err(RegistryError::Conflict(_)) => {}
                    Err(e) => return Err(e),
                }
                wrote = true;
            }
            // Jitter, so two writers do not stay in step.
            let seed = entries[0].digest.hex().as_bytes()[attempt as usize % 64];
            std::thread::sleep(std::time::Duration::from_millis(
                40 + u64::from(seed % 16) * 5 + 10 * u64::from(attempt),
            ));
        }
        Err(RegistryError::Remote(format!(
            "{}/{}: the referrers tag {tag} kept changing under concurrent writers; \
             try again",
            self.client.host(),
            self.repo()
        )))
    }

    /// Upload a blob the caller found missing (mounting it from `mount_from`
    /// in the same registry when that repository has it), resuming chunked
    /// uploads where they stopped.
    pub fn push_blob_from(
        &self,
        blob: &Blob,
        file: &Path,
        progress: &dyn Progress,
        mount_from: Option<&str>,
    ) -> Result<BlobOutcome> {
        let f = File::open(file)
            .map_err(|e| RegistryError::io(format!("opening {}", file.display()), e))?;
        progress.blob_started(blob, "uploading");
        let mut failures = 0u32;
        let mut sent = 0u64;
        loop {
            let Some(location) = self.start_upload(blob, mount_from)? else {
                return Ok(BlobOutcome::Mounted);
            };
            // A session that ends unfinished has already counted the failure
            // that ended it (counting it again here would spend the retry
            // budget twice per fault); start a new one.
            if self.upload_session(blob, &f, location, progress, &mut failures, &mut sent)? {
                return Ok(BlobOutcome::Uploaded(sent));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(parse_range_end("0-1023"), Some(1023));
        assert_eq!(parse_range_end("bytes=0-9"), Some(9));
        assert_eq!(parse_range_end("garbage"), None);
    }

    #[test]
    fn links() {
        assert_eq!(
            next_link("</v2/r/referrers/sha256:ab?n=2&last=x>; rel=\"next\""),
            Some("/v2/r/referrers/sha256:ab?n=2&last=x".into())
        );
        assert_eq!(next_link("<x>; rel=\"prev\""), None);
    }
}
