//! Audit logs: hash chains of signed entries, one per channel plus one per
//! repository (for mark-bad), each found through a head tag.
//!
//! Head tags start with `_`, which a channel's tag never does, so they can
//! never collide with a channel: `_slipway-audit--<channel tag>` for a
//! channel, `_slipway-audit` for the repository's log.

use slipway_attest::PublicKey;
use slipway_oci::Digest;
use slipway_registry::Store;

use crate::channel::ChannelName;
use crate::entry::{self, Action, Verified};
use crate::error::{Error, Result, Tamper};

/// The head tag of the repository's log (mark-bad entries).
pub const REPOSITORY_HEAD_TAG: &str = "_slipway-audit";
/// Logs longer than this are refused rather than walked forever.
const MAX_ENTRIES: usize = 100_000;

/// Which log: a channel's, or the repository's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Log {
    Channel(ChannelName),
    Repository,
}

impl Log {
    /// The tag that names the newest entry.
    pub fn head_tag(&self) -> String {
        match self {
            Log::Channel(c) => format!("{REPOSITORY_HEAD_TAG}--{}", c.tag()),
            Log::Repository => REPOSITORY_HEAD_TAG.into(),
        }
    }

    /// The `log` field of its entries.
    pub fn name(&self) -> String {
        match self {
            Log::Channel(c) => c.to_string(),
            Log::Repository => String::new(),
        }
    }

    fn describe(&self) -> String {
        match self {
            Log::Channel(c) => format!("of channel {c}"),
            Log::Repository => "of the repository (mark-bad)".into(),
        }
    }
}

/// A log read and verified, oldest entry first.
#[derive(Debug, Clone)]
pub struct Chain {
    pub log: Log,
    pub entries: Vec<Verified>,
}

impl Chain {
    pub fn head(&self) -> Option<&Verified> {
        self.entries.last()
    }

    /// The newest entry that marked `digest` bad (repository log).
    pub fn marked_bad(&self, digest: &Digest) -> Option<&Verified> {
        let d = digest.to_string();
        self.entries
            .iter()
            .rev()
            .find(|e| e.entry.action == Action::MarkBad && e.entry.new == d)
    }

    /// Whether `digest` was ever moved into the channel.
    pub fn has_held(&self, digest: &Digest) -> bool {
        let d = digest.to_string();
        self.entries
            .iter()
            .any(|e| e.entry.new == d || e.entry.old.as_deref() == Some(d.as_str()))
    }
}

/// Read the log's head tag and walk back to the first entry, checking every
/// signature and link. `trusted` empty accepts any signer whose signature
/// holds (the fingerprints are reported); otherwise every entry must be
/// signed by one of the keys.
pub fn read_chain(store: &dyn Store, log: &Log, trusted: &[PublicKey]) -> Result<Chain> {
    let name = log.describe();
    let tamper = |problem: Tamper| Error::Tampered {
        log: format!("{name} in {}", store.describe()),
        problem,
    };
    let relabel = |e: Error| match e {
        Error::Tampered { problem, .. } => tamper(problem),
        other => other,
    };
    let head_tag = log.head_tag();
    let Some(head) = store.tag_digest(&head_tag)? else {
        return Ok(Chain {
            log: log.clone(),
            entries: Vec::new(),
        });
    };
    let mut newest_first: Vec<Verified> = Vec::new();
    let mut next = Some(head);
    while let Some(digest) = next {
        if newest_first.len() >= MAX_ENTRIES {
            return Err(Error::Input(format!(
                "the audit log {name} has more than {MAX_ENTRIES} entries; refusing to walk further"
            )));
        }
        let whence = match newest_first.last() {
            None => format!("the head, tag {head_tag}"),
            Some(later) => format!(
                "named as previous by the entry of sequence {}",
                later.entry.sequence
            ),
        };
        let v = entry::read(store, &digest, trusted, &whence).map_err(relabel)?;
        if v.entry.log != log.name() {
            return Err(tamper(Tamper::Reordered(format!(
                "entry {digest} ({whence}) belongs to the log {:?}, not this one: it was spliced in",
                v.entry.log
            ))));
        }
        next = match &v.entry.previous {
            Some(p) => Some(Digest::parse(p).ok_or_else(|| {
                tamper(Tamper::Edited(format!(
                    "entry {digest} names `{p}` as previous, which is not a digest"
                )))
            })?),
            None => {
                if v.entry.sequence != 0 {
                    return Err(tamper(Tamper::Deleted(format!(
                        "the oldest entry {digest} has sequence {} and names no previous entry: \
                         the {} before it are gone",
                        v.entry.sequence, v.entry.sequence
                    ))));
                }
                None
            }
        };
        newest_first.push(v);
    }
    newest_first.reverse();
    check_links(&newest_first).map_err(tamper)?;
    Ok(Chain {
        log: log.clone(),
        entries: newest_first,
    })
}

/// Check the order of a chain read oldest first (its hash links already
/// hold): out-of-order sequence numbers first, so a reordered log is named
/// as such rather than by the gap it also leaves; then gaps (entries cut
/// out and the chain re-linked); then time and the channel's continuity.
fn check_links(entries: &[Verified]) -> Result<(), Tamper> {
    for w in entries.windows(2) {
        let (older, later) = (&w[0], &w[1]);
        if older.entry.sequence >= later.entry.sequence {
            return Err(Tamper::Reordered(format!(
                "entry {} (sequence {}) comes before entry {} (sequence {})",
                older.digest, older.entry.sequence, later.digest, later.entry.sequence
            )));
        }
    }
    for w in entries.windows(2) {
        let (older, later) = (&w[0], &w[1]);
        let (o, l) = (&older.entry, &later.entry);
        if o.sequence + 1 != l.sequence {
            let missing = l.sequence - o.sequence - 1;
            return Err(Tamper::Deleted(format!(
                "the sequence jumps from {} (entry {}) to {} (entry {}): {missing} entr{} between them {} missing",
                o.sequence,
                older.digest,
                l.sequence,
                later.digest,
                if missing == 1 { "y" } else { "ies" },
                if missing == 1 { "is" } else { "are" },
            )));
        }
    }
    for w in entries.windows(2) {
        let (older, later) = (&w[0], &w[1]);
        let (o, l) = (&older.entry, &later.entry);
        if o.time > l.time {
            return Err(Tamper::Reordered(format!(
                "entry {} (sequence {}, {}) is dated after the entry that follows it, {} ({})",
                older.digest, o.sequence, o.time, later.digest, l.time
            )));
        }
        if l.action != Action::MarkBad && l.old.as_deref() != Some(o.new.as_str()) {
            return Err(Tamper::Reordered(format!(
                "entry {} (sequence {}) says the channel held {} before it, but the entry before it, {}, moved it to {}",
                later.digest,
                l.sequence,
                l.old.as_deref().unwrap_or("nothing"),
                older.digest,
                o.new
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::{Entry, Operator, descriptor};
    use slipway_attest::SigningKey;
    use slipway_registry::{Layout, RawManifest};

    fn image(n: u8) -> RawManifest {
        let bytes = format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{}","size":{n}}},"layers":[]}}"#,
            Digest::of(&[n])
        )
        .into_bytes();
        RawManifest {
            digest: Digest::of(&bytes),
            bytes,
            media_type: "application/vnd.oci.image.manifest.v1+json".into(),
        }
    }

    fn entry(
        key: &SigningKey,
        seq: u64,
        previous: Option<&Digest>,
        old: Option<u8>,
        new: u8,
    ) -> Entry {
        let public = key.public_key();
        Entry {
            version: 1,
            log: "stable".into(),
            action: Action::Promote,
            sequence: seq,
            previous: previous.map(|d| d.to_string()),
            old: old.map(|o| image(o).digest.to_string()),
            new: image(new).digest.to_string(),
            operator: Operator {
                key: public.fingerprint().to_string(),
                public_key: public.to_pem(),
                name: None,
            },
            time: format!("2026-11-26T10:00:0{seq}Z"),
            reason: None,
            verification: serde_json::Value::Null,
            repository: "example/repo".into(),
        }
    }

    /// Store entries as given and point the head tag at the last.
    fn store(
        layout: &Layout,
        key: &SigningKey,
        entries: &[(u64, Option<u8>, u8)],
        link: &[Option<usize>],
    ) -> Vec<Digest> {
        let mut digests: Vec<Digest> = Vec::new();
        for (i, (seq, old, new)) in entries.iter().enumerate() {
            let prev = link[i].map(|j| digests[j].clone());
            let w =
                entry(key, *seq, prev.as_ref(), *old, *new).seal(key, &descriptor(&image(*new)));
            w.store(layout).unwrap();
            digests.push(w.manifest.digest.clone());
            layout
                .push_manifest(
                    &w.manifest,
                    Some(&Log::Channel(ChannelName::parse("stable").unwrap()).head_tag()),
                )
                .unwrap();
        }
        digests
    }

    fn read(layout: &Layout, trusted: &[PublicKey]) -> Result<Chain> {
        read_chain(
            layout,
            &Log::Channel(ChannelName::parse("stable").unwrap()),
            trusted,
        )
    }

    #[test]
    fn a_chain_round_trips_and_each_break_is_named() {
        let key = SigningKey::generate().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::create_dir(dir.path(), None).unwrap();
        let ok = store(
            &layout,
            &key,
            &[(0, None, 1), (1, Some(1), 2), (2, Some(2), 3)],
            &[None, Some(0), Some(1)],
        );
        let chain = read(&layout, &[key.public_key()]).unwrap();
        assert_eq!(
            chain
                .entries
                .iter()
                .map(|e| e.digest.clone())
                .collect::<Vec<_>>(),
            ok
        );
        assert!(chain.has_held(&image(2).digest) && !chain.has_held(&image(9).digest));

        let other = SigningKey::generate().unwrap();
        let e = read(&layout, &[other.public_key()])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("wrong signer") && e.contains(&ok[2].to_string()),
            "{e}"
        );

        // Swapped: sequence 2 linked before sequence 1.
        let d = store(
            &layout,
            &key,
            &[(0, None, 1), (2, Some(1), 3), (1, Some(3), 2)],
            &[None, Some(0), Some(1)],
        );
        let e = read(&layout, &[]).unwrap_err().to_string();
        assert!(
            e.contains("reordered") && e.contains(&d[1].to_string()),
            "{e}"
        );

        // Cut out and re-linked: a gap.
        store(
            &layout,
            &key,
            &[(0, None, 1), (2, Some(2), 3)],
            &[None, Some(0)],
        );
        let e = read(&layout, &[]).unwrap_err().to_string();
        assert!(e.contains("deleted") && e.contains("jumps from 0"), "{e}");

        // Continuity: the later entry's old is not the earlier one's new.
        store(
            &layout,
            &key,
            &[(0, None, 1), (1, Some(7), 2)],
            &[None, Some(0)],
        );
        let e = read(&layout, &[]).unwrap_err().to_string();
        assert!(e.contains("reordered") && e.contains("held"), "{e}");

        // A chain whose first entries are gone entirely.
        store(&layout, &key, &[(3, Some(1), 2)], &[None]);
        let e = read(&layout, &[]).unwrap_err().to_string();
        assert!(e.contains("deleted") && e.contains("sequence 3"), "{e}");
    }
}
