//! Helpers for slipway's integration tests. Tests use real tools; a missing
//! tool is a failure that says how to install it, never a silent skip.

pub mod cache_servers;
pub mod registry;
pub mod supply_chain;
pub mod vendor_sdk;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use slipway_platform::Arch;

/// The repository's root directory.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repo root")
}

/// A bundled example module, e.g. `example("hello")`.
pub fn example(name: &str) -> PathBuf {
    repo_root().join("examples").join(name)
}

/// Find a tool on PATH or fail the test with the package that provides it.
pub fn require(tool: &str, debian_package: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join(tool))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!("{tool} is required by this test and not installed: run scripts/setup.sh (Debian package {debian_package})")
        })
}

/// Run a binary for `arch` under qemu-user. amd64 and 386 run natively on the
/// x86-64 test machines (Debian 12's qemu-i386 crashes Go's 386 runtime with
/// "morestack on gsignal", a qemu signal-handling bug). `sysroot` is the `-L`
/// prefix for dynamically linked binaries (e.g. /usr/aarch64-linux-gnu).
pub fn run_on(arch: Arch, binary: &Path, args: &[&str], sysroot: Option<&Path>) -> Output {
    let mut cmd = if matches!(arch, Arch::Amd64 | Arch::I386) {
        Command::new(binary)
    } else {
        let qemu = require(&format!("qemu-{}", arch.qemu_name()), "qemu-user");
        let mut c = Command::new(qemu);
        if let Some(root) = sysroot {
            c.arg("-L").arg(root);
        }
        c.arg(binary);
        c
    };
    cmd.args(args)
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", binary.display()))
}

/// Copy a directory tree (files and directories only), for building the same
/// source from another place.
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let dest = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &dest);
        } else {
            std::fs::copy(entry.path(), &dest).unwrap();
        }
    }
}

/// stdout as text, failing the test with stderr if the command failed.
pub fn stdout_ok(out: &Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what} failed ({}):\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A minimal 64-bit little-endian ELF with one PT_NOTE holding a Go build ID,
/// for tests of code that looks for it.
pub fn elf_with_go_note(id: &str) -> Vec<u8> {
    let mut f = vec![0u8; 0x40 + 0x38];
    f[..4].copy_from_slice(b"\x7fELF");
    f[4] = 2;
    f[5] = 1;
    f[0x20..0x28].copy_from_slice(&0x40u64.to_le_bytes()); // e_phoff
    f[0x36..0x38].copy_from_slice(&0x38u16.to_le_bytes()); // e_phentsize
    f[0x38..0x3a].copy_from_slice(&1u16.to_le_bytes()); // e_phnum
    let note_at = f.len() as u64;
    let mut note = Vec::new();
    note.extend(4u32.to_le_bytes());
    note.extend((id.len() as u32).to_le_bytes());
    note.extend(4u32.to_le_bytes());
    note.extend(b"Go\0\0");
    note.extend(id.as_bytes());
    while note.len() % 4 != 0 {
        note.push(0);
    }
    f[0x40..0x44].copy_from_slice(&4u32.to_le_bytes()); // PT_NOTE
    f[0x48..0x50].copy_from_slice(&note_at.to_le_bytes());
    f[0x60..0x68].copy_from_slice(&(note.len() as u64).to_le_bytes());
    f.extend(note);
    f
}
