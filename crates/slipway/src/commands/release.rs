//! `slipway promote`, `rollback`, `mark-bad` and `history`: parse, read the
//! channel's policy from slipway.toml, call slipway-release, print.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::thread::JoinHandle;

use anyhow::Context as _;

use serde_json::json;
use slipway_attest::PublicKey;
use slipway_attest::SigningKey;
use slipway_oci::Digest;
use slipway_registry::{Location, Store};
use slipway_release::history::{entry_json, history};
use slipway_release::{Actor, ChannelName, Log, OperatorKey, Outcome, Policy, SystemClock};

use crate::cli::{ChannelArgs, HistoryArgs, MarkBadArgs, PromoteArgs, RegistryArgs, RollbackArgs};
use crate::commands::sign::{decrypt_signing_key, signing_key, signing_key_file};
use crate::commands::transfer::client_options;
use crate::input;
use crate::ui::Ui;

fn channel_name(name: &str) -> anyhow::Result<ChannelName> {
    Ok(ChannelName::parse(name).map_err(|e| input(format!("--channel: {e}")))?)
}

/// The channel's policy from `config`, its paths relative to the file.
fn load_policy(channel: &ChannelName, config: &Path) -> anyhow::Result<Policy> {
    let cfg = load_config(config)?;
    let raw = cfg.channels.get(&channel.to_string()).ok_or_else(|| {
        input(format!(
            "{} has no policy for channel {channel}: add [channels.\"{channel}\"] with the keys \
             (or Notary trust policy) an image must be signed with (docs/release.md)",
            config.display()
        ))
    })?;
    let base = config
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    Ok(Policy::load(channel, raw, base)?)
}

/// A registry repository (or image) to act on.
fn open_remote(text: &str, registry: &RegistryArgs) -> anyhow::Result<(Location, Box<dyn Store>)> {
    let location: Location = text.parse()?;
    if !matches!(location, Location::Remote(_)) {
        return Err(input(format!(
            "{text}: channels live in a registry repository; give host/repository (history also reads oci: and oci-archive: copies)"
        ))
        .into());
    }
    let store = slipway_registry::open_source(&location, &client_options(registry, &location)?)?;
    Ok((location, store))
}

fn repository_of(given: Option<&str>, policy: &Policy) -> anyhow::Result<String> {
    given
        .map(str::to_string)
        .or_else(|| policy.repository.clone())
        .ok_or_else(|| {
            input(format!(
                "name the repository (host/repository), or set `repository` in [channels.\"{}\"]",
                policy.channel
            ))
            .into()
        })
}

fn report(outcome: &Outcome, channel: &str, json_out: bool, ui: Ui) -> anyhow::Result<()> {
    let v = match outcome {
        Outcome::Moved {
            entry,
            old,
            new,
            verification,
        } => json!({
            "channel": channel, "changed": true, "entry": entry.to_string(),
            "old": old.as_ref().map(|d| d.to_string()), "new": new.to_string(),
            "verification": verification,
        }),
        Outcome::Unchanged { digest } => {
            json!({"channel": channel, "changed": false, "new": digest.to_string()})
        }
        Outcome::Completed { entry, new } => json!({
            "channel": channel, "changed": true, "entry": entry.to_string(),
            "new": new.to_string(), "completed": true,
        }),
    };
    if json_out {
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        println!("{}", v["new"].as_str().unwrap_or_default());
    }
    ui.status(match outcome {
        Outcome::Moved { entry, old, new, .. } => format!(
            "{channel}: {} -> {new} (audit entry {entry})",
            old.as_ref().map_or("nothing".to_string(), |d| d.to_string())
        ),
        Outcome::Unchanged { digest } => {
            format!("{channel} already holds {digest}: nothing changed")
        }
        Outcome::Completed { entry, new } => format!(
            "{channel}: moved the tag to {new}, which audit entry {entry} had already recorded (an interrupted promotion)"
        ),
    });
    Ok(())
}

/// The operator's key, decrypted on a thread of its own while the command
/// reads the registry and verifies the image (scrypt takes about as long).
/// Reading the file and the password fail at once; a wrong password fails
/// when the key is first needed, before anything is written.
struct DecryptingKey {
    pending: Mutex<Option<JoinHandle<anyhow::Result<SigningKey>>>>,
    key: OnceLock<Result<SigningKey, String>>,
}

impl DecryptingKey {
    fn start(path: &Path) -> anyhow::Result<DecryptingKey> {
        let (text, password) = signing_key_file(path)?;
        let path = path.to_path_buf();
        let handle = std::thread::Builder::new()
            .name("decrypt-key".into())
            .spawn(move || {
                slipway_release::timing::span("decrypting the signing key (scrypt)", || {
                    decrypt_signing_key(&path, &text, &password)
                })
            })
            .context("starting a thread to decrypt the signing key")?;
        Ok(DecryptingKey {
            pending: Mutex::new(Some(handle)),
            key: OnceLock::new(),
        })
    }
}

impl OperatorKey for DecryptingKey {
    fn key(&self) -> slipway_release::Result<&SigningKey> {
        let key = self.key.get_or_init(|| {
            let handle = self
                .pending
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take();
            match handle.map(JoinHandle::join) {
                Some(Ok(Ok(key))) => Ok(key),
                Some(Ok(Err(e))) => Err(format!("{e:#}")),
                _ => Err("decrypting the signing key failed unexpectedly".into()),
            }
        });
        key.as_ref()
            .map_err(|e| slipway_release::Error::Input(e.clone()))
    }
}

fn actor_parts(args: &ChannelArgs) -> anyhow::Result<DecryptingKey> {
    DecryptingKey::start(&args.key)
}

pub fn run_promote(args: PromoteArgs, ui: Ui) -> anyhow::Result<()> {
    let channel = channel_name(&args.channel.channel)?;
    let policy = load_policy(&channel, &args.channel.config)?;
    let key = actor_parts(&args.channel)?;
    let (_, store) = open_remote(&args.reference, &args.registry)?;
    let target = store.root()?;
    ui.status(format!(
        "checking {} against channel {channel}'s policy",
        target.digest
    ));
    let actor = Actor {
        key: &key,
        name: args.channel.operator.clone(),
        reason: args.channel.reason.clone(),
        clock: &SystemClock,
    };
    let outcome = slipway_release::release::promote(store.as_ref(), &policy, &target, &actor)?;
    report(&outcome, &channel.to_string(), args.json, ui)
}

pub fn run_rollback(args: RollbackArgs, ui: Ui) -> anyhow::Result<()> {
    let channel = channel_name(&args.channel.channel)?;
    let policy = load_policy(&channel, &args.channel.config)?;
    let to = args
        .to
        .as_deref()
        .map(|t| {
            Digest::parse(t)
                .ok_or_else(|| input(format!("--to {t}: give a digest, sha256:<64 hex>")))
        })
        .transpose()?;
    let key = actor_parts(&args.channel)?;
    let repo = repository_of(args.repository.as_deref(), &policy)?;
    let (_, store) = open_remote(&repo, &args.registry)?;
    ui.status(format!(
        "reading channel {channel}'s log in {}",
        store.describe()
    ));
    let actor = Actor {
        key: &key,
        name: args.channel.operator.clone(),
        reason: args.channel.reason.clone(),
        clock: &SystemClock,
    };
    let outcome = slipway_release::release::rollback(store.as_ref(), &policy, to.as_ref(), &actor)?;
    report(&outcome, &channel.to_string(), args.json, ui)
}

pub fn run_mark_bad(args: MarkBadArgs, ui: Ui) -> anyhow::Result<()> {
    let location: Location = args.reference.parse()?;
    let digest = match &location {
        Location::Remote(r) => r.digest.clone(),
        _ => None,
    }
    .ok_or_else(|| {
        input(format!(
            "{}: give the image by digest, host/repository@sha256:…",
            args.reference
        ))
    })?;
    let trusted = read_keys(&args.trust)?;
    let key = signing_key(&args.key)?;
    let (_, store) = open_remote(&args.reference, &args.registry)?;
    let actor = Actor {
        key: &key,
        name: args.operator.clone(),
        reason: Some(args.reason.clone()),
        clock: &SystemClock,
    };
    let outcome = slipway_release::release::mark_bad(store.as_ref(), &digest, &trusted, &actor)?;
    let v = match &outcome {
        Outcome::Moved { entry, .. } => {
            json!({"digest": digest.to_string(), "changed": true, "entry": entry.to_string()})
        }
        _ => json!({"digest": digest.to_string(), "changed": false}),
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        println!("{digest}");
    }
    ui.status(match &outcome {
        Outcome::Moved { entry, .. } => {
            format!("{digest} is marked bad (audit entry {entry}); promote and rollback refuse it")
        }
        _ => format!("{digest} was already marked bad: nothing changed"),
    });
    Ok(())
}

fn read_keys(files: &[PathBuf]) -> anyhow::Result<Vec<PublicKey>> {
    Ok(files
        .iter()
        .map(|f| slipway_verify::public_key(f))
        .collect::<Result<_, _>>()?)
}

pub fn run_history(args: HistoryArgs, ui: Ui) -> anyhow::Result<()> {
    let channel = args.channel.as_deref().map(channel_name).transpose()?;
    // The policy, when there is one, supplies the repository and the operators.
    let policy = match &channel {
        Some(c) => {
            let cfg = load_config(&args.config)?;
            match cfg.channels.get(&c.to_string()) {
                Some(_) => Some(load_policy(c, &args.config)?),
                None => None,
            }
        }
        None => None,
    };
    let trusted = if args.key.is_empty() {
        policy
            .as_ref()
            .map(|p| p.operators.clone())
            .unwrap_or_default()
    } else {
        read_keys(&args.key)?
    };
    let repo = match (&args.repository, &policy) {
        (Some(r), _) => r.clone(),
        (None, Some(p)) => repository_of(None, p)?,
        (None, None) => {
            return Err(
                input("name the repository: host/repository, oci:DIR or oci-archive:FILE").into(),
            );
        }
    };
    let location: Location = repo.parse()?;
    let store =
        slipway_registry::open_source(&location, &client_options(&args.registry, &location)?)?;
    let log = match &channel {
        Some(c) => Log::Channel(c.clone()),
        None => Log::Repository,
    };
    let h = history(store.as_ref(), &log, &trusted)?;
    let mut signers: Vec<String> = h
        .chain
        .entries
        .iter()
        .map(|e| e.entry.operator.key.clone())
        .collect();
    signers.sort();
    signers.dedup();
    if args.json {
        let v = json!({
            "log": channel.as_ref().map(|c| c.to_string()),
            "head_tag": log.head_tag(),
            "current": h.current.as_ref().map(|d| d.to_string()),
            "entries": h.chain.entries.iter().map(entry_json).collect::<Vec<_>>(),
            "signers": signers,
            "trusted_keys": !trusted.is_empty(),
            "verified": true,
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        for v in &h.chain.entries {
            let e = &v.entry;
            println!(
                "#{} {} {:<8} {} -> {}  by {}{}{}",
                e.sequence,
                e.time,
                e.action.as_str(),
                e.old.as_deref().unwrap_or("-"),
                e.new,
                e.operator.key,
                e.operator
                    .name
                    .as_deref()
                    .map(|n| format!(" ({n})"))
                    .unwrap_or_default(),
                e.reason
                    .as_deref()
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default()
            );
        }
    }
    let what = match &channel {
        Some(c) => format!("channel {c}"),
        None => "the mark-bad log".into(),
    };
    ui.status(format!(
        "{what} in {}: {} entr{} verified ({}), signed by {}",
        store.describe(),
        h.chain.entries.len(),
        if h.chain.entries.len() == 1 {
            "y"
        } else {
            "ies"
        },
        if trusted.is_empty() {
            "signatures hold, but no --key was given to say whose are trusted".to_string()
        } else {
            "every signer is a trusted operator key".to_string()
        },
        if signers.is_empty() {
            "nobody".to_string()
        } else {
            signers.join(", ")
        }
    ));
    Ok(())
}

/// Read the slipway.toml holding the channels' policies; absent means
/// defaults. (Here, not in config.rs, which the fuzz target includes alone.)
fn load_config(path: &std::path::Path) -> anyhow::Result<crate::config::Config> {
    use anyhow::Context as _;
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(crate::config::Config::default());
        }
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    crate::config::parse(&text).map_err(|e| crate::input(format!("{}: {e}", path.display())).into())
}
