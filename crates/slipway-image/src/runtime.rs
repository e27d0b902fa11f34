//! `runtime = "glibc"`: give a dynamically linked binary what it needs to
//! start, copied from a sysroot: the interpreter (plus a link at its ABI
//! path), and every library it needs, transitively, under `/lib/<triplet>`.
//! The closure check then proves the result, like any other image.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use slipway_oci::LayerTar;

use crate::ImageError;

/// Debian's architecture name for a multiarch triplet: the `libc6-<arch>-cross`
/// package that provides `/usr/<triplet>`.
pub fn debian_arch(triplet: &str) -> &'static str {
    match triplet {
        "x86_64-linux-gnu" => "amd64",
        "aarch64-linux-gnu" => "arm64",
        "arm-linux-gnueabihf" => "armhf",
        "arm-linux-gnueabi" => "armel",
        "riscv64-linux-gnu" => "riscv64",
        "mips-linux-gnu" => "mips",
        "mipsel-linux-gnu" => "mipsel",
        "mips64el-linux-gnuabi64" => "mips64el",
        "powerpc64le-linux-gnu" => "ppc64el",
        "s390x-linux-gnu" => "s390x",
        "i386-linux-gnu" => "i386",
        _ => "ARCH",
    }
}

/// Where Debian's cross glibc for `triplet` lives.
pub fn default_sysroot(triplet: &str) -> PathBuf {
    PathBuf::from(format!("/usr/{triplet}"))
}

/// Directories of a sysroot that hold shared libraries, Debian cross
/// layout (`lib/`) and a target root file system's layout alike.
fn library_dirs(sysroot: &Path, triplet: &str) -> Vec<PathBuf> {
    [
        "lib".to_string(),
        format!("lib/{triplet}"),
        format!("usr/lib/{triplet}"),
        "usr/lib".into(),
        "lib64".into(),
        "usr/lib64".into(),
    ]
    .iter()
    .map(|d| sysroot.join(d))
    .filter(|d| d.is_dir())
    .collect()
}

fn find(dirs: &[PathBuf], name: &str) -> Option<PathBuf> {
    dirs.iter().map(|d| d.join(name)).find(|p| p.is_file())
}

fn read(path: &Path) -> Result<Vec<u8>, ImageError> {
    std::fs::read(path).map_err(|e| ImageError::Io {
        what: format!("reading {}", path.display()),
        source: e,
    })
}

/// The link text that leads from the file `from` to `to` (both absolute).
fn relative(from: &str, to: &str) -> String {
    let from: Vec<&str> = from.split('/').filter(|p| !p.is_empty()).collect();
    let to: Vec<&str> = to.split('/').filter(|p| !p.is_empty()).collect();
    let from_dir = &from[..from.len().saturating_sub(1)];
    let common = from_dir.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<&str> = vec![".."; from_dir.len() - common];
    parts.extend(&to[common..]);
    parts.join("/")
}

/// The modules `hosts: files dns` loads.
const NSS_MODULES: [&str; 2] = ["libnss_files.so.2", "libnss_dns.so.2"];

/// The layer with the glibc runtime for `binaries` (their file contents),
/// with the NSS modules of slipway's nsswitch.conf. Libraries the sysroot
/// does not have are left out: they may come from a base image or
/// `[image] files`, and the closure check names any still missing.
pub fn glibc_layer(
    binaries: &[&[u8]],
    sysroot: &Path,
    triplet: &str,
) -> Result<LayerTar, ImageError> {
    let mut todo: Vec<String> = Vec::new();
    let mut interpreters: BTreeSet<String> = BTreeSet::new();
    for data in binaries {
        let needs = slipway_elf::runtime_needs(data)
            .map_err(|e| ImageError::Input(format!("reading a binary for its runtime: {e}")))?;
        if let Some(i) = needs.interpreter {
            interpreters.insert(i);
        }
        todo.extend(needs.needed);
    }
    let mut layer = LayerTar::new();
    if interpreters.is_empty() && todo.is_empty() {
        return Ok(layer); // static binaries need nothing, and no sysroot
    }
    let dirs = library_dirs(sysroot, triplet);
    if dirs.is_empty() || find(&dirs, "libc.so.6").is_none() {
        return Err(ImageError::Input(format!(
            "runtime = \"glibc\": {} holds no libc.so.6 for {triplet}. Install Debian's \
             libc6-{}-cross (apt-get install libc6-{}-cross), or point `sysroot` in [image] \
             (or --sysroot) at a root file system of the target",
            sysroot.display(),
            debian_arch(triplet),
            debian_arch(triplet)
        )));
    }
    let lib_dir = format!("/lib/{triplet}");
    let mut added: BTreeSet<String> = BTreeSet::new();
    for interp in &interpreters {
        let name = interp.rsplit('/').next().unwrap_or(interp).to_string();
        let Some(path) = find(&dirs, &name) else {
            return Err(ImageError::Input(format!(
                "runtime = \"glibc\": the interpreter {name} is not in {}; is it the sysroot \
                 for {triplet}?",
                sysroot.display()
            )));
        };
        let real = format!("{lib_dir}/{name}");
        if added.insert(name.clone()) {
            layer.file(&real, 0o755, read(&path)?)?;
            todo.extend(
                slipway_elf::runtime_needs(&read(&path)?)
                    .map(|n| n.needed)
                    .unwrap_or_default(),
            );
        }
        if *interp != real {
            // Relative, so it resolves the same in a container and in an unpacked tree.
            layer.symlink(interp, &relative(interp, &real))?;
        }
    }
    // The cgo resolver loads the NSS modules of the image's nsswitch.conf
    // (`hosts: files dns`) with dlopen, so no DT_NEEDED names them. glibc
    // 2.34 and later have both built in and ship only stubs; an older
    // sysroot (a vendor's 2.28) needs the real modules, or name lookups
    // fail at run time with no error at start.
    if todo.iter().any(|n| n == "libc.so.6") {
        for module in NSS_MODULES {
            if find(&dirs, module).is_some() {
                todo.push(module.to_string());
            }
        }
    }
    while let Some(name) = todo.pop() {
        if name.contains('/') || added.contains(&name) {
            continue;
        }
        let Some(path) = find(&dirs, &name) else {
            continue;
        };
        let data = read(&path)?;
        let needs = slipway_elf::runtime_needs(&data).map_err(|e| {
            ImageError::Input(format!("{} is not a usable library: {e}", path.display()))
        })?;
        added.insert(name.clone());
        todo.extend(needs.needed);
        layer.file(&format!("{lib_dir}/{name}"), 0o755, data)?;
    }
    Ok(layer)
}

#[cfg(test)]
mod tests {
    #[test]
    fn interpreter_links_are_relative() {
        use super::relative;
        assert_eq!(
            relative(
                "/lib/ld-linux-aarch64.so.1",
                "/lib/aarch64-linux-gnu/ld-linux-aarch64.so.1"
            ),
            "aarch64-linux-gnu/ld-linux-aarch64.so.1"
        );
        assert_eq!(
            relative(
                "/lib64/ld-linux-x86-64.so.2",
                "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"
            ),
            "../lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"
        );
    }
}
