//! Properties of the SBOM library: bytes from a user never make it panic, and
//! any build info renders to documents whose ids, references and purls are
//! well-formed and whose bytes do not depend on input order.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use proptest::prelude::*;
use serde_json::Value;
use slipway_elf::{GoBuildInfo, Module, Settings};
use slipway_sbom::{
    CPart, CToolchain, Document, GoBinary, InitProgram, Linkage, SbomInput, Subject, ZigInfo,
};
use slipway_testkit::{require, stdout_ok};

/// A real pure-Go binary, built once by `go build`.
fn go_binary() -> &'static [u8] {
    static BIN: OnceLock<Vec<u8>> = OnceLock::new();
    BIN.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let out: PathBuf = dir.path().join("hello");
        let go = require("go", "golang (Go 1.22+ from go.dev)");
        stdout_ok(
            &Command::new(go)
                .current_dir(slipway_testkit::example("hello"))
                .env("CGO_ENABLED", "0")
                .env("GOFLAGS", "-mod=mod")
                .env_remove("GOARCH")
                .args(["build", "-trimpath", "-o"])
                .arg(&out)
                .arg(".")
                .output()
                .unwrap(),
            "go build",
        );
        std::fs::read(&out).unwrap()
    })
}

/// A module from `go version -m -json` (`{"Path", "Version", "Sum", "Replace"}`).
fn go_module(m: &Value) -> Module {
    let field = |k: &str| m.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    Module {
        path: field("Path"),
        version: field("Version"),
        sum: field("Sum"),
        replace: m.get("Replace").map(|r| Box::new(go_module(r))),
    }
}

#[test]
fn a_real_binary_reads_like_go_version_m() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("hello");
    std::fs::write(&file, go_binary()).unwrap();
    let go = require("go", "golang (Go 1.22+ from go.dev)");
    let text = stdout_ok(
        &Command::new(go)
            .args(["version", "-m", "-json"])
            .arg(&file)
            .output()
            .unwrap(),
        "go version -m -json",
    );
    let want: Value = serde_json::from_str(&text).expect("go version -m -json prints JSON");
    let settings: Vec<(String, String)> = want["Settings"]
        .as_array()
        .expect("go reports the build settings")
        .iter()
        .map(|s| {
            let text = |k: &str| s[k].as_str().unwrap_or("").to_string();
            (text("Key"), text("Value"))
        })
        .collect();
    assert!(settings.iter().any(|(k, v)| k == "CGO_ENABLED" && v == "0"));
    let expected = GoBuildInfo {
        version: want["GoVersion"].as_str().unwrap().to_string(),
        path: want["Path"].as_str().unwrap().to_string(),
        main: want.get("Main").map(go_module),
        deps: want
            .get("Deps")
            .and_then(Value::as_array)
            .map(|d| d.iter().map(go_module).collect())
            .unwrap_or_default(),
        settings: Settings(settings),
    };

    let bin = slipway_sbom::from_binary(go_binary(), "hello", &CToolchain::default()).unwrap();
    assert_eq!(bin.build_info, expected);
    assert!(!bin.is_cgo());
    assert!(bin.c_parts.is_empty());
    // The file's digest as coreutils computes it.
    let sum = stdout_ok(
        &Command::new(require("sha256sum", "coreutils"))
            .arg(&file)
            .output()
            .unwrap(),
        "sha256sum",
    );
    assert_eq!(Some(bin.sha256.as_str()), sum.split_whitespace().next());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn arbitrary_bytes_are_an_error_not_a_panic(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
        let _ = slipway_sbom::from_binary(&bytes, "x", &CToolchain::default());
    }

    #[test]
    fn damaged_go_binaries_are_an_error_not_a_panic(
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..64),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
    ) {
        let mut bytes = go_binary().to_vec();
        // Damage the headers and tables, where parsers go wrong.
        let head = bytes.len().min(8192);
        for (at, v) in flips {
            let i = at.index(head);
            bytes[i] = v;
        }
        if truncate {
            bytes.truncate(cut.index(bytes.len()));
        }
        let zig = CToolchain {
            zig: Some(ZigInfo { version: "0.0.0".into(), musl_version: Some("1.0.0".into()), clang_version: None }),
            ..CToolchain::default()
        };
        let _ = slipway_sbom::from_binary(&bytes, "x", &zig);
    }
}

fn text() -> impl Strategy<Value = String> {
    // Module paths and versions as they may appear, plus hostile characters.
    prop_oneof![
        "[a-z]{1,8}\\.(com|org)/[A-Za-z0-9._~-]{1,10}(/v[0-9])?",
        "v[0-9]\\.[0-9]{1,2}\\.[0-9](-[a-z0-9.]{1,8})?(\\+incompatible)?",
        "\\PC{0,12}",
    ]
}

fn module() -> impl Strategy<Value = Module> {
    (
        text(),
        text(),
        "(h1:[A-Za-z0-9+/]{43}=)?",
        proptest::option::of((text(), text())),
    )
        .prop_map(|(path, version, sum, replace)| Module {
            path,
            version,
            sum,
            replace: replace.map(|(p, v)| {
                Box::new(Module {
                    path: p,
                    version: v,
                    sum: String::new(),
                    replace: None,
                })
            }),
        })
}

fn binary() -> impl Strategy<Value = GoBinary> {
    (
        text(),
        "[0-9a-f]{64}",
        text(),
        proptest::option::of(module()),
        proptest::collection::vec(module(), 0..6),
        any::<bool>(),
        proptest::option::of(text()),
    )
        .prop_map(|(path, sha256, go, main, deps, cgo, version)| {
            let mut settings = vec![
                ("GOOS".to_string(), "linux".to_string()),
                ("GOARCH".to_string(), "arm".to_string()),
                ("GOARM".to_string(), "7".to_string()),
            ];
            let mut c_parts = Vec::new();
            if cgo {
                settings.push(("CGO_ENABLED".into(), "1".into()));
                c_parts.push(CPart::musl(version.clone(), Linkage::Static, "test"));
                c_parts.push(CPart::zig_compiler_rt(version, "test"));
            }
            GoBinary {
                path,
                sha256,
                build_info: GoBuildInfo {
                    version: go,
                    path: "example.com/x".into(),
                    main,
                    deps,
                    settings: Settings(settings),
                },
                c_parts,
                notes: vec!["a note".into()],
            }
        })
}

fn check_spdx(bytes: &[u8]) {
    let doc: Value = serde_json::from_slice(bytes).expect("SPDX is JSON");
    let ok_id = |s: &str| {
        s.strip_prefix("SPDXRef-").is_some_and(|r| {
            !r.is_empty()
                && r.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
        })
    };
    let mut ids = BTreeSet::new();
    for p in doc["packages"].as_array().unwrap() {
        let id = p["SPDXID"].as_str().unwrap();
        assert!(ok_id(id), "bad SPDX id {id}");
        assert!(ids.insert(id.to_string()), "duplicate id {id}");
        for r in p["externalRefs"].as_array().into_iter().flatten() {
            let purl = r["referenceLocator"].as_str().unwrap();
            assert!(purl.starts_with("pkg:"), "{purl}");
            assert!(
                purl.bytes().all(|b| b.is_ascii_graphic()),
                "unencoded byte in {purl}"
            );
        }
    }
    ids.insert("SPDXRef-DOCUMENT".into());
    for r in doc["relationships"].as_array().unwrap() {
        assert!(ids.contains(r["spdxElementId"].as_str().unwrap()));
        assert!(ids.contains(r["relatedSpdxElement"].as_str().unwrap()));
    }
}

fn check_cyclonedx(bytes: &[u8]) {
    let doc: Value = serde_json::from_slice(bytes).expect("CycloneDX is JSON");
    let mut refs: BTreeSet<String> = doc["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["bom-ref"].as_str().unwrap().to_string())
        .collect();
    refs.insert(
        doc["metadata"]["component"]["bom-ref"]
            .as_str()
            .unwrap()
            .to_string(),
    );
    for d in doc["dependencies"].as_array().unwrap() {
        assert!(refs.contains(d["ref"].as_str().unwrap()));
        for r in d["dependsOn"].as_array().unwrap() {
            assert!(refs.contains(r.as_str().unwrap()));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn any_input_renders_well_formed_order_independent_documents(
        binaries in proptest::collection::vec(binary(), 1..4),
        image in any::<bool>(),
        init in any::<bool>(),
        created in any::<u32>(),
    ) {
        let subject = if image {
            Subject::Image {
                name: "registry.example:5000/team/svc:1.0".into(),
                index_digest: Some(format!("sha256:{}", binaries[0].sha256)),
                manifest_digest: format!("sha256:{}", binaries[0].sha256),
                platform: "linux/arm/v7".into(),
            }
        } else {
            Subject::directory("dist", &binaries)
        };
        let mut input = SbomInput {
            subject,
            binaries,
            init: init.then(|| InitProgram {
                path: "/sbin/slipway-init".into(),
                sha256: "ab".repeat(32),
                version: "0.1.0".into(),
                c_parts: vec![CPart::musl(Some("1.2.5".into()), Linkage::Static, "test")],
            }),
            created: u64::from(created),
            tool_name: "slipway".into(),
            tool_version: "0.1.0".into(),
        };
        let spdx = Document::spdx(&input);
        let cdx = Document::cyclonedx(&input);
        check_spdx(&spdx);
        check_cyclonedx(&cdx);
        input.binaries.reverse();
        prop_assert_eq!(&spdx, &Document::spdx(&input));
        prop_assert_eq!(&cdx, &Document::cyclonedx(&input));
    }
}
