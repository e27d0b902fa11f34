//! Toolchains on this machine: finding and checking `go`, zig and GNU cross
//! compilers, writing the zig CC wrappers cgo uses, and `slipway doctor`.

mod cache;
mod csettings;
pub mod doctor;
mod error;
mod gnu;
mod go;
mod process;
pub mod runtime;
pub mod runtime_share;
mod zig;
pub mod zigcc;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use cache::CacheDir;
pub use csettings::{
    CSettings, CSettingsProblem, MUSL_THREAD_STACK_DEFAULT, MUSL_THREAD_STACK_MAX,
};
pub use error::ToolchainError;
pub use gnu::GnuCc;
pub use go::{GoToolchain, PASSED_THROUGH, parse_go_version};
pub use process::which;
pub use slipway_fs::write_atomic;
pub use zig::{Zig, ZigSupport, zon_string_list};

use slipway_platform::{CCompiler, Target};

/// The C compilers a build has found so far, looked up only when a target needs one.
pub struct CCompilers<'a> {
    pub cache: &'a CacheDir,
    pub zig_path: Option<&'a Path>,
    /// The slipway executable the zig wrappers call back into.
    pub slipway_exe: &'a Path,
    zig: Option<Zig>,
}

impl<'a> CCompilers<'a> {
    pub fn new(
        cache: &'a CacheDir,
        zig_path: Option<&'a Path>,
        slipway_exe: &'a Path,
    ) -> CCompilers<'a> {
        CCompilers {
            cache,
            zig_path,
            slipway_exe,
            zig: None,
        }
    }

    /// The zig in use, once a cgo target asked for it.
    pub fn zig(&self) -> Option<&Zig> {
        self.zig.as_ref()
    }

    /// The zig for a cgo target, found on first need and checked to have a
    /// C library for it (for C parts slipway compiles itself, such as the
    /// allocator).
    pub fn zig_for(&mut self, target: &Target) -> Result<&Zig, ToolchainError> {
        if self.zig.is_none() {
            self.zig = Some(Zig::discover(self.zig_path, self.cache)?);
        }
        let zig = self.zig.as_ref().expect("set above");
        zig.check(target)?;
        Ok(zig)
    }

    /// The `CC` for a target, checked against the compiler that will use it;
    /// `None` for targets without cgo. `settings` are the target's own C
    /// settings; `musl_stack` the musl thread stack in bytes (0: musl's own).
    /// `user_env` is what the user declared, which `CGO_*FLAGS` build on.
    pub fn cc_for(
        &mut self,
        target: &Target,
        choice: CCompiler,
        settings: &CSettings,
        musl_stack: u64,
        user_env: &BTreeMap<String, String>,
    ) -> Result<Option<CcSetup>, ToolchainError> {
        if !target.libc.cgo() {
            return Ok(None);
        }
        target.validate(choice)?;
        let mut env = settings.pkg_config_env();
        let path = match choice {
            CCompiler::Zig => {
                if self.zig.is_none() {
                    self.zig = Some(Zig::discover(self.zig_path, self.cache)?);
                }
                let zig = self.zig.as_ref().expect("set above");
                zig.check(target)?;
                let cc_target = zigcc::ZigCcTarget::for_target(target, settings, musl_stack)
                    .expect("cgo targets have a zig triple");
                zigcc::write_wrapper(self.cache, zig, &cc_target, self.slipway_exe)?
            }
            CCompiler::Gnu => {
                let triple = target.gnu_triple()?;
                let gcc =
                    GnuCc::discover(triple).ok_or(ToolchainError::GnuNotFound { triple })??;
                gcc.check(target)?;
                if settings.is_empty() {
                    gcc.path
                } else {
                    env.extend(settings.gnu_env(user_env));
                    gnu::write_wrapper(self.cache, &gcc, settings)?
                }
            }
        };
        Ok(Some(CcSetup { path, env }))
    }
}

/// A target's C compiler as Go gets it: the `CC` path and the variables
/// that go with it (pkg-config's search path, `CGO_*FLAGS` for gcc).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CcSetup {
    pub path: PathBuf,
    pub env: BTreeMap<String, String>,
}
