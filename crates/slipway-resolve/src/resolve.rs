//! Turning each image reference into `name@sha256:…` through the registry.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Serialize;
use slipway_oci::Digest;
use slipway_registry::{ClientOptions, Remote, RemoteRef, Store};

use crate::error::ResolveError;
use crate::scan::{self, ImageSite};

/// A release channel to resolve untagged references through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Channel {
    /// The channel as the user named it, e.g. `fleet-eu/stable`.
    pub name: String,
    /// The tag that holds it in each repository, e.g. `fleet-eu--stable`.
    pub tag: String,
}

/// How a reference was turned into a digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "via")]
pub enum Via {
    /// The tag written in the file (or `latest` when none is written).
    Tag { tag: String },
    /// The channel's tag, for a reference written without a tag.
    Channel { channel: String, tag: String },
    /// Already pinned; the digest was checked to exist in the repository.
    /// `tag_digest` is where a tag written beside it points now, when that differs.
    Pinned {
        #[serde(skip_serializing_if = "Option::is_none")]
        tag_digest: Option<String>,
    },
}

/// One image reference and what it became.
#[derive(Debug, Clone, Serialize)]
pub struct Change {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub path: String,
    pub from: String,
    pub to: String,
    pub digest: String,
    #[serde(flatten)]
    pub via: Via,
}

/// One input's text before and after.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub file: PathBuf,
    pub original: String,
    pub text: String,
    pub changes: Vec<Change>,
}

impl Resolved {
    pub fn changed(&self) -> bool {
        self.original != self.text
    }
}

/// Looks references up, asking the registry about each tag or digest once.
pub struct Resolver {
    options: ClientOptions,
    channel: Option<Channel>,
    remotes: HashMap<(String, String), Remote>,
    tags: HashMap<(String, String, String), Option<Digest>>,
    manifests: HashMap<(String, String, Digest), bool>,
    /// Registry requests made (lookups answered from memory not counted).
    pub lookups: usize,
}

impl Resolver {
    pub fn new(options: ClientOptions, channel: Option<Channel>) -> Resolver {
        Resolver {
            options,
            channel,
            remotes: HashMap::new(),
            tags: HashMap::new(),
            manifests: HashMap::new(),
            lookups: 0,
        }
    }

    fn remote(&mut self, r: &RemoteRef) -> Result<&Remote, slipway_registry::RegistryError> {
        let key = (r.registry.clone(), r.repository.clone());
        if !self.remotes.contains_key(&key) {
            let remote = Remote::open(r.clone(), &self.options)?;
            self.remotes.insert(key.clone(), remote);
        }
        Ok(&self.remotes[&key])
    }

    fn tag_digest(
        &mut self,
        r: &RemoteRef,
        tag: &str,
    ) -> Result<Option<Digest>, slipway_registry::RegistryError> {
        let key = (r.registry.clone(), r.repository.clone(), tag.to_string());
        if let Some(found) = self.tags.get(&key) {
            return Ok(found.clone());
        }
        self.lookups += 1;
        let found = self.remote(r)?.lookup_tag(tag)?;
        self.tags.insert(key, found.clone());
        Ok(found)
    }

    fn has_manifest(
        &mut self,
        r: &RemoteRef,
        digest: &Digest,
    ) -> Result<bool, slipway_registry::RegistryError> {
        let key = (r.registry.clone(), r.repository.clone(), digest.clone());
        if let Some(found) = self.manifests.get(&key) {
            return Ok(*found);
        }
        self.lookups += 1;
        let found = self.remote(r)?.has_manifest(digest)?;
        self.manifests.insert(key, found);
        Ok(found)
    }

    /// Resolve every image in `text` (read from `file`, which only names it
    /// in messages and the report). Nothing is written.
    pub fn resolve_text(&mut self, file: &Path, text: String) -> Result<Resolved, ResolveError> {
        let sites = scan::find_images(&text).map_err(|error| ResolveError::Yaml {
            file: file.to_path_buf(),
            error,
        })?;
        let mut changes = Vec::with_capacity(sites.len());
        for site in &sites {
            changes.push(self.resolve_site(file, site)?);
        }
        let edits: Vec<_> = sites
            .iter()
            .zip(&changes)
            .filter(|(site, change)| change.to != site.value)
            .map(|(site, change)| (site.range.clone(), scan::replacement(site, &change.to)))
            .collect();
        let resolved = scan::splice(&text, &edits);
        Ok(Resolved {
            file: file.to_path_buf(),
            original: text,
            text: resolved,
            changes,
        })
    }

    fn resolve_site(&mut self, file: &Path, site: &ImageSite) -> Result<Change, ResolveError> {
        let value = site.value.as_str();
        let r: RemoteRef = value.parse().map_err(|error| ResolveError::Reference {
            file: file.to_path_buf(),
            line: site.line,
            error,
        })?;
        let registry_error = |error| ResolveError::Registry {
            file: file.to_path_buf(),
            line: site.line,
            image: value.to_string(),
            error,
        };
        let not_found = |message: String| ResolveError::NotFound {
            file: file.to_path_buf(),
            line: site.line,
            message,
        };
        let (to, digest, via) = match &r.digest {
            Some(digest) => {
                if !self.has_manifest(&r, digest).map_err(registry_error)? {
                    return Err(not_found(format!(
                        "{value}: {} has no manifest {digest}; the pin is wrong or the image was \
                         deleted",
                        r.name()
                    )));
                }
                let tag_digest = match &r.tag {
                    Some(tag) => self
                        .tag_digest(&r, tag)
                        .map_err(registry_error)?
                        .filter(|d| d != digest)
                        .map(|d| d.to_string()),
                    None => None,
                };
                (
                    value.to_string(),
                    digest.clone(),
                    Via::Pinned { tag_digest },
                )
            }
            None => {
                let (tag, via) = match (&r.tag, &self.channel) {
                    (Some(t), _) => (t.clone(), Via::Tag { tag: t.clone() }),
                    (None, Some(c)) => (
                        c.tag.clone(),
                        Via::Channel {
                            channel: c.name.clone(),
                            tag: c.tag.clone(),
                        },
                    ),
                    (None, None) => (
                        "latest".to_string(),
                        Via::Tag {
                            tag: "latest".into(),
                        },
                    ),
                };
                let digest = self.tag_digest(&r, &tag).map_err(registry_error)?.ok_or_else(|| {
                    not_found(match &via {
                        Via::Channel { channel, .. } => format!(
                            "{value}: channel {channel} is not in {} (no tag {tag}); promote an \
                             image to it first, or write a tag for images that are not on the \
                             channel",
                            r.name()
                        ),
                        _ => format!(
                            "{value}: {} has no tag {tag}; push it first or fix the reference",
                            r.name()
                        ),
                    })
                })?;
                (format!("{}@{digest}", written_name(value, &r)), digest, via)
            }
        };
        Ok(Change {
            file: file.to_path_buf(),
            line: site.line,
            column: site.column,
            kind: site.kind.clone(),
            name: site.name.clone(),
            path: site.path.clone(),
            from: value.to_string(),
            to,
            digest: digest.to_string(),
            via,
        })
    }
}

/// The reference as written, without its tag: `nginx:1.25` stays short as
/// `nginx`, so the pinned form names the same image the same way.
fn written_name<'a>(value: &'a str, r: &RemoteRef) -> &'a str {
    match &r.tag {
        Some(tag) => value
            .strip_suffix(tag.as_str())
            .and_then(|v| v.strip_suffix(':'))
            .unwrap_or(value),
        None => value,
    }
}

/// The YAML files `-f` names: a file as given, a directory's `*.yaml`,
/// `*.yml` and `*.json` files (in subdirectories too when `recursive`),
/// sorted by path so the output order never depends on the file system.
pub fn collect_files(inputs: &[PathBuf], recursive: bool) -> Result<Vec<PathBuf>, ResolveError> {
    let mut out = Vec::new();
    for input in inputs {
        let meta = std::fs::metadata(input).map_err(|error| ResolveError::Io {
            path: input.clone(),
            error,
        })?;
        if meta.is_dir() {
            let mut found = Vec::new();
            walk_dir(input, recursive, &mut found)?;
            found.sort();
            if found.is_empty() {
                return Err(ResolveError::Input(format!(
                    "{}: no .yaml, .yml or .json files{}",
                    input.display(),
                    if recursive {
                        ""
                    } else {
                        " (use --recursive to look in subdirectories)"
                    }
                )));
            }
            out.extend(found);
        } else {
            out.push(input.clone());
        }
    }
    Ok(out)
}

fn walk_dir(dir: &Path, recursive: bool, out: &mut Vec<PathBuf>) -> Result<(), ResolveError> {
    let io = |error| ResolveError::Io {
        path: dir.to_path_buf(),
        error,
    };
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let path = entry.path();
        let hidden = entry.file_name().to_string_lossy().starts_with('.');
        if entry.file_type().map_err(io)?.is_dir() {
            if recursive && !hidden {
                walk_dir(&path, recursive, out)?;
            }
        } else if !hidden
            && path
                .extension()
                .is_some_and(|e| e == "yaml" || e == "yml" || e == "json")
        {
            out.push(path);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_written_name_keeps_host_port_and_short_names() {
        for (written, name) in [
            ("nginx:1.25", "nginx"),
            ("nginx", "nginx"),
            ("localhost:5000/team/app", "localhost:5000/team/app"),
            ("localhost:5000/team/app:v1", "localhost:5000/team/app"),
            ("ghcr.io/o/r:latest", "ghcr.io/o/r"),
        ] {
            let r: RemoteRef = written.parse().unwrap();
            assert_eq!(written_name(written, &r), name, "{written}");
        }
    }

    #[test]
    fn files_join_into_one_stream() {
        assert_eq!(crate::join_stream(["a: 1", "b: 2\n"]), "a: 1\n---\nb: 2\n");
        assert_eq!(
            crate::join_stream(["a: 1\n", "--- \nb: 2\n"]),
            "a: 1\n--- \nb: 2\n"
        );
        assert_eq!(crate::join_stream(["a: 1\n"]), "a: 1\n");
    }
}
