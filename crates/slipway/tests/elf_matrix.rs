//! Strip and split real Go binaries for every architecture family slipway
//! targets (32/64-bit, little/big-endian), and check the results with the
//! tools people already trust: qemu runs them, readelf reads them, gdb on
//! amd64 follows the debuglink, and `go version -m` agrees with inspect.

mod elf_common;

use std::path::Path;

use elf_common::*;
use slipway_platform::Arch;
use slipway_testkit::{require, run_on, stdout_ok};

/// The programs: the bundled example (pure Go) and a large stdlib-heavy one.
fn programs() -> [(
    &'static str,
    std::path::PathBuf,
    &'static [&'static str],
    &'static str,
); 2] {
    [
        (
            "hello",
            slipway_testkit::example("hello"),
            &["--once"],
            "hello from linux/",
        ),
        ("bigprog", fixture("bigprog"), &[], "bigprog ok "),
    ]
}

fn check_arch(arch: Arch, env: &[(&str, &str)]) {
    let dir = tempfile::tempdir().unwrap();
    let mut go_env = vec![("GOARCH", arch.goarch())];
    go_env.extend_from_slice(env);
    for (name, module, args, expect) in programs() {
        let original = dir.path().join(format!("{name}.orig"));
        go_build(&module, &go_env, &original);
        let size = std::fs::metadata(&original).unwrap().len();
        if name == "bigprog" {
            assert!(
                size >= 8 << 20,
                "{name} for {arch} is only {size} bytes: not a large binary"
            );
        }
        check_binary(arch, &original, name, args, expect);
    }
}

fn check_binary(arch: Arch, original: &Path, name: &str, args: &[&str], expect: &str) {
    let what = format!("{name} for {arch}");
    let info = inspect_json(original);
    assert_eq!(info["arch"], arch.goarch(), "{what}");
    let big = matches!(arch, Arch::Mips | Arch::S390x | Arch::Ppc64 | Arch::Mips64);
    assert_eq!(info["endian"], if big { "big" } else { "little" }, "{what}");
    assert_eq!(info["static"], true, "{what}: CGO_ENABLED=0 is static");
    assert!(
        info["sections"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["name"].as_str().is_some_and(|n| n.starts_with(".debug_")))
    );
    assert_go_info_matches(original, &info);

    let out_dir = original.parent().unwrap().join(format!("{name}-out"));
    std::fs::create_dir_all(&out_dir).unwrap();
    let stripped = out_dir.join(name);
    let debug = out_dir.join(format!("{name}.debug"));
    stdout_ok(
        &run(slipway()
            .arg("strip")
            .arg(original)
            .arg("-o")
            .arg(&stripped)
            .arg("--debug-out")
            .arg(&debug)),
        &format!("slipway strip {what}"),
    );

    // It still runs, under qemu-user for foreign architectures.
    let ran = run_on(arch, &stripped, args, None);
    let text = stdout_ok(&ran, &format!("running stripped {what}"));
    assert!(text.starts_with(expect), "{what} printed {text:?}");

    // readelf: no DWARF or symbols left, a debuglink naming the debug file with its CRC.
    let names = section_names(&stripped);
    for n in &names {
        assert!(
            !n.starts_with(".debug")
                && !n.starts_with(".zdebug")
                && n != ".symtab"
                && n != ".strtab",
            "{what}: {n} survived stripping: {names:?}"
        );
    }
    assert!(
        names.iter().any(|n| n == ".gnu_debuglink"),
        "{what}: {names:?}"
    );
    let links = readelf(&["--debug-dump=links"], &stripped);
    assert!(
        links.contains(&format!("Separate debug info file: {name}.debug")),
        "{links}"
    );
    let crc = crc32(&debug);
    assert!(
        links.contains(&format!("CRC value: {crc:#x}")),
        "{what}: crc {crc:#x} not in {links}"
    );
    let stripped_info = inspect_json(&stripped);
    assert_eq!(stripped_info["debuglink"]["crc"], crc, "{what}");
    assert_eq!(
        stripped_info["go"], info["go"],
        "{what}: build info must survive stripping"
    );
    assert_eq!(
        stripped_info["build_id"], info["build_id"],
        "{what}: build id note kept"
    );
    assert!(
        std::fs::metadata(&stripped).unwrap().len() < std::fs::metadata(original).unwrap().len()
    );

    // The debug file: DWARF and symbols with data, loaded sections as NOBITS.
    let types = section_types(&debug);
    let kind = |n: &str| {
        types
            .iter()
            .find(|(name, _)| name == n)
            .map(|(_, t)| t.as_str())
    };
    assert_eq!(kind(".text"), Some("NOBITS"), "{what}: {types:?}");
    assert_eq!(kind(".symtab"), Some("SYMTAB"), "{what}: {types:?}");
    assert!(
        types
            .iter()
            .any(|(n, t)| n == ".debug_info" && t != "NOBITS"),
        "{what}: {types:?}"
    );
    // readelf can decode the (still compressed) DWARF of the debug file.
    let dwarf = readelf(&["--debug-dump=info"], &debug);
    assert!(dwarf.contains("DW_TAG_compile_unit"), "{what}");

    if arch == Arch::Amd64 {
        let gdb = require("gdb", "gdb");
        let out = run(std::process::Command::new(gdb)
            .args(["-nx", "-batch", "-iex", "set auto-load python-scripts off"])
            .args([
                "-ex",
                "info line main.main",
                "-ex",
                "info address main.main",
            ])
            .arg(&stripped));
        let text = stdout_ok(&out, "gdb");
        assert!(
            text.contains("main.go\" starts at address")
                && text.contains("Symbol \"main.main\" is a function at address"),
            "{what}: gdb did not resolve main.main through the debuglink:\n{text}"
        );
    }
}

#[test]
fn amd64() {
    check_arch(Arch::Amd64, &[]);
}

#[test]
fn arm64() {
    check_arch(Arch::Arm64, &[]);
}

#[test]
fn arm_v7() {
    check_arch(Arch::Arm, &[("GOARM", "7")]);
}

#[test]
fn riscv64() {
    check_arch(Arch::Riscv64, &[]);
}

#[test]
fn mips_big_endian_softfloat() {
    check_arch(Arch::Mips, &[("GOMIPS", "softfloat")]);
}

#[test]
fn mipsle() {
    check_arch(Arch::Mipsle, &[]);
}

#[test]
fn s390x_big_endian() {
    check_arch(Arch::S390x, &[]);
}

#[test]
fn ppc64le() {
    check_arch(Arch::Ppc64le, &[]);
}
