//! `slipway build` end to end: the real Go toolchain and zig build the bundled
//! example, qemu-user runs every result, readelf checks how it was linked.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use slipway_platform::{Arch, Platform};
use slipway_testkit::{copy_tree, example, require, run_on, stdout_ok};

fn slipway() -> Command {
    Command::new(assert_cmd::cargo::cargo_bin!("slipway"))
}

/// `slipway build MODULE ARGS... [--out OUT]`, run to completion.
fn build_cmd(module: &Path, args: &[&str], out: Option<&Path>) -> Output {
    let mut cmd = slipway();
    cmd.arg("build").arg(module).args(args);
    if let Some(out) = out {
        cmd.arg("--out").arg(out);
    }
    cmd.output().unwrap()
}

/// `slipway build --json` of the example into `out`; returns the artifacts.
fn build(module: &Path, platforms: &str, libc: &str, out: &Path) -> Vec<Value> {
    let output = build_cmd(
        module,
        &["--platform", platforms, "--libc", libc, "--json"],
        Some(out),
    );
    let stdout = stdout_ok(&output, &format!("slipway build {platforms} --libc {libc}"));
    let json: Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("stdout is not only JSON ({e}):\n{stdout}"));
    json["artifacts"]
        .as_array()
        .expect("artifacts array")
        .clone()
}

fn exit_code(out: &Output) -> i32 {
    out.status.code().expect("exited normally")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn readelf(args: &[&str], file: &Path) -> String {
    let readelf = require("readelf", "binutils");
    stdout_ok(
        &Command::new(readelf).args(args).arg(file).output().unwrap(),
        "readelf",
    )
}

/// Run every artifact on its architecture and check what it says about itself.
fn run_all(artifacts: &[Value], expect_c: &str, sysroot: Option<&Path>) {
    for a in artifacts {
        let platform: Platform = a["platform"].as_str().unwrap().parse().unwrap();
        let path = PathBuf::from(a["path"].as_str().unwrap());
        assert!(path.is_absolute(), "{path:?}");
        let out = run_on(platform.arch, &path, &["--once"], sysroot);
        let text = stdout_ok(&out, &format!("{platform} binary"));
        let cgo = expect_c != "none";
        let want = format!(
            "hello from linux/{} cgo={cgo} c={expect_c}",
            platform.arch.goarch()
        );
        assert_eq!(text.trim(), want, "{platform}");
    }
}

fn assert_static(artifacts: &[Value]) {
    for a in artifacts {
        let path = Path::new(a["path"].as_str().unwrap());
        let headers = readelf(&["-lW"], path);
        assert!(
            !headers.contains("INTERP"),
            "{} has a program interpreter:\n{headers}",
            path.display()
        );
    }
}

#[test]
fn musl_cgo_binaries_are_static_and_run_on_every_target() {
    let tmp = tempfile::tempdir().unwrap();
    let platforms = "linux/amd64,linux/arm64,linux/arm/v7,linux/riscv64,linux/mipsle/softfloat";
    let artifacts = build(&example("hello"), platforms, "musl", tmp.path());
    assert_eq!(artifacts.len(), 5);
    for a in &artifacts {
        assert_eq!(a["libc"], "musl");
        assert_eq!(a["sha256"].as_str().unwrap().len(), 64);
    }
    assert_static(&artifacts);
    run_all(&artifacts, "musl", None);
    // The soft-float MIPS build keeps its DWARF (retyped to SHT_MIPS_DWARF at
    // link time): split off into hello.debug, the shipped binary stripped.
    let mipsle = tmp.path().join("linux_mipsle_softfloat/hello");
    let debug = readelf(
        &["-SW"],
        &tmp.path().join("linux_mipsle_softfloat/hello.debug"),
    );
    assert!(
        debug.contains(".debug_info") && debug.contains("MIPS_DWARF"),
        "{debug}"
    );
    assert!(
        !readelf(&["-SW"], &mipsle).contains(".debug_info"),
        "the shipped binary is stripped"
    );
    let attributes = readelf(&["-A"], &mipsle);
    assert!(attributes.contains("FP ABI: Soft float"), "{attributes}");
    // SHA256SUMS lists every binary in `sha256sum -c` form.
    let sums = std::fs::read_to_string(tmp.path().join("SHA256SUMS")).unwrap();
    assert_eq!(
        sums.lines().count(),
        10,
        "a binary and its .debug per target:\n{sums}"
    );
    let check = Command::new("sha256sum")
        .arg("-c")
        .arg("SHA256SUMS")
        .current_dir(tmp.path())
        .output()
        .unwrap();
    stdout_ok(&check, "sha256sum -c");
}

#[test]
fn pure_go_binaries_run_on_big_endian_and_old_targets() {
    let tmp = tempfile::tempdir().unwrap();
    let platforms = "linux/s390x,linux/ppc64le,linux/mips64,linux/386,linux/arm/v5";
    let artifacts = build(&example("hello"), platforms, "none", tmp.path());
    assert_eq!(artifacts.len(), 5);
    assert_static(&artifacts);
    run_all(&artifacts, "none", None);
    // arm/v5 really is ARMv5 code: Go records GOARM=5 in the build info.
    let info = Command::new("go")
        .args(["version", "-m"])
        .arg(tmp.path().join("linux_arm_v5/hello"))
        .output()
        .unwrap();
    assert!(stdout_ok(&info, "go version -m").contains("GOARM=5"));
}

#[test]
fn glibc_floor_binary_needs_nothing_newer_than_2_28() {
    let tmp = tempfile::tempdir().unwrap();
    let artifacts = build(&example("hello"), "linux/arm64", "glibc:2.28", tmp.path());
    let path = PathBuf::from(artifacts[0]["path"].as_str().unwrap());
    let headers = readelf(&["-lW"], &path);
    assert!(
        headers.contains("ld-linux-aarch64.so.1"),
        "dynamic against glibc:\n{headers}"
    );
    let versions = readelf(&["-VW"], &path);
    let mut newest = (0u32, 0u32);
    for word in versions.split_whitespace() {
        if let Some(v) = word.strip_prefix("GLIBC_") {
            assert_ne!(v, "PRIVATE", "needs GLIBC_PRIVATE:\n{versions}");
            let mut parts = v.split('.').map(|p| p.parse::<u32>().unwrap());
            newest = newest.max((parts.next().unwrap(), parts.next().unwrap()));
        }
    }
    assert!(
        newest > (2, 0),
        "no glibc symbol versions found:\n{versions}"
    );
    assert!(
        newest <= (2, 28),
        "needs GLIBC_{}.{} > 2.28:\n{versions}",
        newest.0,
        newest.1
    );
    // It runs against Debian's newer arm64 glibc, and was compiled against 2.28's headers.
    let sysroot = Path::new("/usr/aarch64-linux-gnu");
    require("qemu-aarch64", "qemu-user");
    assert!(
        sysroot.join("lib/ld-linux-aarch64.so.1").exists(),
        "install libc6-arm64-cross (scripts/setup.sh)"
    );
    let out = run_on(Arch::Arm64, &path, &["--once"], Some(sysroot));
    let text = stdout_ok(&out, "arm64 glibc binary");
    assert!(
        text.starts_with("hello from linux/arm64 cgo=true c=glibc-2.28(runtime-2."),
        "{text}"
    );
}

#[test]
fn invalid_combinations_fail_before_go_runs_and_leave_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let cases: &[(&str, &str, &str)] = &[
        (
            "linux/mips64/softfloat",
            "musl",
            "zig ships no soft-float mips64 C library",
        ),
        ("linux/ppc64", "musl", "linux/ppc64 has no cgo in Go"),
        (
            "linux/arm64/v7",
            "none",
            "`v7` in `linux/arm64/v7` is a variant of arm, not of arm64",
        ),
        ("linux/aarch64", "none", "did you mean linux/arm64?"),
        ("linux/riscv64", "glibc:2.26", "older than 2.27"),
        ("linux/arm64", "glibc", "glibc needs the oldest version"),
        ("windows/amd64", "none", "slipway builds for linux only"),
    ];
    for (platform, libc, message) in cases {
        // A go that does not exist proves the check happens before go is looked for.
        let result = build_cmd(
            &example("hello"),
            &[
                "--go",
                "/nonexistent/go",
                "--platform",
                platform,
                "--libc",
                libc,
            ],
            Some(&out),
        );
        assert_eq!(
            exit_code(&result),
            2,
            "{platform} {libc}: {}",
            stderr(&result)
        );
        assert!(
            stderr(&result).contains(message),
            "{platform} {libc}: {}",
            stderr(&result)
        );
        assert!(result.stdout.is_empty());
        assert!(!out.exists(), "{platform} {libc} created the out dir");
    }
}

#[test]
fn same_source_from_different_places_gives_identical_binaries() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let src_a = a.path().join("src");
    let src_b = b.path().join("a/much/longer/path/to/the/module");
    copy_tree(&example("hello"), &src_a);
    copy_tree(&example("hello"), &src_b);
    let platforms = "linux/arm64,linux/mipsle/softfloat,linux/amd64";
    let run = |src: &Path, out: &Path, umask: &str, tz: &str| {
        let exe = assert_cmd::cargo::cargo_bin!("slipway");
        let script = format!(
            "umask {umask}; exec \"$0\" build \"$1\" --platform {platforms} --libc musl --out \"$2\""
        );
        let output = Command::new("sh")
            .arg("-c")
            .arg(script)
            .arg(exe)
            .arg(src)
            .arg(out)
            .env("TZ", tz)
            .output()
            .unwrap();
        stdout_ok(&output, "slipway build");
        std::fs::read_to_string(out.join("SHA256SUMS")).unwrap()
    };
    let sums_a = run(&src_a, &a.path().join("out"), "022", "UTC");
    let sums_b = run(&src_b, &b.path().join("dist"), "077", "Pacific/Chatham");
    assert_eq!(sums_a.lines().count(), 6, "binaries and debug files");
    assert_eq!(sums_a, sums_b, "builds from different paths differ");
    // Modes are fixed, whatever the umask.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(b.path().join("dist/linux_arm64/hello"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o755);
}

#[test]
fn inherited_build_knobs_are_dropped_with_a_warning() {
    let tmp = tempfile::tempdir().unwrap();
    let output = slipway()
        .arg("build")
        .arg(example("hello"))
        .args(["--platform", "linux/amd64", "--libc", "none", "--out"])
        .arg(tmp.path())
        .env("GOARCH", "arm")
        .env("GOARM", "5")
        .env("CGO_ENABLED", "1")
        .env("CC", "/nonexistent/cc")
        .output()
        .unwrap();
    stdout_ok(&output, "slipway build with stray knobs");
    let err = stderr(&output);
    assert!(
        err.contains("ignoring CC, CGO_ENABLED, GOARCH, GOARM from the environment"),
        "{err}"
    );
    let run = Command::new(tmp.path().join("linux_amd64/hello"))
        .arg("--once")
        .output()
        .unwrap();
    assert_eq!(
        stdout_ok(&run, "hello").trim(),
        "hello from linux/amd64 cgo=false c=none"
    );
}

/// A scratch Go module with one file.
fn module(dir: &Path, source: &str) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(
        dir.join("go.mod"),
        "module example.com/scratch\n\ngo 1.22\n",
    )
    .unwrap();
    std::fs::write(dir.join("main.go"), source).unwrap();
    dir.to_path_buf()
}

#[test]
fn compile_errors_fail_the_build_and_keep_the_previous_output() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let good = module(
        &tmp.path().join("m"),
        "package main\n\nfunc main() { println(\"v1\") }\n",
    );
    build(&good, "linux/amd64,linux/arm64", "none", &out);
    let before = std::fs::read(out.join("linux_amd64/scratch")).unwrap();
    let sums_before = std::fs::read_to_string(out.join("SHA256SUMS")).unwrap();

    std::fs::write(
        good.join("main.go"),
        "package main\n\nfunc main() { undefinedThing() }\n",
    )
    .unwrap();
    let result = build_cmd(
        &good,
        &["--platform", "linux/amd64,linux/arm64"],
        Some(&out),
    );
    assert_eq!(exit_code(&result), 1, "{}", stderr(&result));
    let err = stderr(&result);
    assert!(err.contains("2 of 2 targets failed"), "{err}");
    assert!(
        err.contains("go build failed for linux/arm64 (none)"),
        "{err}"
    );
    assert!(err.contains("undefined: undefinedThing"), "{err}");
    assert_eq!(
        std::fs::read(out.join("linux_amd64/scratch")).unwrap(),
        before,
        "the old binary was touched"
    );
    assert_eq!(
        std::fs::read_to_string(out.join("SHA256SUMS")).unwrap(),
        sums_before
    );
    let leftovers: Vec<_> = walk(&out)
        .into_iter()
        .filter(|p| p.to_string_lossy().contains(".slipway"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        }
        out.push(path);
    }
    out
}

#[test]
fn a_failed_first_build_removes_the_out_dir_it_created() {
    let tmp = tempfile::tempdir().unwrap();
    let src = module(
        &tmp.path().join("m"),
        "package main\n\nfunc main() { nope() }\n",
    );
    let out = tmp.path().join("new/out");
    let result = build_cmd(&src, &["--platform", "linux/amd64"], Some(&out));
    assert_eq!(exit_code(&result), 1);
    assert!(!tmp.path().join("new").exists(), "out dir left behind");
}

#[test]
fn non_main_packages_are_refused_with_their_name() {
    let tmp = tempfile::tempdir().unwrap();
    let src = module(&tmp.path().join("m"), "package main\n\nfunc main() {}\n");
    std::fs::create_dir_all(src.join("lib")).unwrap();
    std::fs::write(
        src.join("lib/lib.go"),
        "package util\n\nfunc F() int { return 1 }\n",
    )
    .unwrap();
    let out = tmp.path().join("out");
    let result = build_cmd(
        &src,
        &["--platform", "linux/amd64", "--package", "./lib"],
        Some(&out),
    );
    assert_eq!(exit_code(&result), 2, "{}", stderr(&result));
    assert!(
        stderr(&result).contains("`./lib` is package util, not package main"),
        "{}",
        stderr(&result)
    );
    assert!(!out.exists());
}

#[test]
fn unusable_out_dir_and_missing_toolchains_are_machine_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    let result = build_cmd(
        &example("hello"),
        &["--platform", "linux/amd64"],
        Some(&file),
    );
    assert_eq!(exit_code(&result), 3, "{}", stderr(&result));
    assert!(
        stderr(&result).contains("exists and is not a directory"),
        "{}",
        stderr(&result)
    );

    let out = tmp.path().join("out");
    let result = build_cmd(
        &example("hello"),
        &[
            "--platform",
            "linux/arm64",
            "--libc",
            "musl",
            "--zig",
            "/nonexistent/zig",
        ],
        Some(&out),
    );
    assert_eq!(exit_code(&result), 3, "{}", stderr(&result));
    assert!(
        stderr(&result).contains("pip install ziglang"),
        "{}",
        stderr(&result)
    );
    assert!(!out.exists());

    let result = build_cmd(
        &example("hello"),
        &["--platform", "linux/amd64", "--go", "/nonexistent/go"],
        Some(&out),
    );
    assert_eq!(exit_code(&result), 3, "{}", stderr(&result));
    assert!(
        stderr(&result).contains("go not found"),
        "{}",
        stderr(&result)
    );

    let result = slipway()
        .arg("build")
        .arg(tmp.path())
        .args(["--platform", "linux/amd64"])
        .output()
        .unwrap();
    assert_eq!(exit_code(&result), 2);
    assert!(
        stderr(&result).contains("no go.mod in"),
        "{}",
        stderr(&result)
    );
}

#[test]
fn slipway_toml_supplies_settings_and_rejects_unknown_keys() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("m");
    copy_tree(&example("hello"), &src);
    std::fs::write(
        src.join("slipway.toml"),
        "[build]\nplatforms = [\"linux/riscv64\"]\nlibc = \"none\"\nname = \"svc\"\nout = \"bin\"\n",
    )
    .unwrap();
    let result = slipway()
        .arg("build")
        .arg(&src)
        .arg("--json")
        .output()
        .unwrap();
    let json: Value = serde_json::from_str(&stdout_ok(&result, "build from slipway.toml")).unwrap();
    assert_eq!(json["artifacts"][0]["platform"], "linux/riscv64");
    assert!(src.join("bin/linux_riscv64/svc").is_file());
    // Flags override the file.
    let result = build_cmd(&src, &["--platform", "linux/arm/v6", "--json"], None);
    let json: Value = serde_json::from_str(&stdout_ok(&result, "override")).unwrap();
    assert_eq!(json["artifacts"][0]["platform"], "linux/arm/v6");

    std::fs::write(
        src.join("slipway.toml"),
        "[build]\nplatforms = [\"linux/amd64\"]\npakage = \"./cmd\"\n",
    )
    .unwrap();
    let result = slipway().arg("build").arg(&src).output().unwrap();
    assert_eq!(exit_code(&result), 2);
    let err = stderr(&result);
    assert!(
        err.contains("slipway.toml")
            && err.contains("line 3")
            && err.contains("unknown field `pakage`"),
        "{err}"
    );
}

#[test]
fn dry_run_shows_the_exact_commands_and_builds_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let result = build_cmd(
        &example("hello"),
        &[
            "--platform",
            "linux/arm/v6,linux/mipsle/softfloat",
            "--libc",
            "musl",
            "--dry-run",
            "--json",
        ],
        Some(&out),
    );
    let json: Value = serde_json::from_str(&stdout_ok(&result, "dry run")).unwrap();
    let arm = &json["targets"][0];
    assert_eq!(arm["env"]["GOARM"], "6");
    assert_eq!(arm["env"]["CGO_ENABLED"], "1");
    assert_eq!(arm["env"]["GOENV"], "off");
    let cc = arm["env"]["CC"].as_str().unwrap();
    assert!(
        cc.contains("zig-") && cc.contains("arm-linux-musleabihf@arm1176jzf_s"),
        "{cc}"
    );
    let args: Vec<&str> = arm["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert!(
        args.contains(&"-trimpath") && args.contains(&"-tags=netgo,osusergo"),
        "{args:?}"
    );
    assert_eq!(json["targets"][1]["env"]["GOMIPS"], "softfloat");
    assert!(!out.exists());
}

#[test]
fn targets_and_doctor_speak_json() {
    let result = slipway().args(["targets", "--json"]).output().unwrap();
    let json: Value = serde_json::from_str(&stdout_ok(&result, "targets")).unwrap();
    let platforms = json["platforms"].as_array().unwrap();
    assert_eq!(platforms.len(), 13);
    let ppc64 = platforms.iter().find(|p| p["goarch"] == "ppc64").unwrap();
    assert_eq!(ppc64["cgo"], false);

    let result = slipway().args(["doctor", "--json"]).output().unwrap();
    let json: Value = serde_json::from_str(&stdout_ok(&result, "doctor")).unwrap();
    assert!(json["go"]["version"].as_str().unwrap().starts_with("go1."));
    assert!(
        json["zig"]["version"].as_str().is_some(),
        "zig not found: {}",
        json["zig"]
    );
    let rows = json["targets"].as_array().unwrap();
    let row = |p: &str, l: &str| {
        rows.iter()
            .find(|r| r["platform"] == p && r["libc"] == l)
            .unwrap()
            .clone()
    };
    assert_eq!(row("linux/arm64", "musl")["ok"], true);
    assert_eq!(row("linux/mipsle/softfloat", "musl")["cc"], "zig");
    let ppc = row("linux/ppc64", "musl");
    assert_eq!(ppc["ok"], false);
    assert!(ppc["why"].as_str().unwrap().contains("no cgo"));
    assert!(
        row("linux/mips64/softfloat", "musl")["why"]
            .as_str()
            .unwrap()
            .contains("soft-float mips64")
    );
}

#[test]
fn help_teaches_and_exit_codes_are_documented() {
    let result = slipway().args(["build", "--help"]).output().unwrap();
    let help = stdout_ok(&result, "build --help");
    assert!(
        help.contains("linux/mipsle/softfloat") && help.contains("--dry-run"),
        "{help}"
    );
    let result = slipway().arg("--help").output().unwrap();
    let help = stdout_ok(&result, "--help");
    assert!(
        help.contains("Exit codes") && help.contains("2  invalid input"),
        "{help}"
    );
    let result = slipway()
        .args(["build", "--no-such-flag"])
        .output()
        .unwrap();
    assert_eq!(exit_code(&result), 2);
}

#[test]
fn gnu_cross_gcc_builds_glibc_targets_at_or_above_its_own_glibc() {
    let gcc = require("aarch64-linux-gnu-gcc", "gcc-aarch64-linux-gnu");
    // Debian 12's cross sysroot has glibc 2.36; ask the compiler rather than assume.
    let probe = Command::new(&gcc)
        .args([
            "-E",
            "-dM",
            "-include",
            "features.h",
            "-x",
            "c",
            "/dev/null",
        ])
        .output()
        .unwrap();
    let macros = stdout_ok(&probe, "gcc -dM");
    let minor = macros
        .lines()
        .find_map(|l| l.strip_prefix("#define __GLIBC_MINOR__ "))
        .unwrap()
        .trim()
        .to_string();
    let floor = format!("glibc:2.{minor}");

    let tmp = tempfile::tempdir().unwrap();
    let output = build_cmd(
        &example("hello"),
        &[
            "--platform",
            "linux/arm64",
            "--libc",
            &floor,
            "--cc",
            "gnu",
            "--json",
        ],
        Some(tmp.path()),
    );
    let json: Value = serde_json::from_str(&stdout_ok(&output, "build with --cc gnu")).unwrap();
    let path = PathBuf::from(json["artifacts"][0]["path"].as_str().unwrap());
    let out = run_on(
        Arch::Arm64,
        &path,
        &["--once"],
        Some(Path::new("/usr/aarch64-linux-gnu")),
    );
    let text = stdout_ok(&out, "gnu-built arm64 binary");
    assert!(
        text.starts_with(&format!(
            "hello from linux/arm64 cgo=true c=glibc-2.{minor}(runtime-2.{minor}"
        )),
        "{text}"
    );

    // A floor below the sysroot's glibc cannot be met by this compiler.
    let output = slipway()
        .arg("build")
        .arg(example("hello"))
        .args([
            "--platform",
            "linux/arm64",
            "--libc",
            "glibc:2.28",
            "--cc",
            "gnu",
            "--out",
        ])
        .arg(tmp.path().join("old"))
        .output()
        .unwrap();
    assert_eq!(exit_code(&output), 3, "{}", stderr(&output));
    let err = stderr(&output);
    assert!(
        err.contains(&format!("links against glibc 2.{minor}")) && err.contains("use --cc zig"),
        "{err}"
    );
    // And soft-float MIPS has no Debian compiler with a matching ABI.
    let output = build_cmd(
        &example("hello"),
        &[
            "--platform",
            "linux/mipsle/softfloat",
            "--libc",
            "glibc:2.36",
            "--cc",
            "gnu",
        ],
        None,
    );
    assert_eq!(exit_code(&output), 2, "{}", stderr(&output));
    assert!(
        stderr(&output).contains("hard-float C ABI"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn git_commit_time_becomes_source_date_epoch_and_vcs_stamping_is_opt_in() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("m");
    copy_tree(&example("hello"), &src);
    let git = |args: &[&str]| {
        let out = Command::new("git")
            .args(args)
            .current_dir(&src)
            .env("GIT_AUTHOR_DATE", "2024-02-03T04:05:06Z")
            .env("GIT_COMMITTER_DATE", "2024-02-03T04:05:06Z")
            .output()
            .unwrap();
        stdout_ok(&out, &format!("git {args:?}"))
    };
    git(&["init", "-q"]);
    git(&["-c", "user.name=t", "-c", "user.email=t@t", "add", "."]);
    git(&[
        "-c",
        "user.name=t",
        "-c",
        "user.email=t@t",
        "commit",
        "-qm",
        "initial",
    ]);
    let revision = git(&["rev-parse", "HEAD"]).trim().to_string();

    let plan = slipway()
        .arg("build")
        .arg(&src)
        .args([
            "--platform",
            "linux/amd64",
            "--libc",
            "none",
            "--dry-run",
            "--json",
        ])
        .env_remove("SOURCE_DATE_EPOCH")
        .output()
        .unwrap();
    let json: Value = serde_json::from_str(&stdout_ok(&plan, "dry run in git")).unwrap();
    assert_eq!(json["targets"][0]["env"]["SOURCE_DATE_EPOCH"], "1706933106");

    let out = tmp.path().join("out");
    let build = |extra: &[&str]| {
        let result = slipway()
            .arg("build")
            .arg(&src)
            .args(["--platform", "linux/amd64", "--libc", "none", "--out"])
            .arg(&out)
            .args(extra)
            .output()
            .unwrap();
        stdout_ok(&result, "build in git");
        let info = Command::new("go")
            .args(["version", "-m"])
            .arg(out.join("linux_amd64/hello"))
            .output()
            .unwrap();
        stdout_ok(&info, "go version -m")
    };
    assert!(
        !build(&[]).contains("vcs.revision"),
        "stamped without --buildvcs"
    );
    assert!(build(&["--buildvcs"]).contains(&format!("vcs.revision={revision}")));

    let bad = slipway()
        .arg("build")
        .arg(&src)
        .args(["--platform", "linux/amd64", "--dry-run"])
        .env("SOURCE_DATE_EPOCH", "yesterday")
        .output()
        .unwrap();
    assert_eq!(exit_code(&bad), 2);
    assert!(
        stderr(&bad).contains("SOURCE_DATE_EPOCH=`yesterday` is not a whole number"),
        "{}",
        stderr(&bad)
    );
}

#[test]
fn a_closed_stdout_ends_quietly_instead_of_panicking() {
    use std::process::Stdio;
    let mut child = slipway()
        .args(["targets"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take()); // the reader goes away, as with `| head -0`
    let out = child.wait_with_output().unwrap();
    assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
}
