//! A stand-in for a board vendor's C SDK: a small shared library for arm64,
//! built with Debian's cross gcc against glibc, installed with its header and
//! a pkg-config file into a sysroot directory, the way SDKs ship driver
//! libraries (a CAN or Ethernet `.so` on a glibc 2.28 rootfs).
//!
//! Tests build a Go program against it through cgo, and run the result with
//! a runtime root that holds glibc and the library.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{require, stdout_ok};

/// The library's soname and file name: what a binary's `DT_NEEDED` names.
pub const SONAME: &str = "libvendor.so";

/// Debian's triple, multiarch directory and cross compiler for the SDK.
const TRIPLE: &str = "aarch64-linux-gnu";

/// glibc's runtime files for arm64 that a dynamically linked cgo program
/// (up to glibc 2.28's split libraries) loads.
const GLIBC_RUNTIME: &[&str] = &[
    "ld-linux-aarch64.so.1",
    "libc.so.6",
    "libpthread.so.0",
    "libdl.so.2",
    "libm.so.6",
    "librt.so.1",
    "libresolv.so.2",
];

const HEADER: &str = r#"/* vendor.h: the stand-in vendor CAN driver's API. */
#ifndef VENDOR_CAN_H
#define VENDOR_CAN_H
#define VENDOR_CAN_API 3
/* Describe a channel into buf; returns the length written, or -1. */
int vendor_can_describe(int channel, char *buf, int len);
/* The library's version, as a number: major*10000 + minor*100 + patch. */
int vendor_can_version(void);
#endif
"#;

const SOURCE: &str = r#"#include <stdio.h>
#include <string.h>
#include "vendor.h"

int vendor_can_version(void) { return 20401; }

int vendor_can_describe(int channel, char *buf, int len) {
    if (channel < 0 || len <= 0) return -1;
    int n = snprintf(buf, (size_t)len, "vendor-can 2.4.1 channel %d up at %d kbit/s", channel, 125 * (channel + 1));
    return n < len ? n : (int)strlen(buf);
}
"#;

/// What [`make`] produced.
#[derive(Debug, Clone)]
pub struct VendorSdk {
    /// The SDK root: `usr/include/vendor/vendor.h`, `usr/lib/libvendor.so`,
    /// `usr/lib/pkgconfig/vendor.pc`. What `[build.target] sysroot` names.
    pub sysroot: PathBuf,
    /// `usr/lib/libvendor.so` inside the sysroot: the file an image must carry.
    pub lib_path: PathBuf,
    /// The header, `usr/include/vendor/vendor.h` inside the sysroot.
    pub header: PathBuf,
    /// The directory holding `vendor.pc`, for `pkg_config_path`.
    pub pkg_config_dir: PathBuf,
    /// A root for `qemu-aarch64 -L`: Debian's arm64 glibc runtime plus
    /// `usr/lib/libvendor.so`.
    pub runtime_root: PathBuf,
}

/// Build the SDK under `dir` (`dir/sdk` and `dir/runtime`). Needs Debian's
/// `gcc-aarch64-linux-gnu` and `libc6-arm64-cross`, or fails saying so.
pub fn make(dir: &Path) -> VendorSdk {
    let gcc = require(&format!("{TRIPLE}-gcc"), "gcc-aarch64-linux-gnu");
    let sysroot = dir.join("sdk");
    let include = sysroot.join("usr/include/vendor");
    let lib_dir = sysroot.join("usr/lib");
    let pkg_config_dir = lib_dir.join("pkgconfig");
    for d in [&include, &pkg_config_dir] {
        std::fs::create_dir_all(d).unwrap();
    }
    let header = include.join("vendor.h");
    std::fs::write(&header, HEADER).unwrap();
    let src_dir = dir.join("vendor-src");
    std::fs::create_dir_all(&src_dir).unwrap();
    std::fs::write(src_dir.join("vendor.c"), SOURCE).unwrap();
    let lib_path = lib_dir.join(SONAME);
    let out = Command::new(&gcc)
        .args(["-shared", "-fPIC", "-O2", "-Wall", "-Werror"])
        .arg(format!("-Wl,-soname,{SONAME}"))
        .arg("-I")
        .arg(&include)
        .arg("-o")
        .arg(&lib_path)
        .arg(src_dir.join("vendor.c"))
        .output()
        .unwrap();
    stdout_ok(&out, &format!("{TRIPLE}-gcc -shared (the vendor library)"));
    std::fs::write(
        pkg_config_dir.join("vendor.pc"),
        "prefix=/usr\nlibdir=${prefix}/lib\nincludedir=${prefix}/include\n\n\
         Name: vendor\nDescription: stand-in vendor CAN driver\nVersion: 2.4.1\n\
         Cflags: -I${includedir}/vendor\nLibs: -L${libdir} -lvendor\n",
    )
    .unwrap();

    let runtime_root = dir.join("runtime");
    let glibc = Path::new("/usr").join(TRIPLE).join("lib");
    let lib = runtime_root.join("lib");
    std::fs::create_dir_all(&lib).unwrap();
    std::fs::create_dir_all(runtime_root.join("usr/lib")).unwrap();
    for name in GLIBC_RUNTIME {
        let from = glibc.join(name);
        assert!(
            from.is_file(),
            "{} is missing: run scripts/setup.sh (Debian package libc6-arm64-cross)",
            from.display()
        );
        std::fs::copy(&from, lib.join(name)).unwrap();
    }
    std::fs::copy(&lib_path, runtime_root.join("usr/lib").join(SONAME)).unwrap();
    VendorSdk {
        sysroot,
        lib_path,
        header,
        pkg_config_dir,
        runtime_root,
    }
}

impl VendorSdk {
    /// The line the program from [`VendorSdk::write_go_module`] prints.
    pub fn expected_line(&self) -> &'static str {
        "vendor says: vendor-can 2.4.1 channel 3 up at 500 kbit/s (library 20401, api 3)"
    }

    /// Write a Go module at `dir` whose main package calls the library
    /// through cgo. With `pkg_config`, it finds the header and library only
    /// through `#cgo pkg-config: vendor`; without, through `<vendor/vendor.h>`
    /// and `-lvendor`, which the sysroot's directories resolve.
    pub fn write_go_module(&self, dir: &Path, pkg_config: bool) -> PathBuf {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(
            dir.join("go.mod"),
            "module example.com/candump\n\ngo 1.22\n",
        )
        .unwrap();
        let (directive, include) = if pkg_config {
            ("#cgo pkg-config: vendor", "#include <vendor.h>")
        } else {
            ("#cgo LDFLAGS: -lvendor", "#include <vendor/vendor.h>")
        };
        std::fs::write(
            dir.join("main.go"),
            format!(
                r#"// Command candump asks the vendor's CAN library to describe a channel.
package main

/*
{directive}
{include}
*/
import "C"

import (
	"fmt"
	"os"
	"unsafe"
)

func main() {{
	buf := make([]byte, 128)
	n := C.vendor_can_describe(3, (*C.char)(unsafe.Pointer(&buf[0])), C.int(len(buf)))
	if n < 0 {{
		fmt.Fprintln(os.Stderr, "vendor_can_describe failed")
		os.Exit(1)
	}}
	fmt.Printf("vendor says: %s (library %d, api %d)\n", buf[:n], int(C.vendor_can_version()), C.VENDOR_CAN_API)
}}
"#
            ),
        )
        .unwrap();
        dir.to_path_buf()
    }
}
