//! Which blobs a partial archive holds, for a resumed serialize to leave out
//! (`--existing-from-archive`): the archive (plain, gzip or zstd) is read as far as it goes,
//! cut anywhere — inside a header, a blob or a compressed frame — and every blob whose data
//! is all there and hashes to its digest counts. The padding after a blob's data is not
//! needed. Memory stays bounded: blobs are hashed as they stream by.
//!
//! Where the archive stops is part of the answer, not an error: at its end-of-archive marker
//! ([`Stop::Complete`]), cut short or with its compressed stream breaking off ([`Stop::Cut`]),
//! or at damage in the tar stream ([`Stop::Corrupt`]; blobs before it count, a blob whose
//! content is wrong does not). Only an unreadable input, or one that is not an archive at all,
//! is an error.

use std::io::Read;
use std::path::{Path, PathBuf};

use ferry_oci::{Descriptor, Digest, DigestMismatch};

use crate::compress::Compression;
use crate::entries::{Entries, Entry, EntryFault, ReadError};

/// What a partial archive holds.
#[derive(Debug)]
pub struct Held {
    /// The archive's compression.
    pub compression: Compression,
    /// Every blob whose data is whole and verified, in archive order (each digest once).
    pub blobs: Vec<HeldBlob>,
    /// The first manifest of the first `index.json`, if one was read.
    pub root: Option<Descriptor>,
    /// Where and why reading stopped.
    pub stop: Stop,
}

impl Held {
    /// The digests held.
    pub fn digests(&self) -> impl Iterator<Item = &Digest> {
        self.blobs.iter().map(|b| &b.digest)
    }
}

/// A blob found whole in the archive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeldBlob {
    /// Its digest, verified.
    pub digest: Digest,
    /// Its size.
    pub size: u64,
    /// Byte offset of its header in the (decompressed) tar stream.
    pub offset: u64,
}

/// Where reading stopped; offsets count bytes of the decompressed tar stream.
#[derive(Debug)]
pub enum Stop {
    /// At the end-of-archive marker, at this offset.
    Complete {
        /// The marker's offset.
        offset: u64,
    },
    /// The input ends early, or its compressed stream breaks off, after this many bytes.
    Cut {
        /// Bytes of tar stream read.
        offset: u64,
    },
    /// Damage in the tar stream: nothing after it is trusted.
    Corrupt {
        /// Where.
        offset: u64,
        /// What the reader found.
        error: ReadError,
    },
}

/// A scan that could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScanError {
    /// The input could not be opened or read.
    #[error("reading {}", path.display())]
    Io {
        /// The file or device.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The input does not start with a tar header (after decompression).
    #[error("not an archive: {0}")]
    NotAnArchive(ReadError),
}

/// The blobs whole and verified in the archive at `path` (a file or a tape device, opened
/// read-only).
pub fn blobs_held_at(path: &Path) -> Result<Held, ScanError> {
    let file = std::fs::File::open(path).map_err(|source| ScanError::Io { path: path.to_owned(), source })?;
    blobs_held(file).map_err(|e| match e {
        ScanError::Io { source, .. } => ScanError::Io { path: path.to_owned(), source },
        e => e,
    })
}

/// The blobs whole and verified in the archive `input` (plain, gzip or zstd).
pub fn blobs_held(input: impl Read) -> Result<Held, ScanError> {
    let (compression, stream) =
        crate::reader::decode(input, crate::reader::READ_BUFFER).map_err(|source| ScanError::Io { path: PathBuf::from("-"), source })?;
    let mut entries = Entries::stream(stream);
    let mut blobs: Vec<HeldBlob> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let stop = loop {
        let entry = match entries.next_entry() {
            Ok(Some(entry)) => entry,
            Ok(None) => break Stop::Complete { offset: entries.end().unwrap_or(entries.position()) },
            Err(error) => break stopped(&entries, error),
        };
        let Entry::Blob(blob) = entry else { continue };
        match crate::verify::hash_blob(&mut entries, &blob) {
            Ok((actual, _)) if actual == blob.digest => {
                if seen.insert(blob.digest.clone()) {
                    blobs.push(HeldBlob { digest: blob.digest, size: blob.size, offset: blob.header_offset });
                }
            }
            Ok((actual, _)) => {
                let error = ReadError::Entry {
                    name: blob.name,
                    offset: blob.header_offset,
                    fault: EntryFault::Digest(DigestMismatch {
                        expected: blob.digest.clone(),
                        expected_size: blob.size,
                        size: blob.size,
                        actual: Some(actual),
                    }),
                };
                break Stop::Corrupt { offset: blob.header_offset, error };
            }
            Err(error) => break stopped(&entries, error),
        }
    };
    if entries.entries_read() == 0
        && let Stop::Corrupt { error, .. } = stop
    {
        return Err(ScanError::NotAnArchive(error));
    }
    Ok(Held { compression, blobs, root: entries.root().cloned(), stop })
}

/// The stop for a reader error: cut (the input or its compression ends) or corrupt.
fn stopped<S: crate::entries::Source>(entries: &Entries<S>, error: ReadError) -> Stop {
    if error.is_cut() {
        Stop::Cut { offset: entries.position() }
    } else {
        let offset = match &error {
            ReadError::Header { offset, .. } | ReadError::Entry { offset, .. } => *offset,
            _ => entries.position(),
        };
        Stop::Corrupt { offset, error }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AnySink, ArchiveWriter};

    /// An archive of `n` blobs of varied sizes, in `compression`; returns its bytes, the
    /// blobs' digests and (meaningful for a plain archive) the offset where each blob's data ends.
    fn archive(compression: Compression, n: usize, seed: u8) -> (Vec<u8>, Vec<Digest>, Vec<u64>) {
        let mut w = ArchiveWriter::new(AnySink::new(Vec::new(), compression).unwrap());
        w.write_oci_layout().unwrap();
        let blobs: Vec<Vec<u8>> =
            (0..n).map(|i| (0..(i * 397 + 5) % 1500).map(|x| (x as u8).wrapping_mul(31) ^ seed ^ i as u8).collect()).collect();
        let descs: Vec<Descriptor> = blobs.iter().map(|b| Descriptor::of_bytes("application/octet-stream", b)).collect();
        let mut index = ferry_oci::Index::new();
        index.manifests = vec![descs[0].clone()];
        let index = ferry_oci::gojson::to_vec_pretty(&index);
        w.write_index(&index).unwrap();
        let mut ends = Vec::new();
        for (d, b) in descs.iter().zip(&blobs) {
            let after = w.write_blob(d, b.as_slice()).unwrap().unwrap();
            // The data ends before the padding.
            ends.push(after.saturating_sub(d.size.next_multiple_of(512) - d.size));
        }
        w.write_index(&index).unwrap();
        let out = w.finish().unwrap().finish().unwrap().into_inner();
        (out, descs.into_iter().map(|d| d.digest).collect(), ends)
    }

    #[test]
    fn a_whole_archive_holds_everything() {
        for c in [Compression::None, Compression::Gzip, Compression::Zstd] {
            let (bytes, digests, _) = archive(c, 5, 1);
            let held = blobs_held(bytes.as_slice()).unwrap();
            assert_eq!(held.compression, c);
            assert_eq!(held.digests().cloned().collect::<Vec<_>>(), digests);
            assert!(matches!(held.stop, Stop::Complete { .. }), "{:?}", held.stop);
            assert_eq!(held.root.unwrap().digest, digests[0]);
        }
    }

    /// Cut a plain archive at every offset: a blob is held exactly when its data ends at or
    /// before the cut.
    #[test]
    fn every_cut_of_a_plain_archive() {
        let (bytes, digests, ends) = archive(Compression::None, 4, 2);
        for cut in 0..bytes.len() {
            let held = blobs_held(&bytes[..cut]).unwrap();
            let want: Vec<&Digest> = digests.iter().zip(&ends).filter(|(_, e)| **e <= cut as u64).map(|(d, _)| d).collect();
            assert_eq!(held.digests().collect::<Vec<_>>(), want, "cut at {cut}");
            assert!(matches!(held.stop, Stop::Cut { .. }) || cut >= bytes.len() - 1024, "{cut}: {:?}", held.stop);
        }
    }

    /// Cut compressed archives everywhere (a small one) or at sampled offsets (a bigger one):
    /// what is held is a prefix of the blobs, each verified, and never more than the whole.
    #[test]
    fn cuts_of_compressed_archives() {
        for c in [Compression::Gzip, Compression::Zstd] {
            for (n, step) in [(3, 1), (40, 97)] {
                let (bytes, digests, _) = archive(c, n, 3);
                let mut last = 0;
                for cut in (0..bytes.len()).step_by(step) {
                    let held = blobs_held(&bytes[..cut]).unwrap();
                    let got: Vec<Digest> = held.digests().cloned().collect();
                    assert_eq!(got[..], digests[..got.len()], "{c:?} cut at {cut}");
                    assert!(got.len() >= last, "{c:?} cut at {cut}: fewer blobs than a shorter cut");
                    last = got.len();
                    // The tar may be whole before the compressed stream's trailer is.
                    let whole = got.len() == n;
                    assert!(matches!(held.stop, Stop::Cut { .. }) || whole, "{c:?} {cut}: {:?}", held.stop);
                }
                assert_eq!(blobs_held(bytes.as_slice()).unwrap().blobs.len(), n);
            }
        }
    }

    /// A flipped byte inside a blob: the blobs before it count, it and those after do not.
    #[test]
    fn a_damaged_blob_stops_the_scan() {
        let (mut bytes, digests, ends) = archive(Compression::None, 4, 4);
        let at = ends[2] as usize - 1;
        bytes[at] ^= 0x40;
        let held = blobs_held(bytes.as_slice()).unwrap();
        assert_eq!(held.digests().cloned().collect::<Vec<_>>(), digests[..2]);
        match held.stop {
            Stop::Corrupt { error, .. } => assert!(error.to_string().contains("content has digest"), "{error}"),
            s => panic!("{s:?}"),
        }
        // Garbage where a header belongs.
        let (mut bytes, digests, ends) = archive(Compression::None, 4, 4);
        let header = ends[1].next_multiple_of(512) as usize;
        bytes[header..header + 512].fill(b'x');
        let held = blobs_held(bytes.as_slice()).unwrap();
        assert_eq!(held.digests().cloned().collect::<Vec<_>>(), digests[..2]);
        assert!(matches!(held.stop, Stop::Corrupt { offset, .. } if offset == header as u64));
    }

    #[test]
    fn not_an_archive() {
        assert!(matches!(blobs_held(&[b'x'; 2048][..]), Err(ScanError::NotAnArchive(_))));
        let held = blobs_held(&b""[..]).unwrap();
        assert!(held.blobs.is_empty() && matches!(held.stop, Stop::Cut { offset: 0 }));
        let missing = blobs_held_at(Path::new("/nonexistent/archive.tar")).unwrap_err();
        assert!(matches!(missing, ScanError::Io { .. }) && missing.to_string().contains("/nonexistent/archive.tar"));
    }
}
