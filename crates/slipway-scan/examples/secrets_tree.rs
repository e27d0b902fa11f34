//! Run the secret scanner over a directory tree and print what it flags,
//! for tuning the rules against real file systems:
//! `cargo run --release -p slipway-scan --example secrets_tree -- /etc /usr/share/doc`

use std::path::Path;

fn walk(dir: &Path, files: &mut Vec<std::path::PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let Ok(t) = e.file_type() else { continue };
        if t.is_dir() {
            walk(&e.path(), files);
        } else if t.is_file() {
            files.push(e.path());
        }
    }
}

fn main() {
    let mut files = Vec::new();
    for root in std::env::args().skip(1) {
        walk(Path::new(&root), &mut files);
    }
    files.sort();
    let (mut bytes, mut flagged) = (0u64, 0usize);
    let started = std::time::Instant::now();
    for f in &files {
        let Ok(data) = std::fs::read(f) else { continue };
        bytes += data.len() as u64;
        for finding in slipway_scan::secrets::scan(&f.to_string_lossy(), &data) {
            flagged += 1;
            println!("{finding}");
        }
    }
    eprintln!(
        "{} files, {:.1} MB, {flagged} findings in {:.2}s",
        files.len(),
        bytes as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );
}
