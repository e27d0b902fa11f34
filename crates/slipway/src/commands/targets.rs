//! `slipway targets`: what can be asked for, from the platform model alone.

use serde::Serialize;
use slipway_platform::{Arch, Platform, valid_options, valid_variants};

use crate::cli::TargetsArgs;

#[derive(Serialize)]
struct Row {
    platform: String,
    goarch: &'static str,
    variant_var: Option<&'static str>,
    variants: &'static str,
    options: &'static str,
    first_class: bool,
    cgo: bool,
    libc: Vec<&'static str>,
    /// The tools each libc mode needs on this machine: `none` needs only Go
    /// (slipway ships the init), cgo modes need a C cross compiler.
    needs: std::collections::BTreeMap<&'static str, Vec<&'static str>>,
    zig_glibc_floor: Option<String>,
}

pub fn run(args: TargetsArgs) -> anyhow::Result<()> {
    let rows: Vec<Row> = Arch::ALL
        .iter()
        .map(|&arch| Row {
            platform: Platform::new(arch).to_string(),
            goarch: arch.goarch(),
            variant_var: arch.variant_var(),
            variants: valid_variants(arch),
            options: valid_options(arch),
            first_class: arch.first_class(),
            cgo: arch.cgo_supported(),
            libc: if arch.cgo_supported() {
                vec!["none", "musl", "glibc:X.Y"]
            } else {
                vec!["none"]
            },
            needs: needs(arch.cgo_supported()),
            zig_glibc_floor: arch.zig_glibc_floor().map(|v| v.to_string()),
        })
        .collect();
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({ "platforms": rows }))?
        );
        return Ok(());
    }
    println!(
        "{:<14} {:<10} {:<54} {:<4} libc modes",
        "PLATFORM", "VARIABLE", "VARIANTS", "CGO"
    );
    for r in &rows {
        let mut variants = r.variants.to_string();
        if r.options != "none" {
            variants.push_str(&format!(" ({})", r.options));
        }
        let mut libc = r.libc.join(", ");
        if let Some(floor) = &r.zig_glibc_floor {
            libc.push_str(&format!(" (glibc >= {floor})"));
        }
        println!(
            "{:<14} {:<10} {:<54} {:<4} {}",
            format!("linux/{}", r.goarch),
            r.variant_var.unwrap_or("-"),
            variants,
            if r.cgo { "yes" } else { "no" },
            libc
        );
    }
    println!(
        "\nWrite a platform as linux/<arch>[/<variant>[+option...]], e.g. linux/arm/v6, linux/mipsle/softfloat,\n\
linux/arm64/v8.2+lse. libc modes:\n  \
none       CGO_ENABLED=0, static; needs only Go (slipway ships the init)\n  \
musl       cgo, static; needs zig\n  \
glibc:X.Y  cgo, dynamic, runs on glibc >= X.Y; needs zig or a GNU cross gcc\n\
First-class Go ports: amd64, 386, arm, arm64.\n\
Go 1.24+ binaries need Linux 3.2 or newer on the device."
    );
    Ok(())
}

fn needs(cgo: bool) -> std::collections::BTreeMap<&'static str, Vec<&'static str>> {
    let mut out = std::collections::BTreeMap::new();
    out.insert("none", vec!["go"]);
    if cgo {
        out.insert("musl", vec!["go", "zig"]);
        out.insert("glibc:X.Y", vec!["go", "zig or gcc-<triple>"]);
    }
    out
}
