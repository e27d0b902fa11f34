//! `slipway keygen`: files, modes, refusals and exit codes.

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};

fn slipway() -> Command {
    let mut c = Command::new(assert_cmd::cargo::cargo_bin!("slipway"));
    c.env_remove("COSIGN_PASSWORD").stdin(Stdio::null());
    c
}

#[test]
fn writes_a_readable_pair_and_refuses_to_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("keys/release");
    let out = slipway()
        .args(["keygen", "--json", "--prefix"])
        .arg(&prefix)
        .env("COSIGN_PASSWORD", "pw")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let key_path = dir.path().join("keys/release.key");
    let pub_path = dir.path().join("keys/release.pub");
    assert_eq!(json["private_key"], key_path.to_str().unwrap());
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&key_path), 0o600);
    assert_eq!(mode(&pub_path), 0o644);
    let key =
        slipway_attest::SigningKey::from_pem(&std::fs::read_to_string(&key_path).unwrap(), b"pw")
            .unwrap();
    let public = std::fs::read_to_string(&pub_path).unwrap();
    assert_eq!(key.public_key().to_pem(), public);
    assert_eq!(
        json["fingerprint"],
        key.public_key().fingerprint().to_string()
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("pw\n") && !stderr.contains("\"pw\""));

    // Existing keys are kept without --force (exit 2), replaced with it.
    let again = slipway()
        .args(["keygen", "--prefix"])
        .arg(&prefix)
        .env("COSIGN_PASSWORD", "pw")
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("--force"));
    assert_eq!(std::fs::read_to_string(&pub_path).unwrap(), public);
    let forced = slipway()
        .args(["keygen", "--force", "--prefix"])
        .arg(&prefix)
        .env("COSIGN_PASSWORD", "")
        .output()
        .unwrap();
    assert!(forced.status.success());
    assert_ne!(std::fs::read_to_string(&pub_path).unwrap(), public);
}

#[test]
fn no_password_and_no_terminal_is_invalid_input() {
    let dir = tempfile::tempdir().unwrap();
    let out = slipway()
        .args(["keygen", "--prefix"])
        .arg(dir.path().join("k"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("COSIGN_PASSWORD"));
    assert!(!dir.path().join("k.key").exists());
}
