//! Every parsing and validation rule, with the message a user sees.

use proptest::prelude::*;
use slipway_platform::{Arch, CCompiler, Libc, Platform, Target, TargetError, check_ldflags};

fn platform(s: &str) -> Platform {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn err(s: &str) -> String {
    match s.parse::<Platform>() {
        Ok(p) => panic!("{s} parsed as {p}"),
        Err(e) => e.to_string(),
    }
}

fn target(p: &str, libc: &str) -> Target {
    Target::new(platform(p), libc.parse().unwrap())
}

fn env(t: &Target) -> Vec<String> {
    t.go_env()
        .into_iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect()
}

#[test]
fn parses_every_go_linux_port_with_its_default_variant() {
    let expected = [
        ("linux/amd64", "GOAMD64=v1"),
        ("linux/386", "GO386=sse2"),
        ("linux/arm", "GOARM=7"),
        ("linux/arm64", "GOARM64=v8.0"),
        ("linux/riscv64", "GORISCV64=rva20u64"),
        ("linux/mips", "GOMIPS=hardfloat"),
        ("linux/mipsle", "GOMIPS=hardfloat"),
        ("linux/mips64", "GOMIPS64=hardfloat"),
        ("linux/mips64le", "GOMIPS64=hardfloat"),
        ("linux/ppc64le", "GOPPC64=power8"),
        ("linux/ppc64", "GOPPC64=power8"),
    ];
    for (input, var) in expected {
        let t = Target::new(platform(input), Libc::None);
        assert!(env(&t).contains(&var.to_string()), "{input}: {:?}", env(&t));
    }
    for input in ["linux/s390x", "linux/loong64"] {
        let t = Target::new(platform(input), Libc::None);
        assert_eq!(
            env(&t).len(),
            3,
            "{input} sets only GOOS, GOARCH, CGO_ENABLED: {:?}",
            env(&t)
        );
    }
    assert_eq!(Arch::ALL.len(), 13);
}

#[test]
fn derives_the_exact_go_environment() {
    assert_eq!(
        env(&target("linux/arm/v7+softfloat", "musl")),
        [
            "GOOS=linux",
            "GOARCH=arm",
            "GOARM=7,softfloat",
            "CGO_ENABLED=1"
        ]
    );
    assert_eq!(
        env(&target("linux/arm64/v8.2+lse+crypto", "none")),
        [
            "GOOS=linux",
            "GOARCH=arm64",
            "GOARM64=v8.2,lse,crypto",
            "CGO_ENABLED=0"
        ]
    );
    assert_eq!(
        env(&target("linux/mipsle/softfloat", "musl"))[2],
        "GOMIPS=softfloat"
    );
    assert_eq!(
        env(&target("linux/mips64le/softfloat", "none"))[2],
        "GOMIPS64=softfloat"
    );
    assert_eq!(
        env(&target("linux/386/softfloat", "none"))[2],
        "GO386=softfloat"
    );
    assert_eq!(
        env(&target("linux/riscv64/rva23u64", "none"))[2],
        "GORISCV64=rva23u64"
    );
    assert_eq!(
        env(&target("linux/ppc64le/power10", "none"))[2],
        "GOPPC64=power10"
    );
    assert_eq!(env(&target("linux/amd64/v3", "none"))[2], "GOAMD64=v3");
    assert_eq!(env(&target("linux/arm/v5", "none"))[2], "GOARM=5");
}

#[test]
fn canonical_names_and_directories() {
    assert_eq!(platform("linux/arm").to_string(), "linux/arm/v7");
    assert_eq!(platform("linux/arm64/v8").to_string(), "linux/arm64");
    assert_eq!(platform("linux/amd64/v1").to_string(), "linux/amd64");
    assert_eq!(
        platform("linux/mipsle/softfloat").to_string(),
        "linux/mipsle/softfloat"
    );
    assert_eq!(platform("linux/arm/v7").dir_name(), "linux_arm_v7");
    assert_eq!(platform("linux/arm64").dir_name(), "linux_arm64");
    assert_eq!(
        platform("linux/arm64/v8.2+lse").dir_name(),
        "linux_arm64_v8.2+lse"
    );
    assert_eq!(
        platform("linux/arm/v6+softfloat").to_string(),
        "linux/arm/v6+softfloat"
    );
}

#[test]
fn oci_variants_are_normalised() {
    let v = |s: &str| platform(s).oci_variant();
    assert_eq!(v("linux/arm"), Some("v7".into()));
    assert_eq!(v("linux/arm/v5"), Some("v5".into()));
    assert_eq!(v("linux/arm/v6+softfloat"), Some("v6".into()));
    assert_eq!(v("linux/arm64/v8.2+lse"), None);
    assert_eq!(v("linux/amd64"), None);
    assert_eq!(v("linux/amd64/v3"), Some("v3".into()));
    assert_eq!(v("linux/riscv64"), None);
    assert_eq!(v("linux/riscv64/rva22u64"), Some("rva22u64".into()));
    assert_eq!(v("linux/mipsle/softfloat"), None);
}

#[test]
fn derives_zig_and_gnu_triples() {
    let cases = [
        ("linux/amd64", "musl", "x86_64-linux-musl"),
        ("linux/386", "musl", "x86-linux-musl"),
        ("linux/arm64", "glibc:2.28", "aarch64-linux-gnu.2.28"),
        ("linux/arm/v5", "musl", "arm-linux-musleabi"),
        ("linux/arm/v6", "musl", "arm-linux-musleabihf"),
        (
            "linux/arm/v7+softfloat",
            "glibc:2.28",
            "arm-linux-gnueabi.2.28",
        ),
        ("linux/arm/v7", "glibc:2.31", "arm-linux-gnueabihf.2.31"),
        ("linux/mipsle/softfloat", "musl", "mipsel-linux-musleabi"),
        ("linux/mips", "musl", "mips-linux-musleabihf"),
        (
            "linux/mips/softfloat",
            "glibc:2.28",
            "mips-linux-gnueabi.2.28",
        ),
        ("linux/mips64le", "musl", "mips64el-linux-muslabi64"),
        ("linux/mips64", "glibc:2.28", "mips64-linux-gnuabi64.2.28"),
        ("linux/riscv64", "musl", "riscv64-linux-musl"),
        ("linux/ppc64le", "glibc:2.28", "powerpc64le-linux-gnu.2.28"),
        ("linux/s390x", "musl", "s390x-linux-musl"),
        ("linux/loong64", "glibc:2.36", "loongarch64-linux-gnu.2.36"),
    ];
    for (p, libc, triple) in cases {
        assert_eq!(
            target(p, libc).zig_triple().as_deref(),
            Some(triple),
            "{p} {libc}"
        );
    }
    assert_eq!(target("linux/amd64", "none").zig_triple(), None);

    assert_eq!(
        target("linux/arm/v5", "glibc:2.28").gnu_triple(),
        Ok("arm-linux-gnueabi")
    );
    assert_eq!(
        target("linux/arm/v7", "glibc:2.28").gnu_triple(),
        Ok("arm-linux-gnueabihf")
    );
    assert_eq!(
        target("linux/mips64le", "glibc:2.28").gnu_triple(),
        Ok("mips64el-linux-gnuabi64")
    );
    assert_eq!(
        target("linux/386", "glibc:2.28").gnu_triple(),
        Ok("i686-linux-gnu")
    );
}

#[test]
fn zig_mcpu_keeps_c_code_within_the_go_variant() {
    assert_eq!(
        target("linux/arm/v5", "musl").zig_mcpu(),
        Some("arm926ej_s")
    );
    assert_eq!(
        target("linux/arm/v6", "musl").zig_mcpu(),
        Some("arm1176jzf_s")
    );
    assert_eq!(
        target("linux/arm/v7", "musl").zig_mcpu(),
        Some("generic+v7a")
    );
    assert_eq!(
        target("linux/amd64/v3", "musl").zig_mcpu(),
        Some("x86_64_v3")
    );
    assert_eq!(
        target("linux/386/softfloat", "musl").zig_mcpu(),
        Some("i686")
    );
    assert_eq!(
        target("linux/ppc64le/power9", "musl").zig_mcpu(),
        Some("pwr9")
    );
    assert_eq!(target("linux/arm64", "musl").zig_mcpu(), None);
    assert_eq!(
        target("linux/loong64", "musl").zig_mcpu(),
        Some("generic_la64+f+d")
    );
}

#[test]
fn static_modes_get_static_tags_and_link_flags() {
    assert_eq!(
        target("linux/arm64", "none").build_tags(),
        ["netgo", "osusergo"]
    );
    assert_eq!(
        target("linux/arm64", "musl").build_tags(),
        ["netgo", "osusergo"]
    );
    assert!(target("linux/arm64", "glibc:2.28").build_tags().is_empty());
    assert_eq!(
        target("linux/arm64", "musl").ldflags(),
        ["-linkmode=external", "-extldflags=-static"]
    );
    assert_eq!(
        target("linux/arm64", "glibc:2.28").ldflags(),
        ["-linkmode=external"]
    );
    assert!(target("linux/arm64", "none").ldflags().is_empty());
}

#[test]
fn unknown_os_and_arch_name_the_part_and_the_choices() {
    let e = err("darwin/arm64");
    assert!(
        e.contains("unknown OS `darwin`") && e.contains("linux only"),
        "{e}"
    );
    let e = err("linux/aarch64");
    assert!(e.contains("unknown architecture `aarch64`"), "{e}");
    assert!(e.contains("did you mean linux/arm64?"), "{e}");
    assert!(e.contains("amd64, arm64, arm, 386, riscv64"), "{e}");
    let e = err("linux/armhf");
    assert!(e.contains("did you mean linux/arm/v7?"), "{e}");
    let e = err("linux/sparc64");
    assert!(
        e.contains("unknown architecture `sparc64`") && !e.contains("did you mean"),
        "{e}"
    );
    for bad in ["linux", "linux/arm/v7/x", "", "linux/arm/"] {
        assert!(
            err(bad).contains("os/arch[/variant]"),
            "{bad}: {}",
            err(bad)
        );
    }
}

#[test]
fn malformed_variants_list_the_valid_ones() {
    let e = err("linux/arm/v8");
    assert_eq!(
        e,
        "`v8` in `linux/arm/v8` is a variant of arm64, not of arm: arm takes v5, v6, v7 (default)"
    );
    let e = err("linux/amd64/v5");
    assert!(e.contains("v1 (default), v2, v3, v4"), "{e}");
    let e = err("linux/arm64/v8.10");
    assert!(e.contains("v8.0 (default) .. v8.9, v9.0 .. v9.5"), "{e}");
    let e = err("linux/arm64/v9.6");
    assert!(e.contains("is not a variant of arm64"), "{e}");
    let e = err("linux/riscv64/rva21u64");
    assert!(e.contains("rva20u64 (default), rva22u64, rva23u64"), "{e}");
    let e = err("linux/ppc64le/power7");
    assert!(e.contains("power8 (default), power9, power10"), "{e}");
    let e = err("linux/mips/soft");
    assert!(e.contains("hardfloat (default), softfloat"), "{e}");
    let e = err("linux/386/sse3");
    assert!(e.contains("sse2 (default), softfloat"), "{e}");
}

#[test]
fn variant_of_another_architecture_says_whose_it_is() {
    let e = err("linux/arm64/v7");
    assert_eq!(
        e,
        "`v7` in `linux/arm64/v7` is a variant of arm, not of arm64: arm64 takes v8.0 (default) .. v8.9, v9.0 .. v9.5"
    );
    let e = err("linux/amd64/v8.2");
    assert!(e.contains("is a variant of arm64, not of amd64"), "{e}");
    let e = err("linux/arm/softfloat");
    assert!(e.contains("is a variant of mips"), "{e}");
    let e = err("linux/s390x/v1");
    assert!(
        e.contains("s390x has no variants; write linux/s390x"),
        "{e}"
    );
    let e = err("linux/loong64/hardfloat");
    assert!(e.contains("loong64 has no variants"), "{e}");
}

#[test]
fn options_are_checked_per_architecture() {
    let e = err("linux/arm/v7+lse");
    assert!(
        e.contains("`+lse`") && e.contains("+softfloat or +hardfloat"),
        "{e}"
    );
    let e = err("linux/arm64/v8.2+softfloat");
    assert!(
        e.contains("`+softfloat`") && e.contains("+lse, +crypto"),
        "{e}"
    );
    let e = err("linux/amd64/v3+lse");
    assert!(e.contains("not an option of amd64"), "{e}");
    let e = err("linux/arm/v7+softfloat+hardfloat");
    assert!(e.contains("`+hardfloat`"), "{e}");
    let e = err("linux/arm64/v8.1+lse+lse");
    assert!(e.contains("`+lse`"), "{e}");
}

#[test]
fn lists_parse_and_reject_repeats() {
    let list = Platform::parse_list("linux/amd64, linux/arm64,linux/arm/v7").unwrap();
    assert_eq!(list.len(), 3);
    let e = Platform::parse_list("linux/arm,linux/arm/v7")
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "linux/arm/v7 is listed twice (as `linux/arm` and `linux/arm/v7`)"
    );
    let e = Platform::parse_list("linux/amd64,,linux/arm64")
        .unwrap_err()
        .to_string();
    assert!(e.contains("empty entry"), "{e}");
}

#[test]
fn libc_modes_parse_with_helpful_errors() {
    assert_eq!("none".parse::<Libc>().unwrap(), Libc::None);
    assert_eq!("musl".parse::<Libc>().unwrap(), Libc::Musl);
    assert_eq!(
        "glibc:2.28".parse::<Libc>().unwrap().to_string(),
        "glibc:2.28"
    );
    assert_eq!(
        "glibc:2.2.5".parse::<Libc>().unwrap().to_string(),
        "glibc:2.2.5"
    );
    let e = "glibc".parse::<Libc>().unwrap_err().to_string();
    assert!(e.contains("glibc:2.28"), "{e}");
    let e = "glibc:two".parse::<Libc>().unwrap_err().to_string();
    assert!(e.contains("`glibc:two` has no valid glibc version"), "{e}");
    let e = "uclibc".parse::<Libc>().unwrap_err().to_string();
    assert!(
        e.contains("unknown libc mode `uclibc`") && e.contains("none") && e.contains("musl"),
        "{e}"
    );
}

#[test]
fn cgo_where_go_has_none() {
    let e = target("linux/ppc64", "musl")
        .validate(CCompiler::Zig)
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "linux/ppc64 has no cgo in Go, so --libc musl cannot work: use --libc none"
    );
    assert!(
        target("linux/ppc64", "none")
            .validate(CCompiler::Zig)
            .is_ok()
    );
}

#[test]
fn soft_float_go_needs_a_soft_float_c_abi() {
    // zig always picks the matching ABI...
    assert!(
        target("linux/mipsle/softfloat", "musl")
            .validate(CCompiler::Zig)
            .is_ok()
    );
    assert!(
        target("linux/arm/v7+softfloat", "musl")
            .validate(CCompiler::Zig)
            .is_ok()
    );
    // ...Debian's mips gcc is hard-float only.
    let e = target("linux/mipsle/softfloat", "glibc:2.36")
        .validate(CCompiler::Gnu)
        .unwrap_err();
    assert!(matches!(e, TargetError::FloatAbiMismatch { .. }));
    assert!(
        e.to_string()
            .contains("soft-float Go, but mipsel-linux-gnu-gcc uses the hard-float C ABI"),
        "{e}"
    );
    // ARMv5 has no FPU, so a hard-float C ABI cannot exist there.
    let e = target("linux/arm/v5+hardfloat", "musl")
        .validate(CCompiler::Zig)
        .unwrap_err();
    assert!(e.to_string().contains("ARMv5 has no FPU"), "{e}");
    let e = target("linux/arm/v5+hardfloat", "glibc:2.36")
        .validate(CCompiler::Gnu)
        .unwrap_err();
    assert!(e.to_string().contains("ARMv5 has no FPU"), "{e}");
    assert!(
        target("linux/arm/v5+hardfloat", "none")
            .validate(CCompiler::Zig)
            .is_ok()
    );
}

#[test]
fn zig_has_no_soft_float_mips64_libc() {
    for p in ["linux/mips64/softfloat", "linux/mips64le/softfloat"] {
        let e = target(p, "musl")
            .validate(CCompiler::Zig)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("zig ships no soft-float mips64 C library"),
            "{e}"
        );
        assert!(e.contains("/hardfloat"), "{e}");
        assert!(target(p, "none").validate(CCompiler::Zig).is_ok());
    }
}

#[test]
fn armv5_cgo_needs_atomics_zig_lacks() {
    let e = target("linux/arm/v5", "musl")
        .validate(CCompiler::Zig)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("no ARMv5 __sync atomics") && e.contains("--libc none"),
        "{e}"
    );
    assert!(
        target("linux/arm/v5", "none")
            .validate(CCompiler::Zig)
            .is_ok()
    );
    assert!(
        target("linux/arm/v5", "glibc:2.36")
            .validate(CCompiler::Gnu)
            .is_ok()
    );
}

#[test]
fn glibc_caps_below_zigs_floor_are_impossible() {
    let cases = [
        ("linux/arm64", "glibc:2.16", "2.17"),
        ("linux/ppc64le", "glibc:2.18", "2.19"),
        ("linux/riscv64", "glibc:2.26", "2.27"),
        ("linux/loong64", "glibc:2.35", "2.36"),
    ];
    for (p, libc, floor) in cases {
        let e = target(p, libc)
            .validate(CCompiler::Zig)
            .unwrap_err()
            .to_string();
        assert!(e.contains(&format!("older than {floor}")), "{e}");
        assert!(e.contains(&format!("use glibc:{floor} or newer")), "{e}");
    }
    assert!(
        target("linux/riscv64", "glibc:2.27")
            .validate(CCompiler::Zig)
            .is_ok()
    );
    assert!(
        target("linux/amd64", "glibc:2.17")
            .validate(CCompiler::Zig)
            .is_ok()
    );
}

#[test]
fn gnu_compilers_only_where_debian_has_them() {
    let e = target("linux/arm64", "musl")
        .validate(CCompiler::Gnu)
        .unwrap_err()
        .to_string();
    assert!(e.contains("GNU cross gcc links glibc only"), "{e}");
    let e = target("linux/arm/v6", "glibc:2.36")
        .validate(CCompiler::Gnu)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("SIGILL on ARMv6") && e.contains("--cc zig"),
        "{e}"
    );
    let e = target("linux/loong64", "glibc:2.36")
        .validate(CCompiler::Gnu)
        .unwrap_err()
        .to_string();
    assert!(e.contains("no loongarch64 cross compiler"), "{e}");
    assert!(
        target("linux/arm/v6+softfloat", "glibc:2.36")
            .validate(CCompiler::Gnu)
            .is_ok()
    );
    assert!(
        target("linux/arm64", "glibc:2.36")
            .validate(CCompiler::Gnu)
            .is_ok()
    );
}

#[test]
fn variants_newer_than_the_installed_go_are_rejected() {
    let t = target("linux/riscv64/rva23u64", "none");
    let e = t.check_go_version(1, 24).unwrap_err().to_string();
    assert_eq!(
        e,
        "linux/riscv64/rva23u64 needs Go 1.25 or newer for GORISCV64=rva23u64, but the installed Go is 1.24"
    );
    assert!(t.check_go_version(1, 25).is_ok());
    assert!(
        target("linux/arm64/v8.2", "none")
            .check_go_version(1, 22)
            .is_err()
    );
    assert!(
        target("linux/arm64", "none")
            .check_go_version(1, 21)
            .is_ok()
    );
}

#[test]
fn ldflags_that_contradict_the_libc_mode() {
    let flags = |s: &[&str]| s.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let e = check_ldflags(Libc::None, &flags(&["-s -w -linkmode=external"]))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("-linkmode=external cannot work with --libc none"),
        "{e}"
    );
    assert!(check_ldflags(Libc::None, &flags(&["-linkmode", "external"])).is_err());
    assert!(check_ldflags(Libc::None, &flags(&["--linkmode=external"])).is_err());
    assert!(check_ldflags(Libc::Musl, &flags(&["-linkmode=internal"])).is_err());
    let glibc = "glibc:2.28".parse().unwrap();
    let e = check_ldflags(glibc, &flags(&["-extldflags=-static"]))
        .unwrap_err()
        .to_string();
    assert!(e.contains("use --libc musl"), "{e}");
    assert!(check_ldflags(glibc, &flags(&["-extldflags", "'-static -lm'"])).is_err());
    assert!(check_ldflags(Libc::Musl, &flags(&["-s", "-X main.version=1.0"])).is_ok());
    assert!(check_ldflags(Libc::None, &flags(&["-X", "main.linkmode=external"])).is_ok());
}

proptest! {
    /// Any input either parses to a platform whose canonical name parses back
    /// to the same platform, or gives an error; it never panics.
    #[test]
    fn parsing_never_panics_and_canonical_names_round_trip(s in "[a-z0-9/+._,-]{0,24}") {
        if let Ok(p) = s.parse::<Platform>() {
            let again: Platform = p.to_string().parse().unwrap();
            prop_assert_eq!(again, p);
        }
        let _ = Platform::parse_list(&s);
        let _ = s.parse::<Libc>();
    }

    #[test]
    fn every_valid_variant_round_trips(arch in 0usize..13, pick in 0usize..16) {
        let arch = Arch::ALL[arch];
        let variants = [
            "v1", "v3", "sse2", "softfloat", "v5", "v6+softfloat", "v7+hardfloat", "v8.0", "v9.5+lse+crypto",
            "rva22u64", "hardfloat", "power9", "power10", "v8.3+crypto", "rva23u64", "v4",
        ];
        let input = format!("linux/{}/{}", arch.goarch(), variants[pick]);
        if let Ok(p) = input.parse::<Platform>() {
            prop_assert_eq!(p.to_string().parse::<Platform>().unwrap(), p.clone());
            let t = Target::new(p, Libc::None);
            let env = t.go_env();
            prop_assert_eq!(env[1].1.as_str(), arch.goarch());
        }
    }
}
