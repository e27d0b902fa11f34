//! The Go vulnerability database (OSV entries in the `vuln.go.dev` offline
//! layout) and matching a binary's modules against it.
//!
//! Only `index/modules.json` is read when the database is opened; an entry
//! (`ID/GO-….json`) is read the first time a module it names is scanned, so
//! a database of thousands of entries costs a few milliseconds per binary.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs::File;
use std::io::Read;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use slipway_elf::GoBuildInfo;

use crate::ScanError;
use crate::semver::{Version, go_version_to_semver};

/// The module name the database gives the Go standard library.
pub const STDLIB: &str = "stdlib";

/// One OSV entry, with the fields matching needs.
#[derive(Debug, Clone, Deserialize)]
pub struct Entry {
    pub id: String,
    #[serde(default)]
    pub modified: Option<String>,
    #[serde(default)]
    pub withdrawn: Option<String>,
    #[serde(default)]
    pub aliases: Vec<String>,
    #[serde(default)]
    pub summary: Option<String>,
    #[serde(default)]
    pub affected: Vec<Affected>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Affected {
    pub package: Package,
    #[serde(default)]
    pub ranges: Vec<Range>,
    /// Exact affected versions, an OSV alternative to ranges.
    #[serde(default)]
    pub versions: Vec<String>,
    #[serde(default)]
    pub ecosystem_specific: Option<EcosystemSpecific>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Package {
    pub name: String,
    #[serde(default)]
    pub ecosystem: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Range {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub events: Vec<Event>,
}

/// One of `introduced`, `fixed`, `last_affected` (`limit` is for git ranges).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Event {
    pub introduced: Option<String>,
    pub fixed: Option<String>,
    pub last_affected: Option<String>,
    pub limit: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct EcosystemSpecific {
    #[serde(default)]
    pub imports: Vec<Import>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Import {
    pub path: String,
    #[serde(default)]
    pub goos: Vec<String>,
    #[serde(default)]
    pub goarch: Vec<String>,
    #[serde(default)]
    pub symbols: Vec<String>,
}

/// A vulnerability that applies to a module the binary contains.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// `GO-YYYY-NNNN`.
    pub id: String,
    /// CVE/GHSA ids, as the entry lists them.
    pub aliases: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// The module path (`stdlib` for the standard library); for a replaced
    /// module, the replacement that was actually built.
    pub module: String,
    /// The version in the binary, as Go spells it (`v1.2.3`, `go1.26.1`).
    pub installed: String,
    /// The lowest fixed version above the installed one, Go spelling; `None`
    /// when no fix is published.
    pub fixed: Option<String>,
    /// Affected packages (import paths) of the module.
    pub imports: Vec<String>,
}

/// A module of a binary and the version scanned, or why it could not be.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScannedModule {
    pub path: String,
    /// As Go spells it in the binary.
    pub version: String,
    /// Why it was not matched (a local replacement, a `(devel)` main module).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
}

/// The modules of a binary the database is matched against: the standard
/// library, the main module unless `(devel)`, and every dependency, replaced
/// ones under the path and version that was built.
pub fn modules(info: &GoBuildInfo) -> Vec<ScannedModule> {
    let mut out = vec![ScannedModule {
        path: STDLIB.into(),
        version: info.version.clone(),
        skipped: go_version_to_semver(&info.version)
            .is_none()
            .then(|| "not a released Go version".into()),
    }];
    let mut push = |m: &slipway_elf::Module, main: bool| {
        let (path, version) = match &m.replace {
            Some(r) => (r.path.clone(), r.version.clone()),
            None => (m.path.clone(), m.version.clone()),
        };
        let skipped = if Version::parse(&version).is_some() {
            None
        } else if m.replace.is_some() {
            Some(format!(
                "replaced by {path} with no module version (a local directory)"
            ))
        } else if main && version == "(devel)" {
            Some("main module built from a working tree (devel)".into())
        } else {
            Some(format!("`{version}` is not a semantic version"))
        };
        out.push(ScannedModule {
            path,
            version,
            skipped,
        });
    };
    if let Some(m) = &info.main {
        push(m, true);
    }
    for d in &info.deps {
        push(d, false);
    }
    out
}

/// Where entries come from.
enum Source {
    Dir(PathBuf),
    /// Files by their path in the layout, for tests and fuzzing: a scan
    /// without file I/O, named `location` in messages.
    Memory {
        location: PathBuf,
        files: BTreeMap<String, Vec<u8>>,
    },
    Zip {
        path: PathBuf,
        archive: Mutex<zip::ZipArchive<File>>,
    },
}

/// An opened database: its module index in memory, entries read on demand.
pub struct Database {
    source: Source,
    modified: Option<String>,
    /// Module path → ids of the entries naming it.
    index: BTreeMap<String, Vec<String>>,
    entries: Mutex<HashMap<String, Arc<Entry>>>,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database")
            .field("location", &self.location())
            .field("modified", &self.modified)
            .field("modules", &self.index.len())
            .finish()
    }
}

#[derive(Deserialize)]
struct DbJson {
    modified: String,
}

#[derive(Deserialize)]
struct IndexModule {
    path: String,
    #[serde(default)]
    vulns: Vec<IndexVuln>,
}

#[derive(Deserialize)]
struct IndexVuln {
    id: String,
}

const MODULES: &str = "index/modules.json";
const DB: &str = "index/db.json";

impl Database {
    /// Open a database directory or a `.zip` of the same layout
    /// (`index/db.json`, `index/modules.json`, `ID/<id>.json`).
    pub fn open(path: &Path) -> Result<Database, ScanError> {
        let meta = std::fs::metadata(path).map_err(|e| ScanError::io(path, e))?;
        let source = if meta.is_dir() {
            Source::Dir(path.to_path_buf())
        } else {
            let file = File::open(path).map_err(|e| ScanError::io(path, e))?;
            let archive = zip::ZipArchive::new(file).map_err(|e| ScanError::Db {
                file: path.display().to_string(),
                msg: format!("not a readable zip ({e}); give a database directory or its zip"),
            })?;
            // Refuse the whole archive if any name could escape its root: it
            // was not produced by the Go vulnerability database.
            let names: Vec<String> = archive
                .file_names()
                .map(|n| n.map(|n| n.into_owned()))
                .collect::<Result<_, _>>()
                .map_err(|e| ScanError::Db {
                    file: path.display().to_string(),
                    msg: format!("a file name in the zip cannot be read ({e})"),
                })?;
            for name in &names {
                let p = Path::new(name);
                if name.contains('\\')
                    || p.components()
                        .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
                {
                    return Err(ScanError::Db {
                        file: format!("{}: {name}", path.display()),
                        msg: "unsafe path in the zip (absolute or with `..`)".into(),
                    });
                }
            }
            Source::Zip {
                path: path.to_path_buf(),
                archive: Mutex::new(archive),
            }
        };
        Database::with_source(source)
    }

    /// A database whose files (`index/modules.json`, `ID/<id>.json`, …) are
    /// already in memory; `location` names it in messages.
    pub fn from_files(
        location: &Path,
        files: BTreeMap<String, Vec<u8>>,
    ) -> Result<Database, ScanError> {
        Database::with_source(Source::Memory {
            location: location.to_path_buf(),
            files,
        })
    }

    /// Read the index of an opened source; entries are read on demand.
    fn with_source(source: Source) -> Result<Database, ScanError> {
        let mut db = Database {
            source,
            modified: None,
            index: BTreeMap::new(),
            entries: Mutex::new(HashMap::new()),
        };
        if let Some(bytes) = db.read_optional(DB)? {
            let meta: DbJson = parse_json(&db.name_of(DB), &bytes)?;
            db.modified = Some(meta.modified);
        }
        let bytes = db.read_optional(MODULES)?.ok_or_else(|| ScanError::Db {
            file: db.name_of(MODULES),
            msg: "missing: a Go vulnerability database has index/modules.json (see https://go.dev/doc/security/vuln/database)".into(),
        })?;
        let modules: Vec<IndexModule> = parse_json(&db.name_of(MODULES), &bytes)?;
        for m in modules {
            let ids = db.index.entry(m.path).or_default();
            for v in m.vulns {
                if !valid_id(&v.id) {
                    return Err(ScanError::Db {
                        file: db.name_of(MODULES),
                        msg: format!("bad entry id `{}`", v.id.escape_debug()),
                    });
                }
                ids.push(v.id);
            }
            ids.sort();
            ids.dedup();
        }
        Ok(db)
    }

    /// `index/db.json`'s `modified` time, when present.
    pub fn modified(&self) -> Option<&str> {
        self.modified.as_deref()
    }

    /// The directory or zip it was opened from.
    pub fn location(&self) -> &Path {
        match &self.source {
            Source::Dir(p) => p,
            Source::Memory { location, .. } => location,
            Source::Zip { path, .. } => path,
        }
    }

    /// How many modules the index names.
    pub fn module_count(&self) -> usize {
        self.index.len()
    }

    /// The entry with this id, read (once) from `ID/<id>.json`.
    pub fn entry(&self, id: &str) -> Result<Arc<Entry>, ScanError> {
        if let Some(e) = lock(&self.entries).get(id) {
            return Ok(e.clone());
        }
        let rel = format!("ID/{id}.json");
        let name = self.name_of(&rel);
        if !valid_id(id) {
            return Err(ScanError::Db {
                file: name,
                msg: "bad entry id".into(),
            });
        }
        let bytes = self.read_optional(&rel)?.ok_or_else(|| ScanError::Db {
            file: name.clone(),
            msg: "missing, but index/modules.json lists it".into(),
        })?;
        let entry: Entry = parse_json(&name, &bytes)?;
        if entry.id != id {
            return Err(ScanError::Db {
                file: name,
                msg: format!("holds entry `{}`", entry.id.escape_debug()),
            });
        }
        check_entry(&entry).map_err(|msg| ScanError::Db { file: name, msg })?;
        let entry = Arc::new(entry);
        lock(&self.entries).insert(id.to_string(), entry.clone());
        Ok(entry)
    }

    /// Every vulnerability affecting a module of the binary, sorted by module
    /// then id. GOOS/GOARCH-specific entries are matched against the
    /// binary's build settings.
    pub fn scan(&self, info: &GoBuildInfo) -> Result<Vec<Finding>, ScanError> {
        let goos = info.settings.get("GOOS");
        let goarch = info.settings.get("GOARCH");
        let mut found: BTreeMap<(String, String), Finding> = BTreeMap::new();
        for m in modules(info) {
            if m.skipped.is_some() {
                continue;
            }
            let semver = if m.path == STDLIB {
                go_version_to_semver(&m.version)
            } else {
                Some(m.version.clone())
            };
            let Some(installed) = semver.as_deref().and_then(Version::parse) else {
                continue;
            };
            let Some(ids) = self.index.get(&m.path) else {
                continue;
            };
            for id in ids {
                let entry = self.entry(id)?;
                if entry.withdrawn.is_some() {
                    continue;
                }
                for a in &entry.affected {
                    if a.package.name != m.path || !a.package.ecosystem.eq_ignore_ascii_case("Go") {
                        continue;
                    }
                    let Some(hit) = affects(a, &installed) else {
                        continue;
                    };
                    let imports = applicable_imports(a, goos, goarch);
                    if imports.as_ref().is_some_and(|i| i.is_empty()) {
                        continue; // every affected package is for another platform
                    }
                    let f = found
                        .entry((m.path.clone(), entry.id.clone()))
                        .or_insert_with(|| Finding {
                            id: entry.id.clone(),
                            aliases: entry.aliases.clone(),
                            summary: entry.summary.clone(),
                            module: m.path.clone(),
                            installed: m.version.clone(),
                            fixed: None,
                            imports: Vec::new(),
                        });
                    if let Some(fix) = hit.fixed {
                        let better = match &f.fixed {
                            None => true,
                            Some(old) => {
                                Version::parse(&strip_go_spelling(old)).is_some_and(|old| fix < old)
                            }
                        };
                        if better {
                            f.fixed = Some(go_spelling(&m.path, fix.as_str()));
                        }
                    }
                    let mut all: BTreeSet<String> = f.imports.drain(..).collect();
                    all.extend(imports.unwrap_or_default());
                    f.imports = all.into_iter().collect();
                }
            }
        }
        Ok(found.into_values().collect())
    }

    /// Scan an ELF binary's bytes; `Ok(None)` when it is not a Go binary.
    pub fn scan_binary(&self, data: &[u8]) -> Result<Option<Vec<Finding>>, ScanError> {
        match crate::go_build_info(data)? {
            Some(info) => self.scan(&info).map(Some),
            None => Ok(None),
        }
    }

    /// A name for `rel` in messages: the real path, or `ZIP: rel`.
    fn name_of(&self, rel: &str) -> String {
        match &self.source {
            Source::Dir(d) => d.join(rel).display().to_string(),
            Source::Memory { location, .. } | Source::Zip { path: location, .. } => {
                format!("{}: {rel}", location.display())
            }
        }
    }

    fn read_optional(&self, rel: &str) -> Result<Option<Vec<u8>>, ScanError> {
        match &self.source {
            Source::Dir(d) => {
                let p = d.join(rel);
                match std::fs::read(&p) {
                    Ok(b) => Ok(Some(b)),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                    Err(e) => Err(ScanError::io(&p, e)),
                }
            }
            Source::Memory { files, .. } => Ok(files.get(rel).cloned()),
            Source::Zip { archive, .. } => {
                let mut archive = lock(archive);
                let mut f = match archive.by_name(rel) {
                    Ok(f) => f,
                    Err(zip::result::ZipError::FileNotFound) => return Ok(None),
                    Err(e) => {
                        return Err(ScanError::Db {
                            file: self.name_of(rel),
                            msg: format!("cannot read from the zip: {e}"),
                        });
                    }
                };
                // Entries are small; a huge one is not from the database.
                const MAX: u64 = 256 << 20;
                let mut buf = Vec::new();
                (&mut f)
                    .take(MAX + 1)
                    .read_to_end(&mut buf)
                    .map_err(|e| ScanError::Db {
                        file: self.name_of(rel),
                        msg: format!("cannot read from the zip: {e}"),
                    })?;
                if buf.len() as u64 > MAX {
                    return Err(ScanError::Db {
                        file: self.name_of(rel),
                        msg: "larger than 256 MiB".into(),
                    });
                }
                Ok(Some(buf))
            }
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic elsewhere cannot leave a half-written cache entry behind.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn parse_json<T: serde::de::DeserializeOwned>(file: &str, bytes: &[u8]) -> Result<T, ScanError> {
    serde_json::from_slice(bytes).map_err(|e| ScanError::Db {
        file: file.to_string(),
        msg: format!("malformed JSON: {e}"),
    })
}

/// Ids become file names: letters, digits, `-`, `_`, `.` only, no `..`.
fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && !id.contains("..")
}

/// Every SEMVER event must hold a version, so a bad entry fails loudly
/// instead of silently matching nothing.
fn check_entry(e: &Entry) -> Result<(), String> {
    for a in &e.affected {
        for r in a.ranges.iter().filter(|r| r.kind == "SEMVER") {
            for ev in &r.events {
                for (what, v) in [
                    ("introduced", &ev.introduced),
                    ("fixed", &ev.fixed),
                    ("last_affected", &ev.last_affected),
                ] {
                    if let Some(v) = v
                        && !(what == "introduced" && v == "0")
                        && Version::parse(v).is_none()
                    {
                        return Err(format!(
                            "{}: {what} `{}` is not a semantic version",
                            a.package.name,
                            v.escape_debug()
                        ));
                    }
                }
            }
        }
    }
    Ok(())
}

struct Hit {
    fixed: Option<Version>,
}

/// Whether `v` is in the affected block, and the first fix above it.
fn affects(a: &Affected, v: &Version) -> Option<Hit> {
    let mut hit = false;
    let mut fixed: Option<Version> = None;
    for r in a.ranges.iter().filter(|r| r.kind == "SEMVER") {
        if in_range(&r.events, v) {
            hit = true;
            let next = r
                .events
                .iter()
                .filter_map(|e| e.fixed.as_deref().and_then(Version::parse))
                .filter(|f| f > v)
                .min();
            if let Some(n) = next
                && fixed.as_ref().is_none_or(|f| n < *f)
            {
                fixed = Some(n);
            }
        }
    }
    if !hit
        && a.versions
            .iter()
            .any(|s| Version::parse(s).is_some_and(|x| x == *v))
    {
        hit = true;
    }
    hit.then_some(Hit { fixed })
}

/// OSV's evaluation: walk the events in version order; `introduced` at or
/// below `v` opens, `fixed` at or below `v` closes, `last_affected` below
/// `v` closes.
fn in_range(events: &[Event], v: &Version) -> bool {
    #[derive(PartialEq, Eq, PartialOrd, Ord)]
    enum Kind {
        Introduced,
        Fixed,
        LastAffected,
    }
    let mut evs: Vec<(Option<Version>, Kind)> = Vec::new();
    for e in events {
        if let Some(i) = &e.introduced {
            // "0" is before every version.
            let at = if i == "0" { None } else { Version::parse(i) };
            if i == "0" || at.is_some() {
                evs.push((at, Kind::Introduced));
            }
        }
        if let Some(f) = e.fixed.as_deref().and_then(Version::parse) {
            evs.push((Some(f), Kind::Fixed));
        }
        if let Some(l) = e.last_affected.as_deref().and_then(Version::parse) {
            evs.push((Some(l), Kind::LastAffected));
        }
    }
    evs.sort();
    let mut affected = false;
    for (at, kind) in evs {
        match kind {
            Kind::Introduced if at.as_ref().is_none_or(|a| v >= a) => affected = true,
            Kind::Fixed if at.as_ref().is_some_and(|a| v >= a) => affected = false,
            Kind::LastAffected if at.as_ref().is_some_and(|a| v > a) => affected = false,
            _ => {}
        }
    }
    affected
}

/// The import paths that apply on this GOOS/GOARCH; `None` when the entry
/// lists none (the whole module is affected).
fn applicable_imports(
    a: &Affected,
    goos: Option<&str>,
    goarch: Option<&str>,
) -> Option<Vec<String>> {
    let imports = &a.ecosystem_specific.as_ref()?.imports;
    if imports.is_empty() {
        return None;
    }
    let fits = |list: &[String], value: Option<&str>| {
        list.is_empty() || value.is_none_or(|v| list.iter().any(|x| x == v))
    };
    Some(
        imports
            .iter()
            .filter(|i| fits(&i.goos, goos) && fits(&i.goarch, goarch))
            .map(|i| i.path.clone())
            .collect(),
    )
}

/// `1.25.13` → `go1.25.13` for the standard library, `v1.2.3` for modules.
fn go_spelling(module: &str, semver: &str) -> String {
    let bare = semver.strip_prefix('v').unwrap_or(semver);
    if module == STDLIB {
        format!("go{bare}")
    } else {
        format!("v{bare}")
    }
}

fn strip_go_spelling(v: &str) -> String {
    v.strip_prefix("go").unwrap_or(v).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(kind: &str, v: &str) -> Event {
        let mut e = Event::default();
        match kind {
            "i" => e.introduced = Some(v.into()),
            "f" => e.fixed = Some(v.into()),
            "l" => e.last_affected = Some(v.into()),
            _ => unreachable!(),
        }
        e
    }

    fn hit(events: &[Event], v: &str) -> bool {
        in_range(events, &Version::parse(v).unwrap())
    }

    #[test]
    fn boundaries_of_introduced_and_fixed() {
        let r = [
            ev("i", "0"),
            ev("f", "1.2.3"),
            ev("i", "1.4.0-0"),
            ev("f", "1.4.2"),
        ];
        assert!(hit(&r, "0.0.1"));
        assert!(hit(&r, "1.2.2"));
        assert!(hit(&r, "1.2.3-rc.1"));
        assert!(!hit(&r, "1.2.3"));
        assert!(!hit(&r, "1.3.9"));
        assert!(hit(&r, "1.4.0-rc.1"));
        assert!(hit(&r, "1.4.0"));
        assert!(hit(&r, "1.4.1"));
        assert!(!hit(&r, "1.4.2"));
        assert!(!hit(&r, "2.0.0"));
    }

    #[test]
    fn last_affected_includes_its_own_version() {
        let r = [ev("i", "1.0.0"), ev("l", "1.1.0")];
        assert!(!hit(&r, "0.9.0"));
        assert!(hit(&r, "1.0.0"));
        assert!(hit(&r, "1.1.0"));
        assert!(!hit(&r, "1.1.1"));
        // Unordered events are sorted first.
        let r = [ev("f", "2.0.0"), ev("i", "1.5.0")];
        assert!(hit(&r, "1.9.9") && !hit(&r, "1.4.0") && !hit(&r, "2.0.0"));
    }

    #[test]
    fn ids_cannot_escape_the_database() {
        for bad in ["", "../x", "a/b", "..", "GO-1\0", "a\\b"] {
            assert!(!valid_id(bad), "{bad:?}");
        }
        assert!(valid_id("GO-2024-0001"));
    }

    proptest::proptest! {
        #[test]
        fn entry_parsing_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            if let Ok(e) = serde_json::from_slice::<Entry>(&bytes) {
                let _ = check_entry(&e);
                for a in &e.affected {
                    let _ = affects(a, &Version::parse("1.2.3").unwrap());
                }
            }
        }

        #[test]
        fn structured_entries_never_panic(
            versions in proptest::collection::vec("(0|v?[0-9]\\.[0-9]\\.[0-9](-[a-z0-9.]{0,5})?|[a-z.]{0,4})", 0..6),
            kinds in proptest::collection::vec(0u8..3, 0..6),
            probe in "[0-9]\\.[0-9]\\.[0-9]",
        ) {
            let events: Vec<Event> = versions.iter().zip(&kinds).map(|(v, k)| {
                ev(["i", "f", "l"][*k as usize], v)
            }).collect();
            let _ = in_range(&events, &Version::parse(&probe).unwrap());
        }
    }
}
