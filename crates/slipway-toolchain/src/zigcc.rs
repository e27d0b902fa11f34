//! `zig cc` as Go's `CC`: one wrapper script per (zig version, target, cpu), and
//! the argument rewriting it applies on every call.
//!
//! The wrapper's path contains the zig version, the full target and a digest of
//! everything else that changes the compiler's output (per-target C settings,
//! the musl thread stack, the version of the rewriting rules) because Go's
//! build cache keys cgo work on the `CC` path, not on flags hidden inside it.
//! The script execs `slipway zig-cc`, which rewrites the arguments in one place
//! (tested below) and execs zig.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use slipway_platform::{Libc, Target};

use crate::ToolchainError;
use crate::cache::CacheDir;
use crate::csettings::CSettings;
use crate::zig::Zig;
use slipway_fs::write_atomic;

/// musl's own default thread stack; a `PT_GNU_STACK` size no larger keeps it.
const MUSL_OWN_STACK: u64 = 128 << 10;

/// Bumped whenever [`rewrite_args`] changes what it adds, so wrappers (and
/// with them Go's cached cgo objects) from an older slipway are not reused.
const RULES_VERSION: u32 = 2;

/// When set, the wrapper points zig's caches at this directory instead of
/// slipway's zig cache: how a target's C runtime is built in isolation.
pub const STAGING_ENV: &str = "SLIPWAY_ZIG_CACHE_STAGING";

/// What `slipway zig-cc` needs to know, all carried on the wrapper's command line.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ZigCcTarget {
    /// zig's `-target`, e.g. `mipsel-linux-musleabi` or `aarch64-linux-gnu.2.28`.
    pub triple: String,
    pub mcpu: Option<String>,
    /// Added to every compile, in zig's spelling (per-target settings).
    pub cflags: Vec<String>,
    /// Added to every link.
    pub ldflags: Vec<String>,
    /// musl only: the default thread stack, written at link time as the
    /// `PT_GNU_STACK` size. Always explicit, since zig otherwise writes its
    /// own default there (16 MiB, which musl caps at 8).
    pub stack_size: Option<u64>,
    /// What else decides the output without being a flag (pkg-config's
    /// search path): only part of the wrapper's identity.
    pub identity_extra: Vec<String>,
}

impl ZigCcTarget {
    /// The wrapper's settings for a target. `musl_stack` is the musl thread
    /// stack in bytes (0: musl's own default); ignored for glibc, whose
    /// default comes from the device's `ulimit -s`.
    pub fn for_target(
        target: &Target,
        settings: &CSettings,
        musl_stack: u64,
    ) -> Option<ZigCcTarget> {
        let (cflags, ldflags) = settings.zig_flags(target);
        Some(ZigCcTarget {
            triple: target.zig_triple()?,
            mcpu: target.zig_mcpu().map(str::to_string),
            cflags,
            ldflags,
            // zig rejects a zero size; musl's own default says the same.
            stack_size: (target.libc == Libc::Musl).then_some(if musl_stack == 0 {
                MUSL_OWN_STACK
            } else {
                musl_stack
            }),
            identity_extra: settings.identity(),
        })
    }

    /// The wrapper's arguments after `--target`, in a fixed order.
    fn options(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        if let Some(mcpu) = &self.mcpu {
            out.push(("--mcpu", mcpu.clone()));
        }
        if let Some(size) = self.stack_size {
            out.push(("--stack-size", size.to_string()));
        }
        out.extend(self.cflags.iter().map(|f| ("--cflag", f.clone())));
        out.extend(self.ldflags.iter().map(|f| ("--ldflag", f.clone())));
        out
    }

    /// A short digest of everything besides zig's version, the triple and
    /// the cpu that changes what the compiler produces.
    fn identity(&self) -> String {
        let mut h = Sha256::new();
        h.update(format!("rules {RULES_VERSION}\0").as_bytes());
        for (flag, value) in self.options() {
            h.update(flag.as_bytes());
            h.update([0]);
            h.update(value.as_bytes());
            h.update([0]);
        }
        for extra in &self.identity_extra {
            h.update(extra.as_bytes());
            h.update([0]);
        }
        h.finalize()
            .iter()
            .take(6)
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    fn is_musl(&self) -> bool {
        self.triple.contains("-musl")
    }

    fn is_mips32(&self) -> bool {
        self.triple.starts_with("mips-") || self.triple.starts_with("mipsel-")
    }

    fn is_mips64(&self) -> bool {
        self.triple.starts_with("mips64-") || self.triple.starts_with("mips64el-")
    }

    fn is_glibc(&self) -> bool {
        self.triple.contains("-gnu")
    }
}

/// Write (or refresh) the wrapper for a target and return its path.
pub fn write_wrapper(
    cache: &CacheDir,
    zig: &Zig,
    target: &ZigCcTarget,
    slipway: &Path,
) -> Result<PathBuf, ToolchainError> {
    let mut dir_name = target.triple.clone();
    if let Some(mcpu) = &target.mcpu {
        dir_name.push('@');
        dir_name.push_str(mcpu);
    }
    dir_name.push('-');
    dir_name.push_str(&target.identity());
    let path = cache.path(format!("cc/zig-{}/{dir_name}/cc", zig.version));
    let zig_cache = cache.zig_cache();
    let mut script = format!(
        "#!/bin/sh\n# slipway: cgo C compiler, zig {} for {}{}.\n# Written by slipway on each build; edits are overwritten.\n",
        zig.version,
        target.triple,
        target
            .mcpu
            .as_deref()
            .map(|m| format!(" (-mcpu={m})"))
            .unwrap_or_default(),
    );
    // `STAGING_ENV` lets slipway build one target's runtime in an empty
    // cache of its own (to share it through a remote cache); nothing else sets it.
    script.push_str(&format!(
        "ZIG_GLOBAL_CACHE_DIR=${{{STAGING_ENV}:-{}}}; export ZIG_GLOBAL_CACHE_DIR\n",
        sh_quote(zig_cache.as_os_str())
    ));
    script.push_str(&format!(
        "ZIG_LOCAL_CACHE_DIR=${{{STAGING_ENV}:-{}}}; export ZIG_LOCAL_CACHE_DIR\n",
        sh_quote(zig_cache.as_os_str())
    ));
    script.push_str(&format!(
        "exec {} zig-cc --zig {} --target {}",
        sh_quote(slipway.as_os_str()),
        sh_quote(zig.path.as_os_str()),
        sh_quote(OsStr::new(&target.triple))
    ));
    for (flag, value) in target.options() {
        script.push_str(&format!(" {flag} {}", sh_quote(OsStr::new(&value))));
    }
    script.push_str(" -- \"$@\"\n");
    let io = |source| ToolchainError::Io {
        what: format!("writing the C compiler wrapper {}", path.display()),
        source,
    };
    if std::fs::read(&path).ok().as_deref() != Some(script.as_bytes()) {
        write_atomic(&path, script.as_bytes(), 0o755).map_err(io)?;
    }
    Ok(path)
}

fn sh_quote(s: &OsStr) -> String {
    format!("'{}'", s.to_string_lossy().replace('\'', "'\\''"))
}

/// Whether this compiler call links (as opposed to compiling, preprocessing or asking).
fn is_link(args: &[OsString]) -> bool {
    !args.iter().any(|a| {
        matches!(
            a.to_str(),
            Some("-c" | "-E" | "-S" | "-M" | "-MM" | "-###" | "--version" | "-v")
        )
    })
}

/// Rewrite Go's compiler arguments for zig cc. Every gotcha from the toolchain
/// reference that concerns flags lives here:
/// - `-u SYM` becomes `-Wl,-u,SYM`, and `-l:libfoo.a` a full path, which zig understands;
/// - UBSan is off (zig turns it on; UB in C would become SIGILL);
/// - glibc targets get `_GNU_SOURCE`, which zig no longer implies;
/// - musl compiles get `_LARGEFILE64_SOURCE`: musl 1.2.4 hid the LFS64 names
///   (`pread64`, `off64_t`) that glibc-era C code such as go-sqlite3 before
///   v1.14.19 uses, unless that macro is defined;
/// - musl links get `-z stack-size`, which raises musl's 128 KiB default
///   thread stack (Go's cgo threads and C's own) to the configured size;
/// - per-target cflags/ldflags come after Go's flags, so they can override them;
/// - mips32 links need `-z notext`;
/// - on mips, Go's `-mhard-float` is dropped: hard float is already the
///   triple's ABI, and zig turns the flag into a CPU feature mips64 lacks;
/// - on mips64, clang's warning that it ignores zig's `-fno-PIC` (N64 code is
///   always PIC) is silenced, since runtime/cgo compiles with `-Werror`;
/// - `-mcpu` and `-target` come last, so nothing before them can change the target.
pub fn rewrite_args(target: &ZigCcTarget, args: &[OsString]) -> Vec<OsString> {
    let link = is_link(args);
    let search_dirs: Vec<PathBuf> = args
        .iter()
        .zip(args.iter().skip(1).chain(std::iter::once(&OsString::new())))
        .filter_map(|(a, next)| match a.to_str() {
            Some("-L") => Some(PathBuf::from(next)),
            Some(s) if s.starts_with("-L") => Some(PathBuf::from(&s[2..])),
            _ => None,
        })
        .collect();
    let mut out: Vec<OsString> = Vec::with_capacity(args.len() + 8);
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        match arg.to_str() {
            Some("-u") => match iter.next() {
                Some(sym) => {
                    let mut flag = OsString::from("-Wl,-u,");
                    flag.push(sym);
                    out.push(flag);
                }
                None => out.push(arg.clone()),
            },
            Some(lib) if lib.starts_with("-l:") => {
                let name = &lib[3..];
                match search_dirs
                    .iter()
                    .map(|d| d.join(name))
                    .find(|p| p.is_file())
                {
                    Some(full) => out.push(full.into_os_string()),
                    None => out.push(arg.clone()),
                }
            }
            Some("-mhard-float") if target.is_mips32() || target.is_mips64() => {}
            _ => out.push(arg.clone()),
        }
    }
    out.push("-fno-sanitize=undefined".into());
    if target.is_mips64() {
        out.push("-Wno-option-ignored".into());
    }
    if target.is_glibc() && !link {
        out.push("-D_GNU_SOURCE".into());
    }
    if target.is_musl() && !link {
        out.push("-D_LARGEFILE64_SOURCE".into());
    }
    if let (Some(size), true) = (target.stack_size, link) {
        out.push(format!("-Wl,-z,stack-size={size}").into());
    }
    let extra = if link {
        &target.ldflags
    } else {
        &target.cflags
    };
    out.extend(extra.iter().map(OsString::from));
    if target.is_mips32() && link {
        out.push("-Wl,-z,notext".into());
    }
    if let Some(mcpu) = &target.mcpu {
        out.push(format!("-mcpu={mcpu}").into());
    }
    out.push("-target".into());
    out.push(target.triple.clone().into());
    out
}

/// The object files Go's external linker hands to the C compiler: `go.o` in
/// Go's `go-link-*` temporary directory, and nothing the user owns.
pub fn go_link_objects(args: &[OsString]) -> Vec<PathBuf> {
    args.iter()
        .map(Path::new)
        .filter(|p| {
            p.file_name() == Some(OsStr::new("go.o"))
                && p.parent()
                    .and_then(Path::file_name)
                    .and_then(OsStr::to_str)
                    .is_some_and(|d| d.starts_with("go-link-"))
        })
        .map(Path::to_path_buf)
        .collect()
}

/// Prepare a link for mips: Go writes its DWARF as `SHT_PROGBITS`, while zig's
/// libc, compiler-rt and cgo objects carry `SHT_MIPS_DWARF` as every MIPS
/// toolchain does; lld refuses to merge the two ("section type mismatch for
/// .debug_line"). Retyping Go's sections keeps all debug info, where linking
/// with `-w` would drop it.
pub fn prepare_link(target: &ZigCcTarget, args: &[OsString]) -> Result<(), ToolchainError> {
    if !(target.is_mips32() || target.is_mips64()) || !is_link(args) {
        return Ok(());
    }
    for object in go_link_objects(args) {
        let io = |source| ToolchainError::Io {
            what: format!("retyping DWARF sections of {}", object.display()),
            source,
        };
        let mut data = std::fs::read(&object).map_err(io)?;
        slipway_elf::retype_debug_sections_for_mips(&mut data).map_err(|e| {
            ToolchainError::Unexpected {
                tool: "go link".into(),
                detail: format!("{}: {e}", object.display()),
            }
        })?;
        std::fs::write(&object, &data).map_err(io)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(args: &[&str]) -> Vec<OsString> {
        args.iter().map(OsString::from).collect()
    }

    fn strs(args: &[OsString]) -> Vec<String> {
        args.iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    }

    fn target(triple: &str, mcpu: Option<&str>) -> ZigCcTarget {
        ZigCcTarget {
            triple: triple.into(),
            mcpu: mcpu.map(String::from),
            ..ZigCcTarget::default()
        }
    }

    #[test]
    fn target_comes_last_and_ubsan_is_off() {
        let out = strs(&rewrite_args(
            &target("aarch64-linux-gnu.2.28", None),
            &os(&["-c", "x.c", "-o", "x.o"]),
        ));
        assert_eq!(
            out,
            [
                "-c",
                "x.c",
                "-o",
                "x.o",
                "-fno-sanitize=undefined",
                "-D_GNU_SOURCE",
                "-target",
                "aarch64-linux-gnu.2.28"
            ]
        );
    }

    #[test]
    fn musl_gets_lfs64_names_on_compiles_and_the_stack_on_links() {
        let mut t = target("aarch64-linux-musl", None);
        t.stack_size = Some(8 << 20);
        let compile = strs(&rewrite_args(&t, &os(&["-c", "x.c"])));
        assert!(compile.contains(&"-D_LARGEFILE64_SOURCE".to_string()));
        assert!(!compile.iter().any(|a| a.contains("stack-size")));
        let link = strs(&rewrite_args(&t, &os(&["-o", "a.out", "x.o"])));
        assert!(link.contains(&"-Wl,-z,stack-size=8388608".to_string()));
        assert!(!link.contains(&"-D_LARGEFILE64_SOURCE".to_string()));
        t.stack_size = None;
        let link = strs(&rewrite_args(&t, &os(&["-o", "a.out", "x.o"])));
        assert!(!link.iter().any(|a| a.contains("stack-size")));
        let glibc = strs(&rewrite_args(
            &target("aarch64-linux-gnu.2.28", None),
            &os(&["-c", "x.c"]),
        ));
        assert!(!glibc.contains(&"-D_LARGEFILE64_SOURCE".to_string()));
    }

    #[test]
    fn settings_go_to_compiles_or_links_before_the_target() {
        let mut t = target("aarch64-linux-gnu.2.28", None);
        t.cflags = vec!["-idirafter".into(), "/sdk/usr/include".into()];
        t.ldflags = vec!["-L/sdk/usr/lib".into()];
        let compile = strs(&rewrite_args(&t, &os(&["-O2", "-c", "x.c"])));
        assert_eq!(
            &compile[compile.len() - 4..],
            [
                "-idirafter",
                "/sdk/usr/include",
                "-target",
                "aarch64-linux-gnu.2.28"
            ]
        );
        assert!(!compile.contains(&"-L/sdk/usr/lib".to_string()));
        let link = strs(&rewrite_args(&t, &os(&["-o", "a.out", "x.o"])));
        assert!(link.contains(&"-L/sdk/usr/lib".to_string()));
        assert!(!link.contains(&"/sdk/usr/include".to_string()));
    }

    #[test]
    fn the_wrapper_path_changes_with_what_changes_the_output() {
        let dir = tempfile::tempdir().unwrap();
        let cache = CacheDir {
            root: dir.path().to_path_buf(),
        };
        let zig = Zig {
            path: "/opt/zig/zig".into(),
            version: "0.15.1".into(),
            support: crate::ZigSupport {
                libc: vec![],
                glibc: vec![],
            },
        };
        let slipway = Path::new("/usr/bin/slipway");
        let plain = target("aarch64-linux-musl", None);
        let mut stack = plain.clone();
        stack.stack_size = Some(1 << 20);
        let mut flags = plain.clone();
        flags.cflags = vec!["-DX".into()];
        let mut pc = plain.clone();
        pc.identity_extra = vec!["pkg_config_path=/x".into()];
        let paths: Vec<PathBuf> = [&plain, &stack, &flags, &pc]
            .iter()
            .map(|t| write_wrapper(&cache, &zig, t, slipway).unwrap())
            .collect();
        let unique: std::collections::BTreeSet<_> = paths.iter().collect();
        assert_eq!(unique.len(), 4, "{paths:?}");
        // The same settings give the same path, and the script carries them.
        assert_eq!(
            write_wrapper(&cache, &zig, &flags, slipway).unwrap(),
            paths[2]
        );
        let script = std::fs::read_to_string(&paths[1]).unwrap();
        assert!(
            script.contains(" --stack-size '1048576' -- \"$@\""),
            "{script}"
        );
    }

    #[test]
    fn mcpu_before_target() {
        let out = strs(&rewrite_args(
            &target("arm-linux-musleabi", Some("arm926ej_s")),
            &os(&["-c", "x.c"]),
        ));
        assert_eq!(
            &out[out.len() - 3..],
            ["-mcpu=arm926ej_s", "-target", "arm-linux-musleabi"]
        );
    }

    #[test]
    fn glibc_compiles_get_gnu_source_links_do_not() {
        let t = target("aarch64-linux-gnu.2.28", None);
        assert!(
            strs(&rewrite_args(&t, &os(&["-c", "x.c"]))).contains(&"-D_GNU_SOURCE".to_string())
        );
        assert!(
            !strs(&rewrite_args(&t, &os(&["-o", "a.out", "x.o"])))
                .contains(&"-D_GNU_SOURCE".to_string())
        );
        let musl = target("aarch64-linux-musl", None);
        assert!(
            !strs(&rewrite_args(&musl, &os(&["-c", "x.c"]))).contains(&"-D_GNU_SOURCE".to_string())
        );
    }

    #[test]
    fn mips32_links_get_notext_only_when_linking() {
        let t = target("mipsel-linux-musleabi", None);
        assert!(
            strs(&rewrite_args(&t, &os(&["-o", "a.out", "go.o"])))
                .contains(&"-Wl,-z,notext".to_string())
        );
        assert!(
            !strs(&rewrite_args(&t, &os(&["-c", "x.c"]))).contains(&"-Wl,-z,notext".to_string())
        );
        let mips64 = target("mips64-linux-muslabi64", None);
        assert!(
            !strs(&rewrite_args(&mips64, &os(&["-o", "a.out"])))
                .contains(&"-Wl,-z,notext".to_string())
        );
    }

    #[test]
    fn mips_hard_float_flag_is_dropped_and_mips64_pic_warning_silenced() {
        let t = target("mips64-linux-muslabi64", None);
        let out = strs(&rewrite_args(
            &t,
            &os(&["-mabi=64", "-mhard-float", "-c", "x.c"]),
        ));
        assert!(!out.contains(&"-mhard-float".to_string()), "{out:?}");
        assert!(out.contains(&"-Wno-option-ignored".to_string()), "{out:?}");
        let soft = strs(&rewrite_args(
            &target("mipsel-linux-musleabi", None),
            &os(&["-msoft-float", "-c", "x.c"]),
        ));
        assert!(
            soft.contains(&"-msoft-float".to_string())
                && !soft.contains(&"-Wno-option-ignored".to_string())
        );
        let arm = strs(&rewrite_args(
            &target("arm-linux-musleabihf", None),
            &os(&["-mhard-float", "-c", "x.c"]),
        ));
        assert!(arm.contains(&"-mhard-float".to_string()));
    }

    #[test]
    fn undefined_symbols_and_colon_libraries_are_rewritten() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("libfoo.a"), b"!<arch>\n").unwrap();
        let lflag = format!("-L{}", dir.path().display());
        let t = target("x86_64-linux-musl", None);
        let out = strs(&rewrite_args(
            &t,
            &os(&[
                "-o",
                "a.out",
                &lflag,
                "-u",
                "my_sym",
                "-l:libfoo.a",
                "-l:libmissing.a",
            ]),
        ));
        assert!(out.contains(&"-Wl,-u,my_sym".to_string()), "{out:?}");
        assert!(
            out.contains(&dir.path().join("libfoo.a").display().to_string()),
            "{out:?}"
        );
        assert!(out.contains(&"-l:libmissing.a".to_string()), "{out:?}");
        assert!(!out.contains(&"-u".to_string()));
        // A trailing `-u` with no symbol is passed on for zig to report.
        assert!(strs(&rewrite_args(&t, &os(&["-u"]))).contains(&"-u".to_string()));
    }

    #[test]
    fn only_gos_own_link_object_is_touched() {
        let args = os(&[
            "/tmp/go-link-123/go.o",
            "/tmp/go-link-123/000001.o",
            "/home/me/go.o",
            "go.o",
        ]);
        assert_eq!(
            go_link_objects(&args),
            [PathBuf::from("/tmp/go-link-123/go.o")]
        );
    }
}
