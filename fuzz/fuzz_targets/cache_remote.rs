//! What slipway's build cache reads from others: `go`'s GOCACHEPROG requests
//! (first byte 0), S3 error documents (1), action-cache entries from a remote
//! (2) and remote URLs from flags and config files (3). An entry that decodes
//! must encode back to bytes that decode to the same entry.
#![no_main]

use libfuzzer_sys::fuzz_target;
use slipway_cache::{ActionEntry, ActionKey, RemoteSpec};

fuzz_target!(|data: &[u8]| {
    let Some((&kind, rest)) = data.split_first() else {
        return;
    };
    match kind % 4 {
        0 => {
            let mut reader = slipway_cache::prog::RequestReader::new(rest);
            while let Ok(Some(_)) = reader.next_request() {}
        }
        1 => {
            let _ = slipway_cache::remote::error_summary(rest);
        }
        2 => {
            let key = ActionKey::derive(["fuzz"]);
            if let Ok(entry) = ActionEntry::decode(rest, "go", &key) {
                let again = ActionEntry::decode(&entry.encode("go", &key), "go", &key);
                assert_eq!(again.as_ref(), Ok(&entry));
            }
        }
        _ => {
            if let Ok(text) = std::str::from_utf8(rest) {
                if let Ok(spec) = RemoteSpec::parse(text) {
                    let _ = spec.to_string();
                }
            }
        }
    }
});
