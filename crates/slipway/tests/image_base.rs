//! Base images: a glibc base the test assembles with umoci from Debian's
//! arm64 cross glibc, a real Go service built for glibc 2.28 on top of it,
//! run under runc through qemu-user-static.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use slipway_testkit::{copy_tree, example, require, stdout_ok};

mod common;
use common::*;

fn umoci(args: &[&str], extra: Option<&Path>) {
    require("umoci", "umoci");
    let mut cmd = Command::new("umoci");
    cmd.args(args);
    if let Some(p) = extra {
        cmd.arg(p);
    }
    stdout_ok(&cmd.output().unwrap(), &format!("umoci {args:?}"));
}

/// An arm64 base image holding the loader and `libs` from Debian's cross
/// glibc, in Debian's layout, as an OCI layout tagged `base`.
fn glibc_base(work: &Path, name: &str, libs: &[&str]) -> PathBuf {
    let sysroot = Path::new("/usr/aarch64-linux-gnu/lib");
    assert!(
        sysroot.join("libc.so.6").is_file(),
        "Debian's libc6-arm64-cross is required: run scripts/setup.sh"
    );
    let layout = work.join(name);
    let image = format!("{}:base", layout.display());
    umoci(&["init", "--layout", layout.to_str().unwrap()], None);
    umoci(&["new", "--image", &image], None);
    let bundle = work.join(format!("{name}-bundle"));
    umoci(&["unpack", "--image", &image], Some(&bundle));
    let lib = bundle.join("rootfs/lib/aarch64-linux-gnu");
    std::fs::create_dir_all(&lib).unwrap();
    for l in ["ld-linux-aarch64.so.1"].iter().chain(libs) {
        std::fs::copy(sysroot.join(l), lib.join(l)).unwrap();
    }
    std::os::unix::fs::symlink(
        "aarch64-linux-gnu/ld-linux-aarch64.so.1",
        bundle.join("rootfs/lib/ld-linux-aarch64.so.1"),
    )
    .unwrap();
    umoci(&["repack", "--image", &image], Some(&bundle));
    umoci(
        &[
            "config",
            "--image",
            &image,
            "--architecture",
            "arm64",
            "--os",
            "linux",
            "--config.env",
            "BASE_SAYS=hi",
            "--config.label",
            "com.example.base=debian-cross",
            "--config.exposedports",
            "9100/tcp",
        ],
        None,
    );
    layout
}

fn blob(layout: &Path, digest: &str) -> Value {
    let hex = digest.trim_start_matches("sha256:");
    serde_json::from_slice(&std::fs::read(layout.join("blobs/sha256").join(hex)).unwrap()).unwrap()
}

const GLIBC_ARM64: [&str; 4] = ["--platform", "linux/arm64", "--libc", "glibc:2.28"];

#[test]
fn a_glibc_service_on_a_glibc_base_starts_and_records_its_base() {
    let tmp = tempfile::tempdir().unwrap();
    let base = glibc_base(
        tmp.path(),
        "base",
        &["libc.so.6", "libresolv.so.2", "libpthread.so.0"],
    );
    let base_ref = format!("oci:{}:base", base.display());
    let module = tmp.path().join("hello");
    copy_tree(&example("hello"), &module);
    let args: Vec<&str> = GLIBC_ARM64
        .iter()
        .copied()
        .chain(["--base", &base_ref])
        .collect();
    let layout = tmp.path().join("image");
    let json = image(&module, &args, &layout);
    let base_digest = json["base"]["digest"].as_str().unwrap().to_string();
    assert!(base_digest.starts_with("sha256:"), "{json}");
    assert_eq!(json["base"]["name"], base_ref.as_str());
    let app = json["closure"][0]["binaries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["binary"] == "/app/hello")
        .unwrap()
        .clone();
    assert_eq!(app["problems"], serde_json::json!([]));
    assert!(
        app["libraries"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["name"] == "libc.so.6" && l["layer"].as_str().unwrap().starts_with("base ")),
        "libc comes from the base: {app}"
    );

    // The manifest names its base; the base's layer comes first, its env stays.
    let index = blob(&layout, json["index_digest"].as_str().unwrap());
    let manifest = blob(&layout, index["manifests"][0]["digest"].as_str().unwrap());
    assert_eq!(
        manifest["annotations"]["org.opencontainers.image.base.name"],
        base_ref.as_str()
    );
    assert_eq!(
        manifest["annotations"]["org.opencontainers.image.base.digest"],
        base_digest.as_str(),
        "the base is one manifest, so the root digest is the manifest's"
    );
    let base_manifest = blob(&base, &base_digest);
    assert_eq!(
        manifest["layers"][0]["digest"],
        base_manifest["layers"][0]["digest"]
    );
    let config = blob(&layout, manifest["config"]["digest"].as_str().unwrap());
    let env = config["config"]["Env"].as_array().unwrap();
    assert!(env.iter().any(|e| e == "BASE_SAYS=hi"), "{env:?}");
    // The base's labels and ports stay beside slipway's.
    let rc = &config["config"];
    assert_eq!(rc["Labels"]["com.example.base"], "debian-cross", "{rc}");
    assert!(rc["ExposedPorts"].get("9100/tcp").is_some(), "{rc}");
    assert_eq!(
        rc["User"], "65532:65532",
        "slipway's default user, not the base's: {rc}"
    );

    ensure_binfmt("aarch64");
    let bundle = bundle(&layout, "arm64", None, tmp.path());
    assert_eq!(
        runc_once(&bundle).trim(),
        "hello from linux/arm64 cgo=true c=glibc-2.28(runtime-2.36)"
    );

    // Same inputs, same image, whatever the output path.
    let again = image(&module, &args, &tmp.path().join("again"));
    assert_eq!(again["index_digest"], json["index_digest"]);
    assert_eq!(
        again["compressed_layers"], 0,
        "the base is cached by digest: {again}"
    );
}

#[test]
fn a_base_without_the_platform_or_a_library_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let module = tmp.path().join("hello");
    copy_tree(&example("hello"), &module);
    let run = |base: &Path, platforms: &str, out: &Path| {
        let o = slipway()
            .arg("image")
            .arg(&module)
            .args(["--platform", platforms, "--libc", "glibc:2.28"])
            .arg("--base")
            .arg(format!("oci:{}:base", base.display()))
            .arg("--out")
            .arg(out)
            .output()
            .unwrap();
        (
            exit_code(&o),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    // Without libresolv.so.2, which the cgo resolver needs.
    let thin = glibc_base(tmp.path(), "thin", &["libc.so.6", "libpthread.so.0"]);
    let out = tmp.path().join("never");
    let (code, stderr) = run(&thin, "linux/amd64,linux/arm64", &out);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("has no linux/amd64 image (it has linux/arm64)"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("building"),
        "refused before compiling: {stderr}"
    );
    let (code, stderr) = run(&thin, "linux/arm64", &out);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("libresolv.so.2") && stderr.contains("base oci:"),
        "names the library and the base's layer: {stderr}"
    );
    assert!(!out.exists());
}

#[test]
fn a_base_in_a_registry_is_read_and_pinned_by_digest() {
    let tmp = tempfile::tempdir().unwrap();
    let base = glibc_base(
        tmp.path(),
        "base",
        &["libc.so.6", "libresolv.so.2", "libpthread.so.0"],
    );
    let reg = slipway_testkit::registry::TestRegistry::plain();
    let reference = format!("{}/team/glibc-base:12", reg.host());
    let copied = slipway()
        .args(["copy", &format!("oci:{}:base", base.display()), &reference])
        .output()
        .unwrap();
    stdout_ok(&copied, "slipway copy to the registry");

    let module = tmp.path().join("hello");
    copy_tree(&example("hello"), &module);
    let config = std::fs::read_to_string(module.join("slipway.toml")).unwrap();
    std::fs::write(
        module.join("slipway.toml"),
        format!("{config}\n[image]\nbase = \"{reference}\"\n"),
    )
    .unwrap();
    let json = image(&module, &GLIBC_ARM64, &tmp.path().join("image"));
    assert_eq!(json["base"]["name"], reference.as_str());
    let layout_index: Value =
        serde_json::from_slice(&std::fs::read(base.join("index.json")).unwrap()).unwrap();
    assert_eq!(
        json["base"]["digest"], layout_index["manifests"][0]["digest"],
        "the registry serves the same manifest bytes"
    );
    let app = &json["closure"][0]["binaries"];
    assert!(
        app.as_array()
            .unwrap()
            .iter()
            .all(|b| b["problems"] == serde_json::json!([])),
        "{app}"
    );
}

#[test]
fn a_multi_platform_base_gives_each_platform_its_own_manifest() {
    let tmp = tempfile::tempdir().unwrap();
    // A two-platform base: slipway's own pure-Go image of the example.
    let platforms = ["--platform", "linux/amd64,linux/arm64", "--libc", "none"];
    let base_module = tmp.path().join("base-src");
    copy_tree(&example("hello"), &base_module);
    let base_layout = tmp.path().join("base");
    image(&base_module, &platforms, &base_layout);
    let base_index: Value = {
        let top: Value =
            serde_json::from_slice(&std::fs::read(base_layout.join("index.json")).unwrap())
                .unwrap();
        blob(
            &base_layout,
            top["manifests"][0]["digest"].as_str().unwrap(),
        )
    };
    let base_manifests = base_index["manifests"].as_array().unwrap();
    assert_eq!(base_manifests.len(), 2, "{base_index}");

    let module = tmp.path().join("hello");
    copy_tree(&example("hello"), &module);
    let config = std::fs::read_to_string(module.join("slipway.toml")).unwrap();
    std::fs::write(
        module.join("slipway.toml"),
        format!(
            "{config}\n[image]\nbase = \"oci:{}:latest\"\n",
            base_layout.display()
        ),
    )
    .unwrap();
    let layout = tmp.path().join("image");
    let json = image(&module, &platforms, &layout);
    let index = blob(&layout, json["index_digest"].as_str().unwrap());
    for m in index["manifests"].as_array().unwrap() {
        let arch = m["platform"]["architecture"].as_str().unwrap();
        let from_base = base_manifests
            .iter()
            .find(|b| b["platform"]["architecture"] == arch)
            .unwrap_or_else(|| panic!("the base has {arch}"));
        let manifest = blob(&layout, m["digest"].as_str().unwrap());
        assert_eq!(
            manifest["annotations"]["org.opencontainers.image.base.digest"], from_base["digest"],
            "{arch} is built on the base's {arch} manifest"
        );
        let base_manifest = blob(&base_layout, from_base["digest"].as_str().unwrap());
        let base_layers = base_manifest["layers"].as_array().unwrap();
        assert_eq!(
            &manifest["layers"].as_array().unwrap()[..base_layers.len()],
            &base_layers[..],
            "{arch}: the base's own layers come first, unchanged"
        );
    }
    ensure_binfmt("aarch64");
    let bundle = bundle(&layout, "arm64", None, tmp.path());
    assert_eq!(
        runc_once(&bundle).trim(),
        "hello from linux/arm64 cgo=false c=none"
    );
}
