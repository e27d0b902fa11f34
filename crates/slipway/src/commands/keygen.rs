//! `slipway keygen [--prefix PATH] [--force]`: a cosign-compatible ECDSA
//! P-256 key pair, PATH.key (encrypted, mode 0600) and PATH.pub.

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::Context;
use slipway_attest::SigningKey;
use zeroize::Zeroizing;

use crate::cli::KeygenArgs;
use crate::ui::Ui;

pub fn run(args: KeygenArgs, ui: Ui) -> anyhow::Result<()> {
    let with_ext = |ext: &str| {
        let mut p = args.prefix.clone().into_os_string();
        p.push(ext);
        PathBuf::from(p)
    };
    let (key_path, pub_path) = (with_ext(".key"), with_ext(".pub"));
    if !args.force {
        for p in [&key_path, &pub_path] {
            if p.exists() {
                return Err(crate::input(format!(
                    "{} exists; nothing was written (use --force to replace the key pair)",
                    p.display()
                ))
                .into());
            }
        }
    }
    let password = password()?;
    let key = SigningKey::generate()?;
    let private = key.to_encrypted_pem(password.as_bytes())?;
    let public = key.public_key();
    // The public half first: if the private one then fails to land, the old
    // private key is not left beside a public key it does not match.
    slipway_fs::write_atomic(&pub_path, public.to_pem().as_bytes(), 0o644)
        .with_context(|| format!("writing {}", pub_path.display()))?;
    slipway_fs::write_atomic(&key_path, private.as_bytes(), 0o600)
        .with_context(|| format!("writing {}", key_path.display()))?;
    if args.json {
        let out = serde_json::json!({
            "private_key": key_path,
            "public_key": pub_path,
            "fingerprint": public.fingerprint().to_string(),
        });
        println!("{out}");
    }
    ui.status(format!(
        "wrote {} (encrypted) and {} (key {})",
        key_path.display(),
        pub_path.display(),
        public.fingerprint()
    ));
    Ok(())
}

/// COSIGN_PASSWORD (may be empty), else a prompt with confirmation on a
/// terminal, else an input error.
fn password() -> anyhow::Result<Zeroizing<String>> {
    if let Some(p) = std::env::var_os("COSIGN_PASSWORD") {
        let p = p
            .into_string()
            .map_err(|_| crate::input("COSIGN_PASSWORD is not valid UTF-8"))?;
        return Ok(Zeroizing::new(p));
    }
    if !std::io::stdin().is_terminal() {
        return Err(crate::input(
            "no password: set COSIGN_PASSWORD (it may be empty) or run on a terminal to be asked",
        )
        .into());
    }
    let first = Zeroizing::new(
        rpassword::prompt_password("Password for the private key: ")
            .context("reading the password")?,
    );
    let again = Zeroizing::new(
        rpassword::prompt_password("Password again: ").context("reading the password")?,
    );
    if *first != *again {
        return Err(crate::input("the passwords differ; nothing was written").into());
    }
    Ok(first)
}
