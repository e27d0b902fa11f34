//! `slipway admission serve|check`: the Kubernetes admission webhook of
//! slipway-admission, started from a policy file and a TLS key pair.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Subcommand};
use serde_json::json;
use slipway_admission::{Current, Engine, Limits, Policy, Server, Watch, policy::Action};

use crate::ui::Ui;

#[derive(Debug, Subcommand)]
pub enum AdmissionCommand {
    /// Serve the webhook over HTTPS until stopped.
    #[command(
        long_about = "Serve a Kubernetes admission webhook (admission.k8s.io/v1 AdmissionReview) over HTTPS.\n\n\
POST /validate admits a Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, Job or CronJob only when \
every container, init container and ephemeral container image verifies against the first policy rule \
matching its namespace and registry/repository: cosign keys, a Notary trust policy, required \
attestations. POST /mutate does the same and also rewrites each tag to the digest it verified \
(JSONPatch), so what runs is what was checked. GET /healthz, /readyz and /metrics (Prometheus text) \
are served on the same port.\n\n\
Verification results are cached per digest (verifiedTtlSeconds, default 300), tag lookups briefly \
(tagTtlSeconds, default 10). When a registry cannot be reached the image is denied unless its rule \
sets failOpen = true. docs/admission.md documents the policy file and the webhook configurations.",
        after_help = "Examples:
  # serve with a policy and a certificate the API server trusts (caBundle)
  slipway admission serve --policy policy.toml --tls-cert tls.crt --tls-key tls.key --listen 0.0.0.0:8443

  # check a policy file and show its rules
  slipway admission check --policy policy.toml --json"
    )]
    Serve(ServeArgs),

    /// Read a policy file (keys, trust policies included) and print its rules.
    Check(CheckArgs),
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The policy file (TOML; see docs/admission.md).
    #[arg(long, value_name = "FILE")]
    pub policy: PathBuf,
    /// The server certificate chain (PEM), leaf first.
    #[arg(long, value_name = "PEM")]
    pub tls_cert: PathBuf,
    /// The server's private key (PEM, unencrypted).
    #[arg(long, value_name = "PEM")]
    pub tls_key: PathBuf,
    /// Address and port to listen on.
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:8443")]
    pub listen: String,
    /// Open connections served at once (one thread each).
    #[arg(long, value_name = "N", default_value_t = 128)]
    pub max_connections: usize,
    /// How often to look for a changed certificate, key or policy file and
    /// load it (cert-manager renewals, ConfigMap updates); 0: never.
    #[arg(long, value_name = "SECONDS", default_value_t = 10)]
    pub reload_seconds: u64,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The policy file (TOML; see docs/admission.md).
    #[arg(long, value_name = "FILE")]
    pub policy: PathBuf,
    /// Print the rules as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(command: AdmissionCommand, ui: Ui) -> anyhow::Result<()> {
    match command {
        AdmissionCommand::Serve(args) => serve(args, ui),
        AdmissionCommand::Check(args) => check(args),
    }
}

fn serve(args: ServeArgs, ui: Ui) -> anyhow::Result<()> {
    let policy = Policy::load(&args.policy)?;
    let tls = slipway_admission::tls_config(&args.tls_cert, &args.tls_key)?;
    let limits = Limits {
        connections: args.max_connections.max(1),
        max_body: policy.max_request_bytes,
        idle: Duration::from_secs(30),
    };
    let rules = policy.rules.len();
    let current = Arc::new(Current::new(tls, Engine::new(policy)));
    let server = Server::bind(&args.listen, current.clone(), limits)?;
    if args.reload_seconds > 0 {
        slipway_admission::reload::watch(
            current,
            Watch {
                policy: args.policy.clone(),
                cert: args.tls_cert.clone(),
                key: args.tls_key.clone(),
                every: Duration::from_secs(args.reload_seconds),
            },
        )
        .map_err(|e| anyhow::anyhow!("starting the file watcher: {e}"))?;
    }
    let addr = server.local_addr()?;
    // The address goes to stdout (a test or script reads the port from it
    // when --listen asks for port 0); the rest is status on stderr.
    println!("{}", json!({"listening": addr.to_string()}));
    ui.status(format!(
        "admission webhook on https://{addr} ({rules} rules from {}): POST /validate, /mutate; GET /healthz, /readyz, /metrics",
        args.policy.display()
    ));
    server.run()
}

fn action_name(a: Action) -> &'static str {
    match a {
        Action::Verify => "verify",
        Action::Allow => "allow",
        Action::Deny => "deny",
    }
}

fn check(args: CheckArgs) -> anyhow::Result<()> {
    let policy = Policy::load(&args.policy)?;
    let rules: Vec<_> = policy
        .rules
        .iter()
        .map(|r| {
            json!({
                "name": r.name,
                "namespaces": r.namespaces,
                "images": r.images,
                "action": action_name(r.action),
                "cosignKeys": r.cosign_keys.iter().map(|k| json!({"path": k.path, "fingerprint": k.key.fingerprint().to_string()})).collect::<Vec<_>>(),
                "attestations": r.attestations,
                "notary": r.notary.is_some(),
                "failOpen": r.fail_open,
            })
        })
        .collect();
    if args.json {
        let v = json!({
            "rules": rules,
            "unmatched": action_name(policy.unmatched),
            "cache": {
                "verifiedTtlSeconds": policy.cache.verified.as_secs(),
                "deniedTtlSeconds": policy.cache.denied.as_secs(),
                "tagTtlSeconds": policy.cache.tag.as_secs(),
            },
            "maxRequestBytes": policy.max_request_bytes,
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        for r in &policy.rules {
            let mut needs = Vec::new();
            if !r.cosign_keys.is_empty() {
                needs.push(format!("{} cosign key(s)", r.cosign_keys.len()));
            }
            if !r.attestations.is_empty() {
                needs.push(format!("attestations {}", r.attestations.join(", ")));
            }
            if r.notary.is_some() {
                needs.push("a Notary signature".into());
            }
            println!(
                "{}: namespaces {} images {} -> {}{}{}",
                r.name,
                r.namespaces.join(","),
                r.images.join(","),
                action_name(r.action),
                if needs.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", needs.join(", "))
                },
                if r.fail_open { ", fail open" } else { "" }
            );
        }
        println!("unmatched images -> {}", action_name(policy.unmatched));
    }
    Ok(())
}
