//! Retyping DWARF sections of MIPS objects for lld, used by the zig CC wrapper:
//! Go writes them as PROGBITS, C toolchains as SHT_MIPS_DWARF, and lld refuses
//! to merge the two.

use crate::ElfError;
use crate::parse::Elf;
pub use crate::strip::SHT_MIPS_DWARF;

const SHT_PROGBITS: u32 = 1;

/// Retype `.debug_*` sections from `SHT_PROGBITS` to `SHT_MIPS_DWARF` in a MIPS
/// object, in place. Returns how many sections changed. Only section header
/// type fields are written.
pub fn retype_debug_sections_for_mips(data: &mut [u8]) -> Result<usize, ElfError> {
    let (at, big_endian) = {
        let elf = Elf::parse(data)?;
        if elf.header.machine != 8 {
            return Err(ElfError::Malformed(format!(
                "machine {} is not MIPS",
                elf.header.machine
            )));
        }
        if elf.sections.is_empty() {
            return Err(ElfError::Malformed("no section headers".into()));
        }
        let h = &elf.header;
        let at: Vec<usize> = elf
            .sections
            .iter()
            .enumerate()
            .filter(|(_, s)| s.kind == SHT_PROGBITS && s.name.starts_with(".debug_"))
            .map(|(i, _)| (h.shoff + i as u64 * u64::from(h.shentsize) + 4) as usize)
            .collect();
        (at, h.big_endian)
    };
    let bytes = if big_endian {
        SHT_MIPS_DWARF.to_be_bytes()
    } else {
        SHT_MIPS_DWARF.to_le_bytes()
    };
    for &a in &at {
        data.get_mut(a..a + 4)
            .ok_or_else(|| ElfError::Malformed("section header".into()))?
            .copy_from_slice(&bytes);
    }
    Ok(at.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retyping_refuses_non_mips_and_survives_garbage() {
        let exe = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        let mut copy = exe.clone();
        assert!(
            matches!(retype_debug_sections_for_mips(&mut copy), Err(ElfError::Malformed(m)) if m.contains("not MIPS"))
        );
        assert_eq!(copy, exe, "a refused file is left as it was");
        for len in [0, 4, 51, 52, 64, 200, 4096] {
            let mut cut = exe[..len.min(exe.len())].to_vec();
            assert!(
                retype_debug_sections_for_mips(&mut cut).is_err(),
                "length {len}"
            );
        }
    }
}
