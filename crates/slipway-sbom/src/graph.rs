//! The input flattened into one sorted, de-duplicated set of components and
//! relationships, which both document formats render: the two documents of
//! one input always say the same thing.

use std::collections::{BTreeMap, BTreeSet};

use sha2::Digest;
use slipway_elf::Module;

use crate::model::{CPart, CPartKind, GoBinary, Linkage, SbomInput, Subject};
use crate::purl;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Kind {
    Image,
    Directory,
    Binary,
    Init,
    MainModule,
    Module,
    Stdlib,
    CLibrary,
    CRuntime,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Node {
    /// Unique, `[A-Za-z0-9.-]+`: the SPDX id after `SPDXRef-` and the bom-ref.
    pub id: String,
    pub kind: Kind,
    pub name: String,
    pub version: Option<String>,
    pub purl: Option<String>,
    pub sha256: Option<String>,
    pub file_name: Option<String>,
    pub supplier: Option<String>,
    pub homepage: Option<String>,
    pub download: Option<String>,
    /// Sentences for SPDX `comment` / CycloneDX `description`.
    pub comment: Vec<String>,
    /// `(name, value)` pairs, CycloneDX properties; folded into the SPDX comment.
    pub properties: Vec<(String, String)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Rel {
    Contains,
    DependsOn,
}

pub(crate) struct Graph {
    pub subject: String,
    pub nodes: BTreeMap<String, Node>,
    pub edges: BTreeSet<(String, Rel, String)>,
    /// Document-level notes (what could not be identified).
    pub notes: BTreeSet<String>,
}

/// An id from a kind prefix, a readable name and a short hash of the full
/// identity, so two names that sanitise alike still differ.
fn make_id(prefix: &str, readable: &str, identity: &str) -> String {
    // Runs of anything else become one `-`.
    let mut clean = String::with_capacity(readable.len());
    for c in readable.chars() {
        if c.is_ascii_alphanumeric() || c == '.' {
            clean.push(c);
        } else if !clean.ends_with('-') {
            clean.push('-');
        }
    }
    let h = sha2::Sha256::digest(identity.as_bytes());
    format!(
        "{prefix}-{}-{}",
        clean.trim_matches('-'),
        &crate::hex(&h)[..8]
    )
}

/// `go1.26.8` → `1.26.8`; `go1.22rc1` and other odd forms stay as they are
/// without the `go`.
fn stdlib_semver(go: &str) -> &str {
    go.strip_prefix("go").unwrap_or(go)
}

/// Go's module proxy escapes upper-case letters as `!` + lower case.
fn proxy_escape(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_uppercase() {
            out.push('!');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

fn real_version(v: &str) -> Option<&str> {
    (!v.is_empty() && v != "(devel)").then_some(v)
}

const H1_MEANING: &str = "Go checksum database hash (go.sum h1:): SHA-256 over a sorted listing of the SHA-256 of every file in the module (dirhash Hash1), not a hash of any one file or of the module zip";

impl Graph {
    pub fn build(input: &SbomInput) -> Graph {
        let mut g = Graph {
            subject: String::new(),
            nodes: BTreeMap::new(),
            edges: BTreeSet::new(),
            notes: BTreeSet::new(),
        };
        let mut binaries: Vec<&GoBinary> = input.binaries.iter().collect();
        // A total order, so equal paths with different content still sort one way.
        binaries.sort_by_cached_key(|b| (b.path.clone(), b.sha256.clone(), format!("{b:?}")));

        let container = match &input.subject {
            Subject::Image {
                name,
                index_digest,
                manifest_digest,
                platform,
            } => {
                let arch = platform.split('/').nth(1);
                let mut props = vec![
                    (
                        "slipway:image:manifest-digest".to_string(),
                        manifest_digest.clone(),
                    ),
                    ("slipway:image:platform".to_string(), platform.clone()),
                ];
                if let Some(i) = index_digest {
                    props.push(("slipway:image:index-digest".to_string(), i.clone()));
                }
                let digest = index_digest.as_deref().unwrap_or(manifest_digest);
                let id = make_id("image", name, &format!("{name}@{digest}"));
                g.add(Node {
                    id: id.clone(),
                    kind: Kind::Image,
                    name: name.clone(),
                    version: Some(digest.to_string()),
                    purl: Some(purl::oci(name, digest, arch)),
                    sha256: manifest_digest.strip_prefix("sha256:").map(str::to_string),
                    file_name: None,
                    supplier: None,
                    homepage: None,
                    download: None,
                    comment: vec![format!(
                        "OCI image for {platform}; the checksum is the platform manifest's digest"
                    )],
                    properties: props,
                });
                Some(id)
            }
            Subject::Directory { name, sha256 } => {
                let id = make_id("directory", name, sha256);
                g.add(Node {
                    id: id.clone(),
                    kind: Kind::Directory,
                    name: name.clone(),
                    version: None,
                    purl: None,
                    sha256: None,
                    file_name: None,
                    supplier: None,
                    homepage: None,
                    download: None,
                    comment: vec![format!(
                        "a directory of binaries; its identity is sha256:{sha256}, the SHA-256 of the sorted `<sha256>  <path>` listing of the binaries"
                    )],
                    properties: vec![("slipway:directory:listing-sha256".into(), sha256.clone())],
                });
                Some(id)
            }
            Subject::Binary { .. } => None,
        };

        for b in &binaries {
            let bin = g.add_binary(b);
            match &container {
                Some(c) => g.edge(c, Rel::Contains, &bin),
                None if g.subject.is_empty() => g.subject = bin.clone(),
                None => {}
            }
            for note in &b.notes {
                g.notes.insert(format!("{}: {note}", b.path));
            }
        }
        if let Some(init) = &input.init {
            let id = make_id(
                "init",
                "slipway-init",
                &format!("{}@{}", init.path, init.sha256),
            );
            g.add(Node {
                id: id.clone(),
                kind: Kind::Init,
                name: "slipway-init".into(),
                version: Some(init.version.clone()),
                purl: Some(purl::generic("slipway-init", Some(&init.version))),
                sha256: Some(init.sha256.clone()),
                file_name: Some(init.path.clone()),
                supplier: None,
                homepage: None,
                download: None,
                comment: vec!["slipway's PID-1 init (reaps zombies, forwards signals): a static C program compiled by zig".into()],
                properties: vec![("slipway:path".into(), init.path.clone())],
            });
            if let Some(c) = &container {
                g.edge(c, Rel::Contains, &id);
            }
            for part in &init.c_parts {
                let p = g.add_c_part(part);
                g.edge(&id, rel_for(part), &p);
            }
        }
        if let Some(c) = container {
            g.subject = c;
        }
        g
    }

    fn add(&mut self, node: Node) {
        self.nodes.entry(node.id.clone()).or_insert(node);
    }

    fn edge(&mut self, from: &str, rel: Rel, to: &str) {
        self.edges.insert((from.to_string(), rel, to.to_string()));
    }

    fn add_binary(&mut self, b: &GoBinary) -> String {
        let info = &b.build_info;
        let file = b.path.rsplit('/').next().unwrap_or(&b.path).to_string();
        let id = make_id("binary", &b.path, &format!("{}@{}", b.path, b.sha256));
        let mut props = vec![
            ("slipway:path".to_string(), b.path.clone()),
            ("slipway:go:version".to_string(), info.version.clone()),
            ("slipway:go:package".to_string(), info.path.clone()),
        ];
        if let Some(p) = b.platform() {
            props.push(("slipway:platform".into(), p));
        }
        for (k, v) in &info.settings.0 {
            props.push((format!("slipway:go:build:{k}"), v.clone()));
        }
        let main = info.main.as_ref();
        self.add(Node {
            id: id.clone(),
            kind: Kind::Binary,
            name: file.clone(),
            version: main
                .and_then(|m| real_version(&m.version))
                .map(str::to_string),
            purl: None,
            sha256: Some(b.sha256.clone()),
            file_name: Some(b.path.clone()),
            supplier: None,
            homepage: None,
            download: None,
            comment: vec![format!(
                "Go executable built from package {} with {}{}",
                info.path,
                info.version,
                if b.is_cgo() { " with cgo" } else { "" }
            )],
            properties: props,
        });

        // The Go standard library, as syft names it.
        let semver = stdlib_semver(&info.version);
        let stdlib = make_id("go-stdlib", &info.version, &info.version);
        self.add(Node {
            id: stdlib.clone(),
            kind: Kind::Stdlib,
            name: "stdlib".into(),
            version: Some(info.version.clone()),
            purl: Some(purl::golang("stdlib", Some(semver))),
            sha256: None,
            file_name: None,
            supplier: Some("Organization: The Go Authors".into()),
            homepage: Some("https://go.dev/".into()),
            download: Some(format!("https://go.dev/dl/{}.src.tar.gz", info.version)),
            comment: vec!["the Go standard library and runtime, compiled into the binary".into()],
            properties: Vec::new(),
        });
        self.edge(&id, Rel::Contains, &stdlib);

        let main_id = main.map(|m| {
            let n = self.add_module(m, Kind::MainModule);
            self.edge(&id, Rel::Contains, &n);
            self.edge(&n, Rel::DependsOn, &stdlib);
            n
        });
        for dep in &info.deps {
            let n = self.add_module(dep, Kind::Module);
            self.edge(&id, Rel::Contains, &n);
            if let Some(m) = &main_id {
                self.edge(m, Rel::DependsOn, &n);
            }
        }
        for part in &b.c_parts {
            let p = self.add_c_part(part);
            self.edge(&id, rel_for(part), &p);
        }
        id
    }

    /// A module as it was built: a replacement by another module version is
    /// recorded as that version; a replacement by a local directory keeps the
    /// module path with no version (the code is whatever that directory held).
    fn add_module(&mut self, m: &Module, kind: Kind) -> String {
        let mut comment = Vec::new();
        let (path, version, sum) = match &m.replace {
            Some(r) if real_version(&r.version).is_some() => {
                comment.push(format!(
                    "replaces {} {} (go.mod replace directive): this is what was built",
                    m.path, m.version
                ));
                (r.path.clone(), r.version.clone(), r.sum.clone())
            }
            Some(r) => {
                comment.push(format!(
                    "{} {} was replaced by the local directory {}: the code built is that directory's, which has no version",
                    m.path, m.version, r.path
                ));
                (m.path.clone(), "(devel)".to_string(), r.sum.clone())
            }
            None => (m.path.clone(), m.version.clone(), m.sum.clone()),
        };
        if kind == Kind::MainModule {
            comment.push("the main module".into());
        }
        let mut properties = Vec::new();
        if !sum.is_empty() {
            comment.push(format!("{H1_MEANING}: {sum}"));
            properties.push(("slipway:go:sum".to_string(), sum.clone()));
        }
        let prefix = if kind == Kind::MainModule {
            "go-main"
        } else {
            "go-module"
        };
        let id = make_id(
            prefix,
            &format!("{path}-{version}"),
            &format!("{path}@{version}@{sum}"),
        );
        let rv = real_version(&version);
        self.add(Node {
            id: id.clone(),
            kind,
            name: path.clone(),
            version: Some(version.clone()),
            purl: Some(purl::golang(&path, rv)),
            sha256: None,
            file_name: None,
            supplier: None,
            homepage: None,
            download: rv.map(|v| {
                format!(
                    "https://proxy.golang.org/{}/@v/{}.zip",
                    proxy_escape(&path),
                    proxy_escape(v)
                )
            }),
            comment,
            properties,
        });
        id
    }

    fn add_c_part(&mut self, p: &CPart) -> String {
        let version = p.version.clone();
        // The evidence is part of the identity: two binaries needing "glibc
        // 2.28" for different reasons (symbol floors) keep their own reasons.
        let identity = format!(
            "{}@{}@{:?}@{}",
            p.name,
            version.as_deref().unwrap_or(""),
            p.linkage,
            p.evidence
        );
        let id = make_id(
            "c",
            &format!("{}-{}", p.name, version.as_deref().unwrap_or("unknown")),
            &identity,
        );
        let role = match p.kind {
            CPartKind::Libc => "C library",
            CPartKind::CompilerRuntime => "C compiler runtime",
            CPartKind::Allocator => "C allocator",
        };
        let place = match p.linkage {
            Linkage::Static => "linked into the binary",
            Linkage::Dynamic => "loaded from the target system at run time",
        };
        self.add(Node {
            id: id.clone(),
            kind: match p.kind {
                CPartKind::Libc | CPartKind::Allocator => Kind::CLibrary,
                CPartKind::CompilerRuntime => Kind::CRuntime,
            },
            name: p.name.clone(),
            version,
            purl: Some(p.purl()),
            sha256: None,
            file_name: None,
            supplier: p.supplier.clone(),
            homepage: Some(p.homepage.clone()),
            download: None,
            comment: vec![format!("{role}, {place}: {}", p.evidence)],
            properties: vec![
                ("slipway:c:role".into(), role.into()),
                (
                    "slipway:c:linkage".into(),
                    match p.linkage {
                        Linkage::Static => "static",
                        Linkage::Dynamic => "dynamic",
                    }
                    .into(),
                ),
            ],
        });
        id
    }
}

fn rel_for(p: &CPart) -> Rel {
    match p.linkage {
        Linkage::Static => Rel::Contains,
        Linkage::Dynamic => Rel::DependsOn,
    }
}
