//! Whole-stream compression (spec §2.6) as [`Sink`]s whose `position` flushes the compressor
//! first, so a ledger offset is always a prefix that decompresses to the complete entry
//! (ace-dt recorded offsets before flushing, spec §13.3).

use std::io::{self, Write};

use crate::writer::{Plain, Sink};

/// zstd level: fast enough to keep up with the network on two cores; the format does not
/// depend on it (ace-dt used about 11).
const ZSTD_LEVEL: i32 = 3;

/// gzip level: the default balance (ace-dt used 9, which runs at a few tens of MB/s).
const GZIP_LEVEL: u32 = 6;

/// The compression of an archive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    /// Plain tar.
    None,
    /// One zstd stream (multithreaded encoder).
    Zstd,
    /// One gzip member.
    Gzip,
}

/// A sink of any compression, counting the bytes that reach `W`.
pub enum AnySink<W: Write> {
    /// Uncompressed.
    Plain(Plain<W>),
    /// zstd.
    Zstd(Box<zstd::stream::write::Encoder<'static, Plain<W>>>),
    /// gzip.
    Gzip(flate2::write::GzEncoder<Plain<W>>),
}

impl<W: Write> AnySink<W> {
    /// A sink writing to `out` with `compression`.
    pub fn new(out: W, compression: Compression) -> io::Result<AnySink<W>> {
        let plain = Plain::new(out);
        Ok(match compression {
            Compression::None => AnySink::Plain(plain),
            Compression::Zstd => {
                let mut enc = zstd::stream::write::Encoder::new(plain, ZSTD_LEVEL)?;
                let workers = std::thread::available_parallelism().map_or(1, |n| n.get()).min(4);
                enc.multithread(u32::try_from(workers).unwrap_or(1))?;
                enc.include_checksum(true)?;
                AnySink::Zstd(Box::new(enc))
            }
            Compression::Gzip => {
                let enc = flate2::GzBuilder::new().mtime(0).operating_system(255).write(plain, flate2::Compression::new(GZIP_LEVEL));
                AnySink::Gzip(enc)
            }
        })
    }

    /// Ends the compressed stream (frame epilogue, gzip trailer) and returns the counting
    /// sink underneath.
    pub fn finish(self) -> io::Result<Plain<W>> {
        let mut plain = match self {
            AnySink::Plain(p) => p,
            AnySink::Zstd(enc) => enc.finish()?,
            AnySink::Gzip(enc) => enc.finish()?,
        };
        plain.flush()?;
        Ok(plain)
    }
}

impl<W: Write> Write for AnySink<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            AnySink::Plain(p) => p.write(buf),
            AnySink::Zstd(z) => z.write(buf),
            AnySink::Gzip(g) => g.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            AnySink::Plain(p) => p.flush(),
            AnySink::Zstd(z) => z.flush(),
            AnySink::Gzip(g) => g.flush(),
        }
    }
}

impl<W: Write> Sink for AnySink<W> {
    fn position(&mut self) -> io::Result<u64> {
        match self {
            AnySink::Plain(p) => p.position(),
            AnySink::Zstd(z) => {
                z.flush()?;
                z.get_mut().position()
            }
            AnySink::Gzip(g) => {
                g.flush()?;
                g.get_mut().position()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ArchiveWriter;
    use ferry_oci::Descriptor;
    use std::io::Read;

    fn decompress(c: Compression, bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        match c {
            Compression::Zstd => {
                // A prefix ends mid-frame: read what decodes.
                let mut d = zstd::stream::read::Decoder::new(bytes).unwrap();
                let _ = d.read_to_end(&mut out);
            }
            Compression::Gzip => {
                let _ = flate2::read::GzDecoder::new(bytes).read_to_end(&mut out);
            }
            Compression::None => out = bytes.to_vec(),
        }
        out
    }

    /// Every ledger offset is a prefix of the output that decompresses to the complete blob.
    #[test]
    fn offsets_are_truthful_with_compression() {
        for c in [Compression::None, Compression::Zstd, Compression::Gzip] {
            let mut w = ArchiveWriter::new(AnySink::new(Vec::new(), c).unwrap());
            w.write_oci_layout().unwrap();
            let mut blobs = Vec::new();
            let mut offsets = Vec::new();
            for i in 0..4u8 {
                let bytes: Vec<u8> = (0..100_000u32).map(|x| (x % 7) as u8 ^ i).collect();
                let d = Descriptor::of_bytes("layer", &bytes);
                offsets.push(w.write_blob(&d, bytes.as_slice()).unwrap().unwrap());
                blobs.push(bytes);
            }
            let out = w.finish().unwrap().finish().unwrap().into_inner();
            assert!(offsets.windows(2).all(|p| p[0] < p[1]) && *offsets.last().unwrap() <= out.len() as u64, "{c:?}");
            for (i, &off) in offsets.iter().enumerate() {
                let plain = decompress(c, &out[..off as usize]);
                let needle = &blobs[i][..];
                assert!(plain.windows(needle.len()).any(|w| w == needle), "{c:?}: blob {i} incomplete at offset {off}");
            }
            let magic = &out[..4];
            match c {
                Compression::Zstd => assert_eq!(magic, [0x28, 0xb5, 0x2f, 0xfd]),
                Compression::Gzip => assert_eq!(&magic[..2], [0x1f, 0x8b]),
                Compression::None => assert_eq!(magic, b"oci-"),
            }
        }
    }
}
