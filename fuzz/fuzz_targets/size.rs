//! `slipway size`'s readers of untrusted bytes: Go's function table
//! (`.gopclntab`, alone and inside a minimal ELF), the symbol table and the
//! size accounting of a whole ELF file, whose rows must add up to its size.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The first byte picks the form, the rest is the input.
    let Some((form, rest)) = data.split_first() else {
        return;
    };
    let elf;
    let file = if form & 1 == 0 {
        // A function table: both byte orders raw, then inside an ELF.
        let _ = slipway_elf::parse_pclntab(rest, form & 2 != 0, None);
        elf = slipway_fuzz::elf_with_section(".gopclntab", rest);
        &elf[..]
    } else {
        rest
    };
    let _ = slipway_elf::symbols(file);
    let _ = slipway_elf::go_functions(file);
    let _ = slipway_elf::file_layout(file);
    if let Ok(report) = slipway_size::analyze("fuzz", file, None) {
        let total: u64 = report.breakdown.iter().map(|r| r.size).sum();
        assert_eq!(total, file.len() as u64, "the rows add up to the file");
    }
});
