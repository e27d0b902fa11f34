//! A board vendor's C SDK, end to end: a Go program linked through cgo
//! against the stand-in vendor library for arm64 and glibc 2.28, put in an
//! image with the glibc runtime and the vendor `.so` carried by
//! `[image] files`, then started under runc through qemu-user-static. The
//! same image without the `.so` is refused by the runtime closure check.

use std::path::{Path, PathBuf};

use slipway_testkit::vendor_sdk::{self, VendorSdk};

mod common;
use common::*;

const GLIBC_ARM64: [&str; 4] = ["--platform", "linux/arm64", "--libc", "glibc:2.28"];

/// Where the loader finds the library without any rpath: a default directory.
const LIB_IN_IMAGE: &str = "/usr/lib/libvendor.so";

/// The Go module calling the SDK, configured to build against its sysroot
/// with the glibc runtime; with `carry_lib`, the `.so` goes in through
/// `[image] files`.
fn module(sdk: &VendorSdk, dir: &Path, carry_lib: bool) -> PathBuf {
    let module = sdk.write_go_module(dir, false);
    let mut toml = format!(
        "[build.target.\"linux/arm64\"]\nsysroot = \"{}\"\n\n[image]\nruntime = \"glibc\"\n",
        sdk.sysroot.display()
    );
    if carry_lib {
        // `files` takes module files only: the SDK's library is copied in, as a
        // project vendoring its board's driver would.
        std::fs::create_dir_all(module.join("sdk-lib")).unwrap();
        std::fs::copy(
            &sdk.lib_path,
            module.join("sdk-lib").join(vendor_sdk::SONAME),
        )
        .unwrap();
        toml.push_str(&format!(
            "files = [{{ src = \"sdk-lib/{}\", dst = \"{LIB_IN_IMAGE}\", mode = \"0755\" }}]\n",
            vendor_sdk::SONAME
        ));
    }
    std::fs::write(module.join("slipway.toml"), toml).unwrap();
    module
}

#[test]
fn a_vendor_sdk_program_starts_in_its_image_with_the_library_carried() {
    let tmp = tempfile::tempdir().unwrap();
    let sdk = vendor_sdk::make(&tmp.path().join("vendor"));
    let module = module(&sdk, &tmp.path().join("candump"), true);
    let layout = tmp.path().join("layout");
    let json = image(&module, &GLIBC_ARM64, &layout);

    // The check found the vendor library where the files entry put it, and
    // glibc where the runtime put it.
    let binaries = json["closure"][0]["binaries"].as_array().unwrap();
    let app = binaries
        .iter()
        .find(|b| b["binary"] == "/app/candump")
        .unwrap_or_else(|| panic!("no /app/candump in the closure report: {json}"));
    assert_eq!(app["interpreter"], "/lib/ld-linux-aarch64.so.1", "{app}");
    let libs: Vec<&str> = app["libraries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["path"].as_str().unwrap())
        .collect();
    assert!(libs.contains(&LIB_IN_IMAGE), "{libs:?}");
    assert!(
        libs.contains(&"/lib/aarch64-linux-gnu/libc.so.6"),
        "{libs:?}"
    );

    ensure_binfmt("aarch64");
    let bundle = bundle(&layout, "arm64", None, tmp.path());
    assert_eq!(runc_once(&bundle).trim(), sdk.expected_line());
}

#[test]
fn a_vendor_sdk_image_without_the_library_is_refused_naming_it() {
    let tmp = tempfile::tempdir().unwrap();
    let sdk = vendor_sdk::make(&tmp.path().join("vendor"));
    let module = module(&sdk, &tmp.path().join("candump"), false);
    let out_dir = tmp.path().join("layout");
    let out = slipway()
        .arg("image")
        .arg(&module)
        .args(GLIBC_ARM64)
        .arg("--out")
        .arg(&out_dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(exit_code(&out), 1, "{stderr}");
    assert!(
        stderr.contains(vendor_sdk::SONAME) && stderr.contains("runtime closure check"),
        "{stderr}"
    );
    assert!(
        stderr.contains("/app/candump"),
        "names the program: {stderr}"
    );
    assert!(!out_dir.exists(), "nothing is written");
}
