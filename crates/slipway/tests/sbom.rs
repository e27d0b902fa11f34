//! `slipway sbom` end to end: real binaries built by `slipway build` (pure Go,
//! cgo against musl and glibc, a module with real dependencies from the Go
//! module proxy), documents checked by the real validators (spdx-tools'
//! `pyspdxtools`, cyclonedx-python-lib's JSON schema validator), and every
//! module list compared with what `go version -m` prints.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use slipway_testkit::supply_chain::{validate_cyclonedx, validate_spdx};
use slipway_testkit::{copy_tree, example, require, stdout_ok};

fn slipway() -> Command {
    Command::new(assert_cmd::cargo::cargo_bin!("slipway"))
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `slipway build MODULE --out OUT ARGS...`.
fn build(module: &Path, out: &Path, args: &[&str]) {
    let o = slipway()
        .arg("build")
        .arg(module)
        .arg("--out")
        .arg(out)
        .args(args)
        .output()
        .unwrap();
    stdout_ok(&o, &format!("slipway build {args:?}"));
}

/// A private copy of the example, so parallel tests never share a staging dir.
fn hello(dir: &Path) -> PathBuf {
    let module = dir.join("hello");
    copy_tree(&example("hello"), &module);
    module
}

/// `slipway sbom PATH --format F --output FILE`; the document as JSON.
fn sbom(path: &Path, format: &str, file: &Path, extra: &[&str]) -> Value {
    let o = slipway()
        .arg("sbom")
        .arg(path)
        .args(["--format", format, "--output"])
        .arg(file)
        .args(extra)
        .env_remove("SOURCE_DATE_EPOCH")
        .output()
        .unwrap();
    stdout_ok(
        &o,
        &format!("slipway sbom {} --format {format}", path.display()),
    );
    assert!(o.stdout.is_empty(), "--output leaves stdout empty");
    serde_json::from_slice(&std::fs::read(file).unwrap()).expect("the SBOM is JSON")
}

/// What `go version -m` says was built into a binary: the Go version and
/// `(path, version, h1 sum)` of every module, replacements applied the way
/// the SBOM promises (a module replacement is what was built; a directory
/// replacement keeps the path and has no version).
fn go_version_m(bin: &Path) -> (String, BTreeSet<(String, String, String)>, String) {
    let go = require("go", "golang (Go 1.22+ from go.dev)");
    let text = stdout_ok(
        &Command::new(go)
            .args(["version", "-m"])
            .arg(bin)
            .output()
            .unwrap(),
        "go version -m",
    );
    let mut lines = text.lines();
    let go_version = lines
        .next()
        .and_then(|l| l.rsplit(' ').next())
        .unwrap()
        .to_string();
    let mut mods: Vec<(String, String, String)> = Vec::new();
    let mut main = String::new();
    for line in lines {
        let cols: Vec<&str> = line.trim_start_matches('\t').split('\t').collect();
        match cols[0] {
            "mod" => main = cols[1].to_string(),
            "dep" => mods.push((
                cols[1].into(),
                cols[2].into(),
                cols.get(3).copied().unwrap_or("").into(),
            )),
            "=>" => {
                let last = mods.last_mut().unwrap();
                if cols[2] == "(devel)" {
                    *last = (last.0.clone(), "(devel)".into(), String::new());
                } else {
                    *last = (
                        cols[1].into(),
                        cols[2].into(),
                        cols.get(3).copied().unwrap_or("").into(),
                    );
                }
            }
            _ => {}
        }
    }
    (go_version, mods.into_iter().collect(), main)
}

fn sha256_file(path: &Path) -> String {
    slipway_sbom_sha256(&std::fs::read(path).unwrap())
}

/// `sha256sum`, the independent tool, rather than the code under test.
fn slipway_sbom_sha256(bytes: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("f");
    std::fs::write(&f, bytes).unwrap();
    let sha = require("sha256sum", "coreutils");
    let out = stdout_ok(&Command::new(sha).arg(&f).output().unwrap(), "sha256sum");
    out.split_whitespace().next().unwrap().to_string()
}

/// SPDX packages by SPDXID.
fn packages(doc: &Value) -> BTreeMap<String, Value> {
    doc["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["SPDXID"].as_str().unwrap().to_string(), p.clone()))
        .collect()
}

fn purl(p: &Value) -> Option<String> {
    p["externalRefs"].as_array().and_then(|refs| {
        refs.iter()
            .find(|r| r["referenceType"] == "purl")
            .map(|r| r["referenceLocator"].as_str().unwrap().to_string())
    })
}

/// The SPDX package of the binary whose packageFileName is `path`.
fn binary_package<'a>(pkgs: &'a BTreeMap<String, Value>, path: &str) -> &'a Value {
    pkgs.values()
        .find(|p| p["packageFileName"] == path && p["primaryPackagePurpose"] == "APPLICATION")
        .unwrap_or_else(|| panic!("no package for {path}"))
}

/// The packages a binary CONTAINS or DEPENDS_ON, directly.
fn parts_of<'a>(doc: &Value, pkgs: &'a BTreeMap<String, Value>, id: &str) -> Vec<&'a Value> {
    doc["relationships"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["spdxElementId"] == id)
        .filter_map(|r| pkgs.get(r["relatedSpdxElement"].as_str().unwrap()))
        .collect()
}

/// Check one binary's SPDX content against `go version -m`: the Go modules
/// and the standard library, nothing more, nothing less.
fn assert_modules_match_go(doc: &Value, dist: &Path, rel: &str) {
    let pkgs = packages(doc);
    let bin = binary_package(&pkgs, rel);
    assert_eq!(bin["checksums"][0]["algorithm"], "SHA256");
    assert_eq!(
        bin["checksums"][0]["checksumValue"],
        sha256_file(&dist.join(rel))
    );
    let (go_version, deps, main) = go_version_m(&dist.join(rel));
    let parts = parts_of(doc, &pkgs, bin["SPDXID"].as_str().unwrap());
    let mut got = BTreeSet::new();
    let mut stdlib = None;
    let mut mains = Vec::new();
    for p in parts {
        let Some(purl) = purl(p) else { continue };
        if !purl.starts_with("pkg:golang/") {
            continue;
        }
        let name = p["name"].as_str().unwrap().to_string();
        let version = p["versionInfo"].as_str().unwrap().to_string();
        if name == "stdlib" {
            stdlib = Some((version, purl));
            continue;
        }
        if name == main {
            mains.push(version);
            continue;
        }
        let comment = p["comment"].as_str().unwrap_or("");
        let sum = comment
            .rsplit("h1:")
            .next()
            .filter(|_| comment.contains(": h1:"))
            .map(|s| format!("h1:{}", s.split([';', ' ']).next().unwrap()))
            .unwrap_or_default();
        // The purl says the same as the name and version.
        if version == "(devel)" {
            assert_eq!(purl, format!("pkg:golang/{name}"));
        } else {
            assert_eq!(
                purl,
                format!("pkg:golang/{name}@{}", version.replace('+', "%2B"))
            );
        }
        got.insert((name, version, sum));
    }
    assert_eq!(got, deps, "{rel}: SBOM modules vs go version -m");
    assert_eq!(
        mains,
        vec!["(devel)".to_string()],
        "{rel}: the main module {main}"
    );
    let (v, p) = stdlib.expect("a stdlib package");
    assert_eq!(v, go_version);
    assert_eq!(
        p,
        format!("pkg:golang/stdlib@{}", go_version.trim_start_matches("go"))
    );
}

fn names(doc: &Value) -> BTreeSet<String> {
    packages(doc)
        .values()
        .map(|p| p["name"].as_str().unwrap().to_string())
        .collect()
}

/// The zig slipway uses, and the musl it bundles, read independently of the
/// code under test: `zig env`'s lib_dir and musl's version.h.
fn zig_and_musl() -> (String, String) {
    let python = require("python3", "python3");
    let env = stdout_ok(
        &Command::new(python)
            .args(["-m", "ziglang", "env"])
            .output()
            .unwrap(),
        "python3 -m ziglang env",
    );
    let field = |name: &str| {
        env.lines()
            .find_map(|l| l.trim().strip_prefix(&format!(".{name} = \"")))
            .map(|r| r.trim_end_matches(',').trim_end_matches('"').to_string())
            .unwrap_or_else(|| panic!("zig env has no {name}:\n{env}"))
    };
    let header = std::fs::read_to_string(
        Path::new(&field("lib_dir")).join("libc/musl/src/internal/version.h"),
    )
    .unwrap();
    let musl = header.split('"').nth(1).unwrap().to_string();
    (field("version"), musl)
}

#[test]
fn cgo_musl_sbom_has_the_c_parts_and_pure_go_has_none() {
    let dir = tempfile::tempdir().unwrap();
    let module = hello(dir.path());
    let musl = dir.path().join("dist-musl");
    let pure = dir.path().join("dist-pure");
    build(
        &module,
        &musl,
        &["--platform", "linux/amd64,linux/arm64", "--libc", "musl"],
    );
    build(
        &module,
        &pure,
        &["--platform", "linux/amd64,linux/arm64", "--libc", "none"],
    );
    let (zig_version, musl_version) = zig_and_musl();

    for (dist, cgo) in [(&musl, true), (&pure, false)] {
        let spdx_file = dir.path().join("sbom.spdx.json");
        let cdx_file = dir.path().join("sbom.cdx.json");
        let spdx = sbom(dist, "spdx-json", &spdx_file, &[]);
        let cdx = sbom(dist, "cyclonedx-json", &cdx_file, &[]);
        validate_spdx(&spdx_file);
        validate_cyclonedx(&cdx_file);

        for rel in ["linux_amd64/hello", "linux_arm64/hello"] {
            assert_modules_match_go(&spdx, dist, rel);
        }
        let pkgs = packages(&spdx);
        let c: BTreeMap<String, (Option<String>, String)> = pkgs
            .values()
            .filter(|p| purl(p).is_some_and(|u| u.starts_with("pkg:generic/")))
            .map(|p| {
                (
                    p["name"].as_str().unwrap().to_string(),
                    (
                        p["versionInfo"].as_str().map(String::from),
                        purl(p).unwrap(),
                    ),
                )
            })
            .collect();
        if cgo {
            assert_eq!(
                c,
                BTreeMap::from([
                    (
                        "musl".to_string(),
                        (
                            Some(musl_version.clone()),
                            format!("pkg:generic/musl@{musl_version}")
                        )
                    ),
                    (
                        "zig-compiler-rt".to_string(),
                        (
                            Some(zig_version.clone()),
                            format!("pkg:generic/zig-compiler-rt@{zig_version}")
                        )
                    ),
                ])
            );
            // Both binaries contain the same musl: one package, two CONTAINS.
            let musl_id = pkgs.values().find(|p| p["name"] == "musl").unwrap()["SPDXID"].clone();
            let holders = spdx["relationships"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|r| {
                    r["relatedSpdxElement"] == musl_id && r["relationshipType"] == "CONTAINS"
                })
                .count();
            assert_eq!(holders, 2);
        } else {
            assert!(c.is_empty(), "pure Go has no C parts: {c:?}");
            assert!(!names(&spdx).contains("musl"));
        }

        // CycloneDX says the same: the directory as the subject, the
        // binaries with SHA-256 hashes, every dependency ref resolvable.
        assert_eq!(cdx["specVersion"], "1.6");
        assert!(
            cdx["serialNumber"]
                .as_str()
                .unwrap()
                .starts_with("urn:uuid:")
        );
        assert_eq!(
            cdx["metadata"]["component"]["name"],
            dist.file_name().unwrap().to_str().unwrap()
        );
        let comps = cdx["components"].as_array().unwrap();
        let refs: BTreeSet<&str> = comps
            .iter()
            .map(|c| c["bom-ref"].as_str().unwrap())
            .chain([cdx["metadata"]["component"]["bom-ref"].as_str().unwrap()])
            .collect();
        for d in cdx["dependencies"].as_array().unwrap() {
            assert!(refs.contains(d["ref"].as_str().unwrap()));
            for r in d["dependsOn"].as_array().unwrap() {
                assert!(refs.contains(r.as_str().unwrap()), "dangling {r}");
            }
        }
        let sums = std::fs::read_to_string(dist.join("SHA256SUMS")).unwrap();
        for c in comps.iter().filter(|c| c["type"] == "application") {
            let hash = c["hashes"][0]["content"].as_str().unwrap();
            assert_eq!(c["hashes"][0]["alg"], "SHA-256");
            assert!(sums.contains(hash), "{hash} not in SHA256SUMS:\n{sums}");
        }
        let cdx_names: BTreeSet<String> = comps
            .iter()
            .map(|c| c["name"].as_str().unwrap().to_string())
            .collect();
        let spdx_names: BTreeSet<String> = names(&spdx)
            .into_iter()
            .filter(|n| n != dist.file_name().unwrap().to_str().unwrap())
            .collect();
        assert_eq!(
            cdx_names, spdx_names,
            "both formats list the same components"
        );
        assert_eq!(cdx_names.contains("musl"), cgo);
        assert_eq!(cdx_names.contains("zig-compiler-rt"), cgo);
    }
}

/// Write a module with real dependencies from the Go module proxy: one plain,
/// one replaced by another version, one replaced by a local directory.
fn deps_module(dir: &Path) -> PathBuf {
    let m = dir.join("sbomdeps");
    std::fs::create_dir_all(m.join("local")).unwrap();
    std::fs::write(
        m.join("go.mod"),
        "module example.com/sbomdeps\n\ngo 1.24\n\nrequire (\n\texample.com/sbomdeps/local v0.0.0\n\
         \tgolang.org/x/sync v0.19.0\n\tgolang.org/x/text v0.32.0\n)\n\n\
         replace golang.org/x/sync => golang.org/x/sync v0.16.0\n\n\
         replace example.com/sbomdeps/local => ./local\n",
    )
    .unwrap();
    std::fs::write(
        m.join("main.go"),
        "package main\n\nimport (\n\t\"fmt\"\n\n\t\"example.com/sbomdeps/local\"\n\t\"golang.org/x/sync/errgroup\"\n\
         \t\"golang.org/x/text/cases\"\n\t\"golang.org/x/text/language\"\n)\n\n\
         func main() {\n\tvar g errgroup.Group\n\tg.Go(func() error { return nil })\n\t_ = g.Wait()\n\
         \tfmt.Println(cases.Title(language.English).String(local.Greeting()))\n}\n",
    )
    .unwrap();
    std::fs::write(
        m.join("local/go.mod"),
        "module example.com/sbomdeps/local\n\ngo 1.24\n",
    )
    .unwrap();
    std::fs::write(
        m.join("local/local.go"),
        "package local\n\nfunc Greeting() string { return \"hello from a replaced module\" }\n",
    )
    .unwrap();
    let go = require("go", "golang (Go 1.22+ from go.dev)");
    stdout_ok(
        &Command::new(go)
            .arg("mod")
            .arg("tidy")
            .current_dir(&m)
            .output()
            .unwrap(),
        "go mod tidy (fetches golang.org/x/text and x/sync from the module proxy once)",
    );
    m
}

#[test]
fn dependency_modules_have_purls_and_honest_h1_sums() {
    let dir = tempfile::tempdir().unwrap();
    let module = deps_module(dir.path());
    let dist = dir.path().join("dist");
    build(
        &module,
        &dist,
        &["--platform", "linux/amd64", "--libc", "none"],
    );
    let spdx_file = dir.path().join("deps.spdx.json");
    let cdx_file = dir.path().join("deps.cdx.json");
    let spdx = sbom(&dist, "spdx-json", &spdx_file, &[]);
    let cdx = sbom(&dist, "cyclonedx-json", &cdx_file, &[]);
    validate_spdx(&spdx_file);
    validate_cyclonedx(&cdx_file);
    assert_modules_match_go(&spdx, &dist, "linux_amd64/sbomdeps");

    let go_sum = std::fs::read_to_string(module.join("go.sum")).unwrap();
    let h1 = |path: &str, version: &str| {
        go_sum
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{path} {version} ")))
            .unwrap()
            .to_string()
    };
    let pkgs = packages(&spdx);
    let by_name = |n: &str| pkgs.values().find(|p| p["name"] == n).unwrap().clone();

    let text = by_name("golang.org/x/text");
    assert_eq!(text["versionInfo"], "v0.32.0");
    assert_eq!(purl(&text).unwrap(), "pkg:golang/golang.org/x/text@v0.32.0");
    assert_eq!(
        text["downloadLocation"],
        "https://proxy.golang.org/golang.org/x/text/@v/v0.32.0.zip"
    );
    // The h1: value is said to be a dirhash, never passed off as a file checksum.
    let comment = text["comment"].as_str().unwrap();
    assert!(
        comment.contains(&h1("golang.org/x/text", "v0.32.0")),
        "{comment}"
    );
    assert!(comment.contains("dirhash"), "{comment}");
    assert!(text.get("checksums").is_none());

    // A module replaced by another version: the SBOM names what was built.
    let sync = by_name("golang.org/x/sync");
    assert_eq!(sync["versionInfo"], "v0.16.0");
    assert_eq!(purl(&sync).unwrap(), "pkg:golang/golang.org/x/sync@v0.16.0");
    assert!(
        sync["comment"]
            .as_str()
            .unwrap()
            .contains("replaces golang.org/x/sync v0.19.0")
    );
    assert!(
        sync["comment"]
            .as_str()
            .unwrap()
            .contains(&h1("golang.org/x/sync", "v0.16.0"))
    );

    // A module replaced by a directory has no version to claim.
    let local = by_name("example.com/sbomdeps/local");
    assert_eq!(local["versionInfo"], "(devel)");
    assert_eq!(
        purl(&local).unwrap(),
        "pkg:golang/example.com/sbomdeps/local"
    );
    assert!(local["comment"].as_str().unwrap().contains("./local"));

    // CycloneDX: the h1 sum as a property, not as a hash.
    let comp = cdx["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "golang.org/x/text")
        .unwrap();
    assert_eq!(comp["purl"], "pkg:golang/golang.org/x/text@v0.32.0");
    assert!(comp.get("hashes").is_none());
    let prop = comp["properties"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "slipway:go:sum")
        .unwrap();
    assert_eq!(prop["value"], h1("golang.org/x/text", "v0.32.0"));
    // The main module depends on every module and on the standard library.
    let main_ref = cdx["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "example.com/sbomdeps")
        .unwrap()["bom-ref"]
        .clone();
    let main_deps = cdx["dependencies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["ref"] == main_ref)
        .unwrap()["dependsOn"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(main_deps, 4, "local, sync, text and stdlib");
}

#[test]
fn glibc_sbom_records_the_floor_it_detects_or_is_given() {
    let dir = tempfile::tempdir().unwrap();
    let module = hello(dir.path());
    let dist = dir.path().join("glibc");
    build(
        &module,
        &dist,
        &[
            "--platform",
            "linux/amd64,linux/arm64",
            "--libc",
            "glibc:2.28",
        ],
    );
    let readelf = require("readelf", "binutils-multiarch");
    for (extra, given) in [(&[][..], false), (&["--glibc", "2.28"][..], true)] {
        let file = dir.path().join("g.spdx.json");
        let spdx = sbom(&dist, "spdx-json", &file, extra);
        validate_spdx(&file);
        let cdx_file = dir.path().join("g.cdx.json");
        sbom(&dist, "cyclonedx-json", &cdx_file, extra);
        validate_cyclonedx(&cdx_file);
        let pkgs = packages(&spdx);
        for rel in ["linux_amd64/hello", "linux_arm64/hello"] {
            // The newest GLIBC_x.y the binary needs, from readelf.
            let versions = stdout_ok(
                &Command::new(&readelf)
                    .arg("-V")
                    .arg(dist.join(rel))
                    .output()
                    .unwrap(),
                "readelf -V",
            );
            let mut needed: Vec<Vec<u32>> = versions
                .split_whitespace()
                .filter_map(|w| w.strip_prefix("GLIBC_"))
                .filter_map(|v| v.split('.').map(|n| n.parse().ok()).collect())
                .collect();
            needed.sort();
            let newest = needed
                .last()
                .unwrap()
                .iter()
                .map(|n| n.to_string())
                .collect::<Vec<_>>()
                .join(".");
            let bin = binary_package(&pkgs, rel);
            let parts = parts_of(&spdx, &pkgs, bin["SPDXID"].as_str().unwrap());
            let glibc = parts.iter().find(|p| p["name"] == "glibc").expect("glibc");
            let want = if given {
                "2.28".to_string()
            } else {
                newest.clone()
            };
            assert_eq!(glibc["versionInfo"], want.as_str(), "{rel}");
            assert!(glibc["comment"].as_str().unwrap().contains(&newest));
            assert!(
                parts.iter().any(|p| p["name"] == "zig-compiler-rt"),
                "{rel}"
            );
            assert!(!parts.iter().any(|p| p["name"] == "musl"));
            // glibc comes from the device: a dependency, not a part of the file.
            let rel_type = spdx["relationships"]
                .as_array()
                .unwrap()
                .iter()
                .find(|r| {
                    r["spdxElementId"] == bin["SPDXID"]
                        && r["relatedSpdxElement"] == glibc["SPDXID"]
                })
                .unwrap()["relationshipType"]
                .clone();
            assert_eq!(rel_type, "DEPENDS_ON");
            assert_modules_match_go(&spdx, &dist, rel);
        }
    }
}

#[test]
fn same_binaries_give_the_same_bytes_anywhere() {
    let dir = tempfile::tempdir().unwrap();
    let module = hello(dir.path());
    let built = dir.path().join("built");
    build(
        &module,
        &built,
        &["--platform", "linux/arm64", "--libc", "musl"],
    );
    // Two copies under the same name in different places.
    let a = dir.path().join("a/dist");
    let b = dir.path().join("b/dist");
    copy_tree(&built, &a);
    copy_tree(&built, &b);
    for format in ["spdx-json", "cyclonedx-json"] {
        let run = |path: &Path, cwd: &Path, tz: &str, epoch: Option<&str>| {
            let mut cmd = slipway();
            cmd.arg("sbom")
                .arg(path)
                .args(["--format", format])
                .current_dir(cwd)
                .env("TZ", tz);
            match epoch {
                Some(e) => cmd.env("SOURCE_DATE_EPOCH", e),
                None => cmd.env_remove("SOURCE_DATE_EPOCH"),
            };
            let o = cmd.output().unwrap();
            stdout_ok(&o, "slipway sbom");
            o.stdout
        };
        let one = run(&a, dir.path(), "UTC", None);
        let two = run(&b, &b, "Asia/Kathmandu", None);
        assert_eq!(one, two, "{format}: same binaries, different place and TZ");
        let text = String::from_utf8(one.clone()).unwrap();
        assert!(
            text.contains("1970-01-01T00:00:00Z"),
            "no SOURCE_DATE_EPOCH means 1970"
        );

        let dated = run(&a, dir.path(), "UTC", Some("1700000000"));
        let dated_text = String::from_utf8(dated.clone()).unwrap();
        assert!(dated_text.contains("2023-11-14T22:13:20Z"));
        // The identity follows the content, not the time.
        let id = |doc: &[u8]| {
            let v: Value = serde_json::from_slice(doc).unwrap();
            v.get("documentNamespace")
                .or(v.get("serialNumber"))
                .unwrap()
                .clone()
        };
        assert_eq!(id(&one), id(&dated));

        // One binary by itself is deterministic too, and its identity differs.
        let single_a = run(&a.join("linux_arm64/hello"), dir.path(), "UTC", None);
        let single_b = run(&b.join("linux_arm64/hello"), &b, "America/New_York", None);
        assert_eq!(single_a, single_b);
        assert_ne!(id(&single_a), id(&one));
    }
    // A different binary means a different document identity.
    let other = dir.path().join("other");
    build(
        &module,
        &other,
        &["--platform", "linux/arm64", "--libc", "none"],
    );
    std::fs::rename(&other, dir.path().join("c")).unwrap();
    let c_dist = dir.path().join("c2/dist");
    copy_tree(&dir.path().join("c"), &c_dist);
    let o1 = slipway().arg("sbom").arg(&a).output().unwrap();
    let o2 = slipway().arg("sbom").arg(&c_dist).output().unwrap();
    let ns = |o: &Output| {
        serde_json::from_slice::<Value>(&o.stdout).unwrap()["documentNamespace"].clone()
    };
    assert_ne!(ns(&o1), ns(&o2));
}

#[test]
fn without_a_zig_the_musl_version_is_unknown_not_guessed() {
    let dir = tempfile::tempdir().unwrap();
    let module = hello(dir.path());
    let dist = dir.path().join("dist");
    build(
        &module,
        &dist,
        &["--platform", "linux/amd64", "--libc", "musl"],
    );
    let file = dir.path().join("s.json");
    let missing = dir.path().join("no-such-zig");
    let o = slipway()
        .arg("sbom")
        .arg(&dist)
        .arg("--zig")
        .arg(&missing)
        .arg("--output")
        .arg(&file)
        .output()
        .unwrap();
    stdout_ok(&o, "slipway sbom --zig missing");
    assert!(
        stderr(&o).contains("musl version unknown"),
        "{}",
        stderr(&o)
    );
    validate_spdx(&file);
    let doc: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    let musl = packages(&doc)
        .into_values()
        .find(|p| p["name"] == "musl")
        .expect("musl is still listed");
    assert!(musl.get("versionInfo").is_none());
    assert_eq!(purl(&musl).unwrap(), "pkg:generic/musl");
    assert!(
        doc["comment"]
            .as_str()
            .unwrap()
            .contains("musl version unknown")
    );
}

#[test]
fn bad_input_is_refused_with_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "hello").unwrap();
    // A real ELF file that is not Go: this test binary itself.
    let not_go = std::env::current_exe().unwrap();
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    for (path, needle) in [
        (text.as_path(), "not a Go binary"),
        (not_go.as_path(), "not a Go binary"),
        (empty.as_path(), "no Go binaries"),
        (dir.path().join("missing").as_path(), "no such file"),
    ] {
        let o = slipway().arg("sbom").arg(path).output().unwrap();
        assert_eq!(
            o.status.code(),
            Some(2),
            "{}: {}",
            path.display(),
            stderr(&o)
        );
        assert!(stderr(&o).contains(needle), "{}", stderr(&o));
        assert!(o.stdout.is_empty());
    }
    let o = slipway()
        .arg("sbom")
        .arg(&text)
        .args(["--format", "swid"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("spdx-json or cyclonedx-json"),
        "{}",
        stderr(&o)
    );

    // An output that cannot be written (its directory is a file) is the
    // machine's problem (3).
    let module = hello(dir.path());
    let dist = dir.path().join("dist");
    build(
        &module,
        &dist,
        &["--platform", "linux/amd64", "--libc", "none"],
    );
    let o = slipway()
        .arg("sbom")
        .arg(&dist)
        .arg("--output")
        .arg(text.join("sbom.json"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains("cannot write"), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(&text).unwrap(), "hello");
}

/// The zig executable `slipway build` uses on this machine (PATH, else the
/// ziglang package).
fn zig_exe() -> PathBuf {
    if let Some(p) = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|d| d.join("zig"))
        .find(|p| p.is_file())
    {
        return p;
    }
    let python = require("python3", "python3");
    let dir = stdout_ok(
        &Command::new(python)
            .args([
                "-c",
                "import ziglang, os; print(os.path.dirname(ziglang.__file__))",
            ])
            .output()
            .unwrap(),
        "finding the ziglang package (pip install ziglang)",
    );
    PathBuf::from(dir.trim()).join("zig")
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// The library on an image, the way the image and push commands will use it:
/// `slipway image` writes an OCI layout, its layers are unpacked with tar,
/// and the app and the init inside become an SBOM whose subject is the image.
#[test]
fn an_image_sbom_has_the_image_the_app_and_the_init() {
    use slipway_sbom::{CToolchain, Document, SbomInput, Subject, ZigInfo};

    let dir = tempfile::tempdir().unwrap();
    let module = hello(dir.path());
    let layout = dir.path().join("image");
    let o = slipway()
        .arg("image")
        .arg(&module)
        .args(["--platform", "linux/arm64", "--libc", "musl", "--out"])
        .arg(&layout)
        .output()
        .unwrap();
    stdout_ok(&o, "slipway image");
    let blob = |digest: &str| {
        layout
            .join("blobs/sha256")
            .join(digest.trim_start_matches("sha256:"))
    };
    let outer = read_json(&layout.join("index.json"));
    let index_digest = outer["manifests"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    let index = read_json(&blob(&index_digest));
    let manifest_digest = index["manifests"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    let manifest = read_json(&blob(&manifest_digest));
    let rootfs = dir.path().join("rootfs");
    std::fs::create_dir(&rootfs).unwrap();
    let tar = require("tar", "tar");
    for layer in manifest["layers"].as_array().unwrap() {
        stdout_ok(
            &Command::new(&tar)
                .arg("-xzf")
                .arg(blob(layer["digest"].as_str().unwrap()))
                .arg("-C")
                .arg(&rootfs)
                .output()
                .unwrap(),
            "tar -xzf layer",
        );
    }

    let known = CToolchain {
        zig: Some(ZigInfo::probe(&zig_exe()).expect("zig env")),
        ..CToolchain::default()
    };
    let app = std::fs::read(rootfs.join("app/hello")).unwrap();
    let init = std::fs::read(rootfs.join("sbin/slipway-init")).unwrap();
    let input = SbomInput {
        subject: Subject::Image {
            name: "registry.example:5000/demo/hello:latest".into(),
            index_digest: Some(index_digest.clone()),
            manifest_digest: manifest_digest.clone(),
            platform: "linux/arm64".into(),
        },
        binaries: vec![slipway_sbom::from_binary(&app, "/app/hello", &known).unwrap()],
        init: Some(
            slipway_sbom::init_from_binary(&init, "/sbin/slipway-init", "0.1.0", &known).unwrap(),
        ),
        created: 0,
        tool_name: "slipway".into(),
        tool_version: "0.1.0".into(),
    };
    let spdx_file = dir.path().join("image.spdx.json");
    let cdx_file = dir.path().join("image.cdx.json");
    std::fs::write(&spdx_file, Document::spdx(&input)).unwrap();
    std::fs::write(&cdx_file, Document::cyclonedx(&input)).unwrap();
    validate_spdx(&spdx_file);
    validate_cyclonedx(&cdx_file);

    let spdx = read_json(&spdx_file);
    let pkgs = packages(&spdx);
    let image = pkgs
        .values()
        .find(|p| p["primaryPackagePurpose"] == "CONTAINER")
        .expect("the image package");
    assert_eq!(
        purl(image).unwrap(),
        format!(
            "pkg:oci/hello@{}?arch=arm64&repository_url=registry.example:5000/demo/hello&tag=latest",
            index_digest.replace(':', "%3A")
        )
    );
    let described = spdx["relationships"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["relationshipType"] == "DESCRIBES")
        .unwrap()["relatedSpdxElement"]
        .clone();
    assert_eq!(described, image["SPDXID"]);
    let contained: BTreeSet<String> = parts_of(&spdx, &pkgs, image["SPDXID"].as_str().unwrap())
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        contained,
        BTreeSet::from(["hello".into(), "slipway-init".into()])
    );
    let init_pkg = pkgs.values().find(|p| p["name"] == "slipway-init").unwrap();
    assert_eq!(
        init_pkg["checksums"][0]["checksumValue"],
        sha256_file(&rootfs.join("sbin/slipway-init"))
    );
    let init_parts: BTreeSet<String> = parts_of(&spdx, &pkgs, init_pkg["SPDXID"].as_str().unwrap())
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        init_parts,
        BTreeSet::from(["musl".into(), "zig-compiler-rt".into()])
    );

    let cdx = read_json(&cdx_file);
    assert_eq!(cdx["metadata"]["component"]["type"], "container");
    assert_eq!(
        cdx["metadata"]["component"]["hashes"][0]["content"],
        manifest_digest.trim_start_matches("sha256:")
    );
}

#[test]
fn a_gnu_gcc_build_has_libgcc_and_no_zig_parts() {
    let gcc = require("x86_64-linux-gnu-gcc", "gcc-x86-64-linux-gnu");
    let gcc_version = stdout_ok(
        &Command::new(gcc).arg("-dumpfullversion").output().unwrap(),
        "gcc -dumpfullversion",
    )
    .trim()
    .to_string();
    let dir = tempfile::tempdir().unwrap();
    let module = hello(dir.path());
    let dist = dir.path().join("dist");
    // Debian's gcc links against the system's glibc, so that is the floor.
    let getconf = require("getconf", "libc-bin");
    let floor = stdout_ok(
        &Command::new(getconf)
            .arg("GNU_LIBC_VERSION")
            .output()
            .unwrap(),
        "getconf GNU_LIBC_VERSION",
    )
    .trim()
    .trim_start_matches("glibc ")
    .to_string();
    build(
        &module,
        &dist,
        &[
            "--platform",
            "linux/amd64",
            "--cc",
            "gnu",
            "--libc",
            &format!("glibc:{floor}"),
        ],
    );
    let file = dir.path().join("gnu.spdx.json");
    let spdx = sbom(&dist, "spdx-json", &file, &[]);
    validate_spdx(&file);
    let cdx_file = dir.path().join("gnu.cdx.json");
    sbom(&dist, "cyclonedx-json", &cdx_file, &[]);
    validate_cyclonedx(&cdx_file);
    let pkgs = packages(&spdx);
    let bin = binary_package(&pkgs, "linux_amd64/hello");
    let parts: BTreeMap<String, Option<String>> =
        parts_of(&spdx, &pkgs, bin["SPDXID"].as_str().unwrap())
            .iter()
            .filter(|p| purl(p).is_some_and(|u| u.starts_with("pkg:generic/")))
            .map(|p| {
                (
                    p["name"].as_str().unwrap().to_string(),
                    p["versionInfo"].as_str().map(String::from),
                )
            })
            .collect();
    assert_eq!(parts.get("libgcc"), Some(&Some(gcc_version)), "{parts:?}");
    assert!(parts.contains_key("glibc"), "{parts:?}");
    assert!(
        !parts.contains_key("zig-compiler-rt") && !parts.contains_key("musl"),
        "{parts:?}"
    );
    assert_modules_match_go(&spdx, &dist, "linux_amd64/hello");
}

/// A zig whose clang is not the one named in the binary's `.comment` did not
/// build it: its musl version must not be written down as the binary's.
#[test]
fn a_zig_that_did_not_build_the_binary_is_not_believed() {
    use slipway_sbom::{CToolchain, ZigInfo};

    let dir = tempfile::tempdir().unwrap();
    let module = hello(dir.path());
    let dist = dir.path().join("dist");
    build(
        &module,
        &dist,
        &[
            "--platform",
            "linux/amd64",
            "--libc",
            "musl",
            "--strip",
            "none",
        ],
    );
    let bytes = std::fs::read(dist.join("linux_amd64/hello")).unwrap();
    let real = ZigInfo::probe(&zig_exe()).unwrap();
    let other = CToolchain {
        zig: Some(ZigInfo {
            version: "0.9.1".into(),
            musl_version: Some("1.2.2".into()),
            clang_version: Some("13.0.0".into()),
        }),
        ..CToolchain::default()
    };
    let bin = slipway_sbom::from_binary(&bytes, "hello", &other).unwrap();
    let musl = bin.c_parts.iter().find(|p| p.name == "musl").unwrap();
    assert_eq!(musl.version, None);
    assert!(
        bin.notes.iter().any(|n| n.contains("clang 13.0.0")),
        "{:?}",
        bin.notes
    );
    let rt = bin
        .c_parts
        .iter()
        .find(|p| p.name == "zig-compiler-rt")
        .unwrap();
    assert_eq!(rt.version, None);

    // The zig that did build it is believed.
    let known = CToolchain {
        zig: Some(real.clone()),
        ..CToolchain::default()
    };
    let bin = slipway_sbom::from_binary(&bytes, "hello", &known).unwrap();
    let musl = bin.c_parts.iter().find(|p| p.name == "musl").unwrap();
    assert_eq!(musl.version, real.musl_version);
    assert!(bin.notes.is_empty(), "{:?}", bin.notes);
}
