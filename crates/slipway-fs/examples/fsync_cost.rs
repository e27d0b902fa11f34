//! What the two fsyncs of `write_atomic` cost: write COUNT files of SIZE
//! bytes into DIR with `write_atomic`, and the same with the temp-and-rename
//! it did before (no fsync), and print the time per file of each.
//! Run by `benches/fsync.sh`.

use std::io::Write;
use std::path::Path;
use std::time::Instant;

fn without_fsync(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut tmp = tempfile::Builder::new()
        .prefix(".slipway-tmp-")
        .tempfile_in(path.parent().unwrap_or(Path::new(".")))?;
    tmp.write_all(bytes)?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, dir, count, size] = args.as_slice() else {
        eprintln!("usage: fsync_cost DIR COUNT SIZE");
        std::process::exit(2);
    };
    let dir = Path::new(dir);
    let count: usize = count.parse().expect("COUNT is a number");
    let size: usize = size.parse().expect("SIZE is a number of bytes");
    let bytes = vec![0x5a; size];
    std::fs::create_dir_all(dir)?;
    let mut results = Vec::new();
    for (name, synced) in [("rename only", false), ("fsync file+dir", true)] {
        let start = Instant::now();
        for i in 0..count {
            let path = dir.join(format!("f{i}"));
            if synced {
                slipway_fs::write_atomic(&path, &bytes, 0o644)?;
            } else {
                without_fsync(&path, &bytes)?;
            }
        }
        let per = start.elapsed().as_secs_f64() / count as f64;
        results.push(per);
        println!("{name:>15}: {:8.3} ms per {size}-byte file", per * 1e3);
    }
    println!(
        "{:>15}: {:8.3} ms per file ({:.1}x)",
        "fsync costs",
        (results[1] - results[0]) * 1e3,
        results[1] / results[0]
    );
    Ok(())
}
