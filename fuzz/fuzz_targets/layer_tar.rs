//! The layer reader `slipway sbom` and `slipway scan` use on images: gzip or
//! plain tar, whiteouts, size limits.
#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use slipway_registry::Blob;

fuzz_target!(|data: &[u8]| {
    for media_type in [
        "application/vnd.oci.image.layer.v1.tar+gzip",
        "application/vnd.oci.image.layer.v1.tar",
    ] {
        let blob = Blob {
            media_type: media_type.into(),
            digest: slipway_oci::Digest::of(data),
            size: data.len() as u64,
        };
        let mut files = BTreeMap::new();
        // A lower layer's file, so whiteouts have something to remove.
        files.insert("/app/hello".to_string(), b"\x7fELF".to_vec());
        let _ = slipway_registry::contents::read_layer(data, &blob, &mut files);
    }
});
