//! Architecture variants, spelled as Go spells them (`GOARM=7`, `GOARM64=v8.2,lse`, ...).
//!
//! In a platform string the variant is the third segment and Go's comma options
//! join with `+`: `linux/arm/v7+softfloat`, `linux/arm64/v8.2+lse`.

use crate::Arch;
use crate::error::PlatformError;

/// Floating-point ABI of the Go code (and so of the C code linked with it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Float {
    Hard,
    Soft,
}

/// One architecture's variant, already checked against Go's rules.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Variant {
    /// `GOAMD64=v1..v4`.
    Amd64 { level: u8 },
    /// `GO386=sse2|softfloat`.
    I386 { float: Float },
    /// `GOARM=5|6|7[,softfloat|,hardfloat]`; `float_explicit` keeps what was written.
    Arm {
        version: u8,
        float: Float,
        float_explicit: bool,
    },
    /// `GOARM64=v8.0..v9.5[,lse][,crypto]`.
    Arm64 {
        major: u8,
        minor: u8,
        lse: bool,
        crypto: bool,
    },
    /// `GORISCV64=rva20u64|rva22u64|rva23u64`.
    Riscv64 { profile: u8 },
    /// `GOMIPS` / `GOMIPS64` = `hardfloat|softfloat`.
    Mips { float: Float },
    /// `GOPPC64=power8|power9|power10`.
    Ppc64 { power: u8 },
    /// s390x and loong64 have no variant.
    None,
}

impl Variant {
    /// Go's default for an architecture, used when the platform names no variant.
    pub fn default_for(arch: Arch) -> Variant {
        match arch {
            Arch::Amd64 => Variant::Amd64 { level: 1 },
            Arch::I386 => Variant::I386 { float: Float::Hard },
            Arch::Arm => Variant::Arm {
                version: 7,
                float: Float::Hard,
                float_explicit: false,
            },
            Arch::Arm64 => Variant::Arm64 {
                major: 8,
                minor: 0,
                lse: false,
                crypto: false,
            },
            Arch::Riscv64 => Variant::Riscv64 { profile: 20 },
            Arch::Mips | Arch::Mipsle | Arch::Mips64 | Arch::Mips64le => {
                Variant::Mips { float: Float::Hard }
            }
            Arch::Ppc64 | Arch::Ppc64le => Variant::Ppc64 { power: 8 },
            Arch::S390x | Arch::Loong64 => Variant::None,
        }
    }

    /// Parse the variant segment (`v7+softfloat`) for `arch`.
    pub fn parse(arch: Arch, text: &str, input: &str) -> Result<Variant, PlatformError> {
        let mut parts = text.split('+');
        let base = parts.next().unwrap_or_default();
        let options: Vec<&str> = parts.collect();
        let bad = || {
            if let Some(other) = arch_of_variant(base).filter(|other| *other != arch) {
                PlatformError::VariantOfOtherArch {
                    input: input.to_string(),
                    variant: base.to_string(),
                    arch,
                    other,
                    valid: valid_variants(arch),
                }
            } else {
                PlatformError::BadVariant {
                    input: input.to_string(),
                    variant: base.to_string(),
                    arch,
                    valid: valid_variants(arch),
                }
            }
        };
        let bad_option = |option: &str| PlatformError::BadOption {
            input: input.to_string(),
            option: option.to_string(),
            arch,
            valid: valid_options(arch),
        };
        let no_options = |v: Variant| match options.first() {
            Some(option) => Err(bad_option(option)),
            None => Ok(v),
        };
        match arch {
            Arch::Amd64 => match base {
                "v1" | "v2" | "v3" | "v4" => no_options(Variant::Amd64 {
                    level: base.as_bytes()[1] - b'0',
                }),
                _ => Err(bad()),
            },
            Arch::I386 => match base {
                "sse2" => no_options(Variant::I386 { float: Float::Hard }),
                "softfloat" => no_options(Variant::I386 { float: Float::Soft }),
                _ => Err(bad()),
            },
            Arch::Arm => {
                let version = match base {
                    "v5" => 5,
                    "v6" => 6,
                    "v7" => 7,
                    _ => return Err(bad()),
                };
                let (float, float_explicit) = match options.as_slice() {
                    [] => (
                        if version == 5 {
                            Float::Soft
                        } else {
                            Float::Hard
                        },
                        false,
                    ),
                    ["softfloat"] => (Float::Soft, true),
                    ["hardfloat"] => (Float::Hard, true),
                    [one] => return Err(bad_option(one)),
                    [_, extra, ..] => return Err(bad_option(extra)),
                };
                Ok(Variant::Arm {
                    version,
                    float,
                    float_explicit,
                })
            }
            Arch::Arm64 => {
                let (major, minor) = parse_arm64_version(base).ok_or_else(bad)?;
                let (mut lse, mut crypto) = (false, false);
                for option in &options {
                    match *option {
                        "lse" if !lse => lse = true,
                        "crypto" if !crypto => crypto = true,
                        other => return Err(bad_option(other)),
                    }
                }
                Ok(Variant::Arm64 {
                    major,
                    minor,
                    lse,
                    crypto,
                })
            }
            Arch::Riscv64 => match base {
                "rva20u64" => no_options(Variant::Riscv64 { profile: 20 }),
                "rva22u64" => no_options(Variant::Riscv64 { profile: 22 }),
                "rva23u64" => no_options(Variant::Riscv64 { profile: 23 }),
                _ => Err(bad()),
            },
            Arch::Mips | Arch::Mipsle | Arch::Mips64 | Arch::Mips64le => match base {
                "hardfloat" => no_options(Variant::Mips { float: Float::Hard }),
                "softfloat" => no_options(Variant::Mips { float: Float::Soft }),
                _ => Err(bad()),
            },
            Arch::Ppc64 | Arch::Ppc64le => match base {
                "power8" => no_options(Variant::Ppc64 { power: 8 }),
                "power9" => no_options(Variant::Ppc64 { power: 9 }),
                "power10" => no_options(Variant::Ppc64 { power: 10 }),
                _ => Err(bad()),
            },
            Arch::S390x | Arch::Loong64 => Err(PlatformError::NoVariants {
                input: input.to_string(),
                variant: text.to_string(),
                arch,
            }),
        }
    }

    /// The value of the architecture's Go variable (`7,softfloat`, `v8.2,lse`).
    pub fn go_value(&self) -> Option<String> {
        Some(match self {
            Variant::Amd64 { level } => format!("v{level}"),
            Variant::I386 { float: Float::Hard } => "sse2".into(),
            Variant::I386 { float: Float::Soft } => "softfloat".into(),
            Variant::Arm {
                version,
                float,
                float_explicit,
            } => match (float_explicit, float) {
                (false, _) => version.to_string(),
                (true, Float::Soft) => format!("{version},softfloat"),
                (true, Float::Hard) => format!("{version},hardfloat"),
            },
            Variant::Arm64 {
                major,
                minor,
                lse,
                crypto,
            } => {
                let mut s = format!("v{major}.{minor}");
                if *lse {
                    s.push_str(",lse");
                }
                if *crypto {
                    s.push_str(",crypto");
                }
                s
            }
            Variant::Riscv64 { profile } => format!("rva{profile}u64"),
            Variant::Mips { float: Float::Hard } => "hardfloat".into(),
            Variant::Mips { float: Float::Soft } => "softfloat".into(),
            Variant::Ppc64 { power } => format!("power{power}"),
            Variant::None => return None,
        })
    }

    /// The variant as a platform segment: the Go value with `+` for `,`.
    pub fn segment(&self) -> Option<String> {
        let value = self.go_value()?;
        Some(match self {
            Variant::Arm { .. } => format!("v{}", value.replace(',', "+")),
            _ => value.replace(',', "+"),
        })
    }

    /// Whether Go's code uses a soft-float ABI, which the C ABI must then match.
    pub fn float(&self) -> Float {
        match self {
            Variant::Arm { float, .. } | Variant::Mips { float } => *float,
            // GO386=softfloat only changes Go's own code generation, not the C ABI.
            _ => Float::Hard,
        }
    }

    /// The Go release that introduced this spelling, when newer than Go 1.21.
    pub fn min_go(&self) -> Option<(u32, u32, &'static str)> {
        match self {
            Variant::Arm64 {
                major,
                minor,
                lse,
                crypto,
            } if (*major, *minor) != (8, 0) || *lse || *crypto => Some((1, 23, "GOARM64")),
            Variant::Arm {
                float_explicit: true,
                ..
            } => Some((1, 22, "GOARM ,softfloat/,hardfloat")),
            Variant::Riscv64 { profile: 22 } => Some((1, 23, "GORISCV64=rva22u64")),
            Variant::Riscv64 { profile: 23 } => Some((1, 25, "GORISCV64=rva23u64")),
            _ => None,
        }
    }
}

fn parse_arm64_version(s: &str) -> Option<(u8, u8)> {
    // `v8` alone is what OCI platforms say for arm64; it means Go's default v8.0.
    if s == "v8" {
        return Some((8, 0));
    }
    let rest = s.strip_prefix('v')?;
    let (major, minor) = rest.split_once('.')?;
    let major: u8 = major.parse().ok()?;
    if minor.len() != 1 {
        return None;
    }
    let minor: u8 = minor.parse().ok()?;
    match major {
        8 if minor <= 9 => Some((8, minor)),
        9 if minor <= 5 => Some((9, minor)),
        _ => None,
    }
}

/// Which architecture a variant spelling belongs to, to explain a mix-up.
fn arch_of_variant(base: &str) -> Option<Arch> {
    match base {
        "v1" | "v2" | "v3" | "v4" => Some(Arch::Amd64),
        "sse2" => Some(Arch::I386),
        "v5" | "v6" | "v7" => Some(Arch::Arm),
        "rva20u64" | "rva22u64" | "rva23u64" => Some(Arch::Riscv64),
        "hardfloat" | "softfloat" => Some(Arch::Mips),
        "power8" | "power9" | "power10" => Some(Arch::Ppc64le),
        _ if parse_arm64_version(base).is_some() => Some(Arch::Arm64),
        _ => None,
    }
}

/// The variants an architecture accepts, for error messages and `slipway targets`.
pub fn valid_variants(arch: Arch) -> &'static str {
    match arch {
        Arch::Amd64 => "v1 (default), v2, v3, v4",
        Arch::I386 => "sse2 (default), softfloat",
        Arch::Arm => "v5, v6, v7 (default)",
        Arch::Arm64 => "v8.0 (default) .. v8.9, v9.0 .. v9.5",
        Arch::Riscv64 => "rva20u64 (default), rva22u64, rva23u64",
        Arch::Mips | Arch::Mipsle | Arch::Mips64 | Arch::Mips64le => {
            "hardfloat (default), softfloat"
        }
        Arch::Ppc64 | Arch::Ppc64le => "power8 (default), power9, power10",
        Arch::S390x | Arch::Loong64 => "none",
    }
}

/// The `+option`s an architecture accepts after its variant.
pub fn valid_options(arch: Arch) -> &'static str {
    match arch {
        Arch::Arm => "+softfloat or +hardfloat",
        Arch::Arm64 => "+lse, +crypto",
        _ => "none",
    }
}
