//! Key files: round trip, every accepted scrypt N, and each failure distinct.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use proptest::prelude::*;
use slipway_attest::{KeyError, PublicKey, SigningKey};

fn body_json(pem: &str) -> serde_json::Value {
    let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    serde_json::from_slice(&B64.decode(b64).unwrap()).unwrap()
}

fn pem_of(label: &str, body: &[u8]) -> String {
    let b64 = B64.encode(body);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

#[test]
fn round_trip_for_every_accepted_n_and_pem_body_field_by_field() {
    let key = SigningKey::generate().unwrap();
    for n in [32_768u32, 65_536, 131_072] {
        let pem = key.to_encrypted_pem_with_n(b"pw", n).unwrap();
        assert!(pem.starts_with("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n"));
        assert!(pem.ends_with("-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n"));
        let v = body_json(&pem);
        let obj = v.as_object().unwrap();
        assert_eq!(
            obj.keys().collect::<Vec<_>>(),
            ["cipher", "ciphertext", "kdf"]
        );
        assert_eq!(v["kdf"]["name"], "scrypt");
        assert_eq!(v["kdf"]["params"]["N"], n);
        assert_eq!(v["kdf"]["params"]["r"], 8);
        assert_eq!(v["kdf"]["params"]["p"], 1);
        assert_eq!(
            B64.decode(v["kdf"]["salt"].as_str().unwrap())
                .unwrap()
                .len(),
            32
        );
        assert_eq!(v["cipher"]["name"], "nacl/secretbox");
        assert_eq!(
            B64.decode(v["cipher"]["nonce"].as_str().unwrap())
                .unwrap()
                .len(),
            24
        );
        // secretbox: 16-byte tag + the PKCS#8 DER of a P-256 key (138 bytes).
        let ct = B64.decode(v["ciphertext"].as_str().unwrap()).unwrap();
        assert_eq!(ct.len(), 16 + 138);
        // The raw text keeps Go's field order.
        let raw: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        let raw = String::from_utf8(B64.decode(raw).unwrap()).unwrap();
        assert!(
            raw.starts_with(&format!(
                r#"{{"kdf":{{"name":"scrypt","params":{{"N":{n},"r":8,"p":1}},"salt":""#
            )),
            "{raw}"
        );
        let back = SigningKey::from_pem(&pem, b"pw").unwrap();
        assert_eq!(back.public_key(), key.public_key());
        assert!(SigningKey::pem_is_encrypted(&pem));
    }
    assert!(matches!(
        key.to_encrypted_pem_with_n(b"pw", 1024),
        Err(KeyError::UnsupportedScrypt { n: 1024, .. })
    ));
    let public = key.public_key().to_pem();
    assert!(public.starts_with("-----BEGIN PUBLIC KEY-----\n"));
    assert_eq!(PublicKey::from_pem(&public).unwrap(), key.public_key());
}

#[test]
fn empty_password_works() {
    let key = SigningKey::generate().unwrap();
    let pem = key.to_encrypted_pem(b"").unwrap();
    assert_eq!(
        SigningKey::from_pem(&pem, b"").unwrap().public_key(),
        key.public_key()
    );
}

#[test]
fn wrong_password_and_corrupted_ciphertext_say_so() {
    let key = SigningKey::generate().unwrap();
    let pem = key.to_encrypted_pem_with_n(b"right", 32_768).unwrap();
    let err = SigningKey::from_pem(&pem, b"wrong").unwrap_err();
    assert!(matches!(err, KeyError::Decrypt));
    let msg = err.to_string();
    assert!(
        msg.contains("password is wrong") && msg.contains("altered"),
        "{msg}"
    );
    assert!(!msg.contains("wrong\"") && !msg.contains("right"));

    let mut v = body_json(&pem);
    let mut ct = B64.decode(v["ciphertext"].as_str().unwrap()).unwrap();
    ct[40] ^= 1;
    v["ciphertext"] = B64.encode(ct).into();
    let corrupted = pem_of(
        "ENCRYPTED SIGSTORE PRIVATE KEY",
        &serde_json::to_vec(&v).unwrap(),
    );
    assert!(matches!(
        SigningKey::from_pem(&corrupted, b"right"),
        Err(KeyError::Decrypt)
    ));
}

#[test]
fn unsupported_parameters_and_malformed_bodies_are_distinct() {
    let key = SigningKey::generate().unwrap();
    let pem = key.to_encrypted_pem_with_n(b"pw", 32_768).unwrap();
    let base = body_json(&pem);
    let label = "ENCRYPTED SIGSTORE PRIVATE KEY";
    let with = |f: &dyn Fn(&mut serde_json::Value)| {
        let mut v = base.clone();
        f(&mut v);
        SigningKey::from_pem(&pem_of(label, &serde_json::to_vec(&v).unwrap()), b"pw").unwrap_err()
    };
    assert!(matches!(
        with(&|v| v["kdf"]["params"]["N"] = 16_384.into()),
        KeyError::UnsupportedScrypt {
            n: 16_384,
            r: 8,
            p: 1
        }
    ));
    assert!(matches!(
        with(&|v| v["kdf"]["params"]["r"] = 16.into()),
        KeyError::UnsupportedScrypt { r: 16, .. }
    ));
    assert!(matches!(
        with(&|v| v["kdf"]["name"] = "argon2".into()),
        KeyError::UnsupportedKdf(n) if n == "argon2"
    ));
    assert!(matches!(
        with(&|v| v["cipher"]["name"] = "aes-gcm".into()),
        KeyError::UnsupportedCipher(_)
    ));
    assert!(matches!(
        with(&|v| v["cipher"]["nonce"] = "!!".into()),
        KeyError::Base64("cipher.nonce")
    ));
    assert!(matches!(
        with(&|v| v["cipher"]["nonce"] = B64.encode([0u8; 12]).into()),
        KeyError::NonceLength(12)
    ));
    assert!(matches!(
        with(&|v| v["ciphertext"] = serde_json::Value::Null),
        KeyError::Json(_)
    ));
    assert!(matches!(
        SigningKey::from_pem(&pem_of(label, b"{not json"), b"pw"),
        Err(KeyError::Json(_))
    ));
    assert!(matches!(
        SigningKey::from_pem("no pem here", b"pw"),
        Err(KeyError::Pem(_))
    ));
    assert!(matches!(
        SigningKey::from_pem(&pem_of("CERTIFICATE", b"x"), b""),
        Err(KeyError::UnsupportedLabel(_))
    ));
}

/// Keys made by openssl: PKCS#8 and SEC1 P-256 are read, other curves and
/// algorithms are refused as "not P-256".
#[test]
fn plain_pkcs8_and_sec1_from_openssl() {
    let openssl = slipway_testkit::require("openssl", "openssl");
    let dir = tempfile::tempdir().unwrap();
    let keygen = |args: &[&str], out: &str| -> String {
        let path = dir.path().join(out);
        let st = std::process::Command::new(&openssl)
            .args(args)
            .arg("-out")
            .arg(&path)
            .status()
            .unwrap();
        assert!(st.success(), "openssl {args:?}");
        std::fs::read_to_string(path).unwrap()
    };
    let sec1 = keygen(
        &["ecparam", "-name", "prime256v1", "-genkey", "-noout"],
        "ec.pem",
    );
    assert!(sec1.contains("BEGIN EC PRIVATE KEY"));
    let k1 = SigningKey::from_pem(&sec1, b"").unwrap();
    let pkcs8 = keygen(
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
        ],
        "p8.pem",
    );
    assert!(pkcs8.contains("BEGIN PRIVATE KEY"));
    let k2 = SigningKey::from_pem(&pkcs8, b"").unwrap();
    assert_ne!(k1.public_key(), k2.public_key());
    let p384 = keygen(
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-384",
        ],
        "p384.pem",
    );
    let err = SigningKey::from_pem(&p384, b"").unwrap_err();
    assert!(err.to_string().contains("P-384"), "{err}");
    let ed = keygen(&["genpkey", "-algorithm", "ed25519"], "ed.pem");
    let err = SigningKey::from_pem(&ed, b"").unwrap_err();
    assert!(
        matches!(err, KeyError::NotP256(_)) && err.to_string().contains("Ed25519"),
        "{err}"
    );
    // openssl's public key PEM matches ours byte for byte.
    let out = std::process::Command::new(&openssl)
        .args(["pkey", "-pubout", "-in"])
        .arg(dir.path().join("p8.pem"))
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        k2.public_key().to_pem()
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn private_key_parser_never_panics(text in ".{0,400}") {
        let _ = SigningKey::from_pem(&text, b"pw");
        let _ = PublicKey::from_pem(&text);
    }

    #[test]
    fn pem_wrapped_garbage_never_panics(
        label in prop::sample::select(vec![
            "ENCRYPTED SIGSTORE PRIVATE KEY", "PRIVATE KEY", "EC PRIVATE KEY", "PUBLIC KEY"]),
        body in prop::collection::vec(any::<u8>(), 0..300),
    ) {
        let text = pem_of(label, &body);
        let _ = SigningKey::from_pem(&text, b"pw");
        let _ = PublicKey::from_pem(&text);
        let _ = PublicKey::from_der(&body);
    }

    #[test]
    fn json_shaped_garbage_never_panics(n in any::<i64>(), r in any::<i64>(), salt in ".{0,40}", nonce in ".{0,40}") {
        let body = format!(r#"{{"kdf":{{"name":"scrypt","params":{{"N":{n},"r":{r},"p":1}},"salt":"{salt}"}},"cipher":{{"name":"nacl/secretbox","nonce":"{nonce}"}},"ciphertext":"AAAA"}}"#);
        let _ = SigningKey::from_pem(&pem_of("ENCRYPTED SIGSTORE PRIVATE KEY", body.as_bytes()), b"pw");
    }
}
