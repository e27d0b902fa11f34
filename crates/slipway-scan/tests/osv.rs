//! Matching real Go binaries against vulnerability databases the tests write.

mod common;

use std::path::Path;

use common::*;
use serde_json::json;
use slipway_scan::ScanError;
use slipway_scan::osv::{Database, Finding};

/// (major, minor, patch) of a released Go version.
fn go_parts(go: &str) -> (u64, u64, u64) {
    let semver = slipway_scan::semver::go_version_to_semver(go).expect("a released Go");
    assert!(
        !semver.contains('-'),
        "tests expect a released Go, not {go}"
    );
    let p: Vec<u64> = semver.split('.').map(|x| x.parse().unwrap()).collect();
    (p[0], p[1], p[2])
}

fn ids(findings: &[Finding]) -> Vec<&str> {
    findings.iter().map(|f| f.id.as_str()).collect()
}

fn open_dir(dir: &Path, entries: &[serde_json::Value]) -> Database {
    write_dir(dir, &db_files(entries));
    Database::open(dir).unwrap()
}

#[test]
fn the_standard_library_matches_by_the_binarys_go_version() {
    let tmp = tempfile::tempdir().unwrap();
    let bin = hello(tmp.path());
    let data = std::fs::read(&bin).unwrap();
    let info = slipway_scan::go_build_info(&data).unwrap().unwrap();
    // The version in the binary is the installed Go's.
    let go = go_version(tmp.path());
    assert_eq!(info.version, go);
    let (ma, mi, pa) = go_parts(&go);
    let this = format!("{ma}.{mi}.{pa}");
    let next = format!("{ma}.{mi}.{}", pa + 1);
    let entries = [
        // Fixed in the next patch: affected, and that fix is reported.
        entry(
            "GO-2026-0001",
            "stdlib",
            json!([{"introduced": "0"}, {"fixed": next}]),
            &["net/url"],
        ),
        // Fixed exactly at this version: not affected (fixed is exclusive).
        entry(
            "GO-2026-0002",
            "stdlib",
            json!([{"introduced": "0"}, {"fixed": this}]),
            &["net/http"],
        ),
        // Introduced exactly at this version: affected (introduced is inclusive), no fix.
        entry(
            "GO-2026-0003",
            "stdlib",
            json!([{"introduced": this}]),
            &["os"],
        ),
        // Two branches, this one's prerelease opens the range: affected.
        entry(
            "GO-2026-0004",
            "stdlib",
            json!([{"introduced": "0"}, {"fixed": format!("{ma}.{}.0", mi - 1)}, {"introduced": format!("{ma}.{mi}.0-0")}, {"fixed": format!("{ma}.{mi}.{}", pa + 3)}]),
            &["crypto/tls"],
        ),
        // A release candidate of this version is below it: fixed.
        entry(
            "GO-2026-0005",
            "stdlib",
            json!([{"introduced": "0"}, {"fixed": format!("{this}-rc.1")}]),
            &[],
        ),
        // The go command is not in a binary.
        entry(
            "GO-2026-0006",
            "toolchain",
            json!([{"introduced": "0"}]),
            &["cmd/go"],
        ),
        // A module the binary does not contain.
        entry(
            "GO-2026-0007",
            "example.com/absent",
            json!([{"introduced": "0"}]),
            &["example.com/absent"],
        ),
    ];
    let db = open_dir(&tmp.path().join("db"), &entries);
    let found = db.scan(&info).unwrap();
    assert_eq!(
        ids(&found),
        ["GO-2026-0001", "GO-2026-0003", "GO-2026-0004"]
    );
    let f = &found[0];
    assert_eq!(f.module, "stdlib");
    assert_eq!(f.installed, go);
    assert_eq!(f.fixed.as_deref(), Some(format!("go{next}").as_str()));
    assert_eq!(f.aliases, ["CVE-2026-0001"]);
    assert_eq!(f.imports, ["net/url"]);
    assert_eq!(found[1].fixed, None);
    assert_eq!(
        found[2].fixed.as_deref(),
        Some(format!("go{ma}.{mi}.{}", pa + 3).as_str())
    );
    // The bytes entry point agrees.
    assert_eq!(db.scan_binary(&data).unwrap().unwrap(), found);
}

#[test]
fn a_dependency_matches_by_version_range_in_dir_and_zip_forms() {
    let tmp = tempfile::tempdir().unwrap();
    let bin = text_dep(tmp.path());
    let data = std::fs::read(&bin).unwrap();
    let info = slipway_scan::go_build_info(&data).unwrap().unwrap();
    assert!(
        info.deps
            .iter()
            .any(|d| d.path == "golang.org/x/text" && d.version == TEXT_VERSION),
        "{info:?}"
    );
    let text = "golang.org/x/text";
    let entries = [
        entry(
            "GO-2026-0101",
            text,
            json!([{"introduced": "0"}, {"fixed": "0.3.8"}, {"introduced": "0.20.0"}, {"fixed": "0.28.0"}]),
            &["golang.org/x/text/language"],
        ),
        // A `v` prefix in the database is tolerated; fixed at the installed version.
        entry(
            "GO-2026-0102",
            text,
            json!([{"introduced": "0"}, {"fixed": "v0.27.0"}]),
            &["golang.org/x/text/unicode/norm"],
        ),
        // last_affected is inclusive.
        entry(
            "GO-2026-0103",
            text,
            json!([{"introduced": "0.1.0"}, {"last_affected": "0.27.0"}]),
            &[],
        ),
        // Introduced just after the installed version.
        entry("GO-2026-0104", text, json!([{"introduced": "0.27.1"}]), &[]),
        // A prerelease of the installed version is lower: fixed before it.
        entry(
            "GO-2026-0105",
            text,
            json!([{"introduced": "0"}, {"fixed": "0.27.0-pre.1"}]),
            &[],
        ),
        // A pseudo-version fix above the installed version.
        entry(
            "GO-2026-0106",
            text,
            json!([{"introduced": "0"}, {"fixed": "0.27.1-0.20250801000000-0123456789ab"}]),
            &[],
        ),
        entry(
            "GO-2026-0107",
            "golang.org/x/net",
            json!([{"introduced": "0"}]),
            &["golang.org/x/net/html"],
        ),
    ];
    let files = db_files(&entries);
    let dir = tmp.path().join("db");
    write_dir(&dir, &files);
    let zip = tmp.path().join("vulndb.zip");
    write_zip(&zip, &files);
    let from_dir = Database::open(&dir).unwrap().scan(&info).unwrap();
    let from_zip = Database::open(&zip).unwrap().scan(&info).unwrap();
    assert_eq!(from_dir, from_zip);
    assert_eq!(
        ids(&from_dir),
        ["GO-2026-0101", "GO-2026-0103", "GO-2026-0106"]
    );
    assert_eq!(from_dir[0].installed, TEXT_VERSION);
    assert_eq!(from_dir[0].fixed.as_deref(), Some("v0.28.0"));
    assert_eq!(from_dir[0].imports, ["golang.org/x/text/language"]);
    assert_eq!(from_dir[1].fixed, None);
    assert_eq!(
        from_dir[2].fixed.as_deref(),
        Some("v0.27.1-0.20250801000000-0123456789ab")
    );
    // Same input, same output.
    let again = Database::open(&zip).unwrap().scan(&info).unwrap();
    assert_eq!(
        serde_json::to_string(&again).unwrap(),
        serde_json::to_string(&from_dir).unwrap()
    );
}

#[test]
fn replaced_modules_are_matched_as_built() {
    let text = "path\texample.com/app\nmod\texample.com/app\t(devel)\t\n\
dep\texample.com/orig\tv1.0.0\th1:x=\n=>\texample.com/fork\tv1.5.0\th1:y=\n\
dep\texample.com/local\tv1.0.0\th1:z=\n=>\t../local\t(devel)\t\n\
dep\texample.com/plain\tv2.0.0+incompatible\th1:w=\n\
build\tGOOS=linux\nbuild\tGOARCH=arm64\n";
    let info = slipway_elf::parse_modinfo("go1.21rc2".into(), text).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let mut goos_only = entry(
        "GO-2026-0206",
        "example.com/plain",
        json!([{"introduced": "0"}]),
        &[],
    );
    goos_only["affected"][0]["ecosystem_specific"]["imports"] =
        json!([{"path": "example.com/plain/win", "goos": ["windows"]}]);
    let entries = [
        entry(
            "GO-2026-0201",
            "example.com/orig",
            json!([{"introduced": "0"}]),
            &[],
        ),
        entry(
            "GO-2026-0202",
            "example.com/fork",
            json!([{"introduced": "1.5.0"}, {"fixed": "1.5.1"}]),
            &[],
        ),
        entry(
            "GO-2026-0203",
            "example.com/local",
            json!([{"introduced": "0"}]),
            &[],
        ),
        entry(
            "GO-2026-0204",
            "example.com/plain",
            json!([{"introduced": "2.0.0"}, {"fixed": "2.0.1"}]),
            &[],
        ),
        // go1.21rc2 is 1.21.0-rc.2: below 1.21.0, above rc.1.
        entry(
            "GO-2026-0205",
            "stdlib",
            json!([{"introduced": "1.21.0-rc.1"}, {"fixed": "1.21.0"}]),
            &[],
        ),
        goos_only,
        entry(
            "GO-2026-0207",
            "example.com/app",
            json!([{"introduced": "0"}]),
            &[],
        ),
    ];
    let db = open_dir(tmp.path(), &entries);
    let found = db.scan(&info).unwrap();
    assert_eq!(
        ids(&found),
        ["GO-2026-0202", "GO-2026-0204", "GO-2026-0205"]
    );
    assert_eq!(found[0].module, "example.com/fork");
    assert_eq!(found[0].installed, "v1.5.0");
    assert_eq!(found[1].installed, "v2.0.0+incompatible");
    assert_eq!(found[2].fixed.as_deref(), Some("go1.21.0"));
    let modules = slipway_scan::osv::modules(&info);
    let skipped: Vec<_> = modules
        .iter()
        .filter(|m| m.skipped.is_some())
        .map(|m| m.path.as_str())
        .collect();
    assert_eq!(skipped, ["example.com/app", "../local"]);
}

#[test]
fn bad_databases_name_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let info =
        slipway_elf::parse_modinfo("go1.22.1".into(), "path\tx\nmod\tx\t(devel)\t\n").unwrap();

    // Malformed entry JSON.
    let dir = tmp.path().join("bad-entry");
    let mut files = db_files(&[entry(
        "GO-2026-0301",
        "stdlib",
        json!([{"introduced": "0"}]),
        &[],
    )]);
    files.insert(
        "ID/GO-2026-0301.json".into(),
        b"{\"id\": \"GO-2026-0301\", \"affected\": [".to_vec(),
    );
    write_dir(&dir, &files);
    let e = Database::open(&dir).unwrap().scan(&info).unwrap_err();
    assert!(matches!(e, ScanError::Db { .. }));
    let msg = e.to_string();
    assert!(
        msg.contains("ID/GO-2026-0301.json") && msg.contains("malformed JSON"),
        "{msg}"
    );

    // A version that is not semver.
    let dir = tmp.path().join("bad-version");
    write_dir(
        &dir,
        &db_files(&[entry(
            "GO-2026-0302",
            "stdlib",
            json!([{"introduced": "1.2"}]),
            &[],
        )]),
    );
    let msg = Database::open(&dir)
        .unwrap()
        .scan(&info)
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("GO-2026-0302.json") && msg.contains("`1.2`"),
        "{msg}"
    );

    // An entry that is not the one its name says.
    let dir = tmp.path().join("wrong-id");
    let mut files = db_files(&[entry(
        "GO-2026-0303",
        "stdlib",
        json!([{"introduced": "0"}]),
        &[],
    )]);
    files.insert(
        "ID/GO-2026-0303.json".into(),
        serde_json::to_vec(&entry("GO-2026-9999", "stdlib", json!([]), &[])).unwrap(),
    );
    write_dir(&dir, &files);
    let msg = Database::open(&dir)
        .unwrap()
        .scan(&info)
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("GO-2026-0303.json") && msg.contains("GO-2026-9999"),
        "{msg}"
    );

    // No index.
    let dir = tmp.path().join("no-index");
    std::fs::create_dir_all(dir.join("ID")).unwrap();
    let msg = Database::open(&dir).unwrap_err().to_string();
    assert!(
        msg.contains("index/modules.json") && msg.contains("missing"),
        "{msg}"
    );

    // A malformed index.
    let dir = tmp.path().join("bad-index");
    std::fs::create_dir_all(dir.join("index")).unwrap();
    std::fs::write(dir.join("index/modules.json"), b"[{\"path\": 3}]").unwrap();
    let msg = Database::open(&dir).unwrap_err().to_string();
    assert!(
        msg.contains("index/modules.json") && msg.contains("malformed JSON"),
        "{msg}"
    );

    // An index id that would leave the database directory.
    std::fs::write(
        dir.join("index/modules.json"),
        br#"[{"path":"stdlib","vulns":[{"id":"../../etc/passwd"}]}]"#,
    )
    .unwrap();
    let msg = Database::open(&dir).unwrap_err().to_string();
    assert!(msg.contains("bad entry id"), "{msg}");

    // A zip with a path escaping its root.
    let zip = tmp.path().join("evil.zip");
    let mut files = db_files(&[]);
    files.insert("../evil.json".into(), b"{}".to_vec());
    write_zip(&zip, &files);
    let msg = Database::open(&zip).unwrap_err().to_string();
    assert!(
        msg.contains("evil.zip") && msg.contains("../evil.json"),
        "{msg}"
    );

    // Not a zip at all.
    let not_zip = tmp.path().join("db.zip");
    std::fs::write(&not_zip, b"PK not really").unwrap();
    let msg = Database::open(&not_zip).unwrap_err().to_string();
    assert!(msg.contains("db.zip") && msg.contains("zip"), "{msg}");

    // A malformed entry inside a zip is named with the zip.
    let zip = tmp.path().join("bad-entry.zip");
    let mut files = db_files(&[entry(
        "GO-2026-0304",
        "stdlib",
        json!([{"introduced": "0"}]),
        &[],
    )]);
    files.insert("ID/GO-2026-0304.json".into(), b"not json".to_vec());
    write_zip(&zip, &files);
    let msg = Database::open(&zip)
        .unwrap()
        .scan(&info)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("bad-entry.zip: ID/GO-2026-0304.json"), "{msg}");
}

#[test]
fn non_go_files_are_not_binaries() {
    assert!(
        slipway_scan::go_build_info(b"#!/bin/sh\necho hi\n")
            .unwrap()
            .is_none()
    );
    // A C program: ELF, but no Go build info.
    let c = std::fs::read("/bin/true").unwrap();
    assert!(slipway_scan::go_build_info(&c).unwrap().is_none());
    // A truncated ELF is an error, not a panic.
    assert!(slipway_scan::go_build_info(b"\x7fELF\x02\x01\x01").is_err());
}

proptest::proptest! {
    #![proptest_config(proptest::test_runner::Config::with_cases(64))]

    /// Whatever bytes sit where the zip, the index or an entry should be,
    /// opening and scanning return an error or a result, never a panic.
    #[test]
    fn arbitrary_database_bytes_never_panic(
        zip_bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..600),
        index in proptest::collection::vec(proptest::num::u8::ANY, 0..200),
        entry_bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..200),
    ) {
        let tmp = tempfile::tempdir().unwrap();
        let info = slipway_elf::parse_modinfo("go1.22.1".into(), "path\tx\nmod\tx\tv1.0.0\t\ndep\ty\tv0.1.0\t\n").unwrap();
        // A zip header followed by noise, and pure noise.
        let mut z = b"PK\x03\x04".to_vec();
        z.extend_from_slice(&zip_bytes);
        for bytes in [&z, &zip_bytes] {
            let p = tmp.path().join("db.zip");
            std::fs::write(&p, bytes).unwrap();
            if let Ok(db) = Database::open(&p) {
                let _ = db.scan(&info);
            }
        }
        let dir = tmp.path().join("dir");
        std::fs::create_dir_all(dir.join("index")).unwrap();
        std::fs::create_dir_all(dir.join("ID")).unwrap();
        std::fs::write(dir.join("index/modules.json"), &index).unwrap();
        if let Ok(db) = Database::open(&dir) {
            let _ = db.scan(&info);
        }
        std::fs::write(dir.join("index/modules.json"), br#"[{"path":"stdlib","vulns":[{"id":"GO-1"}]},{"path":"y","vulns":[{"id":"GO-1"}]}]"#).unwrap();
        std::fs::write(dir.join("ID/GO-1.json"), &entry_bytes).unwrap();
        let db = Database::open(&dir).unwrap();
        proptest::prop_assert!(db.scan(&info).is_err() || serde_json::from_slice::<serde_json::Value>(&entry_bytes).is_ok());
    }

    /// Valid zips of random structure: names, contents and compression.
    #[test]
    fn structured_zips_never_panic(
        names in proptest::collection::vec("(index/modules.json|index/db.json|ID/GO-1.json|\\.\\./x|/abs|[a-z/.]{1,12})", 0..5),
        contents in proptest::collection::vec("(\\[\\]|\\{\\}|\\[\\{\"path\":\"stdlib\",\"vulns\":\\[\\{\"id\":\"GO-1\"\\}\\]\\}\\]|\\{\"id\":\"GO-1\",\"affected\":\\[\\]\\}|[ -~]{0,20})", 5),
    ) {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("db.zip");
        let mut files = std::collections::BTreeMap::new();
        for (n, c) in names.iter().zip(&contents) {
            files.insert(n.clone(), c.as_bytes().to_vec());
        }
        write_zip(&p, &files);
        let info = slipway_elf::parse_modinfo("go1.22.1".into(), "path\tx\n").unwrap();
        match Database::open(&p) {
            Ok(db) => { let _ = db.scan(&info); }
            Err(e) => proptest::prop_assert!(e.to_string().contains("db.zip")),
        }
    }
}
