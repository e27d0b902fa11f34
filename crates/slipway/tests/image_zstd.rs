//! zstd layers (issue #15 §5): `slipway image --compression zstd` writes
//! `tar+zstd` layers that skopeo reads and Debian's `zstd` decompresses to
//! the config's diff_ids; `slipway copy --compression` converts gzip ⇄ zstd
//! to exactly the images slipway builds directly; the converted image runs
//! under runc (umoci 0.4 cannot unpack zstd itself); sbom, check-image and a
//! base image with zstd layers read them.

use std::path::Path;
use std::process::Command;

use serde_json::Value;
use slipway_testkit::{copy_tree, example, require, stdout_ok};

mod common;
use common::*;

const PLATFORMS: &str = "linux/amd64,linux/arm64";
const ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
const GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

fn blob(layout: &Path, digest: &str) -> Vec<u8> {
    let hex = digest.trim_start_matches("sha256:");
    std::fs::read(layout.join("blobs/sha256").join(hex)).unwrap()
}

fn json_blob(layout: &Path, digest: &str) -> Value {
    serde_json::from_slice(&blob(layout, digest)).unwrap()
}

/// Each platform manifest of a layout: (manifest, config).
fn platforms(layout: &Path) -> Vec<(Value, Value)> {
    let index: Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    let top = json_blob(layout, index["manifests"][0]["digest"].as_str().unwrap());
    top["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            let m = json_blob(layout, d["digest"].as_str().unwrap());
            let c = json_blob(layout, m["config"]["digest"].as_str().unwrap());
            (m, c)
        })
        .collect()
}

fn layer_types(m: &Value) -> Vec<String> {
    m["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["mediaType"].as_str().unwrap().to_string())
        .collect()
}

/// `slipway copy SRC DST --compression C --json`.
fn convert(src: &Path, dst: &Path, compression: &str) -> Value {
    let out = slipway()
        .args(["copy", "--json", "--compression", compression])
        .arg(format!("oci:{}", src.display()))
        .arg(format!("oci:{}", dst.display()))
        .output()
        .unwrap();
    serde_json::from_str(&stdout_ok(
        &out,
        &format!("slipway copy --compression {compression}"),
    ))
    .unwrap()
}

/// The package names of `slipway sbom REF`, but the image's own (its reference).
fn sbom_packages(reference: &str) -> Vec<String> {
    let out = slipway().args(["sbom", reference]).output().unwrap();
    let doc: Value = serde_json::from_str(&stdout_ok(&out, "slipway sbom")).unwrap();
    let mut names: Vec<String> = doc["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap_or("").to_string())
        .filter(|n| n != reference)
        .collect();
    assert!(names.iter().any(|n| n == "stdlib"), "{names:?}");
    names.sort();
    names
}

#[test]
fn zstd_images_are_read_by_skopeo_and_zstd_and_convert_to_the_gzip_build_and_back() {
    let tmp = tempfile::tempdir().unwrap();
    let (z, g) = (tmp.path().join("z"), tmp.path().join("g"));
    let common = ["--platform", PLATFORMS, "--libc", "musl"];
    let zj = image(
        &example("hello"),
        &[&common[..], &["--compression", "zstd:3"]].concat(),
        &z,
    );
    let gj = image(&example("hello"), &common, &g);
    let (zp, gp) = (platforms(&z), platforms(&g));
    assert_eq!(zp.len(), 2);
    for ((zm, zc), (gm, gc)) in zp.iter().zip(&gp) {
        assert!(layer_types(zm).iter().all(|t| t == ZSTD), "{zm}");
        assert!(layer_types(gm).iter().all(|t| t == GZIP), "{gm}");
        // The config, and so the diff_ids, do not depend on the compression.
        assert_eq!(zm["config"], gm["config"]);
        assert_eq!(zc, gc);
    }

    // skopeo reads the index and copies the host's platform out as it is;
    // Debian's zstd (another decoder) uncompresses each layer to its diff_id.
    let raw = inspect_raw(&format!("oci:{}:latest", z.display()));
    assert_eq!(raw["manifests"].as_array().unwrap().len(), 2);
    let dir = tmp.path().join("dir");
    skopeo(&[
        "copy",
        "-q",
        &format!("oci:{}:latest", z.display()),
        &format!("dir:{}", dir.display()),
    ]);
    let m: Value =
        serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    let config: Value = serde_json::from_slice(
        &std::fs::read(
            dir.join(
                m["config"]["digest"]
                    .as_str()
                    .unwrap()
                    .trim_start_matches("sha256:"),
            ),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(config["architecture"], "amd64");
    let zstd = require("zstd", "zstd");
    for (layer, diff_id) in m["layers"]
        .as_array()
        .unwrap()
        .iter()
        .zip(config["rootfs"]["diff_ids"].as_array().unwrap())
    {
        assert_eq!(layer["mediaType"], ZSTD);
        let file = dir.join(
            layer["digest"]
                .as_str()
                .unwrap()
                .trim_start_matches("sha256:"),
        );
        let out = Command::new(&zstd)
            .args(["-d", "-c", "-q"])
            .arg(&file)
            .output()
            .unwrap();
        assert!(out.status.success(), "zstd -d {}", file.display());
        assert_eq!(
            format!("sha256:{}", sha256_hex(&out.stdout)),
            diff_id.as_str().unwrap()
        );
    }

    // zstd → gzip gives exactly the gzip build, and gzip → zstd the zstd one.
    let zg = tmp.path().join("zg");
    let report = convert(&z, &zg, "gzip");
    assert_eq!(report["digest"], gj["index_digest"], "{report}");
    assert_eq!(report["source_digest"], zj["index_digest"]);
    assert_eq!(report["converted_layers"], 5, "base files shared: {report}");
    let gz = tmp.path().join("gz");
    let report = convert(&g, &gz, "zstd:3");
    assert_eq!(report["digest"], zj["index_digest"], "{report}");
    // Already zstd: kept as it is, whatever the level asked for.
    let report = convert(&z, &tmp.path().join("zz"), "zstd:19");
    assert_eq!(report["digest"], zj["index_digest"]);
    assert_eq!(report["converted_layers"], 0);

    // The readers of layers see the same files in both.
    let zref = format!("oci:{}", z.display());
    assert_eq!(
        sbom_packages(&zref),
        sbom_packages(&format!("oci:{}", g.display()))
    );
    let out = slipway()
        .args(["check-image", "--json", &zref])
        .output()
        .unwrap();
    stdout_ok(&out, "slipway check-image on a zstd image");

    // The converted image runs (umoci 0.4 unpacks gzip, not zstd).
    let bundle = bundle(&zg, "amd64", None, tmp.path());
    assert_eq!(
        runc_once(&bundle).trim(),
        "hello from linux/amd64 cgo=true c=musl"
    );
}

#[test]
fn a_base_with_zstd_layers_is_read_for_the_user_check_and_kept_as_zstd() {
    let tmp = tempfile::tempdir().unwrap();
    let z = tmp.path().join("z");
    image(
        &example("hello"),
        &[
            "--platform",
            "linux/amd64",
            "--libc",
            "musl",
            "--compression",
            "zstd:3",
        ],
        &z,
    );
    // The user is looked up in the base's /etc/passwd, which is in a zstd layer.
    let module = tmp.path().join("module");
    copy_tree(&example("hello"), &module);
    let config = std::fs::read_to_string(module.join("slipway.toml")).unwrap();
    std::fs::write(
        module.join("slipway.toml"),
        format!("{config}\n[image]\nuser = \"nonroot\"\ncompression = \"gzip\"\n"),
    )
    .unwrap();
    let out = tmp.path().join("on-base");
    let base = format!("oci:{}:latest", z.display());
    image(
        &module,
        &[
            "--platform",
            "linux/amd64",
            "--libc",
            "musl",
            "--base",
            &base,
        ],
        &out,
    );
    let (m, c) = platforms(&out).remove(0);
    let types = layer_types(&m);
    let (base_layers, own) = types.split_at(3);
    assert!(
        base_layers.iter().all(|t| t == ZSTD),
        "the base's layers: {types:?}"
    );
    assert!(own.iter().all(|t| t == GZIP), "slipway's layers: {types:?}");
    assert_eq!(c["config"]["User"], "nonroot");
    // Converted to gzip, it unpacks and runs: the base's init and passwd came along.
    let gz = tmp.path().join("gz");
    let report = convert(&out, &gz, "gzip");
    assert_eq!(report["converted_layers"], 3, "{report}");
    let bundle = bundle(&gz, "amd64", None, tmp.path());
    assert_eq!(
        runc_once(&bundle).trim(),
        "hello from linux/amd64 cgo=true c=musl"
    );
}

#[test]
fn bad_compression_settings_and_unknown_layer_types_are_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let module = tmp.path().join("module");
    copy_tree(&example("hello"), &module);
    let run = |args: &[&str]| slipway().args(args).output().unwrap();
    let out = run(&[
        "image",
        module.to_str().unwrap(),
        "--compression",
        "brotli",
        "--out",
        tmp.path().join("x").to_str().unwrap(),
    ]);
    assert_eq!(exit_code(&out), 2);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("\"brotli\"") && err.contains("zstd"), "{err}");
    assert!(!tmp.path().join("x").exists());
    let out = run(&[
        "image",
        module.to_str().unwrap(),
        "--compression",
        "zstd:22",
        "--out",
        tmp.path().join("x").to_str().unwrap(),
    ]);
    assert_eq!(exit_code(&out), 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("1 (fastest) to 19"));

    let config = std::fs::read_to_string(module.join("slipway.toml")).unwrap();
    std::fs::write(
        module.join("slipway.toml"),
        format!("{config}\n[image]\ncompression = \"zstd\"\ngzip_level = 9\n"),
    )
    .unwrap();
    let out = run(&[
        "image",
        module.to_str().unwrap(),
        "--out",
        tmp.path().join("x").to_str().unwrap(),
    ]);
    assert_eq!(exit_code(&out), 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("give the level once"));

    let out = run(&[
        "copy",
        "oci:/nonexistent",
        "oci:/nonexistent2",
        "--compression",
        "zstd",
        "--referrers",
        "application/vnd.dev.sigstore.bundle.v0.3+json",
    ]);
    assert_eq!(exit_code(&out), 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot be combined with --compression"));

    // A layer in a compression slipway does not read is refused by name.
    let layout = tmp.path().join("lz4");
    std::fs::create_dir_all(layout.join("blobs/sha256")).unwrap();
    std::fs::write(
        layout.join("oci-layout"),
        br#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .unwrap();
    let put = |bytes: &[u8]| {
        let hex = sha256_hex(bytes);
        std::fs::write(layout.join("blobs/sha256").join(&hex), bytes).unwrap();
        (format!("sha256:{hex}"), bytes.len())
    };
    let (layer, layer_size) = put(b"not really lz4");
    let (config, config_size) = put(
        format!(r#"{{"architecture":"amd64","os":"linux","rootfs":{{"type":"layers","diff_ids":["{layer}"]}},"config":{{}}}}"#)
            .as_bytes(),
    );
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config}","size":{config_size}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar+lz4","digest":"{layer}","size":{layer_size}}}]}}"#
    );
    let (m, m_size) = put(manifest.as_bytes());
    std::fs::write(
        layout.join("index.json"),
        format!(
            r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{m}","size":{m_size},"annotations":{{"org.opencontainers.image.ref.name":"latest"}}}}]}}"#
        ),
    )
    .unwrap();
    let reference = format!("oci:{}", layout.display());
    for args in [
        vec!["sbom", reference.as_str()],
        vec!["check-image", reference.as_str()],
    ] {
        let out = run(&args);
        assert_ne!(exit_code(&out), 0, "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("tar+lz4") && err.contains("not one slipway reads"),
            "{args:?}: {err}"
        );
    }
}
