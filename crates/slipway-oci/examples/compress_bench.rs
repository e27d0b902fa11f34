//! Compress one layer tar with each given compression exactly as `slipway
//! image` does (pinned libdeflate gzip, pinned libzstd zstd), then read it
//! back through the one layer decoder slipway's readers use, and print one
//! JSON line per compression: sizes, median seconds. Writes each compressed
//! blob to OUTDIR (for decoders on other architectures). Driven by
//! benches/zstd_layers.py.
//!
//!     cargo run --release -p slipway-oci --example compress_bench -- TAR OUTDIR RUNS THREADS SPEC...

use std::io::Read;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use slipway_oci::Compression;

/// CPU seconds this process has used (user + system, every thread), from
/// /proc/self/stat: on a shared machine it says what a compression costs
/// better than the wall clock does.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which ends with the last ')').
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 of the line, 12 and 13 here.
    (ticks(11) + ticks(12)) / 100.0
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 6 {
        eprintln!("usage: compress_bench TAR OUTDIR RUNS THREADS SPEC...");
        std::process::exit(2);
    }
    let data = std::fs::read(&args[1]).unwrap_or_else(|e| {
        eprintln!("{}: {e}", args[1]);
        std::process::exit(1)
    });
    let outdir = std::path::Path::new(&args[2]);
    let runs: usize = args[3].parse().expect("RUNS is a number");
    let threads: usize = args[4].parse().expect("THREADS is a number");
    let never = AtomicBool::new(false);
    for spec in &args[5..] {
        // `zstd:N@W`: libzstd with W worker threads (slipway uses none), to
        // measure what multi-threaded zstd would give.
        let (spec, workers) = match spec.split_once('@') {
            Some((s, w)) => (s, Some(w.parse::<u32>().expect("@WORKERS is a number"))),
            None => (spec.as_str(), None),
        };
        let c: Compression = spec.parse().unwrap_or_else(|e| {
            eprintln!("{spec}: {e}");
            std::process::exit(2)
        });
        let mut ctimes = Vec::new();
        let mut cpu = Vec::new();
        let mut blob = Vec::new();
        for _ in 0..runs {
            let cpu_start = cpu_seconds();
            let start = Instant::now();
            let (b, _) = match workers {
                Some(w) => slipway_oci::zstd::zstd_and_digest(&data, c.level, w, &never),
                None => c.compress_and_digest(&data, threads, &never),
            }
            .expect("compression")
            .expect("never cancelled");
            ctimes.push(start.elapsed().as_secs_f64());
            cpu.push(cpu_seconds() - cpu_start);
            blob = b;
        }
        let mut dtimes = Vec::new();
        for _ in 0..runs {
            let start = Instant::now();
            let mut out = Vec::with_capacity(data.len());
            slipway_oci::compression::decoder(c.media_type(), blob.as_slice())
                .expect("decoder")
                .read_to_end(&mut out)
                .expect("decompression");
            dtimes.push(start.elapsed().as_secs_f64());
            assert!(out == data, "{spec} did not round-trip");
        }
        let name = match workers {
            Some(w) => format!("{}-{}-w{w}", c.algorithm.name(), c.level),
            None => format!("{}-{}", c.algorithm.name(), c.level),
        };
        std::fs::write(outdir.join(&name), &blob).expect("writing the blob");
        println!(
            "{{\"spec\":\"{c}{}\",\"file\":\"{name}\",\"input\":{},\"compressed\":{},\"compress_seconds\":{},\"compress_cpu_seconds\":{},\"decompress_seconds\":{},\"threads\":{threads}}}",
            workers.map(|w| format!("@{w}")).unwrap_or_default(),
            data.len(),
            blob.len(),
            median(ctimes),
            median(cpu),
            median(dtimes)
        );
    }
}
