//! SPDX 2.3 JSON.

use serde::Serialize;

use crate::graph::{Graph, Kind, Rel};
use crate::model::SbomInput;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Document {
    #[serde(rename = "SPDXID")]
    spdx_id: &'static str,
    spdx_version: &'static str,
    data_license: &'static str,
    name: String,
    document_namespace: String,
    creation_info: CreationInfo,
    #[serde(skip_serializing_if = "Option::is_none")]
    comment: Option<String>,
    packages: Vec<Package>,
    relationships: Vec<Relationship>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CreationInfo {
    created: String,
    creators: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Package {
    #[serde(rename = "SPDXID")]
    spdx_id: String,
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    version_info: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    package_file_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    supplier: Option<String>,
    download_location: String,
    files_analyzed: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    checksums: Vec<Checksum>,
    #[serde(skip_serializing_if = "Option::is_none")]
    homepage: Option<String>,
    license_concluded: &'static str,
    license_declared: &'static str,
    copyright_text: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    comment: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    external_refs: Vec<ExternalRef>,
    primary_package_purpose: &'static str,
}

#[derive(Serialize)]
struct Checksum {
    algorithm: &'static str,
    #[serde(rename = "checksumValue")]
    value: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ExternalRef {
    reference_category: &'static str,
    reference_type: &'static str,
    reference_locator: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Relationship {
    spdx_element_id: String,
    relationship_type: &'static str,
    related_spdx_element: String,
}

fn spdx_ref(id: &str) -> String {
    format!("SPDXRef-{id}")
}

/// Render the input as an SPDX 2.3 JSON document (pretty-printed, with a
/// final newline).
pub fn render(input: &SbomInput) -> Vec<u8> {
    let g = Graph::build(input);
    let uuid = crate::document_uuid(input, "spdx");
    let safe_name: String = input
        .subject
        .name()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || ".-_".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    let packages = g
        .nodes
        .values()
        .map(|n| {
            let mut comment = n.comment.clone();
            for (k, v) in &n.properties {
                if k != "slipway:go:sum" && !k.starts_with("slipway:c:") {
                    comment.push(format!("{k}={v}"));
                }
            }
            Package {
                spdx_id: spdx_ref(&n.id),
                name: n.name.clone(),
                version_info: n.version.clone(),
                package_file_name: n.file_name.clone(),
                supplier: n.supplier.clone(),
                download_location: n.download.clone().unwrap_or_else(|| "NOASSERTION".into()),
                files_analyzed: false,
                checksums: n
                    .sha256
                    .iter()
                    .map(|h| Checksum {
                        algorithm: "SHA256",
                        value: h.clone(),
                    })
                    .collect(),
                homepage: n.homepage.clone(),
                license_concluded: "NOASSERTION",
                license_declared: "NOASSERTION",
                copyright_text: "NOASSERTION",
                comment: (!comment.is_empty()).then(|| comment.join("; ")),
                external_refs: n
                    .purl
                    .iter()
                    .map(|p| ExternalRef {
                        reference_category: "PACKAGE-MANAGER",
                        reference_type: "purl",
                        reference_locator: p.clone(),
                    })
                    .collect(),
                primary_package_purpose: match n.kind {
                    Kind::Image => "CONTAINER",
                    Kind::Directory => "ARCHIVE",
                    Kind::Binary | Kind::Init => "APPLICATION",
                    Kind::MainModule
                    | Kind::Module
                    | Kind::Stdlib
                    | Kind::CLibrary
                    | Kind::CRuntime => "LIBRARY",
                },
            }
        })
        .collect();
    let mut relationships = vec![Relationship {
        spdx_element_id: "SPDXRef-DOCUMENT".into(),
        relationship_type: "DESCRIBES",
        related_spdx_element: spdx_ref(&g.subject),
    }];
    relationships.extend(g.edges.iter().map(|(from, rel, to)| Relationship {
        spdx_element_id: spdx_ref(from),
        relationship_type: match rel {
            Rel::Contains => "CONTAINS",
            Rel::DependsOn => "DEPENDS_ON",
        },
        related_spdx_element: spdx_ref(to),
    }));
    let doc = Document {
        spdx_id: "SPDXRef-DOCUMENT",
        spdx_version: "SPDX-2.3",
        data_license: "CC0-1.0",
        name: input.subject.name().to_string(),
        document_namespace: format!("{}/{safe_name}-{uuid}", crate::NAMESPACE_BASE),
        creation_info: CreationInfo {
            created: crate::rfc3339(input.created),
            creators: vec![format!("Tool: {}-{}", input.tool_name, input.tool_version)],
        },
        comment: (!g.notes.is_empty())
            .then(|| g.notes.iter().cloned().collect::<Vec<_>>().join("; ")),
        packages,
        relationships,
    };
    crate::to_json(&doc)
}
