//! `os/arch[/variant]` platform strings and lists of them.

use std::fmt;
use std::str::FromStr;

use crate::error::PlatformError;
use crate::{Arch, Variant};

/// One platform: always linux, an architecture and its (possibly default) variant.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Platform {
    pub arch: Arch,
    pub variant: Variant,
}

impl Platform {
    pub fn new(arch: Arch) -> Platform {
        Platform {
            arch,
            variant: Variant::default_for(arch),
        }
    }

    pub fn os(&self) -> &'static str {
        "linux"
    }

    /// The variant segment to show, or `None` when it is Go's default.
    /// arm always shows its version, as OCI platforms do (`linux/arm` means v7).
    pub fn shown_variant(&self) -> Option<String> {
        if self.arch == Arch::Arm || self.variant != Variant::default_for(self.arch) {
            self.variant.segment()
        } else {
            None
        }
    }

    /// The OCI platform variant: arm's version (`v7`), amd64 levels above v1,
    /// riscv64 profiles above rva20u64; arm64 carries none (`arm64/v8` is `arm64`).
    /// Float ABIs (mips softfloat) have no OCI spelling.
    pub fn oci_variant(&self) -> Option<String> {
        match self.variant {
            Variant::Arm { version, .. } => Some(format!("v{version}")),
            Variant::Amd64 { level } if level > 1 => Some(format!("v{level}")),
            Variant::Riscv64 { profile } if profile != 20 => Some(format!("rva{profile}u64")),
            _ => None,
        }
    }

    /// A directory name for this platform's outputs: `linux_arm_v7`, `linux_arm64`.
    pub fn dir_name(&self) -> String {
        match self.shown_variant() {
            Some(v) => format!("linux_{}_{}", self.arch.goarch(), v),
            None => format!("linux_{}", self.arch.goarch()),
        }
    }

    /// Parse a comma-separated list (`linux/amd64,linux/arm/v7`); repeats are errors.
    pub fn parse_list(list: &str) -> Result<Vec<Platform>, PlatformError> {
        let mut out: Vec<(Platform, String)> = Vec::new();
        for item in list.split(',').map(str::trim) {
            if item.is_empty() {
                return Err(PlatformError::EmptyListItem {
                    input: list.to_string(),
                });
            }
            let platform: Platform = item.parse()?;
            if let Some((_, first)) = out.iter().find(|(p, _)| *p == platform) {
                return Err(PlatformError::Repeated {
                    platform: platform.to_string(),
                    first: first.clone(),
                    second: item.to_string(),
                });
            }
            out.push((platform, item.to_string()));
        }
        Ok(out.into_iter().map(|(p, _)| p).collect())
    }
}

impl FromStr for Platform {
    type Err = PlatformError;

    fn from_str(input: &str) -> Result<Platform, PlatformError> {
        let segments: Vec<&str> = input.split('/').collect();
        let (os, arch, variant) = match segments.as_slice() {
            [os, arch] => (*os, *arch, None),
            [os, arch, variant] => (*os, *arch, Some(*variant)),
            _ => {
                return Err(PlatformError::Malformed {
                    input: input.to_string(),
                });
            }
        };
        if os != "linux" {
            return Err(PlatformError::UnknownOs {
                input: input.to_string(),
                os: os.to_string(),
            });
        }
        let arch = match Arch::from_goarch(arch) {
            Some(arch) => arch,
            None => {
                let suggestion = Arch::from_alias(arch).map(|(a, v)| match (v, variant) {
                    (Some(v), None) => format!("linux/{a}/{v}"),
                    (_, Some(v)) => format!("linux/{a}/{v}"),
                    (None, None) => format!("linux/{a}"),
                });
                return Err(PlatformError::UnknownArch {
                    input: input.to_string(),
                    arch: arch.to_string(),
                    suggestion,
                });
            }
        };
        let variant = match variant {
            None => Variant::default_for(arch),
            Some("") => {
                return Err(PlatformError::Malformed {
                    input: input.to_string(),
                });
            }
            Some(text) => Variant::parse(arch, text, input)?,
        };
        Ok(Platform { arch, variant })
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "linux/{}", self.arch.goarch())?;
        if let Some(v) = self.shown_variant() {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

/// All architectures as a comma-separated list, for error messages.
pub fn arch_list() -> String {
    Arch::ALL
        .iter()
        .map(|a| a.goarch())
        .collect::<Vec<_>>()
        .join(", ")
}
