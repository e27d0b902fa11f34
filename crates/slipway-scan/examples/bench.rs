//! Figures for docs/scan.md: vulnerability scan time of real Go binaries
//! against a generated database of 5,000+ OSV entries (directory and zip),
//! compared with reading every entry; and secret-scan throughput on
//! multi-MB binaries and text.
//!
//! `cargo run --release -p slipway-scan --example bench [GO_BINARY...]`
//! (default: examples/hello built with the installed Go, and the go tool).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use slipway_scan::osv::Database;

const ENTRIES: usize = 5_000;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn time<T>(runs: usize, mut f: impl FnMut() -> T) -> Duration {
    median(
        (0..runs)
            .map(|_| {
                let t = Instant::now();
                std::hint::black_box(f());
                t.elapsed()
            })
            .collect(),
    )
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

/// 5,000 entries: a tenth for the standard library and the binaries' own
/// modules (so scanning has real work), the rest spread over 2,000 other modules.
fn generate(dir: &Path, zip: &Path, real_modules: &[String]) -> usize {
    let mut files: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut index: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for i in 0..ENTRIES {
        let id = format!("GO-{}-{:04}", 2020 + i / 1000, i % 1000);
        let module = if i % 10 == 0 {
            if real_modules.is_empty() || i % 20 == 0 {
                "stdlib".to_string()
            } else {
                real_modules[(i / 20) % real_modules.len()].clone()
            }
        } else {
            format!("example.com/org{}/mod{}", i % 97, i % 2000)
        };
        // Spread so that some stdlib (Go 1.18-1.27) and x/ module ranges hit.
        let (minor, patch) = if module == "stdlib" {
            (18 + (i / 20) % 10, (i / 7) % 12)
        } else {
            (i % 40, i % 7)
        };
        let e = json!({
            "schema_version": "1.3.1", "id": id, "modified": "2026-01-01T00:00:00Z",
            "aliases": [format!("CVE-{}-{:05}", 2020 + i / 1000, i)],
            "summary": "generated entry",
            "details": "x".repeat(400),
            "affected": [{
                "package": {"name": module, "ecosystem": "Go"},
                "ranges": [{"type": "SEMVER", "events": [
                    {"introduced": "0"}, {"fixed": format!("0.{minor}.{patch}")},
                    {"introduced": format!("1.{minor}.0-0")}, {"fixed": format!("1.{minor}.{}", patch + 1)}
                ]}],
                "ecosystem_specific": {"imports": [{"path": format!("{module}/pkg{}", i % 5), "symbols": ["A", "B.C"]}]}
            }],
            "database_specific": {"url": format!("https://pkg.go.dev/vuln/{id}")}
        });
        files.insert(format!("ID/{id}.json"), serde_json::to_vec(&e).unwrap());
        index
            .entry(module)
            .or_default()
            .push(json!({"id": id, "modified": "2026-01-01T00:00:00Z"}));
    }
    let modules: Vec<Value> = index
        .into_iter()
        .map(|(path, vulns)| json!({"path": path, "vulns": vulns}))
        .collect();
    files.insert(
        "index/modules.json".into(),
        serde_json::to_vec(&modules).unwrap(),
    );
    files.insert(
        "index/db.json".into(),
        br#"{"modified":"2026-01-01T00:00:00Z"}"#.to_vec(),
    );
    for (name, data) in &files {
        let p = dir.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, data).unwrap();
    }
    let mut z = zip::ZipWriter::new(std::fs::File::create(zip).unwrap());
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, data) in &files {
        z.start_file(name.as_str(), opts).unwrap();
        z.write_all(data).unwrap();
    }
    z.finish().unwrap();
    files.len() - 2
}

fn default_binaries(work: &Path) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/hello");
    let hello = work.join("hello");
    let st = Command::new("go")
        .args(["build", "-trimpath", "-o"])
        .arg(&hello)
        .arg(".")
        .current_dir(&root)
        .env("CGO_ENABLED", "0")
        .status()
        .expect("go is required (or pass Go binaries as arguments)");
    assert!(st.success(), "go build failed");
    let goroot = Command::new("go").args(["env", "GOROOT"]).output().unwrap();
    let gotool = PathBuf::from(String::from_utf8(goroot.stdout).unwrap().trim()).join("bin/go");
    // A real multi-module binary: govulncheck and its golang.org/x deps.
    let st = Command::new("go")
        .args(["install", "golang.org/x/vuln/cmd/govulncheck@v1.1.4"])
        .env("GOBIN", work)
        .env("CGO_ENABLED", "0")
        .status()
        .expect("go install");
    assert!(
        st.success(),
        "go install golang.org/x/vuln/cmd/govulncheck@v1.1.4 failed (needs the Go module proxy)"
    );
    vec![hello, gotool, work.join("govulncheck")]
}

fn main() {
    let work = tempfile::tempdir().unwrap();
    let mut bins: Vec<PathBuf> = std::env::args().skip(1).map(PathBuf::from).collect();
    if bins.is_empty() {
        bins = default_binaries(work.path());
    }
    let datas: Vec<(PathBuf, Vec<u8>)> = bins
        .iter()
        .map(|b| (b.clone(), std::fs::read(b).unwrap()))
        .collect();
    let infos: Vec<_> = datas
        .iter()
        .map(|(p, d)| {
            slipway_scan::go_build_info(d)
                .unwrap()
                .unwrap_or_else(|| panic!("{} is not a Go binary", p.display()))
        })
        .collect();
    let real: Vec<String> = infos
        .iter()
        .flat_map(|i| i.deps.iter().map(|d| d.path.clone()))
        .collect();
    let dir = work.path().join("db");
    let zip = work.path().join("db.zip");
    let n = generate(&dir, &zip, &real);
    println!(
        "database: {n} OSV entries, zip {} KiB",
        std::fs::metadata(&zip).unwrap().len() / 1024
    );

    for (label, db_path) in [("dir", &dir), ("zip", &zip)] {
        let open = time(9, || Database::open(db_path).unwrap());
        println!("[{label}] open (index only): {}", ms(open));
        for ((path, data), info) in datas.iter().zip(&infos) {
            let name = path.file_name().unwrap().to_string_lossy();
            let mods = info.deps.len() + 2;
            // Cold: a fresh database per run, so entries are read and parsed.
            let mut found = 0;
            let cold = time(9, || {
                let db = Database::open(db_path).unwrap();
                found = db.scan_binary(data).unwrap().unwrap().len();
            });
            let db = Database::open(db_path).unwrap();
            let warm = time(25, || db.scan_binary(data).unwrap());
            // Baseline: what reading every entry (no module index) costs.
            let all_ids: Vec<String> = (0..ENTRIES)
                .map(|i| format!("GO-{}-{:04}", 2020 + i / 1000, i % 1000))
                .collect();
            let eager = time(3, || {
                let db = Database::open(db_path).unwrap();
                for id in &all_ids {
                    db.entry(id).unwrap();
                }
                db.scan_binary(data).unwrap()
            });
            println!(
                "[{label}] {name} ({:.1} MB, {mods} modules, {found} findings): open+scan {} (warm scan {}); reading all entries first {} = {:.0}x slower",
                data.len() as f64 / 1e6,
                ms(cold),
                ms(warm),
                ms(eager),
                eager.as_secs_f64() / cold.as_secs_f64()
            );
        }
    }

    for (path, data) in &datas {
        let t = time(7, || slipway_scan::secrets::scan("/app/bin", data));
        println!(
            "secrets: {} ({:.1} MB binary): {} = {:.0} MB/s, {} findings",
            path.file_name().unwrap().to_string_lossy(),
            data.len() as f64 / 1e6,
            ms(t),
            data.len() as f64 / 1e6 / t.as_secs_f64(),
            slipway_scan::secrets::scan("/app/bin", data).len()
        );
    }
    // Text: configuration-like lines, 8 MB, every text rule active.
    let mut text = String::new();
    let mut i = 0u64;
    while text.len() < 8 << 20 {
        text.push_str(&format!(
            "service_{i}.listen = \"0.0.0.0:{}\"\nservice_{i}.description = \"Handles requests for tenant {i} with retries and backoff\"\nservice_{i}.password_file = /run/secrets/svc{i}\n",
            8000 + i % 1000
        ));
        i += 1;
    }
    let t = time(5, || {
        slipway_scan::secrets::scan("/etc/app.conf", text.as_bytes())
    });
    println!(
        "secrets: {:.1} MB config text: {} = {:.0} MB/s, {} findings",
        text.len() as f64 / 1e6,
        ms(t),
        text.len() as f64 / 1e6 / t.as_secs_f64(),
        slipway_scan::secrets::scan("/etc/app.conf", text.as_bytes()).len()
    );
}
