//! Finding the `image:` values of Kubernetes workloads in YAML text, as byte
//! ranges of the source, so they can be replaced without re-serialising the
//! file: comments, key order, quoting, indentation and document separators
//! stay exactly as written.
//!
//! The YAML is read by an event parser that reports where each scalar sits;
//! each image's range is then checked against the text it covers (the
//! scalar's own rendering must be what is there), so a position the parser
//! got wrong can never cause an edit in the wrong place.

use std::ops::Range;

use saphyr_parser::{Event, Parser, ScalarStyle};
use serde::Serialize;

use crate::error::ScanError;

/// Deeper nesting than this is refused: no manifest needs it, and a tree that
/// deep would exhaust the stack when freed.
pub const MAX_DEPTH: usize = 256;

/// How an image value is written in the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Style {
    Plain,
    SingleQuoted,
    DoubleQuoted,
}

/// One image reference found in a workload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageSite {
    /// The reference as the YAML means it (quotes removed).
    pub value: String,
    pub style: Style,
    /// The bytes of the scalar in the source, quotes included.
    pub range: Range<usize>,
    /// 1-based line and column of the scalar.
    pub line: usize,
    pub column: usize,
    /// The workload's `kind` and `metadata.name` (if written).
    pub kind: String,
    pub name: Option<String>,
    /// Where in the document, e.g. `spec.template.spec.containers[1].image`.
    pub path: String,
}

#[derive(Debug)]
struct Scalar {
    value: String,
    style: ScalarStyle,
    /// Byte range the parser reports (may include an anchor or tag, and
    /// trailing blanks).
    span: Range<usize>,
    line: usize,
    column: usize,
}

#[derive(Debug)]
enum Node {
    Map(Vec<(Node, Node)>),
    Seq(Vec<Node>),
    Scalar(Scalar),
    Alias { line: usize, column: usize },
}

impl Node {
    fn get(&self, key: &str) -> impl Iterator<Item = &Node> {
        self.entries(key).map(|(_, v)| v)
    }

    /// The key node and value of each entry named `key`.
    fn entries(&self, key: &str) -> impl Iterator<Item = (&Scalar, &Node)> {
        let pairs: &[(Node, Node)] = match self {
            Node::Map(pairs) => pairs,
            _ => &[],
        };
        pairs.iter().filter_map(move |(k, v)| match k {
            Node::Scalar(s) if s.value == key => Some((s, v)),
            _ => None,
        })
    }

    fn scalar(&self, key: &str) -> Option<&str> {
        self.get(key).find_map(|n| match n {
            Node::Scalar(s) => Some(s.value.as_str()),
            _ => None,
        })
    }

    fn items(&self) -> &[Node] {
        match self {
            Node::Seq(items) => items,
            _ => &[],
        }
    }
}

/// Character offsets (what the parser reports) to byte offsets.
struct Offsets {
    /// Byte offset of each char, when the text is not all ASCII.
    bytes: Option<Vec<usize>>,
    len: usize,
}

impl Offsets {
    fn new(src: &str) -> Offsets {
        Offsets {
            bytes: (!src.is_ascii()).then(|| src.char_indices().map(|(i, _)| i).collect()),
            len: src.len(),
        }
    }

    fn byte(&self, char_index: usize) -> usize {
        match &self.bytes {
            None => char_index.min(self.len),
            Some(v) => v.get(char_index).copied().unwrap_or(self.len),
        }
    }
}

/// Parse every document of `src`; a syntax error names its line and column.
fn documents(src: &str) -> Result<Vec<Node>, ScanError> {
    let offsets = Offsets::new(src);
    let mut docs = Vec::new();
    // Open collections: a map collects key, value, key, value...
    let mut stack: Vec<(bool, Vec<Node>, usize, usize)> = Vec::new();
    let mut root: Option<Node> = None;
    for event in Parser::new_from_str(src) {
        let (event, span) = event.map_err(|e| ScanError::Syntax {
            line: e.marker().line(),
            column: e.marker().col() + 1,
            message: e.info().to_string(),
        })?;
        let (line, column) = (span.start.line(), span.start.col() + 1);
        let node = match event {
            Event::DocumentEnd => {
                if let Some(doc) = root.take() {
                    docs.push(doc);
                }
                continue;
            }
            Event::SequenceStart(..) | Event::MappingStart(..) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(ScanError::TooDeep { line, column });
                }
                stack.push((
                    matches!(event, Event::MappingStart(..)),
                    Vec::new(),
                    line,
                    column,
                ));
                continue;
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let Some((is_map, items, _, _)) = stack.pop() else {
                    continue;
                };
                if is_map {
                    let mut pairs = Vec::with_capacity(items.len() / 2);
                    let mut it = items.into_iter();
                    while let (Some(k), Some(v)) = (it.next(), it.next()) {
                        pairs.push((k, v));
                    }
                    Node::Map(pairs)
                } else {
                    Node::Seq(items)
                }
            }
            Event::Scalar(value, style, _, _) => Node::Scalar(Scalar {
                value: value.into_owned(),
                style,
                span: offsets.byte(span.start.index())..offsets.byte(span.end.index()),
                line,
                column,
            }),
            Event::Alias(_) => Node::Alias { line, column },
            _ => continue,
        };
        match stack.last_mut() {
            Some((_, items, _, _)) => items.push(node),
            None => root = Some(node),
        }
    }
    if let Some((_, _, line, column)) = stack.last() {
        return Err(ScanError::Syntax {
            line: *line,
            column: *column,
            message: "a collection that is never closed".into(),
        });
    }
    if let Some(doc) = root.take() {
        docs.push(doc);
    }
    Ok(docs)
}

/// Where the pod specs of each kind are, as steps from the document root:
/// a key, or `[]` for every item of a sequence.
fn pod_spec_paths(api_version: &str, kind: &str) -> &'static [&'static [&'static str]] {
    let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
    match (group, kind) {
        ("", "Pod") => &[&["spec"]],
        ("", "PodTemplate") => &[&["template", "spec"]],
        ("", "ReplicationController")
        | ("apps" | "extensions", "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet")
        | ("batch", "Job") => &[&["spec", "template", "spec"]],
        ("batch", "CronJob") => &[&["spec", "jobTemplate", "spec", "template", "spec"]],
        // A Rollout with `workloadRef` has no template: the Deployment it
        // names carries the pod spec, and is resolved as a Deployment.
        ("argoproj.io", "Rollout") => &[&["spec", "template", "spec"]],
        ("argoproj.io", "AnalysisTemplate" | "ClusterAnalysisTemplate") => &[&[
            "spec", "metrics", "[]", "provider", "job", "spec", "template", "spec",
        ]],
        ("argoproj.io", "AnalysisRun") => &[&[
            "spec", "metrics", "[]", "provider", "job", "spec", "template", "spec",
        ]],
        ("argoproj.io", "Experiment") => &[&["spec", "templates", "[]", "template", "spec"]],
        _ => &[],
    }
}

const CONTAINER_LISTS: [&str; 3] = ["initContainers", "containers", "ephemeralContainers"];

/// The image of every container of every workload in `src`, in source order.
/// Kinds slipway does not know are skipped; `List` documents are looked into.
pub fn find_images(src: &str) -> Result<Vec<ImageSite>, ScanError> {
    let mut sites = Vec::new();
    for doc in documents(src)? {
        workload(src, &doc, String::new(), 0, &mut sites)?;
    }
    sites.sort_by_key(|s| s.range.start);
    Ok(sites)
}

fn workload(
    src: &str,
    doc: &Node,
    prefix: String,
    depth: usize,
    sites: &mut Vec<ImageSite>,
) -> Result<(), ScanError> {
    let (Some(api_version), Some(kind)) = (doc.scalar("apiVersion"), doc.scalar("kind")) else {
        return Ok(());
    };
    if kind.ends_with("List") && depth < 4 {
        for items in doc.get("items") {
            for (i, item) in items.items().iter().enumerate() {
                workload(src, item, format!("{prefix}items[{i}]."), depth + 1, sites)?;
            }
        }
        return Ok(());
    }
    let name = doc
        .get("metadata")
        .find_map(|m| m.scalar("name"))
        .map(str::to_string);
    for path in pod_spec_paths(api_version, kind) {
        let mut found = Vec::new();
        walk(doc, path, prefix.clone(), &mut found);
        for (spec, at) in found {
            for list in CONTAINER_LISTS {
                for containers in spec.get(list) {
                    for (i, c) in containers.items().iter().enumerate() {
                        for (key, image) in c.entries("image") {
                            let path = format!("{at}{list}[{i}].image");
                            sites.push(site(src, key, image, kind, name.as_deref(), path)?);
                        }
                    }
                }
            }
        }
    }
    Ok(())
}

fn walk<'a>(node: &'a Node, steps: &[&str], at: String, out: &mut Vec<(&'a Node, String)>) {
    match steps.split_first() {
        None => out.push((node, at)),
        Some((&"[]", rest)) => {
            for (i, item) in node.items().iter().enumerate() {
                let at = format!("{}[{i}].", at.trim_end_matches('.'));
                walk(item, rest, at, out);
            }
        }
        Some((key, rest)) => {
            for child in node.get(key) {
                walk(child, rest, format!("{at}{key}."), out);
            }
        }
    }
}

/// The text a scalar of `style` holding `value` is written as, on one line.
pub fn render(style: Style, value: &str) -> String {
    match style {
        Style::Plain => value.to_string(),
        Style::SingleQuoted => format!("'{}'", value.replace('\'', "''")),
        Style::DoubleQuoted => {
            let mut s = String::with_capacity(value.len() + 2);
            s.push('"');
            for c in value.chars() {
                if c == '"' || c == '\\' {
                    s.push('\\');
                }
                s.push(c);
            }
            s.push('"');
            s
        }
    }
}

fn site(
    src: &str,
    key: &Scalar,
    node: &Node,
    kind: &str,
    name: Option<&str>,
    path: String,
) -> Result<ImageSite, ScanError> {
    // Problems are reported at the `image:` key: a value's own position can
    // be a line further down (block scalars) or elsewhere (aliases).
    let unrewritable = |_line: usize, _column: usize, why: &str| ScanError::Unrewritable {
        line: key.line,
        column: key.column,
        path: path.clone(),
        why: why.to_string(),
    };
    let s = match node {
        Node::Scalar(s) => s,
        Node::Alias { line, column } => {
            return Err(unrewritable(
                *line,
                *column,
                "it is an alias (*name); write the image out where it is used",
            ));
        }
        Node::Map(_) | Node::Seq(_) => {
            let (line, column) = first_position(node);
            return Err(unrewritable(
                line,
                column,
                "it is a mapping or a list, not a string",
            ));
        }
    };
    let style = match s.style {
        ScalarStyle::Plain => Style::Plain,
        ScalarStyle::SingleQuoted => Style::SingleQuoted,
        ScalarStyle::DoubleQuoted => Style::DoubleQuoted,
        _ => {
            return Err(unrewritable(
                s.line,
                s.column,
                "it is a block scalar (| or >); write the image on one line",
            ));
        }
    };
    if s.value.is_empty() {
        return Err(unrewritable(s.line, s.column, "it is empty"));
    }
    // The parser's range may start with an anchor or tag and run on past
    // the scalar; the scalar itself must be the exact rendering of its value,
    // right after those properties.
    let text = src
        .get(s.span.clone())
        .ok_or_else(|| unrewritable(s.line, s.column, "its position is not in the file"))?;
    let mut rest = text;
    while rest.starts_with(['&', '!']) {
        let end = rest.find([' ', '\t']).unwrap_or(rest.len());
        rest = rest[end..].trim_start_matches([' ', '\t']);
    }
    let rendered = render(style, &s.value);
    let after = rest.strip_prefix(rendered.as_str()).ok_or_else(|| {
        unrewritable(
            s.line,
            s.column,
            "it spans lines or uses escapes; write it on one line without escapes",
        )
    })?;
    // A plain scalar must end where the rendering ends.
    if style == Style::Plain
        && !after.is_empty()
        && !after.starts_with([' ', '\t', '\r', '\n', ',', ']', '}'])
    {
        return Err(unrewritable(
            s.line,
            s.column,
            "slipway cannot tell where its text ends",
        ));
    }
    let start = s.span.start + (text.len() - rest.len());
    let end = start + rendered.len();
    Ok(ImageSite {
        value: s.value.clone(),
        style,
        range: start..end,
        line: s.line,
        column: s.column,
        kind: kind.to_string(),
        name: name.map(str::to_string),
        path,
    })
}

fn first_position(node: &Node) -> (usize, usize) {
    let mut node = node;
    loop {
        node = match node {
            Node::Scalar(s) => return (s.line, s.column),
            Node::Alias { line, column } => return (*line, *column),
            Node::Map(pairs) => match pairs.first() {
                Some((k, _)) => k,
                None => return (0, 0),
            },
            Node::Seq(items) => match items.first() {
                Some(n) => n,
                None => return (0, 0),
            },
        }
    }
}

/// Replace each range with its text. Everything outside the ranges is copied
/// as it is; a range that overlaps an earlier one, or does not fall on
/// character boundaries inside `src`, is left out.
pub fn splice(src: &str, edits: &[(Range<usize>, String)]) -> String {
    let mut edits: Vec<&(Range<usize>, String)> = edits.iter().collect();
    edits.sort_by_key(|(r, _)| r.start);
    let mut out = String::with_capacity(src.len() + edits.len() * 72);
    let mut at = 0;
    for (range, text) in edits {
        // Ranges from find_images are always valid; others are skipped
        // rather than allowed to cut a character in half.
        if range.start < at
            || range.end < range.start
            || !src.is_char_boundary(range.start)
            || !src.is_char_boundary(range.end)
        {
            continue;
        }
        out.push_str(&src[at..range.start]);
        out.push_str(text);
        at = range.end;
    }
    out.push_str(&src[at..]);
    out
}

/// The replacement for `site` holding `value`, in the site's own quoting (a
/// plain scalar that would not read back as itself is double-quoted).
pub fn replacement(site: &ImageSite, value: &str) -> String {
    let plain_safe = !value.is_empty()
        && !value.starts_with(|c: char| "-?:,[]{}#&*!|>'\"%@`".contains(c) || c.is_whitespace())
        && !value.contains(": ")
        && !value.contains([',', '[', ']', '{', '}'])
        && !value.contains(" #")
        && !value.ends_with([':', ' '])
        && value.chars().all(|c| !c.is_control());
    match site.style {
        Style::Plain if !plain_safe => render(Style::DoubleQuoted, value),
        style => render(style, value),
    }
}

/// Apply `f` to each image; `None` leaves it alone.
pub fn rewrite(
    src: &str,
    sites: &[ImageSite],
    mut f: impl FnMut(&ImageSite) -> Option<String>,
) -> String {
    let edits: Vec<(Range<usize>, String)> = sites
        .iter()
        .filter_map(|s| {
            f(s).filter(|v| *v != s.value)
                .map(|v| (s.range.clone(), replacement(s, &v)))
        })
        .collect();
    splice(src, &edits)
}
