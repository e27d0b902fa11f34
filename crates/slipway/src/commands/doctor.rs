//! `slipway doctor`: toolchains found, and what this machine can build.

use console::style;
use slipway_toolchain::CacheDir;
use slipway_toolchain::doctor::{self, Found};

use crate::cli::DoctorArgs;

pub fn run(args: DoctorArgs, cache: &CacheDir) -> anyhow::Result<()> {
    let report = doctor::run(args.go.as_deref(), args.zig.as_deref(), cache);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    println!("Toolchains");
    print_found(&report.go);
    // zig is only the C compiler: pure-Go images (--libc none) need Go alone,
    // the init included, so a missing zig is a note, not a failure.
    match &report.zig.path {
        Some(_) => print_found(&report.zig),
        None => println!(
            "  {:<34} {}",
            report.zig.name,
            style("not found; needed only for cgo (--libc musl or glibc:X.Y): pip install ziglang")
                .yellow()
        ),
    }
    let gnu_found: Vec<&Found> = report.gnu.iter().filter(|g| g.path.is_some()).collect();
    if gnu_found.is_empty() {
        println!(
            "  {:<34} none (optional; Debian's gcc-<triple> packages)",
            "GNU cross gcc"
        );
    }
    for g in gnu_found {
        print_found(g);
    }
    let qemu: Vec<&str> = report
        .qemu
        .iter()
        .filter(|q| q.path.is_some())
        .map(|q| q.name.as_str())
        .collect();
    println!(
        "  {:<34} {}",
        "qemu-user (runs tests)",
        if qemu.is_empty() {
            "none".into()
        } else {
            qemu.join(" ")
        }
    );

    println!("\nTargets ({} = can build here)", style("ok").green());
    println!("  {:<26} {:<11} {:<4} status", "PLATFORM", "LIBC", "CC");
    for row in &report.targets {
        let status = match &row.why {
            None => style("ok".to_string()).green(),
            Some(why) => style(why.clone()).red(),
        };
        println!(
            "  {:<26} {:<11} {:<4} {}",
            row.platform,
            row.libc,
            row.cc.unwrap_or("-"),
            status
        );
    }
    Ok(())
}

fn print_found(f: &Found) {
    match (&f.path, &f.problem) {
        (Some(path), _) => println!(
            "  {:<34} {} ({path})",
            f.name,
            f.version.as_deref().unwrap_or("")
        ),
        (None, Some(problem)) => println!(
            "  {:<34} {}",
            f.name,
            style(format!("missing: {problem}")).red()
        ),
        (None, None) => println!("  {:<34} missing", f.name),
    }
}
