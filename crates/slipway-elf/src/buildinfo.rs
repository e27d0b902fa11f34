//! Go build information embedded in a binary (`.go.buildinfo`), decoded the
//! way Go's `debug/buildinfo` and `runtime/debug.ParseBuildInfo` do, so the
//! result matches `go version -m`.

use serde::Serialize;
use serde::ser::SerializeMap;

use crate::ElfError;
use crate::parse::{Elf, PF_W, PF_X, PT_LOAD};

const MAGIC: &[u8; 14] = b"\xff Go buildinf:";
const HEADER_SIZE: usize = 32;
const ALIGN: usize = 16;
/// How far into the data segment Go itself looks for the header.
const SEARCH_LIMIT: usize = 64 * 1024;
const FLAG_BIG_ENDIAN: u8 = 1;
const FLAG_INLINE: u8 = 2;

/// A module as `go version -m` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Module {
    pub path: String,
    pub version: String,
    pub sum: String,
    pub replace: Option<Box<Module>>,
}

/// The build's settings, in file order (a JSON object in output).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settings(pub Vec<(String, String)>);

impl Serialize for Settings {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl Settings {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GoBuildInfo {
    /// The toolchain that built it, e.g. `go1.26.0`.
    pub version: String,
    /// The main package's import path.
    pub path: String,
    pub main: Option<Module>,
    pub deps: Vec<Module>,
    pub settings: Settings,
}

fn bad(what: impl std::fmt::Display) -> ElfError {
    ElfError::malformed(format!("Go build info: {what}"))
}

/// Decode the build info; `Ok(None)` when the file is not a Go binary.
pub fn read_go_buildinfo(elf: &Elf<'_>) -> Result<Option<GoBuildInfo>, ElfError> {
    let (data, named) = match elf.section_by_name(".go.buildinfo") {
        Some(s) => (elf.section_data(s)?, true),
        None => {
            let Some(p) = elf
                .segments
                .iter()
                .find(|p| p.kind == PT_LOAD && p.flags & PF_W != 0 && p.flags & PF_X == 0)
            else {
                return Ok(None);
            };
            let d = elf.segment_data(p)?;
            (&d[..d.len().min(SEARCH_LIMIT)], false)
        }
    };
    let Some(start) = find_header(data) else {
        return if named {
            Err(bad("the .go.buildinfo section has no build info header"))
        } else {
            Ok(None)
        };
    };
    let data = &data[start..];
    let ptr_size = data[14];
    let flags = data[15];
    let (version, modinfo) = if flags & FLAG_INLINE != 0 {
        let (version, rest) = read_varint_string(&data[HEADER_SIZE..])?;
        let (modinfo, _) = read_varint_string(rest)?;
        (version, modinfo)
    } else {
        let big = flags & FLAG_BIG_ENDIAN != 0;
        let ptr = |at: usize| -> Result<u64, ElfError> {
            read_uint(data, at, ptr_size, big).ok_or_else(|| bad("truncated header"))
        };
        let version = read_string_header(elf, ptr(16)?, ptr_size, big)?;
        let modinfo = read_string_header(elf, ptr(16 + usize::from(ptr_size))?, ptr_size, big)?;
        (version, modinfo)
    };
    let version = String::from_utf8_lossy(version).into_owned();
    // The module text is framed by 16-byte sentinels; Go drops it otherwise.
    let modinfo = if modinfo.len() >= 33 && modinfo[modinfo.len() - 17] == b'\n' {
        String::from_utf8_lossy(&modinfo[16..modinfo.len() - 16]).into_owned()
    } else {
        String::new()
    };
    parse_modinfo(version, &modinfo).map(Some)
}

fn find_header(mut data: &[u8]) -> Option<usize> {
    let mut base = 0;
    loop {
        let i = data.windows(MAGIC.len()).position(|w| w == MAGIC)?;
        if data.len() - i < HEADER_SIZE {
            return None;
        }
        if (base + i) % ALIGN == 0 {
            return Some(base + i);
        }
        let skip = (i + ALIGN) & !(ALIGN - 1);
        let skip = skip.min(data.len());
        base += skip;
        data = &data[skip..];
    }
}

fn read_uint(data: &[u8], at: usize, size: u8, big: bool) -> Option<u64> {
    let b = data.get(at..at.checked_add(usize::from(size))?)?;
    match size {
        4 => {
            let a: [u8; 4] = b.try_into().ok()?;
            Some(
                if big {
                    u32::from_be_bytes(a)
                } else {
                    u32::from_le_bytes(a)
                }
                .into(),
            )
        }
        8 => {
            let a: [u8; 8] = b.try_into().ok()?;
            Some(if big {
                u64::from_be_bytes(a)
            } else {
                u64::from_le_bytes(a)
            })
        }
        _ => None,
    }
}

/// Pre-1.18 layout: a pointer to a Go string header `{data, len}`.
fn read_string_header<'a>(
    elf: &Elf<'a>,
    addr: u64,
    ptr_size: u8,
    big: bool,
) -> Result<&'a [u8], ElfError> {
    if ptr_size != 4 && ptr_size != 8 {
        return Err(bad(format!("pointer size {ptr_size}")));
    }
    let header = elf
        .bytes_at_vaddr(addr, 2 * u64::from(ptr_size))
        .ok_or_else(|| bad(format!("string header at {addr:#x} is not in the file")))?;
    let data = read_uint(header, 0, ptr_size, big).ok_or_else(|| bad("string header"))?;
    let len =
        read_uint(header, ptr_size.into(), ptr_size, big).ok_or_else(|| bad("string header"))?;
    if len > elf.data.len() as u64 {
        return Err(bad(format!("string length {len} exceeds the file")));
    }
    elf.bytes_at_vaddr(data, len)
        .ok_or_else(|| bad(format!("string at {data:#x} is not in the file")))
}

fn read_varint_string(data: &[u8]) -> Result<(&[u8], &[u8]), ElfError> {
    let mut len: u64 = 0;
    let mut shift = 0;
    let mut i = 0;
    loop {
        let b = *data.get(i).ok_or_else(|| bad("truncated string length"))?;
        i += 1;
        if shift >= 64 {
            return Err(bad("string length overflows"));
        }
        len |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
    let len = usize::try_from(len).map_err(|_| bad("string length overflows"))?;
    let end = i
        .checked_add(len)
        .filter(|e| *e <= data.len())
        .ok_or_else(|| {
            bad(format!(
                "a {len}-byte string runs past the end of the section"
            ))
        })?;
    Ok((&data[i..end], &data[end..]))
}

/// `runtime/debug.ParseBuildInfo`, line for line.
pub fn parse_modinfo(version: String, text: &str) -> Result<GoBuildInfo, ElfError> {
    let mut info = GoBuildInfo {
        version,
        path: String::new(),
        main: None,
        deps: Vec::new(),
        settings: Settings::default(),
    };
    // Which module a `=>` line replaces: main (None) or a dep (Some(i)).
    let mut last: Option<Option<usize>> = None;
    for (n, line) in text.lines().enumerate() {
        let line_no = n + 1;
        if let Some(path) = line.strip_prefix("path\t") {
            info.path = path.to_string();
        } else if let Some(rest) = line.strip_prefix("mod\t") {
            info.main = Some(module_line(rest, line_no)?);
            last = Some(None);
        } else if let Some(rest) = line.strip_prefix("dep\t") {
            info.deps.push(module_line(rest, line_no)?);
            last = Some(Some(info.deps.len() - 1));
        } else if let Some(rest) = line.strip_prefix("=>\t") {
            let elem: Vec<&str> = rest.split('\t').collect();
            if elem.len() != 3 {
                return Err(bad(format!(
                    "line {line_no}: expected 3 columns for a replacement, got {}",
                    elem.len()
                )));
            }
            let replacement = Box::new(Module {
                path: elem[0].into(),
                version: elem[1].into(),
                sum: elem[2].into(),
                replace: None,
            });
            let target = match last.take() {
                Some(None) => info.main.as_mut(),
                Some(Some(i)) => info.deps.get_mut(i),
                None => None,
            };
            target
                .ok_or_else(|| {
                    bad(format!(
                        "line {line_no}: replacement with no module before it"
                    ))
                })?
                .replace = Some(replacement);
        } else if let Some(kv) = line.strip_prefix("build\t") {
            info.settings.0.push(build_line(kv, line_no)?);
        }
    }
    Ok(info)
}

fn module_line(rest: &str, line_no: usize) -> Result<Module, ElfError> {
    let elem: Vec<&str> = rest.split('\t').collect();
    if elem.len() != 2 && elem.len() != 3 {
        return Err(bad(format!(
            "line {line_no}: expected 2 or 3 columns for a module, got {}",
            elem.len()
        )));
    }
    Ok(Module {
        path: elem[0].into(),
        version: elem[1].into(),
        sum: elem.get(2).copied().unwrap_or_default().into(),
        replace: None,
    })
}

fn build_line(kv: &str, line_no: usize) -> Result<(String, String), ElfError> {
    let err = |what: &str| bad(format!("line {line_no}: build setting {what}"));
    let (key, raw_value) = match kv.as_bytes().first() {
        None => return Err(err("missing '='")),
        Some(b'=') => return Err(err("with a missing key")),
        Some(b'"') | Some(b'`') => {
            let (key, rest) = unquote_prefix(kv).ok_or_else(|| err("with a bad quoted key"))?;
            let value = rest
                .strip_prefix('=')
                .ok_or_else(|| err("missing '=' after its key"))?;
            (key, value)
        }
        Some(_) => {
            let (k, v) = kv.split_once('=').ok_or_else(|| err("missing '='"))?;
            (k.to_string(), v)
        }
    };
    let value = match raw_value.as_bytes().first() {
        Some(b'"') | Some(b'`') => match unquote_prefix(raw_value) {
            Some((v, "")) => v,
            _ => return Err(err("with a bad quoted value")),
        },
        _ => raw_value.to_string(),
    };
    Ok((key, value))
}

/// Go's `strconv.QuotedPrefix` + `Unquote`: a quoted string at the start of
/// `s`, decoded, and what follows it.
fn unquote_prefix(s: &str) -> Option<(String, &str)> {
    let mut chars = s.char_indices();
    let (_, quote) = chars.next()?;
    if quote == '`' {
        let end = s[1..].find('`')? + 1;
        return Some((s[1..end].replace('\r', ""), &s[end + 1..]));
    }
    let mut out = String::new();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((out, &s[i + 1..])),
            '\n' => return None,
            '\\' => {
                let (_, e) = chars.next()?;
                match e {
                    'a' => out.push('\x07'),
                    'b' => out.push('\x08'),
                    'f' => out.push('\x0c'),
                    'n' => out.push('\n'),
                    'r' => out.push('\r'),
                    't' => out.push('\t'),
                    'v' => out.push('\x0b'),
                    '\\' => out.push('\\'),
                    '"' => out.push('"'),
                    '\'' => return None,
                    'x' | 'u' | 'U' => {
                        let n = match e {
                            'x' => 2,
                            'u' => 4,
                            _ => 8,
                        };
                        let mut v = 0u32;
                        for _ in 0..n {
                            v = v * 16 + chars.next()?.1.to_digit(16)?;
                        }
                        out.push(char::from_u32(v)?);
                    }
                    '0'..='7' => {
                        let mut v = e.to_digit(8)?;
                        for _ in 0..2 {
                            v = v * 8 + chars.next()?.1.to_digit(8)?;
                        }
                        out.push(char::from_u32(v).filter(|_| v < 256)?);
                    }
                    _ => return None,
                }
            }
            c => out.push(c),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modinfo_lines_follow_go() {
        let text = "path\texample.com/svc/cmd/server\nmod\texample.com/svc\tv1.2.3\t\n\
dep\tgolang.org/x/sync\tv0.7.0\th1:abc=\ndep\texample.com/lib\tv0.0.0\t\n=>\t../lib\t(devel)\t\n\
build\t-ldflags=\"-s -w\"\nbuild\tCGO_ENABLED=1\nbuild\t\"we ird\"=`x`\n";
        let info = parse_modinfo("go1.26.0".into(), text).unwrap();
        assert_eq!(info.path, "example.com/svc/cmd/server");
        assert_eq!(info.main.as_ref().unwrap().version, "v1.2.3");
        assert_eq!(info.deps[0].sum, "h1:abc=");
        assert_eq!(info.deps[1].replace.as_ref().unwrap().path, "../lib");
        assert_eq!(info.settings.get("-ldflags"), Some("-s -w"));
        assert_eq!(info.settings.get("we ird"), Some("x"));
    }

    #[test]
    fn bad_modinfo_is_an_error() {
        assert!(parse_modinfo(String::new(), "=>\ta\tb\tc\n").is_err());
        assert!(parse_modinfo(String::new(), "mod\tonly\n").is_err());
        assert!(parse_modinfo(String::new(), "build\t=x\n").is_err());
        assert!(parse_modinfo(String::new(), "build\t\"x=1\n").is_err());
    }

    #[test]
    fn unquoting() {
        assert_eq!(
            unquote_prefix(r#""a\tb\x41\u00e9"rest"#),
            Some(("a\tbAé".into(), "rest"))
        );
        assert_eq!(unquote_prefix("\"open"), None);
    }
}
