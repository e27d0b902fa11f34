//! `[image]` contents and config: a non-root service that binds port 80
//! because its binary carries CAP_NET_BIND_SERVICE as a file capability
//! (and fails to without it), run under runc on amd64 and on arm64 through
//! qemu-user; user, workdir, labels,
//! annotations and extra files land where they should; bad values name the
//! key and the valid choices.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use slipway_testkit::{copy_tree, example, require};

mod common;
use common::*;

fn module_with(tmp: &Path, name: &str, image_section: &str) -> std::path::PathBuf {
    let module = tmp.join(name);
    copy_tree(&example("hello"), &module);
    let config = std::fs::read_to_string(module.join("slipway.toml")).unwrap();
    std::fs::write(
        module.join("slipway.toml"),
        format!("{config}\n[image]\n{image_section}"),
    )
    .unwrap();
    std::fs::write(module.join("extra.txt"), "extra\n").unwrap();
    module
}

const SETTINGS: &str = r#"user = "nonroot"
workdir = "/app"
env = ["HELLO_ADDR=127.0.0.1:80"]
labels = { "com.example.team" = "edge" }
annotations = { "com.example.ticket" = "GW-42" }
files = [{ src = "extra.txt", dst = "/etc/extra.txt", mode = "0640" }]
"#;

/// Run the bundle with the host's network; the HTTP answer on 127.0.0.1:80,
/// or what the service said on stderr when it never answered.
fn serve_on_port_80(bundle: &Path) -> Result<String, String> {
    edit_config(bundle, |c| {
        c["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .retain(|n| n["type"] != "network");
        c["process"]["terminal"] = false.into();
        // no_new_privs makes exec ignore file capabilities.
        c["process"]["noNewPrivileges"] = false.into();
        let bounding = c["process"]["capabilities"]["bounding"].as_array().unwrap();
        assert!(
            bounding.iter().any(|b| b == "CAP_NET_BIND_SERVICE"),
            "runc's bounding set keeps CAP_NET_BIND_SERVICE: {bounding:?}"
        );
        assert_eq!(c["process"]["user"]["uid"], 65532, "runs as nonroot");
        // Nothing but the bounding set: any capability the app has comes from its file.
        for set in ["effective", "permitted", "inheritable", "ambient"] {
            c["process"]["capabilities"][set] = serde_json::json!([]);
        }
    });
    let runc = require("runc", "runc");
    let id = container_id();
    let mut child = Command::new(&runc)
        .args(["run", "-b"])
        .arg(bundle)
        .arg(&id)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let result = loop {
        if let Ok(mut conn) = std::net::TcpStream::connect(("127.0.0.1", 80)) {
            conn.write_all(b"GET / HTTP/1.0\r\nHost: test\r\n\r\n")
                .unwrap();
            let mut text = String::new();
            conn.read_to_string(&mut text).unwrap();
            break Ok(text);
        }
        if let Ok(Some(_)) = child.try_wait() {
            let mut err = String::new();
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            break Err(err);
        }
        if Instant::now() > deadline {
            break Err("the service neither listened nor exited".into());
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let _ = Command::new(&runc).args(["kill", &id, "KILL"]).status();
    let _ = child.wait();
    let _ = Command::new(&runc).args(["delete", "-f", &id]).status();
    result
}

fn blob(layout: &Path, digest: &str) -> Value {
    let hex = digest.trim_start_matches("sha256:");
    serde_json::from_slice(&std::fs::read(layout.join("blobs/sha256").join(hex)).unwrap()).unwrap()
}

/// Under qemu-user, a foreign binary's file capabilities apply only when
/// binfmt_misc computes credentials from the binary: the C flag, which
/// scripts/setup.sh sets.
fn require_binfmt_credentials(entry: &str) {
    let path = format!("/proc/sys/fs/binfmt_misc/{entry}");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{path}: {e}; run scripts/setup.sh to register qemu-user"));
    assert!(
        text.lines()
            .any(|l| l.starts_with("flags:") && l.contains('C')),
        "{path} lacks the C flag, so file capabilities of foreign binaries are ignored; \
         run scripts/setup.sh:\n{text}"
    );
}

#[test]
fn a_non_root_service_binds_port_80_with_a_file_capability_and_not_without() {
    // Port 80 on this machine must be free for the test to mean anything.
    drop(std::net::TcpListener::bind("127.0.0.1:80").expect("port 80 is free"));
    require_binfmt_credentials("qemu-aarch64");
    let tmp = tempfile::tempdir().unwrap();
    let args = ["--platform", "linux/amd64,linux/arm64", "--libc", "none"];

    let with = module_with(
        tmp.path(),
        "with",
        &format!("{SETTINGS}capabilities = [\"CAP_NET_BIND_SERVICE\"]\n"),
    );
    let with_layout = tmp.path().join("with-image");
    let json = image(&with, &args, &with_layout);
    let index = blob(&with_layout, json["index_digest"].as_str().unwrap());
    let manifest = blob(
        &with_layout,
        index["manifests"][0]["digest"].as_str().unwrap(),
    );
    assert_eq!(manifest["annotations"]["com.example.ticket"], "GW-42");
    let config = blob(&with_layout, manifest["config"]["digest"].as_str().unwrap());
    assert_eq!(config["config"]["User"], "nonroot");
    assert_eq!(config["config"]["WorkingDir"], "/app");
    assert_eq!(config["config"]["Labels"]["com.example.team"], "edge");

    // The same service without the capability.
    let without = module_with(tmp.path(), "without", SETTINGS);
    let without_layout = tmp.path().join("without-image");
    image(&without, &args, &without_layout);

    // Natively, and on arm64 through qemu-user.
    for arch in ["amd64", "arm64"] {
        let work = tmp.path().join(format!("with-{arch}"));
        std::fs::create_dir(&work).unwrap();
        let unpacked = bundle(&with_layout, arch, None, &work);
        let extra = unpacked.join("rootfs/etc/extra.txt");
        assert_eq!(std::fs::read_to_string(&extra).unwrap(), "extra\n");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&extra).unwrap().permissions().mode() & 0o7777,
            0o640
        );
        let answer = serve_on_port_80(&unpacked)
            .unwrap_or_else(|e| panic!("{arch}: the service does not answer on port 80: {e}"));
        assert!(answer.starts_with("HTTP/1.0 200"), "{arch}: {answer}");
        assert!(
            answer.contains(&format!("hello from linux/{arch}")),
            "{arch}: {answer}"
        );

        let work = tmp.path().join(format!("without-{arch}"));
        std::fs::create_dir(&work).unwrap();
        let unpacked = bundle(&without_layout, arch, None, &work);
        let said =
            serve_on_port_80(&unpacked).expect_err("binding port 80 fails without the capability");
        assert!(said.contains("permission denied"), "{arch}: {said}");
    }
}

#[test]
fn bad_contents_name_the_key_and_the_choices() {
    let tmp = tempfile::tempdir().unwrap();
    let run = |name: &str, section: &str| {
        let module = module_with(tmp.path(), name, section);
        let out = slipway()
            .arg("image")
            .arg(&module)
            .args(["--platform", "linux/amd64", "--libc", "none"])
            .arg("--out")
            .arg(tmp.path().join("never"))
            .output()
            .unwrap();
        (
            exit_code(&out),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, e) = run("ghost", "user = \"ghost\"\n");
    assert_eq!(code, 2, "{e}");
    assert!(
        e.contains("user = \"ghost\"") && e.contains("root, nonroot"),
        "{e}"
    );
    let (code, e) = run("cap", "capabilities = [\"CAP_FLY\"]\n");
    assert_eq!(code, 2, "{e}");
    assert!(
        e.contains("CAP_FLY") && e.contains("CAP_NET_BIND_SERVICE"),
        "{e}"
    );
    let (code, e) = run(
        "mode",
        "files = [{ src = \"extra.txt\", dst = \"/etc/x\", mode = \"rw\" }]\n",
    );
    assert_eq!(code, 2, "{e}");
    assert!(e.contains("mode = \"rw\"") && e.contains("0644"), "{e}");
    let (code, e) = run("wd", "workdir = \"app\"\n");
    assert_eq!(code, 2, "{e}");
    assert!(e.contains("workdir = \"app\""), "{e}");
    assert!(!tmp.path().join("never").exists());
}

#[test]
fn entrypoint_chooses_what_the_init_starts_and_is_checked() {
    let tmp = tempfile::tempdir().unwrap();
    let args = ["--platform", "linux/amd64", "--libc", "none"];
    let module = module_with(
        tmp.path(),
        "entry",
        "entrypoint = [\"/app/hello\", \"--once\"]\n",
    );
    let layout = tmp.path().join("image");
    let json = image(&module, &args, &layout);
    let index = blob(&layout, json["index_digest"].as_str().unwrap());
    let manifest = blob(&layout, index["manifests"][0]["digest"].as_str().unwrap());
    let config = blob(&layout, manifest["config"]["digest"].as_str().unwrap());
    assert_eq!(
        config["config"]["Entrypoint"],
        serde_json::json!(["/sbin/slipway-init", "--", "/app/hello", "--once"])
    );
    let unpacked = bundle(&layout, "amd64", None, tmp.path());
    edit_config(&unpacked, |c| c["process"]["terminal"] = false.into());
    let runc = require("runc", "runc");
    let out = Command::new(runc)
        .args(["run", "-b"])
        .arg(&unpacked)
        .arg(container_id())
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "hello from linux/amd64 cgo=false c=none"
    );

    // A program the image does not have fails the closure check by name.
    let missing = module_with(tmp.path(), "missing", "entrypoint = [\"/app/gwctl\"]\n");
    let out = slipway()
        .arg("image")
        .arg(&missing)
        .args(args)
        .arg("--out")
        .arg(tmp.path().join("never"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(exit_code(&out), 1, "{stderr}");
    assert!(
        stderr.contains("/app/gwctl") && stderr.contains("no such file"),
        "{stderr}"
    );
    assert!(!tmp.path().join("never").exists());
}

#[test]
fn several_binaries_in_one_image_each_checked_and_the_entrypoint_picks_one() {
    let tmp = tempfile::tempdir().unwrap();
    let module = module_with(
        tmp.path(),
        "multi",
        "packages = [\".\", \"./cmd/probe\"]\nentrypoint = [\"/app/probe\"]\n",
    );
    std::fs::create_dir_all(module.join("cmd/probe")).unwrap();
    std::fs::write(
        module.join("cmd/probe/main.go"),
        "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"probe ok\") }\n",
    )
    .unwrap();
    let layout = tmp.path().join("image");
    let json = image(
        &module,
        &["--platform", "linux/amd64", "--libc", "none"],
        &layout,
    );
    let checked: Vec<&str> = json["closure"][0]["binaries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["binary"].as_str().unwrap())
        .collect();
    assert!(
        checked.contains(&"/app/hello") && checked.contains(&"/app/probe"),
        "{checked:?}"
    );
    let unpacked = bundle(&layout, "amd64", None, tmp.path());
    assert!(unpacked.join("rootfs/app/hello").is_file());
    assert_eq!(runc_once(&unpacked).trim(), "probe ok");

    // Both are in the image's SBOM.
    let out = slipway()
        .args(["sbom", &format!("oci:{}", layout.display())])
        .output()
        .unwrap();
    let sbom = slipway_testkit::stdout_ok(&out, "slipway sbom");
    assert!(
        sbom.contains("/app/hello") && sbom.contains("/app/probe"),
        "{sbom}"
    );
}
