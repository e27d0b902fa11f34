//! A throw-away certificate authority made with the openssl CLI: one CA per
//! test registry, a TLS server certificate for 127.0.0.1/localhost and a
//! token-signing certificate, all P-256.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::require;

/// A certificate and its private key (PKCS#8 PEM), as files.
#[derive(Debug, Clone)]
pub(crate) struct CertPair {
    pub cert: PathBuf,
    pub key: PathBuf,
}

fn openssl(dir: &Path, args: &[&str]) {
    let tool = require("openssl", "openssl");
    let out = Command::new(tool)
        .args(args)
        .current_dir(dir)
        .output()
        .expect("running openssl");
    assert!(
        out.status.success(),
        "openssl {} failed:\n{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn new_key(dir: &Path, name: &str) -> PathBuf {
    let key = format!("{name}.key");
    openssl(
        dir,
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            &key,
        ],
    );
    dir.join(key)
}

/// A self-signed CA valid for a few days.
pub(crate) fn new_ca(dir: &Path, common_name: &str) -> CertPair {
    std::fs::create_dir_all(dir).unwrap();
    let key = new_key(dir, "ca");
    openssl(
        dir,
        &[
            "req",
            "-new",
            "-x509",
            "-key",
            "ca.key",
            "-out",
            "ca.crt",
            "-days",
            "3",
            "-subj",
            &format!("/CN={common_name}"),
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    );
    CertPair {
        cert: dir.join("ca.crt"),
        key,
    }
}

/// A leaf certificate signed by `ca`, with the X.509 v3 extension lines in `ext`.
pub(crate) fn issue(
    dir: &Path,
    ca: &CertPair,
    name: &str,
    common_name: &str,
    ext: &str,
) -> CertPair {
    let key = new_key(dir, name);
    let csr = format!("{name}.csr");
    let crt = format!("{name}.crt");
    let extfile = format!("{name}.ext");
    std::fs::write(dir.join(&extfile), ext).unwrap();
    openssl(
        dir,
        &[
            "req",
            "-new",
            "-key",
            &format!("{name}.key"),
            "-subj",
            &format!("/CN={common_name}"),
            "-out",
            &csr,
        ],
    );
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            ca.cert.to_str().unwrap(),
            "-CAkey",
            ca.key.to_str().unwrap(),
            "-days",
            "3",
            "-extfile",
            &extfile,
            "-out",
            &crt,
        ],
    );
    CertPair {
        cert: dir.join(crt),
        key,
    }
}

/// Server certificate for the registry's TLS listener.
pub(crate) fn server_cert(dir: &Path, ca: &CertPair) -> CertPair {
    issue(
        dir,
        ca,
        "server",
        "localhost",
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
    )
}

/// Certificate whose key signs the token server's JWTs.
pub(crate) fn token_signing_cert(dir: &Path, ca: &CertPair) -> CertPair {
    issue(
        dir,
        ca,
        "token-signer",
        "slipway test token signer",
        "keyUsage=critical,digitalSignature\n",
    )
}

/// The DER of the first certificate in a PEM file, base64 (standard
/// alphabet), which is what a JWT `x5c` entry holds: the PEM body itself.
pub(crate) fn pem_body_base64(pem: &str) -> String {
    pem.lines()
        .skip_while(|l| !l.starts_with("-----BEGIN CERTIFICATE-----"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .map(str::trim)
        .collect()
}
