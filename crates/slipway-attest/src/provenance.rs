//! SLSA provenance v1 predicates for slipway builds, from a plain input
//! struct. Deterministic: times come from SOURCE_DATE_EPOCH (passed in), maps
//! are sorted, nothing reads the clock or the environment.

use serde::Serialize;
use serde_json::json;

use crate::dsse::{DsseError, PREDICATE_SLSA_PROVENANCE_V1, Statement, Subject};

/// slipway's home, from the workspace manifest; builder and build-type URIs
/// hang off it.
pub const SLIPWAY_URI: &str = env!("CARGO_PKG_REPOSITORY");

/// The buildType of a slipway image build.
pub fn build_type() -> String {
    format!("{SLIPWAY_URI}/buildtypes/go-image/v1")
}

/// The builder id of a given slipway version: `<repository>@v<version>`.
pub fn builder_id(slipway_version: &str) -> String {
    format!("{SLIPWAY_URI}@v{slipway_version}")
}

/// The source checkout, when it is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitSource {
    /// e.g. `git+https://example.com/svc@refs/tags/v1.2.3`.
    pub uri: String,
    /// 40 hex digits.
    pub commit: String,
}

/// A tool used by the build (Go, zig).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tool {
    pub version: String,
    /// sha256 of the tool's binary, when measured.
    pub sha256: Option<String>,
}

/// What a slipway build was asked to do and what it used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvenanceInput {
    pub slipway_version: String,
    /// The main packages built, e.g. `./cmd/server`: the first is the one
    /// the image starts; `[image] packages` adds the others.
    pub packages: Vec<String>,
    pub platforms: Vec<String>,
    /// `none`, `musl` or `glibc:X.Y`.
    pub libc: String,
    /// Build flags that change the output (tags, ldflags, declared env), as given.
    pub flags: Vec<String>,
    pub source: Option<GitSource>,
    pub go: Tool,
    /// Only when cgo used zig.
    pub zig: Option<Tool>,
    /// SOURCE_DATE_EPOCH: both startedOn and finishedOn.
    pub source_date_epoch: i64,
}

#[derive(Serialize)]
struct Resource {
    uri: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'static str>,
    #[serde(skip_serializing_if = "serde_json::Map::is_empty")]
    digest: serde_json::Map<String, serde_json::Value>,
}

fn tool(name: &'static str, uri: String, t: &Tool) -> Resource {
    let mut digest = serde_json::Map::new();
    if let Some(h) = &t.sha256 {
        digest.insert("sha256".into(), h.clone().into());
    }
    Resource {
        uri,
        name: Some(name),
        digest,
    }
}

/// The predicate JSON (compact, deterministic).
pub fn predicate(input: &ProvenanceInput) -> Vec<u8> {
    let mut deps = Vec::new();
    if let Some(src) = &input.source {
        let mut digest = serde_json::Map::new();
        digest.insert("gitCommit".into(), src.commit.clone().into());
        deps.push(Resource {
            uri: src.uri.clone(),
            name: None,
            digest,
        });
    }
    let go_version = input.go.version.trim_start_matches("go");
    deps.push(tool(
        "go",
        format!("pkg:golang/toolchain@v{go_version}"),
        &input.go,
    ));
    if let Some(zig) = &input.zig {
        deps.push(tool(
            "zig",
            format!("https://ziglang.org/download/{}/", zig.version),
            zig,
        ));
    }
    let time = slipway_oci::spec::rfc3339(input.source_date_epoch);
    let value = json!({
        "buildDefinition": {
            "buildType": build_type(),
            "externalParameters": {
                "package": input.packages.first(),
                "packages": input.packages,
                "platforms": input.platforms,
                "libc": input.libc,
                "flags": input.flags,
            },
            "internalParameters": {},
            "resolvedDependencies": deps,
        },
        "runDetails": {
            "builder": { "id": builder_id(&input.slipway_version) },
            "metadata": { "startedOn": time, "finishedOn": time },
        },
    });
    serde_json::to_vec(&value).expect("JSON values serialize")
}

/// A v1 statement about `subjects` carrying the provenance predicate.
pub fn statement(subjects: Vec<Subject>, input: &ProvenanceInput) -> Result<Statement, DsseError> {
    Statement::new(subjects, PREDICATE_SLSA_PROVENANCE_V1, &predicate(input))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> ProvenanceInput {
        ProvenanceInput {
            slipway_version: "0.1.0".into(),
            packages: vec!["./cmd/server".into(), "./cmd/ctl".into()],
            platforms: vec!["linux/arm64".into(), "linux/arm/v7".into()],
            libc: "musl".into(),
            flags: vec!["-ldflags=-s".into()],
            source: Some(GitSource {
                uri: "git+https://example.com/svc@refs/tags/v1.2.3".into(),
                commit: "a".repeat(40),
            }),
            go: Tool {
                version: "go1.26.8".into(),
                sha256: None,
            },
            zig: Some(Tool {
                version: "0.14.1".into(),
                sha256: Some("b".repeat(64)),
            }),
            source_date_epoch: 1_700_000_000,
        }
    }

    #[test]
    fn predicate_has_the_required_fields_and_is_deterministic() {
        let p = predicate(&input());
        assert_eq!(p, predicate(&input()));
        let v: serde_json::Value = serde_json::from_slice(&p).unwrap();
        assert_eq!(v["buildDefinition"]["buildType"], build_type());
        assert_eq!(
            v["runDetails"]["builder"]["id"],
            format!("{SLIPWAY_URI}@v0.1.0")
        );
        let ext = &v["buildDefinition"]["externalParameters"];
        assert_eq!(ext["package"], "./cmd/server");
        assert_eq!(ext["packages"][1], "./cmd/ctl");
        assert_eq!(ext["libc"], "musl");
        assert_eq!(ext["platforms"][1], "linux/arm/v7");
        let deps = v["buildDefinition"]["resolvedDependencies"]
            .as_array()
            .unwrap();
        assert_eq!(deps.len(), 3);
        assert_eq!(deps[0]["digest"]["gitCommit"], "a".repeat(40));
        assert_eq!(deps[1]["uri"], "pkg:golang/toolchain@v1.26.8");
        assert_eq!(deps[2]["name"], "zig");
        assert_eq!(
            v["runDetails"]["metadata"]["startedOn"],
            "2023-11-14T22:13:20Z"
        );
        let mut no_zig = input();
        no_zig.zig = None;
        no_zig.source = None;
        let v: serde_json::Value = serde_json::from_slice(&predicate(&no_zig)).unwrap();
        assert_eq!(
            v["buildDefinition"]["resolvedDependencies"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
    }
}
