//! The input of every document: what was shipped and what it is made of,
//! independent of where the bytes came from (a file, a build directory, an
//! image layer).

use slipway_elf::GoBuildInfo;

/// Everything a document describes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SbomInput {
    pub subject: Subject,
    /// The Go programs, in any order (documents sort them).
    pub binaries: Vec<GoBinary>,
    /// The PID-1 init of an image, when it has one.
    pub init: Option<InitProgram>,
    /// Seconds since 1970 for the document's creation time: the caller passes
    /// `SOURCE_DATE_EPOCH` (see [`crate::source_date_epoch`]), never the clock.
    pub created: u64,
    /// Who wrote the document, e.g. `slipway` and `0.1.0`.
    pub tool_name: String,
    pub tool_version: String,
}

/// What the document is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// One platform's image (or an index and the platform picked from it).
    Image {
        /// `registry/repo[:tag]` as the user knows it.
        name: String,
        /// The index digest (`sha256:…`) when the image came from an index.
        index_digest: Option<String>,
        /// The platform manifest's digest (`sha256:…`).
        manifest_digest: String,
        /// `os/arch[/variant]`.
        platform: String,
    },
    /// A single binary: the document's subject is the binary itself.
    Binary { file_name: String, sha256: String },
    /// A directory of binaries (a `slipway build` output), identified by the
    /// SHA-256 of its listing (see [`Subject::directory`]).
    Directory { name: String, sha256: String },
}

impl Subject {
    /// The digest the document's identity is derived from.
    pub fn digest(&self) -> String {
        match self {
            Subject::Image {
                index_digest,
                manifest_digest,
                ..
            } => index_digest
                .clone()
                .unwrap_or_else(|| manifest_digest.clone()),
            Subject::Binary { sha256, .. } | Subject::Directory { sha256, .. } => {
                format!("sha256:{sha256}")
            }
        }
    }

    /// The name shown for the subject.
    pub fn name(&self) -> &str {
        match self {
            Subject::Image { name, .. } => name,
            Subject::Binary { file_name, .. } => file_name,
            Subject::Directory { name, .. } => name,
        }
    }

    /// A directory subject whose digest is the SHA-256 of a `sha256sum`-style
    /// listing (`<hex>  <path>\n`, sorted by path) of the binaries in it, so
    /// the same binaries at the same paths give the same identity.
    pub fn directory(name: &str, binaries: &[GoBinary]) -> Subject {
        use sha2::Digest;
        let mut lines: Vec<String> = binaries
            .iter()
            .map(|b| format!("{}  {}\n", b.sha256, b.path))
            .collect();
        lines.sort();
        let digest = sha2::Sha256::digest(lines.concat().as_bytes());
        Subject::Directory {
            name: name.to_string(),
            sha256: crate::hex(&digest),
        }
    }
}

/// A Go program and what went into it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoBinary {
    /// Where it is: the path inside the image (`/app/hello`) or relative to
    /// the directory that was described (`linux_arm64/hello`).
    pub path: String,
    /// Lower-case hex SHA-256 of the file as shipped.
    pub sha256: String,
    pub build_info: GoBuildInfo,
    /// The C libraries and runtime of a cgo build; empty for pure Go.
    pub c_parts: Vec<CPart>,
    /// What could not be identified, said in the document and to the user.
    pub notes: Vec<String>,
}

impl GoBinary {
    /// `CGO_ENABLED=1` in the build settings.
    pub fn is_cgo(&self) -> bool {
        self.build_info.settings.get("CGO_ENABLED") == Some("1")
    }

    /// `os/arch[/variant]` from the build settings, when they say.
    pub fn platform(&self) -> Option<String> {
        let s = &self.build_info.settings;
        let os = s.get("GOOS")?;
        let arch = s.get("GOARCH")?;
        let variant = match arch {
            "arm" => s
                .get("GOARM")
                .map(|v| format!("v{}", v.split(',').next().unwrap_or(v))),
            "amd64" => s.get("GOAMD64").filter(|v| *v != "v1").map(str::to_string),
            "arm64" => s
                .get("GOARM64")
                .filter(|v| *v != "v8.0")
                .map(str::to_string),
            "mips" | "mipsle" => s
                .get("GOMIPS")
                .filter(|v| *v != "hardfloat")
                .map(str::to_string),
            "mips64" | "mips64le" => s
                .get("GOMIPS64")
                .filter(|v| *v != "hardfloat")
                .map(str::to_string),
            "riscv64" => s
                .get("GORISCV64")
                .filter(|v| *v != "rva20u64")
                .map(str::to_string),
            _ => None,
        };
        Some(match variant {
            Some(v) => format!("{os}/{arch}/{v}"),
            None => format!("{os}/{arch}"),
        })
    }
}

/// slipway's PID-1 init, a small static C program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitProgram {
    /// `/sbin/slipway-init`.
    pub path: String,
    pub sha256: String,
    /// The version of the source it was built from (slipway's version: the
    /// source is embedded in slipway).
    pub version: String,
    pub c_parts: Vec<CPart>,
}

/// What role a C part plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CPartKind {
    Libc,
    CompilerRuntime,
    /// A malloc linked in to replace the C library's (`--allocator`).
    Allocator,
}

/// Whether a C part is inside the binary or must be on the target system.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Linkage {
    /// Linked into the binary: it ships with it.
    Static,
    /// Loaded at run time from the target system (e.g. glibc): a requirement,
    /// not a part of the file.
    Dynamic,
}

/// One C library or compiler runtime in (or needed by) a binary.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CPart {
    pub kind: CPartKind,
    /// `musl`, `glibc`, `zig-compiler-rt` or `libgcc`.
    pub name: String,
    /// `None` when it cannot be known (said in `evidence`). For a dynamic
    /// glibc this is the floor: the oldest glibc the binary runs on.
    pub version: Option<String>,
    /// SPDX supplier form, `Organization: …`.
    pub supplier: Option<String>,
    pub homepage: String,
    pub linkage: Linkage,
    /// How this part was identified (detected in the ELF, or passed in).
    pub evidence: String,
}

impl CPart {
    pub fn musl(version: Option<String>, linkage: Linkage, evidence: impl Into<String>) -> CPart {
        CPart {
            kind: CPartKind::Libc,
            name: "musl".into(),
            version,
            supplier: Some("Organization: musl libc".into()),
            homepage: "https://musl.libc.org/".into(),
            linkage,
            evidence: evidence.into(),
        }
    }

    pub fn glibc(version: Option<String>, linkage: Linkage, evidence: impl Into<String>) -> CPart {
        CPart {
            kind: CPartKind::Libc,
            name: "glibc".into(),
            version,
            supplier: Some("Organization: GNU Project".into()),
            homepage: "https://www.gnu.org/software/libc/".into(),
            linkage,
            evidence: evidence.into(),
        }
    }

    /// zig's compiler_rt (written in Zig, versioned with zig), which zig
    /// links into every executable it links.
    pub fn zig_compiler_rt(zig_version: Option<String>, evidence: impl Into<String>) -> CPart {
        CPart {
            kind: CPartKind::CompilerRuntime,
            name: "zig-compiler-rt".into(),
            version: zig_version,
            supplier: Some("Organization: Zig Software Foundation".into()),
            homepage: "https://ziglang.org/".into(),
            linkage: Linkage::Static,
            evidence: evidence.into(),
        }
    }

    /// mimalloc, which slipway compiles from its vendored sources and links
    /// statically in place of the C library's malloc.
    pub fn mimalloc(version: String, evidence: impl Into<String>) -> CPart {
        CPart {
            kind: CPartKind::Allocator,
            name: "mimalloc".into(),
            version: Some(version),
            supplier: Some("Organization: Microsoft Corporation".into()),
            homepage: "https://github.com/microsoft/mimalloc".into(),
            linkage: Linkage::Static,
            evidence: evidence.into(),
        }
    }

    /// GCC's runtime library (`libgcc.a`, or `libgcc_s.so.1` when dynamic).
    pub fn libgcc(
        gcc_version: Option<String>,
        linkage: Linkage,
        evidence: impl Into<String>,
    ) -> CPart {
        CPart {
            kind: CPartKind::CompilerRuntime,
            name: "libgcc".into(),
            version: gcc_version,
            supplier: Some("Organization: GNU Project".into()),
            homepage: "https://gcc.gnu.org/".into(),
            linkage,
            evidence: evidence.into(),
        }
    }

    /// `pkg:generic/<name>[@<version>]`: these have no package registry, and
    /// a CPE would claim a vendor/product mapping we cannot check.
    pub fn purl(&self) -> String {
        crate::purl::generic(&self.name, self.version.as_deref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use slipway_elf::Settings;

    fn with(settings: &[(&str, &str)]) -> GoBinary {
        GoBinary {
            path: "p".into(),
            sha256: String::new(),
            build_info: GoBuildInfo {
                version: "go1.26.0".into(),
                path: "x".into(),
                main: None,
                deps: Vec::new(),
                settings: Settings(
                    settings
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                ),
            },
            c_parts: Vec::new(),
            notes: Vec::new(),
        }
    }

    #[test]
    fn platforms_in_docker_spelling() {
        let p = |s: &[(&str, &str)]| with(s).platform();
        assert_eq!(
            p(&[("GOOS", "linux"), ("GOARCH", "arm"), ("GOARM", "7")]).as_deref(),
            Some("linux/arm/v7")
        );
        assert_eq!(
            p(&[("GOOS", "linux"), ("GOARCH", "amd64"), ("GOAMD64", "v1")]).as_deref(),
            Some("linux/amd64")
        );
        assert_eq!(
            p(&[
                ("GOOS", "linux"),
                ("GOARCH", "mipsle"),
                ("GOMIPS", "softfloat")
            ])
            .as_deref(),
            Some("linux/mipsle/softfloat")
        );
        assert_eq!(p(&[("GOOS", "linux")]), None);
        assert!(with(&[("CGO_ENABLED", "1")]).is_cgo());
        assert!(!with(&[("CGO_ENABLED", "0")]).is_cgo());
    }

    #[test]
    fn directory_identity_ignores_order() {
        let mut a = with(&[]);
        a.sha256 = "aa".into();
        let mut b = with(&[]);
        b.path = "q".into();
        let one = Subject::directory("dist", &[a.clone(), b.clone()]);
        assert_eq!(one, Subject::directory("dist", &[b, a]));
        assert!(one.digest().starts_with("sha256:"));
    }
}
