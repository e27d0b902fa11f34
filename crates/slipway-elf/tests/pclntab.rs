//! Go's function table as slipway reads it, against `go tool nm` on the
//! same binaries: real Go builds of the example for every byte order and
//! word size Go targets, with and without the symbol table.

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

use slipway_testkit::{example, require};

/// `go build` the example (pure Go) for one GOARCH into `dir`.
fn build(dir: &Path, goarch: &str, extra_env: &[(&str, &str)], ldflags: &str) -> Vec<u8> {
    let go = require("go", "golang (Go 1.22+ from go.dev)");
    let out = dir.join(format!("hello-{goarch}{}", ldflags.replace(' ', "")));
    let status = Command::new(go)
        .args([
            "build",
            "-trimpath",
            "-buildvcs=false",
            "-ldflags",
            ldflags,
            "-o",
        ])
        .arg(&out)
        .arg(".")
        .current_dir(example("hello"))
        .env("GOOS", "linux")
        .env("GOARCH", goarch)
        .env("CGO_ENABLED", "0")
        .envs(extra_env.iter().copied())
        .status()
        .unwrap();
    assert!(status.success(), "go build for {goarch}");
    std::fs::read(&out).unwrap()
}

/// `go tool nm -size` of a file: name → (address, size, type letter) of each
/// symbol so named (assembly files may each have a local `bswapMask`).
fn go_nm(file: &Path) -> HashMap<String, Vec<(u64, u64, char)>> {
    let go = require("go", "golang");
    let out = Command::new(go)
        .args(["tool", "nm", "-size"])
        .arg(file)
        .output()
        .unwrap();
    assert!(out.status.success(), "go tool nm {}", file.display());
    let mut map = HashMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 4 {
            continue;
        }
        let (Ok(addr), Ok(size)) = (u64::from_str_radix(f[0], 16), f[1].parse::<u64>()) else {
            continue;
        };
        let kind = f[2].chars().next().unwrap();
        map.entry(f[3..].join(" "))
            .or_insert_with(Vec::new)
            .push((addr, size, kind));
    }
    map
}

#[test]
fn function_table_matches_go_nm_on_every_layout() {
    let tmp = tempfile::tempdir().unwrap();
    for (goarch, env) in [
        ("amd64", vec![]),
        ("arm64", vec![]),
        ("arm", vec![("GOARM", "7")]),
        ("386", vec![]),
        ("riscv64", vec![]),
        ("mips", vec![("GOMIPS", "softfloat")]),
        ("s390x", vec![]),
    ] {
        let data = build(tmp.path(), goarch, &env, "");
        let file = tmp.path().join(format!("hello-{goarch}"));
        let table = slipway_elf::go_functions(&data)
            .unwrap_or_else(|e| panic!("{goarch}: {e}"))
            .unwrap_or_else(|| panic!("{goarch}: no .gopclntab"));
        let nm = go_nm(&file);
        // runtime.text and runtime.etext bound the table.
        // (runtime.etext is rounded up; the table ends where the last function does.)
        let etext = nm["runtime.etext"][0].0;
        assert_eq!(table.text_start, nm["runtime.text"][0].0, "{goarch}");
        assert!(
            table.text_end <= etext && etext - table.text_end < 64,
            "{goarch}: ends at {:#x}, runtime.etext is {etext:#x}",
            table.text_end
        );
        assert!(table.funcs.len() > 1000, "{goarch}: {}", table.funcs.len());
        let mut padded = 0u64;
        for f in &table.funcs {
            // The symbol table marks assembly functions' ABI (`.abi0`); the
            // function table does not.
            // The symbol table also spells `·` as `.`.
            let plain = f.name.replace('·', ".");
            let (addr, size, kind) = [plain.clone(), format!("{plain}.abi0")]
                .iter()
                .filter_map(|n| nm.get(n))
                .flatten()
                .find(|(a, _, _)| *a == f.entry)
                .unwrap_or_else(|| {
                    panic!(
                        "{goarch}: {} at {:#x} is not in go tool nm",
                        f.name, f.entry
                    )
                });
            assert!(matches!(kind, 'T' | 't'), "{goarch}: {} is {kind}", f.name);
            assert_eq!(*addr, f.entry, "{goarch}: entry of {}", f.name);
            // The table's extent runs to the next function: the symbol's
            // size plus alignment padding, never less.
            assert!(
                f.size >= *size && f.size - size < 256,
                "{goarch}: {} is {} bytes in the table, {size} in nm",
                f.name,
                f.size
            );
            padded += f.size - size;
        }
        let in_text = nm
            .values()
            .flatten()
            .filter(|(a, s, k)| {
                matches!(k, 'T' | 't') && *s > 0 && (table.text_start..table.text_end).contains(a)
            })
            .count();
        assert_eq!(
            in_text,
            table.funcs.len(),
            "{goarch}: every Go function, once"
        );
        assert!(
            padded < table.text_end - table.text_start,
            "{goarch}: padding {padded}"
        );

        // Stripped of its symbol table, the function table is all there is,
        // and it reads the same.
        let stripped = build(tmp.path(), goarch, &env, "-s -w");
        assert!(
            slipway_elf::symbols(&stripped).unwrap().is_empty(),
            "{goarch}: -s leaves no .symtab"
        );
        let again = slipway_elf::go_functions(&stripped).unwrap().unwrap();
        // The module data brackets Go's data as the runtime.* symbols do,
        // and stripping keeps it.
        let at = |n: &str| nm[n][0].0;
        let module = slipway_elf::go_module_ranges(&data)
            .unwrap()
            .unwrap_or_else(|| panic!("{goarch}: no module data"));
        assert_eq!(
            module,
            slipway_elf::GoModuleRanges {
                text: (at("runtime.text"), at("runtime.etext")),
                noptrdata: (at("runtime.noptrdata"), at("runtime.enoptrdata")),
                data: (at("runtime.data"), at("runtime.edata")),
                types: (at("runtime.types"), at("runtime.etypes")),
                rodata: Some(at("runtime.rodata")),
            },
            "{goarch}"
        );
        assert!(module.types.1 > module.types.0 + 100_000, "{goarch}");
        let stripped_module = slipway_elf::go_module_ranges(&stripped).unwrap().unwrap();
        assert_eq!(
            (
                stripped_module.types.1 - stripped_module.types.0,
                stripped_module.data.1 - stripped_module.data.0
            ),
            (
                module.types.1 - module.types.0,
                module.data.1 - module.data.0
            ),
            "{goarch}: the same ranges without symbols"
        );
        let names: Vec<&str> = again.funcs.iter().map(|f| f.name.as_str()).collect();
        let want: Vec<&str> = table.funcs.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, want, "{goarch}: the same functions without symbols");
    }
}

#[test]
fn symbols_match_go_nm() {
    let tmp = tempfile::tempdir().unwrap();
    for (goarch, env) in [("amd64", vec![]), ("mips", vec![("GOMIPS", "softfloat")])] {
        let data = build(tmp.path(), goarch, &env, "");
        let nm = go_nm(&tmp.path().join(format!("hello-{goarch}")));
        let symbols = slipway_elf::symbols(&data).unwrap();
        assert!(symbols.len() > 1000, "{goarch}");
        for s in &symbols {
            if let Some(all) = nm.get(&s.name) {
                assert!(
                    all.iter().any(|(a, z, _)| (*a, *z) == (s.value, s.size)),
                    "{goarch}: {} at {:#x} ({} bytes) is not in go tool nm: {all:?}",
                    s.name,
                    s.value,
                    s.size
                );
            }
        }
        let found = symbols.iter().filter(|s| nm.contains_key(&s.name)).count();
        assert!(
            found * 100 >= symbols.len() * 99,
            "{goarch}: {found} of {} symbols are in go tool nm",
            symbols.len()
        );
    }
}

#[test]
fn damaged_tables_are_errors_not_panics() {
    let tmp = tempfile::tempdir().unwrap();
    let data = build(tmp.path(), "arm64", &[], "-s -w");
    let layout = slipway_elf::file_layout(&data).unwrap();
    let s = layout
        .sections
        .iter()
        .find(|s| s.name == ".gopclntab")
        .unwrap();
    let table = &data[s.offset as usize..(s.offset + s.size) as usize];
    assert!(slipway_elf::parse_pclntab(table, false, None).is_ok());
    // Every truncation fails cleanly (or reads fewer functions: never panics).
    for len in (0..table.len()).step_by(table.len() / 97 + 1) {
        let _ = slipway_elf::parse_pclntab(&table[..len], false, None);
    }
    for len in 0..64 {
        assert!(slipway_elf::parse_pclntab(&table[..len], false, None).is_err());
    }
    let mut bad = table.to_vec();
    bad[..4].copy_from_slice(&0xffff_fffbu32.to_le_bytes()); // Go 1.2's magic
    let e = slipway_elf::parse_pclntab(&bad, false, None).unwrap_err();
    assert!(e.to_string().contains("Go 1.16 and later"), "{e}");
    let mut bad = table.to_vec();
    bad[8..16].copy_from_slice(&u64::MAX.to_le_bytes()); // nfunc
    let e = slipway_elf::parse_pclntab(&bad, false, None).unwrap_err();
    assert!(e.to_string().contains("do not fit"), "{e}");
    // The module data is found through the table's header: a damaged
    // pointer size means no module data (and no endless scan).
    assert!(slipway_elf::go_module_ranges(&data).unwrap().is_some());
    for ptr in [0u8, 3, 16] {
        let mut file = data.clone();
        file[s.offset as usize + 7] = ptr;
        assert_eq!(slipway_elf::go_module_ranges(&file).unwrap(), None);
    }
}
