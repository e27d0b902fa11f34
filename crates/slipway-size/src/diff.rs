//! `slipway size --diff OLD NEW`: every row of two reports side by side,
//! the changed ones sorted by how much they changed.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::{BinaryReport, Report};

/// One row that differs between the two reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DiffRow {
    /// `total`, `package net/http`, `section .text`, `layer <created_by>`, ...,
    /// prefixed with the binary or platform when the report has several.
    pub name: String,
    pub old: u64,
    pub new: u64,
    pub delta: i64,
}

/// The rows that changed, largest change first (growth before shrinkage
/// of the same amount), then by name.
pub fn diff(old: &Report, new: &Report) -> Vec<DiffRow> {
    let (a, b) = (entries(old), entries(new));
    let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
    keys.sort();
    keys.dedup();
    let mut rows: Vec<DiffRow> = keys
        .into_iter()
        .filter_map(|k| {
            let (o, n) = (
                a.get(k).copied().unwrap_or(0),
                b.get(k).copied().unwrap_or(0),
            );
            (o != n).then(|| DiffRow {
                name: k.clone(),
                old: o,
                new: n,
                delta: (i128::from(n) - i128::from(o)).clamp(i64::MIN.into(), i64::MAX.into())
                    as i64,
            })
        })
        .collect();
    rows.sort_by(|x, y| {
        y.delta
            .unsigned_abs()
            .cmp(&x.delta.unsigned_abs())
            .then(y.delta.cmp(&x.delta))
            .then_with(|| x.name.cmp(&y.name))
    });
    rows
}

fn binary_entries(prefix: &str, r: &BinaryReport, out: &mut BTreeMap<String, u64>) {
    let mut add = |k: String, v: u64| *out.entry(format!("{prefix}{k}")).or_default() += v;
    add("total".into(), r.file_size);
    for row in &r.breakdown {
        add(format!("[{}]", row.name), row.size);
    }
    for row in &r.packages {
        add(format!("package {}", row.name), row.size);
    }
    for row in &r.c_parts {
        add(format!("C {}", row.name), row.size);
    }
    for row in &r.go_runtime {
        add(format!("runtime {}", row.name), row.size);
    }
    for s in &r.sections {
        if !s.name.is_empty() {
            add(format!("section {}", s.name), s.file_size);
        }
    }
}

/// A flat name → bytes view of a report. Binaries in a directory are keyed
/// by their path relative to it; image layers by what made them (digests
/// change with any content, names do not).
fn entries(r: &Report) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    match r {
        Report::Binary(b) => binary_entries("", b, &mut out),
        Report::Directory { binaries, .. } => {
            for b in binaries {
                binary_entries(&format!("{}: ", b.path), b, &mut out);
            }
        }
        Report::Image(image) => {
            for p in &image.platforms {
                let pre = format!("{}: ", p.platform);
                *out.entry(format!("{pre}compressed total")).or_default() += p.compressed_size;
                *out.entry(format!("{pre}config")).or_default() += p.config_size;
                *out.entry(format!("{pre}manifest")).or_default() += p.manifest_size;
                for (i, l) in p.layers.iter().enumerate() {
                    let name = if l.created_by.is_empty() {
                        format!("layer {i}")
                    } else {
                        format!("layer {}", l.created_by)
                    };
                    *out.entry(format!("{pre}{name}")).or_default() += l.size;
                }
                for b in &p.binaries {
                    binary_entries(&format!("{pre}{}: ", b.path), b, &mut out);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ImageReport, LayerRow, PlatformReport};

    fn image(app_layer: u64, base_layer: u64) -> Report {
        let layer = |size, by: &str| LayerRow {
            digest: format!("sha256:{size}"),
            media_type: "application/vnd.oci.image.layer.v1.tar+zstd".into(),
            size,
            created_by: by.into(),
        };
        Report::Image(ImageReport {
            image: "oci:x".into(),
            platforms: vec![PlatformReport::new(
                "linux/arm64".into(),
                "sha256:m".into(),
                700,
                800,
                vec![
                    layer(base_layer, "base files"),
                    layer(app_layer, "/app/hello"),
                ],
                vec![],
            )],
        })
    }

    #[test]
    fn image_layers_by_what_made_them_largest_change_first() {
        let rows = diff(&image(1000, 300), &image(1500, 200));
        let got: Vec<(&str, i64)> = rows.iter().map(|r| (r.name.as_str(), r.delta)).collect();
        assert_eq!(
            got,
            vec![
                ("linux/arm64: layer /app/hello", 500),
                ("linux/arm64: compressed total", 400),
                ("linux/arm64: layer base files", -100),
            ]
        );
        assert!(diff(&image(1000, 300), &image(1000, 300)).is_empty());
    }
}
