//! Credentials in files bound for an image.
//!
//! Every file is searched for PEM private keys, AWS access key ids and JWTs
//! (cheap: each starts with a fixed marker found with `memchr`). Text files
//! are also searched for `password = …`-style assignments (config-like files
//! only), AWS secret-key assignments and high-entropy tokens. A finding
//! records the path, the kind and where, never the matched bytes, so no
//! formatting of it can leak the value.

use std::fmt;
use std::str::FromStr;

use memchr::memmem;
use serde::Serialize;

/// What was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SecretKind {
    /// `AKIA…`/`ASIA…` and the other AWS key-id prefixes, 20 characters.
    AwsAccessKeyId,
    /// `aws_secret_access_key = <40 base64 characters>`.
    AwsSecretKey,
    /// `-----BEGIN … PRIVATE KEY-----` with a body.
    PrivateKey,
    /// A JSON Web Token: three base64url parts, a JSON header with `alg`.
    Jwt,
    /// `password=`/`secret:`/`token =`… with a literal value in a config file.
    PasswordAssignment,
    /// A long random-looking token in a text file.
    HighEntropy,
}

impl SecretKind {
    pub const ALL: [SecretKind; 6] = [
        SecretKind::AwsAccessKeyId,
        SecretKind::AwsSecretKey,
        SecretKind::PrivateKey,
        SecretKind::Jwt,
        SecretKind::PasswordAssignment,
        SecretKind::HighEntropy,
    ];

    /// The name used in output and allow-lists, e.g. `private-key`.
    pub fn name(self) -> &'static str {
        match self {
            SecretKind::AwsAccessKeyId => "aws-access-key-id",
            SecretKind::AwsSecretKey => "aws-secret-key",
            SecretKind::PrivateKey => "private-key",
            SecretKind::Jwt => "jwt",
            SecretKind::PasswordAssignment => "password-assignment",
            SecretKind::HighEntropy => "high-entropy",
        }
    }
}

impl fmt::Display for SecretKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for SecretKind {
    type Err = String;
    fn from_str(s: &str) -> Result<SecretKind, String> {
        SecretKind::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| {
                let names: Vec<_> = SecretKind::ALL.iter().map(|k| k.name()).collect();
                format!("unknown secret kind `{s}`: use one of {}", names.join(", "))
            })
    }
}

/// One credential: where it is and what kind. It holds no part of the value.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct SecretFinding {
    /// The file's path in the image.
    pub path: String,
    /// 1-based line, for text files.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    /// Byte offset of the start of the match in the file.
    pub offset: u64,
    pub kind: SecretKind,
}

impl fmt::Display for SecretFinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(l) => write!(f, "{}:{l}: {}", self.path, self.kind),
            None => write!(f, "{} (byte {}): {}", self.path, self.offset, self.kind),
        }
    }
}

/// An allow-list entry: `PATH` (every kind) or `PATH:KIND`. A PATH ending in
/// `/` covers everything under that directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allow {
    pub path: String,
    pub kind: Option<SecretKind>,
}

impl FromStr for Allow {
    type Err = String;
    fn from_str(s: &str) -> Result<Allow, String> {
        // Paths may contain ':', so only a known kind after the last one splits.
        // A misspelt kind must not silently turn into a path that never matches.
        let (path, kind) = match s.rsplit_once(':') {
            Some((p, k))
                if !k.is_empty() && k.bytes().all(|b| b.is_ascii_lowercase() || b == b'-') =>
            {
                let kind = k
                    .parse()
                    .map_err(|e| format!("allow-list entry `{s}`: {e}"))?;
                (p, Some(kind))
            }
            _ => (s, None),
        };
        if path.is_empty() || !path.starts_with('/') {
            return Err(format!(
                "allow-list entry `{s}`: give the file's absolute path in the image, e.g. /app/data/test.pem[:private-key]"
            ));
        }
        Ok(Allow {
            path: path.to_string(),
            kind,
        })
    }
}

impl Allow {
    pub fn allows(&self, f: &SecretFinding) -> bool {
        let path_ok = if self.path.ends_with('/') {
            f.path.starts_with(&self.path)
        } else {
            f.path == self.path
        };
        path_ok && self.kind.is_none_or(|k| k == f.kind)
    }
}

/// Findings the allow-list does not cover.
pub fn not_allowed(findings: Vec<SecretFinding>, allow: &[Allow]) -> Vec<SecretFinding> {
    findings
        .into_iter()
        .filter(|f| !allow.iter().any(|a| a.allows(f)))
        .collect()
}

/// Scan one file, `path` being where it lives in the image. Findings are
/// sorted by position.
pub fn scan(path: &str, data: &[u8]) -> Vec<SecretFinding> {
    let text = is_text(data);
    let mut hits: Vec<(usize, SecretKind)> = Vec::new();
    private_keys(data, &mut hits);
    aws_key_ids(data, &mut hits);
    jwts(data, &mut hits);
    if text {
        // Sorted, so text_rules can skip lines already reported in O(log n).
        hits.sort();
        text_rules(path, data, &mut hits);
    }
    hits.sort();
    hits.dedup();
    let lines = text.then(|| line_starts(data));
    hits.into_iter()
        .map(|(offset, kind)| SecretFinding {
            path: path.to_string(),
            line: lines
                .as_ref()
                .map(|l| l.partition_point(|&s| s <= offset) as u64),
            offset: offset as u64,
            kind,
        })
        .collect()
}

/// No NUL and few control characters in the first 8 KiB.
fn is_text(data: &[u8]) -> bool {
    let head = &data[..data.len().min(8192)];
    if head.contains(&0) {
        return false;
    }
    let control = head
        .iter()
        .filter(|&&b| b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r' | 0x0c | 0x1b))
        .count();
    control * 100 <= head.len()
}

fn line_starts(data: &[u8]) -> Vec<usize> {
    let mut v = vec![0];
    v.extend(memchr::memchr_iter(b'\n', data).map(|i| i + 1));
    v
}

fn is_b64(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=')
}

fn is_b64url(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_')
}

/// `-----BEGIN [WORDS ]PRIVATE KEY-----` followed by a base64 body.
fn private_keys(data: &[u8], hits: &mut Vec<(usize, SecretKind)>) {
    const BEGIN: &[u8] = b"-----BEGIN ";
    for at in memmem::find_iter(data, BEGIN) {
        let rest = &data[at + BEGIN.len()..];
        let label_len = rest
            .iter()
            .take(64)
            .take_while(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || **b == b' ')
            .count();
        let label = &rest[..label_len];
        let tail = &rest[label_len..];
        if !(label.ends_with(b"PRIVATE KEY") && tail.starts_with(b"-----")) {
            continue;
        }
        // A body, not just the marker text as a string constant: a run of
        // base64 soon after (headers such as Proc-Type may come first).
        let body = &tail[5..tail.len().min(5 + 512)];
        let mut run = 0;
        let has_body = body.iter().any(|&b| {
            run = if is_b64(b) { run + 1 } else { 0 };
            run >= 32
        });
        if has_body {
            hits.push((at, SecretKind::PrivateKey));
        }
    }
}

const AWS_PREFIXES: [&[u8; 4]; 10] = [
    b"AKIA", b"ASIA", b"AGPA", b"AIDA", b"AROA", b"AIPA", b"ANPA", b"ANVA", b"ABIA", b"ACCA",
];

/// 4-letter prefix + 16 of [A-Z0-9], alone (no letter or digit either side).
fn aws_key_ids(data: &[u8], hits: &mut Vec<(usize, SecretKind)>) {
    let alnum = |i: usize| data.get(i).is_some_and(|b| b.is_ascii_alphanumeric());
    // Each prefix starts with 'A' followed by a letter; one memchr pass finds
    // the candidates, the second byte filters most of them.
    for at in memchr::memchr_iter(b'A', data) {
        let Some(cand) = data.get(at..at + 20) else {
            break;
        };
        if !AWS_PREFIXES.iter().any(|p| cand[..4] == p[..]) {
            continue;
        }
        if !cand[4..]
            .iter()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
            || (at > 0 && alnum(at - 1))
            || alnum(at + 20)
            || memmem::find(cand, b"EXAMPLE").is_some()
        {
            continue;
        }
        hits.push((at, SecretKind::AwsAccessKeyId));
    }
}

/// `eyJ…` (base64url of `{"`) . `eyJ…` . signature, with a JSON header.
fn jwts(data: &[u8], hits: &mut Vec<(usize, SecretKind)>) {
    let mut skip_to = 0;
    for at in memmem::find_iter(data, b"eyJ") {
        if at < skip_to || (at > 0 && is_b64url(data[at - 1])) {
            continue;
        }
        let run = |from: usize| data[from..].iter().take_while(|b| is_b64url(**b)).count();
        let h = run(at);
        let p_start = at + h + 1;
        if h < 10 || data.get(at + h) != Some(&b'.') || !data[p_start..].starts_with(b"eyJ") {
            continue;
        }
        let p = run(p_start);
        let s_start = p_start + p + 1;
        if p < 10 || data.get(p_start + p) != Some(&b'.') {
            continue;
        }
        let s = run(s_start);
        let Some(header) = b64url_decode(&data[at..at + h]) else {
            continue;
        };
        let header = String::from_utf8_lossy(&header);
        let header = header.trim();
        if header.starts_with('{') && header.contains("\"alg\"") {
            hits.push((at, SecretKind::Jwt));
            skip_to = s_start + s;
        }
    }
}

/// base64url without padding (a trailing partial group is decoded as far as it goes).
fn b64url_decode(s: &[u8]) -> Option<Vec<u8>> {
    if s.len() > 4096 {
        return None;
    }
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' => 62,
            b'_' => 63,
            _ => return None,
        } as u32)
    };
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0);
    for &c in s {
        acc = (acc << 6) | val(c)?;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// Files whose `key = value` lines are configuration, by name.
fn config_like(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path).to_ascii_lowercase();
    const NAMES: [&str; 10] = [
        ".env",
        ".netrc",
        ".npmrc",
        ".pypirc",
        ".pgpass",
        ".git-credentials",
        ".dockercfg",
        "credentials",
        "config",
        "secrets",
    ];
    const EXTS: [&str; 17] = [
        "env",
        "conf",
        "cfg",
        "cnf",
        "ini",
        "properties",
        "props",
        "yaml",
        "yml",
        "toml",
        "json",
        "xml",
        "txt",
        "secret",
        "secrets",
        "credentials",
        "service",
    ];
    if NAMES.contains(&name.as_str()) || name.starts_with(".env.") {
        return true;
    }
    match name.rsplit_once('.') {
        Some(("", _)) => false,
        Some((_, ext)) => EXTS.contains(&ext),
        // No extension: most such text files in an image are configuration.
        None => true,
    }
}

fn text_rules(path: &str, data: &[u8], hits: &mut Vec<(usize, SecretKind)>) {
    let config = config_like(path);
    // The marker-based findings (keys, key ids, JWTs), sorted by offset.
    let markers = hits.clone();
    let lines: Vec<&[u8]> = data.split(|&b| b == b'\n').collect();
    let blob: Vec<bool> = lines.iter().map(|l| blob_line(l)).collect();
    let mut in_pem = false;
    let mut start = 0;
    for (n, &line) in lines.iter().enumerate() {
        let here = start;
        start += line.len() + 1;
        // Certificates, public keys and private-key bodies are base64 by
        // design; private keys are reported by their BEGIN line.
        if line.starts_with(b"-----BEGIN ") {
            in_pem = true;
            continue;
        }
        if line.starts_with(b"-----END ") {
            in_pem = false;
            continue;
        }
        if in_pem || line.len() < 8 {
            continue;
        }
        let first = markers[..].partition_point(|(o, _)| *o < here);
        let reported = markers
            .get(first)
            .is_some_and(|(o, _)| *o < here + line.len());
        if reported {
            continue;
        }
        if let Some(kind) = assignment(line, config) {
            hits.push((here, kind));
            continue;
        }
        // Lines of one base64 block (a certificate in XML, a key in a C
        // string) are encoded data; a credential is one token.
        let in_blob = n > 0 && blob[n - 1] || blob.get(n + 1).copied().unwrap_or(false);
        if in_blob {
            continue;
        }
        if let Some(at) = high_entropy(line) {
            hits.push((here + at, SecretKind::HighEntropy));
        }
    }
}

/// A line that is nothing but base64 (quotes, indentation and a trailing
/// comma aside), 40 characters or more.
fn blob_line(line: &[u8]) -> bool {
    let t = line.trim_ascii();
    let t = t.strip_suffix(b",").unwrap_or(t).trim_ascii();
    let t = t.strip_prefix(b"\"").unwrap_or(t);
    let t = t.strip_suffix(b"\"").unwrap_or(t).trim_ascii();
    t.len() >= 40 && t.iter().all(|&b| is_b64(b) || matches!(b, b'-' | b'_'))
}

/// Key names that hold credentials, compared with `_`, `-`, `.` and case removed.
const SECRET_KEYS: [&str; 14] = [
    "password",
    "passwd",
    "passphrase",
    "dbpwd",
    "dbpass",
    "secret",
    "token",
    "apikey",
    "accesskey",
    "secretkey",
    "privatekey",
    "authkey",
    "credential",
    "credentials",
];

/// `KEY = VALUE`, `KEY: VALUE`, `"KEY": "VALUE"` whose key names a
/// credential and whose value is a literal, not a placeholder.
fn assignment(line: &[u8], config: bool) -> Option<SecretKind> {
    let line = std::str::from_utf8(line).ok()?.trim();
    let line = line
        .strip_prefix("export ")
        .or_else(|| line.strip_prefix("- "))
        .unwrap_or(line)
        .trim_start();
    if line.starts_with('#') || line.starts_with("//") || line.starts_with(';') {
        return None;
    }
    let (key, rest) = match line.chars().next()? {
        q @ ('"' | '\'') => {
            let end = line[1..].find(q)? + 1;
            (&line[1..end], &line[end + 1..])
        }
        _ => {
            let end = line
                .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')))
                .unwrap_or(line.len());
            (&line[..end], &line[end..])
        }
    };
    let rest = rest.trim_start();
    let rest = rest
        .strip_prefix(":=")
        .or_else(|| rest.strip_prefix('='))
        .or_else(|| rest.strip_prefix(':'))?;
    if rest.starts_with('=') {
        return None; // a comparison
    }
    let norm: String = key
        .chars()
        .filter(|c| !matches!(c, '_' | '-' | '.' | ' '))
        .flat_map(char::to_lowercase)
        .collect();
    let value = literal(rest.trim())?;
    let aws_secret = norm.contains("secretaccesskey") || norm == "awssecretkey";
    if aws_secret && value.len() == 40 && value.bytes().all(is_b64) {
        return Some(SecretKind::AwsSecretKey);
    }
    if config && SECRET_KEYS.iter().any(|k| norm.ends_with(k)) && !placeholder(value) {
        return Some(SecretKind::PasswordAssignment);
    }
    None
}

/// The value without quotes, or up to a comment or separator when bare.
fn literal(v: &str) -> Option<&str> {
    let v = match v.chars().next()? {
        q @ ('"' | '\'' | '`') => {
            let end = v[1..].find(q)? + 1;
            &v[1..end]
        }
        _ => {
            // A bare value is one word: `passwd: files systemd` (nsswitch)
            // or `password = A challenge password` is a list or prose.
            let v = v
                .split(" #")
                .next()?
                .trim_end()
                .trim_end_matches([',', ';']);
            if v.contains(char::is_whitespace) {
                return None;
            }
            v
        }
    };
    (!v.is_empty()).then_some(v)
}

/// Empty-looking, templated or documentation values.
fn placeholder(v: &str) -> bool {
    let l = v.to_ascii_lowercase();
    const WORDS: [&str; 14] = [
        "null",
        "none",
        "nil",
        "true",
        "false",
        "undefined",
        "password",
        "passwd",
        "secret",
        "token",
        "todo",
        "tbd",
        "redacted",
        "required",
    ];
    const PARTS: [&str; 9] = [
        "changeme",
        "change_me",
        "change-me",
        "example",
        "placeholder",
        "your_",
        "your-",
        "xxxx",
        "dummy",
    ];
    v.len() < 4
        || WORDS.contains(&l.as_str())
        || PARTS.iter().any(|p| l.contains(p))
        || v.starts_with('$')
        || v.starts_with('%')
        || v.starts_with('{')
        || v.starts_with('[')
        || (v.starts_with('<') && v.ends_with('>'))
        || v.bytes().all(|b| b == v.as_bytes()[0])
        // A path to where the secret really lives.
        || v.starts_with('/')
        || v.starts_with("file:")
}

/// Shortest run considered, and longest (longer is data, not a credential).
const MIN_TOKEN: usize = 32;
const MAX_TOKEN: usize = 512;

/// The offset of a random-looking token in the line: base64 alphabet, at
/// least 32 long, upper case, lower case and digits mixed, switching
/// between them as often as random text does (words, camelCase and paths
/// switch rarely), and an entropy close to that of random text of its length.
fn high_entropy(line: &[u8]) -> Option<usize> {
    // '=' only as trailing padding: `KEY=--flag=value` is three words.
    let tok = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'-' | b'_');
    let mut i = 0;
    while i < line.len() {
        if !tok(line[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < line.len() && tok(line[i]) {
            i += 1;
        }
        let t = &line[start..i];
        let before = &line[..start];
        // Checksums (go.sum h1:, Subresource Integrity) are public; so are
        // ids in URLs and C++ mangled names.
        let checksum = [&b"h1:"[..], b"sha256-", b"sha384-", b"sha512-"]
            .iter()
            .any(|p| before.ends_with(p));
        let word_start = before
            .iter()
            .rposition(|b| {
                b.is_ascii_whitespace() || matches!(b, b'"' | b'\'' | b'<' | b'>' | b'(' | b'[')
            })
            .map_or(0, |p| p + 1);
        let url = memmem::find(&line[word_start..start], b"://").is_some();
        let mangled = t.starts_with(b"_Z");
        let checksum = checksum
            || [&b"sha256-"[..], b"sha384-", b"sha512-"]
                .iter()
                .any(|p| t.starts_with(p));
        if (MIN_TOKEN..=MAX_TOKEN).contains(&t.len())
            && !checksum
            && !url
            && !mangled
            && t.iter().any(u8::is_ascii_uppercase)
            && t.iter().any(u8::is_ascii_lowercase)
            && t.iter().any(u8::is_ascii_digit)
            && class_switches(t) >= MIN_SWITCHES
            && entropy(t) >= entropy_threshold(t.len())
        {
            return Some(start);
        }
    }
    None
}

/// Random base64 changes character class (upper, lower, digit, symbol)
/// between about 65% of neighbours; 45% leaves room for chance.
const MIN_SWITCHES: f64 = 0.45;

/// The share of neighbouring bytes of different classes.
fn class_switches(t: &[u8]) -> f64 {
    let class = |b: u8| match b {
        b'A'..=b'Z' => 0,
        b'a'..=b'z' => 1,
        b'0'..=b'9' => 2,
        _ => 3,
    };
    // Only letter/digit neighbours count: `_`, `-`, `/` separate words in
    // names and paths as often as they occur in random base64url.
    let pairs = t
        .windows(2)
        .filter(|w| w[0].is_ascii_alphanumeric() && w[1].is_ascii_alphanumeric());
    let (mut n, mut switches) = (0usize, 0usize);
    for w in pairs {
        n += 1;
        switches += usize::from(class(w[0]) != class(w[1]));
    }
    switches as f64 / n.max(1) as f64
}

/// Shannon entropy in bits per byte.
pub fn entropy(s: &[u8]) -> f64 {
    let mut counts = [0u32; 256];
    for &b in s {
        counts[b as usize] += 1;
    }
    let n = s.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / n;
            -p * p.log2()
        })
        .sum()
}

/// The entropy a random base64 string of length `n` reaches, less a margin:
/// short samples cannot show all 64 symbols, so the bar rises with length
/// (about 4.3 bits at 32 characters, 4.7 at 64, capped at 5.0).
fn entropy_threshold(n: usize) -> f64 {
    // Expected distinct-symbol deficit of a sample (Miller–Madow), minus 0.55 bits.
    let expected = 6.0 - 63.0 / (2.0 * n as f64 * std::f64::consts::LN_2);
    (expected - 0.55).min(5.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(path: &str, data: &[u8]) -> Vec<SecretKind> {
        scan(path, data).into_iter().map(|f| f.kind).collect()
    }

    #[test]
    fn assignments_need_a_literal() {
        assert_eq!(
            kinds("/etc/app.conf", b"db_password = s3cr3t-Value\n"),
            [SecretKind::PasswordAssignment]
        );
        assert_eq!(
            kinds("/etc/app.yaml", b"auth:\n  api_token: \"k9Fq2LmZ\"\n"),
            [SecretKind::PasswordAssignment]
        );
        for quiet in [
            "password=\n",
            "password = ${DB_PASSWORD}\n",
            "password: changeme\n",
            "password: \"<your password>\"\n",
            "secret: true\n",
            "password_file = /run/secrets/db\n",
            "# password = hunter22\n",
            "token_url = https://example.com/token\n",
            "if password == \"abcd\" {\n",
            "password: ********\n",
            "passwd:         files systemd\n",
            "challengePassword = A challenge password\n",
        ] {
            assert!(
                kinds("/etc/app.conf", quiet.as_bytes()).is_empty(),
                "{quiet}"
            );
        }
        // Not a config file: source code is not judged by assignments.
        assert!(kinds("/app/main.go", b"password := \"hunter22\"\n").is_empty());
    }

    #[test]
    fn allow_list_syntax() {
        let a: Allow = "/app/data/k.pem:private-key".parse().unwrap();
        assert_eq!(a.kind, Some(SecretKind::PrivateKey));
        let b: Allow = "/app/a:B.txt".parse().unwrap();
        assert_eq!((b.path.as_str(), b.kind), ("/app/a:B.txt", None));
        let e = "/app/x.env:pasword-assignment"
            .parse::<Allow>()
            .unwrap_err();
        assert!(
            e.contains("unknown secret kind") && e.contains("password-assignment"),
            "{e}"
        );
        assert!("relative/path".parse::<Allow>().is_err());
        let dir: Allow = "/app/data/".parse().unwrap();
        let f = SecretFinding {
            path: "/app/data/x/y".into(),
            line: None,
            offset: 0,
            kind: SecretKind::Jwt,
        };
        assert!(dir.allows(&f) && !a.allows(&f));
    }

    #[test]
    fn thresholds_rise_with_length() {
        assert!(entropy_threshold(32) > 4.0 && entropy_threshold(32) < 4.2);
        assert!(entropy_threshold(64) > entropy_threshold(32));
        assert!(entropy_threshold(10_000) <= 5.0);
    }

    proptest::proptest! {
        #[test]
        fn scan_never_panics(data in proptest::collection::vec(proptest::num::u8::ANY, 0..2048)) {
            let _ = scan("/x.conf", &data);
        }

        #[test]
        fn scan_never_panics_on_near_misses(s in "(-----BEGIN [A-Z ]{0,20}PRIVATE KEY-----\n[A-Za-z0-9+/]{0,40}|AKIA[A-Z0-9]{0,18}|eyJ[A-Za-z0-9_-]{0,20}\\.?eyJ?[A-Za-z0-9_-]{0,12}\\.?|password ?[:=] ?\"?[a-z]{0,6}| |\n){0,8}") {
            let _ = scan("/x.env", s.as_bytes());
        }
    }
}
