//! Per-target C settings (`[build.target."linux/arm64"]` in slipway.toml): a
//! vendor SDK's sysroot, extra compile and link flags, and where pkg-config
//! looks. Translated here, once, into what each C compiler understands.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use slipway_platform::{Libc, Target};

/// musl's own default thread stack is 128 KiB, glibc's usually 8 MiB; C code
/// written for glibc that recurses or keeps big arrays on the stack crashes on
/// musl. Linking with this `PT_GNU_STACK` size raises musl's default for every
/// thread (musl caps what it honours at 8 MiB).
pub const MUSL_THREAD_STACK_DEFAULT: u64 = 8 << 20;

/// The largest default musl takes from `PT_GNU_STACK` (`DEFAULT_STACK_MAX`).
pub const MUSL_THREAD_STACK_MAX: u64 = 8 << 20;

/// Flags slipway sets itself; a user flag with one of these prefixes would
/// silently retarget or contradict the build.
const RESERVED_FLAGS: &[&str] = &["-target", "--target", "-mcpu", "-march", "--sysroot"];

/// The C settings of one target. Relative paths are already resolved.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct CSettings {
    /// A directory laid out like the device's root: `usr/include`, `usr/lib`, ...
    pub sysroot: Option<PathBuf>,
    /// Added to every C compile, after Go's and the package's own flags.
    pub cflags: Vec<String>,
    /// Added to every link.
    pub ldflags: Vec<String>,
    /// Directories holding `.pc` files; they replace pkg-config's default
    /// search path, so the build machine's own libraries are never picked up.
    pub pkg_config_path: Vec<PathBuf>,
}

/// Why a target's C settings cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CSettingsProblem(pub String);

impl CSettings {
    pub fn is_empty(&self) -> bool {
        self == &CSettings::default()
    }

    /// Check the settings against the file system and slipway's own flags.
    /// The message names the key; the caller adds which table it is in.
    pub fn check(&self) -> Result<(), CSettingsProblem> {
        if let Some(root) = &self.sysroot
            && !root.is_dir()
        {
            return Err(CSettingsProblem(format!(
                "sysroot {} is not a directory: point it at the SDK's root (the directory holding usr/include and usr/lib)",
                root.display()
            )));
        }
        for dir in &self.pkg_config_path {
            if !dir.is_dir() {
                return Err(CSettingsProblem(format!(
                    "pkg_config_path entry {} is not a directory",
                    dir.display()
                )));
            }
        }
        for (key, flags) in [("cflags", &self.cflags), ("ldflags", &self.ldflags)] {
            for flag in flags.iter() {
                if flag.trim().is_empty() {
                    return Err(CSettingsProblem(format!(
                        "{key} holds an empty flag: give each flag as one list item, e.g. [\"-DVENDOR=1\", \"-O2\"]"
                    )));
                }
                if let Some(reserved) = RESERVED_FLAGS
                    .iter()
                    .find(|r| flag == *r || flag.starts_with(&format!("{r}=")))
                {
                    return Err(CSettingsProblem(format!(
                        "{key} may not set {reserved}: slipway derives the target from the platform and libc{}",
                        if *reserved == "--sysroot" {
                            "; use the sysroot key instead"
                        } else {
                            ""
                        }
                    )));
                }
            }
        }
        Ok(())
    }

    /// Compile and link flags for `zig cc`. zig brings its own libc headers
    /// and link stubs, so the sysroot must not replace them: its headers are
    /// searched after zig's (`-idirafter`), and its libraries are found with
    /// `-L` (and `-rpath-link`, for their own dependencies).
    pub fn zig_flags(&self, target: &Target) -> (Vec<String>, Vec<String>) {
        let mut cflags = Vec::new();
        let mut ldflags = Vec::new();
        if let Some(root) = &self.sysroot {
            for dir in sysroot_dirs(root, target, &["usr/local/include", "usr/include"]) {
                cflags.push("-idirafter".to_string());
                cflags.push(dir.display().to_string());
            }
            for dir in sysroot_dirs(root, target, &["lib", "usr/lib", "usr/local/lib"]) {
                ldflags.push(format!("-L{}", dir.display()));
                ldflags.push(format!("-Wl,-rpath-link,{}", dir.display()));
            }
        }
        cflags.extend(self.cflags.iter().cloned());
        ldflags.extend(self.ldflags.iter().cloned());
        (cflags, ldflags)
    }

    /// `CGO_CFLAGS` and `CGO_LDFLAGS` for a GNU cross gcc, which takes the
    /// sysroot as it is (it then replaces the compiler's own). `user` holds
    /// what `[build.env]` declared; Go's default `-O2 -g` stays when it was
    /// not set, since setting these variables replaces it.
    pub fn gnu_env(&self, user: &BTreeMap<String, String>) -> BTreeMap<String, String> {
        let mut env = BTreeMap::new();
        for (var, flags) in [("CGO_CFLAGS", &self.cflags), ("CGO_LDFLAGS", &self.ldflags)] {
            let mut parts: Vec<String> = vec![
                user.get(var)
                    .cloned()
                    .unwrap_or_else(|| "-O2 -g".to_string()),
            ];
            if let Some(root) = &self.sysroot {
                parts.push(format!("--sysroot={}", root.display()));
            }
            parts.extend(flags.iter().cloned());
            env.insert(var.to_string(), parts.join(" "));
        }
        env
    }

    /// pkg-config's environment: only the declared directories, with
    /// results re-rooted in the sysroot.
    pub fn pkg_config_env(&self) -> BTreeMap<String, String> {
        let mut env = BTreeMap::new();
        if !self.pkg_config_path.is_empty() {
            let joined = self
                .pkg_config_path
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(":");
            env.insert("PKG_CONFIG_LIBDIR".to_string(), joined);
            env.insert("PKG_CONFIG_PATH".to_string(), String::new());
            if let Some(root) = &self.sysroot {
                env.insert(
                    "PKG_CONFIG_SYSROOT_DIR".to_string(),
                    root.display().to_string(),
                );
            }
        }
        env
    }

    /// Everything that changes what the C compiler produces, for the
    /// wrapper's identity (Go keys its cgo cache on the `CC` path).
    pub fn identity(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(root) = &self.sysroot {
            out.push(format!("sysroot={}", root.display()));
        }
        out.extend(self.cflags.iter().map(|f| format!("cflag={f}")));
        out.extend(self.ldflags.iter().map(|f| format!("ldflag={f}")));
        out.extend(
            self.pkg_config_path
                .iter()
                .map(|p| format!("pkg_config_path={}", p.display())),
        );
        out
    }
}

/// The sysroot's directories for a target, both plain and Debian multiarch
/// (`usr/lib/aarch64-linux-gnu`), that exist.
fn sysroot_dirs(root: &Path, target: &Target, rels: &[&str]) -> Vec<PathBuf> {
    let multiarch = match target.libc {
        Libc::Glibc(_) => target.gnu_triple().ok().map(|t| match t {
            "i686-linux-gnu" => "i386-linux-gnu",
            t => t,
        }),
        _ => None,
    };
    let mut dirs = Vec::new();
    for rel in rels {
        let plain = root.join(rel);
        if let Some(m) = multiarch {
            let arch_dir = plain.join(m);
            if arch_dir.is_dir() {
                dirs.push(arch_dir);
            }
        }
        if plain.is_dir() {
            dirs.push(plain);
        }
    }
    dirs
}

#[cfg(test)]
mod tests {
    use super::*;
    use slipway_platform::GlibcVersion;

    fn arm64_glibc() -> Target {
        Target::new(
            "linux/arm64".parse().unwrap(),
            Libc::Glibc(GlibcVersion::new(2, 28)),
        )
    }

    #[test]
    fn zig_spelling_keeps_zigs_libc_first() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for d in [
            "usr/include",
            "usr/lib",
            "usr/lib/aarch64-linux-gnu",
            "lib/aarch64-linux-gnu",
        ] {
            std::fs::create_dir_all(root.join(d)).unwrap();
        }
        let s = CSettings {
            sysroot: Some(root.to_path_buf()),
            cflags: vec!["-DVENDOR=1".into()],
            ldflags: vec!["-lvendor".into()],
            pkg_config_path: vec![],
        };
        let (c, l) = s.zig_flags(&arm64_glibc());
        let r = root.display();
        assert_eq!(
            c,
            [
                "-idirafter".to_string(),
                format!("{r}/usr/include"),
                "-DVENDOR=1".into()
            ]
        );
        assert_eq!(
            l,
            [
                format!("-L{r}/lib/aarch64-linux-gnu"),
                format!("-Wl,-rpath-link,{r}/lib/aarch64-linux-gnu"),
                format!("-L{r}/lib"),
                format!("-Wl,-rpath-link,{r}/lib"),
                format!("-L{r}/usr/lib/aarch64-linux-gnu"),
                format!("-Wl,-rpath-link,{r}/usr/lib/aarch64-linux-gnu"),
                format!("-L{r}/usr/lib"),
                format!("-Wl,-rpath-link,{r}/usr/lib"),
                "-lvendor".into(),
            ]
        );
    }

    #[test]
    fn gnu_gets_the_sysroot_as_is_and_keeps_gos_defaults() {
        let s = CSettings {
            sysroot: Some("/sdk".into()),
            cflags: vec!["-DX".into()],
            ldflags: vec![],
            pkg_config_path: vec!["/sdk/usr/lib/pkgconfig".into()],
        };
        let env = s.gnu_env(&BTreeMap::new());
        assert_eq!(env["CGO_CFLAGS"], "-O2 -g --sysroot=/sdk -DX");
        assert_eq!(env["CGO_LDFLAGS"], "-O2 -g --sysroot=/sdk");
        let user = BTreeMap::from([("CGO_CFLAGS".to_string(), "-O3".to_string())]);
        assert_eq!(s.gnu_env(&user)["CGO_CFLAGS"], "-O3 --sysroot=/sdk -DX");
        let pc = s.pkg_config_env();
        assert_eq!(pc["PKG_CONFIG_LIBDIR"], "/sdk/usr/lib/pkgconfig");
        assert_eq!(pc["PKG_CONFIG_SYSROOT_DIR"], "/sdk");
        assert_eq!(pc["PKG_CONFIG_PATH"], "");
        assert!(CSettings::default().pkg_config_env().is_empty());
    }

    #[test]
    fn checks_name_the_key() {
        let missing = CSettings {
            sysroot: Some("/no/such/sdk".into()),
            ..CSettings::default()
        };
        assert!(
            missing
                .check()
                .unwrap_err()
                .0
                .contains("sysroot /no/such/sdk")
        );
        let retarget = CSettings {
            cflags: vec!["-target=x86_64-linux-gnu".into()],
            ..CSettings::default()
        };
        assert!(
            retarget
                .check()
                .unwrap_err()
                .0
                .starts_with("cflags may not set -target")
        );
        let sysroot_flag = CSettings {
            ldflags: vec!["--sysroot=/x".into()],
            ..CSettings::default()
        };
        assert!(
            sysroot_flag
                .check()
                .unwrap_err()
                .0
                .contains("use the sysroot key")
        );
        let empty = CSettings {
            cflags: vec![" ".into()],
            ..CSettings::default()
        };
        assert!(empty.check().unwrap_err().0.contains("empty flag"));
        assert!(CSettings::default().check().is_ok());
    }

    #[test]
    fn identity_changes_with_every_setting() {
        let base = CSettings::default();
        let variants = [
            CSettings {
                sysroot: Some("/a".into()),
                ..base.clone()
            },
            CSettings {
                cflags: vec!["-DA".into()],
                ..base.clone()
            },
            CSettings {
                ldflags: vec!["-DA".into()],
                ..base.clone()
            },
            CSettings {
                pkg_config_path: vec!["/a".into()],
                ..base.clone()
            },
        ];
        let ids: std::collections::BTreeSet<Vec<String>> =
            variants.iter().map(CSettings::identity).collect();
        assert_eq!(ids.len(), variants.len());
        assert!(!ids.contains(&base.identity()));
    }
}
