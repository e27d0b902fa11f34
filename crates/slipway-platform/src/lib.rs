//! The platform model: which Go linux ports exist, their variants, libc modes,
//! and what a (platform, libc, C compiler) target means for `go build`.
//!
//! Everything here is pure: parsing, derivation and validation rules, no I/O.
//! Facts about the installed Go and zig are checked by `slipway-toolchain`.

mod arch;
mod error;
mod libc;
mod platform;
mod target;
mod variant;

pub use arch::Arch;
pub use error::{PlatformError, TargetError};
pub use libc::{GlibcVersion, Libc};
pub use platform::{Platform, arch_list};
pub use target::{CCompiler, Target, check_ldflags};
pub use variant::{Float, Variant, valid_options, valid_variants};
