//! CycloneDX 1.6 JSON.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::graph::{Graph, Kind, Node};
use crate::model::SbomInput;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Bom {
    #[serde(rename = "$schema")]
    schema: &'static str,
    bom_format: &'static str,
    spec_version: &'static str,
    serial_number: String,
    version: u32,
    metadata: Metadata,
    components: Vec<Component>,
    dependencies: Vec<Dependency>,
}

#[derive(Serialize)]
struct Metadata {
    timestamp: String,
    tools: Tools,
    component: Component,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    properties: Vec<Property>,
}

#[derive(Serialize)]
struct Tools {
    components: Vec<ToolComponent>,
}

#[derive(Serialize)]
struct ToolComponent {
    #[serde(rename = "type")]
    kind: &'static str,
    name: String,
    version: String,
}

#[derive(Serialize)]
struct Component {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(rename = "bom-ref")]
    bom_ref: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    supplier: Option<Supplier>,
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    hashes: Vec<Hash>,
    #[serde(skip_serializing_if = "Option::is_none")]
    purl: Option<String>,
    #[serde(rename = "externalReferences", skip_serializing_if = "Vec::is_empty")]
    external_references: Vec<ExternalReference>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    properties: Vec<Property>,
}

#[derive(Serialize)]
struct Supplier {
    name: String,
}

#[derive(Serialize)]
struct Hash {
    alg: &'static str,
    content: String,
}

#[derive(Serialize)]
struct ExternalReference {
    #[serde(rename = "type")]
    kind: &'static str,
    url: String,
}

#[derive(Serialize)]
struct Property {
    name: String,
    value: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Dependency {
    #[serde(rename = "ref")]
    reference: String,
    depends_on: Vec<String>,
}

fn component(n: &Node) -> Component {
    let mut external = Vec::new();
    if let Some(h) = &n.homepage {
        external.push(ExternalReference {
            kind: "website",
            url: h.clone(),
        });
    }
    if let Some(d) = &n.download {
        external.push(ExternalReference {
            kind: "distribution",
            url: d.clone(),
        });
    }
    Component {
        kind: match n.kind {
            Kind::Image => "container",
            Kind::Directory | Kind::Binary | Kind::Init => "application",
            Kind::MainModule | Kind::Module | Kind::Stdlib | Kind::CLibrary | Kind::CRuntime => {
                "library"
            }
        },
        bom_ref: n.id.clone(),
        supplier: n.supplier.as_ref().map(|s| Supplier {
            name: s
                .strip_prefix("Organization: ")
                .or_else(|| s.strip_prefix("Person: "))
                .unwrap_or(s)
                .to_string(),
        }),
        name: n.name.clone(),
        version: n.version.clone(),
        description: (!n.comment.is_empty()).then(|| n.comment.join("; ")),
        hashes: n
            .sha256
            .iter()
            .map(|h| Hash {
                alg: "SHA-256",
                content: h.clone(),
            })
            .collect(),
        purl: n.purl.clone(),
        external_references: external,
        properties: n
            .properties
            .iter()
            .map(|(k, v)| Property {
                name: k.clone(),
                value: v.clone(),
            })
            .collect(),
    }
}

/// Render the input as a CycloneDX 1.6 JSON document (pretty-printed, with a
/// final newline).
pub fn render(input: &SbomInput) -> Vec<u8> {
    let g = Graph::build(input);
    let mut depends: BTreeMap<&str, Vec<String>> =
        g.nodes.keys().map(|k| (k.as_str(), Vec::new())).collect();
    for (from, _, to) in &g.edges {
        if let Some(list) = depends.get_mut(from.as_str())
            && !list.contains(to)
        {
            list.push(to.clone());
        }
    }
    let subject = g
        .nodes
        .get(&g.subject)
        .map(component)
        .unwrap_or_else(|| Component {
            kind: "application",
            bom_ref: "subject".into(),
            supplier: None,
            name: input.subject.name().to_string(),
            version: None,
            description: None,
            hashes: Vec::new(),
            purl: None,
            external_references: Vec::new(),
            properties: Vec::new(),
        });
    let bom = Bom {
        schema: "http://cyclonedx.org/schema/bom-1.6.schema.json",
        bom_format: "CycloneDX",
        spec_version: "1.6",
        serial_number: format!("urn:uuid:{}", crate::document_uuid(input, "cyclonedx")),
        version: 1,
        metadata: Metadata {
            timestamp: crate::rfc3339(input.created),
            tools: Tools {
                components: vec![ToolComponent {
                    kind: "application",
                    name: input.tool_name.clone(),
                    version: input.tool_version.clone(),
                }],
            },
            component: subject,
            properties: g
                .notes
                .iter()
                .map(|n| Property {
                    name: "slipway:note".into(),
                    value: n.clone(),
                })
                .collect(),
        },
        components: g
            .nodes
            .values()
            .filter(|n| n.id != g.subject)
            .map(component)
            .collect(),
        dependencies: depends
            .into_iter()
            .map(|(k, v)| Dependency {
                reference: k.to_string(),
                depends_on: v,
            })
            .collect(),
    };
    crate::to_json(&bom)
}
