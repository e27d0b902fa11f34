//! Turning bytes into the input model: Go build info from `slipway-elf`, and
//! the C parts of a cgo binary from what the caller knows about the build
//! and, failing that, from what the ELF file shows.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::SbomError;
use crate::model::{CPart, GoBinary, InitProgram, Linkage};

/// What the caller knows about how the C parts were compiled. Known facts win
/// over detection; detection from the ELF is the fallback.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CToolchain {
    /// The zig that compiled and linked the C parts.
    pub zig: Option<ZigInfo>,
    /// The GCC version, when a GNU cross compiler linked it.
    pub gcc_version: Option<String>,
    /// The glibc the binary was linked against (`--libc glibc:2.28`), which
    /// is a stronger statement than the newest symbol version it happens to use.
    pub glibc_floor: Option<String>,
}

/// A zig installation's facts that end up in an SBOM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZigInfo {
    /// `zig version`, e.g. `0.17.1`.
    pub version: String,
    /// The musl zig bundles (from `lib/libc/musl/src/internal/version.h`).
    pub musl_version: Option<String>,
    /// The clang version `zig cc` reports; binaries zig links say it in
    /// `.comment`, which lets detection check the binary came from this zig.
    pub clang_version: Option<String>,
}

impl ZigInfo {
    /// Ask a zig executable: `zig env` for its version and library directory,
    /// the bundled musl's `version.h`, and `zig cc --version`.
    pub fn probe(zig: &Path) -> Result<ZigInfo, SbomError> {
        let run = |args: &[&str]| -> Result<String, SbomError> {
            let out = Command::new(zig)
                .args(args)
                .output()
                .map_err(|e| SbomError::Zig(format!("cannot run {}: {e}", zig.display())))?;
            if !out.status.success() {
                return Err(SbomError::Zig(format!(
                    "`{} {}` failed: {}",
                    zig.display(),
                    args.join(" "),
                    String::from_utf8_lossy(&out.stderr).trim()
                )));
            }
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        };
        let env = run(&["env"])?;
        let version = env_field(&env, "version")
            .ok_or_else(|| SbomError::Zig(format!("`{} env` names no version", zig.display())))?;
        let musl_version =
            env_field(&env, "lib_dir").and_then(|dir| musl_version_in_lib_dir(Path::new(&dir)));
        let clang_version = run(&["cc", "--version"])
            .ok()
            .and_then(|t| clang_version(&t));
        Ok(ZigInfo {
            version,
            musl_version,
            clang_version,
        })
    }
}

/// A string field of `zig env`, which prints ZON (`.lib_dir = "…",`) since
/// zig 0.14 and JSON (`"lib_dir": "…",`) before.
fn env_field(text: &str, name: &str) -> Option<String> {
    for line in text.lines() {
        let line = line.trim();
        let Some(rest) = line
            .strip_prefix(&format!(".{name} = "))
            .or_else(|| line.strip_prefix(&format!("\"{name}\": ")))
        else {
            continue;
        };
        let rest = rest.trim_end_matches(',');
        return serde_json::from_str::<String>(rest).ok();
    }
    None
}

/// The musl version zig bundles, from `libc/musl/src/internal/version.h`
/// (`#define VERSION "1.2.5"`), which zig ships with the musl sources.
pub fn musl_version_in_lib_dir(lib_dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(lib_dir.join("libc/musl/src/internal/version.h")).ok()?;
    let rest = text.split("#define VERSION").nth(1)?;
    let v = rest.trim().strip_prefix('"')?.split('"').next()?;
    is_version(v).then(|| v.to_string())
}

fn is_version(v: &str) -> bool {
    !v.is_empty()
        && v.len() < 32
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
}

/// `clang version 22.1.8` anywhere in the text (the `.comment` form and the
/// `--version` form are the same line).
fn clang_version(text: &str) -> Option<String> {
    text.split(['\0', '\n'])
        .find_map(|l| l.split("clang version ").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .filter(|v| is_version(v))
        .map(str::to_string)
}

/// `GCC: (Debian 12.2.0-14) 12.2.0` → `12.2.0`.
fn gcc_version(text: &str) -> Option<String> {
    text.split(['\0', '\n'])
        .filter(|l| l.starts_with("GCC: "))
        .find_map(|l| l.split_whitespace().last())
        .filter(|v| is_version(v))
        .map(str::to_string)
}

/// The `.comment` section's text (compiler and linker identification), if any.
fn comment(elf: &[u8]) -> Option<String> {
    let data = slipway_elf::section_contents(elf, ".comment").ok()??;
    Some(String::from_utf8_lossy(data).into_owned())
}

/// Lower-case hex SHA-256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    slipway_oci::Digest::of(bytes).hex().to_string()
}

/// Read a Go binary held in memory. `path` is how the document names it.
pub fn from_binary(bytes: &[u8], path: &str, known: &CToolchain) -> Result<GoBinary, SbomError> {
    from_binary_with_debug(bytes, None, path, known)
}

/// [`from_binary`], with the split-off debug file when there is one: a
/// stripped binary has lost its `.comment`, the debug file keeps it.
pub fn from_binary_with_debug(
    bytes: &[u8],
    debug: Option<&[u8]>,
    path: &str,
    known: &CToolchain,
) -> Result<GoBinary, SbomError> {
    let inspection = slipway_elf::inspect(bytes).map_err(|source| SbomError::Elf {
        path: path.to_string(),
        source,
    })?;
    let build_info = inspection.go.clone().ok_or_else(|| SbomError::NotGo {
        path: path.to_string(),
    })?;
    let mut binary = GoBinary {
        path: path.to_string(),
        sha256: sha256_hex(bytes),
        build_info,
        c_parts: Vec::new(),
        notes: Vec::new(),
    };
    if binary.is_cgo() {
        let (parts, notes) = c_parts(bytes, &inspection, debug, known);
        binary.c_parts = parts;
        binary.notes = notes;
    }
    Ok(binary)
}

/// slipway's init from its bytes: a static C program zig linked against musl.
pub fn init_from_binary(
    bytes: &[u8],
    path: &str,
    version: &str,
    known: &CToolchain,
) -> Result<InitProgram, SbomError> {
    let inspection = slipway_elf::inspect(bytes).map_err(|source| SbomError::Elf {
        path: path.to_string(),
        source,
    })?;
    let (c_parts, _) = c_parts(bytes, &inspection, None, known);
    Ok(InitProgram {
        path: path.to_string(),
        sha256: sha256_hex(bytes),
        version: version.to_string(),
        c_parts,
    })
}

/// The C library and compiler runtime of a binary with C code in it, and
/// notes on what could not be identified.
fn c_parts(
    elf: &[u8],
    info: &slipway_elf::Inspection,
    debug: Option<&[u8]>,
    known: &CToolchain,
) -> (Vec<CPart>, Vec<String>) {
    let mut notes = Vec::new();
    let comment = comment(elf)
        .or_else(|| debug.and_then(comment))
        .unwrap_or_default();
    let gcc = known.gcc_version.clone().or_else(|| gcc_version(&comment));
    let gcc_seen = known.gcc_version.is_some() || comment.contains("GCC: ");
    let clang = clang_version(&comment);
    // A zig whose clang differs from the one named in the binary did not link
    // it, and neither did any zig when only GCC is named.
    let zig = known
        .zig
        .as_ref()
        .filter(|z| match (&clang, &z.clang_version) {
            (Some(bin), Some(zig)) => bin == zig,
            (None, _) => !gcc_seen,
            _ => true,
        });
    if let (Some(bin), Some(z)) = (&clang, &known.zig)
        && zig.is_none()
    {
        notes.push(format!(
            "the binary names clang {bin} but zig {} uses clang {}: C part versions from that zig are not attributed",
            z.version,
            z.clang_version.as_deref().unwrap_or("?")
        ));
    }
    let zig_version = zig.map(|z| z.version.clone());
    let by_zig = zig.map(|z| format!("zig {}", z.version));

    let needs = |prefix: &str| info.needed.iter().any(|n| n.starts_with(prefix));
    let interp_musl = info
        .interpreter
        .as_deref()
        .is_some_and(|i| i.contains("ld-musl"));
    let mut parts = Vec::new();

    // The C library.
    if interp_musl || needs("libc.musl") {
        parts.push(CPart::musl(
            None,
            Linkage::Dynamic,
            "dynamically linked against musl (program interpreter / DT_NEEDED); the target system provides it",
        ));
    } else if needs("libc.so.6") {
        let (version, evidence) = match (&known.glibc_floor, &info.glibc_max) {
            (Some(floor), Some(max)) => (
                Some(floor.clone()),
                format!(
                    "linked against glibc {floor} (passed in by the build); its symbol versions need glibc {max} or newer; the target system provides it"
                ),
            ),
            (Some(floor), None) => (
                Some(floor.clone()),
                format!(
                    "linked against glibc {floor} (passed in by the build); the target system provides it"
                ),
            ),
            (None, Some(max)) => (
                Some(max.clone()),
                format!(
                    "floor detected from the dynamic symbol versions: needs GLIBC_{max} or newer; the target system provides it"
                ),
            ),
            (None, None) => (
                None,
                "needs libc.so.6 with no versioned symbols; the target system provides it"
                    .to_string(),
            ),
        };
        parts.push(CPart::glibc(version, Linkage::Dynamic, evidence));
    } else if info.is_static {
        if memmem(elf, b"GLIBC_TUNABLES") {
            parts.push(CPart::glibc(
                None,
                Linkage::Static,
                "static binary carrying glibc's GLIBC_TUNABLES; a static glibc records no version",
            ));
            notes
                .push("statically linked glibc: its version cannot be read from the binary".into());
        } else {
            let (version, evidence) = match (zig.and_then(|z| z.musl_version.clone()), &by_zig) {
                (Some(v), Some(z)) => (
                    Some(v),
                    format!("static cgo binary linked against musl; version from the musl bundled with {z}"),
                ),
                _ => (
                    None,
                    "static cgo binary: glibc does not link statically with zig, so musl; its version is not recorded in the binary".to_string(),
                ),
            };
            if version.is_none() {
                notes.push(
                    "musl version unknown: pass the zig that built the binary (--zig) to record it"
                        .into(),
                );
            }
            parts.push(CPart::musl(version, Linkage::Static, evidence));
        }
    } else {
        notes.push(format!(
            "cgo binary with no C library recognised among its needed libraries ({})",
            info.needed.join(", ")
        ));
    }

    // The compiler runtime.
    if gcc_seen || needs("libgcc_s") {
        let linkage = if needs("libgcc_s") {
            Linkage::Dynamic
        } else {
            Linkage::Static
        };
        let evidence = match (&known.gcc_version, gcc_seen) {
            (Some(v), _) => format!("linked by GCC {v} (passed in by the build)"),
            (None, true) => "linked by GCC (.comment names it)".to_string(),
            (None, false) => "needs libgcc_s.so.1".to_string(),
        };
        parts.push(CPart::libgcc(gcc, linkage, evidence));
    } else if zig.is_some() || clang.is_some() || info.is_static {
        let evidence = match (&by_zig, &clang) {
            (Some(z), Some(c)) => format!(
                "linked by {z}, which links its compiler_rt into every executable (.comment names its clang {c})"
            ),
            (Some(z), None) => {
                format!("linked by {z}, which links its compiler_rt into every executable")
            }
            (None, Some(c)) => format!(
                "linked by LLVM's lld with clang {c}, as zig links (.comment); zig's compiler_rt"
            ),
            (None, None) => "static cgo binary, linked by zig (the only static cgo linker slipway uses); zig's compiler_rt".to_string(),
        };
        if zig_version.is_none() {
            notes.push("zig version unknown: compiler_rt recorded without a version".into());
        }
        parts.push(CPart::zig_compiler_rt(zig_version, evidence));
    } else {
        notes.push(
            "C compiler runtime not identified: the binary is stripped of .comment and no toolchain was passed in"
                .into(),
        );
    }
    // The allocator slipway linked in, from the note it carries.
    match slipway_alloc::detect(elf) {
        Ok(Some(note)) if note.name == "mimalloc" => parts.push(CPart::mimalloc(
            note.version,
            format!(
                "linked in by slipway (--allocator mimalloc) in place of the C library's malloc; named by the binary's {} note",
                slipway_alloc::NOTE_SECTION
            ),
        )),
        Ok(Some(note)) => notes.push(format!(
            "the binary names allocator {} {}, which this slipway does not know",
            note.name, note.version
        )),
        Ok(None) => {}
        Err(e) => notes.push(format!("allocator note unreadable: {e}")),
    }
    parts.sort();
    (parts, notes)
}

fn memmem(hay: &[u8], needle: &[u8]) -> bool {
    memchr::memmem::find(hay, needle).is_some()
}

/// Every Go binary under `dir` (a `slipway build` output or any tree), with
/// paths relative to it. Files that are not ELF or carry no Go build info are
/// passed over, and so are split debug files, which their binaries name in
/// `.gnu_debuglink`.
pub fn read_dir(dir: &Path, known: &CToolchain) -> Result<Vec<GoBinary>, SbomError> {
    let mut files = Vec::new();
    walk(dir, &mut files)?;
    files.sort();
    let mut candidates = Vec::new();
    let mut debug_files = std::collections::BTreeSet::new();
    for file in files {
        let bytes = std::fs::read(&file).map_err(|source| SbomError::Io {
            what: "reading",
            path: file.clone(),
            source,
        })?;
        if !bytes.starts_with(b"\x7fELF") {
            continue;
        }
        let Ok(info) = slipway_elf::inspect(&bytes) else {
            continue;
        };
        if let (Some(link), Some(parent)) = (&info.debuglink, file.parent()) {
            debug_files.insert(parent.join(&link.file));
        }
        if info.go.is_some() {
            candidates.push((file, bytes, info.debuglink.map(|d| d.file)));
        }
    }
    let mut out = Vec::new();
    for (file, bytes, link) in candidates {
        if debug_files.contains(&file) {
            continue;
        }
        let debug = match (link, file.parent()) {
            (Some(name), Some(parent)) => std::fs::read(parent.join(name)).ok(),
            _ => None,
        };
        let rel = file
            .strip_prefix(dir)
            .unwrap_or(&file)
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("/");
        out.push(from_binary_with_debug(
            &bytes,
            debug.as_deref(),
            &rel,
            known,
        )?);
    }
    if out.is_empty() {
        return Err(SbomError::NoGoBinaries {
            dir: dir.to_path_buf(),
        });
    }
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), SbomError> {
    let io = |source| SbomError::Io {
        what: "listing",
        path: dir.to_path_buf(),
        source,
    };
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let kind = entry.file_type().map_err(io)?;
        if kind.is_dir() {
            walk(&entry.path(), out)?;
        } else if kind.is_file() {
            out.push(entry.path());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zig_env_in_both_spellings() {
        let zon = ".{\n    .lib_dir = \"/z/lib\",\n    .version = \"0.17.1\",\n}";
        assert_eq!(env_field(zon, "lib_dir").as_deref(), Some("/z/lib"));
        assert_eq!(env_field(zon, "version").as_deref(), Some("0.17.1"));
        let json = "{\n \"lib_dir\": \"/z/lib\",\n \"version\": \"0.11.0\"\n}";
        assert_eq!(env_field(json, "version").as_deref(), Some("0.11.0"));
        assert_eq!(env_field(json, "missing"), None);
    }

    #[test]
    fn compiler_identification() {
        let c = "clang version 22.1.8\0Linker: LLD 22.1.8\0";
        assert_eq!(clang_version(c).as_deref(), Some("22.1.8"));
        assert_eq!(gcc_version(c), None);
        let g = "GCC: (Debian 12.2.0-14) 12.2.0\0";
        assert_eq!(gcc_version(g).as_deref(), Some("12.2.0"));
        assert_eq!(
            clang_version("Debian clang version 14.0.6\n").as_deref(),
            Some("14.0.6")
        );
    }
}
