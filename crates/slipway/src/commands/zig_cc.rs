//! `slipway zig-cc`: the C compiler cgo calls, through the wrapper scripts
//! slipway writes. Parsed by hand (it runs many times per build) and never
//! shown in help: users meet it only as the `CC` in `--dry-run` output.
//!
//! `slipway zig-cc --zig PATH --target TRIPLE [--mcpu CPU] [--stack-size BYTES]
//! [--cflag FLAG]... [--ldflag FLAG]... -- ARGS...`

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::Command;

use slipway_toolchain::zigcc::{self, ZigCcTarget};

/// Run zig cc with rewritten arguments; returns only on failure.
pub fn run(args: Vec<OsString>) -> u8 {
    match parse(args) {
        Ok((zig, target, rest)) => {
            if let Err(e) = zigcc::prepare_link(&target, &rest) {
                eprintln!("slipway zig-cc: {e}");
                return 1;
            }
            let err = Command::new(&zig)
                .arg("cc")
                .args(zigcc::rewrite_args(&target, &rest))
                .exec();
            eprintln!("slipway zig-cc: cannot run {}: {err}", zig.display());
            1
        }
        Err(msg) => {
            eprintln!(
                "slipway zig-cc: {msg}\nusage: slipway zig-cc --zig PATH --target TRIPLE [--mcpu CPU] [--stack-size BYTES] [--cflag FLAG]... [--ldflag FLAG]... -- ARGS..."
            );
            2
        }
    }
}

fn parse(args: Vec<OsString>) -> Result<(PathBuf, ZigCcTarget, Vec<OsString>), String> {
    let mut zig = None;
    let mut triple = None;
    let mut mcpu = None;
    let mut stack_size = None;
    let mut cflags = Vec::new();
    let mut ldflags = Vec::new();
    let mut iter = args.into_iter();
    while let Some(arg) = iter.next() {
        let mut value = |name: &str| iter.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.to_str() {
            Some("--zig") => zig = Some(PathBuf::from(value("--zig")?)),
            Some("--target") => triple = Some(value("--target")?.to_string_lossy().into_owned()),
            Some("--mcpu") => mcpu = Some(value("--mcpu")?.to_string_lossy().into_owned()),
            Some("--stack-size") => {
                let text = value("--stack-size")?.to_string_lossy().into_owned();
                stack_size = Some(
                    text.parse()
                        .map_err(|_| format!("--stack-size `{text}` is not a number of bytes"))?,
                );
            }
            Some("--cflag") => cflags.push(value("--cflag")?.to_string_lossy().into_owned()),
            Some("--ldflag") => ldflags.push(value("--ldflag")?.to_string_lossy().into_owned()),
            Some("--") => break,
            _ => return Err(format!("unexpected argument {}", arg.to_string_lossy())),
        }
    }
    let zig = zig.ok_or("--zig is required")?;
    let triple = triple.ok_or("--target is required")?;
    let target = ZigCcTarget {
        triple,
        mcpu,
        cflags,
        ldflags,
        stack_size,
        identity_extra: Vec::new(),
    };
    Ok((zig, target, iter.collect()))
}
