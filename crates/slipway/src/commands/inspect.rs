//! `slipway inspect FILE`: what an ELF binary is and needs, as a table or JSON.

use anyhow::Context;
use slipway_elf::Inspection;

use crate::cli::InspectArgs;

pub fn run(args: InspectArgs) -> anyhow::Result<()> {
    let data = std::fs::read(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let info = slipway_elf::inspect(&data).map_err(|e| {
        crate::input(format!(
            "{}: {e}\n  slipway inspect reads ELF executables and shared libraries; check that this is one and that it is complete",
            args.file.display()
        ))
    })?;
    let allocator = allocator(&data, &info).map_err(|e| {
        crate::input(format!(
            "{}: {e}\n  the allocator note slipway writes is damaged; rebuild the binary",
            args.file.display()
        ))
    })?;
    if args.json {
        let mut value = serde_json::to_value(&info)?;
        if let Some(map) = value.as_object_mut() {
            let allocator = allocator
                .as_ref()
                .map(|(name, version)| serde_json::json!({ "name": name, "version": version }));
            map.insert("allocator".into(), serde_json::json!(allocator));
        }
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        let mut out = table(&info);
        let row = match &allocator {
            Some((name, Some(version))) => {
                format!("{name} {version} (linked in; serves every C allocation)")
            }
            Some((_, None)) => "libc (the C library's own malloc)".to_string(),
            None => "none (no C code: Go's heap only)".to_string(),
        };
        out.push_str(&format!("{:<12} {row}\n", "allocator"));
        print!("{out}");
    }
    Ok(())
}

/// The malloc serving the binary's C code: the one slipway linked in (from
/// its ELF note), else the C library's own when the binary has C code;
/// `None` for a pure-Go binary.
fn allocator(
    data: &[u8],
    info: &Inspection,
) -> Result<Option<(String, Option<String>)>, slipway_elf::ElfError> {
    if let Some(note) = slipway_alloc::detect(data)? {
        return Ok(Some((note.name, Some(note.version))));
    }
    let pure_go = info
        .go
        .as_ref()
        .is_some_and(|g| g.settings.get("CGO_ENABLED") != Some("1"));
    Ok((!pure_go).then(|| ("libc".to_string(), None)))
}

fn yes(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

fn table(i: &Inspection) -> String {
    let mut rows: Vec<(&str, String)> = vec![
        (
            "arch",
            format!(
                "{} ({}, {} endian, {})",
                i.arch, i.class, i.endian, i.file_type
            ),
        ),
        (
            "linking",
            if i.is_static {
                "static".to_string()
            } else {
                format!(
                    "dynamic, interpreter {}",
                    i.interpreter.as_deref().unwrap_or("none")
                )
            },
        ),
    ];
    if !i.needed.is_empty() {
        rows.push(("needed", i.needed.join(", ")));
    }
    if let Some(g) = &i.glibc_max {
        rows.push((
            "glibc",
            format!(
                ">= {g}{}",
                if i.glibc_private {
                    " and GLIBC_PRIVATE"
                } else {
                    ""
                }
            ),
        ));
    }
    for lib in &i.versions {
        rows.push((
            "  versions",
            format!("{}: {}", lib.file, lib.versions.join(" ")),
        ));
    }
    rows.push((
        "build id",
        i.build_id.clone().unwrap_or_else(|| "none".into()),
    ));
    rows.push((
        "debuglink",
        i.debuglink
            .as_ref()
            .map(|d| format!("{} (crc {:08x})", d.file, d.crc))
            .unwrap_or_else(|| "none".into()),
    ));
    rows.push((
        "hardening",
        format!(
            "pie {}, relro {}, bind-now {}, nx stack {}",
            yes(i.pie),
            yes(i.relro),
            yes(i.bind_now),
            yes(i.nx_stack)
        ),
    ));
    let debug: u64 = i
        .sections
        .iter()
        .filter(|s| s.name.starts_with(".debug") || s.name.starts_with(".zdebug"))
        .map(|s| s.size)
        .sum();
    let symtab = i.sections.iter().any(|s| s.name == ".symtab");
    rows.push((
        "sections",
        format!(
            "{} ({} bytes of DWARF, symbols {})",
            i.sections.len(),
            debug,
            if symtab { "present" } else { "stripped" }
        ),
    ));
    if let Some(go) = &i.go {
        rows.push(("go", go.version.clone()));
        rows.push(("path", go.path.clone()));
        if let Some(m) = &go.main {
            rows.push(("main", format!("{} {}", m.path, m.version)));
        }
        for d in &go.deps {
            let mut line = format!("{} {}", d.path, d.version);
            if let Some(r) = &d.replace {
                line.push_str(&format!(" => {} {}", r.path, r.version));
            }
            rows.push(("dep", line));
        }
        for (k, v) in &go.settings.0 {
            rows.push(("build", format!("{k}={v}")));
        }
    } else {
        rows.push(("go", "not a Go binary".into()));
    }
    let mut out = String::new();
    for (k, v) in rows {
        out.push_str(&format!("{k:<12} {v}\n"));
    }
    out
}
