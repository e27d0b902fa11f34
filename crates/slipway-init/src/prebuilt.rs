//! The init as shipped: one static binary per architecture and ABI, built
//! from `init/slipway-init.c` with a pinned zig and embedded in slipway, so a
//! pure-Go image needs no C compiler on the user's machine.
//!
//! The binaries live in `init/prebuilt/`, one per [`Prebuilt`] entry, next to
//! a manifest that records each one's SHA-256 and the key of the inputs it
//! was built from ([`crate::input_key`]: source, flags, zig target, zig
//! version). Two tests keep them honest: a fast one recomputes the keys from
//! the current source and flags (an edit to the C file without a rebuild
//! fails it), and a slow one rebuilds every binary with zig and compares the
//! bytes. `cargo run -p slipway-init --example build-init -- --update`
//! rebuilds them.

use slipway_platform::{Arch, Float, Platform};

use crate::InitError;

/// The zig the shipped binaries were built with. Rebuilding with another
/// version gives other bytes; `scripts/setup.sh` installs this one.
pub const ZIG_VERSION: &str = "0.17.1";

/// The manifest beside the binaries: `<file> <sha256> <input key>` per line.
pub const MANIFEST: &str = include_str!("../../../init/prebuilt/manifest.txt");

/// One shipped init: the platform it was built for and its bytes.
#[derive(Debug, Clone, Copy)]
pub struct Prebuilt {
    /// The platform it was compiled for, e.g. `linux/arm/v5`.
    pub platform: &'static str,
    /// Its file name in `init/prebuilt/` (the platform's directory name).
    pub file: &'static str,
    pub bytes: &'static [u8],
}

macro_rules! prebuilt {
    ($platform:literal, $file:literal) => {
        Prebuilt {
            platform: $platform,
            file: $file,
            bytes: include_bytes!(concat!("../../../init/prebuilt/", $file)),
        }
    };
}

/// Every shipped init. Each is built for the oldest CPU of its architecture
/// and ABI, so one binary serves every variant: the init is a small, idle
/// program, where newer instructions would buy nothing.
pub const PREBUILT: &[Prebuilt] = &[
    prebuilt!("linux/amd64", "linux_amd64"),
    prebuilt!("linux/arm64", "linux_arm64"),
    prebuilt!("linux/arm/v5", "linux_arm_v5"),
    prebuilt!("linux/386/softfloat", "linux_386_softfloat"),
    prebuilt!("linux/riscv64", "linux_riscv64"),
    prebuilt!("linux/mips/softfloat", "linux_mips_softfloat"),
    prebuilt!("linux/mipsle/softfloat", "linux_mipsle_softfloat"),
    prebuilt!("linux/mips64", "linux_mips64"),
    prebuilt!("linux/mips64le", "linux_mips64le"),
    prebuilt!("linux/ppc64", "linux_ppc64"),
    prebuilt!("linux/ppc64le", "linux_ppc64le"),
    prebuilt!("linux/s390x", "linux_s390x"),
    prebuilt!("linux/loong64", "linux_loong64"),
];

/// The platform whose init runs on `platform`: its architecture's oldest
/// CPU, soft-float where the ABI allows it (a static soft-float binary runs
/// on hard-float hardware; the reverse needs an FPU). ARMv5 code runs on
/// every ARM core Go supports, x86 `i686` code on every 386 one.
pub fn flavour(platform: &Platform) -> Result<&'static Prebuilt, InitError> {
    let wanted = match platform.arch {
        Arch::Amd64 => "linux/amd64",
        Arch::Arm64 => "linux/arm64",
        Arch::Arm => "linux/arm/v5",
        Arch::I386 => "linux/386/softfloat",
        Arch::Riscv64 => "linux/riscv64",
        Arch::Mips => "linux/mips/softfloat",
        Arch::Mipsle => "linux/mipsle/softfloat",
        Arch::Mips64 | Arch::Mips64le if platform.variant.float() == Float::Soft => {
            return Err(InitError::Unsupported {
                platform: platform.to_string(),
                why: "zig ships no soft-float mips64 musl to build it with; use the hardfloat \
                      variant, or set init = false in [image] of slipway.toml"
                    .into(),
            });
        }
        Arch::Mips64 => "linux/mips64",
        Arch::Mips64le => "linux/mips64le",
        Arch::Ppc64 => "linux/ppc64",
        Arch::Ppc64le => "linux/ppc64le",
        Arch::S390x => "linux/s390x",
        Arch::Loong64 => "linux/loong64",
    };
    PREBUILT
        .iter()
        .find(|p| p.platform == wanted)
        .ok_or_else(|| InitError::Unsupported {
            platform: platform.to_string(),
            why: format!("this slipway ships no init built for {wanted}"),
        })
}

/// One manifest line: file name, SHA-256 of the bytes, input key.
pub fn manifest_entry(file: &str) -> Option<(&'static str, &'static str)> {
    MANIFEST
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let mut parts = l.split_whitespace();
            Some((parts.next()?, parts.next()?, parts.next()?))
        })
        .find(|(f, _, _)| *f == file)
        .map(|(_, sha, key)| (sha, key))
}
