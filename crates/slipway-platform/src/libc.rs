//! How a target links C: not at all, statically against musl, or against a glibc floor.

use std::fmt;
use std::str::FromStr;

use crate::error::PlatformError;

/// A glibc version, `2.28` or `2.2.5`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GlibcVersion {
    pub major: u16,
    pub minor: u16,
    pub patch: u16,
}

impl GlibcVersion {
    pub const fn new(major: u16, minor: u16) -> GlibcVersion {
        GlibcVersion {
            major,
            minor,
            patch: 0,
        }
    }

    /// Parse `2.28` or `2.2.5`; also the symbol-version form `GLIBC_2.28`.
    pub fn parse(text: &str) -> Option<GlibcVersion> {
        let text = text.strip_prefix("GLIBC_").unwrap_or(text);
        let mut parts = text.split('.');
        let major = parts.next()?.parse().ok()?;
        let minor = parts.next()?.parse().ok()?;
        let patch = match parts.next() {
            Some(p) => p.parse().ok()?,
            None => 0,
        };
        if parts.next().is_some() {
            return None;
        }
        Some(GlibcVersion {
            major,
            minor,
            patch,
        })
    }
}

impl fmt::Display for GlibcVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.patch == 0 {
            write!(f, "{}.{}", self.major, self.minor)
        } else {
            write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
        }
    }
}

/// The libc mode of a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Libc {
    /// `CGO_ENABLED=0`: pure Go, static.
    None,
    /// cgo linked statically against musl.
    Musl,
    /// cgo linked dynamically; runs on glibc at or above this version.
    Glibc(GlibcVersion),
}

impl Libc {
    pub fn cgo(self) -> bool {
        !matches!(self, Libc::None)
    }

    /// Whether the result must be a static executable (no `PT_INTERP`).
    pub fn is_static(self) -> bool {
        matches!(self, Libc::None | Libc::Musl)
    }

    /// The mode's name without its version: `none`, `musl`, `glibc`.
    pub fn kind(self) -> &'static str {
        match self {
            Libc::None => "none",
            Libc::Musl => "musl",
            Libc::Glibc(_) => "glibc",
        }
    }
}

impl FromStr for Libc {
    type Err = PlatformError;

    fn from_str(input: &str) -> Result<Libc, PlatformError> {
        match input {
            "none" => Ok(Libc::None),
            "musl" => Ok(Libc::Musl),
            "glibc" => Err(PlatformError::GlibcWithoutVersion),
            _ => match input.strip_prefix("glibc:") {
                Some(version) => GlibcVersion::parse(version)
                    .map(Libc::Glibc)
                    .ok_or_else(|| PlatformError::BadGlibcVersion {
                        input: input.to_string(),
                    }),
                None => Err(PlatformError::UnknownLibc {
                    input: input.to_string(),
                }),
            },
        }
    }
}

impl fmt::Display for Libc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Libc::None => f.write_str("none"),
            Libc::Musl => f.write_str("musl"),
            Libc::Glibc(v) => write!(f, "glibc:{v}"),
        }
    }
}
