//! Action-cache entries and their wire form.
//!
//! An entry is stored (locally and remotely) as one header line and a JSON
//! document:
//!
//! ```text
//! slipway-ac-v1 <sha256 hex of the JSON bytes>\n
//! {"ns":"go","key":"<action key hex>","outputs":[{"name":…,"digest":…,"size":…}],"meta":{…}}
//! ```
//!
//! A reader accepts an entry only if the header's digest matches the JSON,
//! the JSON parses, and its `ns` and `key` are the ones it asked for (so a
//! body stored under another key, by accident or not, is a miss). The
//! outputs are then fetched from the CAS, where each is verified by its
//! SHA-256. What this cannot catch is a writer that deliberately stores a
//! well-formed entry pointing at other real blobs: only trusted runners may
//! write (docs/cache.md).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::digest::{ActionKey, Sha256};

const HEADER: &str = "slipway-ac-v1 ";
/// Entries are small; anything bigger is not ours.
pub const MAX_ENTRY_BYTES: usize = 1 << 20;

/// What a cached step produced: its outputs (blobs in the CAS) and a few
/// small facts about them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ActionEntry {
    /// The outputs, in the producer's order.
    pub outputs: Vec<ActionOutput>,
    /// Small text facts a producer needs back (e.g. Go's OutputID, a put time).
    pub meta: BTreeMap<String, String>,
}

/// One output of a step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionOutput {
    /// The producer's name for it (a file name, "" for a single output).
    pub name: String,
    pub digest: Sha256,
    pub size: u64,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Wire {
    ns: String,
    key: String,
    outputs: Vec<WireOutput>,
    #[serde(default)]
    meta: BTreeMap<String, String>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireOutput {
    name: String,
    digest: String,
    size: u64,
}

impl ActionEntry {
    /// An entry with a single unnamed output.
    pub fn single(digest: Sha256, size: u64) -> ActionEntry {
        ActionEntry {
            outputs: vec![ActionOutput {
                name: String::new(),
                digest,
                size,
            }],
            meta: BTreeMap::new(),
        }
    }

    /// The stored form for `key` in namespace `ns`.
    pub fn encode(&self, ns: &str, key: &ActionKey) -> Vec<u8> {
        let wire = Wire {
            ns: ns.to_string(),
            key: key.to_hex(),
            outputs: self
                .outputs
                .iter()
                .map(|o| WireOutput {
                    name: o.name.clone(),
                    digest: o.digest.to_hex(),
                    size: o.size,
                })
                .collect(),
            meta: self.meta.clone(),
        };
        // Serializing plain strings, numbers and maps cannot fail.
        let json = serde_json::to_vec(&wire).unwrap_or_default();
        let mut out = format!("{HEADER}{}\n", Sha256::of(&json).to_hex()).into_bytes();
        out.extend_from_slice(&json);
        out
    }

    /// Parse and check a stored entry; `Err` says why it is not acceptable.
    pub fn decode(bytes: &[u8], ns: &str, key: &ActionKey) -> Result<ActionEntry, String> {
        if bytes.len() > MAX_ENTRY_BYTES {
            return Err(format!("{} bytes is too big for an entry", bytes.len()));
        }
        let newline = bytes
            .iter()
            .position(|&b| b == b'\n')
            .ok_or("no header line")?;
        let header = std::str::from_utf8(&bytes[..newline]).map_err(|_| "header is not text")?;
        let sum = header
            .strip_prefix(HEADER)
            .and_then(Sha256::from_hex)
            .ok_or("not a slipway-ac-v1 entry")?;
        let json = &bytes[newline + 1..];
        if Sha256::of(json) != sum {
            return Err("checksum mismatch (corrupt entry)".into());
        }
        let wire: Wire = serde_json::from_slice(json).map_err(|e| format!("bad JSON: {e}"))?;
        if wire.ns != ns || ActionKey::from_hex(&wire.key) != Some(*key) {
            return Err(format!(
                "entry is for {}/{}, not the key asked for",
                wire.ns, wire.key
            ));
        }
        let outputs = wire
            .outputs
            .into_iter()
            .map(|o| {
                Ok(ActionOutput {
                    digest: Sha256::from_hex(&o.digest)
                        .ok_or_else(|| format!("bad output digest {:?}", o.digest))?,
                    name: o.name,
                    size: o.size,
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(ActionEntry {
            outputs,
            meta: wire.meta,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_every_check() {
        let key = ActionKey::derive(["x"]);
        let mut e = ActionEntry::single(Sha256::of(b"body"), 4);
        e.meta.insert("output_id".into(), "ab".into());
        let bytes = e.encode("go", &key);
        assert_eq!(ActionEntry::decode(&bytes, "go", &key), Ok(e.clone()));
        assert!(ActionEntry::decode(&bytes, "zig", &key).is_err());
        assert!(ActionEntry::decode(&bytes, "go", &ActionKey::derive(["y"])).is_err());
        let mut flipped = bytes.clone();
        let last = flipped.len() - 3;
        flipped[last] ^= 1;
        let err = ActionEntry::decode(&flipped, "go", &key).unwrap_err();
        assert!(err.contains("checksum"), "{err}");
        assert!(ActionEntry::decode(&bytes[..bytes.len() - 1], "go", &key).is_err());
        assert!(ActionEntry::decode(b"", "go", &key).is_err());
        assert!(ActionEntry::decode(b"garbage\n{}", "go", &key).is_err());
    }
}
