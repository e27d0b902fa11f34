//! Build the init from source with zig for the platforms given (default:
//! every platform slipway ships it for) and print each one's path and size.
//! With `--update`, rewrite the shipped binaries in `init/prebuilt/` and their
//! manifest; this needs the pinned zig (`slipway_init::prebuilt::ZIG_VERSION`).
//!
//! `cargo run -p slipway-init --example build-init -- linux/arm64 linux/arm/v7`
//! `cargo run -p slipway-init --example build-init -- --update`

use std::path::Path;

use sha2::{Digest, Sha256};
use slipway_init::prebuilt::{PREBUILT, ZIG_VERSION};
use slipway_platform::Platform;
use slipway_toolchain::{CacheDir, Zig, write_atomic};

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let update = args.iter().any(|a| a == "--update");
    args.retain(|a| a != "--update");
    let list = if args.is_empty() {
        PREBUILT
            .iter()
            .map(|p| p.platform)
            .collect::<Vec<_>>()
            .join(",")
    } else {
        args.join(",")
    };
    let platforms = match Platform::parse_list(&list) {
        Ok(p) => p,
        Err(e) => fail(2, &e.to_string()),
    };
    let cache = CacheDir::resolve(None);
    let zig = match Zig::discover(None, &cache) {
        Ok(z) => z,
        Err(e) => fail(3, &e.to_string()),
    };
    if update && zig.version != ZIG_VERSION {
        fail(
            3,
            &format!(
                "the shipped inits are built with zig {ZIG_VERSION}, this is zig {}: install \
                 that version (scripts/setup.sh), or change ZIG_VERSION in \
                 crates/slipway-init/src/prebuilt.rs on purpose",
                zig.version
            ),
        );
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../init/prebuilt");
    let mut manifest = format!(
        "# slipway-init as shipped, built by zig {ZIG_VERSION} from init/slipway-init.c.\n\
         # file, SHA-256 of its bytes, key of the inputs (slipway_init::input_key).\n\
         # Rebuild: cargo run -p slipway-init --example build-init -- --update\n"
    );
    let mut failed = false;
    for p in &platforms {
        match slipway_init::compile(p, &zig, &cache) {
            Ok(path) => {
                let bytes = std::fs::read(&path).unwrap_or_default();
                println!(
                    "{:<24} {:>6} bytes  {}",
                    p.to_string(),
                    bytes.len(),
                    path.display()
                );
                if update {
                    let key = slipway_init::input_key(
                        slipway_init::NAME,
                        slipway_init::SOURCE,
                        p,
                        &zig.version,
                    )
                    .unwrap_or_else(|e| fail(1, &e.to_string()));
                    let sha: String = Sha256::digest(&bytes)
                        .iter()
                        .map(|b| format!("{b:02x}"))
                        .collect();
                    manifest.push_str(&format!("{} {sha} {key}\n", p.dir_name()));
                    let out = dir.join(p.dir_name());
                    if let Err(e) = write_atomic(&out, &bytes, 0o644) {
                        fail(3, &format!("writing {}: {e}", out.display()));
                    }
                }
            }
            Err(e) => {
                failed = true;
                println!("{:<24} failed: {e}", p.to_string());
            }
        }
    }
    if update && !failed {
        let out = dir.join("manifest.txt");
        if let Err(e) = write_atomic(&out, manifest.as_bytes(), 0o644) {
            fail(3, &format!("writing {}: {e}", out.display()));
        }
    }
    std::process::exit(i32::from(failed));
}

fn fail(code: i32, message: &str) -> ! {
    eprintln!("build-init: {message}");
    std::process::exit(code)
}
