//! `slipway.toml`: the CLI's own parser (its source file, included as is, so
//! the CLI needs no library target), then the parsers the CLI hands the values to.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[allow(dead_code)]
#[path = "../../crates/slipway/src/config.rs"]
mod config;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(c) = config::parse(text) else {
        return;
    };
    for p in c.build.platforms.iter().flatten() {
        let _ = p.parse::<slipway_platform::Platform>();
    }
    if let Some(libc) = &c.build.libc {
        let _ = libc.parse::<slipway_platform::Libc>();
    }
    let _ = config::budget(
        None,
        "--budget",
        c.build.budget.as_ref(),
        "budget in [build]",
    );
    let _ = config::budget(
        None,
        "--image-budget",
        c.image.budget.as_ref(),
        "budget in [image]",
    );
});
