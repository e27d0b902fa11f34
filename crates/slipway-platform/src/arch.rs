//! The Go linux ports and the per-architecture facts slipway needs about them.

use crate::GlibcVersion;

/// A Go `GOARCH` that runs on Linux.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Arch {
    Amd64,
    I386,
    Arm,
    Arm64,
    Riscv64,
    Mips,
    Mipsle,
    Mips64,
    Mips64le,
    Ppc64,
    Ppc64le,
    S390x,
    Loong64,
}

impl Arch {
    /// Every Go linux port, in the order `slipway targets` lists them.
    pub const ALL: [Arch; 13] = [
        Arch::Amd64,
        Arch::Arm64,
        Arch::Arm,
        Arch::I386,
        Arch::Riscv64,
        Arch::Mips,
        Arch::Mipsle,
        Arch::Mips64,
        Arch::Mips64le,
        Arch::Ppc64le,
        Arch::Ppc64,
        Arch::S390x,
        Arch::Loong64,
    ];

    /// The `GOARCH` spelling, which is also the OCI architecture name.
    pub fn goarch(self) -> &'static str {
        match self {
            Arch::Amd64 => "amd64",
            Arch::I386 => "386",
            Arch::Arm => "arm",
            Arch::Arm64 => "arm64",
            Arch::Riscv64 => "riscv64",
            Arch::Mips => "mips",
            Arch::Mipsle => "mipsle",
            Arch::Mips64 => "mips64",
            Arch::Mips64le => "mips64le",
            Arch::Ppc64 => "ppc64",
            Arch::Ppc64le => "ppc64le",
            Arch::S390x => "s390x",
            Arch::Loong64 => "loong64",
        }
    }

    pub fn from_goarch(s: &str) -> Option<Arch> {
        Arch::ALL.into_iter().find(|a| a.goarch() == s)
    }

    /// Names people type for an architecture that Go spells differently.
    pub fn from_alias(s: &str) -> Option<(Arch, Option<&'static str>)> {
        let found = match s {
            "x86_64" | "x86-64" | "x64" => (Arch::Amd64, None),
            "i386" | "i686" | "x86" => (Arch::I386, None),
            "aarch64" | "armv8" => (Arch::Arm64, None),
            "armhf" | "armv7" | "armv7l" => (Arch::Arm, Some("v7")),
            "armv6" | "armv6l" => (Arch::Arm, Some("v6")),
            "armel" | "armv5" | "armv5te" => (Arch::Arm, Some("v5")),
            "mipsel" => (Arch::Mipsle, None),
            "mips64el" => (Arch::Mips64le, None),
            "ppc64el" | "powerpc64le" => (Arch::Ppc64le, None),
            "powerpc64" => (Arch::Ppc64, None),
            "riscv" | "riscv64gc" => (Arch::Riscv64, None),
            "loongarch64" => (Arch::Loong64, None),
            _ => return None,
        };
        Some(found)
    }

    /// The Go environment variable that selects this architecture's variant.
    pub fn variant_var(self) -> Option<&'static str> {
        match self {
            Arch::Amd64 => Some("GOAMD64"),
            Arch::I386 => Some("GO386"),
            Arch::Arm => Some("GOARM"),
            Arch::Arm64 => Some("GOARM64"),
            Arch::Riscv64 => Some("GORISCV64"),
            Arch::Mips | Arch::Mipsle => Some("GOMIPS"),
            Arch::Mips64 | Arch::Mips64le => Some("GOMIPS64"),
            Arch::Ppc64 | Arch::Ppc64le => Some("GOPPC64"),
            Arch::S390x | Arch::Loong64 => None,
        }
    }

    /// Whether Go supports cgo on linux for this port (`go tool dist list -json`).
    /// The installed Go is asked as well; this is the answer before any I/O.
    pub fn cgo_supported(self) -> bool {
        !matches!(self, Arch::Ppc64)
    }

    /// First-class Go ports; the others are best-effort upstream.
    pub fn first_class(self) -> bool {
        matches!(self, Arch::Amd64 | Arch::I386 | Arch::Arm | Arch::Arm64)
    }

    pub fn is_mips32(self) -> bool {
        matches!(self, Arch::Mips | Arch::Mipsle)
    }

    pub fn is_mips64(self) -> bool {
        matches!(self, Arch::Mips64 | Arch::Mips64le)
    }

    /// zig's architecture name, the first part of its target triple.
    pub fn zig_arch(self) -> &'static str {
        match self {
            Arch::Amd64 => "x86_64",
            Arch::I386 => "x86",
            Arch::Arm => "arm",
            Arch::Arm64 => "aarch64",
            Arch::Riscv64 => "riscv64",
            Arch::Mips => "mips",
            Arch::Mipsle => "mipsel",
            Arch::Mips64 => "mips64",
            Arch::Mips64le => "mips64el",
            Arch::Ppc64 => "powerpc64",
            Arch::Ppc64le => "powerpc64le",
            Arch::S390x => "s390x",
            Arch::Loong64 => "loongarch64",
        }
    }

    /// The oldest glibc zig can target on this architecture
    /// (ziglang/zig `lib/std/zig/target.zig`); `None` means zig's oldest, 2.17 or below.
    pub fn zig_glibc_floor(self) -> Option<GlibcVersion> {
        match self {
            Arch::Arm64 => Some(GlibcVersion::new(2, 17)),
            Arch::Ppc64le => Some(GlibcVersion::new(2, 19)),
            Arch::Riscv64 => Some(GlibcVersion::new(2, 27)),
            Arch::Loong64 => Some(GlibcVersion::new(2, 36)),
            _ => None,
        }
    }

    /// The ELF `e_machine` a binary for this architecture carries.
    pub fn elf_machine(self) -> u16 {
        match self {
            Arch::Amd64 => 62,
            Arch::I386 => 3,
            Arch::Arm => 40,
            Arch::Arm64 => 183,
            Arch::Riscv64 => 243,
            Arch::Mips | Arch::Mipsle | Arch::Mips64 | Arch::Mips64le => 8,
            Arch::Ppc64 | Arch::Ppc64le => 21,
            Arch::S390x => 22,
            Arch::Loong64 => 258,
        }
    }

    /// The name of the qemu-user emulator that runs this architecture's binaries.
    pub fn qemu_name(self) -> &'static str {
        match self {
            Arch::Amd64 => "x86_64",
            Arch::I386 => "i386",
            Arch::Arm => "arm",
            Arch::Arm64 => "aarch64",
            Arch::Riscv64 => "riscv64",
            Arch::Mips => "mips",
            Arch::Mipsle => "mipsel",
            Arch::Mips64 => "mips64",
            Arch::Mips64le => "mips64el",
            Arch::Ppc64 => "ppc64",
            Arch::Ppc64le => "ppc64le",
            Arch::S390x => "s390x",
            Arch::Loong64 => "loongarch64",
        }
    }
}

impl std::fmt::Display for Arch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.goarch())
    }
}
