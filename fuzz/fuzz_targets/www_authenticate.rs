//! `WWW-Authenticate` challenges, as a registry or a proxy in front of it sends them.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(header) = std::str::from_utf8(data) {
        let _ = slipway_registry::parse_challenge(header);
    }
});
