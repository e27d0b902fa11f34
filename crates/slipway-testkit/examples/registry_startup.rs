//! How long each registry set-up takes to start (and stop): the fixed cost
//! every registry test pays. `cargo run -p slipway-testkit --example registry_startup`
use std::time::Instant;

use slipway_testkit::registry::{TestRegistry, TokenConfig};

fn main() {
    let runs = 5;
    for (name, start) in [
        ("plain", TestRegistry::plain as fn() -> TestRegistry),
        ("tls_basic", TestRegistry::tls_basic),
        ("token", || TestRegistry::token(TokenConfig::default())),
    ] {
        let mut ms = Vec::new();
        for _ in 0..runs {
            let t = Instant::now();
            let reg = start();
            let up = t.elapsed();
            drop(reg);
            ms.push(up.as_secs_f64() * 1000.0);
        }
        ms.sort_by(f64::total_cmp);
        println!(
            "{name:10} start-up median {:6.1} ms (min {:.1}, max {:.1}, {runs} runs)",
            ms[runs / 2],
            ms[0],
            ms[runs - 1]
        );
    }
}
