//! glibc images that start, and the runtime closure check that refuses the
//! ones that would not: real Go builds for arm64 against glibc 2.28, run
//! under runc through qemu-user-static, and an image broken by a real peer
//! (umoci deleting libc.so.6, which writes a whiteout layer).

use std::process::Command;

use serde_json::Value;
use slipway_testkit::{copy_tree, example, require, stdout_ok};

mod common;
use common::*;

const GLIBC_ARM64: [&str; 4] = ["--platform", "linux/arm64", "--libc", "glibc:2.28"];

fn check_image(args: &[&str]) -> (i32, Value, String) {
    let out = slipway()
        .arg("check-image")
        .args(args)
        .arg("--json")
        .output()
        .unwrap();
    let json = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (
        exit_code(&out),
        json,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_glibc_image_without_a_runtime_is_refused_naming_the_loader() {
    let tmp = tempfile::tempdir().unwrap();
    let module = tmp.path().join("hello");
    copy_tree(&example("hello"), &module);
    let out_dir = tmp.path().join("image");
    let out = slipway()
        .arg("image")
        .arg(&module)
        .args(GLIBC_ARM64)
        .arg("--out")
        .arg(&out_dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(exit_code(&out), 1, "{stderr}");
    assert!(
        stderr.contains("/lib/ld-linux-aarch64.so.1") && stderr.contains("runtime closure check"),
        "{stderr}"
    );
    // It names the layers it looked in and the two ways out.
    assert!(stderr.contains("slipway: base files"), "{stderr}");
    assert!(
        stderr.contains("runtime = \"glibc\"") && stderr.contains("base image"),
        "{stderr}"
    );
    assert!(!out_dir.exists(), "nothing is written");
}

#[test]
fn a_glibc_image_with_the_glibc_runtime_starts_under_runc() {
    let tmp = tempfile::tempdir().unwrap();
    let module = tmp.path().join("hello");
    copy_tree(&example("hello"), &module);
    std::fs::write(
        module.join("slipway.toml"),
        format!(
            "{}\n[image]\nruntime = \"glibc\"\n",
            std::fs::read_to_string(module.join("slipway.toml")).unwrap()
        ),
    )
    .unwrap();
    let layout = tmp.path().join("layout");
    let json = image(&module, &GLIBC_ARM64, &layout);
    let binaries = json["closure"][0]["binaries"].as_array().unwrap();
    let app = binaries
        .iter()
        .find(|b| b["binary"] == "/app/hello")
        .unwrap();
    assert_eq!(app["interpreter"], "/lib/ld-linux-aarch64.so.1");
    let libs: Vec<&str> = app["libraries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["path"].as_str().unwrap())
        .collect();
    assert!(
        libs.contains(&"/lib/aarch64-linux-gnu/libc.so.6"),
        "{libs:?}"
    );

    ensure_binfmt("aarch64");
    let bundle = bundle(&layout, "arm64", None, tmp.path());
    assert_eq!(
        runc_once(&bundle).trim(),
        // Built against 2.28, running on the sysroot's glibc.
        "hello from linux/arm64 cgo=true c=glibc-2.28(runtime-2.36)"
    );

    // The same check on the written image, from the command that checks any image.
    let reference = format!("oci:{}", layout.display());
    let (code, report, stderr) = check_image(&[&reference, "--platform", "linux/arm64"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(report["ok"], true);
    // --all checks every ELF program in the image (the app and the init
    // here), and no shared library as if it were a program.
    let (code, report, stderr) = check_image(&[&reference, "--all"]);
    assert_eq!(code, 0, "{stderr}");
    let checked: Vec<&str> = report["platforms"][0]["binaries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["binary"].as_str().unwrap())
        .collect();
    for program in ["/app/hello", "/sbin/slipway-init"] {
        assert!(checked.contains(&program), "{program} in {checked:?}");
    }
    assert!(
        !checked.iter().any(|p| p.contains(".so.")),
        "libraries are not checked as programs: {checked:?}"
    );
    let (code, _, stderr) = check_image(&[&reference, "--all", "--binary", "/app/hello"]);
    assert_eq!(code, 2, "{stderr}");

    // umoci deletes libc.so.6 in a new layer (a whiteout): now it cannot start,
    // and the check says which library, for which program.
    require("umoci", "umoci");
    let single = tmp.path().join("single");
    skopeo(&[
        "copy",
        "-q",
        "--override-arch",
        "arm64",
        &format!("oci:{}:latest", layout.display()),
        &format!("oci:{}:latest", single.display()),
    ]);
    let unpacked = tmp.path().join("unpacked");
    let tag = format!("{}:latest", single.display());
    stdout_ok(
        &Command::new("umoci")
            .args(["unpack", "--rootless", "--image", &tag])
            .arg(&unpacked)
            .output()
            .unwrap(),
        "umoci unpack",
    );
    std::fs::remove_file(unpacked.join("rootfs/lib/aarch64-linux-gnu/libc.so.6")).unwrap();
    stdout_ok(
        &Command::new("umoci")
            .args(["repack", "--image", &tag])
            .arg(&unpacked)
            .output()
            .unwrap(),
        "umoci repack",
    );
    let (code, report, _) = check_image(&[&format!("oci:{}", single.display())]);
    assert_eq!(code, 1);
    assert_eq!(report["ok"], false);
    let problems = &report["platforms"][0]["binaries"];
    let app = problems
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["binary"] == "/app/hello")
        .unwrap();
    let problem = &app["problems"][0];
    assert_eq!(problem["kind"], "missing_library");
    assert_eq!(problem["library"], "libc.so.6");
    assert!(
        problem["layers"].as_array().unwrap().len() >= 5,
        "every layer, the whiteout layer included: {problem}"
    );
}

#[test]
fn bad_runtime_settings_name_the_key_and_the_choices() {
    let tmp = tempfile::tempdir().unwrap();
    let module = tmp.path().join("hello");
    copy_tree(&example("hello"), &module);
    let run = |extra: &[&str]| {
        let out = slipway()
            .arg("image")
            .arg(&module)
            .args(GLIBC_ARM64)
            .args(extra)
            .arg("--out")
            .arg(tmp.path().join("never"))
            .output()
            .unwrap();
        (
            exit_code(&out),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, stderr) = run(&["--runtime", "musl"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("--runtime musl") && stderr.contains("\"glibc\""),
        "{stderr}"
    );
    let empty = tmp.path().join("empty-sysroot");
    std::fs::create_dir(&empty).unwrap();
    let (code, stderr) = run(&["--runtime", "glibc", "--sysroot", empty.to_str().unwrap()]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("no libc.so.6") && stderr.contains("libc6-arm64-cross"),
        "{stderr}"
    );
    assert!(!tmp.path().join("never").exists());
}
