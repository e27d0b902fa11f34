//! Build one app layer from a binary the way `slipway image` does (sorted tar,
//! diff_id, parallel pinned gzip, digest) and print the time spent after the
//! file is in memory, as JSON. Driven by benches/layer_assembly.py.
//!
//!     cargo run --release -p slipway-oci --example layer_bench -- BINARY [LEVEL] [THREADS]

use std::time::Instant;

use slipway_oci::{Digest, LayerTar, gzip::gzip};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 2 {
        eprintln!("usage: layer_bench BINARY [LEVEL] [THREADS]");
        std::process::exit(2);
    }
    let data = std::fs::read(&args[1]).unwrap_or_else(|e| {
        eprintln!("{}: {e}", args[1]);
        std::process::exit(1)
    });
    let level: u32 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(6);
    let threads = args.get(3).and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    let input = data.len();
    let start = Instant::now();
    let mut tar = LayerTar::new();
    tar.file("app/bench", 0o555, data).expect("a valid path");
    let raw = tar.to_bytes(0).expect("tar in memory");
    // The diff_id is hashed while the chunks compress.
    let (diff_id, gz) = std::thread::scope(|s| {
        let hash = s.spawn(|| Digest::of(&raw));
        let gz = gzip(&raw, level, threads).expect("gzip in memory");
        (hash.join().expect("hash thread"), gz)
    });
    let digest = Digest::of(&gz);
    let seconds = start.elapsed().as_secs_f64();
    println!(
        "{{\"seconds\":{seconds},\"input\":{input},\"compressed\":{},\"level\":{level},\"threads\":{threads},\"diff_id\":\"{diff_id}\",\"digest\":\"{digest}\"}}",
        gz.len()
    );
}
