//! Notary Project test fixtures the CLI tests share: notation's trust policy
//! and trust store written for a test CA, the real `notation` run against
//! them, and a signing key with its chain on disk.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use slipway_notary::testca::{Ca, Issued};
use slipway_testkit::supply_chain::notation;

/// The trusted identity of the test leaves `Leaf::new("Acme", …)` issues.
pub const ACME: &str = "x509.subject: C=US, ST=WA, O=Acme";

fn s(p: &Path) -> &str {
    p.to_str().expect("test paths are UTF-8")
}

/// A notation configuration directory (XDG_CONFIG_HOME/notation) with a
/// trust policy and a trust store holding `roots` as ca:release.
pub struct Trust {
    /// XDG_CONFIG_HOME for notation.
    pub xdg: PathBuf,
    pub policy: PathBuf,
    pub store: PathBuf,
}

impl Trust {
    pub fn new(dir: &Path, roots: &[&Ca], scope: &str, level: &str, identity: &str) -> Trust {
        let xdg = dir.to_path_buf();
        let config = xdg.join("notation");
        let named = config.join("truststore/x509/ca/release");
        std::fs::create_dir_all(&named).unwrap();
        for (i, ca) in roots.iter().enumerate() {
            std::fs::write(named.join(format!("root{i}.pem")), &ca.cert_pem).unwrap();
        }
        let policy = config.join("trustpolicy.json");
        std::fs::write(
            &policy,
            format!(
                r#"{{"version":"1.0","trustPolicies":[{{"name":"release","registryScopes":["{scope}"],
                "signatureVerification":{{"level":"{level}"}},"trustStores":["ca:release"],
                "trustedIdentities":["{identity}"]}}]}}"#
            ),
        )
        .unwrap();
        Trust {
            store: config.join("truststore"),
            xdg,
            policy,
        }
    }

    /// `--trust-policy P --trust-store DIR`, as `verify` and `copy` take them.
    pub fn flags(&self) -> Vec<&str> {
        vec![
            "--trust-policy",
            s(&self.policy),
            "--trust-store",
            s(&self.store),
        ]
    }

    /// `slipway verify` arguments for `reference` under this trust.
    pub fn args<'a>(&'a self, reference: &'a str) -> Vec<&'a str> {
        let mut args = vec!["verify"];
        args.extend(self.flags());
        args.push(reference);
        args
    }

    /// The real notation, configured by this directory alone.
    pub fn notation(&self, args: &[&str]) -> Output {
        Command::new(notation())
            .args(args)
            .env("XDG_CONFIG_HOME", &self.xdg)
            .env("HOME", &self.xdg)
            .output()
            .unwrap()
    }
}

/// Write an issued key and chain as `name.key` and `name.pem` in `dir`.
pub fn files(dir: &Path, name: &str, issued: &Issued) -> (PathBuf, PathBuf) {
    let key = dir.join(format!("{name}.key"));
    let chain = dir.join(format!("{name}.pem"));
    std::fs::write(&key, &issued.key_pem).unwrap();
    std::fs::write(&chain, &issued.chain_pem).unwrap();
    (key, chain)
}
