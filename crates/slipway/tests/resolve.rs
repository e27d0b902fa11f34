//! `slipway resolve` on real-world manifests: Argo Rollouts' examples and
//! kube-state-metrics' manifests, both from pinned Go modules fetched through
//! the Go module proxy, against a real registry on 127.0.0.1 holding the
//! images they name (under the registry's host). The expected output is
//! worked out without slipway: each image value is swapped for
//! `name@<digest>` with the digest read from the registry's own storage, and
//! every other byte must be as it was.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use slipway_testkit::registry::{TestRegistry, write_test_layout};
use slipway_testkit::{require, stdout_ok};

mod common;
use common::*;

const ARGO_ROLLOUTS: &str = "github.com/argoproj/argo-rollouts@v1.7.2";
const KUBE_STATE_METRICS: &str = "k8s.io/kube-state-metrics/v2@v2.13.0";

/// The module's directory in Go's module cache, downloaded through the proxy.
fn go_module(module: &str) -> PathBuf {
    let go = require("go", "golang-go");
    let out = Command::new(go)
        .args(["mod", "download", "-json", module])
        .env("GOFLAGS", "-mod=mod")
        .output()
        .unwrap();
    let text = stdout_ok(&out, &format!("go mod download {module}"));
    let v: Value = serde_json::from_str(&text).unwrap();
    assert!(
        v["Error"].is_null(),
        "go mod download {module}: {}",
        v["Error"]
    );
    PathBuf::from(v["Dir"].as_str().expect("Dir in go mod download -json"))
}

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            yaml_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            out.push(p);
        }
    }
}

/// The value of an `image:` line (`image: x`, `- image: "x" # c`), if any.
fn image_on_line(line: &str) -> Option<&str> {
    let rest = line.trim_start().trim_start_matches("- ");
    let value = rest.strip_prefix("image:")?.trim();
    let value = value.split(" #").next().unwrap().trim();
    let value = value.trim_matches(|c| c == '"' || c == '\'');
    (!value.is_empty() && !value.contains("{{")).then_some(value)
}

/// Copy `files` (relative to `from`) into `to`, with every `image:` value
/// moved under `host`; returns the distinct rehosted references.
fn rehost(from: &Path, files: &[PathBuf], to: &Path, host: &str) -> Vec<String> {
    let mut refs = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(f).unwrap();
        let mut out = String::new();
        for line in text.split_inclusive('\n') {
            match image_on_line(line) {
                Some(v) => {
                    let moved = format!("{host}/{v}");
                    out.push_str(&line.replacen(v, &moved, 1));
                    refs.push(moved);
                }
                None => out.push_str(line),
            }
        }
        let dest = to.join(f.strip_prefix(from).unwrap());
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::write(dest, out).unwrap();
    }
    refs.sort();
    refs.dedup();
    refs
}

/// Push a small distinct image for each reference (`host/repo[:tag]`);
/// returns reference -> the digest the registry's storage says the tag holds.
fn push_images(reg: &TestRegistry, refs: &[String], scratch: &Path) -> BTreeMap<String, String> {
    let skopeo = require("skopeo", "skopeo");
    let mut digests = BTreeMap::new();
    for (i, r) in refs.iter().enumerate() {
        let name = r.strip_prefix(&format!("{}/", reg.host())).unwrap();
        let (repo, tag) = match name.rsplit_once(':') {
            Some((repo, tag)) => (repo, tag),
            None => (name, "latest"),
        };
        let image = write_test_layout(
            &scratch.join(format!("img{i}")),
            "t",
            &["linux/amd64"],
            256,
            1000 + i as u64,
        );
        let out = Command::new(&skopeo)
            .args(["copy", "-q", "--all"])
            .args(reg.skopeo_dest_args())
            .arg(image.skopeo_ref())
            .arg(format!("docker://{}/{repo}:{tag}", reg.host()))
            .output()
            .unwrap();
        stdout_ok(&out, &format!("skopeo copy to {r}"));
        let digest = reg.tag_digest(repo, tag).expect("pushed tag");
        assert_eq!(digest, image.index_digest);
        digests.insert(r.clone(), digest);
    }
    digests
}

/// What resolve must produce: each `image:` line's reference pinned, by
/// text substitution on that line only.
fn expected(text: &str, digests: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    for line in text.split_inclusive('\n') {
        match image_on_line(line).and_then(|v| digests.get(v).map(|d| (v, d))) {
            Some((v, d)) => {
                let name = match v.rsplit_once(':') {
                    Some((n, t)) if !t.contains('/') => n,
                    _ => v,
                };
                out.push_str(&line.replacen(v, &format!("{name}@{d}"), 1));
            }
            None => out.push_str(line),
        }
    }
    out
}

fn resolve(args: &[&str]) -> Output {
    slipway()
        .arg("resolve")
        .args(args)
        .env("DOCKER_CONFIG", "/nonexistent-slipway-test")
        .output()
        .unwrap()
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Argo Rollouts' examples (Rollouts, a workloadRef Deployment, analysis
/// Jobs, Experiments, multi-document files with comments) resolved in place:
/// exactly the image values change.
#[test]
fn argo_rollouts_examples_are_pinned_byte_for_byte() {
    let module = go_module(ARGO_ROLLOUTS);
    let examples = module.join("examples");
    let mut files = Vec::new();
    yaml_files(&examples, &mut files);
    // Helm chart templates are Go templates, not manifests.
    files.retain(|f| !f.starts_with(examples.join("helm-blue-green")));
    assert!(files.len() > 30, "{} example files", files.len());

    let tmp = tempfile::tempdir().unwrap();
    let reg = TestRegistry::plain();
    let work = tmp.path().join("examples");
    let refs = rehost(&examples, &files, &work, &reg.host());
    assert!(refs.len() >= 8, "{refs:?}");
    let digests = push_images(&reg, &refs, tmp.path());

    let before: BTreeMap<PathBuf, String> = files
        .iter()
        .map(|f| {
            let p = work.join(f.strip_prefix(&examples).unwrap());
            let t = std::fs::read_to_string(&p).unwrap();
            (p, t)
        })
        .collect();
    let out = resolve(&["-R", "-f", path(&work), "--in-place", "--json"]);
    let report: Value = serde_json::from_str(&stdout_ok(&out, "slipway resolve")).unwrap();
    let mut pinned = 0;
    for (p, text) in &before {
        let after = std::fs::read_to_string(p).unwrap();
        assert_eq!(after, expected(text, &digests), "{}", p.display());
        pinned += after.matches("@sha256:").count();
    }
    let images: Vec<&Value> = report["files"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|f| f["images"].as_array().unwrap())
        .collect();
    assert_eq!(images.len(), pinned);
    // Every workload kind of the examples was looked into.
    let kinds: std::collections::BTreeSet<&str> =
        images.iter().map(|i| i["kind"].as_str().unwrap()).collect();
    for kind in [
        "Rollout",
        "Deployment",
        "AnalysisTemplate",
        "ClusterAnalysisTemplate",
        "Experiment",
    ] {
        assert!(kinds.contains(kind), "{kind} not in {kinds:?}");
    }
    // Resolving pinned files again checks the digests and changes nothing.
    let again = resolve(&["-R", "-f", path(&work), "--in-place"]);
    stdout_ok(&again, "second resolve");
    for p in before.keys() {
        let after = std::fs::read_to_string(p).unwrap();
        assert_eq!(after, expected(&before[p], &digests));
    }
}

/// kube-state-metrics' manifests: Jobs, CronJobs, DaemonSets, StatefulSets,
/// ReplicationControllers and flow-style RBAC and claims, to stdout as one
/// stream.
#[test]
fn kube_state_metrics_manifests_are_pinned_byte_for_byte() {
    let module = go_module(KUBE_STATE_METRICS);
    let mut files = Vec::new();
    for dir in [
        "tests/manifests",
        "examples/standard",
        "examples/daemonsetsharding",
        "examples/autosharding",
    ] {
        yaml_files(&module.join(dir), &mut files);
    }
    let tmp = tempfile::tempdir().unwrap();
    let reg = TestRegistry::plain();
    let work = tmp.path().join("ksm");
    let refs = rehost(&module, &files, &work, &reg.host());
    let digests = push_images(&reg, &refs, tmp.path());

    let inputs: Vec<PathBuf> = files
        .iter()
        .map(|f| work.join(f.strip_prefix(&module).unwrap()))
        .collect();
    let mut args = Vec::new();
    for p in &inputs {
        args.push("-f");
        args.push(path(p));
    }
    let out = resolve(&args);
    let stream = stdout_ok(&out, "slipway resolve");
    let texts: Vec<String> = inputs
        .iter()
        .map(|p| expected(&std::fs::read_to_string(p).unwrap(), &digests))
        .collect();
    let want = slipway_resolve::join_stream(texts.iter().map(String::as_str));
    assert_eq!(stream, want);
    for kind in [
        "CronJob",
        "Job",
        "DaemonSet",
        "StatefulSet",
        "ReplicationController",
        "Deployment",
    ] {
        let pinned = stream
            .split("\n---\n")
            .filter(|d| d.contains(&format!("kind: {kind}\n")))
            .any(|d| d.contains("@sha256:"));
        assert!(pinned, "no pinned {kind}");
    }
}

/// Move `tag` in `repo` to `digest`: what a promotion does to a channel.
fn move_tag(reg: &TestRegistry, repo: &str, digest: &str, tag: &str) {
    let skopeo = require("skopeo", "skopeo");
    let out = Command::new(skopeo)
        .args(["copy", "-q", "--all"])
        .args(reg.skopeo_src_args())
        .args(reg.skopeo_dest_args())
        .arg(format!("docker://{}/{repo}@{digest}", reg.host()))
        .arg(format!("docker://{}/{repo}:{tag}", reg.host()))
        .output()
        .unwrap();
    stdout_ok(&out, "skopeo copy (tag move)");
    assert_eq!(reg.tag_digest(repo, tag).as_deref(), Some(digest));
}

/// Argo Rollouts' canary example following a channel: the pod template is
/// pinned to the digest the channel holds, and after the channel moves the
/// same command pins the new digest, so the canary rolls by digest.
#[test]
fn argo_rollout_canary_follows_a_channel_by_digest() {
    let module = go_module(ARGO_ROLLOUTS);
    let original = std::fs::read_to_string(module.join("examples/rollout-canary.yaml")).unwrap();
    assert!(original.contains("image: argoproj/rollouts-demo:blue\n"));
    let tmp = tempfile::tempdir().unwrap();
    let reg = TestRegistry::plain();
    let repo = "argoproj/rollouts-demo";
    // The manifest in git names the repository only; the channel picks the image.
    let unpinned = original.replace(
        "image: argoproj/rollouts-demo:blue\n",
        &format!("image: {}/{repo}\n", reg.host()),
    );
    let file = tmp.path().join("rollout.yaml");
    std::fs::write(&file, &unpinned).unwrap();

    let blue = write_test_layout(
        &tmp.path().join("blue"),
        "blue",
        &["linux/amd64", "linux/arm64"],
        256,
        1,
    );
    let green = write_test_layout(
        &tmp.path().join("green"),
        "green",
        &["linux/amd64", "linux/arm64"],
        256,
        2,
    );
    for img in [&blue, &green] {
        let out = Command::new(require("skopeo", "skopeo"))
            .args(["copy", "-q", "--all"])
            .args(reg.skopeo_dest_args())
            .arg(img.skopeo_ref())
            .arg(format!("docker://{}/{repo}:{}", reg.host(), img.tag))
            .output()
            .unwrap();
        stdout_ok(&out, "skopeo copy");
    }
    let channel = "fleet-eu/canary";
    let channel_tag = "fleet-eu--canary";

    // No channel yet: a clear error, nothing written.
    let out_file = tmp.path().join("pinned.yaml");
    let out = resolve(&[
        "-f",
        path(&file),
        "--channel",
        channel,
        "-o",
        path(&out_file),
    ]);
    assert_eq!(exit_code(&out), 2);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("rollout.yaml:")
            && err.contains("fleet-eu/canary")
            && err.contains(channel_tag),
        "{err}"
    );
    assert!(!out_file.exists());

    let pinned_to = |digest: &str| {
        unpinned.replace(
            &format!("image: {}/{repo}\n", reg.host()),
            &format!("image: {}/{repo}@{digest}\n", reg.host()),
        )
    };
    move_tag(&reg, repo, &blue.index_digest, channel_tag);
    let out = resolve(&[
        "-f",
        path(&file),
        "--channel",
        channel,
        "-o",
        path(&out_file),
    ]);
    stdout_ok(&out, "resolve on blue");
    let first = std::fs::read_to_string(&out_file).unwrap();
    assert_eq!(first, pinned_to(&blue.index_digest));
    // The canary strategy and everything else are untouched.
    assert!(first.contains("canary:\n      steps:\n      - setWeight: 20\n"));

    // Promote green: the channel tag moves; the same command now pins green.
    move_tag(&reg, repo, &green.index_digest, channel_tag);
    let out = resolve(&[
        "-f",
        path(&file),
        "--channel",
        channel,
        "-o",
        path(&out_file),
        "--json",
    ]);
    let report: Value = serde_json::from_str(&stdout_ok(&out, "resolve on green")).unwrap();
    assert_eq!(
        std::fs::read_to_string(&out_file).unwrap(),
        pinned_to(&green.index_digest)
    );
    let image = &report["files"][0]["images"][0];
    assert_eq!(image["kind"], "Rollout");
    assert_eq!(image["path"], "spec.template.spec.containers[0].image");
    assert_eq!(image["via"], "channel");
    assert_eq!(image["tag"], channel_tag);
    assert_eq!(image["digest"], green.index_digest.as_str());

    // A tagged image is not on the channel: it resolves its own tag.
    let tagged = unpinned.replace(
        &format!("{}/{repo}\n", reg.host()),
        &format!("{}/{repo}:blue\n", reg.host()),
    );
    std::fs::write(&file, &tagged).unwrap();
    let out = resolve(&["-f", path(&file), "--channel", channel]);
    assert_eq!(stdout_ok(&out, "tagged"), pinned_to(&blue.index_digest));
}

/// Bad input is refused with its place, and nothing is written anywhere.
#[test]
fn bad_input_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let reg = TestRegistry::plain();
    let img = write_test_layout(&tmp.path().join("i"), "v1", &["linux/amd64"], 256, 7);
    let out = Command::new(require("skopeo", "skopeo"))
        .args(["copy", "-q", "--all"])
        .args(reg.skopeo_dest_args())
        .arg(img.skopeo_ref())
        .arg(format!("docker://{}/team/app:v1", reg.host()))
        .output()
        .unwrap();
    stdout_ok(&out, "skopeo copy");
    let good_text = format!(
        "# keep me\napiVersion: v1\nkind: Pod\nmetadata: {{name: p}}\nspec:\n  containers:\n  - {{name: a, image: \"{}/team/app:v1\"}}\n",
        reg.host()
    );
    let good = tmp.path().join("a-good.yaml");
    std::fs::write(&good, &good_text).unwrap();
    let bad = tmp.path().join("b-bad.yaml");
    std::fs::write(&bad, "apiVersion: v1\nkind: Pod\nspec:\n  containers: [\n").unwrap();

    // The bad file stops the run: the good one, read first, stays as it was.
    let out = resolve(&["-f", path(tmp.path()), "--in-place"]);
    assert_eq!(
        exit_code(&out),
        2,
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("b-bad.yaml:"), "{err}");
    assert!(err.contains("nothing was written"), "{err}");
    assert_eq!(std::fs::read_to_string(&good).unwrap(), good_text);
    std::fs::remove_file(&bad).unwrap();

    // An unknown tag: exit 2, the file and line named.
    let missing = tmp.path().join("c-missing.yaml");
    std::fs::write(
        &missing,
        format!("apiVersion: batch/v1\nkind: Job\nspec:\n  template:\n    spec:\n      containers:\n      - image: {}/team/app:v9\n", reg.host()),
    )
    .unwrap();
    let out = resolve(&["-f", path(tmp.path()), "--in-place"]);
    assert_eq!(exit_code(&out), 2);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("c-missing.yaml:7") && err.contains("no tag v9"),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&good).unwrap(), good_text);

    // A pin to a digest the registry does not have.
    let wrong = format!("{}/team/app@sha256:{}", reg.host(), "0".repeat(64));
    std::fs::write(
        &missing,
        format!("apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - image: {wrong}\n"),
    )
    .unwrap();
    let out = resolve(&["-f", path(&missing)]);
    assert_eq!(exit_code(&out), 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("has no manifest"));
    std::fs::remove_file(&missing).unwrap();

    // stdin to stdout, as a filter.
    let mut child = slipway()
        .args(["resolve", "-f", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write as _;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(good_text.as_bytes())
            .unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        stdout_ok(&out, "resolve from stdin"),
        good_text.replace(
            "/team/app:v1\"",
            &format!("/team/app@{}\"", img.index_digest)
        )
    );

    // --json needs somewhere else for the YAML; a bad channel name is input.
    assert_eq!(exit_code(&resolve(&["-f", path(&good), "--json"])), 2);
    assert_eq!(
        exit_code(&resolve(&["-f", path(&good), "--channel", "Bad//x"])),
        2
    );

    // The registry gone: exit 1, nothing written.
    let host = reg.host();
    drop(reg);
    let out = resolve(&["-f", path(&good), "--in-place"]);
    assert_eq!(
        exit_code(&out),
        1,
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains(&host));
    assert_eq!(std::fs::read_to_string(&good).unwrap(), good_text);
}
