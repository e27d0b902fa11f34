//! `slipway sign`, `verify` and `attest`, and the signing `image` and `push`
//! do with `--sign-key`/`--sbom`, in whatever store holds the image: Sigstore
//! bundles as OCI 1.1 referrers (cosign v3's default), or cosign's legacy tag
//! forms (`sha256-<hex>.sig`, `.att`, `.sbom`). Verification reads both.

use std::io::IsTerminal;
use std::path::Path;

use anyhow::Context;
use serde_json::{Value, json};
use slipway_attest::bundle::{
    BUNDLE_MEDIA_TYPE, SubjectDescriptor, bundle_referrer, signature_statement,
};
use slipway_attest::provenance::ProvenanceInput;
use slipway_attest::{
    Added, AttestationSet, SignatureSet, SigningKey, Statement, Subject, WrittenManifest,
    attestation_tag, signature_tag,
};
use slipway_oci::Digest;
use slipway_registry::contents::PlatformContents;
use slipway_registry::{Children, Location, RawManifest, Store, attachment_tag};
use slipway_toolchain::CacheDir;
use zeroize::Zeroizing;

use crate::cli::{AttestArgs, SignArgs, SignatureFormat, SupplyChainArgs, VerifyArgs};
use crate::commands::image_ref::ImagePlatform;
use crate::commands::sbom::{Hints, image_input};
use crate::commands::transfer::client_options;
use crate::input;
use crate::ui::Ui;

/// Read a private key, asking for its password only when it is encrypted:
/// COSIGN_PASSWORD, else a prompt on a terminal.
pub fn signing_key(path: &Path) -> anyhow::Result<SigningKey> {
    let (text, password) = signing_key_file(path)?;
    decrypt_signing_key(path, &text, &password)
}

/// The key file's text and its password (from COSIGN_PASSWORD or the
/// terminal): everything about a key that can fail fast, before the slow
/// decryption.
pub fn signing_key_file(path: &Path) -> anyhow::Result<(String, Zeroizing<String>)> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| input(format!("cannot read the key {}: {e}", path.display())))?;
    let password = if SigningKey::pem_is_encrypted(&text) {
        match std::env::var("COSIGN_PASSWORD") {
            Ok(p) => Zeroizing::new(p),
            Err(_) if std::io::stdin().is_terminal() => Zeroizing::new(
                rpassword::prompt_password(format!("Password for {}: ", path.display()))
                    .context("reading the password")?,
            ),
            Err(_) => {
                return Err(input(format!(
                    "{} is encrypted: set COSIGN_PASSWORD (it may be empty) or run on a terminal to be asked",
                    path.display()
                ))
                .into());
            }
        }
    } else {
        Zeroizing::new(String::new())
    };
    Ok((text, password))
}

/// Decrypt (scrypt) and parse a key read by [`signing_key_file`].
pub fn decrypt_signing_key(path: &Path, text: &str, password: &str) -> anyhow::Result<SigningKey> {
    SigningKey::from_pem(text, password.as_bytes())
        .with_context(|| format!("reading the private key {}", path.display()))
}

/// Store a manifest made by slipway-attest, blobs first, under `tag`.
fn put(store: &dyn Store, written: &WrittenManifest, tag: &str) -> anyhow::Result<()> {
    let blobs: Vec<(&str, &[u8])> = written
        .blobs
        .iter()
        .map(|b| (b.media_type.as_str(), b.bytes.as_slice()))
        .collect();
    slipway_registry::put_manifest_with_blobs(
        store,
        &written.bytes,
        &written.media_type,
        &blobs,
        tag,
    )?;
    Ok(())
}

/// Add a signature by `key` to the image `digest`.
pub fn sign_image(
    store: &dyn Store,
    digest: &Digest,
    key: &SigningKey,
    identity: &str,
) -> anyhow::Result<Added> {
    let tag = signature_tag(digest);
    let mut set = match store.tagged(&tag)? {
        Some(m) => SignatureSet::from_manifest(&m.bytes)
            .with_context(|| format!("reading the existing {tag}"))?,
        None => SignatureSet::new(),
    };
    let added = set.sign(key, identity, digest);
    if added == Added::Appended {
        put(store, &set.to_manifest(), &tag)?;
    }
    Ok(added)
}

/// Add signed statements to the image's `.att`; returns how many were new.
pub fn attest_image(
    store: &dyn Store,
    digest: &Digest,
    key: &SigningKey,
    statements: &[Statement],
) -> anyhow::Result<usize> {
    let tag = attestation_tag(digest);
    let mut set = match store.tagged(&tag)? {
        Some(m) => AttestationSet::from_manifest(&m.bytes)
            .with_context(|| format!("reading the existing {tag}"))?,
        None => AttestationSet::new(),
    };
    let added = statements
        .iter()
        .filter(|s| set.attest(key, s) == Added::Appended)
        .count();
    if added > 0 {
        put(store, &set.to_manifest(), &tag)?;
    }
    Ok(added)
}

/// The SBOM of each platform, as the platform's contents and a document.
fn platform_sboms(
    store: &dyn Store,
    root: &slipway_registry::RawManifest,
    format: slipway_sbom::Format,
    cache: &CacheDir,
    ui: Ui,
) -> anyhow::Result<Vec<(PlatformContents, Vec<u8>)>> {
    let name = store.image_name().unwrap_or_else(|| store.describe());
    let index_digest = root.is_index().then(|| root.digest.to_string());
    let mut out = Vec::new();
    for contents in slipway_registry::contents::platforms(store, root)? {
        let image = ImagePlatform {
            name: name.clone(),
            index_digest: index_digest.clone(),
            contents,
        };
        let hints = Hints {
            zig: None,
            glibc: None,
        };
        let doc = format.render(&image_input(&image, &hints, cache, ui)?);
        out.push((image.contents, doc));
    }
    Ok(out)
}

/// In-toto statements carrying each platform's SBOM, about the image and the platform.
fn sbom_statements(
    name: &str,
    root: &Digest,
    sboms: &[(PlatformContents, Vec<u8>)],
    format: slipway_sbom::Format,
) -> anyhow::Result<Vec<Statement>> {
    sboms
        .iter()
        .map(|(p, doc)| {
            let mut subjects = vec![Subject::new(name, root)];
            if p.manifest != *root {
                subjects.push(Subject::new(&format!("{name}@{}", p.manifest), &p.manifest));
            }
            Statement::new(subjects, format.predicate_type(), doc)
                .context("building the SBOM statement")
        })
        .collect()
}

/// The time recorded in bundle referrers: SOURCE_DATE_EPOCH, else 1970, so
/// signing the same image with the same key always gives the same bytes.
fn created() -> String {
    let epoch = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.trim().parse::<i64>().ok())
        .unwrap_or(0);
    slipway_oci::spec::rfc3339(epoch)
}

fn subject_of(m: &RawManifest) -> SubjectDescriptor {
    SubjectDescriptor {
        media_type: m.media_type.clone(),
        digest: m.digest.clone(),
        size: m.bytes.len() as u64,
    }
}

/// Store a bundle referrer unless the store lists it already.
fn add_referrer(
    store: &dyn Store,
    subject: &Digest,
    written: &WrittenManifest,
) -> anyhow::Result<Added> {
    if store
        .referrers(subject, Some(BUNDLE_MEDIA_TYPE))?
        .iter()
        .any(|r| r.digest == written.digest)
    {
        return Ok(Added::AlreadyPresent);
    }
    let blobs: Vec<(&str, &[u8])> = written
        .blobs
        .iter()
        .map(|b| (b.media_type.as_str(), b.bytes.as_slice()))
        .collect();
    slipway_registry::put_referrer(store, &written.bytes, &blobs)?;
    Ok(Added::Appended)
}

/// What gets signed: the root and, when `recursive` (default: when the
/// root is an index), each platform manifest.
pub fn sign_targets(
    store: &dyn Store,
    root: &RawManifest,
    recursive: Option<bool>,
) -> anyhow::Result<Vec<RawManifest>> {
    let mut out = vec![root.clone()];
    if recursive.unwrap_or(true)
        && let Children::Manifests(children) = root.children()?
    {
        for c in children {
            out.push(store.manifest(&c.digest)?);
        }
    }
    Ok(out)
}

/// Sign `target` in `format`.
pub fn sign_one(
    store: &dyn Store,
    target: &RawManifest,
    key: &SigningKey,
    identity: &str,
    format: SignatureFormat,
) -> anyhow::Result<Added> {
    match format {
        SignatureFormat::Legacy => sign_image(store, &target.digest, key, identity),
        SignatureFormat::Bundle => {
            let statement = signature_statement(identity, &target.digest);
            let written = bundle_referrer(key, &statement, &subject_of(target), &created());
            add_referrer(store, &target.digest, &written)
        }
    }
}

/// Attest `statements` as bundles: each becomes a referrer of every target
/// manifest it is about. Returns how many referrers were new.
fn attest_bundles(
    store: &dyn Store,
    targets: &[RawManifest],
    key: &SigningKey,
    statements: &[Statement],
) -> anyhow::Result<usize> {
    let mut added = 0;
    for statement in statements {
        for target in targets.iter().filter(|t| statement.is_about(&t.digest)) {
            let written = bundle_referrer(key, statement, &subject_of(target), &created());
            if add_referrer(store, &target.digest, &written)? == Added::Appended {
                added += 1;
            }
        }
    }
    Ok(added)
}

pub fn run_sign(args: SignArgs, ui: Ui) -> anyhow::Result<()> {
    if args.notary.notation {
        let location: Location = args.reference.parse()?;
        return crate::commands::notary::run_sign(
            &args.reference,
            &args.key,
            args.notary.cert.as_deref(),
            args.notary.expiry.as_deref(),
            &client_options(&args.registry, &location)?,
            args.json,
            ui,
        );
    }
    let key = signing_key(&args.key)?;
    let location: Location = args.reference.parse()?;
    let store =
        slipway_registry::open_for_update(&location, &client_options(&args.registry, &location)?)?;
    let root = store.root()?;
    let identity = match (&args.identity, store.image_name()) {
        (Some(i), _) => i.clone(),
        (None, Some(n)) => n,
        (None, None) => {
            return Err(input(format!(
                "{location} records no image name to sign for; pass --identity REGISTRY/REPOSITORY"
            ))
            .into());
        }
    };
    let targets = sign_targets(store.as_ref(), &root, args.cosign.recursive)?;
    let mut added = Added::AlreadyPresent;
    for target in &targets {
        if sign_one(store.as_ref(), target, &key, &identity, args.cosign.format)? == Added::Appended
        {
            added = Added::Appended;
        }
    }
    store.finish()?;
    let format = match args.cosign.format {
        SignatureFormat::Bundle => "bundle",
        SignatureFormat::Legacy => "legacy",
    };
    let fingerprint = key.public_key().fingerprint();
    if args.json {
        let mut v = json!({
            "digest": root.digest.to_string(),
            "format": format,
            "signed": targets.iter().map(|t| t.digest.to_string()).collect::<Vec<_>>(),
            "identity": identity,
            "key": fingerprint.to_string(),
            "added": added == Added::Appended,
        });
        if args.cosign.format == SignatureFormat::Legacy {
            v["tag"] = json!(signature_tag(&root.digest));
        }
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        println!("{}@{}", identity, root.digest);
    }
    let what = match args.cosign.format {
        SignatureFormat::Bundle => "a Sigstore bundle referrer".to_string(),
        SignatureFormat::Legacy => signature_tag(&root.digest),
    };
    let platforms = targets.len() - 1;
    ui.status(match added {
        Added::Appended => format!(
            "signed {} as {identity} ({what}{})",
            root.digest,
            if platforms > 0 {
                format!(", and its {platforms} platform manifests")
            } else {
                String::new()
            }
        ),
        Added::AlreadyPresent => format!("{} already carries this key's signature", root.digest),
    });
    Ok(())
}

pub fn run_verify(args: VerifyArgs, ui: Ui) -> anyhow::Result<()> {
    let Some(key_file) = &args.key else {
        return run_verify_notary(&args, ui);
    };
    let key = slipway_verify::public_key(key_file)?;
    let location: Location = args.reference.parse()?;
    let store =
        slipway_registry::open_source(&location, &client_options(&args.registry, &location)?)?;
    let root = store.root()?;
    let mut report = slipway_verify::cosign::verify_image(
        store.as_ref(),
        &root.digest,
        &key,
        args.attestations,
    )?;
    if let Some(policy) = &args.notary.trust_policy {
        let trust =
            crate::commands::notary::load_trust(policy, args.notary.trust_store.as_deref())?;
        let scope = crate::commands::notary::scope_of(
            store.as_ref(),
            &location,
            args.notary.scope.as_deref(),
        )?;
        report["notary"] =
            crate::commands::notary::verify_image(store.as_ref(), &root, &scope, &trust, ui)?;
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        for s in report["signatures"].as_array().into_iter().flatten() {
            let place = match s["format"].as_str() {
                Some("bundle") => format!(
                    "Sigstore bundle, referrer {}",
                    s["referrer"].as_str().unwrap_or("")
                ),
                _ => format!("legacy, {}", s["tag"].as_str().unwrap_or("")),
            };
            let identity = match s["identity"].as_str() {
                Some(i) if !i.is_empty() => i.to_string(),
                _ => store.image_name().unwrap_or_else(|| store.describe()),
            };
            println!("signature: {identity} ({}) [{place}]", root.digest);
        }
        for a in report["attestations"].as_array().into_iter().flatten() {
            println!(
                "attestation: {} [{}]",
                a["predicate_type"].as_str().unwrap_or(""),
                a["format"].as_str().unwrap_or("")
            );
        }
    }
    ui.status(format!(
        "{location}: verified with {} ({})",
        key_file.display(),
        key.fingerprint()
    ));
    Ok(())
}

/// `verify --trust-policy` without `--key`: Notary signatures only.
fn run_verify_notary(args: &VerifyArgs, ui: Ui) -> anyhow::Result<()> {
    use crate::commands::notary;
    let policy = args
        .notary
        .trust_policy
        .as_deref()
        .ok_or_else(|| input("give --key PUB, or --trust-policy with --trust-store"))?;
    let trust = notary::load_trust(policy, args.notary.trust_store.as_deref())?;
    let location: Location = args.reference.parse()?;
    let store =
        slipway_registry::open_source(&location, &client_options(&args.registry, &location)?)?;
    let root = store.root()?;
    let scope = notary::scope_of(store.as_ref(), &location, args.notary.scope.as_deref())?;
    let report = notary::verify_image(store.as_ref(), &root, &scope, &trust, ui)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else if report["verified"] == true {
        println!(
            "notary signature: {} ({})",
            report["signer"].as_str().unwrap_or(""),
            root.digest
        );
    }
    if report["verified"] == true {
        ui.status(format!(
            "{location}: Notary signature by `{}` verified with trust policy statement {} (level {})",
            report["signer"].as_str().unwrap_or(""),
            report["policy"],
            report["level"].as_str().unwrap_or("")
        ));
    }
    Ok(())
}

pub fn run_attest(args: AttestArgs, cache: &CacheDir, ui: Ui) -> anyhow::Result<()> {
    let key = signing_key(&args.key)?;
    let location: Location = args.reference.parse()?;
    let store =
        slipway_registry::open_for_update(&location, &client_options(&args.registry, &location)?)?;
    let root = store.root()?;
    let name = store.image_name().unwrap_or_else(|| location.to_string());
    let statements = match (&args.predicate, &args.predicate_type) {
        (Some(file), Some(kind)) => {
            let predicate = std::fs::read(file)
                .map_err(|e| input(format!("cannot read {}: {e}", file.display())))?;
            vec![
                Statement::new(vec![Subject::new(&name, &root.digest)], kind, &predicate)
                    .map_err(|e| input(format!("{}: {e}", file.display())))?,
            ]
        }
        _ => {
            let format = slipway_sbom::Format::parse(&args.format).ok_or_else(|| {
                input(format!(
                    "--format {}: use spdx-json or cyclonedx-json",
                    args.format
                ))
            })?;
            let sboms = platform_sboms(store.as_ref(), &root, format, cache, ui)?;
            sbom_statements(&name, &root.digest, &sboms, format)?
        }
    };
    let (added, place) = match args.store_as {
        SignatureFormat::Legacy => (
            attest_image(store.as_ref(), &root.digest, &key, &statements)?,
            attestation_tag(&root.digest),
        ),
        SignatureFormat::Bundle => {
            let targets = sign_targets(store.as_ref(), &root, args.recursive)?;
            (
                attest_bundles(store.as_ref(), &targets, &key, &statements)?,
                "Sigstore bundle referrers".to_string(),
            )
        }
    };
    store.finish()?;
    if args.json {
        let v = json!({
            "digest": root.digest.to_string(),
            "format": match args.store_as { SignatureFormat::Legacy => "legacy", SignatureFormat::Bundle => "bundle" },
            "stored_as": place,
            "statements": statements.len(),
            "added": added,
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
    }
    ui.status(format!(
        "{} statement{} about {} signed into {place} ({added} new)",
        statements.len(),
        if statements.len() == 1 { "" } else { "s" },
        root.digest,
    ));
    Ok(())
}

/// The key `--sign-key` names, read (and its password asked) before any
/// building, so a wrong password costs a second, not a build.
pub fn supply_chain_key(args: &SupplyChainArgs) -> anyhow::Result<Option<SigningKey>> {
    args.sign_key.as_deref().map(signing_key).transpose()
}

/// Whether [`finish_image`] adds anything: SBOMs, or with a key a
/// signature and attestations.
pub fn adds_anything(key: Option<&SigningKey>, args: &SupplyChainArgs) -> bool {
    key.is_some() || args.sbom
}

/// What `image` and `push` do once the image `digest` is stored: attach an
/// SBOM per platform (`--sbom`), and with a key sign the index and attest its
/// provenance and SBOMs. Returns a JSON summary.
pub fn finish_image(
    store: &dyn Store,
    digest: &Digest,
    key: Option<&SigningKey>,
    args: &SupplyChainArgs,
    provenance: &ProvenanceInput,
    cache: &CacheDir,
    ui: Ui,
) -> anyhow::Result<Value> {
    if !adds_anything(key, args) {
        return Ok(Value::Null);
    }
    let root = store.manifest(digest)?;
    let name = store.image_name().unwrap_or_else(|| store.describe());
    let format = slipway_sbom::Format::SpdxJson;
    let sboms = platform_sboms(store, &root, format, cache, ui)?;
    let mut summary = json!({});
    if args.sbom {
        let mut tags = Vec::new();
        for (platform, doc) in &sboms {
            let tag = attachment_tag(&platform.manifest, "sbom");
            put(
                store,
                &slipway_attest::manifest::sbom_manifest(format.media_type(), doc.clone()),
                &tag,
            )?;
            tags.push(tag);
        }
        summary["sboms"] = json!(tags);
    }
    if let Some(key) = key {
        let identity = name.clone();
        let mut statements = sbom_statements(&name, &root.digest, &sboms, format)?;
        statements.push(
            slipway_attest::provenance::statement(
                vec![Subject::new(&name, &root.digest)],
                provenance,
            )
            .context("building the provenance statement")?,
        );
        match args.sign_format {
            SignatureFormat::Legacy => {
                sign_image(store, &root.digest, key, &identity)?;
                attest_image(store, &root.digest, key, &statements)?;
                summary["signature"] = json!(signature_tag(&root.digest));
                summary["attestations"] = json!(attestation_tag(&root.digest));
            }
            SignatureFormat::Bundle => {
                let targets = sign_targets(store, &root, None)?;
                for t in &targets {
                    sign_one(store, t, key, &identity, SignatureFormat::Bundle)?;
                }
                attest_bundles(store, &targets, key, &statements)?;
                summary["signed"] = json!(
                    targets
                        .iter()
                        .map(|t| t.digest.to_string())
                        .collect::<Vec<_>>()
                );
                summary["format"] = json!("bundle");
            }
        }
        ui.status(format!(
            "signed {} and attested its provenance and {} SBOM{}",
            root.digest,
            sboms.len(),
            if sboms.len() == 1 { "" } else { "s" }
        ));
    }
    Ok(summary)
}
