//! Which compression layers get (`gzip`, `gzip:9`, `zstd`, `zstd:19`), and
//! the one place a layer blob is opened for reading, chosen by its media
//! type: every reader of layers (sbom, scan, inspect, base images, the
//! closure check, copy's conversion) goes through [`decoder`].

use std::fmt;
use std::io::{BufRead, Read, Write};
use std::str::FromStr;
use std::sync::atomic::AtomicBool;

use crate::spec::{MEDIA_LAYER_GZIP, MEDIA_LAYER_ZSTD};
use crate::{Digest, OciError};

/// The gzip level `compression = "gzip"` means.
pub const GZIP_DEFAULT_LEVEL: u32 = 6;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    Gzip,
    Zstd,
}

impl Algorithm {
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Gzip => "gzip",
            Algorithm::Zstd => "zstd",
        }
    }
}

/// An algorithm and a level: what a layer's bytes depend on besides its tar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Compression {
    pub algorithm: Algorithm,
    pub level: u32,
}

impl Default for Compression {
    fn default() -> Compression {
        Compression::gzip(GZIP_DEFAULT_LEVEL)
    }
}

impl Compression {
    pub fn gzip(level: u32) -> Compression {
        Compression {
            algorithm: Algorithm::Gzip,
            level,
        }
    }

    pub fn zstd(level: u32) -> Compression {
        Compression {
            algorithm: Algorithm::Zstd,
            level,
        }
    }

    /// The layer media type this compression writes.
    pub fn media_type(&self) -> &'static str {
        match self.algorithm {
            Algorithm::Gzip => MEDIA_LAYER_GZIP,
            Algorithm::Zstd => MEDIA_LAYER_ZSTD,
        }
    }

    /// What the layer cache keys on: algorithm, backend version and level
    /// (never the thread count, which does not change the bytes).
    pub fn cache_key(&self) -> String {
        match self.algorithm {
            Algorithm::Gzip => format!("gzip-{}-{}", crate::gzip::BACKEND, self.level),
            Algorithm::Zstd => format!("{}-{}", crate::zstd::BACKEND, self.level),
        }
    }

    fn levels(algorithm: Algorithm) -> std::ops::RangeInclusive<u32> {
        match algorithm {
            Algorithm::Gzip => 1..=9,
            Algorithm::Zstd => crate::zstd::LEVELS,
        }
    }

    /// Refuse a level the algorithm does not offer.
    pub fn check(&self) -> Result<(), OciError> {
        let levels = Compression::levels(self.algorithm);
        if levels.contains(&self.level) {
            return Ok(());
        }
        Err(OciError::Input(format!(
            "{} level {} is not offered: use {} (fastest) to {} (smallest)",
            self.algorithm.name(),
            self.level,
            levels.start(),
            levels.end()
        )))
    }

    /// Compress a whole layer held in memory and hash it. gzip uses up to
    /// `threads` threads (the bytes do not depend on it); zstd uses one.
    /// `cancel` stops the work early: `None`.
    pub fn compress_and_digest(
        &self,
        data: &[u8],
        threads: usize,
        cancel: &AtomicBool,
    ) -> Result<Option<(Vec<u8>, Digest)>, OciError> {
        self.check()?;
        match self.algorithm {
            Algorithm::Gzip => crate::gzip::gzip_and_digest(data, self.level, threads, cancel),
            Algorithm::Zstd => crate::zstd::zstd_and_digest(data, self.level, 0, cancel),
        }
    }

    /// Compress exactly `len` bytes from `input` into `out`, streaming, to
    /// the same bytes [`Compression::compress_and_digest`] gives. Returns
    /// the digest and size written.
    pub fn compress_stream<R: Read, W: Write>(
        &self,
        input: R,
        len: u64,
        out: W,
    ) -> Result<(Digest, u64), OciError> {
        self.check()?;
        match self.algorithm {
            Algorithm::Gzip => crate::gzip::gzip_stream(input, len, self.level, out),
            Algorithm::Zstd => crate::zstd::zstd_stream(input, len, self.level, out),
        }
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.algorithm.name(), self.level)
    }
}

impl FromStr for Compression {
    type Err = OciError;
    /// `gzip`, `zstd`, or either with `:LEVEL`.
    fn from_str(s: &str) -> Result<Compression, OciError> {
        let (name, level) = match s.split_once(':') {
            Some((n, l)) => (n, Some(l)),
            None => (s, None),
        };
        let algorithm = match name {
            "gzip" => Algorithm::Gzip,
            "zstd" => Algorithm::Zstd,
            _ => {
                return Err(OciError::Input(format!(
                    "compression \"{s}\": use \"gzip\" or \"zstd\", optionally with a level \
                     (\"gzip:9\", \"zstd:19\")"
                )));
            }
        };
        let level = match level {
            None => match algorithm {
                Algorithm::Gzip => GZIP_DEFAULT_LEVEL,
                Algorithm::Zstd => crate::zstd::DEFAULT_LEVEL,
            },
            Some(l) => l.parse().map_err(|_| {
                let r = Compression::levels(algorithm);
                OciError::Input(format!(
                    "compression \"{s}\": the level must be a number from {} to {}",
                    r.start(),
                    r.end()
                ))
            })?,
        };
        let c = Compression { algorithm, level };
        c.check()
            .map_err(|e| OciError::Input(format!("compression \"{s}\": {e}")))?;
        Ok(c)
    }
}

/// How a layer blob is stored, from its media type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayerFormat {
    Tar,
    Gzip,
    Zstd,
}

impl LayerFormat {
    /// The format of a layer with this media type: OCI's `…layer.v1.tar`,
    /// `+gzip`, `+zstd` (and their non-distributable forms) and Docker's
    /// `…rootfs.diff.tar[.gzip]`. Anything else is not a filesystem layer
    /// slipway can read: `None`.
    pub fn of(media_type: &str) -> Option<LayerFormat> {
        let oci = media_type
            .strip_prefix("application/vnd.oci.image.layer.v1.")
            .or_else(|| {
                media_type.strip_prefix("application/vnd.oci.image.layer.nondistributable.v1.")
            });
        if let Some(rest) = oci {
            return match rest {
                "tar" => Some(LayerFormat::Tar),
                "tar+gzip" => Some(LayerFormat::Gzip),
                "tar+zstd" => Some(LayerFormat::Zstd),
                _ => None,
            };
        }
        match media_type {
            "application/vnd.docker.image.rootfs.diff.tar"
            | "application/vnd.docker.image.rootfs.foreign.diff.tar" => Some(LayerFormat::Tar),
            "application/vnd.docker.image.rootfs.diff.tar.gzip"
            | "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip" => {
                Some(LayerFormat::Gzip)
            }
            "application/vnd.docker.image.rootfs.diff.tar.zstd" => Some(LayerFormat::Zstd),
            _ => None,
        }
    }
}

/// No layer is inflated past this: a decompression bomb stops here with an
/// error rather than filling the disk or memory.
pub const LAYER_LIMIT: u64 = 8 << 30;

/// The uncompressed tar of a layer blob read from `reader`, decompressed as
/// its media type says (gzip members one after another, as Go's reader
/// does; zstd frames one after another, with at most a 128 MiB window), and
/// at most [`LAYER_LIMIT`] bytes of it. An unknown media type is an error
/// naming it.
pub fn decoder<'a, R: BufRead + 'a>(
    media_type: &str,
    reader: R,
) -> Result<Box<dyn Read + 'a>, OciError> {
    match LayerFormat::of(media_type) {
        Some(LayerFormat::Tar) => Ok(Box::new(reader)),
        Some(LayerFormat::Gzip) => Ok(Box::new(Limited::new(
            flate2::bufread::MultiGzDecoder::new(reader),
        ))),
        Some(LayerFormat::Zstd) => {
            let mut d = zstd::Decoder::with_buffer(reader)
                .map_err(|e| OciError::Layer(format!("zstd decoder: {e}")))?;
            d.window_log_max(crate::zstd::WINDOW_LOG_MAX)
                .map_err(|e| OciError::Layer(format!("zstd decoder: {e}")))?;
            Ok(Box::new(Limited::new(d)))
        }
        None => Err(OciError::Input(format!(
            "layer media type \"{media_type}\" is not one slipway reads: it reads \
             application/vnd.oci.image.layer.v1.tar, tar+gzip and tar+zstd (and Docker's \
             rootfs.diff.tar.gzip); convert the image, e.g. with `slipway copy --compression gzip`"
        ))),
    }
}

/// A reader that fails once more than [`LAYER_LIMIT`] bytes came out.
struct Limited<R> {
    inner: R,
    left: u64,
}

impl<R> Limited<R> {
    fn new(inner: R) -> Self {
        Limited {
            inner,
            left: LAYER_LIMIT,
        }
    }
}

impl<R: Read> Read for Limited<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n as u64 > self.left {
            return Err(std::io::Error::other(format!(
                "the layer uncompresses to more than {} GiB, more than slipway reads",
                LAYER_LIMIT >> 30
            )));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_and_levels() {
        assert_eq!("gzip".parse::<Compression>().unwrap(), Compression::gzip(6));
        assert_eq!(
            "gzip:9".parse::<Compression>().unwrap(),
            Compression::gzip(9)
        );
        assert_eq!(
            "zstd".parse::<Compression>().unwrap(),
            Compression::zstd(crate::zstd::DEFAULT_LEVEL)
        );
        assert_eq!(
            "zstd:3".parse::<Compression>().unwrap(),
            Compression::zstd(3)
        );
        assert_eq!(Compression::zstd(3).to_string(), "zstd:3");
        for bad in [
            "brotli", "gzip:0", "gzip:10", "zstd:20", "zstd:x", "zstd:", "",
        ] {
            let e = bad.parse::<Compression>().unwrap_err().to_string();
            assert!(e.contains(&format!("\"{bad}\"")), "{bad}: {e}");
        }
    }

    #[test]
    fn cache_keys_differ_by_algorithm_and_level() {
        let keys: std::collections::HashSet<String> = [
            Compression::gzip(6),
            Compression::gzip(9),
            Compression::zstd(6),
            Compression::zstd(19),
        ]
        .iter()
        .map(|c| c.cache_key())
        .collect();
        assert_eq!(keys.len(), 4);
    }

    #[test]
    fn decoder_follows_the_media_type() {
        let data = b"a tar would be here".repeat(100);
        let never = AtomicBool::new(false);
        for c in [Compression::gzip(6), Compression::zstd(3)] {
            let (blob, _) = c.compress_and_digest(&data, 1, &never).unwrap().unwrap();
            let mut out = Vec::new();
            decoder(c.media_type(), blob.as_slice())
                .unwrap()
                .read_to_end(&mut out)
                .unwrap();
            assert_eq!(out, data, "{c}");
            // The other decoder refuses it rather than passing it through.
            let other = match c.algorithm {
                Algorithm::Gzip => MEDIA_LAYER_ZSTD,
                Algorithm::Zstd => MEDIA_LAYER_GZIP,
            };
            assert!(
                decoder(other, blob.as_slice())
                    .and_then(|mut d| d
                        .read_to_end(&mut Vec::new())
                        .map_err(|e| OciError::Layer(e.to_string())))
                    .is_err(),
                "{c} read as {other}"
            );
        }
        let e = decoder("application/vnd.oci.image.layer.v1.tar+lz4", &b""[..])
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("tar+lz4") && e.contains("slipway copy"), "{e}");
        assert_eq!(
            LayerFormat::of("application/vnd.docker.image.rootfs.diff.tar.gzip"),
            Some(LayerFormat::Gzip)
        );
    }
}
