//! Everything the dynamic loader will ask of an image before `main` runs:
//! the interpreter, the libraries and where to look for them, the symbol
//! versions needed and (for libraries) the versions defined. The image
//! stage's closure check is built on this.

use crate::ElfError;
use crate::dynamic::{NeededVersions, read_dynamic, read_version_defs, read_version_needs};
use crate::inspect::interpreter;
use crate::parse::Elf;

/// What one ELF object needs from, and offers to, the loader.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RuntimeNeeds {
    /// `e_machine`, class and byte order: the loader skips libraries that differ.
    pub machine: u16,
    pub is_64: bool,
    pub big_endian: bool,
    /// `PT_INTERP`; `None` for static executables and most libraries.
    pub interpreter: Option<String>,
    pub soname: Option<String>,
    /// `DT_NEEDED`, in order.
    pub needed: Vec<String>,
    /// `DT_RPATH` / `DT_RUNPATH` entries, split on `:`, tokens unexpanded.
    pub rpath: Vec<String>,
    pub runpath: Vec<String>,
    /// `DF_1_NODEFLIB`.
    pub nodeflib: bool,
    /// `.gnu.version_r`: versions needed per library.
    pub version_needs: Vec<NeededVersions>,
    /// `.gnu.version_d`: versions this object defines.
    pub version_defs: Vec<String>,
}

impl RuntimeNeeds {
    /// Nothing for the loader to do: no interpreter and no libraries.
    pub fn is_static(&self) -> bool {
        self.interpreter.is_none() && self.needed.is_empty()
    }
}

fn split_path(list: Option<String>) -> Vec<String> {
    list.map(|l| {
        l.split(':')
            .filter(|p| !p.is_empty())
            .map(str::to_string)
            .collect()
    })
    .unwrap_or_default()
}

/// Read what the loader needs to know about `data`.
pub fn runtime_needs(data: &[u8]) -> Result<RuntimeNeeds, ElfError> {
    let elf = Elf::parse(data)?;
    let dynamic = read_dynamic(&elf)?;
    Ok(RuntimeNeeds {
        machine: elf.header.machine,
        is_64: elf.header.is_64,
        big_endian: elf.header.big_endian,
        interpreter: interpreter(&elf)?,
        soname: dynamic.soname,
        needed: dynamic.needed,
        rpath: split_path(dynamic.rpath),
        runpath: split_path(dynamic.runpath),
        nodeflib: dynamic.nodeflib,
        version_needs: read_version_needs(&elf)?.libraries,
        version_defs: read_version_defs(&elf)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Debian's cross glibc, where the machine has it (scripts/deps/image.apt).
    fn cross_libc() -> Option<Vec<u8>> {
        std::fs::read("/usr/aarch64-linux-gnu/lib/libc.so.6").ok()
    }

    #[test]
    fn libc_defines_its_versions_and_names_itself() {
        let Some(libc) = cross_libc() else {
            panic!("install libc6-arm64-cross (scripts/deps/image.apt) for this test");
        };
        let n = runtime_needs(&libc).unwrap();
        assert_eq!(n.soname.as_deref(), Some("libc.so.6"));
        assert!(
            n.version_defs.iter().any(|v| v == "GLIBC_2.17"),
            "{:?}",
            n.version_defs
        );
        assert!(n.version_defs.iter().any(|v| v == "GLIBC_2.34"));
        assert!(
            !n.version_defs.iter().any(|v| v == "libc.so.6"),
            "base entry skipped"
        );
        assert!(n.needed.iter().any(|l| l == "ld-linux-aarch64.so.1"));
        assert_eq!(n.machine, 183);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(runtime_needs(b"\x7fELF\x02\x01\x01").is_err());
        assert!(runtime_needs(b"hello").is_err());
    }
}
