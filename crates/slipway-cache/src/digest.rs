//! The two kinds of 32-byte names: a blob's SHA-256, and an action's key.

use std::fmt;

use sha2::Digest;

/// The SHA-256 of a blob's bytes: its name in the CAS.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sha256(pub [u8; 32]);

impl Sha256 {
    /// The digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Sha256 {
        Sha256(sha2::Sha256::digest(bytes).into())
    }

    /// Lower-case hex, the form in paths and URLs.
    pub fn to_hex(&self) -> String {
        base16ct::lower::encode_string(&self.0)
    }

    /// Parse 64 hex digits (either case).
    pub fn from_hex(hex: &str) -> Option<Sha256> {
        let mut out = [0u8; 32];
        if hex.len() != 64 {
            return None;
        }
        base16ct::mixed::decode(hex, &mut out).ok()?;
        Some(Sha256(out))
    }

    /// Exactly 32 bytes, else `None`.
    pub fn from_slice(bytes: &[u8]) -> Option<Sha256> {
        bytes.try_into().ok().map(Sha256)
    }
}

impl fmt::Debug for Sha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.to_hex())
    }
}

impl fmt::Display for Sha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.to_hex())
    }
}

/// The key of a cached step: a digest of everything its result depends on
/// (tool versions, arguments, input contents). Whoever computes it is
/// responsible for leaving nothing out; two steps with equal keys must
/// produce equal outputs.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ActionKey(pub [u8; 32]);

impl ActionKey {
    /// A key from its 32 bytes (Go's ActionID is exactly that).
    pub fn from_slice(bytes: &[u8]) -> Option<ActionKey> {
        bytes.try_into().ok().map(ActionKey)
    }

    /// The key of a step described by `parts`, in order. Each part is
    /// length-prefixed, so `["ab", "c"]` and `["a", "bc"]` differ.
    pub fn derive<I, P>(parts: I) -> ActionKey
    where
        I: IntoIterator<Item = P>,
        P: AsRef<[u8]>,
    {
        let mut h = sha2::Sha256::new();
        h.update(b"slipway-action-v1\0");
        for part in parts {
            let part = part.as_ref();
            h.update((part.len() as u64).to_le_bytes());
            h.update(part);
        }
        ActionKey(h.finalize().into())
    }

    /// Lower-case hex.
    pub fn to_hex(&self) -> String {
        base16ct::lower::encode_string(&self.0)
    }

    /// Parse 64 hex digits.
    pub fn from_hex(hex: &str) -> Option<ActionKey> {
        Sha256::from_hex(hex).map(|d| ActionKey(d.0))
    }

    /// The key under which the entry is stored on a remote: namespaces must
    /// not collide there, so the namespace is hashed in.
    pub fn remote_key(&self, ns: &str) -> Sha256 {
        let mut h = sha2::Sha256::new();
        h.update(b"slipway-ac-v1\0");
        h.update(ns.as_bytes());
        h.update([0]);
        h.update(self.0);
        Sha256(h.finalize().into())
    }
}

impl fmt::Debug for ActionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "action:{}", self.to_hex())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip_and_bad_input() {
        let d = Sha256::of(b"");
        assert_eq!(
            d.to_hex(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(Sha256::from_hex(&d.to_hex()), Some(d));
        assert_eq!(Sha256::from_hex(&d.to_hex().to_uppercase()), Some(d));
        assert_eq!(Sha256::from_hex("e3b0"), None);
        assert_eq!(Sha256::from_hex(&"g".repeat(64)), None);
        assert_eq!(Sha256::from_slice(&[0; 31]), None);
    }

    #[test]
    fn derived_keys_separate_parts_and_namespaces() {
        let a = ActionKey::derive(["ab", "c"]);
        let b = ActionKey::derive(["a", "bc"]);
        assert_ne!(a, b);
        assert_eq!(a, ActionKey::derive([b"ab".as_slice(), b"c"]));
        assert_ne!(a.remote_key("go"), a.remote_key("zig"));
    }
}
