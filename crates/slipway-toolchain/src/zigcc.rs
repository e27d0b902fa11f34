//! `zig cc` as Go's `CC`: one wrapper script per (zig version, target, cpu), and
//! the argument rewriting it applies on every call.
//!
//! The wrapper's path contains the zig version and the full target because Go's
//! build cache keys cgo work on the `CC` path, not on flags hidden inside it.
//! The script execs `slipway zig-cc`, which rewrites the arguments in one place
//! (tested below) and execs zig.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

use slipway_platform::Target;

use crate::ToolchainError;
use crate::cache::CacheDir;
use crate::zig::Zig;
use slipway_fs::write_atomic;

/// What `slipway zig-cc` needs to know, all carried on the wrapper's command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZigCcTarget {
    /// zig's `-target`, e.g. `mipsel-linux-musleabi` or `aarch64-linux-gnu.2.28`.
    pub triple: String,
    pub mcpu: Option<String>,
}

impl ZigCcTarget {
    pub fn for_target(target: &Target) -> Option<ZigCcTarget> {
        Some(ZigCcTarget {
            triple: target.zig_triple()?,
            mcpu: target.zig_mcpu().map(str::to_string),
        })
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
    script.push_str(&format!(
        "ZIG_GLOBAL_CACHE_DIR={}; export ZIG_GLOBAL_CACHE_DIR\n",
        sh_quote(zig_cache.as_os_str())
    ));
    script.push_str(&format!(
        "ZIG_LOCAL_CACHE_DIR={}; export ZIG_LOCAL_CACHE_DIR\n",
        sh_quote(zig_cache.as_os_str())
    ));
    script.push_str(&format!(
        "exec {} zig-cc --zig {} --target {}",
        sh_quote(slipway.as_os_str()),
        sh_quote(zig.path.as_os_str()),
        sh_quote(OsStr::new(&target.triple))
    ));
    if let Some(mcpu) = &target.mcpu {
        script.push_str(&format!(" --mcpu {}", sh_quote(OsStr::new(mcpu))));
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
        }
    }

    #[test]
    fn target_comes_last_and_ubsan_is_off() {
        let out = strs(&rewrite_args(
            &target("aarch64-linux-musl", None),
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
                "-target",
                "aarch64-linux-musl"
            ]
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
