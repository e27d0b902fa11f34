//! What an init binary must be before it goes into an image.

use object::elf;
use object::read::elf::{FileHeader, ProgramHeader};
use slipway_platform::Arch;

/// The facts [`check_binary`] establishes about an ELF executable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BinaryFacts {
    pub machine: u16,
    pub size: u64,
    pub has_interp: bool,
    pub has_dynamic: bool,
    /// A `PT_LOAD` (or the stack) that is writable and executable at once.
    pub writable_and_executable: bool,
    /// Without a `PT_GNU_STACK` some kernels map the stack executable.
    pub has_gnu_stack: bool,
}

impl BinaryFacts {
    /// Static, no loader, no W+X segment.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.has_interp {
            out.push("it has a PT_INTERP: it needs a dynamic loader".to_string());
        }
        if self.has_dynamic {
            out.push("it has a PT_DYNAMIC: it is not a static executable".to_string());
        }
        if self.writable_and_executable {
            out.push("it has a segment that is writable and executable".to_string());
        }
        if !self.has_gnu_stack {
            out.push("it has no PT_GNU_STACK: its stack may be executable".to_string());
        }
        out
    }
}

/// Read the program headers of an executable for `arch`. Errors are texts for
/// [`crate::InitError::BadBinary`].
pub fn check_binary(data: &[u8], arch: Arch) -> Result<BinaryFacts, String> {
    let kind = object::FileKind::parse(data).map_err(|e| format!("not an ELF file: {e}"))?;
    let facts = match kind {
        object::FileKind::Elf32 => facts::<elf::FileHeader32<object::Endianness>>(data)?,
        object::FileKind::Elf64 => facts::<elf::FileHeader64<object::Endianness>>(data)?,
        other => return Err(format!("not an ELF file ({other:?})")),
    };
    if facts.machine != arch.elf_machine() {
        return Err(format!(
            "its ELF machine is {}, not {} for {arch}",
            facts.machine,
            arch.elf_machine()
        ));
    }
    Ok(facts)
}

fn facts<H: FileHeader<Endian = object::Endianness>>(data: &[u8]) -> Result<BinaryFacts, String> {
    let header = H::parse(data).map_err(|e| format!("bad ELF header: {e}"))?;
    let endian = header
        .endian()
        .map_err(|e| format!("bad ELF header: {e}"))?;
    let phdrs = header
        .program_headers(endian, data)
        .map_err(|e| format!("bad program headers: {e}"))?;
    let mut facts = BinaryFacts {
        machine: header.e_machine(endian).0,
        size: data.len() as u64,
        has_interp: false,
        has_dynamic: false,
        writable_and_executable: false,
        has_gnu_stack: false,
    };
    for ph in phdrs {
        let flags = ph.p_flags(endian).0;
        match ph.p_type(endian) {
            elf::PT_INTERP => facts.has_interp = true,
            elf::PT_DYNAMIC => facts.has_dynamic = true,
            elf::PT_LOAD | elf::PT_GNU_STACK => {
                facts.has_gnu_stack |= ph.p_type(endian) == elf::PT_GNU_STACK;
                if flags & elf::PF_W.0 != 0 && flags & elf::PF_X.0 != 0 {
                    facts.writable_and_executable = true;
                }
            }
            _ => {}
        }
    }
    Ok(facts)
}
