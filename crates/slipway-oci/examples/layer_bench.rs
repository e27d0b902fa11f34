//! Build one app layer from a binary exactly as `slipway image` does, with a
//! cold cache (sorted tar, diff_id, parallel pinned gzip, digest, blob written
//! to the store), and print the time spent after the file is in memory, as
//! JSON. Driven by benches/layer_assembly.py.
//!
//!     cargo run --release -p slipway-oci --example layer_bench -- BINARY [LEVEL] [THREADS]

use std::time::Instant;

use slipway_oci::{BlobStore, CompressionSettings, LayerTar, build_layer};

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
    let cache = tempfile::tempdir().expect("a temporary directory");
    let store = BlobStore::new(cache.path().join("blobs"));

    let start = Instant::now();
    let mut tar = LayerTar::new();
    tar.file("app/bench", 0o555, data).expect("a valid path");
    let (layer, reused) = build_layer(
        &store,
        &cache.path().join("layers"),
        &tar,
        0,
        CompressionSettings {
            compression: slipway_oci::Compression::gzip(level),
            threads,
        },
        "bench",
    )
    .expect("layer");
    let seconds = start.elapsed().as_secs_f64();
    assert!(!reused, "the cache was cold");
    println!(
        "{{\"seconds\":{seconds},\"input\":{input},\"compressed\":{},\"level\":{level},\"threads\":{threads},\"diff_id\":\"{}\",\"digest\":\"{}\"}}",
        layer.size, layer.diff_id, layer.digest
    );
}
