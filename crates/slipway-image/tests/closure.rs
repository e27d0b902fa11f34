//! The closure check on real arm64 glibc binaries and libraries, built with
//! Debian's cross gcc against Debian's cross glibc; each case is confirmed
//! against the real loader (qemu-aarch64 with the merged file system as its
//! root) so the check and ld.so agree.

use std::path::{Path, PathBuf};
use std::process::Command;

use slipway_image::closure::{Problem, check, check_with_library_path, library_path};
use slipway_image::{RootFs, runtime};
use slipway_oci::LayerTar;
use slipway_testkit::require;

const TRIPLET: &str = "aarch64-linux-gnu";

fn sysroot() -> PathBuf {
    let root = runtime::default_sysroot(TRIPLET);
    assert!(
        root.join("lib/libc.so.6").is_file(),
        "Debian's libc6-arm64-cross is required: run scripts/setup.sh"
    );
    root
}

/// Compile C for arm64 with Debian's cross gcc.
fn cc(dir: &Path, out: &str, source: &str, args: &[&str]) -> Vec<u8> {
    let gcc = require("aarch64-linux-gnu-gcc", "gcc-aarch64-linux-gnu");
    let src = dir.join(format!("{out}.c"));
    std::fs::write(&src, source).unwrap();
    let done = Command::new(gcc)
        .arg("-o")
        .arg(dir.join(out))
        .arg(&src)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        done.status.success(),
        "compiling {out}: {}",
        String::from_utf8_lossy(&done.stderr)
    );
    std::fs::read(dir.join(out)).unwrap()
}

const MAIN: &str = r#"#include <stdio.h>
int vendor_answer(void);
int main(void) { printf("vendor says %d\n", vendor_answer()); return 0; }
"#;

/// libvendor.so, which itself needs libdep.so.
fn vendor_libs(dir: &Path) -> (Vec<u8>, Vec<u8>) {
    let dep = cc(
        dir,
        "libdep.so",
        "int dep_value(void) { return 41; }\n",
        &["-shared", "-fPIC"],
    );
    let vendor = cc(
        dir,
        "libvendor.so",
        "int dep_value(void);\nint vendor_answer(void) { return dep_value() + 1; }\n",
        &["-shared", "-fPIC", "-L.", "-ldep"],
    );
    (vendor, dep)
}

/// /app/svc linked against libvendor.so (not in the image), its glibc
/// runtime layer, its app layer, and the two libraries' bytes.
fn vendor_app(dir: &Path) -> (Vec<u8>, Vec<u8>, LayerTar, LayerTar) {
    let (vendor, dep) = vendor_libs(dir);
    let app = cc(dir, "svc", MAIN, &["-L.", "-lvendor", "-Wl,-rpath-link,."]);
    let runtime = glibc_runtime(&app);
    let mut app_layer = LayerTar::new();
    app_layer.file("/app/svc", 0o755, app).unwrap();
    (vendor, dep, runtime, app_layer)
}

/// Lay the layers out as a directory and run the app with the real loader.
fn run_for_real(layers: &[&LayerTar], app: &str) -> std::process::Output {
    run_with_env(layers, app, &[])
}

/// [`run_for_real`], with environment variables set for the guest.
fn run_with_env(layers: &[&LayerTar], app: &str, env: &[&str]) -> std::process::Output {
    let qemu = require("qemu-aarch64", "qemu-user");
    let root = tempfile::tempdir().unwrap();
    for layer in layers {
        let bytes = layer.to_bytes(0).unwrap();
        tar::Archive::new(bytes.as_slice())
            .unpack(root.path())
            .unwrap();
    }
    let mut qemu = Command::new(qemu);
    qemu.arg("-L").arg(root.path());
    for e in env {
        qemu.args(["-E", e]);
    }
    qemu.arg(root.path().join(app.trim_start_matches('/')))
        .output()
        .unwrap()
}

fn glibc_runtime(app: &[u8]) -> LayerTar {
    runtime::glibc_layer(&[app], &sysroot(), TRIPLET).unwrap()
}

#[test]
fn a_glibc_binary_needs_its_loader_and_gets_it_from_the_runtime() {
    let dir = tempfile::tempdir().unwrap();
    let app = cc(
        dir.path(),
        "hello",
        "#include <stdio.h>\nint main(void){puts(\"hi\");return 0;}\n",
        &[],
    );
    let mut app_layer = LayerTar::new();
    app_layer.file("/app/hello", 0o755, app.clone()).unwrap();

    let mut bare = RootFs::new();
    bare.add_layer_tar("app", &app_layer);
    let c = check(&bare, "/app/hello", TRIPLET);
    assert!(
        matches!(&c.problems[..], [Problem::MissingInterpreter { interpreter, layers, .. }]
            if interpreter == "/lib/ld-linux-aarch64.so.1" && layers == &["app"]),
        "{:?}",
        c.problems
    );

    let runtime = glibc_runtime(&app);
    let mut fs = RootFs::new();
    fs.add_layer_tar("glibc", &runtime);
    fs.add_layer_tar("app", &app_layer);
    let c = check(&fs, "/app/hello", TRIPLET);
    assert!(c.ok(), "{:?}", c.problems);
    assert!(
        c.libraries
            .iter()
            .any(|m| m.name == "libc.so.6" && m.path == "/lib/aarch64-linux-gnu/libc.so.6")
    );
    let out = run_for_real(&[&runtime, &app_layer], "/app/hello");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hi\n");

    // The NSS modules `hosts: files dns` dlopens come along, with what they need.
    let bytes = runtime.to_bytes(0).unwrap();
    let names: Vec<String> = tar::Archive::new(bytes.as_slice())
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().display().to_string())
        .collect();
    for module in ["libnss_files.so.2", "libnss_dns.so.2"] {
        assert!(
            names
                .iter()
                .any(|n| n.ends_with(&format!("aarch64-linux-gnu/{module}"))),
            "{module} in {names:?}"
        );
    }
}

#[test]
fn runpath_is_not_inherited_but_rpath_is() {
    let dir = tempfile::tempdir().unwrap();
    let (vendor, dep) = vendor_libs(dir.path());
    let link = |out: &str, tags: &str| {
        cc(
            dir.path(),
            out,
            MAIN,
            &[
                "-L.",
                "-lvendor",
                "-Wl,-rpath-link,.",
                "-Wl,-rpath,$ORIGIN/vendor",
                tags,
            ],
        )
    };
    let with_runpath = link("runpath", "-Wl,--enable-new-dtags");
    let with_rpath = link("rpath", "-Wl,--disable-new-dtags");
    let runtime = glibc_runtime(&with_rpath);
    let mut libs = LayerTar::new();
    libs.file("/app/vendor/libvendor.so", 0o755, vendor)
        .unwrap();
    libs.file("/app/vendor/libdep.so", 0o755, dep).unwrap();

    for (name, app, starts) in [
        ("rpath", with_rpath, true),
        ("runpath", with_runpath, false),
    ] {
        let mut app_layer = LayerTar::new();
        let path = format!("/app/{name}");
        app_layer.file(&path, 0o755, app).unwrap();
        let mut fs = RootFs::new();
        fs.add_layer_tar("glibc", &runtime);
        fs.add_layer_tar("vendor", &libs);
        fs.add_layer_tar("app", &app_layer);
        let c = check(&fs, &path, TRIPLET);
        let real = run_for_real(&[&runtime, &libs, &app_layer], &path);
        assert_eq!(real.status.success(), starts, "the real loader on {name}");
        if starts {
            assert!(c.ok(), "{name}: {:?}", c.problems);
            assert_eq!(String::from_utf8_lossy(&real.stdout), "vendor says 42\n");
        } else {
            // libvendor.so is found through the app's RUNPATH; libdep.so,
            // needed by libvendor.so, is not: RUNPATH is not inherited.
            assert!(
                matches!(&c.problems[..], [Problem::MissingLibrary { library, needed_by, searched, .. }]
                    if library == "libdep.so" && needed_by == "/app/vendor/libvendor.so"
                        && !searched.iter().any(|s| s.contains("vendor"))),
                "{name}: {:?}",
                c.problems
            );
            assert!(String::from_utf8_lossy(&real.stderr).contains("libdep.so"));
        }
    }
}

#[test]
fn a_missing_library_a_whiteout_and_ld_so_conf() {
    let dir = tempfile::tempdir().unwrap();
    let (vendor, dep, runtime, app_layer) = vendor_app(dir.path());

    // Without libvendor.so anywhere: named, with the directories searched.
    let mut fs = RootFs::new();
    fs.add_layer_tar("glibc", &runtime);
    fs.add_layer_tar("app", &app_layer);
    let c = check(&fs, "/app/svc", TRIPLET);
    assert!(
        matches!(&c.problems[..], [Problem::MissingLibrary { library, searched, .. }]
            if library == "libvendor.so" && searched.contains(&"/usr/lib/aarch64-linux-gnu".to_string())),
        "{:?}",
        c.problems
    );
    assert!(c.problems[0].to_string().contains("libvendor.so"));

    // In /opt/vendor, listed by an included ld.so.conf file: found only
    // when the image also has the cache ldconfig builds from it.
    let mut opt = LayerTar::new();
    opt.file("/opt/vendor/libvendor.so", 0o755, vendor.clone())
        .unwrap();
    opt.file("/opt/vendor/libdep.so", 0o755, dep.clone())
        .unwrap();
    opt.file(
        "/etc/ld.so.conf",
        0o644,
        b"include /etc/ld.so.conf.d/*.conf\n".to_vec(),
    )
    .unwrap();
    opt.file(
        "/etc/ld.so.conf.d/vendor.conf",
        0o644,
        b"# the SDK\n/opt/vendor\n".to_vec(),
    )
    .unwrap();
    let mut fs = RootFs::new();
    fs.add_layer_tar("glibc", &runtime);
    fs.add_layer_tar("opt", &opt);
    fs.add_layer_tar("app", &app_layer);
    assert!(!check(&fs, "/app/svc", TRIPLET).ok());
    let mut cache = LayerTar::new();
    cache
        .file("/etc/ld.so.cache", 0o644, b"stand-in".to_vec())
        .unwrap();
    fs.add_layer_tar("cache", &cache);
    let c = check(&fs, "/app/svc", TRIPLET);
    assert!(c.ok(), "{:?}", c.problems);

    // A later layer deleting libc.so.6 (an OCI whiteout) breaks it again.
    let mut lower = Vec::new();
    let mut b = tar::Builder::new(&mut lower);
    let mut h = tar::Header::new_ustar();
    h.set_path("lib/aarch64-linux-gnu/.wh.libc.so.6").unwrap();
    h.set_size(0);
    h.set_mode(0o644);
    h.set_cksum();
    b.append(&h, &[][..]).unwrap();
    b.finish().unwrap();
    drop(b);
    fs.add_tar("delete libc", &lower).unwrap();
    let c = check(&fs, "/app/svc", TRIPLET);
    assert!(
        c.problems.iter().any(
            |p| matches!(p, Problem::MissingLibrary { library, .. } if library == "libc.so.6")
        ),
        "{:?}",
        c.problems
    );
}

#[test]
fn a_libc_without_a_needed_version_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let app = cc(
        dir.path(),
        "hello",
        "#include <stdio.h>\nint main(void){puts(\"hi\");return 0;}\n",
        &[],
    );
    let runtime = glibc_runtime(&app);
    // The same libc, with its GLIBC_2.17 definition renamed: as if it were
    // a glibc that never had that version.
    let mut patched = LayerTar::new();
    for (path, data) in runtime.files() {
        let mut data = data.to_vec();
        if path.ends_with("/libc.so.6") {
            let (from, to) = (b"GLIBC_2.17\0", b"GLIBC_X.17\0");
            let at = data
                .windows(from.len())
                .position(|w| w == from)
                .expect("libc names GLIBC_2.17");
            data[at..at + to.len()].copy_from_slice(to);
        }
        patched.file(path, 0o755, data).unwrap();
    }
    patched
        .symlink(
            "/lib/ld-linux-aarch64.so.1",
            "aarch64-linux-gnu/ld-linux-aarch64.so.1",
        )
        .unwrap();
    let mut app_layer = LayerTar::new();
    app_layer.file("/app/hello", 0o755, app).unwrap();
    let mut fs = RootFs::new();
    fs.add_layer_tar("old glibc", &patched);
    fs.add_layer_tar("app", &app_layer);
    let c = check(&fs, "/app/hello", TRIPLET);
    assert!(
        c.problems.iter().any(|p| matches!(p,
            Problem::MissingVersion { version, library, needed_by, layer, .. }
                if version == "GLIBC_2.17" && library == "libc.so.6"
                    && needed_by == "/app/hello" && layer == "old glibc")),
        "{:?}",
        c.problems
    );
    let real = run_for_real(&[&patched, &app_layer], "/app/hello");
    assert!(
        !real.status.success(),
        "the real loader started it: {}",
        String::from_utf8_lossy(&real.stdout)
    );
    assert!(
        String::from_utf8_lossy(&real.stderr).contains("GLIBC_2.17"),
        "{}",
        String::from_utf8_lossy(&real.stderr)
    );
}

#[test]
fn static_binaries_need_no_runtime_and_no_sysroot() {
    let dir = tempfile::tempdir().unwrap();
    let src = "#include <stdio.h>\nint main(void){puts(\"hi\");return 0;}\n";
    let fixed = cc(dir.path(), "static", src, &["-static"]);
    let dynamic = cc(dir.path(), "dynamic", src, &[]);
    let nowhere = dir.path().join("no-sysroot");
    let layer = runtime::glibc_layer(&[&fixed], &nowhere, TRIPLET).unwrap();
    assert!(layer.entries().next().is_none());
    let e = runtime::glibc_layer(&[&dynamic], &nowhere, TRIPLET)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("no libc.so.6") && e.contains("libc6-arm64-cross"),
        "{e}"
    );
    let mut app = LayerTar::new();
    app.file("/app/static", 0o755, fixed).unwrap();
    let mut fs = RootFs::new();
    fs.add_layer_tar("app", &app);
    let c = check(&fs, "/app/static", TRIPLET);
    assert!(c.ok() && c.is_static, "{c:?}");
}

#[test]
fn ld_library_path_from_the_image_env_is_searched() {
    let dir = tempfile::tempdir().unwrap();
    let (vendor, dep, runtime, app_layer) = vendor_app(dir.path());
    let mut opt = LayerTar::new();
    opt.file("/opt/vendor/lib/libvendor.so", 0o755, vendor)
        .unwrap();
    opt.file("/opt/vendor/lib/libdep.so", 0o755, dep).unwrap();
    let mut fs = RootFs::new();
    fs.add_layer_tar("glibc", &runtime);
    fs.add_layer_tar("opt", &opt);
    fs.add_layer_tar("app", &app_layer);

    // Not on any default path: both the check and the loader fail.
    let c = check(&fs, "/app/svc", TRIPLET);
    assert!(
        c.problems.iter().any(
            |p| matches!(p, Problem::MissingLibrary { library, .. } if library == "libvendor.so")
        ),
        "{:?}",
        c.problems
    );
    let real = run_with_env(
        &[&runtime, &opt, &app_layer],
        "/app/svc",
        &["LD_LIBRARY_PATH=/nowhere"],
    );
    assert!(!real.status.success());

    // With the image's LD_LIBRARY_PATH (the last setting wins, as in Env).
    let env = [
        "LD_LIBRARY_PATH=/nowhere".to_string(),
        "PATH=/app".to_string(),
        "LD_LIBRARY_PATH=/usr/local/lib:/opt/vendor/lib".to_string(),
    ];
    let search = library_path(&env);
    assert_eq!(search, ["/usr/local/lib", "/opt/vendor/lib"]);
    let c = check_with_library_path(&fs, "/app/svc", TRIPLET, &search);
    assert!(c.ok(), "{:?}", c.problems);
    let real = run_with_env(
        &[&runtime, &opt, &app_layer],
        "/app/svc",
        &["LD_LIBRARY_PATH=/usr/local/lib:/opt/vendor/lib"],
    );
    assert_eq!(
        String::from_utf8_lossy(&real.stdout),
        "vendor says 42\n",
        "{}",
        String::from_utf8_lossy(&real.stderr)
    );
}

#[test]
fn weak_version_references_may_be_missing_and_strong_ones_may_not() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("v2.map"),
        "VENDOR_1 { global: vendor_answer; local: *; };\nVENDOR_2 { global: vendor_extra; } VENDOR_1;\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("v1.map"),
        "VENDOR_1 { global: vendor_answer; local: *; };\n",
    )
    .unwrap();
    let lib = "int vendor_answer(void) { return 42; }\nint vendor_extra(void) { return 1; }\n";
    let new = cc(
        dir.path(),
        "libvendor.so",
        lib,
        &["-shared", "-fPIC", "-Wl,--version-script=v2.map"],
    );
    // The app uses vendor_extra only if present: a weak reference, so its
    // need of VENDOR_2 is weak; vendor_answer's VENDOR_1 is strong.
    let weak_main = r#"#include <stdio.h>
int vendor_answer(void);
int vendor_extra(void) __attribute__((weak));
int main(void) { printf("vendor says %d extra %d\n", vendor_answer(), vendor_extra ? vendor_extra() : 0); return 0; }
"#;
    let mut app = cc(
        dir.path(),
        "svc",
        weak_main,
        &["-L.", "-lvendor", "-Wl,-rpath,/opt/vendor"],
    );
    // GNU ld leaves vna_flags 0 even so; other linkers set VER_FLG_WEAK
    // here. Set it as they do, and let the real loader judge the result.
    set_weak_version(&mut app, "VENDOR_2");
    let needs = slipway_elf::runtime_needs(&app).unwrap();
    let vendor_needs = needs
        .version_needs
        .iter()
        .find(|n| n.file == "libvendor.so")
        .expect("the app needs versions of libvendor.so");
    assert_eq!(vendor_needs.weak, ["VENDOR_2"], "{vendor_needs:?}");

    let runtime = glibc_runtime(&app);
    let mut app_layer = LayerTar::new();
    app_layer.file("/app/svc", 0o755, app).unwrap();
    let with_lib = |bytes: Vec<u8>| {
        let mut opt = LayerTar::new();
        opt.file("/opt/vendor/libvendor.so", 0o755, bytes).unwrap();
        opt
    };
    let check_and_run = |opt: &LayerTar| {
        let mut fs = RootFs::new();
        fs.add_layer_tar("glibc", &runtime);
        fs.add_layer_tar("opt", opt);
        fs.add_layer_tar("app", &app_layer);
        let c = check(&fs, "/app/svc", TRIPLET);
        let real = run_for_real(&[&runtime, opt, &app_layer], "/app/svc");
        (c, real)
    };

    // An older build with VENDOR_1 only: the weak VENDOR_2 may be missing.
    let old = cc(
        dir.path(),
        "libvendor.so",
        "int vendor_answer(void) { return 42; }\n",
        &["-shared", "-fPIC", "-Wl,--version-script=v1.map"],
    );
    let (c, real) = check_and_run(&with_lib(old));
    assert!(c.ok(), "{:?}", c.problems);
    assert_eq!(
        String::from_utf8_lossy(&real.stdout),
        "vendor says 42 extra 0\n"
    );

    // A build without any version definitions: glibc warns, then fails
    // the versioned lookup of vendor_answer; the check refuses it too.
    let plain = cc(
        dir.path(),
        "libvendor.so",
        "int vendor_answer(void) { return 42; }\n",
        &["-shared", "-fPIC"],
    );
    let (c, real) = check_and_run(&with_lib(plain));
    assert!(
        c.problems
            .iter()
            .any(|p| matches!(p, Problem::MissingVersion { version, .. } if version == "VENDOR_1")),
        "{:?}",
        c.problems
    );
    assert!(!real.status.success());

    // A versioned build that lacks the strong VENDOR_1: both refuse it.
    std::fs::write(
        dir.path().join("other.map"),
        "OTHER_1 { global: vendor_answer; local: *; };\n",
    )
    .unwrap();
    let other = cc(
        dir.path(),
        "libvendor.so",
        "int vendor_answer(void) { return 42; }\n",
        &["-shared", "-fPIC", "-Wl,--version-script=other.map"],
    );
    let (c, real) = check_and_run(&with_lib(other));
    assert!(
        c.problems
            .iter()
            .any(|p| matches!(p, Problem::MissingVersion { version, .. } if version == "VENDOR_1")),
        "{:?}",
        c.problems
    );
    assert!(!real.status.success());
    assert!(String::from_utf8_lossy(&real.stderr).contains("VENDOR_1"));

    // And the new build, of course.
    let (c, real) = check_and_run(&with_lib(new));
    assert!(c.ok(), "{:?}", c.problems);
    assert_eq!(
        String::from_utf8_lossy(&real.stdout),
        "vendor says 42 extra 1\n"
    );
}

/// The System V ELF hash, as `vna_hash` holds it.
fn elf_hash(name: &str) -> u32 {
    let mut h: u32 = 0;
    for &c in name.as_bytes() {
        h = (h << 4).wrapping_add(u32::from(c));
        let g = h & 0xf000_0000;
        if g != 0 {
            h ^= g >> 24;
        }
        h &= !g;
    }
    h
}

/// Set `VER_FLG_WEAK` on the `Vernaux` entry for `version` of a
/// little-endian ELF64 file.
fn set_weak_version(elf: &mut [u8], version: &str) {
    let u16_at = |b: &[u8], o: usize| u16::from_le_bytes([b[o], b[o + 1]]) as usize;
    let u32_at = |b: &[u8], o: usize| u32::from_le_bytes(b[o..o + 4].try_into().unwrap());
    let u64_at = |b: &[u8], o: usize| u64::from_le_bytes(b[o..o + 8].try_into().unwrap()) as usize;
    let (shoff, shentsize, shnum) = (u64_at(elf, 0x28), u16_at(elf, 0x3a), u16_at(elf, 0x3c));
    let verneed = (0..shnum)
        .map(|i| shoff + i * shentsize)
        .find(|&sh| u32_at(elf, sh + 4) == 0x6fff_fffe)
        .map(|sh| u64_at(elf, sh + 0x18))
        .expect("a .gnu.version_r section");
    let wanted = elf_hash(version);
    let mut at = verneed;
    loop {
        let count = u16_at(elf, at + 2);
        let mut aux = at + u32_at(elf, at + 8) as usize;
        for _ in 0..count {
            if u32_at(elf, aux) == wanted {
                elf[aux + 4..aux + 6].copy_from_slice(&2u16.to_le_bytes());
                return;
            }
            aux += u32_at(elf, aux + 12) as usize;
        }
        match u32_at(elf, at + 12) {
            0 => panic!("no Vernaux for {version}"),
            next => at += next as usize,
        }
    }
}
