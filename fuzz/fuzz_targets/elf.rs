//! The ELF reader and stripper: every entry point on any bytes; whatever
//! strip writes must parse again and load exactly the bytes the input loads.
#![no_main]

use libfuzzer_sys::fuzz_target;
use slipway_elf::StripMode;

fuzz_target!(|data: &[u8]| {
    let _ = slipway_elf::inspect(data);
    let _ = slipway_elf::summarize(data);
    let _ = slipway_elf::glibc_floor(data, &[2, 17]);
    let _ = slipway_elf::program_headers(data);
    let _ = slipway_elf::section_contents(data, ".comment");
    for mode in [StripMode::All, StripMode::Debug] {
        let Ok(split) = slipway_elf::strip(data, mode, Some("x.debug")) else {
            continue;
        };
        let stripped = split.stripped.to_vec();
        if let Err(e) = slipway_elf::check_structure(&stripped) {
            panic!("{mode:?}: the stripped file does not parse again: {e}");
        }
        if let Err(e) = slipway_fuzz::same_loaded_bytes(data, &stripped) {
            panic!("{mode:?}: {e}");
        }
        if let Some(debug) = split.debug
            && let Err(e) = slipway_elf::check_structure(&debug.to_vec())
        {
            panic!("{mode:?}: the debug file does not parse again: {e}");
        }
    }
    let mut copy = data.to_vec();
    let _ = slipway_elf::retype_debug_sections_for_mips(&mut copy);
});
