//! gzip for layers: one pinned backend (libdeflate) and level, in parallel.
//!
//! The input is cut into fixed 2 MiB chunks and each chunk becomes one gzip
//! member; the members are concatenated, which RFC 1952 defines as one gzip
//! file (Go's `gzip.Reader`, pigz, zlib and every container runtime read it).
//! Chunk boundaries never depend on the thread count, so the output is the
//! same on any machine with this backend version. libdeflate is roughly twice
//! as fast as zlib at the same ratio. Deflate output differs between backends
//! and versions, so a test pins a known digest.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;

use libdeflater::{CompressionLvl, Compressor};
use sha2::{Digest as _, Sha256};

use crate::{Digest, OciError};

/// The backend and its version, as the layer cache key names it: deflate
/// output differs between versions, so a cached layer from another version
/// must not be taken for this one's. A test checks it against Cargo.lock.
pub const BACKEND: &str = "libdeflate-1.26.1";

/// Bytes per independently compressed chunk (one gzip member each).
pub const CHUNK: usize = 2 << 20;

/// Compress `data` as gzip with the given level (1-9), using up to `threads` threads.
pub fn gzip(data: &[u8], level: u32, threads: usize) -> Result<Vec<u8>, OciError> {
    let never = AtomicBool::new(false);
    let (gz, _) = gzip_and_digest(data, level, threads, &never)?.expect("never cancelled");
    Ok(gz)
}

/// Compress and hash the result in one pass: chunks are dealt round-robin to
/// the compression threads, so they finish roughly in order, and this thread
/// hashes each member as soon as every one before it is in. `cancel` stops the
/// work between chunks (the caller found the layer cached meanwhile): `None`.
pub fn gzip_and_digest(
    data: &[u8],
    level: u32,
    threads: usize,
    cancel: &AtomicBool,
) -> Result<Option<(Vec<u8>, Digest)>, OciError> {
    let level = CompressionLvl::new(level.clamp(1, 9) as i32)
        .map_err(|_| OciError::Layer(format!("gzip level {level} is not 1-9")))?;
    let chunks: Vec<&[u8]> = if data.is_empty() {
        vec![&[][..]]
    } else {
        data.chunks(CHUNK).collect()
    };
    let threads = threads.clamp(1, chunks.len());
    let next = AtomicUsize::new(0);
    let (tx, rx) = mpsc::channel::<(usize, Result<Vec<u8>, OciError>)>();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            let tx = tx.clone();
            let (chunks, next) = (&chunks, &next);
            scope.spawn(move || {
                let mut compressor = Compressor::new(level);
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(chunk) = chunks.get(i) else { break };
                    if cancel.load(Ordering::Relaxed) {
                        break;
                    }
                    let mut out = vec![0; compressor.gzip_compress_bound(chunk.len())];
                    let result = compressor
                        .gzip_compress(chunk, &mut out)
                        .map(|n| {
                            out.truncate(n);
                            out
                        })
                        .map_err(|e| OciError::Layer(format!("gzip: {e:?}")));
                    if tx.send((i, result)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        let mut pending = std::collections::BTreeMap::new();
        let mut hasher = Sha256::new();
        let mut out = Vec::with_capacity(data.len() / 2 + 64);
        let mut want = 0;
        for (i, result) in rx {
            pending.insert(i, result?);
            while let Some(member) = pending.remove(&want) {
                hasher.update(&member);
                out.extend_from_slice(&member);
                want += 1;
            }
        }
        if want < chunks.len() {
            return Ok(None); // cancelled
        }
        Ok(Some((
            out,
            Digest::from_sha256(hasher.finalize().as_slice()),
        )))
    })
}

/// Compress exactly `len` bytes from `input` into `out` as gzip, streaming
/// one [`CHUNK`] at a time on this thread: the same bytes as [`gzip`] for
/// the same data and level. Returns the digest and size of what was written.
pub fn gzip_stream<R: std::io::Read, W: std::io::Write>(
    input: R,
    len: u64,
    level: u32,
    out: W,
) -> Result<(Digest, u64), OciError> {
    let lvl = CompressionLvl::new(level.clamp(1, 9) as i32)
        .map_err(|_| OciError::Layer(format!("gzip level {level} is not 1-9")))?;
    let mut compressor = Compressor::new(lvl);
    let mut out = crate::zstd::HashingWriter::new(out);
    let mut member = Vec::new();
    let mut compress = |chunk: &[u8]| -> Result<(), OciError> {
        member.resize(compressor.gzip_compress_bound(chunk.len()), 0);
        let n = compressor
            .gzip_compress(chunk, &mut member)
            .map_err(|e| OciError::Layer(format!("gzip: {e:?}")))?;
        std::io::Write::write_all(&mut out, &member[..n])
            .map_err(|e| OciError::Layer(format!("writing a layer: {e}")))
    };
    if len == 0 {
        compress(&[])?; // one empty member, as gzip() writes
    } else {
        feed(input, len, CHUNK, &mut compress)?;
    }
    out.finish()
}

/// Read exactly `len` bytes from `input` and hand them to `each` in pieces
/// of `piece` bytes (the last may be shorter), however `input` splits its
/// reads: compressors fed this way write the same bytes from a stream as
/// from memory.
pub(crate) fn feed<R: std::io::Read>(
    mut input: R,
    len: u64,
    piece: usize,
    mut each: impl FnMut(&[u8]) -> Result<(), OciError>,
) -> Result<(), OciError> {
    let mut buf = vec![0u8; piece.min(len as usize).max(1)];
    let mut done = 0u64;
    while done < len {
        let want = (len - done).min(buf.len() as u64) as usize;
        let mut filled = 0;
        while filled < want {
            let n = input
                .read(&mut buf[filled..want])
                .map_err(|e| OciError::Layer(format!("reading a layer: {e}")))?;
            if n == 0 {
                return Err(OciError::Layer(format!(
                    "the layer ended after {} of {len} bytes",
                    done + filled as u64
                )));
            }
            filled += n;
        }
        each(&buf[..want])?;
        done += want as u64;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn gunzip(data: &[u8]) -> Vec<u8> {
        // MultiGzDecoder: members one after another, as Go's reader does.
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(data)
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    fn sample(len: usize) -> Vec<u8> {
        // Compressible but not trivial: a repeating text with a counter.
        let mut v = Vec::with_capacity(len);
        let mut i = 0u64;
        while v.len() < len {
            v.extend_from_slice(format!("line {i} of a layer that compresses\n").as_bytes());
            i = i
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407)
                % 100_000;
        }
        v.truncate(len);
        v
    }

    #[test]
    fn round_trips_at_every_size_and_thread_count() {
        for len in [0, 1, 511, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 17] {
            let data = sample(len);
            let one = gzip(&data, 6, 1).unwrap();
            assert_eq!(gunzip(&one), data, "len {len}");
            for threads in [2, 3, 8] {
                assert_eq!(
                    gzip(&data, 6, threads).unwrap(),
                    one,
                    "len {len}, {threads} threads"
                );
            }
            let never = AtomicBool::new(false);
            let (gz, digest) = gzip_and_digest(&data, 6, 2, &never).unwrap().unwrap();
            assert_eq!(gz, one);
            assert_eq!(digest, Digest::of(&one));
            // Streamed from a reader with odd-sized reads: the same bytes.
            let odd = std::io::BufReader::with_capacity(4099, data.as_slice());
            let mut streamed = Vec::new();
            let (d, n) = gzip_stream(odd, len as u64, 6, &mut streamed).unwrap();
            assert_eq!(streamed, one, "streamed, len {len}");
            assert_eq!((d, n), (digest, one.len() as u64));
        }
    }

    #[test]
    fn cancelling_stops_the_work() {
        let cancelled = AtomicBool::new(true);
        assert!(
            gzip_and_digest(&sample(4 * CHUNK), 6, 2, &cancelled)
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn backend_names_the_locked_version() {
        let lock =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../Cargo.lock"))
                .expect("the workspace's Cargo.lock");
        let locked = lock
            .split("[[package]]")
            .find(|p| p.contains("name = \"libdeflate-sys\""))
            .and_then(|p| p.split("version = \"").nth(1))
            .and_then(|v| v.split('"').next())
            .expect("libdeflate-sys in Cargo.lock");
        assert_eq!(
            BACKEND,
            format!("libdeflate-{locked}"),
            "update BACKEND with the dependency"
        );
    }

    #[test]
    fn output_is_pinned() {
        // If this digest changes, the backend or its version changed: every
        // layer digest slipway produces changes with it. Update deliberately.
        let data = sample(5 * CHUNK + 1000);
        let gz = gzip(&data, 6, 2).unwrap();
        assert_eq!(
            crate::Digest::of(&gz).to_string(),
            "sha256:fdcd00dd568aea04f3c31e8960be0f8249d31533e65a48fbca3120def668a0ee"
        );
        // Each member starts with a header that has no mtime and no file name.
        assert_eq!(&gz[..8], &[0x1f, 0x8b, 8, 0, 0, 0, 0, 0]);
    }
}
