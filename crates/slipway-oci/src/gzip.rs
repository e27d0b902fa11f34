//! gzip for layers: one pinned backend (zlib-rs) and level, in parallel.
//!
//! The input is cut into fixed 2 MiB chunks, each deflated on its own and
//! ended with a sync flush (the last one finishes the stream), then joined
//! into one standard gzip member with the CRC-32s combined. Chunk boundaries
//! never depend on the thread count, so the output is the same on any machine
//! with this backend. Deflate output differs between backends and versions;
//! a test pins a known digest.

use flate2::{Compress, Compression, FlushCompress, Status};

use crate::OciError;

/// Bytes per independently deflated chunk.
pub const CHUNK: usize = 2 << 20;

/// Compress `data` as a gzip member with the given level (1-9), using up to
/// `threads` threads.
pub fn gzip(data: &[u8], level: u32, threads: usize) -> Result<Vec<u8>, OciError> {
    let level = level.clamp(1, 9);
    let chunks: Vec<&[u8]> = if data.is_empty() {
        vec![&[][..]]
    } else {
        data.chunks(CHUNK).collect()
    };
    let last = chunks.len() - 1;
    let threads = threads.clamp(1, chunks.len());
    // Contiguous runs of chunks per thread: output order is input order.
    let per_thread = chunks.len().div_ceil(threads);
    let results: Vec<Result<Vec<(Vec<u8>, crc32fast::Hasher)>, OciError>> =
        std::thread::scope(|scope| {
            let handles: Vec<_> = chunks
                .chunks(per_thread)
                .enumerate()
                .map(|(t, run)| {
                    scope.spawn(move || {
                        run.iter()
                            .enumerate()
                            .map(|(i, chunk)| {
                                let mut crc = crc32fast::Hasher::new();
                                crc.update(chunk);
                                Ok((deflate(chunk, level, t * per_thread + i == last)?, crc))
                            })
                            .collect()
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| {
                        Err(OciError::Layer("a compression thread panicked".into()))
                    })
                })
                .collect()
        });

    let mut out = Vec::with_capacity(data.len() / 2 + 64);
    // Header: magic, deflate, no flags, mtime 0, extra flags, OS "unknown".
    let xfl = match level {
        1 => 4,
        9 => 2,
        _ => 0,
    };
    out.extend_from_slice(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, xfl, 255]);
    let mut crc = crc32fast::Hasher::new();
    for result in results {
        for (deflated, chunk_crc) in result? {
            out.extend_from_slice(&deflated);
            crc.combine(&chunk_crc);
        }
    }
    out.extend_from_slice(&crc.finalize().to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    Ok(out)
}

/// Raw deflate of one chunk, ending byte-aligned (sync flush) or final.
fn deflate(input: &[u8], level: u32, last: bool) -> Result<Vec<u8>, OciError> {
    let mut c = Compress::new(Compression::new(level), false);
    let mut out = Vec::with_capacity(input.len() / 2 + 1024);
    let flush = if last {
        FlushCompress::Finish
    } else {
        FlushCompress::Sync
    };
    loop {
        if out.capacity() - out.len() < 4096 {
            out.reserve(out.capacity().max(64 * 1024));
        }
        let consumed = c.total_in() as usize;
        let status = c
            .compress_vec(&input[consumed..], &mut out, flush)
            .map_err(|e| OciError::Layer(format!("deflate: {e}")))?;
        let all_in = c.total_in() as usize == input.len();
        let done = if last {
            status == Status::StreamEnd
        } else {
            // A sync flush is complete once all input is in and output room was left over.
            all_in && out.len() < out.capacity()
        };
        if done {
            return Ok(out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn gunzip(data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(data)
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
        }
    }

    #[test]
    fn output_is_pinned() {
        // If this digest changes, the backend or its version changed: every
        // layer digest slipway produces changes with it. Update deliberately.
        let data = sample(5 * CHUNK + 1000);
        let gz = gzip(&data, 6, 2).unwrap();
        assert_eq!(
            crate::Digest::of(&gz).to_string(),
            "sha256:a899a971d72c82cfe59d76037b496602940840521b6930eaffc701fa15900a10"
        );
        assert_eq!(&gz[..10], &[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255]);
    }
}
