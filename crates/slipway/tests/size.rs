//! `slipway size` and size budgets, on real builds: the example for five
//! architectures and a real 20+ MB module from the Go module proxy, checked
//! against `go tool nm` and binutils' `readelf -S`; budgets under and over
//! for `build`, `image` and `push` (to a registry started on 127.0.0.1).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use slipway_size::classify::package_of;
use slipway_testkit::registry::TestRegistry;
use slipway_testkit::{copy_tree, example, require, stdout_ok};

mod common;
use common::{exit_code, slipway};

/// A copy of the example module outside git, so builds are stable.
fn module(tmp: &Path) -> PathBuf {
    let m = tmp.join("hello");
    copy_tree(&example("hello"), &m);
    m
}

fn json(out: &Output, what: &str) -> Value {
    let text = stdout_ok(out, what);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{what}: not JSON ({e}):\n{text}"))
}

fn run(args: &[&str]) -> Output {
    slipway()
        .args(args)
        .env("DOCKER_CONFIG", "/nonexistent-slipway-test")
        .output()
        .unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// One row of `readelf -SW`.
#[derive(Debug, PartialEq, Eq)]
struct ReadelfSection {
    index: u64,
    name: String,
    kind: String,
    addr: u64,
    offset: u64,
    size: u64,
}

fn readelf_sections(file: &Path) -> Vec<ReadelfSection> {
    let readelf = require("readelf", "binutils");
    let out = Command::new(readelf).arg("-SW").arg(file).output().unwrap();
    let listing = stdout_ok(&out, "readelf -SW");
    let mut rows = Vec::new();
    for line in listing.lines() {
        let line = line.trim_start();
        let Some(rest) = line.strip_prefix('[') else {
            continue;
        };
        let Some((index, rest)) = rest.split_once(']') else {
            continue;
        };
        let Ok(index) = index.trim().parse::<u64>() else {
            continue; // the "[Nr] Name ..." header
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        // Section 0 has an empty name: its first field is the type.
        let (name, f) = if index == 0 {
            ("", &fields[..])
        } else {
            (fields[0], &fields[1..])
        };
        let hex = |s: &str| u64::from_str_radix(s, 16).unwrap();
        rows.push(ReadelfSection {
            index,
            name: name.to_string(),
            kind: f[0].to_string(),
            addr: hex(f[1]),
            offset: hex(f[2]),
            size: hex(f[3]),
        });
    }
    assert!(rows.len() > 5, "readelf listed {} sections", rows.len());
    rows
}

/// The report's section table is readelf's, row for row.
fn check_sections(report: &Value, file: &Path) {
    let ours: Vec<ReadelfSection> = report["sections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| ReadelfSection {
            index: s["index"].as_u64().unwrap(),
            name: s["name"].as_str().unwrap().to_string(),
            kind: s["type"].as_str().unwrap().to_string(),
            addr: s["addr"].as_u64().unwrap(),
            offset: s["offset"].as_u64().unwrap(),
            size: s["size"].as_u64().unwrap(),
        })
        .collect();
    assert_eq!(ours, readelf_sections(file), "{}", file.display());
}

/// The rows add up to the file, and the file is the one on disk.
fn check_reconciles(report: &Value, file: &Path) {
    let size = std::fs::metadata(file).unwrap().len();
    assert_eq!(
        report["file_size"].as_u64(),
        Some(size),
        "{}",
        file.display()
    );
    let rows: u64 = report["breakdown"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["size"].as_u64().unwrap())
        .sum();
    assert_eq!(
        rows,
        size,
        "{}: breakdown {}",
        file.display(),
        report["breakdown"]
    );
    let unattributed = report["breakdown"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"].as_str().unwrap().starts_with("unattributed"))
        .expect("an explicit unattributed row");
    let by_section: u64 = report["unattributed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["size"].as_u64().unwrap())
        .sum();
    assert_eq!(unattributed["size"].as_u64(), Some(by_section), "{report}");
}

fn rows(report: &Value, table: &str) -> BTreeMap<String, u64> {
    report[table]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["name"].as_str().unwrap().to_string(),
                r["size"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// `go tool nm -size -sort size` of `symbols_file`, summed by Go package over
/// the sections the report attributes symbol by symbol (readelf's
/// addresses), for symbols inside Go's own address ranges.
fn nm_packages(symbols_file: &Path, binary: &Path, report: &Value) -> BTreeMap<String, u64> {
    let go = require("go", "golang");
    let out = Command::new(go)
        .args(["tool", "nm", "-size", "-sort", "size"])
        .arg(symbols_file)
        .output()
        .unwrap();
    let listing = stdout_ok(&out, "go tool nm");
    let counted: Vec<String> = report["sections"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["counted_as"] == "symbols")
        .map(|s| s["name"].as_str().unwrap().to_string())
        .collect();
    let ranges: Vec<(u64, u64)> = readelf_sections(binary)
        .into_iter()
        .filter(|s| counted.contains(&s.name) && s.kind != "NOBITS")
        .map(|s| (s.addr, s.addr + s.size))
        .collect();
    let mut symbols = Vec::new();
    let mut bounds = BTreeMap::new();
    for line in listing.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 4 {
            continue;
        }
        let (Ok(addr), Ok(size)) = (u64::from_str_radix(f[0], 16), f[1].parse::<u64>()) else {
            continue;
        };
        let name = f[3..].join(" ");
        bounds.insert(name.clone(), addr);
        symbols.push((addr, size, name));
    }
    // The Go linker brackets its own text and data with runtime.X/runtime.eX.
    let go_ranges: Vec<(u64, u64)> = [
        ("text", "etext"),
        ("rodata", "erodata"),
        ("noptrdata", "enoptrdata"),
        ("data", "edata"),
    ]
    .iter()
    .filter_map(|(a, b)| {
        Some((
            *bounds.get(&format!("runtime.{a}"))?,
            *bounds.get(&format!("runtime.{b}"))?,
        ))
    })
    .collect();
    assert!(go_ranges.len() >= 3, "runtime.text etc. in go tool nm");
    let mut packages = BTreeMap::new();
    for (addr, size, name) in symbols {
        let inside = |r: &[(u64, u64)]| r.iter().any(|(a, b)| (*a..*b).contains(&addr));
        if !inside(&ranges) || !inside(&go_ranges) {
            continue;
        }
        if let Some(p) = package_of(&name) {
            *packages.entry(p.to_string()).or_default() += size;
        }
    }
    packages
}

/// `runtime.NAME`'s address in `go tool nm` of `symbols_file`.
fn nm_runtime(symbols_file: &Path) -> BTreeMap<String, u64> {
    let go = require("go", "golang");
    let out = Command::new(go)
        .args(["tool", "nm"])
        .arg(symbols_file)
        .output()
        .unwrap();
    stdout_ok(&out, "go tool nm")
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let name = f.get(2)?.strip_prefix("runtime.")?;
            Some((name.to_string(), u64::from_str_radix(f[0], 16).ok()?))
        })
        .collect()
}

/// A stripped binary's Go data, named from the module data alone, is what
/// the debug file's `runtime.*` brackets say, byte for byte: Go's read-only
/// data (`types`..`etypes`), its package variables (`noptrdata`..`enoptrdata`
/// and `data`..`edata`), and the rest of `.data` (readelf's size) is C's.
fn check_stripped_data(report: &Value, binary: &Path, debug: &Path) {
    let rt = nm_runtime(debug);
    let span = |a: &str, b: &str| rt[b] - rt[a];
    let runtime = rows(report, "go_runtime");
    assert_eq!(
        runtime[slipway_size::TYPES_WITHOUT_SYMBOLS],
        span("types", "etypes"),
        "{runtime:?}"
    );
    let vars = span("noptrdata", "enoptrdata") + span("data", "edata");
    let packages = rows(report, "packages");
    assert_eq!(
        packages[slipway_size::GO_VARIABLES_WITHOUT_SYMBOLS],
        vars,
        "{packages:?}"
    );
    let data = readelf_sections(binary)
        .into_iter()
        .find(|s| s.name == ".data")
        .unwrap();
    let c = rows(report, "c_parts");
    assert_eq!(
        c.get(slipway_size::C_DATA_WITHOUT_SYMBOLS)
            .copied()
            .unwrap_or(0),
        data.size - span("data", "edata"),
        "{c:?}"
    );
    // Of the loaded data only C's read-only data stays unattributed: under
    // a tenth of what Go's read-only data alone is.
    let unattributed = report["breakdown"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == slipway_size::UNATTRIBUTED)
        .unwrap()["size"]
        .as_u64()
        .unwrap();
    assert!(
        unattributed * 10 < span("types", "etypes"),
        "{unattributed} bytes unattributed: {report}"
    );
}

/// Per-package sums within 1% of go tool nm's, for every package of either.
fn check_packages_against_nm(report: &Value, symbols_file: &Path, binary: &Path) {
    let ours = rows(report, "packages");
    let theirs = nm_packages(symbols_file, binary, report);
    assert!(theirs.len() > 20, "{theirs:?}");
    let mut checked = 0;
    for (package, &nm) in &theirs {
        let mine = ours.get(package).copied().unwrap_or(0);
        let diff = mine.abs_diff(nm);
        assert!(
            diff * 100 <= nm.max(mine),
            "{}: {package} is {mine} bytes in slipway size, {nm} in go tool nm",
            binary.display()
        );
        checked += 1;
    }
    for (package, &mine) in &ours {
        if package.starts_with('(') {
            continue; // names without a package (assembly helpers) have no nm package
        }
        assert!(
            theirs.contains_key(package),
            "{package} ({mine} bytes) is not in go tool nm"
        );
    }
    let total_nm: u64 = theirs.values().sum();
    let total: u64 = ours
        .iter()
        .filter(|(p, _)| !p.starts_with('('))
        .map(|(_, s)| s)
        .sum();
    assert!(
        total.abs_diff(total_nm) * 100 <= total_nm,
        "{total} vs {total_nm}"
    );
    assert!(checked > 20);
}

#[test]
fn example_on_five_architectures_reconciles_with_readelf_and_go_nm() {
    let tmp = tempfile::tempdir().unwrap();
    let m = module(tmp.path());
    let out = tmp.path().join("dist");
    let platforms = "linux/amd64,linux/arm64,linux/arm/v7,linux/riscv64,linux/mipsle/softfloat";
    let built = run(&[
        "build",
        m.to_str().unwrap(),
        "--platform",
        platforms,
        "--out",
        out.to_str().unwrap(),
    ]);
    stdout_ok(&built, "slipway build");
    let report = json(
        &run(&["size", out.to_str().unwrap(), "--json"]),
        "slipway size DIR",
    );
    assert_eq!(report["kind"], "directory");
    let binaries = report["binaries"].as_array().unwrap();
    assert_eq!(binaries.len(), 5, "{report}");
    for b in binaries {
        let rel = b["path"].as_str().unwrap();
        let file = out.join(rel);
        assert_eq!(
            b["symbols_from"].as_str().unwrap(),
            "debug file hello.debug",
            "{rel}: the split debug file beside it"
        );
        check_reconciles(b, &file);
        check_sections(b, &file);
        check_packages_against_nm(b, &file.with_file_name("hello.debug"), &file);
        let packages = rows(b, "packages");
        assert!(
            packages["main"] > 0 && packages["runtime"] > 100_000,
            "{rel}"
        );
        // musl is linked in statically: its C library shows up as C.
        let c = rows(b, "c_parts");
        assert!(
            c.get("C library and other C").copied().unwrap_or(0) > 10_000,
            "{rel}: {c:?}"
        );
        let mut parts = vec![
            "cgo glue (runtime/cgo, _cgo_* wrappers)",
            "C allocator (malloc)",
        ];
        // Software 128-bit float and wide division: every target but amd64 needs some.
        if !rel.starts_with("linux_amd64") {
            parts.push("compiler-rt / libgcc builtins");
        }
        for part in parts {
            assert!(
                c.get(part).copied().unwrap_or(0) > 0,
                "{rel}: {part} in {c:?}"
            );
        }
        let runtime = rows(b, "go_runtime");
        assert!(
            runtime[".gopclntab section"] > 500_000,
            "{rel}: {runtime:?}"
        );
    }

    // Without its debug file, the Go function table still names packages.
    let alone = tmp.path().join("alone");
    std::fs::create_dir(&alone).unwrap();
    let arm = alone.join("hello");
    std::fs::copy(out.join("linux_arm_v7/hello"), &arm).unwrap();
    let r = json(
        &run(&["size", arm.to_str().unwrap(), "--json"]),
        "size alone",
    );
    assert_eq!(r["symbols_from"], "Go function table");
    check_reconciles(&r, &arm);
    let packages = rows(&r, "packages");
    assert!(
        packages["main"] > 0 && packages["net/http"] > 50_000,
        "{packages:?}"
    );
    // Code outside the table's Go text is the C side (musl, runtime/cgo).
    let c = rows(&r, "c_parts");
    assert!(
        c["C code outside Go's text (no symbols to name it)"] > 10_000,
        "{c:?}"
    );
    check_stripped_data(&r, &arm, &out.join("linux_arm_v7/hello.debug"));
    // A debug file of another build is refused, said, and not used.
    std::fs::copy(
        out.join("linux_arm64/hello.debug"),
        alone.join("hello.debug"),
    )
    .unwrap();
    let r = json(&run(&["size", arm.to_str().unwrap(), "--json"]), "size");
    assert_eq!(r["symbols_from"], "Go function table");
    assert!(
        r["notes"][0].as_str().unwrap().contains("does not match"),
        "{r}"
    );

    // The human table says the same.
    let human = stdout_ok(
        &run(&["size", out.join("linux_arm64/hello").to_str().unwrap()]),
        "size",
    );
    assert!(
        human.contains("Go packages") && human.contains("unattributed"),
        "{human}"
    );

    // Not an ELF file: exit 2, saying what slipway size reads.
    let bad = run(&["size", m.join("go.mod").to_str().unwrap()]);
    assert_eq!(exit_code(&bad), 2, "{}", text(&bad));
    assert!(text(&bad).contains("not an ELF file"), "{}", text(&bad));
}

#[test]
fn real_module_agrees_with_go_nm_and_readelf() {
    // nats-server, pinned by version and zip hash, as the corpus test builds it.
    let go = require("go", "golang (Go 1.22+ from go.dev)");
    let dl = Command::new(&go)
        .args([
            "mod",
            "download",
            "-json",
            "github.com/nats-io/nats-server/v2@v2.15.2",
        ])
        .env("GOFLAGS", "-mod=mod")
        .output()
        .unwrap();
    let info: Value = serde_json::from_slice(&dl.stdout).unwrap();
    assert_eq!(
        info["Sum"], "h1:yLsgt2kslgymvxvjFq1WGWck5hkat2YYfbXvQ145tzU=",
        "{info}"
    );
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    copy_tree(Path::new(info["Dir"].as_str().unwrap()), &src);
    let mut perms = std::fs::metadata(&src).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perms.set_readonly(false);
    std::fs::set_permissions(&src, perms).unwrap();
    let out = tmp.path().join("dist");
    stdout_ok(
        &run(&[
            "build",
            src.to_str().unwrap(),
            "--platform",
            "linux/amd64",
            "--libc",
            "none",
            "--name",
            "nats-server",
            "--out",
            out.to_str().unwrap(),
        ]),
        "slipway build nats-server",
    );
    let binary = out.join("linux_amd64/nats-server");
    let debug = out.join("linux_amd64/nats-server.debug");
    let total =
        std::fs::metadata(&binary).unwrap().len() + std::fs::metadata(&debug).unwrap().len();
    assert!(total > 20 << 20, "a 20+ MB build: {total} bytes");
    let report = json(
        &run(&["size", binary.to_str().unwrap(), "--json"]),
        "slipway size nats-server",
    );
    assert_eq!(report["symbols_from"], "debug file nats-server.debug");
    check_reconciles(&report, &binary);
    check_sections(&report, &binary);
    check_packages_against_nm(&report, &debug, &binary);
    let packages = rows(&report, "packages");
    assert!(
        packages
            .keys()
            .any(|p| p.starts_with("github.com/nats-io/nats-server/v2/server")),
        "{packages:?}"
    );
    // Stripped and alone, as in an image: its data is named from the
    // module data.
    let alone = tmp.path().join("alone");
    std::fs::create_dir(&alone).unwrap();
    std::fs::copy(&binary, alone.join("nats-server")).unwrap();
    let r = json(
        &run(&[
            "size",
            alone.join("nats-server").to_str().unwrap(),
            "--json",
        ]),
        "slipway size nats-server alone",
    );
    assert_eq!(r["symbols_from"], "Go function table");
    check_reconciles(&r, &alone.join("nats-server"));
    check_stripped_data(&r, &alone.join("nats-server"), &debug);
}

/// A module whose v2 pulls in encoding/json: the diff puts it first.
#[test]
fn diff_lists_what_grew_largest_first() {
    let tmp = tempfile::tempdir().unwrap();
    let m = tmp.path().join("m");
    std::fs::create_dir(&m).unwrap();
    std::fs::write(m.join("go.mod"), "module example.com/m\n\ngo 1.22\n").unwrap();
    let mut outs = Vec::new();
    for (v, main) in [
        (
            "v1",
            "package main\n\nimport \"os\"\n\nfunc main() { os.Stdout.WriteString(\"hi\\n\") }\n",
        ),
        (
            "v2",
            "package main\n\nimport (\n\t\"encoding/json\"\n\t\"os\"\n)\n\nfunc main() {\n\tb, _ := json.Marshal(map[string]int{\"a\": 1})\n\tos.Stdout.Write(b)\n}\n",
        ),
    ] {
        std::fs::write(m.join("main.go"), main).unwrap();
        let out = tmp.path().join(v);
        stdout_ok(
            &run(&[
                "build",
                m.to_str().unwrap(),
                "--platform",
                "linux/arm64",
                "--libc",
                "none",
                "--name",
                "m",
                "--out",
                out.to_str().unwrap(),
            ]),
            "build",
        );
        outs.push(out.join("linux_arm64/m"));
    }
    let (a, b) = (outs[0].to_str().unwrap(), outs[1].to_str().unwrap());
    let d = json(&run(&["size", "--diff", a, b, "--json"]), "size --diff");
    let changes = d["changes"].as_array().unwrap();
    let deltas: Vec<u64> = changes
        .iter()
        .map(|c| c["delta"].as_i64().unwrap().unsigned_abs())
        .collect();
    assert!(
        deltas.windows(2).all(|w| w[0] >= w[1]),
        "sorted by |delta|: {deltas:?}"
    );
    let grew = |name: &str| {
        changes
            .iter()
            .find(|c| c["name"] == name)
            .unwrap_or_else(|| panic!("{name} in {d}"))
            .clone()
    };
    let json_pkg = grew("package encoding/json");
    assert_eq!(json_pkg["old"], 0);
    assert!(json_pkg["new"].as_u64().unwrap() > 20_000, "{json_pkg}");
    let total = grew("total");
    let (sa, sb) = (
        std::fs::metadata(a).unwrap().len() as i64,
        std::fs::metadata(b).unwrap().len() as i64,
    );
    assert_eq!(total["delta"].as_i64(), Some(sb - sa));
    let human = stdout_ok(&run(&["size", "--diff", a, b]), "size --diff");
    assert!(human.contains("package encoding/json"), "{human}");
    // The same build against itself: nothing changed.
    let same = json(&run(&["size", "--diff", a, a, "--json"]), "same");
    assert_eq!(same["changes"].as_array().unwrap().len(), 0);
}

/// Files under `dir`, recursively (none when it does not exist).
fn files_under(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .map(|e| {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                files_under(&e.path())
            } else {
                1
            }
        })
        .sum()
}

#[test]
fn build_budget_under_and_over() {
    let tmp = tempfile::tempdir().unwrap();
    let m = module(tmp.path());
    let toml = std::fs::read_to_string(m.join("slipway.toml")).unwrap();
    std::fs::write(
        m.join("slipway.toml"),
        toml.replace("[build]\n", "[build]\nbudget = \"1MiB\"\n"),
    )
    .unwrap();
    let out = tmp.path().join("dist");
    let args = |extra: &[&str]| {
        let mut a = vec![
            "build".to_string(),
            m.to_str().unwrap().to_string(),
            "--platform".into(),
            "linux/arm64".into(),
            "--libc".into(),
            "none".into(),
            "--out".into(),
            out.to_str().unwrap().to_string(),
        ];
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let over = slipway().args(args(&[])).output().unwrap();
    let said = text(&over);
    assert_eq!(exit_code(&over), 1, "{said}");
    assert!(said.contains("over its budget of 1.0 MiB"), "{said}");
    assert!(said.contains("budget in [build] of slipway.toml"), "{said}");
    assert!(
        said.contains("top contributors") && said.contains("Go package runtime"),
        "{said}"
    );
    assert!(!out.exists(), "nothing written when over budget");

    // The flag overrides the key; --json shows budget and headroom.
    let under = slipway()
        .args(args(&["--budget", "64MiB", "--json"]))
        .output()
        .unwrap();
    let j = json(&under, "build under budget");
    let size = j["artifacts"][0]["size"].as_u64().unwrap();
    let b = &j["budgets"][0];
    assert_eq!(b["budget"].as_u64(), Some(64 << 20), "{j}");
    assert_eq!(
        b["headroom"].as_i64(),
        Some((64 << 20) - size as i64),
        "{j}"
    );
    assert_eq!(b["knob"], "--budget");
    assert_eq!(b["over"], false);
    assert!(out.join("linux_arm64/hello").is_file());

    // `none` turns the configured budget off; a bad size is bad input.
    let off = slipway()
        .args(args(&["--budget", "none", "--json"]))
        .output()
        .unwrap();
    assert_eq!(json(&off, "budget none")["budgets"], serde_json::json!([]));
    let bad = slipway()
        .args(args(&["--budget", "12 mb"]))
        .output()
        .unwrap();
    assert_eq!(exit_code(&bad), 2, "{}", text(&bad));
    assert!(text(&bad).contains("is not a size"), "{}", text(&bad));
}

#[test]
fn image_and_push_budgets_stop_before_anything_is_written_or_pushed() {
    let tmp = tempfile::tempdir().unwrap();
    let m = module(tmp.path());
    let toml = std::fs::read_to_string(m.join("slipway.toml")).unwrap();
    std::fs::write(
        m.join("slipway.toml"),
        format!("{toml}\n[image]\nbudget = \"1MiB\"\n"),
    )
    .unwrap();
    let ms = m.to_str().unwrap();
    let common = ["--platform", "linux/amd64,linux/arm64", "--libc", "none"];

    let layout = tmp.path().join("image");
    let mut args = vec!["image", ms, "--out", layout.to_str().unwrap()];
    args.extend(common);
    let over = run(&args);
    let said = text(&over);
    assert_eq!(exit_code(&over), 1, "{said}");
    assert!(said.contains("the linux/arm64 image is"), "{said}");
    assert!(said.contains("budget in [image] of slipway.toml"), "{said}");
    assert!(said.contains("layer slipway: /app/hello"), "{said}");
    assert!(!layout.exists(), "no layout written when over budget");

    let reg = TestRegistry::plain();
    let reference = reg.reference("team/hello:v1");
    let mut push = vec!["push", ms, reference.as_str()];
    push.extend(common);
    let over = run(&push);
    assert_eq!(exit_code(&over), 1, "{}", text(&over));
    assert!(text(&over).contains("over its budget"), "{}", text(&over));
    assert_eq!(reg.tag_digest("team/hello", "v1"), None, "no tag pushed");
    assert_eq!(
        files_under(&reg.storage_dir().join("docker/registry/v2/blobs")),
        0,
        "no blob pushed"
    );

    // Under a raised budget both go through, and --json shows the headroom.
    let mut args = vec![
        "image",
        ms,
        "--out",
        layout.to_str().unwrap(),
        "--image-budget",
        "12MiB",
        "--json",
    ];
    args.extend(common);
    let j = json(&run(&args), "image under budget");
    let budgets = j["budgets"].as_array().unwrap();
    assert_eq!(budgets.len(), 2, "{j}");
    for (b, manifest) in budgets.iter().zip(j["manifests"].as_array().unwrap()) {
        let size = manifest["size"].as_i64().unwrap();
        assert_eq!(b["size"].as_i64(), Some(size));
        assert_eq!(b["headroom"].as_i64(), Some((12 << 20) - size), "{b}");
        assert_eq!(b["knob"], "--image-budget");
    }
    let mut push = vec![
        "push",
        ms,
        reference.as_str(),
        "--image-budget",
        "12MiB",
        "--json",
    ];
    push.extend(common);
    let pushed = json(&run(&push), "push under budget");
    assert_eq!(pushed["budgets"].as_array().unwrap().len(), 2);
    assert!(reg.tag_digest("team/hello", "v1").is_some());

    // slipway size of the image: layers as the manifest's descriptors say.
    let report = json(
        &run(&[
            "size",
            &format!("oci:{}", layout.display()),
            "--platform",
            "linux/arm64",
            "--json",
        ]),
        "size of the image",
    );
    assert_eq!(report["kind"], "image");
    let p = &report["platforms"][0];
    assert_eq!(p["platform"], "linux/arm64");
    let digest = p["manifest"].as_str().unwrap();
    let manifest: Value = serde_json::from_slice(
        &std::fs::read(layout.join("blobs/sha256").join(&digest["sha256:".len()..])).unwrap(),
    )
    .unwrap();
    let want: Vec<u64> = manifest["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["size"].as_u64().unwrap())
        .collect();
    let got: Vec<u64> = p["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["size"].as_u64().unwrap())
        .collect();
    assert_eq!(got, want);
    let arm = j["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["platform"] == "linux/arm64")
        .unwrap();
    assert_eq!(p["compressed_size"], arm["size"], "what a pull transfers");
    let app = p["binaries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["path"].as_str().unwrap().ends_with("app/hello"))
        .unwrap_or_else(|| panic!("{p}"));
    assert_eq!(app["symbols_from"], "Go function table");
    assert!(rows(app, "packages")["main"] > 0);
    // The pushed image reads the same from the registry.
    let remote = json(
        &run(&["size", &reference, "--platform", "linux/arm64", "--json"]),
        "size of the pushed image",
    );
    assert_eq!(remote["platforms"][0]["compressed_size"], arm["size"]);
    // The layout and what was pushed are the same image: no row differs.
    let same = json(
        &run(&[
            "size",
            "--diff",
            &format!("oci:{}", layout.display()),
            &reference,
            "--json",
        ]),
        "size --diff layout registry",
    );
    assert_eq!(same["changes"], serde_json::json!([]), "{same}");
}
