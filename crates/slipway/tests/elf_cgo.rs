//! The ELF toolkit on binaries that are not plain Go: cgo linked by zig
//! against musl and glibc, a gcc-built C program, a distribution binary; and
//! the post-link policy of `slipway build` (split by default, strip, none,
//! static, glibc floor).

mod elf_common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use elf_common::*;
use serde_json::Value;
use slipway_platform::{Arch, Libc, Target};
use slipway_testkit::{copy_tree, example, require, run_on, stdout_ok};

/// A private copy of the example, so parallel tests never share a staging dir.
fn example_copy(dir: &Path) -> PathBuf {
    let module = dir.join("hello");
    copy_tree(&example("hello"), &module);
    module
}

fn build(module: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    run(slipway()
        .arg("build")
        .arg(module)
        .arg("--out")
        .arg(out)
        .args(extra))
}

#[test]
fn zig_musl_cgo_build_splits_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let module = example_copy(dir.path());
    let out = dir.path().join("dist");
    stdout_ok(
        &build(
            &module,
            &out,
            &["--platform", "linux/amd64,linux/arm64", "--libc", "musl"],
        ),
        "slipway build --libc musl",
    );
    let sums = std::fs::read_to_string(out.join("SHA256SUMS")).unwrap();
    for (arch, dir_name) in [(Arch::Amd64, "linux_amd64"), (Arch::Arm64, "linux_arm64")] {
        let bin = out.join(dir_name).join("hello");
        let debug = out.join(dir_name).join("hello.debug");
        assert!(sums.contains(&format!("{dir_name}/hello\n")), "{sums}");
        assert!(
            sums.contains(&format!("{dir_name}/hello.debug\n")),
            "{sums}"
        );
        let info = inspect_json(&bin);
        assert_eq!(info["static"], true);
        assert_eq!(info["interpreter"], Value::Null);
        assert_eq!(info["go"]["settings"]["CGO_ENABLED"], "1");
        assert_go_info_matches(&bin, &info);
        assert_eq!(info["debuglink"]["file"], "hello.debug");
        assert_eq!(info["debuglink"]["crc"], crc32(&debug));
        assert!(
            !section_names(&bin)
                .iter()
                .any(|n| n.starts_with(".debug") || n == ".symtab")
        );
        assert!(section_names(&debug).iter().any(|n| n == ".debug_info"));
        let text = stdout_ok(&run_on(arch, &bin, &["--once"], None), "hello --once");
        assert!(text.contains("c=musl"), "{text}");
    }

    // gdb resolves the C part of a cgo binary through the debuglink, too.
    let gdb = require("gdb", "gdb");
    let text = stdout_ok(
        &run(Command::new(gdb)
            .args(["-nx", "-batch", "-iex", "set auto-load python-scripts off"])
            .args([
                "-ex",
                "info line main.main",
                "-ex",
                "info line describe_libc",
            ])
            .arg(out.join("linux_amd64/hello"))),
        "gdb",
    );
    assert!(text.matches("starts at address").count() >= 2, "{text}");

    // strip = none ships the binary as linked and removes the stale debug file.
    stdout_ok(
        &build(
            &module,
            &out,
            &[
                "--platform",
                "linux/amd64",
                "--libc",
                "musl",
                "--strip",
                "none",
            ],
        ),
        "slipway build --strip none",
    );
    assert!(!out.join("linux_amd64/hello.debug").exists());
    let names = section_names(&out.join("linux_amd64/hello"));
    assert!(names.iter().any(|n| n == ".debug_info") && names.iter().any(|n| n == ".symtab"));

    // strip = strip: small, no debug file, no symbols; slipway.toml can say so.
    std::fs::write(
        module.join("slipway.toml"),
        "[build]\nplatforms = [\"linux/amd64\"]\nlibc = \"musl\"\nstrip = \"strip\"\n",
    )
    .unwrap();
    stdout_ok(
        &build(&module, &out, &[]),
        "slipway build with strip = \"strip\"",
    );
    assert!(!out.join("linux_amd64/hello.debug").exists());
    let names = section_names(&out.join("linux_amd64/hello"));
    assert!(
        !names
            .iter()
            .any(|n| n.starts_with(".debug") || n == ".symtab" || n == ".gnu_debuglink")
    );

    let bad = build(&module, &out, &["--strip", "some"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("use split, strip or none"));
}

/// Versions per library from `readelf -V` (`File: libc.so.6` ... `Name: GLIBC_2.34`).
fn readelf_version_needs(file: &Path) -> Vec<(String, BTreeSet<String>)> {
    let text = readelf(&["-V"], file);
    let mut out: Vec<(String, BTreeSet<String>)> = Vec::new();
    let mut in_needs = false;
    for line in text.lines() {
        if line.contains("Version needs section") {
            in_needs = true;
            continue;
        }
        if line.starts_with("Version") {
            in_needs = false;
        }
        if !in_needs {
            continue;
        }
        if let Some(rest) = line.split("File: ").nth(1) {
            out.push((
                rest.split_whitespace().next().unwrap().to_string(),
                BTreeSet::new(),
            ));
        } else if let Some(rest) = line.split("Name: ").nth(1) {
            let name = rest.split_whitespace().next().unwrap().to_string();
            out.last_mut().expect("a File line first").1.insert(name);
        }
    }
    out
}

/// `GLIBC_2.34` → `[2, 34]`, read here rather than with slipway's own parser,
/// so the expectations come from readelf's text alone.
fn glibc_parts(name: &str) -> Option<Vec<u32>> {
    name.strip_prefix("GLIBC_")?
        .split('.')
        .map(|p| p.parse().ok())
        .collect()
}

fn max_glibc(names: impl Iterator<Item = String>) -> Option<String> {
    names
        .filter_map(|n| glibc_parts(&n))
        .max()
        .map(|v| v.iter().map(u32::to_string).collect::<Vec<_>>().join("."))
}

fn check_glibc_against_readelf(bin: &Path) -> Value {
    let info = inspect_json(bin);
    let want = readelf_version_needs(bin);
    assert!(
        !want.is_empty(),
        "{}: readelf -V found no version needs",
        bin.display()
    );
    let got: Vec<(String, BTreeSet<String>)> = info["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["file"].as_str().unwrap().to_string(),
                l["versions"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_str().unwrap().to_string())
                    .collect(),
            )
        })
        .collect();
    assert_eq!(got, want, "{}", bin.display());
    let all = want.iter().flat_map(|(_, v)| v.iter().cloned());
    assert_eq!(
        info["glibc_max"],
        max_glibc(all).map(Value::from).unwrap_or(Value::Null)
    );
    let needed: Vec<String> = readelf(&["-d"], bin)
        .lines()
        .filter(|l| l.contains("(NEEDED)"))
        .filter_map(|l| Some(l.split('[').nth(1)?.trim_end_matches(']').to_string()))
        .collect();
    assert_eq!(info["needed"], serde_json::json!(needed));
    info
}

#[test]
fn glibc_floor_agrees_with_readelf_and_fails_the_build() {
    let dir = tempfile::tempdir().unwrap();
    let module = example_copy(dir.path());

    // zig caps the symbol versions at the floor.
    let out = dir.path().join("dist");
    stdout_ok(
        &build(
            &module,
            &out,
            &["--platform", "linux/amd64", "--libc", "glibc:2.28"],
        ),
        "slipway build --libc glibc:2.28",
    );
    let capped = check_glibc_against_readelf(&out.join("linux_amd64/hello"));
    assert_eq!(capped["static"], false);
    assert_eq!(capped["interpreter"], "/lib64/ld-linux-x86-64.so.2");
    let readelf_max = max_glibc(
        readelf_version_needs(&out.join("linux_amd64/hello"))
            .into_iter()
            .flat_map(|(_, v)| v),
    )
    .expect("readelf -V names a GLIBC_ version");
    assert!(
        glibc_parts(&format!("GLIBC_{readelf_max}")).unwrap() <= vec![2, 28],
        "{readelf_max}"
    );

    // The host's gcc links against its own glibc (2.34+ for pthread_create).
    let host = dir.path().join("hello-host");
    let go = require("go", "golang");
    stdout_ok(
        &run(Command::new(go)
            .current_dir(&module)
            .env("CGO_ENABLED", "1")
            .env("CC", require("gcc", "gcc"))
            .args(["build", "-o"])
            .arg(&host)
            .arg(".")),
        "go build with the host gcc",
    );
    let info = check_glibc_against_readelf(&host);
    assert_eq!(info["glibc_private"], false);

    // The build's post-link check on that binary names the offending symbols.
    let cache = slipway_toolchain::CacheDir::resolve(None);
    let go = slipway_toolchain::GoToolchain::discover(None).unwrap();
    let exe = Path::new(env!("CARGO_BIN_EXE_slipway"));
    let mut compilers = slipway_toolchain::CCompilers::new(&cache, None, exe);
    let target = Target::new(
        "linux/amd64".parse().unwrap(),
        "glibc:2.28".parse::<Libc>().unwrap(),
    );
    let request = slipway_build::BuildRequest {
        module_dir: module.clone(),
        package: ".".into(),
        name: None,
        targets: vec![target.clone()],
        cc: slipway_platform::CCompiler::Zig,
        out_dir: dir.path().join("unused"),
        tags: vec![],
        ldflags: vec![],
        env: Default::default(),
        buildvcs: false,
        strip: slipway_build::StripPolicy::Split,
        c_settings: Default::default(),
        musl_stack: slipway_toolchain::MUSL_THREAD_STACK_DEFAULT,
        allocator: slipway_alloc::Allocator::Libc,
    };
    let plan = slipway_build::plan(&request, &go, &mut compilers, &cache).unwrap();
    let data = std::fs::read(&host).unwrap();
    let err = slipway_build::check(&plan, &target, &data).unwrap_err();
    let msg = err.to_string();
    let dynsyms = readelf(&["--dyn-syms", "-W"], &host);
    let offending: Vec<&str> = dynsyms
        .lines()
        .filter_map(|l| l.split_whitespace().find(|w| w.contains("@GLIBC_")))
        .filter(|s| {
            s.split_once("@GLIBC_")
                .and_then(|(_, v)| glibc_parts(&format!("GLIBC_{}", v.trim_start_matches('@'))))
                .is_some_and(|v| v > vec![2, 28])
        })
        .collect();
    assert!(!offending.is_empty(), "{dynsyms}");
    let host_max = max_glibc(
        readelf_version_needs(&host)
            .into_iter()
            .flat_map(|(_, v)| v),
    )
    .expect("readelf -V names a GLIBC_ version");
    assert!(msg.contains(&format!("needs glibc {host_max}")), "{msg}");
    for sym in offending.iter().take(5) {
        let name = sym.split('@').next().unwrap();
        assert!(msg.contains(name), "{msg} does not name {name}");
    }
    assert_eq!(err.kind(), slipway_build::ErrorKind::Build);
    // A floor at the host's glibc passes.
    let at_host = Target::new(
        "linux/amd64".parse().unwrap(),
        format!("glibc:{host_max}").parse::<Libc>().unwrap(),
    );
    slipway_build::check(&plan, &at_host, &data).unwrap();
    // And a static promise fails on it.
    let musl = Target::new("linux/amd64".parse().unwrap(), Libc::Musl);
    let err = slipway_build::check(&plan, &musl, &data)
        .unwrap_err()
        .to_string();
    assert!(err.contains("must be static"), "{err}");
}

#[test]
fn gcc_c_binary_and_a_distribution_binary() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("hello.c");
    std::fs::write(
        &src,
        "#include <stdio.h>\nstatic int twice(int x) { return 2 * x; }\nint main(void) {\n  printf(\"c says %d\\n\", twice(21));\n  return 0;\n}\n",
    )
    .unwrap();
    let bin = dir.path().join("hello");
    let gcc = require("gcc", "gcc");
    stdout_ok(
        &run(Command::new(gcc)
            .args(["-g", "-O0", "-Wl,--build-id", "-o"])
            .arg(&bin)
            .arg(&src)),
        "gcc",
    );
    let info = check_glibc_against_readelf(&bin);
    assert_eq!(info["go"], Value::Null);
    assert_eq!(info["pie"], true);
    assert_eq!(info["relro"], true);
    assert_eq!(info["nx_stack"], true);
    assert!(info["build_id"].is_string());
    let build_id = readelf(&["-n"], &bin);
    assert!(
        build_id.contains(info["build_id"].as_str().unwrap()),
        "{build_id}"
    );

    // --mode debug keeps the symbol table, drops DWARF.
    let out = dir.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    stdout_ok(
        &run(slipway()
            .arg("strip")
            .arg(&bin)
            .arg("-o")
            .arg(out.join("hello"))
            .args(["--mode", "debug", "--debug-out"])
            .arg(out.join("hello.debug"))),
        "slipway strip --mode debug",
    );
    let names = section_names(&out.join("hello"));
    assert!(names.iter().any(|n| n == ".symtab"), "{names:?}");
    assert!(!names.iter().any(|n| n.starts_with(".debug")), "{names:?}");
    let text = stdout_ok(
        &run(&mut Command::new(out.join("hello"))),
        "stripped C binary",
    );
    assert_eq!(text, "c says 42\n");
    let gdb = require("gdb", "gdb");
    let text = stdout_ok(
        &run(Command::new(gdb)
            .args([
                "-nx",
                "-batch",
                "-ex",
                "info line twice",
                "-ex",
                "info line main",
            ])
            .arg(out.join("hello"))),
        "gdb",
    );
    assert!(
        text.matches("hello.c\" starts at address").count() == 2,
        "{text}"
    );

    // A binary from the distribution: already stripped, PIE, not Go.
    let system = require("readelf", "binutils-multiarch");
    let info = check_glibc_against_readelf(&system);
    assert_eq!(info["go"], Value::Null);
    assert_eq!(info["arch"], "amd64");
    let copy = dir.path().join("readelf-copy");
    stdout_ok(
        &run(slipway().arg("strip").arg(&system).arg("-o").arg(&copy)),
        "slipway strip of a system binary",
    );
    let text = stdout_ok(
        &run(Command::new(&copy).arg("--version")),
        "stripped readelf",
    );
    assert!(text.contains("GNU readelf"));
}

#[test]
fn bad_input_is_a_clear_error_and_leaves_no_output() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "just text\n").unwrap();
    let out = run(slipway().arg("inspect").arg(&text));
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("notes.txt") && err.contains("not an ELF file"),
        "{err}"
    );

    let gcc_bin = std::fs::read(require("readelf", "binutils-multiarch")).unwrap();
    let cut = dir.path().join("cut");
    std::fs::write(&cut, &gcc_bin[..gcc_bin.len() / 2]).unwrap();
    let target = dir.path().join("out");
    let out = run(slipway()
        .arg("strip")
        .arg(&cut)
        .arg("-o")
        .arg(&target)
        .arg("--debug-out")
        .arg(dir.path().join("out.debug")));
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("past the end of the file") && err.contains("nothing was written"),
        "{err}"
    );
    assert!(!target.exists() && !dir.path().join("out.debug").exists());
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers.len(), 2, "{leftovers:?}");

    let missing = run(slipway().arg("inspect").arg(dir.path().join("nope")));
    assert_eq!(missing.status.code(), Some(3));
}
