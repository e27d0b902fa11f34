//! Deterministic tar archives for layers: the same entries always give the
//! same bytes, whatever the file system, user, umask or clock.
//!
//! Every header field is set here: ustar format, byte-sorted entries with
//! explicit parent directories, one fixed mtime, uid/gid 0 with empty owner
//! names, modes as given (never from a umask). PAX records appear only for
//! xattrs asked for explicitly ([`LayerTar::xattr`], e.g. file capabilities),
//! with fixed header fields of their own.

use std::collections::BTreeMap;

use crate::OciError;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    Dir,
    File(Vec<u8>),
    Symlink(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    mode: u32,
    kind: Kind,
    /// Extended attributes, written as `SCHILY.xattr.<name>` PAX records.
    xattrs: BTreeMap<String, Vec<u8>>,
}

/// What an entry of a [`LayerTar`] is, borrowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind<'a> {
    Dir,
    File(&'a [u8]),
    Symlink(&'a str),
}

/// The entries of one layer, kept sorted by path.
#[derive(Debug, Clone, Default)]
pub struct LayerTar {
    entries: BTreeMap<String, Entry>,
}

impl LayerTar {
    pub fn new() -> LayerTar {
        LayerTar::default()
    }

    /// Add a directory (and its missing parents, mode 0755).
    pub fn dir(&mut self, path: &str, mode: u32) -> Result<&mut LayerTar, OciError> {
        self.insert(
            path,
            Entry {
                mode,
                kind: Kind::Dir,
                xattrs: BTreeMap::new(),
            },
        )
    }

    /// Add a regular file (and its missing parent directories, mode 0755).
    pub fn file(
        &mut self,
        path: &str,
        mode: u32,
        data: Vec<u8>,
    ) -> Result<&mut LayerTar, OciError> {
        self.insert(
            path,
            Entry {
                mode,
                kind: Kind::File(data),
                xattrs: BTreeMap::new(),
            },
        )
    }

    /// Add a symbolic link.
    pub fn symlink(&mut self, path: &str, target: &str) -> Result<&mut LayerTar, OciError> {
        self.insert(
            path,
            Entry {
                mode: 0o777,
                kind: Kind::Symlink(target.to_string()),
                xattrs: BTreeMap::new(),
            },
        )
    }

    /// Set an extended attribute on a file already added (e.g.
    /// `security.capability`); it travels as a PAX record before the entry.
    pub fn xattr(&mut self, path: &str, name: &str, value: Vec<u8>) -> Result<(), OciError> {
        let key = normalize(path)?;
        match self.entries.get_mut(&key) {
            Some(
                e @ Entry {
                    kind: Kind::File(_),
                    ..
                },
            ) => {
                e.xattrs.insert(name.to_string(), value);
                Ok(())
            }
            _ => Err(OciError::Layer(format!(
                "{path}: extended attributes go on a file added to the layer first"
            ))),
        }
    }

    /// Every entry (path without a leading `/`, mode, kind), sorted by path:
    /// what a merged view of an image's file system is built from.
    pub fn entries(&self) -> impl Iterator<Item = (&str, u32, EntryKind<'_>)> {
        self.entries.iter().map(|(p, e)| {
            let kind = match &e.kind {
                Kind::Dir => EntryKind::Dir,
                Kind::File(d) => EntryKind::File(d),
                Kind::Symlink(t) => EntryKind::Symlink(t),
            };
            (p.as_str(), e.mode, kind)
        })
    }

    /// Paths and file contents, for scanning what goes into a layer.
    pub fn files(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.entries.iter().filter_map(|(p, e)| match &e.kind {
            Kind::File(data) => Some((p.as_str(), data.as_slice())),
            _ => None,
        })
    }

    fn insert(&mut self, path: &str, entry: Entry) -> Result<&mut LayerTar, OciError> {
        let path = normalize(path)?;
        let mut parent = String::new();
        for part in path
            .split('/')
            .collect::<Vec<_>>()
            .iter()
            .rev()
            .skip(1)
            .rev()
        {
            if !parent.is_empty() {
                parent.push('/');
            }
            parent.push_str(part);
            match self.entries.get(&parent) {
                Some(Entry {
                    kind: Kind::Dir, ..
                }) => {}
                Some(_) => {
                    return Err(OciError::Layer(format!(
                        "{parent} is a file, so {path} cannot be inside it"
                    )));
                }
                None => {
                    self.entries.insert(
                        parent.clone(),
                        Entry {
                            mode: 0o755,
                            kind: Kind::Dir,
                            xattrs: BTreeMap::new(),
                        },
                    );
                }
            }
        }
        match self.entries.get(&path) {
            // A directory added explicitly after being implied takes the explicit mode.
            Some(Entry {
                kind: Kind::Dir, ..
            }) if entry.kind == Kind::Dir => {}
            Some(_) => return Err(OciError::Layer(format!("{path} is added twice"))),
            None => {}
        }
        self.entries.insert(path, entry);
        Ok(self)
    }

    /// The uncompressed tar. `mtime` is SOURCE_DATE_EPOCH (or 0).
    pub fn to_bytes(&self, mtime: u64) -> Result<Vec<u8>, OciError> {
        let size: usize = self
            .entries
            .values()
            .map(|e| {
                512 + match &e.kind {
                    Kind::File(d) => d.len().div_ceil(512) * 512,
                    _ => 0,
                }
            })
            .sum();
        let mut builder = tar::Builder::new(Vec::with_capacity(size + 1024));
        for (path, entry) in &self.entries {
            let mut h = tar::Header::new_ustar();
            let io = |e: std::io::Error| OciError::Layer(format!("{path}: {e}"));
            let (name, data): (String, &[u8]) = match &entry.kind {
                Kind::Dir => {
                    h.set_entry_type(tar::EntryType::Directory);
                    (format!("{path}/"), &[])
                }
                Kind::File(d) => {
                    h.set_entry_type(tar::EntryType::Regular);
                    (path.clone(), d.as_slice())
                }
                Kind::Symlink(target) => {
                    h.set_entry_type(tar::EntryType::Symlink);
                    h.set_link_name(target).map_err(io)?;
                    (path.clone(), &[])
                }
            };
            if !entry.xattrs.is_empty() {
                let mut records = Vec::new();
                for (key, value) in &entry.xattrs {
                    pax_record(&mut records, &format!("SCHILY.xattr.{key}"), value);
                }
                let mut x = tar::Header::new_ustar();
                let base = name.rsplit('/').next().unwrap_or(&name);
                let short: String = base.chars().take(80).collect();
                x.set_path(format!("PaxHeaders/{short}")).map_err(io)?;
                x.set_entry_type(tar::EntryType::XHeader);
                x.set_size(records.len() as u64);
                x.set_mode(0o644);
                x.set_uid(0);
                x.set_gid(0);
                x.set_mtime(mtime);
                x.set_username("").map_err(io)?;
                x.set_groupname("").map_err(io)?;
                x.set_device_major(0).map_err(io)?;
                x.set_device_minor(0).map_err(io)?;
                x.set_cksum();
                builder.append(&x, records.as_slice()).map_err(io)?;
            }
            h.set_path(&name).map_err(io)?;
            h.set_size(data.len() as u64);
            h.set_mode(entry.mode);
            h.set_uid(0);
            h.set_gid(0);
            h.set_mtime(mtime);
            h.set_username("").map_err(io)?;
            h.set_groupname("").map_err(io)?;
            h.set_device_major(0).map_err(io)?;
            h.set_device_minor(0).map_err(io)?;
            h.set_cksum();
            builder.append(&h, data).map_err(io)?;
        }
        builder
            .into_inner()
            .map_err(|e| OciError::Layer(e.to_string()))
    }
}

/// One PAX record, `"<len> <key>=<value>\n"`, where len counts itself.
fn pax_record(out: &mut Vec<u8>, key: &str, value: &[u8]) {
    let rest = key.len() + value.len() + 3; // ' ', '=', '\n'
    let mut len = rest + 1;
    while len != rest + len.to_string().len() {
        len = rest + len.to_string().len();
    }
    out.extend_from_slice(format!("{len} {key}=").as_bytes());
    out.extend_from_slice(value);
    out.push(b'\n');
}

/// `/etc/passwd` → `etc/passwd`; refuse `..`, empty parts and NUL.
fn normalize(path: &str) -> Result<String, OciError> {
    let trimmed = path.trim_start_matches('/').trim_end_matches('/');
    let bad = trimmed.is_empty()
        || trimmed.contains('\0')
        || trimmed
            .split('/')
            .any(|p| p.is_empty() || p == "." || p == "..");
    if bad {
        return Err(OciError::Layer(format!(
            "`{path}` is not a valid path inside an image"
        )));
    }
    Ok(trimmed.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorted_with_parents_and_fixed_metadata() {
        let mut t = LayerTar::new();
        t.file("/etc/passwd", 0o644, b"root:x:0:0::/:\n".to_vec())
            .unwrap();
        t.dir("/tmp", 0o1777).unwrap();
        t.file("/app/hello", 0o555, vec![1, 2, 3]).unwrap();
        let bytes = t.to_bytes(1_700_000_000).unwrap();
        let mut archive = tar::Archive::new(bytes.as_slice());
        let mut seen = Vec::new();
        for e in archive.entries().unwrap() {
            let e = e.unwrap();
            let h = e.header();
            assert_eq!(h.uid().unwrap(), 0);
            assert_eq!(h.gid().unwrap(), 0);
            assert_eq!(h.mtime().unwrap(), 1_700_000_000);
            assert_eq!(h.username().unwrap(), Some(""));
            seen.push((e.path().unwrap().display().to_string(), h.mode().unwrap()));
        }
        assert_eq!(
            seen,
            [
                ("app/".to_string(), 0o755),
                ("app/hello".to_string(), 0o555),
                ("etc/".to_string(), 0o755),
                ("etc/passwd".to_string(), 0o644),
                ("tmp/".to_string(), 0o1777),
            ]
        );
        // The same entries in another order give the same bytes.
        let mut u = LayerTar::new();
        u.dir("tmp", 0o1777).unwrap();
        u.file("app/hello", 0o555, vec![1, 2, 3]).unwrap();
        u.file("etc/passwd", 0o644, b"root:x:0:0::/:\n".to_vec())
            .unwrap();
        assert_eq!(u.to_bytes(1_700_000_000).unwrap(), bytes);
    }

    #[test]
    fn xattrs_travel_as_pax_records() {
        let mut t = LayerTar::new();
        t.file("/app/svc", 0o555, vec![1; 10]).unwrap();
        t.xattr("/app/svc", "security.capability", vec![0, 0, 0, 2, 0, 4])
            .unwrap();
        assert!(t.xattr("/app", "user.x", vec![]).is_err());
        let bytes = t.to_bytes(5).unwrap();
        assert_eq!(bytes, t.to_bytes(5).unwrap());
        let mut archive = tar::Archive::new(bytes.as_slice());
        let mut found = None;
        for e in archive.entries().unwrap() {
            let mut e = e.unwrap();
            if e.path().unwrap().to_string_lossy() == "app/svc" {
                for ext in e.pax_extensions().unwrap().unwrap() {
                    let ext = ext.unwrap();
                    found = Some((ext.key().unwrap().to_string(), ext.value_bytes().to_vec()));
                }
            }
        }
        assert_eq!(
            found,
            Some((
                "SCHILY.xattr.security.capability".to_string(),
                vec![0, 0, 0, 2, 0, 4]
            ))
        );
        let mut record = Vec::new();
        pax_record(&mut record, "k", &[b'v'; 4]);
        assert_eq!(record, b"9 k=vvvv\n");
        // Where the length's own digits tip it over to two.
        record.clear();
        pax_record(&mut record, "k", &[b'v'; 5]);
        assert_eq!(record, b"11 k=vvvvv\n");
    }

    #[test]
    fn bad_paths_and_clashes_are_errors() {
        let mut t = LayerTar::new();
        for bad in ["", "/", "a/../b", "a//b", "./a", "a\0b"] {
            assert!(t.file(bad, 0o644, vec![]).is_err(), "{bad:?}");
        }
        t.file("a/b", 0o644, vec![]).unwrap();
        assert!(t.file("a/b", 0o644, vec![]).is_err());
        assert!(t.file("a/b/c", 0o644, vec![]).is_err());
        t.dir("a", 0o700).unwrap();
    }
}
