//! `slipway sign`, `verify` and `attest`, and the signing `image` and `push`
//! do with `--sign-key`/`--sbom`: cosign's tag forms (`sha256-<hex>.sig`,
//! `.att`, `.sbom`) in whatever store holds the image.

use std::io::IsTerminal;
use std::path::Path;

use anyhow::Context;
use serde_json::{Value, json};
use slipway_attest::provenance::ProvenanceInput;
use slipway_attest::{
    Added, AttestationSet, PublicKey, SignatureSet, SigningKey, Statement, Subject,
    WrittenManifest, attestation_tag, signature_tag,
};
use slipway_oci::Digest;
use slipway_registry::contents::PlatformContents;
use slipway_registry::{Blob, Location, Quiet, Store, attachment_tag};
use slipway_toolchain::CacheDir;
use zeroize::Zeroizing;

use crate::cli::{AttestArgs, SignArgs, SupplyChainArgs, VerifyArgs};
use crate::commands::image_ref::ImagePlatform;
use crate::commands::sbom::{Hints, image_input};
use crate::commands::transfer::client_options;
use crate::input;
use crate::ui::Ui;

/// Read a private key, asking for its password only when it is encrypted:
/// COSIGN_PASSWORD, else a prompt on a terminal.
pub fn signing_key(path: &Path) -> anyhow::Result<SigningKey> {
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
    SigningKey::from_pem(&text, password.as_bytes())
        .with_context(|| format!("reading the private key {}", path.display()))
}

pub fn public_key(path: &Path) -> anyhow::Result<PublicKey> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| input(format!("cannot read the key {}: {e}", path.display())))?;
    PublicKey::from_pem(&text).with_context(|| format!("reading the public key {}", path.display()))
}

/// The largest signature payload or attestation envelope read (an SBOM
/// attestation of a big image is a few MiB).
const PAYLOAD_LIMIT: u64 = 64 << 20;

/// Read a blob of a `.sig`/`.att` manifest; its size comes from the layer list.
fn fetcher<'a>(
    store: &'a dyn Store,
    layers: &'a [slipway_attest::LayerDescriptor],
    scratch: &'a Path,
) -> impl FnMut(&Digest) -> Result<Vec<u8>, String> + 'a {
    move |digest: &Digest| {
        let layer = layers
            .iter()
            .find(|l| &l.digest == digest)
            .ok_or_else(|| format!("{digest} is not a layer of the manifest"))?;
        // Payloads and envelopes are small; the manifest's size is not trusted.
        if layer.size > PAYLOAD_LIMIT {
            return Err(format!(
                "{digest} claims {} bytes; signature payloads are at most {PAYLOAD_LIMIT}",
                layer.size
            ));
        }
        let blob = Blob {
            media_type: layer.media_type.clone(),
            digest: digest.clone(),
            size: layer.size,
        };
        let path = store
            .fetch_blob(&blob, scratch, &Quiet)
            .map_err(|e| e.to_string())?;
        std::fs::read(&path).map_err(|e| e.to_string())
    }
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
    let added = sign_image(store.as_ref(), &root.digest, &key, &identity)?;
    store.finish()?;
    let tag = signature_tag(&root.digest);
    let fingerprint = key.public_key().fingerprint();
    if args.json {
        let v = json!({
            "digest": root.digest.to_string(),
            "tag": tag,
            "identity": identity,
            "key": fingerprint.to_string(),
            "added": added == Added::Appended,
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        println!("{}@{}", identity, root.digest);
    }
    ui.status(match added {
        Added::Appended => format!("signed {} as {identity} ({tag})", root.digest),
        Added::AlreadyPresent => format!("{} already carries this key's signature", root.digest),
    });
    Ok(())
}

/// The signatures of `digest` by `key`: at least one must verify.
fn verify_signatures(store: &dyn Store, digest: &Digest, key: &PublicKey) -> anyhow::Result<Value> {
    let scratch = tempfile::tempdir()?;
    let tag = signature_tag(digest);
    let sigs = store.tagged(&tag)?.ok_or_else(|| {
        anyhow::anyhow!(
            "{} has no signature: there is no {tag} for {digest}. Sign it with `slipway sign`",
            store.describe()
        )
    })?;
    let set = SignatureSet::from_manifest(&sigs.bytes).with_context(|| format!("reading {tag}"))?;
    let layers = set.layers().to_vec();
    let verified = set
        .verify(digest, key, fetcher(store, &layers, scratch.path()))
        .with_context(|| format!("{}: no signature verifies with the key", store.describe()))?;
    Ok(json!({
        "digest": digest.to_string(),
        "signatures": verified.verified.iter().map(|v| json!({
            "identity": v.claims.docker_reference,
            "payload": v.payload_digest.to_string(),
        })).collect::<Vec<_>>(),
        "other_layers": verified.rejected.iter().map(|r| r.reason.to_string()).collect::<Vec<_>>(),
    }))
}

/// The attestations about `digest` signed by `key`: at least one must verify.
/// Returns their predicate types.
fn verify_attestations(
    store: &dyn Store,
    digest: &Digest,
    key: &PublicKey,
) -> anyhow::Result<Value> {
    let scratch = tempfile::tempdir()?;
    let tag = attestation_tag(digest);
    let atts = store.tagged(&tag)?.ok_or_else(|| {
        anyhow::anyhow!(
            "{} has no attestations: there is no {tag}. Add some with `slipway attest`",
            store.describe()
        )
    })?;
    let set =
        AttestationSet::from_manifest(&atts.bytes).with_context(|| format!("reading {tag}"))?;
    let layers = set.layers().to_vec();
    let verified = set
        .verify(digest, key, fetcher(store, &layers, scratch.path()))
        .with_context(|| format!("{}: no attestation verifies with the key", store.describe()))?;
    Ok(verified
        .verified
        .iter()
        .map(|a| Value::String(a.predicate_type.clone()))
        .collect())
}

/// Verify the signatures (and optionally the attestations) of `digest`.
pub fn verify_image(
    store: &dyn Store,
    digest: &Digest,
    key: &PublicKey,
    attestations: bool,
) -> anyhow::Result<Value> {
    let mut report = verify_signatures(store, digest, key)?;
    if attestations {
        report["attestations"] = verify_attestations(store, digest, key)?;
    }
    Ok(report)
}

/// Everything signed that a copy would carry must hold: the image's own
/// signature (required), and any `.sig`/`.att` of the image or of its
/// platforms. Returns how many signature and attestation manifests verified.
pub fn verify_all(
    store: &dyn Store,
    root: &slipway_registry::RawManifest,
    key: &PublicKey,
) -> anyhow::Result<usize> {
    let closure = slipway_registry::closure(store, root.clone())?;
    let mut checked = 0;
    for m in &closure.manifests {
        if m.digest == root.digest || store.tag_digest(&signature_tag(&m.digest))?.is_some() {
            verify_signatures(store, &m.digest, key)?;
            checked += 1;
        }
        if store.tag_digest(&attestation_tag(&m.digest))?.is_some() {
            verify_attestations(store, &m.digest, key)?;
            checked += 1;
        }
    }
    Ok(checked)
}

pub fn run_verify(args: VerifyArgs, ui: Ui) -> anyhow::Result<()> {
    let Some(key_file) = &args.key else {
        return run_verify_notary(&args, ui);
    };
    let key = public_key(key_file)?;
    let location: Location = args.reference.parse()?;
    let store =
        slipway_registry::open_source(&location, &client_options(&args.registry, &location)?)?;
    let root = store.root()?;
    let mut report = verify_image(store.as_ref(), &root.digest, &key, args.attestations)?;
    if let Some(policy) = &args.notary.trust_policy {
        let trust =
            crate::commands::notary::NotaryTrust::load(policy, args.notary.trust_store.as_deref())?;
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
            println!(
                "signature: {} ({})",
                s["identity"].as_str().unwrap_or(""),
                root.digest
            );
        }
        for a in report["attestations"].as_array().into_iter().flatten() {
            println!("attestation: {}", a.as_str().unwrap_or(""));
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
    let trust = notary::NotaryTrust::load(policy, args.notary.trust_store.as_deref())?;
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
    let added = attest_image(store.as_ref(), &root.digest, &key, &statements)?;
    store.finish()?;
    if args.json {
        let v = json!({
            "digest": root.digest.to_string(),
            "tag": attestation_tag(&root.digest),
            "statements": statements.len(),
            "added": added,
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
    }
    ui.status(format!(
        "{} statement{} about {} signed into {} ({added} new)",
        statements.len(),
        if statements.len() == 1 { "" } else { "s" },
        root.digest,
        attestation_tag(&root.digest)
    ));
    Ok(())
}

/// The key `--sign-key` names, read (and its password asked) before any
/// building, so a wrong password costs a second, not a build.
pub fn supply_chain_key(args: &SupplyChainArgs) -> anyhow::Result<Option<SigningKey>> {
    args.sign_key.as_deref().map(signing_key).transpose()
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
    if key.is_none() && !args.sbom {
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
        sign_image(store, &root.digest, key, &identity)?;
        let mut statements = sbom_statements(&name, &root.digest, &sboms, format)?;
        statements.push(
            slipway_attest::provenance::statement(
                vec![Subject::new(&name, &root.digest)],
                provenance,
            )
            .context("building the provenance statement")?,
        );
        attest_image(store, &root.digest, key, &statements)?;
        summary["signature"] = json!(signature_tag(&root.digest));
        summary["attestations"] = json!(attestation_tag(&root.digest));
        ui.status(format!(
            "signed {} and attested its provenance and {} SBOM{}",
            root.digest,
            sboms.len(),
            if sboms.len() == 1 { "" } else { "s" }
        ));
    }
    Ok(summary)
}
