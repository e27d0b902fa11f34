//! Errors that say what is wrong, in which part of the input, and what would work.

use crate::{Arch, GlibcVersion, Libc};

/// A platform string or libc mode that cannot be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlatformError {
    #[error(
        "`{input}` is not a platform: write os/arch[/variant], for example linux/arm64 or linux/arm/v7"
    )]
    Malformed { input: String },

    #[error("empty entry in the platform list `{input}`: separate platforms with single commas")]
    EmptyListItem { input: String },

    #[error("unknown OS `{os}` in `{input}`: slipway builds for linux only")]
    UnknownOs { input: String, os: String },

    #[error("unknown architecture `{arch}` in `{input}`{}: Go's linux ports are {}",
        suggestion.as_ref().map(|s| format!(" (did you mean {s}?)")).unwrap_or_default(),
        crate::platform::arch_list())]
    UnknownArch {
        input: String,
        arch: String,
        suggestion: Option<String>,
    },

    #[error("`{variant}` in `{input}` is not a variant of {arch}: {arch} takes {valid}")]
    BadVariant {
        input: String,
        variant: String,
        arch: Arch,
        valid: &'static str,
    },

    #[error(
        "`{variant}` in `{input}` is a variant of {other}, not of {arch}: {arch} takes {valid}"
    )]
    VariantOfOtherArch {
        input: String,
        variant: String,
        arch: Arch,
        other: Arch,
        valid: &'static str,
    },

    #[error("`+{option}` in `{input}` is not an option of {arch}: {arch} takes {valid}")]
    BadOption {
        input: String,
        option: String,
        arch: Arch,
        valid: &'static str,
    },

    #[error("`{variant}` in `{input}`: {arch} has no variants; write linux/{arch}")]
    NoVariants {
        input: String,
        variant: String,
        arch: Arch,
    },

    #[error("{platform} is listed twice (as `{first}` and `{second}`)")]
    Repeated {
        platform: String,
        first: String,
        second: String,
    },

    #[error(
        "unknown libc mode `{input}`: use none (CGO_ENABLED=0), musl (cgo, static) or glibc:X.Y (cgo, dynamic, runs on glibc >= X.Y)"
    )]
    UnknownLibc { input: String },

    #[error("glibc needs the oldest version the device runs, for example glibc:2.28")]
    GlibcWithoutVersion,

    #[error("`{input}` has no valid glibc version: write glibc:X.Y, for example glibc:2.28")]
    BadGlibcVersion { input: String },
}

/// A target whose parts parse but cannot work together.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("{platform} has no cgo in Go, so --libc {libc} cannot work: use --libc none")]
    NoCgo { platform: String, libc: Libc },

    #[error(
        "{platform}+hardfloat with cgo: ARMv5 has no FPU for a hard-float C ABI; use linux/arm/v5 (soft-float) or linux/arm/v6"
    )]
    Armv5HardFloat { platform: String },

    #[error(
        "{platform} with --libc {libc} and zig: zig's compiler-rt has no ARMv5 __sync atomics, which Go's runtime/cgo links against; use --libc none, --cc gnu with glibc (libgcc has them), or linux/arm/v6 if the device has an ARMv6 core"
    )]
    ZigArmv5Atomics { platform: String, libc: Libc },

    #[error("{platform} with --libc {libc}: zig ships no soft-float mips64 C library; use --libc none, or linux/{}/hardfloat",
        platform.split('/').nth(1).unwrap_or("mips64"))]
    ZigNoSoftFloatMips64 { platform: String, libc: Libc },

    #[error(
        "{platform} with glibc:{version}: zig cannot target a glibc older than {floor} on this architecture; use glibc:{floor} or newer, or --libc musl"
    )]
    GlibcBelowFloor {
        platform: String,
        version: GlibcVersion,
        floor: GlibcVersion,
    },

    #[error(
        "{platform} with --libc {libc}: GNU cross gcc links glibc only; use --cc zig for none and musl"
    )]
    GnuNeedsGlibc { platform: String, libc: Libc },

    #[error("{platform} has no GNU cross compiler: {why}; use --cc zig")]
    NoGnuCompiler { platform: String, why: &'static str },

    #[error(
        "{platform} is soft-float Go, but {gcc} uses the hard-float C ABI and the link would fail with a float-ABI mismatch; use --cc zig (soft-float musl or glibc)"
    )]
    FloatAbiMismatch { platform: String, gcc: &'static str },

    #[error("{platform} needs Go {need} or newer for {what}, but the installed Go is {have}")]
    GoTooOld {
        platform: String,
        what: &'static str,
        need: String,
        have: String,
    },

    #[error("ldflag {flag} cannot work with --libc {libc}: {why}")]
    LdflagsConflict {
        flag: &'static str,
        libc: Libc,
        why: &'static str,
    },
}
