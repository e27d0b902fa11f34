//! The human-readable tables `slipway size` prints.

use std::fmt::Write;

use crate::{BinaryReport, DiffRow, Report, Row};

/// `12.3 MiB`, `512 B`: binary units, one decimal.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}

fn percent(part: u64, whole: u64) -> String {
    if whole == 0 {
        return "-".into();
    }
    format!("{:.1}%", part as f64 * 100.0 / whole as f64)
}

fn table(out: &mut String, title: &str, rows: &[Row], whole: u64, limit: usize) {
    if rows.is_empty() {
        return;
    }
    let _ = writeln!(out, "  {title}");
    for r in rows.iter().take(limit) {
        let _ = writeln!(
            out,
            "    {:>12}  {:>10}  {:>6}  {}",
            r.size,
            human_bytes(r.size),
            percent(r.size, whole),
            r.name
        );
    }
    if rows.len() > limit {
        let rest: u64 = rows[limit..].iter().map(|r| r.size).sum();
        let _ = writeln!(
            out,
            "    {:>12}  {:>10}  {:>6}  ({} more)",
            rest,
            human_bytes(rest),
            percent(rest, whole),
            rows.len() - limit
        );
    }
}

fn binary(out: &mut String, b: &BinaryReport, limit: usize) {
    let _ = writeln!(
        out,
        "{}: {} bytes ({}), names from {}",
        b.path,
        b.file_size,
        human_bytes(b.file_size),
        b.symbols_from
    );
    table(
        out,
        "where the bytes go (adds up to the file size)",
        &b.breakdown,
        b.file_size,
        usize::MAX,
    );
    table(out, "Go packages", &b.packages, b.file_size, limit);
    table(
        out,
        "Go runtime metadata",
        &b.go_runtime,
        b.file_size,
        limit,
    );
    table(out, "C parts", &b.c_parts, b.file_size, limit);
    table(
        out,
        "unattributed, by section",
        &b.unattributed,
        b.file_size,
        limit,
    );
    let _ = writeln!(out, "  sections");
    let _ = writeln!(
        out,
        "    {:>3}  {:<22} {:<14} {:>18} {:>10} {:>10}  counted as",
        "nr", "name", "type", "address", "offset", "size"
    );
    for s in &b.sections {
        let _ = writeln!(
            out,
            "    {:>3}  {:<22} {:<14} {:>#18x} {:>#10x} {:>10}  {}",
            s.index,
            s.name,
            s.kind,
            s.addr,
            s.offset,
            s.size,
            if s.file_size == 0 {
                "(no file bytes)"
            } else {
                s.counted_as
            }
        );
    }
    for n in &b.notes {
        let _ = writeln!(out, "  note: {n}");
    }
}

/// The whole report as text; `limit` rows per table (the rest summed).
pub fn human(report: &Report, limit: usize) -> String {
    let mut out = String::new();
    match report {
        Report::Binary(b) => binary(&mut out, b, limit),
        Report::Directory { dir, binaries } => {
            let _ = writeln!(out, "{dir}: {} binaries\n", binaries.len());
            for b in binaries {
                binary(&mut out, b, limit);
                out.push('\n');
            }
        }
        Report::Image(image) => {
            for p in &image.platforms {
                let _ = writeln!(
                    out,
                    "{} {} ({}): {} bytes ({}) to pull",
                    image.image,
                    p.platform,
                    p.manifest,
                    p.compressed_size,
                    human_bytes(p.compressed_size)
                );
                for l in &p.layers {
                    let _ = writeln!(
                        out,
                        "    {:>12}  {:>10}  {:>6}  layer {} {}",
                        l.size,
                        human_bytes(l.size),
                        percent(l.size, p.compressed_size),
                        &l.digest,
                        l.created_by
                    );
                }
                let _ = writeln!(
                    out,
                    "    {:>12}  {:>10}  {:>6}  config",
                    p.config_size,
                    human_bytes(p.config_size),
                    percent(p.config_size, p.compressed_size)
                );
                let _ = writeln!(
                    out,
                    "    {:>12}  {:>10}  {:>6}  manifest",
                    p.manifest_size,
                    human_bytes(p.manifest_size),
                    percent(p.manifest_size, p.compressed_size)
                );
                for b in &p.binaries {
                    out.push('\n');
                    binary(&mut out, b, limit);
                }
                out.push('\n');
            }
        }
    }
    out
}

/// The diff as text, largest change first.
pub fn human_diff(rows: &[DiffRow], limit: usize) -> String {
    let mut out = String::new();
    if rows.is_empty() {
        out.push_str("no differences\n");
        return out;
    }
    let _ = writeln!(out, "{:>12}  {:>12}  {:>12}  what", "delta", "old", "new");
    for r in rows.iter().take(limit) {
        let _ = writeln!(
            out,
            "{:>+12}  {:>12}  {:>12}  {}",
            r.delta, r.old, r.new, r.name
        );
    }
    if rows.len() > limit {
        let _ = writeln!(
            out,
            "({} smaller changes not shown; --json lists all)",
            rows.len() - limit
        );
    }
    out
}
