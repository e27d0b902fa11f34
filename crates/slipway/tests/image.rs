//! `slipway image` against real clients: skopeo reads what it writes, umoci
//! unpacks each platform and runc runs it (foreign ones through qemu-user-static
//! registered with binfmt_misc).

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use slipway_testkit::{copy_tree, example, require, stdout_ok};

mod common;
use common::*;

const PLATFORMS: &str = "linux/amd64,linux/arm64,linux/arm/v7";

/// Append an `[image]` section to a module's slipway.toml.
fn add_image_settings(module: &Path, image_section: &str) {
    let config = std::fs::read_to_string(module.join("slipway.toml")).unwrap();
    std::fs::write(
        module.join("slipway.toml"),
        format!("{config}\n[image]\n{image_section}"),
    )
    .unwrap();
}

#[test]
fn every_platform_of_the_image_runs_under_runc() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = tmp.path().join("layout");
    let json = image(
        &example("hello"),
        &["--platform", PLATFORMS, "--libc", "musl"],
        &layout,
    );
    assert_eq!(json["manifests"].as_array().unwrap().len(), 3);
    let index = json["index_digest"].as_str().unwrap();
    assert!(index.starts_with("sha256:") && index.len() == 71, "{index}");

    // skopeo reads the layout as an index, and can copy all of it.
    let raw = inspect_raw(&format!("oci:{}:latest", layout.display()));
    let platforms: Vec<String> = raw["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let p = &m["platform"];
            format!(
                "{}/{}{}",
                p["os"].as_str().unwrap(),
                p["architecture"].as_str().unwrap(),
                p["variant"]
                    .as_str()
                    .map(|v| format!("/{v}"))
                    .unwrap_or_default()
            )
        })
        .collect();
    assert_eq!(platforms, ["linux/amd64", "linux/arm64", "linux/arm/v7"]);
    let copy = tmp.path().join("copy");
    let copied = copy_all(&format!("oci:{}:latest", layout.display()), &copy);
    assert_eq!(copied, raw, "skopeo copy --all changed the index");

    ensure_binfmt("aarch64");
    ensure_binfmt("arm");
    for (arch, variant, goarch) in [
        ("amd64", None, "amd64"),
        ("arm64", None, "arm64"),
        ("arm", Some("v7"), "arm"),
    ] {
        let bundle = bundle(&layout, arch, variant, tmp.path());
        edit_config(&bundle, |c| {
            assert_eq!(c["process"]["user"]["uid"], 65532, "runs as nonroot")
        });
        let said = runc_once(&bundle);
        assert_eq!(
            said.trim(),
            format!("hello from linux/{goarch} cgo=true c=musl")
        );
    }
}

#[test]
fn the_service_answers_http_on_loopback() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = tmp.path().join("layout");
    image(
        &example("hello"),
        &["--platform", "linux/amd64", "--libc", "none"],
        &layout,
    );
    let bundle = bundle(&layout, "amd64", None, tmp.path());
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    edit_config(&bundle, |c| {
        // Share the host's network so loopback reaches the server.
        c["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .retain(|n| n["type"] != "network");
        c["process"]["env"]
            .as_array_mut()
            .unwrap()
            .push(format!("HELLO_ADDR=127.0.0.1:{port}").into());
        c["process"]["terminal"] = false.into();
    });
    let id = container_id();
    let runc = require("runc", "runc");
    let mut child = Command::new(&runc)
        .args(["run", "-b"])
        .arg(&bundle)
        .arg(&id)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let response = loop {
        if let Ok(mut conn) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            conn.write_all(b"GET / HTTP/1.0\r\nHost: test\r\n\r\n")
                .unwrap();
            let mut text = String::new();
            conn.read_to_string(&mut text).unwrap();
            break text;
        }
        assert!(
            Instant::now() < deadline,
            "the service never listened on port {port}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let _ = Command::new(&runc).args(["kill", &id, "KILL"]).status();
    let _ = child.wait();
    let _ = Command::new(&runc).args(["delete", "-f", &id]).status();
    assert!(response.starts_with("HTTP/1.0 200"), "{response}");
    assert!(
        response.contains("hello from linux/amd64 cgo=false c=none"),
        "{response}"
    );
}

#[test]
fn the_same_module_from_another_place_gives_the_same_index_digest() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let (src_a, src_b) = (a.path().join("m"), b.path().join("some/other/place"));
    copy_tree(&example("hello"), &src_a);
    copy_tree(&example("hello"), &src_b);
    let run = |src: &Path, out: &Path, umask: &str, tz: &str| -> Value {
        let script = format!(
            "umask {umask}; exec \"$0\" image \"$1\" --platform {PLATFORMS} --libc musl --json --out \"$2\""
        );
        let output = Command::new("sh")
            .arg("-c")
            .arg(script)
            .arg(assert_cmd::cargo::cargo_bin!("slipway"))
            .arg(src)
            .arg(out)
            .env("TZ", tz)
            .output()
            .unwrap();
        serde_json::from_str(&stdout_ok(&output, "slipway image")).unwrap()
    };
    let first = run(&src_a, &a.path().join("out"), "022", "UTC");
    let second = run(&src_b, &b.path().join("image"), "077", "Asia/Kathmandu");
    assert_eq!(first["index_digest"], second["index_digest"]);
    assert_eq!(first["manifests"], second["manifests"]);
    // A second run with nothing changed compresses nothing.
    let again = run(&src_b, &b.path().join("image"), "077", "UTC");
    assert_eq!(again["compressed_layers"], 0, "{again}");
    assert_eq!(again["index_digest"], first["index_digest"]);
}

/// The JSON documents of a layout, by digest.
fn blob(layout: &Path, digest: &str) -> Value {
    let hex = digest.strip_prefix("sha256:").unwrap();
    serde_json::from_slice(&std::fs::read(layout.join("blobs/sha256").join(hex)).unwrap()).unwrap()
}

#[test]
fn everything_beyond_the_app_fits_in_64_kib_and_the_config_is_right() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = tmp.path().join("layout");
    let json = image(
        &example("hello"),
        &["--platform", PLATFORMS, "--libc", "musl"],
        &layout,
    );
    for m in json["manifests"].as_array().unwrap() {
        let manifest = blob(&layout, m["digest"].as_str().unwrap());
        let layers = manifest["layers"].as_array().unwrap();
        let app = layers.last().unwrap()["size"].as_u64().unwrap();
        let total = m["size"].as_u64().unwrap();
        assert!(
            total - app <= 64 * 1024,
            "{}: {} bytes beyond the app layer",
            m["platform"],
            total - app
        );
        let config = blob(&layout, manifest["config"]["digest"].as_str().unwrap());
        assert_eq!(config["config"]["User"], "65532:65532");
        assert_eq!(
            config["config"]["Entrypoint"],
            serde_json::json!(["/sbin/slipway-init", "--", "/app/hello"])
        );
        assert_eq!(config["config"]["WorkingDir"], "/");
        // One time everywhere: the last commit's (the example is in git).
        let created = config["created"].as_str().unwrap();
        assert!(created.ends_with('Z') && created.len() == 20, "{created}");
        assert_eq!(
            config["config"]["Labels"]["org.opencontainers.image.created"],
            created
        );
        assert!(
            config["history"]
                .as_array()
                .unwrap()
                .iter()
                .all(|h| h["created"] == created)
        );
        assert_eq!(
            config["rootfs"]["diff_ids"].as_array().unwrap().len(),
            layers.len()
        );
    }
    // The base layer is the same blob for every platform.
    let firsts: Vec<Value> = json["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| blob(&layout, m["digest"].as_str().unwrap())["layers"][0]["digest"].clone())
        .collect();
    assert!(firsts.windows(2).all(|w| w[0] == w[1]), "{firsts:?}");
    let arm = &json["manifests"][2];
    assert_eq!(arm["oci_platform"], "linux/arm/v7");
}

#[test]
fn archives_for_skopeo_and_docker_load() {
    let tmp = tempfile::tempdir().unwrap();
    let oci = tmp.path().join("image-oci.tar");
    image(
        &example("hello"),
        &[
            "--platform",
            "linux/amd64,linux/arm64",
            "--libc",
            "none",
            "--format",
            "oci-archive",
        ],
        &oci,
    );
    let archive = format!("oci-archive:{}:latest", oci.display());
    let raw = inspect_raw(&archive);
    assert_eq!(raw["manifests"].as_array().unwrap().len(), 2);
    let again = copy_all(&archive, &tmp.path().join("from-archive"));
    assert_eq!(again, raw, "copying the archive changed its index");

    let docker = tmp.path().join("image-docker.tar");
    image(
        &example("hello"),
        &[
            "--platform",
            "linux/amd64,linux/arm64",
            "--libc",
            "none",
            "--format",
            "docker-archive",
            "--tag",
            "hello:test",
        ],
        &docker,
    );
    let inspect: Value = serde_json::from_str(&skopeo(&[
        "inspect",
        &format!("docker-archive:{}", docker.display()),
    ]))
    .unwrap();
    assert_eq!(inspect["Architecture"], "amd64");
    let unpacked = tmp.path().join("unpacked");
    std::fs::create_dir(&unpacked).unwrap();
    let out = Command::new("tar")
        .arg("-xf")
        .arg(&docker)
        .arg("-C")
        .arg(&unpacked)
        .output()
        .unwrap();
    stdout_ok(&out, "tar -x");
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(unpacked.join("manifest.json")).unwrap()).unwrap();
    let entry = &manifest[0];
    assert_eq!(entry["RepoTags"], serde_json::json!(["hello:test"]));
    let config: Value = serde_json::from_slice(
        &std::fs::read(unpacked.join(entry["Config"].as_str().unwrap())).unwrap(),
    )
    .unwrap();
    assert_eq!(
        entry["Layers"].as_array().unwrap().len(),
        config["rootfs"]["diff_ids"].as_array().unwrap().len()
    );
    assert!(unpacked.join("oci-layout").is_file() && unpacked.join("index.json").is_file());
}

#[test]
fn bad_input_is_refused_before_building_and_leaves_no_output() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("m");
    copy_tree(&example("hello"), &src);
    let out = tmp.path().join("out");
    let run = |extra: &[&str]| {
        slipway()
            .arg("image")
            .arg(&src)
            .args(["--platform", "linux/amd64", "--out"])
            .arg(&out)
            .args(extra)
            .output()
            .unwrap()
    };
    let config = std::fs::read_to_string(src.join("slipway.toml")).unwrap();

    std::fs::write(
        src.join("slipway.toml"),
        format!("{config}\n[image]\nca_certs = \"/nonexistent/ca.pem\"\n"),
    )
    .unwrap();
    let result = run(&[]);
    assert_eq!(
        exit_code(&result),
        2,
        "{}",
        String::from_utf8_lossy(&result.stderr)
    );
    assert!(String::from_utf8_lossy(&result.stderr).contains("cannot read /nonexistent/ca.pem"));
    assert!(!out.exists());

    std::fs::create_dir(src.join("kodata")).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", src.join("kodata/passwd")).unwrap();
    std::fs::write(
        src.join("slipway.toml"),
        format!("{config}\n[image]\ndata = \"kodata\"\n"),
    )
    .unwrap();
    let result = run(&[]);
    assert_eq!(exit_code(&result), 2);
    let err = String::from_utf8_lossy(&result.stderr).into_owned();
    assert!(
        err.contains("kodata/passwd is a symlink to /etc/passwd outside the module"),
        "{err}"
    );
    assert!(!out.exists());

    std::fs::write(src.join("slipway.toml"), &config).unwrap();
    let result = run(&["--format", "tarball"]);
    assert_eq!(exit_code(&result), 2);
    assert!(
        String::from_utf8_lossy(&result.stderr)
            .contains("unknown format `tarball`: use oci, oci-archive or docker-archive")
    );
    assert!(!out.exists());

    // An existing directory that is not an image layout is never replaced.
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("precious.txt"), "keep me").unwrap();
    let result = run(&[]);
    assert_eq!(exit_code(&result), 2);
    assert!(String::from_utf8_lossy(&result.stderr).contains("refusing to replace"));
    assert_eq!(
        std::fs::read_to_string(out.join("precious.txt")).unwrap(),
        "keep me"
    );
}

#[test]
fn data_files_ride_along_with_links_inside_the_module() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("m");
    copy_tree(&example("hello"), &src);
    std::fs::create_dir_all(src.join("kodata/static")).unwrap();
    std::fs::write(src.join("kodata/static/index.html"), "<h1>hi</h1>\n").unwrap();
    std::os::unix::fs::symlink("static/index.html", src.join("kodata/index.html")).unwrap();
    add_image_settings(&src, "data = \"kodata\"\nports = [\"8080/tcp\"]\n");
    let layout = tmp.path().join("layout");
    let json = image(
        &src,
        &["--platform", "linux/amd64", "--libc", "none"],
        &layout,
    );
    let manifest = blob(&layout, json["manifests"][0]["digest"].as_str().unwrap());
    assert_eq!(
        manifest["layers"].as_array().unwrap().len(),
        4,
        "base, init, data, app"
    );
    let config = blob(&layout, manifest["config"]["digest"].as_str().unwrap());
    assert_eq!(
        config["config"]["ExposedPorts"],
        serde_json::json!({"8080/tcp": {}})
    );
    let bundle = bundle(&layout, "amd64", None, tmp.path());
    let root = bundle.join("rootfs");
    assert_eq!(
        std::fs::read_to_string(root.join("app/data/static/index.html")).unwrap(),
        "<h1>hi</h1>\n"
    );
    assert_eq!(
        std::fs::read_link(root.join("app/data/index.html")).unwrap(),
        Path::new("static/index.html")
    );
}

#[test]
fn the_init_is_pid_1_unless_turned_off() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("m");
    copy_tree(&example("hello"), &src);
    let layout = tmp.path().join("with-init");
    let json = image(
        &src,
        &["--platform", "linux/amd64", "--libc", "none"],
        &layout,
    );
    let bundle = bundle(&layout, "amd64", None, tmp.path());
    let root = bundle.join("rootfs");
    let init = std::fs::read(root.join("sbin/slipway-init")).unwrap();
    assert!(init.len() <= 32 * 1024, "init is {} bytes", init.len());
    edit_config(&bundle, |c| {
        assert_eq!(
            c["process"]["args"],
            serde_json::json!(["/sbin/slipway-init", "--", "/app/hello"])
        );
    });
    assert_eq!(
        runc_once(&bundle).trim(),
        "hello from linux/amd64 cgo=false c=none"
    );
    let with_init = blob(&layout, json["manifests"][0]["digest"].as_str().unwrap());
    assert_eq!(
        with_init["layers"].as_array().unwrap().len(),
        3,
        "base, init, app"
    );

    add_image_settings(&src, "init = false\n");
    let layout = tmp.path().join("without-init");
    let json = image(
        &src,
        &["--platform", "linux/amd64", "--libc", "none"],
        &layout,
    );
    let manifest = blob(&layout, json["manifests"][0]["digest"].as_str().unwrap());
    assert_eq!(manifest["layers"].as_array().unwrap().len(), 2, "base, app");
    let config = blob(&layout, manifest["config"]["digest"].as_str().unwrap());
    assert_eq!(
        config["config"]["Entrypoint"],
        serde_json::json!(["/app/hello"])
    );
}
