//! How slipway talks to a person: status on stderr, live progress on a
//! terminal, plain lines in CI and pipes, colour only where it can be seen.

use std::io::IsTerminal;
use std::time::Duration;

use console::style;

use crate::cli::ColorChoice;

#[derive(Debug, Clone, Copy)]
pub struct Ui {
    /// Live progress (bars, spinners) instead of plain lines.
    pub live: bool,
}

impl Ui {
    pub fn new(color: ColorChoice) -> Ui {
        let tty = std::io::stderr().is_terminal();
        let ci = std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false");
        let dumb = std::env::var("TERM").is_ok_and(|t| t == "dumb");
        let colour = match color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                tty && !dumb && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
            }
        };
        console::set_colors_enabled_stderr(colour);
        console::set_colors_enabled(colour && std::io::stdout().is_terminal());
        Ui {
            live: tty && !ci && !dumb,
        }
    }

    pub fn status(&self, msg: impl std::fmt::Display) {
        eprintln!("{} {msg}", style("slipway:").dim());
    }

    pub fn warn(&self, msg: impl std::fmt::Display) {
        eprintln!("{} {msg}", style("warning:").yellow().bold());
    }

    pub fn error(&self, msg: impl std::fmt::Display) {
        eprintln!("{} {msg}", style("error:").red().bold());
    }
}

pub fn seconds(d: Duration) -> String {
    format!("{:.1}s", d.as_secs_f64())
}
