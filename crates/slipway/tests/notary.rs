//! Notary Project signatures (issue #12 §3) against the real `notation`
//! v1.3.2 (scripts/install-notation.sh) and Debian's registry 2.8, which has
//! no referrers API, so both tools use the referrers tag schema. notation
//! verifies what slipway signs, slipway verifies what notation signs, and
//! both refuse the same bad cases. Certificates come from a test CA.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use slipway_notary::testca::{Ca, KeyKind, Leaf};
use slipway_testkit::registry::TestRegistry;
use slipway_testkit::registry::write_test_layout;
use slipway_testkit::stdout_ok;

mod common;
use common::notary::{ACME, Trust, files};
use common::*;

fn run(args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut c = slipway();
    c.args(args)
        .env("DOCKER_CONFIG", "/nonexistent-slipway-test")
        .env_remove("SOURCE_DATE_EPOCH");
    for (k, v) in envs {
        c.env(k, v);
    }
    c.output().unwrap()
}

fn ok(args: &[&str]) -> String {
    stdout_ok(&run(args, &[]), &format!("slipway {args:?}"))
}

/// Run slipway expecting exit `code`; returns stderr.
fn fails(args: &[&str], code: i32) -> String {
    let out = run(args, &[]);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(
        exit_code(&out),
        code,
        "slipway {args:?} should exit {code}:\nstdout: {}\nstderr: {err}",
        String::from_utf8_lossy(&out.stdout)
    );
    err
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Push a small two-platform image as `repo:v1`; returns its index digest.
fn push(reg: &TestRegistry, dir: &Path, repo: &str, seed: u64) -> String {
    let layout = write_test_layout(
        &dir.join(repo),
        "v1",
        &["linux/amd64", "linux/arm64"],
        4096,
        seed,
    );
    ok(&[
        "copy",
        &format!("oci:{}:v1", layout.dir.display()),
        &reg.reference(&format!("{repo}:v1")),
    ]);
    layout.index_digest
}

#[test]
fn notation_and_slipway_verify_each_other() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let reg = TestRegistry::plain();
    let ca = Ca::new("Acme CA", KeyKind::P384);
    let other = Ca::new("Other CA", KeyKind::P256);

    // slipway signs; notation verifies.
    let digest = push(&reg, dir, "team/app", 1);
    let (key, chain) = files(
        dir,
        "signer",
        &ca.issue(&Leaf::new("Acme", "release signer")),
    );
    let image = reg.reference("team/app:v1");
    let signed: Value = serde_json::from_str(&ok(&[
        "sign",
        "--notation",
        "--key",
        s(&key),
        "--cert",
        s(&chain),
        &image,
        "--json",
    ]))
    .unwrap();
    assert_eq!(signed["digest"], digest.as_str());
    assert_eq!(signed["algorithm"], "ES256");
    let scope = format!("{}/team/app", reg.host());
    let trust = Trust::new(&dir.join("trusted"), &[&ca], &scope, "strict", ACME);
    let pinned = format!("{scope}@{digest}");
    let out = trust.notation(&["verify", "--insecure-registry", &pinned]);
    stdout_ok(&out, "notation verify of slipway's signature");
    let listed = trust.notation(&["list", "--insecure-registry", &pinned]);
    assert!(stdout_ok(&listed, "notation list").contains(signed["signature"].as_str().unwrap()));

    // ... and slipway verifies its own, by tag and by digest.
    let v: Value =
        serde_json::from_str(&ok(&[&trust.args(&image)[..], &["--json"]].concat())).unwrap();
    assert_eq!(v["signer"], "CN=release signer,O=Acme,L=Seattle,ST=WA,C=US");
    assert_eq!(v["level"], "strict");
    ok(&trust.args(&pinned));

    // notation signs (RSA 3072 → PS384) with a key from signingkeys.json; slipway verifies.
    let digest2 = push(&reg, dir, "team/app2", 2);
    let mut leaf = Leaf::new("Acme", "notation signer");
    leaf.key = KeyKind::Rsa(3072);
    let (nkey, nchain) = files(dir, "notation-signer", &ca.issue(&leaf));
    let scope2 = format!("{}/team/app2", reg.host());
    let trust2 = Trust::new(&dir.join("trusted2"), &[&ca], &scope2, "strict", ACME);
    std::fs::write(
        trust2.xdg.join("notation/signingkeys.json"),
        format!(
            r#"{{"default":"acme","keys":[{{"name":"acme","keyPath":"{}","certPath":"{}"}}]}}"#,
            nkey.display(),
            nchain.display()
        ),
    )
    .unwrap();
    let pinned2 = format!("{scope2}@{digest2}");
    let out = trust2.notation(&["sign", "--insecure-registry", "--key", "acme", &pinned2]);
    stdout_ok(&out, "notation sign");
    let v: Value = serde_json::from_str(&ok(&[
        &trust2.args(&reg.reference("team/app2:v1"))[..],
        &["--json"],
    ]
    .concat()))
    .unwrap();
    assert_eq!(v["algorithm"], "PS384");
    assert!(
        v["signer"]
            .as_str()
            .unwrap()
            .starts_with("CN=notation signer"),
        "{v}"
    );

    // Both refuse an untrusted root.
    let untrusted = Trust::new(&dir.join("untrusted"), &[&other], &scope, "strict", ACME);
    let err = fails(&untrusted.args(&image), 1);
    assert!(
        err.contains("authenticity check failed") && err.contains("the signer is not trusted"),
        "{err}"
    );
    assert!(
        !untrusted
            .notation(&["verify", "--insecure-registry", &pinned])
            .status
            .success()
    );

    // ... another identity.
    let stranger = Trust::new(
        &dir.join("stranger"),
        &[&ca],
        &scope,
        "strict",
        "x509.subject: C=US, ST=WA, O=Other",
    );
    let err = fails(&stranger.args(&image), 1);
    assert!(err.contains("is not a trusted identity"), "{err}");
    assert!(
        !stranger
            .notation(&["verify", "--insecure-registry", &pinned])
            .status
            .success()
    );

    // ... a scope no statement covers.
    let elsewhere = Trust::new(
        &dir.join("elsewhere"),
        &[&ca],
        &format!("{}/team/other", reg.host()),
        "strict",
        ACME,
    );
    let err = fails(&elsewhere.args(&image), 1);
    assert!(err.contains("no statement applies"), "{err}");
    assert!(
        !elsewhere
            .notation(&["verify", "--insecure-registry", &pinned])
            .status
            .success()
    );

    // Audit lets the untrusted signature through with a warning, as notation does.
    let audit = Trust::new(&dir.join("audit"), &[&other], &scope, "audit", ACME);
    let out = run(&audit.args(&image), &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(exit_code(&out), 0, "{err}");
    assert!(
        err.contains("authenticity check failed, logged only at level audit"),
        "{err}"
    );
    stdout_ok(
        &audit.notation(&["verify", "--insecure-registry", &pinned]),
        "notation verify at audit",
    );

    // An expired signing certificate: both refuse at strict.
    let digest3 = push(&reg, dir, "team/old", 3);
    let mut old = Leaf::new("Acme", "old signer");
    old.years = (2020, 2021);
    let (okey, ochain) = files(dir, "old", &ca.issue(&old));
    let image3 = reg.reference("team/old:v1");
    let out = run(
        &[
            "sign",
            "--notation",
            "--key",
            s(&okey),
            "--cert",
            s(&ochain),
            &image3,
        ],
        &[("SOURCE_DATE_EPOCH", "1590000000")],
    );
    stdout_ok(&out, "signing with SOURCE_DATE_EPOCH in 2020");
    let scope3 = format!("{}/team/old", reg.host());
    let trust3 = Trust::new(&dir.join("old"), &[&ca], &scope3, "strict", ACME);
    let err = fails(&trust3.args(&image3), 1);
    assert!(
        err.contains("authenticTimestamp check failed") && err.contains("expired at 2021-01-01"),
        "{err}"
    );
    assert!(
        !trust3
            .notation(&[
                "verify",
                "--insecure-registry",
                &format!("{scope3}@{digest3}")
            ])
            .status
            .success()
    );

    // A tampered envelope in the registry's storage: refused, naming the blob.
    let envelope = signed_envelope(&reg, &scope, signed["signature"].as_str().unwrap());
    let data = blob_path(&reg, &envelope);
    let mut bytes = std::fs::read(&data).unwrap();
    let i = bytes.len() / 2;
    bytes[i] ^= 1;
    std::fs::write(&data, &bytes).unwrap();
    let err = fails(&trust.args(&image), 1);
    assert!(err.contains(&envelope), "{err}");
    assert!(
        err.contains("corrupt or tampered") || err.contains("digest"),
        "{err}"
    );
    assert!(
        !trust
            .notation(&["verify", "--insecure-registry", &pinned])
            .status
            .success()
    );

    // The copy gate: the first image goes through, the tampered one does not.
    let out_ok = dir.join("app2.tar");
    let copy = [
        "copy",
        "--trust-policy",
        s(&trust2.policy),
        "--trust-store",
        s(&trust2.store),
        &reg.reference("team/app2:v1"),
        &format!("oci-archive:{}", out_ok.display()),
    ];
    ok(&copy);
    assert!(out_ok.is_file());
    // The archive carries notation's signature (a referrer), and on into an
    // "isolated" repository, gated again, where notation verifies it.
    let archived = format!("oci-archive:{}", out_ok.display());
    ok(&[&trust2.args(&archived)[..], &["--scope", &scope2]].concat());
    let isolated = reg.reference("isolated/app2:v1");
    ok(&[
        "copy",
        "--trust-policy",
        s(&trust2.policy),
        "--trust-store",
        s(&trust2.store),
        "--scope",
        &scope2,
        &archived,
        &isolated,
    ]);
    let scope4 = format!("{}/isolated/app2", reg.host());
    let far = Trust::new(&dir.join("far"), &[&ca], &scope4, "strict", ACME);
    stdout_ok(
        &far.notation(&[
            "verify",
            "--insecure-registry",
            &format!("{scope4}@{digest2}"),
        ]),
        "notation verify after the air gap",
    );
    let refused = dir.join("app.tar");
    let err = fails(
        &[
            "copy",
            "--trust-policy",
            s(&trust.policy),
            "--trust-store",
            s(&trust.store),
            &image,
            &format!("oci-archive:{}", refused.display()),
        ],
        1,
    );
    assert!(err.contains("no Notary signature"), "{err}");
    assert!(
        !refused.exists(),
        "nothing is written when the gate refuses"
    );
}

/// The envelope digest of the signature manifest `signature` in `scope`.
fn signed_envelope(reg: &TestRegistry, scope: &str, signature: &str) -> String {
    let repo = scope.split_once('/').unwrap().1;
    let out = Command::new("curl")
        .args([
            "-sf",
            "-H",
            "Accept: application/vnd.oci.image.manifest.v1+json",
        ])
        .arg(format!("{}/v2/{repo}/manifests/{signature}", reg.url()))
        .output()
        .unwrap();
    let m: Value = serde_json::from_slice(&out.stdout).unwrap();
    m["layers"][0]["digest"].as_str().unwrap().to_string()
}

fn blob_path(reg: &TestRegistry, digest: &str) -> PathBuf {
    let hex = digest.strip_prefix("sha256:").unwrap();
    reg.storage_dir()
        .join("docker/registry/v2/blobs/sha256")
        .join(&hex[..2])
        .join(hex)
        .join("data")
}

#[test]
fn layouts_and_archives_carry_notary_signatures() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let ca = Ca::new("Acme CA", KeyKind::P256);
    let layout = write_test_layout(&dir.join("image"), "v1", &["linux/amd64"], 2048, 9);
    let (key, chain) = files(dir, "signer", &ca.issue(&Leaf::new("Acme", "signer")));
    let oci = format!("oci:{}:v1", layout.dir.display());
    ok(&[
        "sign",
        "--notation",
        "--key",
        s(&key),
        "--cert",
        s(&chain),
        &oci,
    ]);
    let trust = Trust::new(&dir.join("trust"), &[&ca], "local/app", "strict", ACME);
    let mut args = trust.args(&oci);
    args.extend(["--scope", "local/app"]);
    ok(&args);
    // Without a name for the layout, the scope must be given.
    let err = fails(&trust.args(&oci), 2);
    assert!(err.contains("--scope"), "{err}");

    let archive = dir.join("image.tar");
    let archived = format!("oci-archive:{}", archive.display());
    ok(&["copy", &oci, &archived]);
    ok(&[
        "sign",
        "--notation",
        "--key",
        s(&key),
        "--cert",
        s(&chain),
        &archived,
    ]);
    let mut args = trust.args(&archived);
    args.extend(["--scope", "local/app"]);
    ok(&args);
    let other = Ca::new("Other CA", KeyKind::P256);
    let untrusted = Trust::new(
        &dir.join("untrusted"),
        &[&other],
        "local/app",
        "strict",
        ACME,
    );
    let mut args = untrusted.args(&archived);
    args.extend(["--scope", "local/app"]);
    let err = fails(&args, 1);
    assert!(err.contains("not trusted"), "{err}");
}

#[test]
fn bad_input_is_exit_2_with_a_reason() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let ca = Ca::new("Acme CA", KeyKind::P256);
    let layout = write_test_layout(&dir.join("image"), "v1", &["linux/amd64"], 1024, 5);
    let oci = format!("oci:{}:v1", layout.dir.display());
    let (key, chain) = files(dir, "signer", &ca.issue(&Leaf::new("Acme", "signer")));
    let err = fails(&["sign", "--notation", "--key", s(&key), &oci], 2);
    assert!(err.contains("--cert"), "{err}");
    let err = fails(
        &[
            "sign",
            "--notation",
            "--key",
            s(&chain),
            "--cert",
            s(&chain),
            &oci,
        ],
        2,
    );
    assert!(err.contains("not a private key"), "{err}");
    let err = fails(
        &[
            "sign",
            "--notation",
            "--key",
            s(&key),
            "--cert",
            s(&chain),
            "--expiry",
            "soon",
            &oci,
        ],
        2,
    );
    assert!(err.contains("24h"), "{err}");
    let bad_policy = dir.join("policy.json");
    std::fs::write(&bad_policy, r#"{"version":"1.0","trustPolicies":[{"name":"x","registryScopes":["*"],"signatureVerification":{"level":"strictest"},"trustStores":["ca:x"],"trustedIdentities":["*"]}]}"#).unwrap();
    let err = fails(
        &[
            "verify",
            "--trust-policy",
            s(&bad_policy),
            "--trust-store",
            s(dir),
            "--scope",
            "local/app",
            &oci,
        ],
        2,
    );
    assert!(err.contains("level \"strictest\""), "{err}");
    let trust = Trust::new(&dir.join("trust"), &[&ca], "*", "strict", ACME);
    let err = fails(
        &[
            "verify",
            "--trust-policy",
            s(&trust.policy),
            "--trust-store",
            s(dir),
            "--scope",
            "local/app",
            &oci,
        ],
        2,
    );
    assert!(err.contains("x509/"), "{err}");
    let err = fails(
        &[
            "verify",
            "--trust-policy",
            s(&trust.policy),
            "--trust-store",
            s(&trust.store),
            "--scope",
            "local/app",
            &oci,
        ],
        1,
    );
    assert!(err.contains("has no Notary signature"), "{err}");
}

/// On a registry with the referrers API (go-containerregistry's), both tools
/// find each other's signatures through the API instead of the tag schema.
#[test]
fn through_the_referrers_api() {
    use slipway_testkit::supply_chain::ReferrersRegistry;
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let reg = ReferrersRegistry::start();
    let ca = Ca::new("Acme CA", KeyKind::P256);
    let layout = write_test_layout(
        &dir.join("image"),
        "v1",
        &["linux/amd64", "linux/arm64"],
        2048,
        11,
    );
    let image = reg.reference("team/api:v1");
    ok(&["copy", &format!("oci:{}:v1", layout.dir.display()), &image]);
    let scope = format!("{}/team/api", reg.host());
    let pinned = format!("{scope}@{}", layout.index_digest);
    let trust = Trust::new(&dir.join("trust"), &[&ca], &scope, "strict", ACME);

    let (key, chain) = files(
        dir,
        "signer",
        &ca.issue(&Leaf::new("Acme", "slipway signer")),
    );
    ok(&[
        "sign",
        "--notation",
        "--key",
        s(&key),
        "--cert",
        s(&chain),
        &image,
    ]);
    stdout_ok(
        &trust.notation(&["verify", "--insecure-registry", &pinned]),
        "notation verify through the API",
    );

    let mut leaf = Leaf::new("Acme", "notation signer");
    leaf.key = KeyKind::P384;
    let (nkey, nchain) = files(dir, "notation-signer", &ca.issue(&leaf));
    std::fs::write(
        trust.xdg.join("notation/signingkeys.json"),
        format!(
            r#"{{"default":"acme","keys":[{{"name":"acme","keyPath":"{}","certPath":"{}"}}]}}"#,
            nkey.display(),
            nchain.display()
        ),
    )
    .unwrap();
    let out = trust.notation(&[
        "sign",
        "--insecure-registry",
        "--force-referrers-tag=false",
        "--key",
        "acme",
        &pinned,
    ]);
    stdout_ok(&out, "notation sign through the referrers API");
    let listed = stdout_ok(
        &trust.notation(&["list", "--insecure-registry", &pinned]),
        "notation list",
    );
    assert_eq!(
        listed.matches("sha256:").count(),
        3,
        "the image and two signatures:\n{listed}"
    );
    // Only notation's signature passes a policy that trusts its signer alone.
    let only = Trust::new(
        &dir.join("only"),
        &[&ca],
        &scope,
        "strict",
        "x509.subject: C=US, ST=WA, O=Acme, CN=notation signer",
    );
    let v: Value =
        serde_json::from_str(&ok(&[&only.args(&image)[..], &["--json"]].concat())).unwrap();
    assert_eq!(v["algorithm"], "ES384");
    assert!(
        v["signer"]
            .as_str()
            .unwrap()
            .starts_with("CN=notation signer"),
        "{v}"
    );
}
