//! What `push` and `copy` share: registry options from flags, the tag to
//! write, and transfer progress (a bar per blob on a terminal, plain lines
//! elsewhere).

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;
use std::sync::Mutex;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use slipway_oci::Digest;
use slipway_registry::{Blob, BlobOutcome, ClientOptions, Credentials, Location, Progress, Secret};

use crate::cli::{RegistryArgs, TagArgs};
use crate::input;
use crate::ui::Ui;

/// Client settings from the flags; reads the password from stdin if asked.
/// `--username` credentials go to the registry of `for_location` only.
pub fn client_options(
    args: &RegistryArgs,
    for_location: &Location,
) -> anyhow::Result<ClientOptions> {
    let mut options = ClientOptions {
        insecure: args.insecure,
        ca_file: args.ca_file.clone(),
        jobs: args.transfers.max(1),
        chunk_size: args.chunk_mib.max(1) << 20,
        ..ClientOptions::default()
    };
    if let Some(username) = &args.username {
        let mut password = String::new();
        std::io::stdin().read_to_string(&mut password)?;
        let password = password.trim_end_matches(['\n', '\r']).to_string();
        if password.is_empty() {
            return Err(input("--password-stdin read an empty password from stdin").into());
        }
        options.credentials_host = match for_location {
            Location::Remote(r) => Some(r.api_host().to_string()),
            _ => None,
        };
        options.credentials = Some(Credentials {
            username: username.clone(),
            password: Secret::new(password),
            origin: "--username/--password-stdin".into(),
        });
    }
    Ok(options)
}

/// The tag `--tag` asks for: as given, or derived from git for `auto`.
pub fn requested_tag(args: &TagArgs, git_dir: &Path) -> anyhow::Result<Option<String>> {
    match args.tag.as_deref() {
        None => Ok(None),
        Some("auto") => git_tag(git_dir).map(Some),
        Some(t) if slipway_registry::valid_tag(t) => Ok(Some(t.to_string())),
        Some(t) => Err(input(format!(
            "--tag {t}: a tag is up to 128 letters, digits, '.', '_' or '-', not starting with '.' or '-'"
        ))
        .into()),
    }
}

/// `git describe --tags --always --dirty`, made a valid tag (`v1.2.0-3-gabc1234-dirty`).
fn git_tag(dir: &Path) -> anyhow::Result<String> {
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["describe", "--tags", "--always", "--dirty"])
        .output()
        .map_err(|e| input(format!("--tag auto runs git, which cannot start: {e}")))?;
    let described = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if !out.status.success() || described.is_empty() {
        return Err(input(format!(
            "--tag auto needs a git repository with at least one commit at {}; give --tag explicitly",
            dir.display()
        ))
        .into());
    }
    Ok(sanitise_tag(&described))
}

fn sanitise_tag(s: &str) -> String {
    let mut t: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    while t.starts_with(['.', '-']) {
        t.remove(0);
    }
    t.truncate(128);
    if t.is_empty() { "untagged".into() } else { t }
}

/// Per-blob progress.
pub struct TransferProgress {
    ui: Ui,
    multi: Option<MultiProgress>,
    bars: Mutex<HashMap<Digest, ProgressBar>>,
}

impl TransferProgress {
    pub fn new(ui: Ui) -> TransferProgress {
        TransferProgress {
            ui,
            multi: ui.live.then(MultiProgress::new),
            bars: Mutex::new(HashMap::new()),
        }
    }
}

fn short(d: &Digest) -> String {
    format!("sha256:{}", &d.hex()[..12])
}

pub fn human_bytes(n: u64) -> String {
    match n {
        n if n >= 1 << 20 => format!("{:.1} MiB", n as f64 / (1u64 << 20) as f64),
        n if n >= 1 << 10 => format!("{:.1} KiB", n as f64 / 1024.0),
        n => format!("{n} B"),
    }
}

impl Progress for TransferProgress {
    fn blob_started(&self, blob: &Blob, action: &str) {
        match &self.multi {
            Some(multi) => {
                let bar = multi.add(ProgressBar::new(blob.size));
                bar.set_style(
                    ProgressStyle::with_template(
                        "{prefix:.dim} {msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
                );
                bar.set_prefix("slipway:");
                bar.set_message(format!("{action} {}", short(&blob.digest)));
                self.bars.lock().unwrap().insert(blob.digest.clone(), bar);
            }
            None => self.ui.status(format!(
                "{action} {} ({})",
                short(&blob.digest),
                human_bytes(blob.size)
            )),
        }
    }

    fn blob_bytes(&self, blob: &Blob, bytes: u64) {
        if let Some(bar) = self.bars.lock().unwrap().get(&blob.digest) {
            bar.inc(bytes);
        }
    }

    fn blob_finished(&self, blob: &Blob, outcome: BlobOutcome) {
        if let Some(bar) = self.bars.lock().unwrap().remove(&blob.digest) {
            bar.finish_and_clear();
        }
        if self.multi.is_none() {
            match outcome {
                BlobOutcome::Uploaded(n) => {
                    self.ui
                        .status(format!("sent {} ({})", short(&blob.digest), human_bytes(n)))
                }
                BlobOutcome::Mounted => self.ui.status(format!("mounted {}", short(&blob.digest))),
                BlobOutcome::Reused => {}
            }
        }
    }

    fn manifest_written(&self, digest: &Digest, tag: Option<&str>) {
        if let Some(tag) = tag {
            let line = format!("tagged {tag} -> {digest}");
            match &self.multi {
                Some(m) => {
                    let _ = m.println(format!("slipway: {line}"));
                }
                None => self.ui.status(line),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_from_git_describe() {
        assert_eq!(
            sanitise_tag("v1.2.0-3-gabc1234-dirty"),
            "v1.2.0-3-gabc1234-dirty"
        );
        assert_eq!(sanitise_tag("release/1.0+build"), "release-1.0-build");
        assert_eq!(sanitise_tag("-x"), "x");
        assert!(slipway_registry::valid_tag(&sanitise_tag(&"a".repeat(300))));
    }
}
