//! The runtime closure check: can this binary start in this file system?
//!
//! It replays what glibc's loader does at exec time, inside the merged
//! layers: open `PT_INTERP` (following symlinks inside the image), resolve
//! every `DT_NEEDED` breadth-first through `DT_RPATH` (of the object and its
//! loaders, only when it has no `DT_RUNPATH`), `DT_RUNPATH`, the directories
//! of `/etc/ld.so.conf` (when the image has the `/etc/ld.so.cache` built from
//! them), then `/lib/<triplet>`, `/usr/lib/<triplet>`, `/lib`, `/usr/lib`, skipping
//! files of another architecture; `LD_LIBRARY_PATH` from the image's `Env`
//! comes after `DT_RPATH`. Then check that every symbol version an object
//! needs is defined by the library that provides it (weak references may be
//! missing). Not replayed: `$PLATFORM` (entries using it are dropped) and the
//! `glibc-hwcaps` subdirectories, which only ever hold faster copies of
//! libraries the plain directories must have anyway.

use std::collections::VecDeque;

use serde::Serialize;
use slipway_elf::RuntimeNeeds;

use crate::rootfs::RootFs;

/// One thing that stops a binary from starting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Problem {
    /// The file to check is not there or not ELF.
    Unreadable { path: String, reason: String },
    /// `PT_INTERP` names a file no layer provides.
    MissingInterpreter {
        binary: String,
        interpreter: String,
        /// The layers looked in, bottom first.
        layers: Vec<String>,
    },
    /// A `DT_NEEDED` library found in none of the places the loader looks.
    MissingLibrary {
        binary: String,
        library: String,
        needed_by: String,
        searched: Vec<String>,
        layers: Vec<String>,
    },
    /// A library lacks a symbol version an object needs from it.
    MissingVersion {
        binary: String,
        version: String,
        library: String,
        provider: String,
        layer: String,
        needed_by: String,
    },
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::Unreadable { path, reason } => write!(f, "{path}: {reason}"),
            Problem::MissingInterpreter {
                binary,
                interpreter,
                layers,
            } => write!(
                f,
                "{binary} cannot start: its interpreter {interpreter} is in none of the image's \
                 layers ({})",
                layers.join("; ")
            ),
            Problem::MissingLibrary {
                binary,
                library,
                needed_by,
                searched,
                layers,
            } => write!(
                f,
                "{binary} cannot start: {library} (needed by {needed_by}) is in none of {} \
                 in the image's layers ({})",
                searched.join(", "),
                layers.join("; ")
            ),
            Problem::MissingVersion {
                binary,
                version,
                library,
                provider,
                layer,
                needed_by,
            } => write!(
                f,
                "{binary} cannot start: {needed_by} needs version {version} of {library}, \
                 which {provider} (from layer `{layer}`) does not define"
            ),
        }
    }
}

/// A library the loader would map, and where it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mapped {
    /// The name it was needed by (or the interpreter path).
    pub name: String,
    /// Its real path in the image.
    pub path: String,
    pub layer: String,
}

/// What the check found for one binary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Closure {
    pub binary: String,
    /// No interpreter and no libraries: nothing to check.
    pub is_static: bool,
    pub interpreter: Option<String>,
    pub libraries: Vec<Mapped>,
    pub problems: Vec<Problem>,
}

impl Closure {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Debian's multiarch directory name for an OCI platform's glibc.
pub fn multiarch_triplet(architecture: &str, variant: Option<&str>) -> Option<&'static str> {
    Some(match (architecture, variant) {
        ("amd64", _) => "x86_64-linux-gnu",
        ("arm64", _) => "aarch64-linux-gnu",
        ("arm", Some("v5" | "v6")) => "arm-linux-gnueabi",
        ("arm", _) => "arm-linux-gnueabihf",
        ("riscv64", _) => "riscv64-linux-gnu",
        ("mips", _) => "mips-linux-gnu",
        ("mipsle", _) => "mipsel-linux-gnu",
        ("mips64", _) => "mips64-linux-gnuabi64",
        ("mips64le", _) => "mips64el-linux-gnuabi64",
        ("ppc64le", _) => "powerpc64le-linux-gnu",
        ("s390x", _) => "s390x-linux-gnu",
        ("386", _) => "i386-linux-gnu",
        ("loong64", _) => "loongarch64-linux-gnu",
        _ => return None,
    })
}

struct Object {
    name: String,
    path: String,
    needs: RuntimeNeeds,
    /// The object whose DT_NEEDED brought this one in.
    loader: Option<usize>,
}

fn dirname(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &path[..i],
    }
}

/// `$ORIGIN`, `$LIB` and `$PLATFORM` in an RPATH/RUNPATH entry; `None` drops it.
fn expand(entry: &str, origin: &str, triplet: &str) -> Option<String> {
    let mut out = entry
        .replace("${ORIGIN}", origin)
        .replace("$ORIGIN", origin)
        .replace("${LIB}", &format!("lib/{triplet}"))
        .replace("$LIB", &format!("lib/{triplet}"));
    if out.contains("$PLATFORM") || out.contains("${PLATFORM}") {
        return None; // depends on the CPU; slipway does not guess it
    }
    if !out.starts_with('/') {
        // Relative entries are relative to the working directory, `/` here.
        out = format!("/{out}");
    }
    Some(out)
}

/// Directories `/etc/ld.so.conf` lists, following `include` globs.
fn ld_so_conf(fs: &RootFs<'_>, path: &str, depth: usize, out: &mut Vec<String>) {
    let Some((_, data, _)) = fs.file(path) else {
        return;
    };
    if depth > 8 {
        return;
    }
    for line in String::from_utf8_lossy(data).lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() || line.starts_with("hwcap") {
            continue;
        }
        if let Some(pattern) = line.strip_prefix("include") {
            for pattern in pattern.split_whitespace() {
                let pattern = if pattern.starts_with('/') {
                    pattern.to_string()
                } else {
                    format!("{}/{pattern}", dirname(path))
                };
                let (dir, glob) = (dirname(&pattern), &pattern[dirname(&pattern).len()..]);
                let glob = glob.trim_start_matches('/');
                for name in fs.list_dir(dir) {
                    if glob_match(glob, &name) {
                        ld_so_conf(fs, &format!("{dir}/{name}"), depth + 1, out);
                    }
                }
            }
            continue;
        }
        for dir in line.split([':', ',', ' ', '\t']).filter(|d| !d.is_empty()) {
            if dir.starts_with('/') && !out.iter().any(|d| d == dir) {
                out.push(dir.to_string());
            }
        }
    }
}

/// `*` and `?` in one path component, as `include` lines use them.
fn glob_match(pattern: &str, name: &str) -> bool {
    fn go(p: &[u8], n: &[u8]) -> bool {
        match (p.first(), n.first()) {
            (None, None) => true,
            (Some(b'*'), _) => go(&p[1..], n) || (!n.is_empty() && go(p, &n[1..])),
            (Some(b'?'), Some(_)) => go(&p[1..], &n[1..]),
            (Some(a), Some(b)) if a == b => go(&p[1..], &n[1..]),
            _ => false,
        }
    }
    go(pattern.as_bytes(), name.as_bytes())
}

/// The loader's fixed search list for an image: ld.so.conf's directories
/// (only when the cache the loader actually reads exists), then the defaults.
fn system_dirs(fs: &RootFs<'_>, triplet: &str, musl: bool) -> (Vec<String>, Vec<String>) {
    if musl {
        // musl reads /etc/ld-musl-ARCH.path instead; without one, these.
        return (
            Vec::new(),
            vec!["/lib".into(), "/usr/local/lib".into(), "/usr/lib".into()],
        );
    }
    let mut conf = Vec::new();
    if fs.file("/etc/ld.so.cache").is_some() {
        ld_so_conf(fs, "/etc/ld.so.conf", 0, &mut conf);
    }
    let defaults = vec![
        format!("/lib/{triplet}"),
        format!("/usr/lib/{triplet}"),
        "/lib".into(),
        "/usr/lib".into(),
    ];
    (conf, defaults)
}

/// Check that `binary` (a path in `fs`) can start. `triplet` is the
/// platform's multiarch directory name (see [`multiarch_triplet`]).
pub fn check(fs: &RootFs<'_>, binary: &str, triplet: &str) -> Closure {
    check_with_library_path(fs, binary, triplet, &[])
}

/// The directories of an `LD_LIBRARY_PATH` value in an image's `Env`, as
/// the loader reads them: `:`/`;`-separated, an empty entry meaning the
/// working directory (`/` here). A binary with file capabilities runs in
/// secure-execution mode, where the loader ignores the variable: pass
/// nothing for it.
pub fn library_path(env: &[String]) -> Vec<String> {
    env.iter()
        .rev()
        .find_map(|e| e.strip_prefix("LD_LIBRARY_PATH="))
        .map(|v| {
            v.split([':', ';'])
                .map(|d| match d {
                    "" => "/".to_string(),
                    d if d.starts_with('/') => d.to_string(),
                    d => format!("/{d}"),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// [`check`], with the directories of the image's `LD_LIBRARY_PATH`
/// (see [`library_path`]), searched after `DT_RPATH` and before
/// `DT_RUNPATH` as glibc's loader does (first, for musl's).
pub fn check_with_library_path(
    fs: &RootFs<'_>,
    binary: &str,
    triplet: &str,
    library_path: &[String],
) -> Closure {
    let mut closure = Closure {
        binary: binary.to_string(),
        is_static: false,
        interpreter: None,
        libraries: Vec::new(),
        problems: Vec::new(),
    };
    let unreadable = |reason: String| Problem::Unreadable {
        path: binary.to_string(),
        reason,
    };
    let Some((real, data, _)) = fs.file(binary) else {
        closure
            .problems
            .push(unreadable("no such file in the image".into()));
        return closure;
    };
    let needs = match slipway_elf::runtime_needs(data) {
        Ok(n) => n,
        Err(e) => {
            closure.problems.push(unreadable(e.to_string()));
            return closure;
        }
    };
    if needs.is_static() {
        closure.is_static = true;
        return closure;
    }
    let mut objects = vec![Object {
        name: binary.to_string(),
        path: real,
        needs: needs.clone(),
        loader: None,
    }];
    let mut musl = false;
    if let Some(interp) = &needs.interpreter {
        closure.interpreter = Some(interp.clone());
        musl = interp.contains("ld-musl-");
        match fs.file(interp) {
            Some((path, data, layer)) => match slipway_elf::runtime_needs(data) {
                Ok(n) => {
                    closure.libraries.push(Mapped {
                        name: interp.clone(),
                        path: path.clone(),
                        layer: layer.to_string(),
                    });
                    objects.push(Object {
                        name: interp.clone(),
                        path,
                        needs: n,
                        loader: Some(0),
                    });
                }
                Err(e) => closure.problems.push(Problem::Unreadable {
                    path: interp.clone(),
                    reason: format!("the interpreter is not a loadable ELF file: {e}"),
                }),
            },
            None => {
                closure.problems.push(Problem::MissingInterpreter {
                    binary: binary.to_string(),
                    interpreter: interp.clone(),
                    layers: fs.layer_names().to_vec(),
                });
                return closure;
            }
        }
    }
    let (conf, defaults) = system_dirs(fs, triplet, musl);
    let compatible = |n: &RuntimeNeeds| {
        n.machine == needs.machine && n.is_64 == needs.is_64 && n.big_endian == needs.big_endian
    };
    let mut queue: VecDeque<usize> = VecDeque::from([0]);
    while let Some(i) = queue.pop_front() {
        let wanted = objects[i].needs.needed.clone();
        for name in wanted {
            let known = objects.iter().any(|o| {
                o.name == name
                    || o.needs.soname.as_deref() == Some(name.as_str())
                    || (musl && name.starts_with("libc.so") && o.path.contains("ld-musl-"))
            });
            if known {
                continue;
            }
            let mut searched = Vec::new();
            let candidates: Vec<String> = if name.contains('/') {
                vec![name.clone()]
            } else {
                let object = &objects[i];
                let mut dirs = Vec::new();
                if musl {
                    dirs.extend(library_path.iter().cloned());
                }
                if object.needs.runpath.is_empty() {
                    // DT_RPATH of this object, then up the chain of loaders.
                    let mut at = Some(i);
                    while let Some(j) = at {
                        let origin = dirname(&objects[j].path).to_string();
                        dirs.extend(
                            objects[j]
                                .needs
                                .rpath
                                .iter()
                                .filter_map(|e| expand(e, &origin, triplet)),
                        );
                        at = objects[j].loader;
                    }
                }
                if !musl {
                    dirs.extend(library_path.iter().cloned());
                }
                let origin = dirname(&object.path).to_string();
                dirs.extend(
                    object
                        .needs
                        .runpath
                        .iter()
                        .filter_map(|e| expand(e, &origin, triplet)),
                );
                dirs.extend(conf.iter().cloned());
                if !object.needs.nodeflib {
                    dirs.extend(defaults.iter().cloned());
                }
                let mut seen = std::collections::HashSet::new();
                dirs.retain(|d| seen.insert(d.clone()));
                searched = dirs.clone();
                dirs.iter()
                    .map(|d| format!("{}/{name}", d.trim_end_matches('/')))
                    .collect()
            };
            let found = candidates.iter().find_map(|c| {
                let (path, data, layer) = fs.file(c)?;
                let n = slipway_elf::runtime_needs(data).ok()?;
                compatible(&n).then_some((path, n, layer))
            });
            match found {
                Some((path, n, layer)) => {
                    closure.libraries.push(Mapped {
                        name: name.clone(),
                        path: path.clone(),
                        layer: layer.to_string(),
                    });
                    objects.push(Object {
                        name,
                        path,
                        needs: n,
                        loader: Some(i),
                    });
                    queue.push_back(objects.len() - 1);
                }
                None => closure.problems.push(Problem::MissingLibrary {
                    binary: binary.to_string(),
                    library: name.clone(),
                    needed_by: objects[i].path.clone(),
                    searched: if searched.is_empty() {
                        candidates
                    } else {
                        searched
                    },
                    layers: fs.layer_names().to_vec(),
                }),
            }
        }
    }
    // Symbol versions: each needed version must be defined by its provider.
    for object in &objects {
        for need in &object.needs.version_needs {
            let Some(provider) = objects.iter().find(|o| {
                o.needs.soname.as_deref() == Some(need.file.as_str()) || o.name == need.file
            }) else {
                continue; // missing library, reported above
            };
            // A weak reference may be missing: the object checks for its
            // symbols itself, and the loader only notes it. (A library with
            // no version definitions at all passes glibc's version check
            // with a warning, then fails the first versioned symbol lookup:
            // it is reported like any missing version.)
            for version in need.versions.iter().filter(|v| !need.weak.contains(v)) {
                if !provider.needs.version_defs.contains(version) {
                    let layer = closure
                        .libraries
                        .iter()
                        .find(|m| m.path == provider.path)
                        .map(|m| m.layer.clone())
                        .unwrap_or_default();
                    closure.problems.push(Problem::MissingVersion {
                        binary: binary.to_string(),
                        version: version.clone(),
                        library: need.file.clone(),
                        provider: provider.path.clone(),
                        layer,
                        needed_by: object.path.clone(),
                    });
                }
            }
        }
    }
    closure
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_expand_and_globs_match() {
        assert_eq!(
            expand("$ORIGIN/../lib", "/app", "aarch64-linux-gnu").unwrap(),
            "/app/../lib"
        );
        assert_eq!(
            expand("${LIB}", "/", "x86_64-linux-gnu").unwrap(),
            "/lib/x86_64-linux-gnu"
        );
        assert!(expand("/opt/$PLATFORM", "/", "t").is_none());
        assert!(glob_match("*.conf", "libc.conf"));
        assert!(!glob_match("*.conf", "libc.conf.bak"));
    }
}
