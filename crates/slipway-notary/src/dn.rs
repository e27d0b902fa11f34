//! Distinguished names in trust policies (`x509.subject: C=US, ST=WA, O=…`),
//! RFC 4514 text, read into `type → value` pairs the way notation reads them:
//! one value per RDN, each type once, and C, ST and O required.

/// Parse RFC 4514 text (`,` or `;` between RDNs, `\` escapes including
/// `\hh`, quoted values, spaces around types and values ignored).
pub fn parse(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut out: Vec<(String, String)> = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    let fail = |why: &str| {
        Err(format!(
            "distinguished name `{text}` is not valid RFC 4514 ({why}); write it like `C=US, ST=WA, O=Example, CN=Signer`"
        ))
    };
    if text.trim().is_empty() {
        return fail("it is empty");
    }
    loop {
        while chars.get(i).is_some_and(|c| c.is_whitespace()) {
            i += 1;
        }
        let start = i;
        while chars
            .get(i)
            .is_some_and(|&c| c != '=' && c != ',' && c != ';' && c != '+')
        {
            i += 1;
        }
        if chars.get(i) != Some(&'=') {
            return fail("an attribute has no `=`");
        }
        let attr_type: String = chars[start..i]
            .iter()
            .collect::<String>()
            .trim()
            .to_uppercase();
        if attr_type.is_empty() {
            return fail("an attribute has no type");
        }
        i += 1;
        while chars.get(i).is_some_and(|c| c.is_whitespace()) {
            i += 1;
        }
        let mut value = String::new();
        let mut bytes: Vec<u8> = Vec::new();
        // Bytes from `\hh` escapes are collected and decoded as UTF-8 together.
        let flush = |bytes: &mut Vec<u8>, value: &mut String| -> Result<(), ()> {
            if !bytes.is_empty() {
                value.push_str(std::str::from_utf8(bytes).map_err(|_| ())?);
                bytes.clear();
            }
            Ok(())
        };
        let mut trailing_space_ok = 0usize;
        if chars.get(i) == Some(&'"') {
            i += 1;
            loop {
                match chars.get(i) {
                    None => return fail("a quoted value is not closed"),
                    Some('"') => {
                        i += 1;
                        break;
                    }
                    Some('\\') => {
                        let Some(&c) = chars.get(i + 1) else {
                            return fail("a value ends with `\\`");
                        };
                        value.push(c);
                        i += 2;
                    }
                    Some(&c) => {
                        value.push(c);
                        i += 1;
                    }
                }
            }
            while chars.get(i).is_some_and(|c| c.is_whitespace()) {
                i += 1;
            }
        } else {
            while let Some(&c) = chars.get(i) {
                if c == ',' || c == ';' || c == '+' {
                    break;
                }
                if c == '\\' {
                    let next = chars.get(i + 1).copied();
                    let hex = chars
                        .get(i + 1..i + 3)
                        .map(|h| h.iter().collect::<String>())
                        .filter(|h| h.chars().all(|c| c.is_ascii_hexdigit()));
                    if let Some(h) = hex {
                        bytes.push(u8::from_str_radix(&h, 16).unwrap_or(0));
                        i += 3;
                    } else if let Some(n) = next {
                        if flush(&mut bytes, &mut value).is_err() {
                            return fail("an escaped byte sequence is not UTF-8");
                        }
                        value.push(n);
                        i += 2;
                    } else {
                        return fail("a value ends with `\\`");
                    }
                    trailing_space_ok = value.len() + bytes.len();
                    continue;
                }
                if flush(&mut bytes, &mut value).is_err() {
                    return fail("an escaped byte sequence is not UTF-8");
                }
                value.push(c);
                i += 1;
            }
            if flush(&mut bytes, &mut value).is_err() {
                return fail("an escaped byte sequence is not UTF-8");
            }
            // Unescaped trailing spaces are not part of the value.
            while value.len() > trailing_space_ok && value.ends_with(char::is_whitespace) {
                value.pop();
            }
        }
        if chars.get(i) == Some(&'+') {
            return Err(format!(
                "distinguished name `{text}` has a multi-valued RDN (`+`), which trust policies do not support"
            ));
        }
        if out.iter().any(|(t, _)| *t == attr_type) {
            return Err(format!(
                "distinguished name `{text}` has {attr_type} twice; each attribute may appear once"
            ));
        }
        out.push((attr_type, value));
        match chars.get(i) {
            None => break,
            Some(',' | ';') => i += 1,
            Some(_) => return fail("unexpected text after a value"),
        }
    }
    for required in ["C", "ST", "O"] {
        if !out.iter().any(|(t, v)| t == required && !v.is_empty()) {
            return Err(format!(
                "distinguished name `{text}` has no {required}; trusted identities need C, ST and O at least"
            ));
        }
    }
    Ok(out)
}

/// Whether every attribute of `wanted` is in `subject` with the same value.
pub fn is_subset(wanted: &[(String, String)], subject: &[(String, String)]) -> bool {
    wanted.iter().all(|(t, v)| {
        subject
            .iter()
            .any(|(st, sv)| st.eq_ignore_ascii_case(t) && sv == v)
    })
}

/// Escape a value for RFC 4514 text.
pub fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let last = value.chars().count().saturating_sub(1);
    for (i, c) in value.chars().enumerate() {
        let special = matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';')
            || (i == 0 && (c == ' ' || c == '#'))
            || (i == last && c == ' ');
        if special {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn parses_notation_style_identities() {
        let dn =
            parse("C=US, ST=WA, L=Seattle, O=wabbit-networks.io, OU=Finance, CN=SecureBuilder")
                .unwrap();
        assert_eq!(
            dn,
            pairs(&[
                ("C", "US"),
                ("ST", "WA"),
                ("L", "Seattle"),
                ("O", "wabbit-networks.io"),
                ("OU", "Finance"),
                ("CN", "SecureBuilder")
            ])
        );
        let dn = parse(r#"C=DE;ST=BY;O="Acme, Inc.";CN=a\,b\2Bc\20"#).unwrap();
        assert_eq!(dn[2], ("O".into(), "Acme, Inc.".into()));
        assert_eq!(dn[3], ("CN".into(), "a,b+c ".into()));
        assert_eq!(escape("a,b+c "), r"a\,b\+c\ ");
    }

    #[test]
    fn refuses_what_notation_refuses() {
        for (dn, why) in [
            ("C=US, O=x", "no ST"),
            ("C=US, ST=WA, O=a, O=b", "twice"),
            ("C=US+ST=WA, O=a", "multi-valued"),
            ("C=US, ST, O=a", "no `=`"),
            ("", "empty"),
            ("C=US, ST=WA, O=\"open", "not closed"),
        ] {
            let e = parse(dn).unwrap_err();
            assert!(e.contains(why), "{dn}: {e}");
        }
    }

    #[test]
    fn subsets() {
        let subject = pairs(&[("C", "US"), ("ST", "WA"), ("O", "x"), ("CN", "signer")]);
        assert!(is_subset(
            &pairs(&[("C", "US"), ("ST", "WA"), ("O", "x")]),
            &subject
        ));
        assert!(!is_subset(
            &pairs(&[("C", "US"), ("ST", "WA"), ("O", "y")]),
            &subject
        ));
        assert!(!is_subset(
            &pairs(&[("C", "US"), ("ST", "WA"), ("O", "x"), ("OU", "z")]),
            &subject
        ));
    }

    proptest::proptest! {
        #[test]
        fn parse_never_panics(s in ".{0,60}") {
            let _ = parse(&s);
        }
    }
}
