//! One line of advice under a failed C compile, for the failures cgo users
//! meet most when moving C code to musl or to an old glibc. The compiler's
//! own output stays as it is; the line only says what usually fixes it.

use slipway_platform::{Libc, Target};

/// glibc's explicit large-file names that musl 1.2.4 stopped providing by
/// default: with `_LARGEFILE64_SOURCE` only as macros, never as symbols.
const LFS64_NAMES: &[&str] = &[
    "pread64",
    "pwrite64",
    "preadv64",
    "pwritev64",
    "lseek64",
    "off64_t",
    "ino64_t",
    "blkcnt64_t",
    "fsblkcnt64_t",
    "fsfilcnt64_t",
    "rlim64_t",
    "stat64",
    "fstat64",
    "lstat64",
    "fstatat64",
    "statfs64",
    "fstatfs64",
    "statvfs64",
    "fstatvfs64",
    "open64",
    "openat64",
    "creat64",
    "fopen64",
    "freopen64",
    "tmpfile64",
    "fseeko64",
    "ftello64",
    "fgetpos64",
    "fsetpos64",
    "mmap64",
    "truncate64",
    "ftruncate64",
    "fallocate64",
    "posix_fallocate64",
    "posix_fadvise64",
    "readdir64",
    "readdir64_r",
    "scandir64",
    "alphasort64",
    "dirent64",
    "getdents64",
    "getrlimit64",
    "setrlimit64",
    "prlimit64",
    "lockf64",
    "sendfile64",
    "glob64",
    "globfree64",
    "nftw64",
    "ftw64",
];

/// Advice for the first known pattern in a failed build's output, if any.
pub fn advice(output: &str, target: &Target) -> Option<String> {
    let libc = target.libc;
    if let Some(name) = lfs64_name(output) {
        return Some(match libc {
            Libc::Musl => format!(
                "hint: `{name}` is a glibc large-file name that musl 1.2.4+ no longer provides; slipway compiles with -D_LARGEFILE64_SOURCE, so this comes from code that undefines it or from a prebuilt object: upgrade that library (go-sqlite3 fixed it in v1.14.19), or build {} with --libc glibc:X.Y",
                target.platform
            ),
            _ => format!(
                "hint: `{name}` is a glibc large-file name; the code expects _LARGEFILE64_SOURCE, which slipway sets only for musl: add -D_LARGEFILE64_SOURCE to the package's #cgo CFLAGS or to cflags in [build.target.\"{}\"]",
                target.platform
            ),
        });
    }
    if let Some(header) = missing_header(output) {
        return Some(format!(
            "hint: `{header}` is not among the C library headers zig ships for {}; headers of other libraries come from their SDK: set sysroot (or cflags = [\"-I<dir>\"]) under [build.target.\"{}\"] in slipway.toml (see docs/build.md)",
            target.zig_triple().unwrap_or_else(|| target.to_string()),
            target.platform
        ));
    }
    if let Some(function) = implicit_declaration(output) {
        return Some(match libc {
            Libc::Musl => format!(
                "hint: `{function}` is not declared by musl's headers: if it is a GNU extension, add -D_GNU_SOURCE to #cgo CFLAGS (or cflags in [build.target.\"{}\"]); if it is glibc-only, build with --libc glibc:X.Y",
                target.platform
            ),
            Libc::Glibc(floor) => format!(
                "hint: `{function}` is not declared by glibc {floor}'s headers: it may be newer than the floor; raise it (--libc glibc:X.Y) or avoid the function"
            ),
            Libc::None => format!("hint: `{function}` is used without a declaration"),
        });
    }
    None
}

/// An LFS64 name in a compiler or linker error line.
fn lfs64_name(output: &str) -> Option<&'static str> {
    output
        .lines()
        .filter(|l| l.contains("error"))
        .find_map(|line| {
            LFS64_NAMES
                .iter()
                .find(|name| contains_word(line, name))
                .copied()
        })
}

/// clang: `fatal error: 'vendor.h' file not found`;
/// gcc: `fatal error: vendor.h: No such file or directory`.
fn missing_header(output: &str) -> Option<String> {
    output.lines().find_map(|line| {
        let rest = line.split("fatal error: ").nth(1)?;
        if let Some(name) = rest.strip_suffix(" file not found") {
            return Some(name.trim_matches('\'').to_string());
        }
        let (name, why) = rest.split_once(": ")?;
        (why.trim() == "No such file or directory").then(|| name.to_string())
    })
}

/// clang: `call to undeclared function 'foo'` or `implicit declaration of
/// function 'foo'`; gcc: `implicit declaration of function 'foo'`.
fn implicit_declaration(output: &str) -> Option<String> {
    output.lines().find_map(|line| {
        let rest = [
            "implicit declaration of function ",
            "call to undeclared function ",
        ]
        .iter()
        .find_map(|p| line.split(p).nth(1))?;
        let quoted = rest.trim_start_matches(['\'', '‘', '`']);
        let end = quoted.find(['\'', '’', '`', ';', ' '])?;
        Some(quoted[..end].to_string())
    })
}

fn contains_word(line: &str, word: &str) -> bool {
    line.match_indices(word).any(|(i, _)| {
        let before = line[..i].chars().next_back();
        let after = line[i + word.len()..].chars().next();
        let boundary = |c: Option<char>| !c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
        boundary(before) && boundary(after)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn musl() -> Target {
        Target::new("linux/arm64".parse().unwrap(), Libc::Musl)
    }

    fn glibc() -> Target {
        Target::new(
            "linux/arm64".parse().unwrap(),
            "glibc:2.28".parse().unwrap(),
        )
    }

    #[test]
    fn lfs64_names_from_clang_and_the_linker() {
        let clang = "sqlite3-binding.c:40513:11: error: call to undeclared function 'pread64'; ISO C99 and later do not support implicit function declarations";
        let a = advice(clang, &musl()).unwrap();
        assert!(
            a.starts_with("hint: `pread64` is a glibc large-file name"),
            "{a}"
        );
        assert!(a.contains("v1.14.19"), "{a}");
        let lld = "ld.lld: error: undefined symbol: fstat64";
        assert!(advice(lld, &musl()).unwrap().contains("`fstat64`"));
        let ty = "x.c:3:1: error: unknown type name 'off64_t'";
        assert!(
            advice(ty, &glibc())
                .unwrap()
                .contains("add -D_LARGEFILE64_SOURCE")
        );
        // Names inside longer identifiers are not LFS64 names.
        assert_eq!(
            advice("x.c:1: error: unknown type name 'my_stat64x'", &musl()),
            None
        );
    }

    #[test]
    fn missing_headers_from_clang_and_gcc() {
        let clang = "main.go:4:10: fatal error: 'vendor/can.h' file not found";
        let a = advice(clang, &glibc()).unwrap();
        assert!(
            a.starts_with("hint: `vendor/can.h` is not among the C library headers zig ships for aarch64-linux-gnu.2.28"),
            "{a}"
        );
        assert!(a.contains("[build.target.\"linux/arm64\"]"), "{a}");
        let gcc = "./main.go:5:10: fatal error: libusb.h: No such file or directory";
        assert!(advice(gcc, &glibc()).unwrap().contains("`libusb.h`"));
    }

    #[test]
    fn implicit_declarations_per_libc() {
        let clang = "x.c:9:5: error: call to undeclared function 'qsort_r'; ISO C99 and later do not support implicit function declarations [-Wimplicit-function-declaration]";
        let a = advice(clang, &musl()).unwrap();
        assert!(
            a.starts_with("hint: `qsort_r` is not declared by musl's headers"),
            "{a}"
        );
        let gcc = "x.c:9:5: error: implicit declaration of function ‘getrandom’ [-Werror=implicit-function-declaration]";
        let a = advice(gcc, &glibc()).unwrap();
        assert!(
            a.starts_with("hint: `getrandom` is not declared by glibc 2.28's headers"),
            "{a}"
        );
    }

    #[test]
    fn other_failures_get_no_advice() {
        for output in [
            "main.go:3:2: undefined: fmt.Printl",
            "x.c:1:1: error: expected ';' after expression",
            "",
        ] {
            assert_eq!(advice(output, &musl()), None, "{output}");
        }
    }
}
