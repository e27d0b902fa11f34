//! The file system a container sees: every layer of an image applied in
//! order, whiteouts included, with symlinks followed the way the kernel
//! follows them inside the container's root.

use std::collections::BTreeMap;

use slipway_oci::{EntryKind, LayerTar};

use crate::ImageError;

/// What sits at a path of the merged file system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node<'a> {
    Dir,
    File(&'a [u8]),
    Symlink(String),
}

#[derive(Debug, Clone)]
struct Placed<'a> {
    node: Node<'a>,
    /// Index of the layer that put it there.
    layer: usize,
}

/// Most symlinks followed in one lookup (Linux's own limit is 40).
const MAX_LINKS: usize = 40;

/// An image's merged file system, borrowing file contents from its layers.
#[derive(Debug, Default, Clone)]
pub struct RootFs<'a> {
    /// Keys are paths without a leading `/`; the root itself is implicit.
    nodes: BTreeMap<String, Placed<'a>>,
    layers: Vec<String>,
}

/// One entry of a layer before it is applied.
enum Change<'a> {
    Put(String, Node<'a>),
    /// `.wh.NAME`: remove NAME from the layers below.
    Whiteout(String),
    /// `.wh..wh..opq`: empty the directory of what the layers below put there.
    Opaque(String),
}

fn clean(path: &str) -> String {
    path.split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect::<Vec<_>>()
        .join("/")
}

impl<'a> RootFs<'a> {
    pub fn new() -> RootFs<'a> {
        RootFs::default()
    }

    /// The layers applied so far, by the names they were added with.
    pub fn layer_names(&self) -> &[String] {
        &self.layers
    }

    /// Apply a layer slipway is about to write.
    pub fn add_layer_tar(&mut self, name: &str, tar: &'a LayerTar) {
        let changes = tar
            .entries()
            .map(|(path, _mode, kind)| {
                let node = match kind {
                    EntryKind::Dir => Node::Dir,
                    EntryKind::File(d) => Node::File(d),
                    EntryKind::Symlink(t) => Node::Symlink(t.to_string()),
                };
                Change::Put(clean(path), node)
            })
            .collect();
        self.apply(name, changes);
    }

    /// Apply an uncompressed layer tar (from a base image or an existing image).
    pub fn add_tar(&mut self, name: &str, bytes: &'a [u8]) -> Result<(), ImageError> {
        let bad = |e: std::io::Error| ImageError::Layer(format!("layer {name}: {e}"));
        let mut archive = tar::Archive::new(std::io::Cursor::new(bytes));
        let mut changes = Vec::new();
        // Hard links point at an earlier entry of the same layer.
        let mut files: BTreeMap<String, &'a [u8]> = BTreeMap::new();
        for entry in archive.entries().map_err(bad)? {
            let entry = entry.map_err(bad)?;
            let path = clean(&entry.path().map_err(bad)?.to_string_lossy());
            if path.is_empty() {
                continue;
            }
            let (dir, base) = match path.rsplit_once('/') {
                Some((d, b)) => (d.to_string(), b),
                None => (String::new(), path.as_str()),
            };
            if base == ".wh..wh..opq" {
                changes.push(Change::Opaque(dir));
                continue;
            }
            if let Some(hidden) = base.strip_prefix(".wh.") {
                let target = if dir.is_empty() {
                    hidden.to_string()
                } else {
                    format!("{dir}/{hidden}")
                };
                changes.push(Change::Whiteout(target));
                continue;
            }
            let header = entry.header();
            let node = match header.entry_type() {
                tar::EntryType::Directory => Node::Dir,
                tar::EntryType::Regular | tar::EntryType::Continuous => {
                    let start = entry.raw_file_position() as usize;
                    let size = entry.size() as usize;
                    let data = bytes
                        .get(start..start.saturating_add(size))
                        .ok_or_else(|| {
                            ImageError::Layer(format!("layer {name}: {path} runs past the end"))
                        })?;
                    files.insert(path.clone(), data);
                    Node::File(data)
                }
                tar::EntryType::Symlink => {
                    let target = entry
                        .link_name()
                        .map_err(bad)?
                        .map(|l| l.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    Node::Symlink(target)
                }
                tar::EntryType::Link => {
                    let target = entry
                        .link_name()
                        .map_err(bad)?
                        .map(|l| clean(&l.to_string_lossy()))
                        .unwrap_or_default();
                    match files.get(&target) {
                        Some(data) => Node::File(data),
                        None => continue,
                    }
                }
                // Devices, fifos and the like are not what a loader opens.
                _ => continue,
            };
            changes.push(Change::Put(path, node));
        }
        self.apply(name, changes);
        Ok(())
    }

    fn remove_under(&mut self, dir: &str, keep_self: bool) {
        let prefix = format!("{dir}/");
        let doomed: Vec<String> = self
            .nodes
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .map(|(k, _)| k.clone())
            .collect();
        for k in doomed {
            self.nodes.remove(&k);
        }
        if !keep_self {
            self.nodes.remove(dir);
        }
    }

    fn apply(&mut self, name: &str, changes: Vec<Change<'a>>) {
        let layer = self.layers.len();
        self.layers.push(name.to_string());
        // Whiteouts hide what the layers below hold, whatever their order in the tar.
        for change in &changes {
            match change {
                Change::Whiteout(p) => self.remove_under(p, false),
                Change::Opaque(d) if d.is_empty() => self.nodes.clear(),
                Change::Opaque(d) => self.remove_under(d, true),
                Change::Put(..) => {}
            }
        }
        for change in changes {
            let Change::Put(path, node) = change else {
                continue;
            };
            // Implied parents; a file or link in the way is replaced by a directory.
            let mut parent = String::new();
            let parts: Vec<&str> = path.split('/').collect();
            for part in &parts[..parts.len() - 1] {
                if !parent.is_empty() {
                    parent.push('/');
                }
                parent.push_str(part);
                match self.nodes.get(&parent) {
                    Some(Placed {
                        node: Node::Dir, ..
                    }) => {}
                    _ => {
                        self.nodes.insert(
                            parent.clone(),
                            Placed {
                                node: Node::Dir,
                                layer,
                            },
                        );
                    }
                }
            }
            if node != Node::Dir {
                // A file replacing a directory hides everything under it.
                self.remove_under(&path, true);
            }
            self.nodes.insert(path, Placed { node, layer });
        }
    }

    /// Follow `path` (absolute, or relative to `/`) through symlinks to what
    /// it names: the real path (with a leading `/`), the node and its layer.
    /// `None` when nothing is there or the links loop.
    pub fn resolve(&self, path: &str) -> Option<(String, &Node<'a>, Option<usize>)> {
        const ROOT: Node<'static> = Node::Dir;
        let mut todo: Vec<String> = path
            .split('/')
            .filter(|p| !p.is_empty())
            .rev()
            .map(str::to_string)
            .collect();
        let mut current: Vec<String> = Vec::new();
        let mut links = 0;
        while let Some(part) = todo.pop() {
            match part.as_str() {
                "." => continue,
                ".." => {
                    current.pop();
                    continue;
                }
                _ => {}
            }
            let mut next = current.clone();
            next.push(part);
            let key = next.join("/");
            let placed = self.nodes.get(&key)?;
            match &placed.node {
                Node::Symlink(target) => {
                    links += 1;
                    if links > MAX_LINKS {
                        return None;
                    }
                    if target.starts_with('/') {
                        current.clear();
                    }
                    todo.extend(
                        target
                            .split('/')
                            .filter(|p| !p.is_empty())
                            .rev()
                            .map(str::to_string),
                    );
                }
                Node::File(_) if !todo.is_empty() => return None,
                _ => current = next,
            }
        }
        let key = current.join("/");
        if key.is_empty() {
            return Some(("/".into(), &ROOT, None));
        }
        let placed = self.nodes.get(&key)?;
        Some((format!("/{key}"), &placed.node, Some(placed.layer)))
    }

    /// The contents of the regular file `path` names (through links), with
    /// its real path and the name of the layer it came from.
    pub fn file(&self, path: &str) -> Option<(String, &'a [u8], &str)> {
        match self.resolve(path)? {
            (real, Node::File(data), Some(layer)) => Some((real, data, &self.layers[layer])),
            _ => None,
        }
    }

    /// Every ELF program in the merged file system, sorted: ELF files that
    /// are not shared objects (`*.so`, `*.so.N`) or objects and archives by
    /// their names. For `check-image --all`.
    pub fn elf_programs(&self) -> Vec<String> {
        self.nodes
            .iter()
            .filter(|(path, placed)| {
                let name = path.rsplit('/').next().unwrap_or(path);
                let library = name.ends_with(".so")
                    || name.contains(".so.")
                    || name.ends_with(".o")
                    || name.ends_with(".a");
                !library && matches!(placed.node, Node::File(data) if data.starts_with(b"\x7fELF"))
            })
            .map(|(path, _)| format!("/{path}"))
            .collect()
    }

    /// Names in the directory `path` (through links), sorted.
    pub fn list_dir(&self, path: &str) -> Vec<String> {
        let Some((real, Node::Dir, _)) = self.resolve(path) else {
            return Vec::new();
        };
        let key = real.trim_start_matches('/');
        let prefix = if key.is_empty() {
            String::new()
        } else {
            format!("{key}/")
        };
        self.nodes
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .filter(|(k, _)| !k[prefix.len()..].contains('/'))
            .map(|(k, _)| k[prefix.len()..].to_string())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_bytes(build: impl FnOnce(&mut ::tar::Builder<Vec<u8>>)) -> Vec<u8> {
        let mut b = ::tar::Builder::new(Vec::new());
        build(&mut b);
        b.into_inner().unwrap()
    }

    fn add(b: &mut ::tar::Builder<Vec<u8>>, path: &str, data: &[u8]) {
        let mut h = ::tar::Header::new_ustar();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(::tar::EntryType::Regular);
        h.set_path(path).unwrap();
        h.set_cksum();
        b.append(&h, data).unwrap();
    }

    #[test]
    fn links_are_followed_inside_the_image() {
        let mut low = LayerTar::new();
        low.file(
            "/usr/lib/aarch64-linux-gnu/libc.so.6",
            0o755,
            b"libc".to_vec(),
        )
        .unwrap();
        low.symlink("/lib", "usr/lib").unwrap();
        low.symlink("/lib/ld.so", "aarch64-linux-gnu/libc.so.6")
            .unwrap_err(); // lib is a link in this layer: LayerTar refuses
        let mut up = LayerTar::new();
        up.symlink("/lib64", "/lib/aarch64-linux-gnu").unwrap();
        let mut fs = RootFs::new();
        fs.add_layer_tar("low", &low);
        fs.add_layer_tar("up", &up);
        let (real, data, layer) = fs.file("/lib64/libc.so.6").unwrap();
        assert_eq!(real, "/usr/lib/aarch64-linux-gnu/libc.so.6");
        assert_eq!(data, b"libc");
        assert_eq!(layer, "low");
        // `..` applies to where the link led, as in the kernel.
        assert!(fs.file("/lib64/../aarch64-linux-gnu/libc.so.6").is_some());
        assert!(
            fs.file("/lib64/../lib/aarch64-linux-gnu/libc.so.6")
                .is_none()
        );
        assert!(fs.file("/lib64/libm.so.6").is_none());
    }

    #[test]
    fn whiteouts_hide_lower_layers() {
        let low = tar_bytes(|b| {
            add(b, "lib/a.so", b"a");
            add(b, "lib/b.so", b"b");
            add(b, "etc/x/y", b"y");
        });
        let up = tar_bytes(|b| {
            add(b, "lib/.wh.a.so", b"");
            add(b, "etc/x/.wh..wh..opq", b"");
            add(b, "etc/x/z", b"z");
        });
        let mut fs = RootFs::new();
        fs.add_tar("low", &low).unwrap();
        assert!(fs.file("/lib/a.so").is_some());
        fs.add_tar("up", &up).unwrap();
        assert!(fs.file("/lib/a.so").is_none());
        assert!(fs.file("/lib/b.so").is_some());
        assert!(fs.file("/etc/x/y").is_none());
        assert_eq!(fs.file("/etc/x/z").unwrap().2, "up");
        assert_eq!(fs.list_dir("/etc/x"), ["z"]);
    }

    #[test]
    fn link_loops_end() {
        let mut t = LayerTar::new();
        t.symlink("/a", "/b").unwrap();
        t.symlink("/b", "/a").unwrap();
        let mut fs = RootFs::new();
        fs.add_layer_tar("l", &t);
        assert!(fs.resolve("/a/x").is_none());
    }
}
