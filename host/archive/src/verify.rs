//! Offline verification of an archive (`ferry mirror verify`): every blob's digest and size,
//! `oci-layout`, every `index.json` against the content, and the manifest graph. The entries
//! are read by [`crate::entries`], the reader `deserialize` uses too, so both refuse the same
//! archives. Blobs referenced but absent are reported, not faulted: delta archives leave out
//! what earlier ones carried.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;

use ferry_oci::{Descriptor, Digest, DigestMismatch, Hasher, Index, Manifest, media_type};

use crate::entries::{Blob, Entries, Entry, EntryFault, ReadError, Source, into_read_error};

/// Blobs up to this size are read whole to see whether they are manifests.
const KEEP_JSON_BYTES: u64 = crate::reader::MANIFEST_MAX_BYTES;

/// What verification found.
#[derive(Debug, Default)]
pub struct Report {
    /// Tar entries read.
    pub entries: u64,
    /// Blobs in the archive.
    pub blobs: u64,
    /// Their bytes.
    pub blob_bytes: u64,
    /// Manifests listed in the final `index.json`.
    pub manifests: usize,
    /// Image manifests among them.
    pub images: usize,
    /// Digests referenced by manifests but not in the archive (delivered earlier, if the
    /// archive is a delta).
    pub absent: BTreeSet<Digest>,
    /// Faults; empty means the archive is good.
    pub faults: Vec<String>,
}

/// Reads the whole (decompressed) tar stream and checks it. The first fault that stops the
/// reader ([`crate::entries`]) ends the check; a blob with wrong content is reported and the
/// check goes on.
pub fn verify(tar_stream: impl Read) -> Report {
    let mut report = Report::default();
    let mut sizes: BTreeMap<Digest, u64> = BTreeMap::new();
    let mut kept: BTreeMap<Digest, Vec<u8>> = BTreeMap::new();
    let mut indexes: Vec<Index> = Vec::new();
    let mut entries = Entries::stream(tar_stream);
    loop {
        let entry = match entries.next_entry() {
            Ok(Some(entry)) => entry,
            Ok(None) => break,
            Err(e) => {
                report.entries = entries.entries_read();
                report.faults.push(e.to_string());
                return report;
            }
        };
        match entry {
            Entry::Layout { .. } | Entry::Other { .. } => {}
            Entry::Index { index, .. } => indexes.push(index),
            Entry::Blob(blob) => match hash_blob(&mut entries, &blob) {
                Ok((actual, _)) if actual != blob.digest => {
                    let fault = EntryFault::Digest(DigestMismatch {
                        expected: blob.digest.clone(),
                        expected_size: blob.size,
                        size: blob.size,
                        actual: Some(actual),
                    });
                    report.faults.push(ReadError::Entry { name: blob.name, offset: blob.header_offset, fault }.to_string());
                }
                Ok((_, first)) => {
                    report.blobs += 1;
                    report.blob_bytes += blob.size;
                    sizes.insert(blob.digest.clone(), blob.size);
                    if let Some(bytes) = first.filter(|b| crate::reader::may_be_manifest(b)) {
                        kept.insert(blob.digest, bytes);
                    }
                }
                Err(e) => {
                    report.entries = entries.entries_read();
                    report.faults.push(e.to_string());
                    return report;
                }
            },
        }
    }
    report.entries = entries.entries_read();
    check_graph(&mut report, &indexes, &sizes, &kept);
    report
}

/// Hashes the current blob's data; returns its digest and, if it is small enough to be a
/// manifest, its bytes.
pub(crate) fn hash_blob<S: Source>(entries: &mut Entries<S>, blob: &Blob) -> Result<(Digest, Option<Vec<u8>>), ReadError> {
    let keep = blob.size <= KEEP_JSON_BYTES;
    let mut first = keep.then(|| Vec::with_capacity(usize::try_from(blob.size).unwrap_or(0)));
    let mut hasher = Hasher::new(blob.digest.algorithm());
    let mut buf = vec![0u8; 256 << 10];
    let mut data = entries.data();
    loop {
        match data.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                hasher.update(&buf[..n]);
                if let Some(first) = &mut first {
                    first.extend_from_slice(&buf[..n]);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(into_read_error(e)),
        }
    }
    Ok((hasher.finish(), first))
}

fn check_graph(report: &mut Report, indexes: &[Index], sizes: &BTreeMap<Digest, u64>, kept: &BTreeMap<Digest, Vec<u8>>) {
    // The reader has checked that every index.json names the same root first.
    let Some(last) = indexes.last() else {
        report.faults.push("no index.json in the archive".to_owned());
        return;
    };
    report.manifests = last.manifests.len();
    let mut stack: Vec<Descriptor> = last.manifests.clone();
    let mut seen = BTreeSet::new();
    while let Some(d) = stack.pop() {
        if !seen.insert(d.digest.clone()) {
            continue;
        }
        let Some(&size) = sizes.get(&d.digest) else {
            report.absent.insert(d.digest.clone());
            continue;
        };
        if size != d.size {
            report.faults.push(format!("{} is {size} bytes in the archive but {} in its descriptor", d.digest, d.size));
            continue;
        }
        if !d.is_manifest() {
            continue;
        }
        if size > KEEP_JSON_BYTES {
            report.faults.push(format!(
                "manifest {} is {size} bytes, over the {} MiB limit for manifests",
                d.digest,
                KEEP_JSON_BYTES >> 20
            ));
            continue;
        }
        if media_type::is_image(&d.media_type) {
            report.images += 1;
        }
        let Some(bytes) = kept.get(&d.digest) else { continue };
        match Manifest::from_bytes(Descriptor::new(d.media_type.clone(), d.digest.clone(), d.size), bytes.clone()) {
            Ok(m) => stack.extend(m.successors()),
            Err(e) => report.faults.push(format!("manifest {}: {e}", d.digest)),
        }
    }
}
