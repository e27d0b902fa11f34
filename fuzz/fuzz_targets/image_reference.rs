//! Image references and locations as users type them
//! (`registry/repo:tag@digest`, `oci:DIR:tag`, `oci-archive:FILE`, ...).
#![no_main]

use libfuzzer_sys::fuzz_target;
use slipway_registry::{Location, RemoteRef};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(r) = text.parse::<RemoteRef>() {
        // What parses must print and parse back to the same thing.
        let again: RemoteRef = r
            .to_string()
            .parse()
            .unwrap_or_else(|e| panic!("{text:?} printed as {r} does not parse: {e}"));
        assert_eq!(again.to_string(), r.to_string(), "{text:?}");
        let _ = (r.api_host(), r.reference(), r.name());
    }
    let _ = text.parse::<Location>();
    let _ = slipway_registry::valid_tag(text);
});
