//! Just enough HTTP/1.1 for the token server and the fault proxy: reading a
//! message head, finding out how its body is framed, and copying bodies
//! without buffering them whole (blobs can be large).

use std::io::{self, BufRead, Read, Write};

/// Longest message head accepted; a peer that sends more is cut off.
const MAX_HEAD: usize = 64 * 1024;

/// A parsed request or response head. `raw` keeps the exact bytes so a proxy
/// can forward them untouched.
#[derive(Debug, Clone)]
pub(crate) struct Head {
    /// For a request: method, target, version. For a response: version, status, reason.
    pub start: [String; 3],
    pub headers: Vec<(String, String)>,
}

impl Head {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// True if a comma-separated header (Connection, Transfer-Encoding...)
    /// lists `token`.
    pub fn header_has(&self, name: &str, token: &str) -> bool {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .flat_map(|(_, v)| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    }

    /// The head serialised again, without the headers named in `drop`.
    pub fn to_bytes_without(&self, drop: &[&str]) -> Vec<u8> {
        let mut out = format!("{} {} {}\r\n", self.start[0], self.start[1], self.start[2]);
        for (k, v) in &self.headers {
            if !drop.iter().any(|d| k.eq_ignore_ascii_case(d)) {
                out.push_str(&format!("{k}: {v}\r\n"));
            }
        }
        out.push_str("\r\n");
        out.into_bytes()
    }

    pub fn status(&self) -> Option<u16> {
        self.start[1].parse().ok()
    }
}

/// How a message body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    None,
    Length(u64),
    Chunked,
    /// Response body delimited by the connection closing.
    UntilClose,
}

/// Read one head. `Ok(None)` on a clean end of stream before any byte.
pub(crate) fn read_head(r: &mut impl BufRead) -> io::Result<Option<Head>> {
    let mut lines = Vec::new();
    let mut total = 0;
    loop {
        let mut line = Vec::new();
        let n = r
            .take((MAX_HEAD + 1 - total) as u64)
            .read_until(b'\n', &mut line)?;
        if n == 0 {
            if lines.is_empty() && total == 0 {
                return Ok(None);
            }
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "head cut short",
            ));
        }
        total += n;
        if total > MAX_HEAD {
            return Err(bad("message head too large"));
        }
        while line.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
            line.pop();
        }
        if line.is_empty() {
            if lines.is_empty() {
                continue; // tolerate stray CRLF between messages
            }
            break;
        }
        lines.push(String::from_utf8(line).map_err(|_| bad("head is not UTF-8"))?);
    }
    let mut start = lines[0].splitn(3, ' ');
    let start = [
        start.next().unwrap_or_default().to_string(),
        start
            .next()
            .ok_or_else(|| bad("bad start line"))?
            .to_string(),
        start.next().unwrap_or_default().to_string(),
    ];
    let mut headers = Vec::new();
    for l in &lines[1..] {
        let (k, v) = l
            .split_once(':')
            .ok_or_else(|| bad("header without colon"))?;
        headers.push((k.trim().to_string(), v.trim().to_string()));
    }
    Ok(Some(Head { start, headers }))
}

fn bad(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.to_string())
}

/// Body framing of a request.
pub(crate) fn request_framing(h: &Head) -> io::Result<Framing> {
    if h.header_has("Transfer-Encoding", "chunked") {
        return Ok(Framing::Chunked);
    }
    match h.header("Content-Length") {
        Some(v) => v
            .parse()
            .map(Framing::Length)
            .map_err(|_| bad("bad Content-Length")),
        None => Ok(Framing::None),
    }
}

/// Body framing of a response to a request with `method`.
pub(crate) fn response_framing(method: &str, h: &Head) -> io::Result<Framing> {
    let status = h.status().ok_or_else(|| bad("bad status"))?;
    if method.eq_ignore_ascii_case("HEAD")
        || (100..200).contains(&status)
        || status == 204
        || status == 304
    {
        return Ok(Framing::None);
    }
    if h.header_has("Transfer-Encoding", "chunked") {
        return Ok(Framing::Chunked);
    }
    match h.header("Content-Length") {
        Some(v) => v
            .parse()
            .map(Framing::Length)
            .map_err(|_| bad("bad Content-Length")),
        None => Ok(Framing::UntilClose),
    }
}

/// Copy a body from `r` to `w` as it is framed, returning the payload bytes
/// (chunk data only, for chunked bodies). `limit` stops after that many raw
/// bytes have been written (for truncation faults); the return then says
/// how many payload bytes got through and `true` for "cut".
pub(crate) fn copy_body(
    r: &mut impl BufRead,
    w: &mut impl Write,
    framing: Framing,
    limit: Option<u64>,
) -> io::Result<(u64, bool)> {
    let mut budget = Budget { left: limit };
    match framing {
        Framing::None => Ok((0, false)),
        Framing::Length(n) => copy_exact(r, w, n, &mut budget),
        Framing::UntilClose => {
            let mut payload = 0;
            let mut buf = [0u8; 64 * 1024];
            loop {
                let n = r.read(&mut buf)?;
                if n == 0 {
                    return Ok((payload, false));
                }
                let (wrote, cut) = budget.write(w, &buf[..n])?;
                payload += wrote as u64;
                if cut {
                    return Ok((payload, true));
                }
            }
        }
        Framing::Chunked => {
            let mut payload = 0;
            loop {
                let mut line = Vec::new();
                r.take(4096).read_until(b'\n', &mut line)?;
                if !line.ends_with(b"\n") {
                    return Err(bad("chunk size line cut short"));
                }
                if budget.write(w, &line)?.1 {
                    return Ok((payload, true));
                }
                let text = std::str::from_utf8(&line).map_err(|_| bad("bad chunk size"))?;
                let hex = text.split(';').next().unwrap_or("").trim();
                let size = u64::from_str_radix(hex, 16).map_err(|_| bad("bad chunk size"))?;
                if size == 0 {
                    // Trailers, then the empty line.
                    loop {
                        let mut t = Vec::new();
                        r.take(4096).read_until(b'\n', &mut t)?;
                        if !t.ends_with(b"\n") {
                            return Err(bad("chunk trailer cut short"));
                        }
                        if budget.write(w, &t)?.1 {
                            return Ok((payload, true));
                        }
                        if t == b"\r\n" || t == b"\n" {
                            return Ok((payload, false));
                        }
                    }
                }
                let (n, cut) = copy_exact(r, w, size, &mut budget)?;
                payload += n;
                if cut {
                    return Ok((payload, true));
                }
                let mut crlf = Vec::new();
                r.take(2).read_until(b'\n', &mut crlf)?;
                if budget.write(w, &crlf)?.1 {
                    return Ok((payload, true));
                }
            }
        }
    }
}

struct Budget {
    left: Option<u64>,
}

impl Budget {
    /// Write as much of `data` as the budget allows; `true` once exhausted.
    fn write(&mut self, w: &mut impl Write, data: &[u8]) -> io::Result<(usize, bool)> {
        match &mut self.left {
            None => {
                w.write_all(data)?;
                Ok((data.len(), false))
            }
            Some(left) => {
                let n = (*left).min(data.len() as u64) as usize;
                w.write_all(&data[..n])?;
                *left -= n as u64;
                Ok((n, *left == 0))
            }
        }
    }
}

fn copy_exact(
    r: &mut impl BufRead,
    w: &mut impl Write,
    mut n: u64,
    budget: &mut Budget,
) -> io::Result<(u64, bool)> {
    let mut copied = 0;
    let mut buf = [0u8; 64 * 1024];
    while n > 0 {
        let want = n.min(buf.len() as u64) as usize;
        let got = r.read(&mut buf[..want])?;
        if got == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "body cut short",
            ));
        }
        let (wrote, cut) = budget.write(w, &buf[..got])?;
        copied += wrote as u64;
        if cut {
            return Ok((copied, true));
        }
        n -= got as u64;
    }
    Ok((copied, false))
}

/// Percent-decode a query component (`+` is a space, as in forms).
pub(crate) fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                match u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("zz"), 16)
                {
                    Ok(v) => {
                        out.push(v);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `a=1&b=2&b=3` as decoded pairs, in order (repeated keys kept).
pub(crate) fn parse_query(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (percent_decode(k), percent_decode(v)),
            None => (percent_decode(p), String::new()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::BufReader;

    #[test]
    fn chunked_bodies_are_copied_verbatim_and_counted() {
        let body = b"5\r\nhello\r\n3;ext=1\r\nabc\r\n0\r\nX-T: 1\r\n\r\nNEXT";
        let mut r = BufReader::new(&body[..]);
        let mut out = Vec::new();
        let (n, cut) = copy_body(&mut r, &mut out, Framing::Chunked, None).unwrap();
        assert_eq!((n, cut), (8, false));
        assert_eq!(out, &body[..body.len() - 4]);
        let mut rest = String::new();
        r.read_to_string(&mut rest).unwrap();
        assert_eq!(rest, "NEXT");
    }

    #[test]
    fn a_limit_cuts_the_body() {
        let mut r = BufReader::new(&b"0123456789"[..]);
        let mut out = Vec::new();
        let (n, cut) = copy_body(&mut r, &mut out, Framing::Length(10), Some(4)).unwrap();
        assert_eq!((n, cut, out.as_slice()), (4, true, &b"0123"[..]));
    }

    #[test]
    fn heads_and_queries_parse() {
        let mut r = BufReader::new(&b"GET /token?scope=repository%3Aa%2Fb%3Apull&scope=x HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n"[..]);
        let h = read_head(&mut r).unwrap().unwrap();
        assert_eq!(h.start[0], "GET");
        assert_eq!(h.header("host"), Some("h"));
        assert_eq!(request_framing(&h).unwrap(), Framing::Length(0));
        let q = parse_query(h.start[1].split_once('?').unwrap().1);
        assert_eq!(q[0], ("scope".into(), "repository:a/b:pull".into()));
        assert_eq!(q.len(), 2);
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
        assert!(read_head(&mut BufReader::new(&b""[..])).unwrap().is_none());
    }

    proptest::proptest! {
        /// Whatever a peer sends, parsing fails cleanly or succeeds; no panic.
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
            let mut r = BufReader::new(&bytes[..]);
            if let Ok(Some(h)) = read_head(&mut r) {
                let _ = request_framing(&h);
                let _ = response_framing("GET", &h);
            }
            let _ = copy_body(&mut BufReader::new(&bytes[..]), &mut io::sink(), Framing::Chunked, None);
            let _ = parse_query(&String::from_utf8_lossy(&bytes));
        }

        /// Any chunking of a body comes through verbatim, payload counted.
        #[test]
        fn chunked_round_trip(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..2000), cuts in proptest::collection::vec(1usize..300, 1..20)) {
            let mut wire = Vec::new();
            let mut rest = &data[..];
            let mut i = 0;
            while !rest.is_empty() {
                let n = cuts[i % cuts.len()].min(rest.len());
                wire.extend(format!("{n:x}\r\n").as_bytes());
                wire.extend(&rest[..n]);
                wire.extend(b"\r\n");
                rest = &rest[n..];
                i += 1;
            }
            wire.extend(b"0\r\n\r\n");
            let mut out = Vec::new();
            let (n, cut) = copy_body(&mut BufReader::new(&wire[..]), &mut out, Framing::Chunked, None).unwrap();
            proptest::prop_assert_eq!((n, cut), (data.len() as u64, false));
            proptest::prop_assert_eq!(out, wire);
        }
    }
}
