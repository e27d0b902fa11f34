//! `slipway.toml`, the module's own settings. Command-line flags override it;
//! unknown keys are errors, so a typo never silently changes a build.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;
use serde::Deserialize;

pub const FILE_NAME: &str = "slipway.toml";

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub build: BuildConfig,
    #[serde(default)]
    pub image: ImageConfig,
    /// `[channels."NAME"]`: each release channel's policy (docs/release.md).
    #[serde(default)]
    pub channels: BTreeMap<String, slipway_release::ChannelPolicy>,
    #[serde(default)]
    pub cache: CacheSection,
}

/// `[cache]`, in slipway.toml or the user's `~/.config/slipway/config.toml`:
/// the remote build cache runners share (docs/cache.md).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheSection {
    /// `http(s)://host[:port][/path]` (Bazel remote-cache HTTP protocol) or
    /// `s3://bucket[/prefix]`; `"none"` switches a remote set elsewhere off.
    pub remote: Option<String>,
    /// `read` or `readwrite` (default).
    pub remote_mode: Option<String>,
}

/// The user's own settings, `$XDG_CONFIG_HOME/slipway/config.toml` (else
/// `~/.config/slipway/config.toml`): only what is about the machine, not the module.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserConfig {
    #[serde(default)]
    pub cache: CacheSection,
}

/// Where the user's config file is, if a home is known.
pub fn user_config_path() -> Option<std::path::PathBuf> {
    let env = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
    env("XDG_CONFIG_HOME")
        .map(std::path::PathBuf::from)
        .or_else(|| env("HOME").map(|h| std::path::PathBuf::from(h).join(".config")))
        .map(|d| d.join("slipway/config.toml"))
}

/// Read the user's config file; absent means defaults.
pub fn load_user() -> anyhow::Result<UserConfig> {
    let Some(path) = user_config_path() else {
        return Ok(UserConfig::default());
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(UserConfig::default()),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    toml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

/// `[image]`: what goes into the image besides the binary.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageConfig {
    /// `NAME[:TAG]` inside the output.
    pub tag: Option<String>,
    /// oci | oci-archive | docker-archive.
    pub format: Option<String>,
    /// Relative to the module directory.
    pub out: Option<String>,
    /// Ports the service listens on, e.g. ["8080/tcp"].
    pub ports: Option<Vec<String>>,
    /// Extra environment, KEY=VALUE.
    pub env: Option<Vec<String>>,
    /// Default arguments after the entrypoint.
    pub cmd: Option<Vec<String>>,
    /// A PEM bundle to install as /etc/ssl/certs/ca-certificates.crt;
    /// "host" takes this machine's.
    pub ca_certs: Option<String>,
    /// Install this machine's /usr/share/zoneinfo (or use Go's `timetzdata` tag instead).
    pub zoneinfo: Option<bool>,
    /// A directory of the module whose files go to /app/data (like ko's kodata).
    pub data: Option<String>,
    /// gzip level, 1 (fastest) to 9 (smallest). Default 6.
    pub gzip_level: Option<u32>,
    /// Layer compression: "gzip" or "zstd", optionally with a level
    /// ("gzip:9", "zstd:19"). Default "gzip" (level 6, or gzip_level).
    pub compression: Option<String>,
    /// Put slipway's PID-1 init at /sbin/slipway-init and start the app
    /// through it. Default true.
    pub init: Option<bool>,
    /// Findings the secret gate lets through: "/image/path" or
    /// "/image/path:kind" (see docs/scan.md).
    pub allow_secrets: Option<Vec<String>>,
    /// "glibc": copy the loader and libraries a dynamic binary needs from a sysroot.
    pub runtime: Option<String>,
    /// The sysroot for `runtime`, relative to the module; default Debian's cross glibc.
    pub sysroot: Option<String>,
    /// A base image: `host/repo[:tag|@digest]`, `oci:DIR[:tag]` or `oci-archive:FILE[:tag]`
    /// (paths relative to the module). Default: slipway's minimal base files.
    pub base: Option<String>,
    /// The user the image runs as: a name from the image's /etc/passwd, or `uid[:gid]`.
    pub user: Option<String>,
    /// The working directory (absolute). Default "/".
    pub workdir: Option<String>,
    /// Extra config labels and manifest annotations.
    pub labels: Option<BTreeMap<String, String>>,
    pub annotations: Option<BTreeMap<String, String>>,
    /// The program and arguments the image starts (through the init when it has one).
    pub entrypoint: Option<Vec<String>>,
    /// Extra files of the module, each with an explicit mode.
    pub files: Option<Vec<ImageFile>>,
    /// Several main packages, each built and put at `/app/<name>`; the first is
    /// what the image starts unless `entrypoint` says otherwise.
    pub packages: Option<Vec<String>>,
    /// Linux file capabilities on the app binaries, e.g. ["CAP_NET_BIND_SERVICE"].
    pub capabilities: Option<Vec<String>>,
    /// The most compressed bytes one platform's image may take: "12MiB" or bytes.
    pub budget: Option<toml::Value>,
}

/// One entry of `[image] files`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageFile {
    /// Path in the module.
    pub src: String,
    /// Absolute path in the image.
    pub dst: String,
    /// Octal, e.g. "0644" or "0755".
    pub mode: String,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BuildConfig {
    pub package: Option<String>,
    pub name: Option<String>,
    pub platforms: Option<Vec<String>>,
    pub libc: Option<String>,
    pub cc: Option<String>,
    /// Relative to the module directory.
    pub out: Option<String>,
    pub tags: Option<Vec<String>>,
    pub ldflags: Option<Vec<String>>,
    pub buildvcs: Option<bool>,
    pub env: Option<BTreeMap<String, String>>,
    /// split | strip | none.
    pub strip: Option<String>,
    /// The default thread stack of musl targets: bytes, or a string such as
    /// "512KiB" or "8MiB"; "musl" keeps musl's own 128 KiB. Default 8MiB.
    pub musl_thread_stack: Option<toml::Value>,
    /// Per-platform C settings, `[build.target."linux/arm64"]`.
    pub target: Option<BTreeMap<String, TargetCConfig>>,
    /// The most bytes one shipped binary may take: "8MiB" or bytes.
    pub budget: Option<toml::Value>,
    /// The malloc of the C code: "libc" (default) or "mimalloc".
    pub allocator: Option<String>,
}

/// `[build.target."PLATFORM"]`: C settings for one platform's cgo build,
/// such as a vendor SDK. Paths are relative to the module directory.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetCConfig {
    /// The SDK's root: usr/include and usr/lib (or their multiarch directories).
    pub sysroot: Option<String>,
    pub cflags: Option<Vec<String>>,
    pub ldflags: Option<Vec<String>>,
    /// Directories of `.pc` files; they replace pkg-config's default path.
    pub pkg_config_path: Option<Vec<String>>,
}

/// `musl_thread_stack` in bytes, with 0 meaning musl's own default: a
/// number of bytes, "musl", or a size as [`slipway_size::parse_size`]
/// reads it ("512KiB", "8MiB"), the one size syntax of slipway.toml.
pub fn stack_bytes(value: &toml::Value) -> Result<u64, String> {
    let bad = |shown: String| {
        format!(
            "musl_thread_stack = {shown} is not a size: write bytes (1048576), \"1MiB\", \"512KiB\", or \"musl\" for musl's own default"
        )
    };
    match value {
        toml::Value::Integer(n) => u64::try_from(*n).map_err(|_| bad(n.to_string())),
        toml::Value::String(t) if t.trim() == "musl" => Ok(0),
        toml::Value::String(t) => {
            slipway_size::parse_size(t).map_err(|_| bad(format!("\"{}\"", t.trim())))
        }
        other => Err(bad(other.to_string())),
    }
}

/// A size budget: `--FLAG` wins over the key in slipway.toml, and `none`
/// on the command line turns a configured budget off. The knob recorded is
/// the one a failure message names.
pub fn budget(
    flag: Option<&str>,
    flag_name: &str,
    key: Option<&toml::Value>,
    key_name: &str,
) -> Result<Option<slipway_size::Budget>, String> {
    if let Some(f) = flag {
        if f == "none" {
            return Ok(None);
        }
        let limit = slipway_size::parse_size(f).map_err(|e| format!("{flag_name} {e}"))?;
        return Ok(Some(slipway_size::Budget {
            limit,
            knob: flag_name.to_string(),
        }));
    }
    let limit = match key {
        None => return Ok(None),
        Some(toml::Value::Integer(n)) => {
            u64::try_from(*n).map_err(|_| format!("{key_name} = {n} is not a size"))?
        }
        Some(toml::Value::String(t)) => {
            slipway_size::parse_size(t).map_err(|e| format!("{key_name} = {e}"))?
        }
        Some(other) => {
            return Err(format!(
                "{key_name} = {other} is not a size: write \"12MiB\" or a number of bytes"
            ));
        }
    };
    Ok(Some(slipway_size::Budget {
        limit,
        knob: key_name.to_string(),
    }))
}

/// Read `slipway.toml` from the module directory; absent means defaults.
pub fn load(module_dir: &Path) -> anyhow::Result<Config> {
    let path = module_dir.join(FILE_NAME);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Config::default()),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

pub fn parse(text: &str) -> Result<Config, toml::de::Error> {
    toml::from_str(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_build_section() {
        let c = parse(
            r#"
[build]
package = "./cmd/server"
platforms = ["linux/amd64", "linux/arm/v7"]
libc = "musl"
tags = ["prod"]
env = { GOEXPERIMENT = "loopvar" }
"#,
        )
        .unwrap();
        assert_eq!(c.build.package.as_deref(), Some("./cmd/server"));
        assert_eq!(c.build.platforms.unwrap().len(), 2);
        assert_eq!(c.build.env.unwrap()["GOEXPERIMENT"], "loopvar");
    }

    #[test]
    fn per_target_c_settings_and_the_musl_stack() {
        let c = parse(
            r#"
[build]
musl_thread_stack = "512KiB"

[build.target."linux/arm64"]
sysroot = "sdk/arm64"
cflags = ["-DVENDOR"]
ldflags = ["-lvendor"]
pkg_config_path = ["sdk/arm64/usr/lib/pkgconfig"]
"#,
        )
        .unwrap();
        assert_eq!(
            stack_bytes(&c.build.musl_thread_stack.unwrap()),
            Ok(512 << 10)
        );
        let t = &c.build.target.unwrap()["linux/arm64"];
        assert_eq!(t.sysroot.as_deref(), Some("sdk/arm64"));
        assert_eq!(t.ldflags.as_deref(), Some(&["-lvendor".to_string()][..]));
        let text = |t: &str| toml::Value::String(t.into());
        // The same syntax as budgets: slipway_size::parse_size reads both.
        for (t, bytes) in [
            ("8MiB", 8 << 20),
            ("musl", 0),
            ("65536", 65536),
            ("1.5MiB", 3 << 19),
            ("512K", 512 << 10),
            ("1MB", 1_000_000),
        ] {
            assert_eq!(stack_bytes(&text(t)), Ok(bytes), "{t}");
        }
        assert_eq!(stack_bytes(&toml::Value::Integer(4096)), Ok(4096));
        for bad in [
            text("8 gb"),
            text("MiB"),
            text("-1"),
            text("1.5.1MiB"),
            text("99999999999999999999MiB"),
            toml::Value::Integer(-1),
            toml::Value::Float(1.5),
            toml::Value::Boolean(true),
        ] {
            let e = stack_bytes(&bad).unwrap_err();
            assert!(e.contains("is not a size"), "{bad}: {e}");
        }
        let e = parse("[build.target.\"linux/arm64\"]\nsysrot = \"x\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("unknown field `sysrot`") && e.contains("sysroot"),
            "{e}"
        );
    }

    #[test]
    fn budgets_from_keys_and_flags() {
        let c = parse("[build]\nbudget = \"8MiB\"\n[image]\nbudget = 12582912\n").unwrap();
        let b = budget(
            None,
            "--budget",
            c.build.budget.as_ref(),
            "budget in [build]",
        )
        .unwrap()
        .unwrap();
        assert_eq!((b.limit, b.knob.as_str()), (8 << 20, "budget in [build]"));
        let i = budget(
            None,
            "--image-budget",
            c.image.budget.as_ref(),
            "budget in [image]",
        )
        .unwrap()
        .unwrap();
        assert_eq!(i.limit, 12 << 20);
        let f = budget(Some("1.5MiB"), "--budget", c.build.budget.as_ref(), "k")
            .unwrap()
            .unwrap();
        assert_eq!((f.limit, f.knob.as_str()), (3 << 19, "--budget"));
        assert_eq!(
            budget(Some("none"), "--budget", c.build.budget.as_ref(), "k"),
            Ok(None)
        );
        assert_eq!(budget(None, "--budget", None, "k"), Ok(None));
        for bad in [
            "[build]\nbudget = -1\n",
            "[build]\nbudget = true\n",
            "[build]\nbudget = \"8 mb\"\n",
        ] {
            let c = parse(bad).unwrap();
            let e = budget(
                None,
                "--budget",
                c.build.budget.as_ref(),
                "budget in [build]",
            )
            .unwrap_err();
            assert!(
                e.contains("budget in [build]") && e.contains("not a size"),
                "{bad}: {e}"
            );
        }
        let e = budget(Some("lots"), "--budget", None, "k").unwrap_err();
        assert!(e.contains("--budget") && e.contains("not a size"), "{e}");
    }

    #[test]
    fn cache_section() {
        let c = parse("[cache]\nremote = \"s3://ci/go\"\nremote_mode = \"read\"\n").unwrap();
        assert_eq!(c.cache.remote.as_deref(), Some("s3://ci/go"));
        assert_eq!(c.cache.remote_mode.as_deref(), Some("read"));
        let e = parse("[cache]\nremote_url = \"x\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown field `remote_url`"), "{e}");
    }

    #[test]
    fn unknown_keys_say_where_and_what_is_valid() {
        let e = parse("[build]\npakage = \"./cmd\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 2"), "{e}");
        assert!(e.contains("unknown field `pakage`"), "{e}");
        assert!(e.contains("package"), "{e}");
        let e = parse("[bild]\n").unwrap_err().to_string();
        assert!(e.contains("unknown field `bild`"), "{e}");
        let e = parse("[build]\nplatforms = \"linux/amd64\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("invalid type"), "{e}");
    }
}
