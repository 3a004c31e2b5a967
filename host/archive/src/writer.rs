//! Writes the archive's entries in ace-dt's order (spec §2.2) and knows, at every ledger
//! point, how many bytes have truly reached the output.

use std::collections::HashSet;
use std::io::{self, Read, Write};

use ferry_oci::{Descriptor, Digest, DigestMismatch, Hasher};

use crate::header::{self, BLOCK, Kind};

/// Where archive bytes go. `position` makes everything written so far reach the output
/// (flushing a compressor, for example) and returns how many bytes the output has: the
/// truthful offset a checkpoint ledger records.
pub trait Sink: Write {
    /// Bytes emitted to the output so far, after flushing.
    fn position(&mut self) -> io::Result<u64>;
}

/// An uncompressed sink that counts what it writes.
pub struct Plain<W> {
    inner: W,
    written: u64,
}

impl<W: Write> Plain<W> {
    /// Wraps `inner`.
    pub fn new(inner: W) -> Plain<W> {
        Plain { inner, written: 0 }
    }

    /// The wrapped writer.
    pub fn into_inner(self) -> W {
        self.inner
    }
}

impl<W: Write> Write for Plain<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl<W: Write> Sink for Plain<W> {
    fn position(&mut self) -> io::Result<u64> {
        self.inner.flush()?;
        Ok(self.written)
    }
}

/// Failure while writing an archive.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WriteError {
    /// The output failed.
    #[error("writing the archive")]
    Io(#[from] io::Error),
    /// A blob's bytes did not match its descriptor; the archive must not be used.
    #[error("writing blob {}: {}", .0.expected, .0)]
    Mismatch(#[source] DigestMismatch),
}

/// Writes entries to a [`Sink`]: `oci-layout`, `index.json`, directories before the first
/// blob of each algorithm, blobs (each digest once), the final `index.json`, and the end.
pub struct ArchiveWriter<S: Sink> {
    sink: S,
    wrote_blobs_dir: bool,
    algorithm_dirs: HashSet<&'static str>,
    written: HashSet<Digest>,
    /// Bytes of the tar stream so far, before any compression.
    tar_bytes: u64,
    /// Where the last blob's entry starts in the tar stream.
    last_start: u64,
}

impl<S: Sink> ArchiveWriter<S> {
    /// Starts an archive on `sink`.
    pub fn new(sink: S) -> ArchiveWriter<S> {
        ArchiveWriter { sink, wrote_blobs_dir: false, algorithm_dirs: HashSet::new(), written: HashSet::new(), tar_bytes: 0, last_start: 0 }
    }

    /// Whether a blob with this digest is already in the archive (or marked skipped).
    pub fn contains(&self, digest: &Digest) -> bool {
        self.written.contains(digest)
    }

    /// Marks digests as delivered elsewhere: they are never written.
    pub fn skip(&mut self, digests: impl IntoIterator<Item = Digest>) {
        self.written.extend(digests);
    }

    /// The `oci-layout` entry.
    pub fn write_oci_layout(&mut self) -> Result<(), WriteError> {
        self.file("oci-layout", ferry_oci::layout::OCI_LAYOUT_CONTENT)
    }

    /// An `index.json` entry with these bytes.
    pub fn write_index(&mut self, bytes: &[u8]) -> Result<(), WriteError> {
        self.file("index.json", bytes)
    }

    /// Any other small file entry (`manifest.json`).
    pub fn file(&mut self, path: &str, bytes: &[u8]) -> Result<(), WriteError> {
        self.put(&header::entry_headers(path, Kind::File, bytes.len() as u64))?;
        self.put(bytes)?;
        self.pad(bytes.len() as u64)?;
        Ok(())
    }

    /// Writes `blobs/<alg>/<hex>` from `data`, verifying digest and size as it streams, unless
    /// the digest was written or skipped already. Returns the output position after the
    /// entry and its padding (the ledger offset), or `None` if nothing was written.
    ///
    /// On a mismatch the entry is already partly written: the archive is unusable and the
    /// caller must stop.
    pub fn write_blob(&mut self, desc: &Descriptor, mut data: impl Read) -> Result<Option<u64>, WriteError> {
        if self.written.contains(&desc.digest) {
            return Ok(None);
        }
        let alg = desc.digest.algorithm().name();
        if !self.wrote_blobs_dir {
            self.put(&header::entry_headers("blobs", Kind::Directory, 0))?;
            self.wrote_blobs_dir = true;
        }
        if self.algorithm_dirs.insert(alg) {
            self.put(&header::entry_headers(&format!("blobs/{alg}"), Kind::Directory, 0))?;
        }
        let path = format!("blobs/{alg}/{}", desc.digest.hex());
        self.last_start = self.tar_bytes;
        self.put(&header::entry_headers(&path, Kind::File, desc.size))?;
        let mut hasher = Hasher::new(desc.digest.algorithm());
        let mut buf = vec![0u8; 256 << 10];
        let mut size = 0u64;
        loop {
            let n = data.read(&mut buf)?;
            if n == 0 {
                break;
            }
            size += n as u64;
            if size > desc.size {
                break;
            }
            hasher.update(&buf[..n]);
            self.put(&buf[..n])?;
        }
        let actual = hasher.finish();
        if size != desc.size || actual != desc.digest {
            // Past the expected size the digest was not taken over every byte.
            let actual = (size <= desc.size).then_some(actual);
            return Err(WriteError::Mismatch(DigestMismatch::new(desc, size, actual)));
        }
        self.pad(size)?;
        self.written.insert(desc.digest.clone());
        Ok(Some(self.sink.position()?))
    }

    /// Writes the end-of-archive marker (two zero blocks, no record padding) and returns the
    /// sink.
    pub fn finish(mut self) -> Result<S, WriteError> {
        self.put(&[0u8; 2 * BLOCK])?;
        self.sink.flush()?;
        Ok(self.sink)
    }

    /// Bytes emitted so far.
    pub fn position(&mut self) -> Result<u64, WriteError> {
        Ok(self.sink.position()?)
    }

    /// Where the last blob written starts (its tar header) in the uncompressed stream.
    pub fn last_entry_start(&self) -> u64 {
        self.last_start
    }

    fn put(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.sink.write_all(bytes)?;
        self.tar_bytes += bytes.len() as u64;
        Ok(())
    }

    fn pad(&mut self, size: u64) -> io::Result<()> {
        let rem = (size % BLOCK as u64) as usize;
        if rem != 0 {
            self.put(&[0u8; BLOCK][..BLOCK - rem])?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferry_oci::media_type;

    /// The worked example of spec §2.2: offsets after each blob.
    #[test]
    fn entry_order_and_offsets() {
        let g = vec![b'g'; 600];
        let m = vec![b'm'; 500];
        let c = vec![b'c'; 300];
        let l = vec![b'l'; 1000];
        let index = vec![b'{'; 553];
        let mut w = ArchiveWriter::new(Plain::new(Vec::new()));
        w.write_oci_layout().unwrap();
        w.write_index(&index).unwrap();
        let mut offsets = Vec::new();
        for (mt, bytes) in [(media_type::OCI_INDEX, &g), (media_type::OCI_MANIFEST, &m), (media_type::OCI_CONFIG, &c), ("layer", &l)] {
            offsets.push(w.write_blob(&Descriptor::of_bytes(mt, bytes), bytes.as_slice()).unwrap().unwrap());
        }
        assert_eq!(offsets, vec![5120, 6144, 7168, 8704]);
        // A second write of the same digest writes nothing.
        assert_eq!(w.write_blob(&Descriptor::of_bytes("layer", &l), l.as_slice()).unwrap(), None);
        w.write_index(b"{}").unwrap();
        let out = w.finish().unwrap().into_inner();
        assert_eq!(out.len(), 8704 + 1024 + 1024);
        assert!(out[out.len() - 1024..].iter().all(|&b| b == 0));
        let names: Vec<String> = [0, 1024, 2560, 3072, 3584]
            .iter()
            .map(|&o| String::from_utf8_lossy(&out[o..o + 20]).trim_end_matches('\0').to_owned())
            .collect();
        assert_eq!(names[..4], ["oci-layout", "index.json", "blobs", "blobs/sha256"]);
        assert!(names[4].starts_with("blobs/sha256/"));
    }

    #[test]
    fn refuses_bytes_that_do_not_match() {
        let mut w = ArchiveWriter::new(Plain::new(Vec::new()));
        let d = Descriptor::of_bytes("layer", b"right");
        assert!(matches!(w.write_blob(&d, &b"wrong"[..]), Err(WriteError::Mismatch(_))));
        let mut w = ArchiveWriter::new(Plain::new(Vec::new()));
        assert!(matches!(w.write_blob(&d, &b"right and more"[..]), Err(WriteError::Mismatch(_))));
        let mut w = ArchiveWriter::new(Plain::new(Vec::new()));
        w.skip([d.digest.clone()]);
        assert_eq!(w.write_blob(&d, &b"right"[..]).unwrap(), None);
    }

    /// GNU tar reads what the writer produces.
    #[test]
    fn gnu_tar_lists_the_archive() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = ArchiveWriter::new(Plain::new(Vec::new()));
        w.write_oci_layout().unwrap();
        w.write_index(b"{}").unwrap();
        let d = Descriptor::of_bytes("layer", b"hello");
        w.write_blob(&d, &b"hello"[..]).unwrap();
        let long = Descriptor::new("layer", format!("sha512:{}", "0".repeat(128)).parse().unwrap(), 0);
        // The digest is wrong, but the header is what this checks; write it by hand.
        w.skip([long.digest.clone()]);
        let path = dir.path().join("a.tar");
        std::fs::write(&path, w.finish().unwrap().into_inner()).unwrap();
        let out = std::process::Command::new("tar").arg("-tvf").arg(&path).output().unwrap();
        let listing = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(listing.contains("oci-layout") && listing.contains(&format!("blobs/sha256/{}", d.digest.hex())), "{listing}");
        assert!(listing.contains("-rw-rw-rw-") && listing.contains("drwxrwxrwx"), "{listing}");
    }
}
