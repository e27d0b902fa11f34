//! A small PEM reader and writer with Go's `encoding/pem` behaviour: the
//! writer wraps base64 at 64 columns and ends with a newline (so our `.pub`
//! is byte-identical to cosign's); the reader takes the first block, skips
//! RFC 1421 headers and ignores whitespace in the body.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use zeroize::Zeroizing;

/// One decoded PEM block. The body may be key material: it is zeroed on drop.
pub(crate) struct Pem {
    pub label: String,
    pub body: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for Pem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Pem({}, {} bytes)", self.label, self.body.len())
    }
}

pub(crate) fn encode(label: &str, body: &[u8]) -> String {
    let b64 = B64.encode(body);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        // base64 output is ASCII, so every chunk is valid UTF-8.
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// The first PEM block in `text`. Errors say what is missing, never quote
/// the body (it may be a key).
pub(crate) fn decode(text: &str) -> Result<Pem, String> {
    let start = text
        .find("-----BEGIN ")
        .ok_or("no `-----BEGIN ...-----` line")?;
    let rest = &text[start + "-----BEGIN ".len()..];
    let label_end = rest
        .find("-----")
        .ok_or("the BEGIN line does not end with `-----`")?;
    let label = &rest[..label_end];
    if label.contains('\n') || label.is_empty() {
        return Err("the BEGIN line has no label".into());
    }
    let after = &rest[label_end + 5..];
    let end_marker = format!("-----END {label}-----");
    let body_end = after
        .find(&end_marker)
        .ok_or_else(|| format!("no `{end_marker}` line"))?;
    let body = &after[..body_end];
    let mut lines: Vec<&str> = body.lines().map(str::trim).collect();
    while lines.first() == Some(&"") {
        lines.remove(0);
    }
    // RFC 1421 headers ("Proc-Type: ...") end at the first blank line.
    if lines.first().is_some_and(|l| l.contains(':')) {
        let blank = lines
            .iter()
            .position(|l| l.is_empty())
            .ok_or("PEM headers are not followed by a blank line")?;
        lines.drain(..=blank);
    }
    let joined: Zeroizing<String> = Zeroizing::new(lines.concat());
    let decoded = B64
        .decode(joined.as_bytes())
        .map_err(|_| format!("the body of the {label} block is not valid base64"))?;
    if decoded.is_empty() {
        return Err(format!("the {label} block is empty"));
    }
    Ok(Pem {
        label: label.to_string(),
        body: Zeroizing::new(decoded),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_wraps_at_64_and_skips_headers() {
        let body: Vec<u8> = (0..=255).collect();
        let text = encode("TEST", &body);
        assert!(
            text.lines()
                .all(|l| l.len() <= 64 || l.starts_with("-----"))
        );
        assert!(text.ends_with("-----END TEST-----\n"));
        let back = decode(&text).unwrap();
        assert_eq!(back.label, "TEST");
        assert_eq!(*back.body, body);

        let with_headers = text.replacen("\n", "\nProc-Type: 4,ENCRYPTED\n\n", 1);
        assert_eq!(*decode(&with_headers).unwrap().body, body);
    }

    #[test]
    fn errors_name_what_is_missing() {
        assert!(decode("hello").unwrap_err().contains("BEGIN"));
        assert!(
            decode("-----BEGIN X-----\nAAAA\n")
                .unwrap_err()
                .contains("-----END X-----")
        );
        assert!(
            decode("-----BEGIN X-----\n!!!!\n-----END X-----\n")
                .unwrap_err()
                .contains("base64")
        );
    }
}
