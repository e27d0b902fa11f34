//! `slipway strip FILE -o OUT [--debug-out OUT.debug]`: strip natively for any
//! architecture, optionally splitting the debug info into a linked file.

use slipway_elf::{ElfError, StripMode};

use crate::cli::StripArgs;
use crate::ui::Ui;

pub fn run(args: StripArgs, ui: Ui) -> anyhow::Result<()> {
    let mode: StripMode = args.mode.parse().map_err(crate::input)?;
    if args.debug_out.as_deref() == Some(args.output.as_path()) {
        return Err(crate::input("--debug-out must differ from -o").into());
    }
    let report = slipway_elf::strip_file(&args.file, &args.output, args.debug_out.as_deref(), mode)
        .map_err(|e| match e {
            ElfError::Io { .. } => anyhow::Error::new(e),
            other => crate::input(format!(
                "{}: {other}\n  nothing was written; slipway strip takes a linked ELF executable or shared library",
                args.file.display()
            ))
            .into(),
        })?;
    let mut msg = format!(
        "{} -> {} ({} -> {} bytes)",
        args.file.display(),
        report.output.display(),
        report.input_size,
        report.output_size
    );
    if let (Some((path, size)), Some(crc)) = (&report.debug, report.debug_crc) {
        msg.push_str(&format!(
            ", debug info in {} ({size} bytes, crc {crc:08x})",
            path.display()
        ));
    }
    ui.status(msg);
    Ok(())
}
