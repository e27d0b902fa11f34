//! What an init binary must be before it goes into an image.

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
    let headers = slipway_elf::program_headers(data).map_err(|e| e.to_string())?;
    if headers.machine != arch.elf_machine() {
        return Err(format!(
            "its ELF machine is {}, not {} for {arch}",
            headers.machine,
            arch.elf_machine()
        ));
    }
    let mut facts = BinaryFacts {
        machine: headers.machine,
        size: data.len() as u64,
        has_interp: false,
        has_dynamic: false,
        writable_and_executable: false,
        has_gnu_stack: false,
    };
    for ph in &headers.segments {
        match ph.kind {
            slipway_elf::PT_INTERP => facts.has_interp = true,
            slipway_elf::PT_DYNAMIC => facts.has_dynamic = true,
            slipway_elf::PT_LOAD | slipway_elf::PT_GNU_STACK => {
                facts.has_gnu_stack |= ph.kind == slipway_elf::PT_GNU_STACK;
                let wx = slipway_elf::PF_W | slipway_elf::PF_X;
                if ph.flags & wx == wx {
                    facts.writable_and_executable = true;
                }
            }
            _ => {}
        }
    }
    Ok(facts)
}
