//! A build target: a platform, a libc mode and the C compiler family for cgo,
//! with everything derived from them (Go environment, C triples, link flags)
//! and the rules that say which combinations can work.

use std::fmt;

use crate::error::TargetError;
use crate::{Arch, Float, Libc, Platform, Variant};

/// Which C cross compiler links cgo code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum CCompiler {
    /// `zig cc`: every architecture, musl or a capped glibc, hermetic.
    #[default]
    Zig,
    /// A distribution GNU cross gcc (`aarch64-linux-gnu-gcc`): glibc targets only.
    Gnu,
}

impl CCompiler {
    pub fn parse(s: &str) -> Option<CCompiler> {
        match s {
            "zig" => Some(CCompiler::Zig),
            "gnu" => Some(CCompiler::Gnu),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            CCompiler::Zig => "zig",
            CCompiler::Gnu => "gnu",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Target {
    pub platform: Platform,
    pub libc: Libc,
}

impl Target {
    pub fn new(platform: Platform, libc: Libc) -> Target {
        Target { platform, libc }
    }

    pub fn arch(&self) -> Arch {
        self.platform.arch
    }

    /// Check the combination before anything runs. Rules come from the
    /// toolchain reference; each error names the bad part and what would work.
    pub fn validate(&self, cc: CCompiler) -> Result<(), TargetError> {
        let arch = self.arch();
        let platform = self.platform.to_string();
        if !self.libc.cgo() {
            return Ok(());
        }
        if !arch.cgo_supported() {
            return Err(TargetError::NoCgo {
                platform,
                libc: self.libc,
            });
        }
        if let Variant::Arm {
            version: 5,
            float: Float::Hard,
            ..
        } = self.platform.variant
        {
            return Err(TargetError::Armv5HardFloat { platform });
        }
        match cc {
            CCompiler::Zig => {
                if let Variant::Arm { version: 5, .. } = self.platform.variant {
                    return Err(TargetError::ZigArmv5Atomics {
                        platform,
                        libc: self.libc,
                    });
                }
                if arch.is_mips64() && self.platform.variant.float() == Float::Soft {
                    return Err(TargetError::ZigNoSoftFloatMips64 {
                        platform,
                        libc: self.libc,
                    });
                }
                if let (Libc::Glibc(version), Some(floor)) = (self.libc, arch.zig_glibc_floor())
                    && version < floor
                {
                    return Err(TargetError::GlibcBelowFloor {
                        platform,
                        version,
                        floor,
                    });
                }
            }
            CCompiler::Gnu => {
                if !matches!(self.libc, Libc::Glibc(_)) {
                    return Err(TargetError::GnuNeedsGlibc {
                        platform,
                        libc: self.libc,
                    });
                }
                self.gnu_triple()?;
            }
        }
        Ok(())
    }

    /// The exact Go environment for this target. Every variable is set
    /// explicitly, defaults included, so nothing inherited can change it.
    pub fn go_env(&self) -> Vec<(&'static str, String)> {
        let mut env = vec![
            ("GOOS", "linux".to_string()),
            ("GOARCH", self.arch().goarch().to_string()),
        ];
        if let (Some(var), Some(value)) =
            (self.arch().variant_var(), self.platform.variant.go_value())
        {
            env.push((var, value));
        }
        env.push((
            "CGO_ENABLED",
            if self.libc.cgo() { "1" } else { "0" }.to_string(),
        ));
        env
    }

    /// Build tags this libc mode needs: static builds use Go's own resolver
    /// and user lookup, since static glibc NSS and musl `dlopen` do not work.
    pub fn build_tags(&self) -> &'static [&'static str] {
        if self.libc.is_static() {
            &["netgo", "osusergo"]
        } else {
            &[]
        }
    }

    /// Linker flags this libc mode needs.
    pub fn ldflags(&self) -> Vec<String> {
        match self.libc {
            Libc::None => vec![],
            // Go's internal linker cannot link against zig's musl; `-static`
            // only acts with external linking.
            Libc::Musl => vec!["-linkmode=external".into(), "-extldflags=-static".into()],
            // External linking makes the C toolchain (and so the glibc floor) decide
            // the symbol versions; mips with cgo requires it anyway.
            Libc::Glibc(_) => vec!["-linkmode=external".into()],
        }
    }

    /// zig's `-target` triple, with the glibc version for glibc targets.
    pub fn zig_triple(&self) -> Option<String> {
        let arch = self.arch();
        let soft = self.platform.variant.float() == Float::Soft;
        let abi = match (arch, self.libc) {
            (_, Libc::None) => return None,
            (Arch::Arm | Arch::Mips | Arch::Mipsle, Libc::Musl) => {
                if soft {
                    "musleabi"
                } else {
                    "musleabihf"
                }
            }
            (Arch::Arm | Arch::Mips | Arch::Mipsle, Libc::Glibc(_)) => {
                if soft {
                    "gnueabi"
                } else {
                    "gnueabihf"
                }
            }
            (Arch::Mips64 | Arch::Mips64le, Libc::Musl) => "muslabi64",
            (Arch::Mips64 | Arch::Mips64le, Libc::Glibc(_)) => "gnuabi64",
            (_, Libc::Musl) => "musl",
            (_, Libc::Glibc(_)) => "gnu",
        };
        let mut triple = format!("{}-linux-{abi}", arch.zig_arch());
        if let Libc::Glibc(version) = self.libc {
            triple.push_str(&format!(".{version}"));
        }
        Some(triple)
    }

    /// The `-mcpu` zig needs so C code never uses instructions Go's variant
    /// does not assume (zig's arm baseline is v7a, its x86 one has SSE2).
    pub fn zig_mcpu(&self) -> Option<&'static str> {
        match self.platform.variant {
            Variant::Amd64 { level: 2 } => Some("x86_64_v2"),
            Variant::Amd64 { level: 3 } => Some("x86_64_v3"),
            Variant::Amd64 { level: 4 } => Some("x86_64_v4"),
            Variant::I386 { float: Float::Hard } => Some("pentium4"),
            Variant::I386 { float: Float::Soft } => Some("i686"),
            Variant::Arm { version: 5, .. } => Some("arm926ej_s"),
            Variant::Arm { version: 6, .. } => Some("arm1176jzf_s"),
            Variant::Arm { version: 7, .. } => Some("generic+v7a"),
            Variant::Ppc64 { power: 9 } if self.arch() == Arch::Ppc64le => Some("pwr9"),
            Variant::Ppc64 { power: 10 } if self.arch() == Arch::Ppc64le => Some("pwr10"),
            Variant::Ppc64 { .. } if self.arch() == Arch::Ppc64le => Some("pwr8"),
            // zig's default LoongArch CPU has LSX vectors; Go assumes the base ISA
            // and LoongArch cores without LSX exist (qemu 7.2 has none either).
            // The FPU (f, d) stays: Go uses the double-float ABI.
            Variant::None if self.arch() == Arch::Loong64 => Some("generic_la64+f+d"),
            _ => None,
        }
    }

    /// The Debian GNU cross compiler triple (`aarch64-linux-gnu`), or why there is none.
    pub fn gnu_triple(&self) -> Result<&'static str, TargetError> {
        let platform = self.platform.to_string();
        let soft = self.platform.variant.float() == Float::Soft;
        let no_compiler = |why: &'static str| {
            Err(TargetError::NoGnuCompiler {
                platform: platform.clone(),
                why,
            })
        };
        let mismatch = |gcc: &'static str| {
            Err(TargetError::FloatAbiMismatch {
                platform: platform.clone(),
                gcc,
            })
        };
        match (self.arch(), &self.platform.variant) {
            (Arch::Amd64, _) => Ok("x86_64-linux-gnu"),
            (Arch::I386, _) => Ok("i686-linux-gnu"),
            (Arch::Arm64, _) => Ok("aarch64-linux-gnu"),
            // armel gcc is ARMv5TE, soft-float ABI: right for any soft-float Go.
            (Arch::Arm, _) if soft => Ok("arm-linux-gnueabi"),
            (Arch::Arm, Variant::Arm { version: 7, .. }) => Ok("arm-linux-gnueabihf"),
            (Arch::Arm, _) => no_compiler(
                "Debian's arm-linux-gnueabihf-gcc emits ARMv7 code, which raises SIGILL on ARMv6",
            ),
            (Arch::Mips | Arch::Mipsle | Arch::Mips64 | Arch::Mips64le, _) if soft => {
                mismatch(match self.arch() {
                    Arch::Mips => "mips-linux-gnu-gcc",
                    Arch::Mipsle => "mipsel-linux-gnu-gcc",
                    Arch::Mips64 => "mips64-linux-gnuabi64-gcc",
                    _ => "mips64el-linux-gnuabi64-gcc",
                })
            }
            (Arch::Mips, _) => Ok("mips-linux-gnu"),
            (Arch::Mipsle, _) => Ok("mipsel-linux-gnu"),
            (Arch::Mips64, _) => Ok("mips64-linux-gnuabi64"),
            (Arch::Mips64le, _) => Ok("mips64el-linux-gnuabi64"),
            (Arch::Riscv64, _) => Ok("riscv64-linux-gnu"),
            (Arch::Ppc64le, _) => Ok("powerpc64le-linux-gnu"),
            (Arch::S390x, _) => Ok("s390x-linux-gnu"),
            (Arch::Ppc64, _) => no_compiler("Go has no cgo for linux/ppc64"),
            (Arch::Loong64, _) => no_compiler("Debian 12 ships no loongarch64 cross compiler"),
        }
    }

    /// Go version a target needs beyond Go 1.21 (variant spellings added later).
    pub fn check_go_version(&self, major: u32, minor: u32) -> Result<(), TargetError> {
        if let Some((need_major, need_minor, what)) = self.platform.variant.min_go()
            && (major, minor) < (need_major, need_minor)
        {
            return Err(TargetError::GoTooOld {
                platform: self.platform.to_string(),
                what,
                need: format!("{need_major}.{need_minor}"),
                have: format!("{major}.{minor}"),
            });
        }
        Ok(())
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.platform, self.libc)
    }
}

/// Check user ldflags against the libc mode: link modes that cannot work
/// are caught here instead of deep inside `go build`.
pub fn check_ldflags(libc: Libc, ldflags: &[String]) -> Result<(), TargetError> {
    let flags = normalized_ldflags(ldflags);
    let has = |prefix: &str, needle: &str| {
        flags
            .iter()
            .any(|f| f.starts_with(prefix) && f.contains(needle))
    };
    let conflict = |flag, why| Err(TargetError::LdflagsConflict { flag, libc, why });
    match libc {
        Libc::None if has("linkmode=", "external") => conflict(
            "-linkmode=external",
            "external linking needs cgo (an error since Go 1.22); use --libc musl or glibc:X.Y",
        ),
        Libc::Musl if has("linkmode=", "internal") => conflict(
            "-linkmode=internal",
            "Go's internal linker cannot link zig's musl; slipway links musl targets externally",
        ),
        Libc::Glibc(_) if has("extldflags=", "-static") => conflict(
            "-extldflags=-static",
            "glibc cannot be linked statically (its NSS and dlopen need the shared library); use --libc musl for a static binary",
        ),
        _ => Ok(()),
    }
}

/// Go linker flags as `name=value` words, whichever way they were written
/// (`-linkmode=external`, `--linkmode external`).
fn normalized_ldflags(ldflags: &[String]) -> Vec<String> {
    let words: Vec<&str> = ldflags.iter().flat_map(|f| f.split_whitespace()).collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let word = words[i].trim_start_matches('-');
        let takes_value = matches!(
            word,
            "linkmode" | "extldflags" | "X" | "extld" | "buildmode"
        );
        match words.get(i + 1) {
            Some(value) if takes_value => {
                out.push(format!("{word}={value}"));
                i += 2;
            }
            _ => {
                out.push(word.to_string());
                i += 1;
            }
        }
    }
    out
}
