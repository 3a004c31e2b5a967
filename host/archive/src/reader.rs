//! Opening an archive for reading: gzip, zstd or plain tar, told apart by their first bytes.

use std::io::{self, BufRead, BufReader, Read};

use crate::compress::Compression;

/// Read buffer for archives (tapes want at least their block size).
pub const READ_BUFFER: usize = 1 << 20;

/// The compression of a stream that starts with `head`.
pub fn compression_of(head: &[u8]) -> Compression {
    if head.starts_with(&[0x1f, 0x8b]) {
        Compression::Gzip
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Compression::Zstd
    } else {
        Compression::None
    }
}

/// The compression of the file at `file`'s start, read without moving its position.
pub fn file_compression(file: &std::fs::File) -> io::Result<Compression> {
    use std::os::unix::fs::FileExt as _;
    let mut head = [0u8; 4];
    let n = file.read_at(&mut head, 0)?;
    Ok(compression_of(&head[..n]))
}

/// Wraps `input` in the decoder its first bytes call for.
pub fn open(input: impl Read + Send + 'static) -> io::Result<(Compression, Box<dyn Read + Send>)> {
    open_with_buffer(input, READ_BUFFER)
}

/// As [`open`], with a read buffer of `buffer` bytes (at least a tape's block size).
pub fn open_with_buffer(input: impl Read + Send + 'static, buffer: usize) -> io::Result<(Compression, Box<dyn Read + Send>)> {
    let (compression, decoder) = decode(input, buffer)?;
    Ok((compression, Box::new(decoder)))
}

/// A decompressed archive stream, of any compression.
pub enum Decoded<R: Read> {
    /// Plain tar.
    Plain(BufReader<R>),
    /// gzip (members one after another are one stream).
    Gzip(Box<flate2::read::MultiGzDecoder<BufReader<R>>>),
    /// zstd (frames one after another are one stream).
    Zstd(Box<zstd::stream::read::Decoder<'static, BufReader<R>>>),
}

impl<R: Read> Read for Decoded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Decoded::Plain(r) => r.read(buf),
            Decoded::Gzip(r) => r.read(buf),
            Decoded::Zstd(r) => r.read(buf),
        }
    }
}

/// Wraps `input` in the decoder its first bytes call for, with a read buffer of `buffer` bytes.
pub fn decode<R: Read>(input: R, buffer: usize) -> io::Result<(Compression, Decoded<R>)> {
    let mut buffered = BufReader::with_capacity(buffer.max(4096), input);
    let compression = compression_of(buffered.fill_buf()?);
    Ok(match compression {
        Compression::Gzip => (compression, Decoded::Gzip(Box::new(flate2::read::MultiGzDecoder::new(buffered)))),
        Compression::Zstd => (compression, Decoded::Zstd(Box::new(zstd::stream::read::Decoder::with_buffer(buffered)?))),
        Compression::None => (compression, Decoded::Plain(buffered)),
    })
}

/// The largest manifest a reader keeps in memory to follow the graph: registries refuse
/// bigger ones (distribution's limit is 4 MiB).
pub const MANIFEST_MAX_BYTES: u64 = 4 << 20;

/// Whether a blob's bytes may be a manifest (or index): a JSON object with `schemaVersion`
/// and a `config`, `layers` or `manifests` member. Other JSON (SBOMs, configs) is not kept, so
/// memory does not grow with the archive.
pub fn may_be_manifest(bytes: &[u8]) -> bool {
    if bytes.len() as u64 > MANIFEST_MAX_BYTES || bytes.first() != Some(&b'{') {
        return false;
    }
    #[derive(serde::Deserialize)]
    struct Shape {
        #[serde(rename = "schemaVersion")]
        schema_version: Option<serde::de::IgnoredAny>,
        config: Option<serde::de::IgnoredAny>,
        layers: Option<serde::de::IgnoredAny>,
        manifests: Option<serde::de::IgnoredAny>,
    }
    serde_json::from_slice::<Shape>(bytes)
        .is_ok_and(|s| s.schema_version.is_some() && (s.config.is_some() || s.layers.is_some() || s.manifests.is_some()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_manifests_from_other_json() {
        for (bytes, want) in [
            (&br#"{"schemaVersion":2,"config":{},"layers":[]}"#[..], true),
            (br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}"#, true),
            (br#"{"architecture":"amd64","config":{"Env":[]},"rootfs":{}}"#, false),
            (br#"{"spdxVersion":"SPDX-2.3","packages":[]}"#, false),
            (br#"{"schemaVersion":2"#, false),
            (b"\x1f\x8b binary", false),
        ] {
            assert_eq!(may_be_manifest(bytes), want, "{}", String::from_utf8_lossy(bytes));
        }
        let mut huge = br#"{"schemaVersion":2,"layers":[],"x":""#.to_vec();
        huge.resize(MANIFEST_MAX_BYTES as usize + 1, b'a');
        huge.extend_from_slice(b"\"}");
        assert!(!may_be_manifest(&huge));
    }
}
