//! `capabilities = ["CAP_NET_BIND_SERVICE"]`: Linux file capabilities on the
//! app binary, as the `security.capability` xattr the kernel reads at exec
//! (`struct vfs_cap_data`, revision 2, little-endian, effective bit set so a
//! program that never asks for its capabilities still has them).

use crate::ImageError;

/// Linux capability names, by number (linux/capability.h).
const NAMES: [&str; 41] = [
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
    "PERFMON",
    "BPF",
    "CHECKPOINT_RESTORE",
];

const VFS_CAP_REVISION_2: u32 = 0x0200_0000;
const VFS_CAP_FLAGS_EFFECTIVE: u32 = 0x0000_0001;

/// The `security.capability` value granting `names` (CAP_X or X, any case).
pub fn vfs_cap_data(names: &[String]) -> Result<Vec<u8>, ImageError> {
    let mut permitted: u64 = 0;
    for name in names {
        let bare = name.to_ascii_uppercase();
        let bare = bare.strip_prefix("CAP_").unwrap_or(&bare);
        let bit = NAMES.iter().position(|n| *n == bare).ok_or_else(|| {
            ImageError::Input(format!(
                "capabilities = [\"{name}\"] in [image]: not a Linux capability; valid: {}",
                NAMES
                    .iter()
                    .map(|n| format!("CAP_{n}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })?;
        permitted |= 1 << bit;
    }
    let mut out = Vec::with_capacity(20);
    out.extend_from_slice(&(VFS_CAP_REVISION_2 | VFS_CAP_FLAGS_EFFECTIVE).to_le_bytes());
    out.extend_from_slice(&(permitted as u32).to_le_bytes()); // permitted, caps 0..31
    out.extend_from_slice(&0u32.to_le_bytes()); // inheritable
    out.extend_from_slice(&((permitted >> 32) as u32).to_le_bytes()); // permitted, 32..63
    out.extend_from_slice(&0u32.to_le_bytes());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn net_bind_service_is_bit_ten_and_bad_names_list_the_choices() {
        let v = vfs_cap_data(&["CAP_NET_BIND_SERVICE".into()]).unwrap();
        assert_eq!(
            v,
            [1, 0, 0, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
        );
        let v = vfs_cap_data(&["bpf".into()]).unwrap();
        assert_eq!(&v[12..16], &[0x80, 0, 0, 0]);
        let e = vfs_cap_data(&["CAP_FLY".into()]).unwrap_err().to_string();
        assert!(
            e.contains("CAP_FLY") && e.contains("CAP_NET_BIND_SERVICE"),
            "{e}"
        );
    }
}
