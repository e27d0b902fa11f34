//! JSON from a registry: manifests and indexes (checked, then walked for
//! their children) and token service replies.
#![no_main]

use libfuzzer_sys::fuzz_target;
use slipway_registry::{MANIFEST_TYPES, RawManifest};

fuzz_target!(|data: &[u8]| {
    let _ = slipway_registry::token_reply_is_usable(data);
    for content_type in [None, Some(MANIFEST_TYPES[0]), Some(MANIFEST_TYPES[1])] {
        if let Ok(m) = RawManifest::verify(data.to_vec(), content_type, None, "fuzz") {
            let _ = m.is_index();
            let _ = m.children();
        }
    }
    let digest = slipway_oci::Digest::of(data);
    let _ = RawManifest::verify(data.to_vec(), None, Some(&digest), "fuzz");
});
