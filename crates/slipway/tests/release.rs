//! Issue #13, sections 1 and 2, end to end: real images built by slipway,
//! signed and attested by `slipway sign`/`attest`, in a registry started on
//! 127.0.0.1; channels moved by `slipway promote`/`rollback`/`mark-bad`
//! under a slipway.toml policy; the audit log read back by `slipway history`
//! from the registry and, offline, from `slipway copy`'s layouts and
//! archives; concurrent promotions; and a tampered log, case by case.

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::{Value, json};
use slipway_testkit::registry::TestRegistry;
use slipway_testkit::{copy_tree, example, stdout_ok};

mod common;
use common::*;

const PASSWORD: &str = "release-test";
const SPDX: &str = "https://spdx.dev/Document";

fn run_in(dir: &Path, args: &[&str]) -> Output {
    signing_slipway(PASSWORD)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

fn ok_in(dir: &Path, args: &[&str]) -> String {
    stdout_ok(&run_in(dir, args), &format!("slipway {args:?}"))
}

fn json_in(dir: &Path, args: &[&str]) -> Value {
    let text = ok_in(dir, args);
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("slipway {args:?}: not JSON ({e}):\n{text}"))
}

/// Run expecting exit `code`; returns stderr.
fn fails_in(dir: &Path, args: &[&str], code: i32) -> String {
    let out = run_in(dir, args);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(exit_code(&out), code, "slipway {args:?}:\n{err}");
    err
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

struct Key {
    private: String,
    public: String,
    fingerprint: String,
}

/// Keys and three distinct pure-Go images (two platforms, and each alone),
/// built once per test process in OCI layouts.
struct Fixture {
    release: Key,
    ops: Key,
    intruder: Key,
    layouts: Vec<(PathBuf, String)>,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: std::sync::OnceLock<Fixture> = std::sync::OnceLock::new();
    FIXTURE.get_or_init(|| {
        let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR"))
            .unwrap()
            .keep();
        let key = |name: &str| {
            let v = json_in(&dir, &["keygen", "--prefix", s(&dir.join(name)), "--json"]);
            Key {
                private: v["private_key"].as_str().unwrap().into(),
                public: v["public_key"].as_str().unwrap().into(),
                fingerprint: v["fingerprint"].as_str().unwrap().into(),
            }
        };
        let (release, ops, intruder) = (key("release"), key("ops"), key("intruder"));
        let module = dir.join("hello");
        copy_tree(&example("hello"), &module);
        let layouts = ["linux/amd64,linux/arm64", "linux/amd64", "linux/arm64"]
            .iter()
            .enumerate()
            .map(|(i, platforms)| {
                let out = dir.join(format!("image{i}"));
                image(&module, &["--platform", platforms, "--libc", "none"], &out);
                let index: Value =
                    serde_json::from_slice(&std::fs::read(out.join("index.json")).unwrap())
                        .unwrap();
                let digest = index["manifests"][0]["digest"]
                    .as_str()
                    .unwrap()
                    .to_string();
                (out, digest)
            })
            .collect();
        Fixture {
            release,
            ops,
            intruder,
            layouts,
        }
    })
}

/// A registry holding the fixture's images as team/hello:v1..v3, each
/// signed by the release key; v1 and v2 also carry SBOM attestations.
/// Returns (registry, work dir with slipway.toml, digests).
struct Setup {
    reg: TestRegistry,
    work: tempfile::TempDir,
    repo: String,
    digests: Vec<String>,
}

fn setup(policy_extra: &str) -> Setup {
    let fx = fixture();
    let reg = TestRegistry::plain();
    let work = tempfile::tempdir().unwrap();
    let repo = reg.reference("team/hello");
    let mut digests = Vec::new();
    for (i, (layout, digest)) in fx.layouts.iter().enumerate() {
        let reference = format!("{repo}:v{}", i + 1);
        ok_in(
            work.path(),
            &["copy", &format!("oci:{}", s(layout)), &reference],
        );
        ok_in(
            work.path(),
            &["sign", &reference, "--key", &fx.release.private],
        );
        if i < 2 {
            ok_in(
                work.path(),
                &["attest", &reference, "--key", &fx.release.private],
            );
        }
        digests.push(digest.clone());
    }
    write_policy(work.path(), &repo, policy_extra);
    Setup {
        reg,
        work,
        repo,
        digests,
    }
}

fn write_policy(dir: &Path, repo: &str, extra: &str) {
    let fx = fixture();
    let text = format!(
        r#"[channels.canary]
repository = "{repo}"
keys = ["{release}"]
attestations = ["{SPDX}"]
operators = ["{ops}"]

[channels."fleet-eu/stable"]
repository = "{repo}"
keys = ["{release}"]
after = "canary"
operators = ["{ops}"]
{extra}"#,
        release = fx.release.public,
        ops = fx.ops.public,
    );
    std::fs::write(dir.join("slipway.toml"), text).unwrap();
}

fn promote(st: &Setup, digest: &str, channel: &str, reason: &str) -> Output {
    run_in(
        st.work.path(),
        &[
            "promote",
            &format!("{}@{digest}", st.repo),
            "--channel",
            channel,
            "--key",
            &fixture().ops.private,
            "--operator",
            "alice",
            "--reason",
            reason,
            "--json",
        ],
    )
}

fn promoted(st: &Setup, digest: &str, channel: &str) -> Value {
    let out = promote(st, digest, channel, "test");
    serde_json::from_str(&stdout_ok(&out, &format!("promote {digest} to {channel}"))).unwrap()
}

fn history(dir: &Path, repo: &str, channel: &str, key: &str) -> Value {
    json_in(
        dir,
        &[
            "history",
            repo,
            "--channel",
            channel,
            "--key",
            key,
            "--json",
        ],
    )
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn promote_rollback_mark_bad_and_history() {
    let fx = fixture();
    let st = setup("");
    let (d1, d2, d3) = (&st.digests[0], &st.digests[1], &st.digests[2]);
    let w = st.work.path();

    // canary: signed and attested, so v1 goes in; the tag is the channel's.
    let v = promoted(&st, d1, "canary");
    assert_eq!(v["changed"], true, "{v}");
    assert_eq!(v["old"], Value::Null);
    assert_eq!(v["new"], d1.as_str());
    assert_eq!(
        st.reg.tag_digest("team/hello", "canary").as_deref(),
        Some(d1.as_str())
    );
    assert_eq!(
        st.reg
            .tag_digest("team/hello", "_slipway-audit--canary")
            .as_deref(),
        v["entry"].as_str()
    );

    // The same digest again: nothing changes, exit 0, and no new entry.
    let out = promote(&st, d1, "canary", "again");
    let again: Value = serde_json::from_str(&stdout_ok(&out, "promote again")).unwrap();
    assert_eq!(again["changed"], false);
    assert!(stderr(&out).contains("already holds"), "{}", stderr(&out));
    assert_eq!(
        st.reg
            .tag_digest("team/hello", "_slipway-audit--canary")
            .as_deref(),
        v["entry"].as_str()
    );

    // v3 is signed but carries no SBOM attestation: the rule is named.
    let err = String::from_utf8_lossy(&promote(&st, d3, "canary", "x").stderr).into_owned();
    let out = promote(&st, d3, "canary", "x");
    assert_eq!(exit_code(&out), 1, "{err}");
    assert!(
        err.contains("policy rule `attestations` of channel canary failed"),
        "{err}"
    );
    assert!(err.contains(SPDX), "{err}");
    assert_eq!(
        st.reg.tag_digest("team/hello", "canary").as_deref(),
        Some(d1.as_str())
    );

    // fleet-eu/stable wants what canary had: v2 has not been there yet.
    let err = stderr(&promote(&st, d2, "fleet-eu/stable", "x"));
    assert!(
        err.contains("policy rule `after`")
            && err.contains("never been promoted to channel canary"),
        "{err}"
    );
    assert_eq!(st.reg.tag_digest("team/hello", "fleet-eu--stable"), None);
    promoted(&st, d1, "fleet-eu/stable");
    promoted(&st, d2, "canary");
    promoted(&st, d2, "fleet-eu/stable");
    assert_eq!(
        st.reg
            .tag_digest("team/hello", "fleet-eu--stable")
            .as_deref(),
        Some(d2.as_str())
    );

    // Roll back: to v1, verified again; the repository comes from the policy.
    let rb = json_in(
        w,
        &[
            "rollback",
            "--channel",
            "fleet-eu/stable",
            "--key",
            &fx.ops.private,
            "--reason",
            "crash loop",
            "--json",
        ],
    );
    assert_eq!(
        (rb["old"].as_str(), rb["new"].as_str()),
        (Some(d2.as_str()), Some(d1.as_str())),
        "{rb}"
    );
    assert!(
        rb["verification"]["cosign"][0]["key"] == fx.release.fingerprint.as_str(),
        "{rb}"
    );
    assert_eq!(
        st.reg
            .tag_digest("team/hello", "fleet-eu--stable")
            .as_deref(),
        Some(d1.as_str())
    );

    // v2 is bad: never again, by promote or rollback, naming the entry.
    let marked = json_in(
        w,
        &[
            "mark-bad",
            &format!("{}@{d2}", st.repo),
            "--reason",
            "leaks memory",
            "--key",
            &fx.ops.private,
            "--trust",
            &fx.ops.public,
            "--json",
        ],
    );
    let entry = marked["entry"].as_str().unwrap().to_string();
    let again = json_in(
        w,
        &[
            "mark-bad",
            &format!("{}@{d2}", st.repo),
            "--reason",
            "still",
            "--key",
            &fx.ops.private,
            "--json",
        ],
    );
    assert_eq!(again["changed"], false);
    for out in [
        promote(&st, d2, "fleet-eu/stable", "x"),
        run_in(
            w,
            &[
                "rollback",
                "--channel",
                "fleet-eu/stable",
                "--to",
                d2,
                "--key",
                &fx.ops.private,
            ],
        ),
    ] {
        let err = stderr(&out);
        assert_eq!(exit_code(&out), 1, "{err}");
        assert!(
            err.contains("was marked bad by audit entry")
                && err.contains(&entry)
                && err.contains("leaks memory"),
            "{err}"
        );
    }
    // A digest never in the channel is no rollback target.
    let err = fails_in(
        w,
        &[
            "rollback",
            "--channel",
            "fleet-eu/stable",
            "--to",
            d3,
            "--key",
            &fx.ops.private,
        ],
        2,
    );
    assert!(
        err.contains("has never been in channel fleet-eu/stable"),
        "{err}"
    );
    // canary holds the bad v2: a rollback takes it back to v1; after that,
    // with v2 bad, there is nowhere earlier to go.
    let rb = json_in(
        w,
        &[
            "rollback",
            "--channel",
            "canary",
            "--key",
            &fx.ops.private,
            "--json",
        ],
    );
    assert_eq!(rb["new"], d1.as_str(), "{rb}");
    let err = fails_in(
        w,
        &["rollback", "--channel", "canary", "--key", &fx.ops.private],
        2,
    );
    assert!(
        err.contains("no earlier digest that is not marked bad"),
        "{err}"
    );

    // The log: three entries, chained, signed by the operator.
    let h = history(w, &st.repo, "fleet-eu/stable", &fx.ops.public);
    let entries = h["entries"].as_array().unwrap();
    let actions: Vec<&str> = entries
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["promote", "promote", "rollback"], "{h}");
    assert_eq!(entries[2]["reason"], "crash loop");
    assert_eq!(entries[2]["previous"], entries[1]["entry"]);
    assert_eq!(entries[1]["previous"], entries[0]["entry"]);
    assert_eq!(entries[0]["operator"]["key"], fx.ops.fingerprint.as_str());
    assert_eq!(entries[0]["operator"]["name"], "alice");
    assert!(entries[0]["time"].as_str().unwrap().ends_with('Z'));
    assert_eq!(h["current"], d1.as_str());
    let marks = json_in(w, &["history", &st.repo, "--key", &fx.ops.public, "--json"]);
    assert_eq!(marks["entries"][0]["action"], "mark-bad");
    assert_eq!(marks["entries"][0]["new"], d2.as_str());

    // A key that is not the operator's: wrong signer, named.
    let err = fails_in(
        w,
        &[
            "history",
            &st.repo,
            "--channel",
            "fleet-eu/stable",
            "--key",
            &fx.intruder.public,
        ],
        1,
    );
    assert!(
        err.contains("wrong signer")
            && err.contains(&fx.ops.fingerprint)
            && err.contains("not a trusted operator key"),
        "{err}"
    );
    // And an intruder cannot promote where `operators` is set.
    let err = fails_in(
        w,
        &[
            "promote",
            &format!("{}@{d1}", st.repo),
            "--channel",
            "canary",
            "--key",
            &fx.intruder.private,
        ],
        2,
    );
    assert!(
        err.contains("is not one of channel canary's operators"),
        "{err}"
    );
}

#[test]
fn unsigned_images_and_vulnerable_ones_are_refused_by_rule() {
    let fx = fixture();
    let dbdir = tempfile::tempdir().unwrap();
    write_db(dbdir.path());
    let st = setup(&format!(
        "\n[channels.secure]\nkeys = [\"{}\"]\nscan_db = \"{}\"\n\n[channels.other]\nkeys = [\"{}\"]\n",
        fx.release.public,
        s(dbdir.path()),
        fx.intruder.public
    ));
    let w = st.work.path();
    let err = stderr(&promote(&st, &st.digests[0], "secure", "x"));
    assert!(
        err.contains("policy rule `scan` of channel secure failed") && err.contains("GO-2026-9999"),
        "{err}"
    );
    let err = stderr(&promote(&st, &st.digests[0], "other", "x"));
    assert!(
        err.contains("policy rule `keys: ") && err.contains(&fx.intruder.public),
        "{err}"
    );
    let err = fails_in(
        w,
        &[
            "promote",
            &format!("{}@{}", st.repo, st.digests[0]),
            "--channel",
            "nosuch",
            "--key",
            &fx.ops.private,
        ],
        2,
    );
    assert!(err.contains("has no policy for channel nosuch"), "{err}");
    let err = fails_in(
        w,
        &[
            "promote",
            &format!("{}@{}", st.repo, st.digests[0]),
            "--channel",
            "Bad--name",
            "--key",
            &fx.ops.private,
        ],
        2,
    );
    assert!(err.contains("is not a channel name"), "{err}");
    assert_eq!(st.reg.tag_digest("team/hello", "secure"), None);
    assert_eq!(st.reg.tag_digest("team/hello", "other"), None);
}

/// A database in the vuln.go.dev layout where every Go release is affected.
fn write_db(dir: &Path) {
    let id = "GO-2026-9999";
    let entry = json!({
        "schema_version": "1.3.1", "id": id, "modified": "2026-07-01T00:00:00Z",
        "affected": [{"package": {"name": "stdlib", "ecosystem": "Go"},
            "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "99.0.0"}]}]}]
    });
    std::fs::create_dir_all(dir.join("ID")).unwrap();
    std::fs::create_dir_all(dir.join("index")).unwrap();
    std::fs::write(dir.join(format!("ID/{id}.json")), entry.to_string()).unwrap();
    std::fs::write(
        dir.join("index/modules.json"),
        json!([{"path": "stdlib", "vulns": [{"id": id, "modified": "2026-07-01T00:00:00Z"}]}])
            .to_string(),
    )
    .unwrap();
    std::fs::write(
        dir.join("index/db.json"),
        r#"{"modified":"2026-07-01T00:00:00Z"}"#,
    )
    .unwrap();
}

#[test]
fn racing_promotions_never_both_win() {
    let fx = fixture();
    let st = setup(&format!(
        "\n[channels.race]\nkeys = [\"{}\"]\noperators = [\"{}\"]\n",
        fx.release.public, fx.ops.public
    ));
    promoted(&st, &st.digests[0], "race");
    let mut lost = 0;
    for round in 0..4 {
        // Two operators race to move the channel, each to another digest.
        let current = st.reg.tag_digest("team/hello", "race").unwrap();
        let others: Vec<&String> = st.digests.iter().filter(|d| **d != current).collect();
        let spawn = |digest: &str| {
            slipway()
                .current_dir(st.work.path())
                .args([
                    "promote",
                    &format!("{}@{digest}", st.repo),
                    "--channel",
                    "race",
                    "--key",
                    &fx.ops.private,
                    "--reason",
                    &format!("round {round}"),
                    "--json",
                ])
                .env("COSIGN_PASSWORD", PASSWORD)
                .env("DOCKER_CONFIG", "/nonexistent-slipway-test")
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        };
        let (a, b) = (spawn(others[0]), spawn(others[1]));
        let outs = [a.wait_with_output().unwrap(), b.wait_with_output().unwrap()];
        let mut winners = Vec::new();
        for out in &outs {
            match exit_code(out) {
                0 => {
                    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
                    assert_eq!(v["changed"], true, "{v}");
                    winners.push(v["entry"].as_str().unwrap().to_string());
                }
                4 => {
                    lost += 1;
                    assert!(
                        stderr(out).contains("lost a race on channel race"),
                        "{}",
                        stderr(out)
                    );
                }
                c => panic!("exit {c}: {}", stderr(out)),
            }
        }
        // The tag and the log agree, the log verifies, and every winner is
        // in it; two winners only if one came after the other.
        let h = history(st.work.path(), &st.repo, "race", &fx.ops.public);
        let entries = h["entries"].as_array().unwrap();
        assert_eq!(h["current"], entries.last().unwrap()["new"], "{h}");
        let position = |w: &str| {
            entries
                .iter()
                .position(|e| e["entry"] == w)
                .unwrap_or_else(|| panic!("round {round}: winner {w} is not in the log: {h}"))
        };
        let mut at: Vec<usize> = winners.iter().map(|w| position(w)).collect();
        at.sort();
        if let [x, y] = at[..] {
            assert_eq!(
                y,
                x + 1,
                "round {round}: two winners, not one after the other: {h}"
            );
        }
        assert_eq!(
            *at.last().unwrap_or(&0) + 1,
            entries.len(),
            "round {round}: {h}"
        );
    }
    assert!(lost > 0, "no round raced: the test proved nothing");
}

// ---------------------------------------------------------------- the log offline, and tampered with

const PLAIN: &str = "plain";

/// A registry whose channel `plain` has four entries (v1, v2, v3, then a
/// rollback to v2), copied by `slipway copy` into an OCI layout.
fn log_in_a_layout() -> (Setup, PathBuf, Vec<Value>) {
    let fx = fixture();
    let st = setup(&format!(
        "\n[channels.{PLAIN}]\nkeys = [\"{}\"]\noperators = [\"{}\"]\n",
        fx.release.public, fx.ops.public
    ));
    let w = st.work.path();
    for d in &st.digests {
        promoted(&st, d, PLAIN);
    }
    ok_in(
        w,
        &[
            "rollback",
            &st.repo,
            "--channel",
            PLAIN,
            "--key",
            &fx.ops.private,
            "--reason",
            "v3 is slow",
        ],
    );
    let online = history(w, &st.repo, PLAIN, &fx.ops.public);
    let layout = w.join("layout");
    ok_in(
        w,
        &[
            "copy",
            &format!("{}:{PLAIN}", st.repo),
            &format!("oci:{}", s(&layout)),
        ],
    );
    let entries = online["entries"].as_array().unwrap().clone();
    assert_eq!(entries.len(), 4);
    (st, layout, entries)
}

fn blob(layout: &Path, digest: &str) -> PathBuf {
    layout
        .join("blobs/sha256")
        .join(digest.trim_start_matches("sha256:"))
}

/// Point the layout's tag at another manifest of it.
fn retag(layout: &Path, tag: &str, digest: &str) {
    let path = layout.join("index.json");
    let mut index: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let size = std::fs::metadata(blob(layout, digest)).unwrap().len();
    let entry = index["manifests"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == tag)
        .unwrap();
    entry["digest"] = digest.into();
    entry["size"] = size.into();
    std::fs::write(&path, serde_json::to_vec(&index).unwrap()).unwrap();
}

fn history_fails(layout: &Path, key: &str) -> String {
    fails_in(
        layout.parent().unwrap(),
        &[
            "history",
            &format!("oci:{}", s(layout)),
            "--channel",
            PLAIN,
            "--key",
            key,
        ],
        1,
    )
}

/// Write a new entry manifest (and envelope) into `layout` and return its digest.
fn put_entry(layout: &Path, written: &slipway_release::entry::Written) -> String {
    std::fs::write(
        blob(layout, &Digest::of(&written.envelope).to_string()),
        &written.envelope,
    )
    .unwrap();
    std::fs::write(
        blob(layout, &written.manifest.digest.to_string()),
        &written.manifest.bytes,
    )
    .unwrap();
    written.manifest.digest.to_string()
}

use slipway_oci::Digest;

/// The entry as it was signed, read back from the layout.
fn entry_of(
    layout: &Path,
    digest: &str,
) -> (slipway_release::entry::Entry, slipway_registry::Blob) {
    let store = slipway_registry::Layout::open_dir(layout, None).unwrap();
    let v =
        slipway_release::entry::read(&store, &Digest::parse(digest).unwrap(), &[], "test").unwrap();
    (v.entry, v.subject)
}

fn ops_key() -> slipway_attest::SigningKey {
    let text = std::fs::read_to_string(&fixture().ops.private).unwrap();
    slipway_attest::SigningKey::from_pem(&text, PASSWORD.as_bytes()).unwrap()
}

#[test]
fn the_log_crosses_an_air_gap_and_every_tampering_is_named() {
    let fx = fixture();
    let (st, layout, online) = log_in_a_layout();
    let w = st.work.path();
    let head_tag = "_slipway-audit--plain";
    let entry = |i: usize| online[i]["entry"].as_str().unwrap().to_string();

    // Offline: the layout, and an archive made by `slipway copy`, hold the
    // whole chain; it verifies with the registry gone.
    let archive = w.join("hello.tar");
    ok_in(
        w,
        &[
            "copy",
            &format!("{}:{PLAIN}", st.repo),
            &format!("oci-archive:{}", s(&archive)),
        ],
    );
    drop(st.reg);
    for place in [
        format!("oci:{}", s(&layout)),
        format!("oci-archive:{}", s(&archive)),
    ] {
        let h = json_in(
            w,
            &[
                "history",
                &place,
                "--channel",
                PLAIN,
                "--key",
                &fx.ops.public,
                "--json",
            ],
        );
        assert_eq!(h["entries"].as_array().unwrap(), &online, "{place}");
        assert_eq!(h["current"], online[3]["new"], "{place}");
    }

    let case = |name: &str| {
        let dir = w.join(name);
        copy_tree(&layout, &dir);
        dir
    };

    // Deleted: the second entry's manifest is gone.
    let deleted = case("deleted");
    std::fs::remove_file(blob(&deleted, &entry(1))).unwrap();
    let err = history_fails(&deleted, &fx.ops.public);
    assert!(
        err.contains("an entry was deleted") && err.contains(&entry(1)),
        "{err}"
    );

    // Deleted and re-linked by someone with the operator's key: a gap.
    let cut = case("cut");
    let (e2, subject) = entry_of(&cut, &entry(2));
    let relinked = slipway_release::entry::Entry {
        previous: Some(entry(0)),
        ..e2
    };
    let e2b = put_entry(&cut, &relinked.seal(&ops_key(), &subject));
    let (e3, subject) = entry_of(&cut, &entry(3));
    let head = put_entry(
        &cut,
        &slipway_release::entry::Entry {
            previous: Some(e2b.clone()),
            ..e3
        }
        .seal(&ops_key(), &subject),
    );
    retag(&cut, head_tag, &head);
    let err = history_fails(&cut, &fx.ops.public);
    assert!(
        err.contains("an entry was deleted") && err.contains("jumps from 0") && err.contains(&e2b),
        "{err}"
    );

    // Reordered, re-signed with the operator's key: entries 1 and 2 swapped.
    let reordered = case("reordered");
    let (e1, s1) = entry_of(&reordered, &entry(1));
    let (e2, s2) = entry_of(&reordered, &entry(2));
    let (e3, s3) = entry_of(&reordered, &entry(3));
    let key = ops_key();
    let new2 = put_entry(
        &reordered,
        &slipway_release::entry::Entry {
            previous: Some(entry(0)),
            ..e2
        }
        .seal(&key, &s2),
    );
    let new1 = put_entry(
        &reordered,
        &slipway_release::entry::Entry {
            previous: Some(new2.clone()),
            ..e1
        }
        .seal(&key, &s1),
    );
    let new3 = put_entry(
        &reordered,
        &slipway_release::entry::Entry {
            previous: Some(new1.clone()),
            ..e3
        }
        .seal(&key, &s3),
    );
    retag(&reordered, head_tag, &new3);
    let err = history_fails(&reordered, &fx.ops.public);
    assert!(
        err.contains("entries were reordered") && err.contains(&new2) && err.contains(&new1),
        "{err}"
    );

    // Edited in place: the third entry's envelope bytes changed.
    let in_place = case("in-place");
    let envelope = blob(&in_place, &envelope_of(&in_place, &entry(2)));
    let text = std::fs::read_to_string(&envelope).unwrap();
    std::fs::write(&envelope, text.replacen('A', "B", 1)).unwrap();
    let err = history_fails(&in_place, &fx.ops.public);
    assert!(
        err.contains("an entry was edited") && err.contains(&entry(2)),
        "{err}"
    );

    // Edited and re-stored: the head's reason changed, the signature kept.
    let edited = case("edited");
    let env_digest = envelope_of(&edited, &entry(3));
    let mut env: Value =
        serde_json::from_slice(&std::fs::read(blob(&edited, &env_digest)).unwrap()).unwrap();
    let payload = base64_decode(env["payload"].as_str().unwrap());
    let forged = String::from_utf8(payload)
        .unwrap()
        .replace("v3 is slow", "routine");
    env["payload"] = base64_encode(forged.as_bytes()).into();
    let env_bytes = serde_json::to_vec(&env).unwrap();
    let env_new = Digest::of(&env_bytes).to_string();
    std::fs::write(blob(&edited, &env_new), &env_bytes).unwrap();
    let mut manifest: Value =
        serde_json::from_slice(&std::fs::read(blob(&edited, &entry(3))).unwrap()).unwrap();
    manifest["layers"][0]["digest"] = env_new.into();
    manifest["layers"][0]["size"] = env_bytes.len().into();
    let m_bytes = serde_json::to_vec(&manifest).unwrap();
    let m_digest = Digest::of(&m_bytes).to_string();
    std::fs::write(blob(&edited, &m_digest), &m_bytes).unwrap();
    retag(&edited, head_tag, &m_digest);
    let err = history_fails(&edited, &fx.ops.public);
    assert!(
        err.contains("an entry was edited")
            && err.contains(&m_digest)
            && err.contains("does not match its signature"),
        "{err}"
    );

    // A wrong signer: an entry appended with another key.
    let appended = case("appended");
    let (e3, s3) = entry_of(&appended, &entry(3));
    let text = std::fs::read_to_string(&fx.intruder.private).unwrap();
    let intruder = slipway_attest::SigningKey::from_pem(&text, PASSWORD.as_bytes()).unwrap();
    let mut forged = slipway_release::entry::Entry {
        sequence: 4,
        previous: Some(entry(3)),
        old: Some(e3.new.clone()),
        reason: Some("nothing to see".into()),
        ..e3
    };
    forged.operator.key = intruder.public_key().fingerprint().to_string();
    forged.operator.public_key = intruder.public_key().to_pem();
    let head = put_entry(&appended, &forged.seal(&intruder, &s3));
    retag(&appended, head_tag, &head);
    let err = history_fails(&appended, &fx.ops.public);
    assert!(
        err.contains("wrong signer")
            && err.contains(&head)
            && err.contains(&fx.intruder.fingerprint),
        "{err}"
    );

    // Each case says something of its own.
    let messages = [
        history_fails(&deleted, &fx.ops.public),
        history_fails(&cut, &fx.ops.public),
        history_fails(&reordered, &fx.ops.public),
        history_fails(&in_place, &fx.ops.public),
        history_fails(&edited, &fx.ops.public),
        history_fails(&appended, &fx.ops.public),
    ];
    for (i, a) in messages.iter().enumerate() {
        for b in &messages[i + 1..] {
            assert_ne!(a, b);
        }
    }
}

/// The digest of the envelope layer of the entry manifest `digest`.
fn envelope_of(layout: &Path, digest: &str) -> String {
    let m: Value = serde_json::from_slice(&std::fs::read(blob(layout, digest)).unwrap()).unwrap();
    m["layers"][0]["digest"].as_str().unwrap().to_string()
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

fn base64_encode(b: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(b)
}
