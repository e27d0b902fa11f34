//! Moving channels: promote, rollback and mark-bad, each recorded as one
//! signed entry in the audit log, and safe against a concurrent writer.
//!
//! Registries have no compare-and-swap on tags: see `commit` for how
//! two concurrent moves of one channel are told apart, so that at most one
//! of them reports success and the channel always ends where its log says.

use serde_json::Value;
use slipway_attest::{PublicKey, SigningKey};
use slipway_oci::Digest;
use slipway_registry::{RawManifest, Store};

use crate::entry::{Action, Entry, Operator, Verified};
use crate::error::{Error, Result, Tamper};
use crate::log::{Chain, Log, read_chain};
use crate::policy::{Mode, Policy};
use crate::timing::span;

/// Where the time of an entry comes from (tests pass a fixed one).
pub trait Clock {
    /// Seconds since the Unix epoch, UTC.
    fn now(&self) -> i64;
}

/// The machine's clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64)
    }
}

/// The operator's signing key, which may still be being decrypted.
///
/// Decrypting a cosign key (scrypt, N = 32768 to 131072) costs about as much
/// as the rest of a move, and the key is first needed to sign the entry,
/// after the registry was read and the image verified. So the CLI decrypts
/// it on a thread of its own meanwhile.
pub trait OperatorKey: Sync {
    /// The key, waiting for it if need be; an error if it cannot be
    /// decrypted (a wrong password).
    fn key(&self) -> Result<&SigningKey>;
}

impl OperatorKey for SigningKey {
    fn key(&self) -> Result<&SigningKey> {
        Ok(self)
    }
}

/// Who is acting, and why.
pub struct Actor<'a> {
    pub key: &'a dyn OperatorKey,
    /// `--operator`: a human-readable name recorded next to the key.
    pub name: Option<String>,
    pub reason: Option<String>,
    pub clock: &'a dyn Clock,
}

/// What a command did.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// The channel moved (or the digest was marked bad); `entry` is the new
    /// log entry's manifest digest.
    Moved {
        entry: Digest,
        old: Option<Digest>,
        new: Digest,
        verification: Value,
    },
    /// Nothing to do: the channel already holds the digest (or it is
    /// already marked bad).
    Unchanged { digest: Digest },
    /// The log already recorded this move but the channel tag had not
    /// followed (an interrupted promotion); the tag was moved to match.
    Completed { entry: Digest, new: Digest },
}

/// The repository's mark-bad log, read with `trusted` operator keys.
pub fn bad_list(store: &dyn Store, trusted: &[PublicKey]) -> Result<Chain> {
    read_chain(store, &Log::Repository, trusted)
}

/// Refuse `digest` if the repository's log marked it bad.
fn refuse_bad(bad: &Chain, digest: &Digest) -> Result<()> {
    if let Some(e) = bad.marked_bad(digest) {
        return Err(Error::MarkedBad(format!(
            "{digest} was marked bad by audit entry {} (sequence {}, {}, by {}{}){}; it is never promoted again",
            e.digest,
            e.entry.sequence,
            e.entry.time,
            e.entry.operator.key,
            e.entry
                .operator
                .name
                .as_deref()
                .map(|n| format!(" `{n}`"))
                .unwrap_or_default(),
            e.entry
                .reason
                .as_deref()
                .map(|r| format!(": \"{r}\""))
                .unwrap_or_default(),
        )));
    }
    Ok(())
}

/// The channel's log and the digest its tag holds, checked to agree.
struct ChannelState {
    chain: Chain,
    current: Option<Digest>,
}

fn channel_state(store: &dyn Store, policy: &Policy) -> Result<ChannelState> {
    let chain = read_chain(
        store,
        &Log::Channel(policy.channel.clone()),
        &policy.operators,
    )?;
    let current = store.tag_digest(&policy.channel.tag())?;
    Ok(ChannelState { chain, current })
}

fn diverged(
    store: &dyn Store,
    policy: &Policy,
    head: &Verified,
    current: &Option<Digest>,
) -> Error {
    Error::Tampered {
        log: format!("of channel {} in {}", policy.channel, store.describe()),
        problem: Tamper::Diverged(format!(
            "the tag {} holds {} but the newest entry {} (sequence {}) moved it to {}: the tag was moved \
             outside slipway. Put it back with `slipway promote …@{} --channel {}`, then promote or roll back",
            policy.channel.tag(),
            current
                .as_ref()
                .map_or("nothing".to_string(), |d| d.to_string()),
            head.digest,
            head.entry.sequence,
            head.entry.new,
            head.entry.new,
            policy.channel
        )),
    }
}

/// The actor's key, once it is known to be one of the channel's operators:
/// checked before anything is written.
fn operator_key<'a>(policy: &Policy, actor: &Actor<'a>) -> Result<&'a SigningKey> {
    let key = span("waiting for the signing key", || actor.key.key())?;
    let mine = key.public_key();
    if !policy.operators.is_empty() && !policy.operators.contains(&mine) {
        return Err(Error::Input(format!(
            "the signing key {} is not one of channel {}'s operators (`operators` in its policy)",
            mine.fingerprint(),
            policy.channel
        )));
    }
    Ok(key)
}

/// Run `f` and `g` side by side (reads and verification are mostly waits
/// on the registry). A panic on the other thread is passed on.
fn both<A: Send, B: Send>(f: impl FnOnce() -> A + Send, g: impl FnOnce() -> B + Send) -> (A, B) {
    std::thread::scope(|s| {
        let other = s.spawn(g);
        let a = f();
        (
            a,
            other
                .join()
                .unwrap_or_else(|p| std::panic::resume_unwind(p)),
        )
    })
}

/// Move the channel to `target` (already resolved in `store`) if it passes
/// the policy and is not marked bad.
pub fn promote(
    store: &dyn Store,
    policy: &Policy,
    target: &RawManifest,
    actor: &Actor,
) -> Result<Outcome> {
    // The channel's log, the mark-bad log and the image's verification do
    // not depend on each other: read them at once. Their results are judged
    // in the order a reader expects (the log first).
    let (state, (bad, verification)) = both(
        || span("reading the channel's log", || channel_state(store, policy)),
        || {
            both(
                || {
                    span("reading the mark-bad log", || {
                        bad_list(store, &policy.operators)
                    })
                },
                || {
                    span("verifying the image", || {
                        policy.check(store, target, Mode::Promote)
                    })
                },
            )
        },
    );
    let state = state?;
    if state.current.as_ref() == Some(&target.digest) {
        // Nothing is written, but only an operator is told so.
        operator_key(policy, actor)?;
        return Ok(Outcome::Unchanged {
            digest: target.digest.clone(),
        });
    }
    if let Some(head) = state.chain.head() {
        if head.entry.new == target.digest.to_string() {
            // Logged, but the tag never followed: finish the move.
            operator_key(policy, actor)?;
            store.push_manifest(target, Some(&policy.channel.tag()))?;
            return Ok(Outcome::Completed {
                entry: head.digest.clone(),
                new: target.digest.clone(),
            });
        }
        if Some(head.entry.new.clone()) != state.current.as_ref().map(|d| d.to_string()) {
            return Err(diverged(store, policy, head, &state.current));
        }
    }
    refuse_bad(&bad?, &target.digest)?;
    let verification = verification?;
    write_move(
        store,
        policy,
        &state,
        target,
        Action::Promote,
        verification,
        actor,
    )
}

/// Move the channel back: to `to` if given (it must have been in the
/// channel), else to the newest earlier digest of the channel that is not
/// marked bad. The target's signatures and attestations are checked again.
pub fn rollback(
    store: &dyn Store,
    policy: &Policy,
    to: Option<&Digest>,
    actor: &Actor,
) -> Result<Outcome> {
    let (state, bad) = both(
        || span("reading the channel's log", || channel_state(store, policy)),
        || {
            span("reading the mark-bad log", || {
                bad_list(store, &policy.operators)
            })
        },
    );
    let state = state?;
    let Some(head) = state.chain.head() else {
        return Err(Error::Input(format!(
            "channel {} has no audit log in {}: nothing was ever promoted there, so there is nothing to roll back to",
            policy.channel,
            store.describe()
        )));
    };
    if Some(head.entry.new.clone()) != state.current.as_ref().map(|d| d.to_string()) {
        return Err(diverged(store, policy, head, &state.current));
    }
    let bad = bad?;
    let target = match to {
        Some(d) => {
            if !state.chain.has_held(d) {
                return Err(Error::Input(format!(
                    "{d} has never been in channel {}; roll back to a digest `slipway history --channel {}` lists",
                    policy.channel, policy.channel
                )));
            }
            if state.current.as_ref() == Some(d) {
                operator_key(policy, actor)?;
                return Ok(Outcome::Unchanged { digest: d.clone() });
            }
            refuse_bad(&bad, d)?;
            d.clone()
        }
        None => {
            let current = state.current.clone();
            let mut candidates = Vec::new();
            for e in state.chain.entries.iter().rev() {
                candidates.push(e.entry.new.clone());
                if let Some(o) = &e.entry.old {
                    candidates.push(o.clone());
                }
            }
            candidates
                .iter()
                .filter_map(|c| Digest::parse(c))
                .find(|d| Some(d) != current.as_ref() && bad.marked_bad(d).is_none())
                .ok_or_else(|| {
                    Error::Input(format!(
                        "channel {} has no earlier digest that is not marked bad to roll back to",
                        policy.channel
                    ))
                })?
        }
    };
    let (manifest, verification) = span("verifying the image", || {
        let manifest = store.manifest(&target)?;
        let verification = policy.check(store, &manifest, Mode::Reverify)?;
        Ok::<_, Error>((manifest, verification))
    })?;
    write_move(
        store,
        policy,
        &state,
        &manifest,
        Action::Rollback,
        verification,
        actor,
    )
}

/// The entry's time: now, but never before the entry it follows (a clock
/// behind another operator's must not make the log look reordered).
fn entry_time(actor: &Actor, previous: Option<&Verified>) -> String {
    let now = slipway_oci::spec::rfc3339(actor.clock.now());
    match previous {
        Some(p) if p.entry.time > now => p.entry.time.clone(),
        _ => now,
    }
}

fn operator(actor: &Actor, key: &SigningKey) -> Operator {
    let public = key.public_key();
    Operator {
        key: public.fingerprint().to_string(),
        public_key: public.to_pem(),
        name: actor.name.clone(),
    }
}

fn repository_name(store: &dyn Store) -> String {
    store.image_name().unwrap_or_else(|| store.describe())
}

#[allow(clippy::too_many_arguments)]
fn write_move(
    store: &dyn Store,
    policy: &Policy,
    state: &ChannelState,
    target: &RawManifest,
    action: Action,
    verification: Value,
    actor: &Actor,
) -> Result<Outcome> {
    let key = operator_key(policy, actor)?;
    let head = state.chain.head();
    let entry = Entry {
        version: 1,
        log: policy.channel.to_string(),
        action,
        sequence: head.map_or(0, |h| h.entry.sequence + 1),
        previous: head.map(|h| h.digest.to_string()),
        old: state.current.as_ref().map(|d| d.to_string()),
        new: target.digest.to_string(),
        operator: operator(actor, key),
        time: entry_time(actor, head),
        reason: actor.reason.clone(),
        verification: verification.clone(),
        repository: repository_name(store),
    };
    let written = entry.seal(key, &crate::entry::descriptor(target));
    let log = Log::Channel(policy.channel.clone());
    store_and_commit(
        store,
        &written,
        &log,
        head.map(|h| &h.digest),
        Some((policy.channel.tag(), target)),
    )?;
    Ok(Outcome::Moved {
        entry: written.manifest.digest.clone(),
        old: state.current.clone(),
        new: target.digest.clone(),
        verification,
    })
}

/// Store `written` and make it the log's head (see [`commit`]).
///
/// In a registry, the entry's blobs go first and the head tag's write
/// stores the manifest; registering it as a referrer of its image (on a
/// registry without the referrers API, a read-add-write of the fallback tag
/// with pauses against concurrent writers) then runs beside the commit's
/// wait instead of before it. It must not start earlier: a registry may
/// rewrite a manifest's links non-atomically, and the fallback tag's write
/// reads them. In a layout (one index file), everything in turn.
fn store_and_commit(
    store: &dyn Store,
    written: &crate::entry::Written,
    log: &Log,
    expected_head: Option<&Digest>,
    channel: Option<(String, &RawManifest)>,
) -> Result<()> {
    match store.as_remote() {
        None => {
            written.store(store)?;
            commit(store, log, expected_head, &written.manifest, channel, None)
        }
        Some(remote) => {
            span("storing the entry's blobs", || written.store_blobs(store))?;
            let register = || {
                span("registering the entry as a referrer", || {
                    Ok(remote.index_referrer(&written.manifest)?)
                })
            };
            commit(
                store,
                log,
                expected_head,
                &written.manifest,
                channel,
                Some((&register, written)),
            )
        }
    }
}

/// What `tag` names now, asked of the store itself (a registry client
/// remembers the tags it has seen, which is what a race check must not use).
fn fresh(store: &dyn Store, tag: &str) -> Result<Option<Digest>> {
    Ok(store.tagged(tag)?.map(|m| m.digest))
}

/// The shortest time a writer waits after its writes before it reads them
/// back; it waits twice its own check-and-write window when that is longer
/// (a loaded registry slows every writer alike).
pub const SETTLE: std::time::Duration = std::time::Duration::from_millis(250);
/// A writer whose own check-and-write window is longer than this cannot
/// vouch for its win, and says so.
pub const MAX_WINDOW: std::time::Duration = std::time::Duration::from_secs(2);

/// Make `entry` the log's head and (for a channel) `target` the channel's
/// tag, unless someone else got there first.
///
/// Registries have no compare-and-swap, so: check the head is still what
/// was read; write the head tag; write the channel tag; wait; read the head
/// again. Whoever's entry is the head then has won. Two writers cannot both
/// see their own: the later writer checked the head before the earlier one
/// wrote it, so its own head write landed within its check-and-write window
/// of that, which is shorter than the earlier writer's wait ([`SETTLE`], or
/// twice the waiter's own window when the registry is slow). Everyone,
/// winner or loser, then sets the channel tag to what the head entry says,
/// so a loser's channel write never outlives it.
fn commit(
    store: &dyn Store,
    log: &Log,
    expected_head: Option<&Digest>,
    entry: &RawManifest,
    channel: Option<(String, &RawManifest)>,
    register: Option<Register>,
) -> Result<()> {
    let head_tag = log.head_tag();
    let what = match log {
        Log::Channel(c) => format!("channel {c}"),
        Log::Repository => "the repository's mark-bad log".into(),
    };
    let lost = |why: String| {
        Error::LostRace(format!(
            "lost a race on {what}: {why}; this command's entry is not in the log and the \
             channel holds what the log says. Check `slipway history` and run it again if still wanted"
        ))
    };
    let started = std::time::Instant::now();
    let now = fresh(store, &head_tag)?;
    if now.as_ref() != expected_head {
        // Not written under the head tag: store it whole, as the referrer
        // it is (a lost entry stays readable, outside the log).
        if let Some((_, written)) = register {
            written.store(store)?;
        }
        return Err(lost(format!(
            "another command moved the log head ({head_tag}) to {} while this one verified",
            now.map_or("nothing".into(), |d| d.to_string())
        )));
    }
    store.push_manifest(entry, Some(&head_tag))?;
    let head_written = std::time::Instant::now();
    let window = started.elapsed();
    match register {
        None => settle(store, log, entry, channel, head_written, window, &what),
        Some((register, _)) => {
            let (settled, registered) = both(
                || {
                    span("committing: the wait and the read-back", || {
                        settle(store, log, entry, channel, head_written, window, &what)
                    })
                },
                register,
            );
            settled.and(registered)
        }
    }
}

/// How [`commit`] registers a stored entry as a referrer beside its wait,
/// and the entry, to store whole if the commit stops before writing it.
type Register<'a> = (
    &'a (dyn Fn() -> Result<()> + Sync),
    &'a crate::entry::Written,
);

/// The rest of [`commit`] after the head write: the channel tag, the wait,
/// and reading the head back.
fn settle(
    store: &dyn Store,
    log: &Log,
    entry: &RawManifest,
    channel: Option<(String, &RawManifest)>,
    head_written: std::time::Instant,
    window: std::time::Duration,
    what: &str,
) -> Result<()> {
    let head_tag = log.head_tag();
    let lost = |why: String| {
        Error::LostRace(format!(
            "lost a race on {what}: {why}; this command's entry is not in the log and the \
             channel holds what the log says. Check `slipway history` and run it again if still wanted"
        ))
    };
    if let Some((tag, target)) = &channel {
        store.push_manifest(target, Some(tag))?;
    }
    // The wait counts from the head write (a loser's write can only land
    // within its window after it); the channel write above is part of it.
    std::thread::sleep(
        SETTLE
            .max(window * 2)
            .saturating_sub(head_written.elapsed()),
    );
    let head_now = fresh(store, &head_tag)?;
    // Put the channel where the head entry says, whoever wrote it.
    if let (Some((tag, target)), Some(head)) = (&channel, &head_now) {
        let want = if *head == entry.digest {
            Some((*target).clone())
        } else {
            crate::entry::read(store, head, &[], "the log head")
                .ok()
                .and_then(|v| Digest::parse(&v.entry.new))
                .and_then(|d| store.manifest(&d).ok())
        };
        if let Some(m) = want
            && fresh(store, tag)?.as_ref() != Some(&m.digest)
        {
            store.push_manifest(&m, Some(tag))?;
        }
    }
    if head_now.as_ref() != Some(&entry.digest) {
        return Err(lost(format!(
            "after writing, the log head is {} (this command wrote {})",
            head_now.map_or("nothing".into(), |d| d.to_string()),
            entry.digest
        )));
    }
    if window > MAX_WINDOW {
        return Err(Error::LostRace(format!(
            "the registry took {:.0?} to check and write the log head of {what}, longer than the \
             {MAX_WINDOW:?} within which slipway can tell a concurrent writer apart, so it cannot \
             rule out that another command also believes it won. This command's entry {} is the \
             log head now; check `slipway history`",
            window, entry.digest
        )));
    }
    Ok(())
}

/// Mark `digest` bad in the repository's log: promote and rollback refuse
/// it from now on. `trusted` are the keys the existing log must verify with.
pub fn mark_bad(
    store: &dyn Store,
    digest: &Digest,
    trusted: &[PublicKey],
    actor: &Actor,
) -> Result<Outcome> {
    let chain = bad_list(store, trusted)?;
    let key = span("waiting for the signing key", || actor.key.key())?;
    if chain.marked_bad(digest).is_some() {
        return Ok(Outcome::Unchanged {
            digest: digest.clone(),
        });
    }
    let subject = store.manifest(digest)?;
    let head = chain.head();
    let entry = Entry {
        version: 1,
        log: String::new(),
        action: Action::MarkBad,
        sequence: head.map_or(0, |h| h.entry.sequence + 1),
        previous: head.map(|h| h.digest.to_string()),
        old: None,
        new: digest.to_string(),
        operator: operator(actor, key),
        time: entry_time(actor, head),
        reason: actor.reason.clone(),
        verification: Value::Null,
        repository: repository_name(store),
    };
    let written = entry.seal(key, &crate::entry::descriptor(&subject));
    store_and_commit(
        store,
        &written,
        &Log::Repository,
        head.map(|h| &h.digest),
        None,
    )?;
    Ok(Outcome::Moved {
        entry: written.manifest.digest.clone(),
        old: None,
        new: digest.clone(),
        verification: Value::Null,
    })
}
