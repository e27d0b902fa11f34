//! zstd for layers: one pinned libzstd (the `zstd-sys` crate, pinned with
//! `=` in the workspace manifest) and fixed frame settings, single-threaded.
//!
//! A layer is one zstd frame. Every setting that changes the bytes is set
//! here rather than left to a default: the level, a content-size field
//! (the length is always known), a content checksum (xxh64, so a reader
//! notices corruption inside the frame), no dictionary and no dictionary
//! ID, no long-distance matching, no worker threads (libzstd's
//! multi-threaded mode writes other bytes than single-threaded; they do not
//! depend on the number of workers, as a test checks, but on 2 cores they
//! did not pay: see docs/image.md). The input is fed in fixed
//! [`FEED`]-byte pieces, so the bytes never depend on how the caller reads
//! its input. zstd output differs between libzstd versions, so a test pins a
//! known digest.

use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};

use sha2::{Digest as _, Sha256};

use crate::{Digest, OciError};

/// The library and its version, as the layer cache key names it: a cached
/// layer from another libzstd must not be taken for this one's. A test
/// checks it against the linked library.
pub const BACKEND: &str = "zstd-1.5.7";

/// The level `compression = "zstd"` means: the knee of size against time
/// (benches/zstd_layers.py, docs/image.md). On nats-server's 17 MB layer,
/// 9 is 7.6% smaller than gzip:6 for 0.6 s of CPU; 12 saves another 0.9%
/// for twice the CPU, 19 another 9% for twenty times it (12.5 s). Level 19
/// stays one setting away (`zstd:19`) for pulls where every byte counts.
pub const DEFAULT_LEVEL: u32 = 9;

/// The levels offered. 20-22 ("ultra") need windows up to 128 MiB, which
/// decoders refuse by default and small devices cannot spare.
pub const LEVELS: std::ops::RangeInclusive<u32> = 1..=19;

/// The size of one libzstd job when it compresses with worker threads.
pub const JOB_SIZE: u32 = 4 << 20;

/// Bytes handed to the encoder at a time.
pub const FEED: usize = 1 << 20;

/// The largest window a layer may ask the decoder for (2^27 = 128 MiB,
/// libzstd's default limit too): a hostile frame cannot demand more memory.
pub const WINDOW_LOG_MAX: u32 = 27;

fn err(what: &str, e: std::io::Error) -> OciError {
    OciError::Layer(format!("zstd {what}: {e}"))
}

/// An encoder writing to `out` with the pinned settings, for `len` bytes.
fn encoder<W: Write>(out: W, level: u32, len: u64) -> Result<zstd::Encoder<'static, W>, OciError> {
    encoder_with_workers(out, level, len, 0)
}

/// [`encoder`] with `workers` libzstd worker threads (0: in the caller's
/// thread) and, with workers, jobs of a fixed [`JOB_SIZE`].
fn encoder_with_workers<W: Write>(
    out: W,
    level: u32,
    len: u64,
    workers: u32,
) -> Result<zstd::Encoder<'static, W>, OciError> {
    if !LEVELS.contains(&level) {
        return Err(OciError::Input(format!(
            "zstd level {level} is not {}-{}",
            LEVELS.start(),
            LEVELS.end()
        )));
    }
    let mut e = zstd::Encoder::new(out, level as i32).map_err(|e| err("encoder", e))?;
    e.include_checksum(true).map_err(|e| err("checksum", e))?;
    e.include_contentsize(true)
        .map_err(|e| err("content size", e))?;
    e.include_dictid(false)
        .map_err(|e| err("dictionary id", e))?;
    e.long_distance_matching(false)
        .map_err(|e| err("long-distance matching", e))?;
    e.set_pledged_src_size(Some(len))
        .map_err(|e| err("pledged size", e))?;
    if workers > 0 {
        e.multithread(workers).map_err(|e| err("workers", e))?;
        e.set_parameter(zstd::zstd_safe::CParameter::JobSize(JOB_SIZE))
            .map_err(|e| err("job size", e))?;
    }
    Ok(e)
}

/// Compress `data` as one zstd frame and hash the result; `cancel` stops
/// the work between pieces (the caller found the layer cached): `None`.
pub fn zstd_and_digest(
    data: &[u8],
    level: u32,
    workers: u32,
    cancel: &AtomicBool,
) -> Result<Option<(Vec<u8>, Digest)>, OciError> {
    let mut e = encoder_with_workers(
        Vec::with_capacity(data.len() / 3 + 64),
        level,
        data.len() as u64,
        workers,
    )?;
    for piece in data.chunks(FEED) {
        if cancel.load(Ordering::Relaxed) {
            return Ok(None);
        }
        e.write_all(piece).map_err(|e| err("compressing", e))?;
    }
    let out = e.finish().map_err(|e| err("finishing", e))?;
    let digest = Digest::of(&out);
    Ok(Some((out, digest)))
}

/// Compress exactly `len` bytes from `input` into `out`, streaming: the
/// same bytes as [`zstd_and_digest`] for the same data. Returns the digest
/// and size of what was written.
pub fn zstd_stream<R: Read, W: Write>(
    input: R,
    len: u64,
    level: u32,
    out: W,
) -> Result<(Digest, u64), OciError> {
    let mut e = encoder(HashingWriter::new(out), level, len)?;
    crate::gzip::feed(input, len, FEED, |piece| {
        e.write_all(piece).map_err(|e| err("compressing", e))
    })?;
    e.finish().map_err(|e| err("finishing", e))?.finish()
}

/// A writer that hashes and counts what passes through it.
pub(crate) struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    written: u64,
}

impl<W: Write> HashingWriter<W> {
    pub(crate) fn new(inner: W) -> Self {
        HashingWriter {
            inner,
            hasher: Sha256::new(),
            written: 0,
        }
    }

    /// Flush, and the digest and length of everything written.
    pub(crate) fn finish(mut self) -> Result<(Digest, u64), OciError> {
        self.inner
            .flush()
            .map_err(|e| OciError::Layer(format!("writing a layer: {e}")))?;
        Ok((
            Digest::from_sha256(self.hasher.finalize().as_slice()),
            self.written,
        ))
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.written += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(len: usize) -> Vec<u8> {
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

    fn unzstd(data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        crate::compression::decoder(crate::spec::MEDIA_LAYER_ZSTD, data)
            .unwrap()
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    #[test]
    fn round_trips_and_streams_the_same_bytes() {
        let never = AtomicBool::new(false);
        for len in [0, 1, FEED - 1, FEED, 2 * FEED + 17] {
            let data = sample(len);
            let (z, digest) = zstd_and_digest(&data, 3, 0, &never).unwrap().unwrap();
            assert_eq!(digest, Digest::of(&z));
            assert_eq!(unzstd(&z), data, "len {len}");
            // A reader that hands out odd-sized reads changes nothing.
            let odd = std::io::BufReader::with_capacity(4099, data.as_slice());
            let mut streamed = Vec::new();
            let (d, n) = zstd_stream(odd, len as u64, 3, &mut streamed).unwrap();
            assert_eq!(streamed, z, "len {len}");
            assert_eq!((d, n), (digest, z.len() as u64));
        }
    }

    #[test]
    fn a_short_input_is_an_error() {
        let data = sample(1000);
        let e = zstd_stream(&data[..], 2000, 3, Vec::new()).unwrap_err();
        assert!(
            e.to_string().contains("ended after 1000 of 2000 bytes"),
            "{e}"
        );
    }

    #[test]
    fn levels_outside_the_range_are_refused() {
        let never = AtomicBool::new(false);
        for level in [0, 20, 22] {
            let e = zstd_and_digest(b"x", level, 0, &never).unwrap_err();
            assert!(e.to_string().contains("not 1-19"), "{e}");
        }
    }

    #[test]
    fn cancelling_stops_the_work() {
        let cancelled = AtomicBool::new(true);
        assert!(
            zstd_and_digest(&sample(3 * FEED), 3, 0, &cancelled)
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn backend_names_the_linked_library() {
        assert_eq!(
            BACKEND,
            format!("zstd-{}", zstd::zstd_safe::version_string())
        );
    }

    fn with_workers(data: &[u8], level: u32, workers: u32) -> Vec<u8> {
        let mut e = encoder_with_workers(Vec::new(), level, data.len() as u64, workers).unwrap();
        for piece in data.chunks(FEED) {
            e.write_all(piece).unwrap();
        }
        e.finish().unwrap()
    }

    /// libzstd 1.5.7's multi-threaded mode, with a fixed job size, writes
    /// the same bytes whatever the number of workers; but not the bytes of
    /// the single-threaded mode slipway uses (docs/image.md says why it
    /// stays single-threaded).
    #[test]
    fn worker_threads_and_the_bytes() {
        // Machine code compresses like a layer does (the text sample is
        // too easy: a few KB); this test's own executable, repeated to
        // two and a half jobs.
        let exe = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        let want = 5 * JOB_SIZE as usize / 2 + 12345;
        let data: Vec<u8> = exe.iter().copied().cycle().take(want).collect();
        for level in [3, DEFAULT_LEVEL] {
            let one = with_workers(&data, level, 1);
            assert_eq!(unzstd(&one), data);
            for workers in [2, 4] {
                assert!(
                    with_workers(&data, level, workers) == one,
                    "level {level}: {workers} workers wrote other bytes than 1"
                );
            }
            assert!(
                with_workers(&data, level, 0) != one,
                "level {level}: single-threaded wrote the multi-threaded bytes"
            );
        }
    }

    #[test]
    fn output_is_pinned() {
        // If these digests change, libzstd or a frame setting changed: every
        // zstd layer digest slipway produces changes with it. Update deliberately.
        let data = sample(3 * FEED + 1000);
        let never = AtomicBool::new(false);
        let (z, _) = zstd_and_digest(&data, 19, 0, &never).unwrap().unwrap();
        let (z3, _) = zstd_and_digest(&data, 3, 0, &never).unwrap().unwrap();
        let (default, _) = zstd_and_digest(&data, DEFAULT_LEVEL, 0, &never)
            .unwrap()
            .unwrap();
        assert_eq!(
            [
                Digest::of(&z).to_string(),
                Digest::of(&z3).to_string(),
                Digest::of(&default).to_string()
            ],
            [
                "sha256:8c19b60adc0391b96887f9f12b6e3184c2240bc08225cf4399f9eee2a7086ca5",
                "sha256:aea8d6c0b9b8aa8098d70b7da80c31fbfed7880022db89af267ff055e04829f1",
                "sha256:731accebdf05feb78f2d2acee4d657ec692a839948378986cdf5de7418cf907f"
            ]
        );
        // `compression = "zstd"` is that default level.
        assert_eq!(
            "zstd".parse::<crate::Compression>().unwrap(),
            crate::Compression::zstd(9)
        );
        // Magic, then a frame header with a checksum and a content size and
        // no dictionary ID: FHD = size flag 0b10 (4 bytes), checksum bit.
        assert_eq!(&z[..4], &[0x28, 0xb5, 0x2f, 0xfd]);
        assert_eq!(z[4] & 0b11, 0, "no dictionary id");
        assert_ne!(z[4] & 0b100, 0, "a content checksum");
        assert_eq!(z[4] >> 6, 2, "a 4-byte content size");
    }
}
