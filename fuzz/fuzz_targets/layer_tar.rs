//! The layer reader `slipway sbom` and `slipway scan` use on images: plain
//! tar, gzip or zstd as the media type says, whiteouts, size limits. The
//! input is read as each of the three; then, taken as a tar, it is
//! compressed with slipway's own gzip and zstd and must read back the same
//! as the plain tar does (the same files, or an error for all three).
#![no_main]

use std::collections::BTreeMap;
use std::sync::atomic::AtomicBool;

use libfuzzer_sys::fuzz_target;
use slipway_oci::Compression;
use slipway_registry::Blob;

const TAR: &str = "application/vnd.oci.image.layer.v1.tar";

fn read(data: &[u8], media_type: &str) -> Option<BTreeMap<String, Vec<u8>>> {
    let blob = Blob {
        media_type: media_type.into(),
        digest: slipway_oci::Digest::of(data),
        size: data.len() as u64,
    };
    let mut files = BTreeMap::new();
    // A lower layer's file, so whiteouts have something to remove.
    files.insert("/app/hello".to_string(), b"\x7fELF".to_vec());
    slipway_registry::contents::read_layer(data, &blob, &mut files)
        .ok()
        .map(|()| files)
}

fuzz_target!(|data: &[u8]| {
    for media_type in [
        "application/vnd.oci.image.layer.v1.tar+gzip",
        "application/vnd.oci.image.layer.v1.tar+zstd",
    ] {
        let _ = read(data, media_type);
    }
    let plain = read(data, TAR);
    let never = AtomicBool::new(false);
    for c in [Compression::gzip(1), Compression::zstd(1)] {
        let (blob, _) = c
            .compress_and_digest(data, 1, &never)
            .expect("compressing in memory cannot fail")
            .expect("never cancelled");
        assert_eq!(read(&blob, c.media_type()), plain, "{c}");
    }
});
