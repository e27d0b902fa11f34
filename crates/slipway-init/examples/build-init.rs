//! Build the init for the platforms given (default: every platform slipway
//! ships it for) and print each one's path and size.
//!
//! `cargo run -p slipway-init --example build-init -- linux/arm64 linux/arm/v7`

use slipway_platform::Platform;
use slipway_toolchain::{CacheDir, Zig};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let list = if args.is_empty() {
        "linux/amd64,linux/arm64,linux/arm/v7,linux/arm/v6,linux/386,linux/riscv64,linux/mipsle/softfloat,linux/mips/softfloat,linux/mips64le,linux/ppc64le,linux/s390x".to_string()
    } else {
        args.join(",")
    };
    let platforms = match Platform::parse_list(&list) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("build-init: {e}");
            std::process::exit(2);
        }
    };
    let cache = CacheDir::resolve(None);
    let zig = match Zig::discover(None, &cache) {
        Ok(z) => z,
        Err(e) => {
            eprintln!("build-init: {e}");
            std::process::exit(2);
        }
    };
    let mut failed = false;
    for p in &platforms {
        match slipway_init::build(p, &zig, &cache) {
            Ok(path) => {
                let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
                println!(
                    "{:<24} {:>6} bytes  {}",
                    p.to_string(),
                    size,
                    path.display()
                );
            }
            Err(e) => {
                failed = true;
                println!("{:<24} failed: {e}", p.to_string());
            }
        }
    }
    std::process::exit(i32::from(failed));
}
