//! The secret scanner on real keys (openssl, ssh-keygen), tokens of every
//! kind, and on files that must pass: a Go binary, the CA bundle, configs.

mod common;

use std::path::Path;
use std::process::Command;

use slipway_scan::secrets::{SecretFinding, SecretKind, scan};
use slipway_testkit::{require, stdout_ok};

fn kinds(found: &[SecretFinding]) -> Vec<SecretKind> {
    found.iter().map(|f| f.kind).collect()
}

/// A deterministic pseudo-random string over `alphabet` (xorshift).
fn random(seed: u64, len: usize, alphabet: &[u8]) -> String {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            alphabet[(x % alphabet.len() as u64) as usize] as char
        })
        .collect()
}

const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const B64URL: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const UPPER_DIGITS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

fn b64url(data: &[u8]) -> String {
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, &b)| acc | (b as u32) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(B64URL[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

/// Every way of showing a finding.
fn renderings(found: &[SecretFinding]) -> String {
    found
        .iter()
        .map(|f| format!("{f} {f:?} {}", serde_json::to_string(f).unwrap()))
        .collect()
}

/// No 8-character window of the secret appears in the output.
fn assert_no_leak(found: &[SecretFinding], secret: &str) {
    let shown = renderings(found);
    let s: Vec<char> = secret.chars().collect();
    for w in s.windows(8) {
        let w: String = w.iter().collect();
        assert!(!shown.contains(&w), "finding output leaks `{w}`: {shown}");
    }
}

fn openssl(args: &[&str], out: &Path) -> String {
    let openssl = require("openssl", "openssl");
    // -out before the rest: genrsa takes the key size last.
    let o = Command::new(openssl)
        .arg(args[0])
        .arg("-out")
        .arg(out)
        .args(&args[1..])
        .output()
        .unwrap();
    stdout_ok(&o, &format!("openssl {args:?}"));
    std::fs::read_to_string(out).unwrap()
}

#[test]
fn private_keys_of_every_pem_kind_are_caught() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let keys = [
        (
            "PRIVATE KEY",
            openssl(&["genpkey", "-algorithm", "ed25519"], &t.join("pkcs8.pem")),
        ),
        (
            "RSA PRIVATE KEY",
            openssl(&["genrsa", "-traditional", "1024"], &t.join("rsa.pem")),
        ),
        (
            "EC PRIVATE KEY",
            openssl(
                &["ecparam", "-name", "prime256v1", "-genkey", "-noout"],
                &t.join("ec.pem"),
            ),
        ),
        (
            "ENCRYPTED PRIVATE KEY",
            openssl(
                &[
                    "genpkey",
                    "-algorithm",
                    "ed25519",
                    "-aes256",
                    "-pass",
                    "pass:hunter22",
                ],
                &t.join("enc.pem"),
            ),
        ),
        ("OPENSSH PRIVATE KEY", {
            let ssh_keygen = require("ssh-keygen", "openssh-client");
            let key = t.join("id_ed25519");
            let o = Command::new(ssh_keygen)
                .args(["-q", "-t", "ed25519", "-N", "", "-C", "test", "-f"])
                .arg(&key)
                .output()
                .unwrap();
            stdout_ok(&o, "ssh-keygen");
            std::fs::read_to_string(&key).unwrap()
        }),
    ];
    for (label, pem) in &keys {
        assert!(pem.contains(&format!("-----BEGIN {label}-----")), "{pem}");
        let found = scan("/app/data/key.pem", pem.as_bytes());
        assert_eq!(kinds(&found), [SecretKind::PrivateKey], "{label}");
        assert_eq!(found[0].line, Some(1));
        assert_eq!(found[0].path, "/app/data/key.pem");
        let body: String = pem.lines().nth(1).unwrap().to_string();
        assert_no_leak(&found, &body);
        // Inside a binary too (an embedded key), located by offset.
        let mut blob = vec![0u8; 4096];
        blob.extend_from_slice(pem.as_bytes());
        blob.extend_from_slice(&[0u8; 100]);
        let found = scan("/app/server", &blob);
        assert_eq!(
            kinds(&found),
            [SecretKind::PrivateKey],
            "{label} in a binary"
        );
        assert_eq!((found[0].line, found[0].offset), (None, 4096));
    }
    // The public half is not a secret, and neither is a bare marker string.
    let public = openssl(
        &[
            "pkey",
            "-in",
            t.join("pkcs8.pem").to_str().unwrap(),
            "-pubout",
        ],
        &t.join("pub.pem"),
    );
    assert!(scan("/app/data/pub.pem", public.as_bytes()).is_empty());
    assert!(
        scan(
            "/app/x",
            b"\0\0-----BEGIN RSA PRIVATE KEY-----\0\0PEM parser"
        )
        .is_empty()
    );
}

#[test]
fn aws_keys_jwts_assignments_and_random_tokens_are_caught() {
    let key_id = format!("AKIA{}", random(1, 16, UPPER_DIGITS));
    let secret_key = random(2, 40, B64);
    let creds =
        format!("[default]\naws_access_key_id = {key_id}\naws_secret_access_key = {secret_key}\n");
    let found = scan("/root/.aws/credentials", creds.as_bytes());
    assert_eq!(
        kinds(&found),
        [SecretKind::AwsAccessKeyId, SecretKind::AwsSecretKey]
    );
    assert_eq!((found[0].line, found[1].line), (Some(2), Some(3)));
    assert_no_leak(&found, &key_id);
    assert_no_leak(&found, &secret_key);

    // A key id inside a binary, and the documentation example that is not one.
    let mut blob = vec![0u8; 1000];
    blob.extend_from_slice(key_id.as_bytes());
    blob.extend_from_slice(b"\0AKIAIOSFODNN7EXAMPLE\0");
    let found = scan("/app/server", &blob);
    assert_eq!(kinds(&found), [SecretKind::AwsAccessKeyId]);
    assert_eq!(found[0].offset, 1000);
    // Part of a longer word is not a key id.
    assert!(scan("/x", format!("X{key_id}").as_bytes()).is_empty());

    let header = b64url(br#"{"alg":"HS256","typ":"JWT"}"#);
    let payload = b64url(br#"{"sub":"1234567890","name":"svc","iat":1700000000}"#);
    let jwt = format!("{header}.{payload}.{}", random(3, 43, B64URL));
    let found = scan(
        "/app/data/config.json",
        format!("{{\n  \"auth\": \"Bearer {jwt}\"\n}}\n").as_bytes(),
    );
    assert_eq!(kinds(&found), [SecretKind::Jwt]);
    assert_eq!(found[0].line, Some(2));
    assert_no_leak(&found, &jwt);
    let mut blob = vec![0u8; 64];
    blob.extend_from_slice(jwt.as_bytes());
    assert_eq!(kinds(&scan("/app/server", &blob)), [SecretKind::Jwt]);
    // Base64url parts whose header is not JSON are not a JWT.
    let not_jwt = format!(
        "eyJ{}.eyJ{}.abc",
        random(4, 20, B64URL),
        random(5, 20, B64URL)
    );
    assert!(!kinds(&scan("/app/server", not_jwt.as_bytes())).contains(&SecretKind::Jwt));

    let password = "s3cr3t-Pa55word";
    for (path, text) in [
        (
            "/app/data/.env",
            format!("# database\nDB_HOST=db\nDB_PASSWORD={password}\n"),
        ),
        (
            "/app/data/app.yaml",
            format!("db:\n  host: db\n  passwd: \"{password}\"\n"),
        ),
        (
            "/etc/app/app.ini",
            format!("[db]\nhost = db\nsecret = {password}\n"),
        ),
        (
            "/app/data/settings.json",
            format!("{{\n  \"host\": \"db\",\n  \"api_token\": \"{password}\"\n}}\n"),
        ),
        (
            "/app/data/app.properties",
            format!("# x\nhost=db\nservice.token: {password}\n"),
        ),
    ] {
        let found = scan(path, text.as_bytes());
        assert_eq!(kinds(&found), [SecretKind::PasswordAssignment], "{path}");
        assert_eq!(found[0].line, Some(3), "{path}");
        assert_no_leak(&found, password);
    }

    let token = random(6, 40, B64);
    let found = scan(
        "/app/data/notes",
        format!("deploy with\n{token}\n").as_bytes(),
    );
    assert_eq!(kinds(&found), [SecretKind::HighEntropy]);
    assert_eq!(found[0].line, Some(2));
    assert_no_leak(&found, &token);
}

#[test]
fn a_go_binary_the_ca_bundle_and_ordinary_configs_pass() {
    let tmp = tempfile::tempdir().unwrap();
    let bin = common::hello(tmp.path());
    let dep = common::text_dep(tmp.path());
    for b in [&bin, &dep] {
        let data = std::fs::read(b).unwrap();
        assert!(
            scan("/app/hello", &data).is_empty(),
            "{}: {:?}",
            b.display(),
            scan("/app/hello", &data)
        );
    }

    let bundle = Path::new("/etc/ssl/certs/ca-certificates.crt");
    assert!(
        bundle.is_file(),
        "the system CA bundle is required: run scripts/setup.sh (Debian package ca-certificates)"
    );
    let pem = std::fs::read(bundle).unwrap();
    assert!(pem.len() > 100_000, "a real bundle");
    assert!(scan("/etc/ssl/certs/ca-certificates.crt", &pem).is_empty());

    // Module files with checksums, and the host's ordinary configuration.
    let mut files = vec![
        tmp.path().join("textdep-src/go.sum"),
        tmp.path().join("textdep-src/go.mod"),
    ];
    for f in [
        "/etc/passwd",
        "/etc/group",
        "/etc/nsswitch.conf",
        "/etc/os-release",
        "/etc/services",
        "/etc/protocols",
        "/etc/adduser.conf",
        "/etc/login.defs",
        "/etc/ssh/ssh_config",
    ] {
        if Path::new(f).is_file() {
            files.push(f.into());
        }
    }
    assert!(files.len() >= 8, "{files:?}");
    for f in files {
        let data = std::fs::read(&f).unwrap();
        let found = scan(&f.to_string_lossy(), &data);
        assert!(found.is_empty(), "{}: {found:?}", f.display());
    }
}
