//! Go build info: the `.go.buildinfo` blob (inside a small ELF, so the
//! fuzzer mutates only the blob) and the module text `go version -m` prints.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The first byte picks the form, the rest is the input.
    let Some((form, rest)) = data.split_first() else {
        return;
    };
    if form & 1 == 0 {
        let elf = slipway_fuzz::elf_with_section(".go.buildinfo", rest);
        let _ = slipway_elf::inspect(&elf);
        let _ = slipway_scan::go_build_info(&elf);
    } else {
        let text = String::from_utf8_lossy(rest);
        let _ = slipway_elf::parse_modinfo("go1.26.0".into(), &text);
    }
});
