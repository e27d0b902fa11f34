//! OCI 1.1 referrers through every store: Debian's registry 2.8 (no
//! referrers API: the `sha256-<hex>` fallback tag, written concurrently),
//! and OCI layouts and archives (referrers listed in `index.json`).

use std::path::Path;

use slipway_oci::Digest;
use slipway_registry::{
    ClientOptions, EMPTY_MEDIA_TYPE, Layout, Location, RawManifest, Remote, Store, put_bytes,
    put_referrer, referrers_tag,
};
use slipway_testkit::registry::TestRegistry;
use slipway_testkit::supply_chain::ReferrersRegistry;

const CONFIG: &str = "application/vnd.oci.image.config.v1+json";
const LAYER: &str = "application/vnd.oci.image.layer.v1.tar";
const MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

/// A tiny image: a config and one layer; returns its manifest, pushed under `tag`.
fn push_image(store: &dyn Store, tag: &str) -> RawManifest {
    let config = put_bytes(
        store,
        CONFIG,
        br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#,
    )
    .unwrap();
    let layer = put_bytes(store, LAYER, b"not really a tar, but a blob").unwrap();
    let body = serde_json::json!({
        "schemaVersion": 2, "mediaType": MANIFEST,
        "config": {"mediaType": CONFIG, "digest": config.digest.to_string(), "size": config.size},
        "layers": [{"mediaType": LAYER, "digest": layer.digest.to_string(), "size": layer.size}],
    });
    let raw = RawManifest::verify(serde_json::to_vec(&body).unwrap(), None, None, "test").unwrap();
    store.push_manifest(&raw, Some(tag)).unwrap();
    raw
}

/// An artifact about `subject`: empty config, one layer holding `payload`.
fn push_artifact(store: &dyn Store, subject: &RawManifest, kind: &str, payload: &[u8]) -> Digest {
    let layer = Digest::of(payload);
    let body = serde_json::json!({
        "schemaVersion": 2, "mediaType": MANIFEST, "artifactType": kind,
        "config": {"mediaType": EMPTY_MEDIA_TYPE, "digest": Digest::of(b"{}").to_string(), "size": 2},
        "layers": [{"mediaType": "application/octet-stream", "digest": layer.to_string(), "size": payload.len()}],
        "subject": {"mediaType": subject.media_type, "digest": subject.digest.to_string(), "size": subject.bytes.len()},
        "annotations": {"note": String::from_utf8_lossy(payload)},
    });
    let raw = put_referrer(
        store,
        &serde_json::to_vec(&body).unwrap(),
        &[
            (EMPTY_MEDIA_TYPE, b"{}"),
            ("application/octet-stream", payload),
        ],
    )
    .unwrap();
    raw.digest
}

fn remote(reg: &TestRegistry, repo: &str) -> Remote {
    open_remote(&reg.reference(repo))
}

fn open_remote(reference: &str) -> Remote {
    let Location::Remote(r) = reference.parse::<Location>().unwrap() else {
        panic!("not a registry reference");
    };
    Remote::open(r, &ClientOptions::default()).unwrap()
}

fn sorted(mut v: Vec<Digest>) -> Vec<Digest> {
    v.sort();
    v
}

#[test]
fn fallback_tag_on_a_registry_without_the_api() {
    let reg = TestRegistry::plain();
    let store = remote(&reg, "team/app:v1");
    let image = push_image(&store, "v1");
    assert!(store.referrers(&image.digest, None).unwrap().is_empty());

    let sig = push_artifact(&store, &image, "application/example.sig", b"sig one");
    let sbom = push_artifact(&store, &image, "application/example.sbom", b"sbom one");
    // Pushing the same referrer again lists it once.
    assert_eq!(
        push_artifact(&store, &image, "application/example.sig", b"sig one"),
        sig
    );

    // A fresh client sees them (nothing cached), through the fallback tag.
    let fresh = remote(&reg, "team/app:v1");
    let all = fresh.referrers(&image.digest, None).unwrap();
    assert_eq!(
        sorted(all.iter().map(|r| r.digest.clone()).collect()),
        sorted(vec![sig.clone(), sbom.clone()])
    );
    let only = fresh
        .referrers(&image.digest, Some("application/example.sbom"))
        .unwrap();
    assert_eq!(only.len(), 1);
    assert_eq!(only[0].digest, sbom);
    assert_eq!(only[0].annotations["note"], "sbom one");
    assert_eq!(
        only[0].artifact_type.as_deref(),
        Some("application/example.sbom")
    );
    let tag = fresh
        .tagged(&referrers_tag(&image.digest))
        .unwrap()
        .unwrap();
    assert!(tag.is_index());
    // The referrer's subject reads back.
    let m = fresh.manifest(&sig).unwrap();
    assert_eq!(m.subject().unwrap().unwrap().digest, image.digest);
}

#[test]
fn concurrent_writers_of_the_fallback_tag_lose_nothing() {
    let reg = TestRegistry::plain();
    let image = push_image(&remote(&reg, "team/race:v1"), "v1");
    let written: Vec<Digest> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|i| {
                let reg = &reg;
                let image = &image;
                s.spawn(move || {
                    // Each writer has its own client, as separate processes would.
                    let store = remote(reg, "team/race:v1");
                    push_artifact(
                        &store,
                        image,
                        "application/example",
                        format!("w{i}").as_bytes(),
                    )
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let listed = remote(&reg, "team/race:v1")
        .referrers(&image.digest, None)
        .unwrap();
    assert_eq!(
        sorted(listed.iter().map(|r| r.digest.clone()).collect()),
        sorted(written)
    );
}

fn layout_round_trip(dir: &Path) {
    let store = Layout::create_dir(dir, Some("v1".into())).unwrap();
    let image = push_image(&store, "v1");
    let att = push_artifact(&store, &image, "application/example.att", b"statement");
    // A referrer of a referrer (a signature of the attestation).
    let att_manifest = store.manifest(&att).unwrap();
    let sig = push_artifact(&store, &att_manifest, "application/example.sig", b"sig");
    store.finish().unwrap();

    let back = Layout::open_dir(dir, None).unwrap();
    // The referrers are in index.json, yet the layout still holds one image.
    assert_eq!(back.root().unwrap().digest, image.digest);
    let listed = back.referrers(&image.digest, None).unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].digest, att);
    assert_eq!(
        listed[0].artifact_type.as_deref(),
        Some("application/example.att")
    );
    assert_eq!(back.referrers(&att, None).unwrap()[0].digest, sig);
    assert!(
        back.referrers(&image.digest, Some("application/example.sig"))
            .unwrap()
            .is_empty()
    );
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("index.json")).unwrap()).unwrap();
    assert_eq!(index["manifests"].as_array().unwrap().len(), 3);
}

#[test]
fn layouts_and_archives_hold_referrers() {
    let tmp = tempfile::tempdir().unwrap();
    layout_round_trip(&tmp.path().join("layout"));

    // An archive keeps them through the tar.
    let file = tmp.path().join("image.tar");
    let store = Layout::open_archive(&file, None, false).unwrap();
    let image = push_image(&store, "v1");
    let att = push_artifact(&store, &image, "application/example.att", b"statement");
    store.finish().unwrap();
    let back = Layout::open_archive(&file, None, true).unwrap();
    assert_eq!(back.root().unwrap().digest, image.digest);
    let listed = back.referrers(&image.digest, None).unwrap();
    assert_eq!(listed.iter().map(|r| &r.digest).collect::<Vec<_>>(), [&att]);

    // Read in place: the same answers, blobs copied out only when fetched.
    let read = Layout::read_archive(&file, None).unwrap();
    assert_eq!(read.root().unwrap().digest, image.digest);
    let listed = read.referrers(&image.digest, None).unwrap();
    assert_eq!(listed.iter().map(|r| &r.digest).collect::<Vec<_>>(), [&att]);
    let slipway_registry::Children::Blobs(blobs) = image.children().unwrap() else {
        panic!("an image manifest")
    };
    let layer = &blobs[1];
    assert!(read.has_blob(layer).unwrap());
    let scratch = tempfile::tempdir().unwrap();
    let fetched = read
        .fetch_blob(layer, scratch.path(), &slipway_registry::Quiet)
        .unwrap();
    assert_eq!(
        std::fs::read(&fetched).unwrap(),
        b"not really a tar, but a blob"
    );
    // It was opened to read: writing it back would lose what it holds.
    let err = read.finish().unwrap_err().to_string();
    assert!(err.contains("opened to read"), "{err}");

    // A layer changed inside the tar is refused when fetched, by digest.
    let tar = std::fs::read(&file).unwrap();
    let at = tar
        .windows(8)
        .position(|w| w == b"not real")
        .expect("the layer is in the tar");
    let mut bad = tar.clone();
    bad[at] ^= 1;
    let tampered = tmp.path().join("tampered.tar");
    std::fs::write(&tampered, &bad).unwrap();
    let read = Layout::read_archive(&tampered, None).unwrap();
    let err = read
        .fetch_blob(layer, scratch.path(), &slipway_registry::Quiet)
        .unwrap_err()
        .to_string();
    assert!(err.contains(&layer.digest.to_string()), "{err}");

    // A tar cut short inside a blob is refused when opened, naming the cut.
    let cut = tmp.path().join("cut.tar");
    std::fs::write(&cut, &tar[..at + 4]).unwrap();
    let err = Layout::read_archive(&cut, None)
        .err()
        .expect("refused")
        .to_string();
    assert!(err.contains("cut.tar"), "{err}");
}

#[test]
fn the_referrers_api_where_the_registry_has_it() {
    let reg = ReferrersRegistry::start();
    let store = open_remote(&reg.reference("team/app:v1"));
    let image = push_image(&store, "v1");
    let sig = push_artifact(&store, &image, "application/example.sig", b"sig one");
    let sbom = push_artifact(&store, &image, "application/example.sbom", b"sbom one");

    // The API itself lists them (not only the fallback tag).
    let url = format!(
        "http://{}/v2/team/app/referrers/{}",
        reg.host(),
        image.digest
    );
    let out = std::process::Command::new("curl")
        .args(["-sf", &url])
        .output()
        .unwrap();
    assert!(out.status.success(), "curl {url} failed");
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listed["manifests"].as_array().unwrap().len(), 2, "{listed}");

    let fresh = open_remote(&reg.reference("team/app:v1"));
    let all = fresh.referrers(&image.digest, None).unwrap();
    assert_eq!(
        sorted(all.iter().map(|r| r.digest.clone()).collect()),
        sorted(vec![sig.clone(), sbom.clone()])
    );
    let only = fresh
        .referrers(&image.digest, Some("application/example.sig"))
        .unwrap();
    assert_eq!(only.iter().map(|r| &r.digest).collect::<Vec<_>>(), [&sig]);
}

/// Every file in `dir` whose name starts with a dot: temporary files left behind.
fn leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect()
}

#[test]
fn a_copy_into_a_new_archive_writes_blobs_in_place() {
    let tmp = tempfile::tempdir().unwrap();
    let source = Layout::create_dir(&tmp.path().join("src"), None).unwrap();
    let image = push_image(&source, "v1");
    push_artifact(&source, &image, "application/example.att", b"statement");
    push_artifact(&source, &image, "application/example.sig", b"signature");
    source.finish().unwrap();
    let options = slipway_registry::CopyOptions {
        tag: Some("v1".into()),
        immutable: false,
        attachments: true,
        referrers: slipway_registry::ReferrerSelection::All,
        merge: None,
        jobs: 4,
    };
    let quiet = &slipway_registry::Quiet;

    // Laid out first, blobs written in place: the same bytes as an archive
    // written whole from a directory at the end.
    let planned = tmp.path().join("planned.tar");
    let dst = Layout::open_archive(&planned, None, false).unwrap();
    slipway_registry::copy(&source, &dst, &options, quiet).unwrap();
    let first = std::fs::read(&planned).unwrap();
    // Finished again, it is written again, whole and the same.
    dst.finish().unwrap();
    assert_eq!(std::fs::read(&planned).unwrap(), first);
    drop(dst);
    let rewritten = tmp.path().join("rewritten.tar");
    std::fs::copy(&planned, &rewritten).unwrap();
    let again = Layout::open_archive(&rewritten, None, true).unwrap();
    again.finish().unwrap();
    drop(again);
    assert_eq!(
        std::fs::read(&planned).unwrap(),
        std::fs::read(&rewritten).unwrap()
    );
    let read = Layout::read_archive(&planned, None).unwrap();
    assert_eq!(read.root().unwrap().digest, image.digest);
    assert_eq!(read.referrers(&image.digest, None).unwrap().len(), 2);

    // A blob the plan did not foresee: the archive is written whole
    // instead, with everything in it.
    let blobs = match image.children().unwrap() {
        slipway_registry::Children::Blobs(b) => b,
        _ => panic!("an image manifest"),
    };
    let partly = tmp.path().join("partly.tar");
    let dst = Layout::open_archive(&partly, Some("v1".into()), false).unwrap();
    dst.expect(&blobs[..1], &[&image]).unwrap();
    // The tar is laid out beside the archive now.
    assert!(
        leftovers(tmp.path())
            .iter()
            .any(|n| n.starts_with(".slipway-tmp-"))
    );
    for (i, blob) in blobs.iter().enumerate() {
        let received = dst
            .receive_blob(blob, &mut |out, offset| {
                source.fetch_blob_at(blob, out, offset, quiet)
            })
            .unwrap();
        assert_eq!(
            received.is_some(),
            i == 0,
            "only the planned blob has a place"
        );
        if received.is_none() {
            let scratch = tempfile::tempdir().unwrap();
            let file = source.fetch_blob(blob, scratch.path(), quiet).unwrap();
            dst.push_blob(blob, &file, quiet).unwrap();
        }
    }
    dst.push_manifest(&image, Some("v1")).unwrap();
    dst.finish().unwrap();
    drop(dst);
    let read = Layout::read_archive(&partly, None).unwrap();
    assert_eq!(read.root().unwrap().digest, image.digest);
    for blob in &blobs {
        assert_eq!(
            read.read_blob(blob, 1 << 20).unwrap().len() as u64,
            blob.size
        );
    }
    assert!(
        leftovers(tmp.path()).is_empty(),
        "{:?}",
        leftovers(tmp.path())
    );

    // A blob that does not match its digest fails the copy, and nothing
    // is left: no archive, no temporary file.
    let layer = blobs.iter().find(|b| b.size > 20).unwrap();
    let path = tmp.path().join("src/blobs/sha256").join(layer.digest.hex());
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[0] ^= 1;
    std::fs::write(&path, &bytes).unwrap();
    let source = Layout::open_dir(&tmp.path().join("src"), None).unwrap();
    let broken = tmp.path().join("broken.tar");
    let dst = Layout::open_archive(&broken, None, false).unwrap();
    let err = slipway_registry::copy(&source, &dst, &options, quiet)
        .unwrap_err()
        .to_string();
    assert!(err.contains(&layer.digest.to_string()), "{err}");
    drop(dst);
    assert!(!broken.exists());
    assert!(
        leftovers(tmp.path()).is_empty(),
        "{:?}",
        leftovers(tmp.path())
    );
}
