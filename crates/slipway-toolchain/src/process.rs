//! Running a tool and capturing its output, with errors that show the command.

use std::path::Path;
use std::process::Command;

use crate::ToolchainError;

/// Run `cmd` and return its stdout; a failure carries the command and its stderr.
pub(crate) fn output(cmd: &mut Command) -> Result<String, ToolchainError> {
    let shown = show(cmd);
    let out = cmd.output().map_err(|source| ToolchainError::Spawn {
        command: shown.clone(),
        source,
    })?;
    if !out.status.success() {
        return Err(ToolchainError::Failed {
            command: shown,
            status: out.status.to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    String::from_utf8(out.stdout).map_err(|_| ToolchainError::Failed {
        command: shown,
        status: "exit status 0".into(),
        stderr: "its output is not UTF-8".into(),
    })
}

/// The command as a user could paste it.
pub(crate) fn show(cmd: &Command) -> String {
    std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|a| a.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Find an executable on PATH.
pub fn which(name: &str) -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| is_executable(p))
}

pub(crate) fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}
