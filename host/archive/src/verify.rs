//! Offline verification of an archive (`ferry mirror verify`): every blob's digest and size,
//! `oci-layout`, every `index.json` against the content, and the manifest graph. The entries
//! are read by [`crate::entries`], the reader `deserialize` uses too, so both refuse the same
//! archives. Blobs referenced but absent are reported, not faulted: delta archives leave out
//! what earlier ones carried.
//!
//! An archive without `index.json` but with `manifest.json` is a docker archive
//! ([`crate::docker`]): every other file is hashed as it streams, and at the end each image's
//! config and layers must be there and each layer must hash to its diff_id.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;

use ferry_oci::{Descriptor, Digest, DigestMismatch, Hasher, Index, Manifest, media_type};

use crate::docker::{self, DockerFault, Members};
use crate::entries::{Blob, Entries, Entry, EntryFault, Member, MemberKind, ReadError, Source, into_read_error};

/// Bytes of small files outside `blobs/` kept for a docker archive's check (its
/// `manifest.json` and configs), all together.
const KEPT_MEMBER_BYTES: u64 = 64 << 20;

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
    /// The root: the first entry of the first `index.json`.
    pub root: Option<Descriptor>,
    /// The delivery's signature, when the first `index.json` lists one.
    pub signature: Option<DeliverySignature>,
}

/// A delivery's signature as the archive carries it (checked by `ferry_sign`, not here):
/// its entry in the first `index.json`, the signature manifest, and the small blobs it names.
#[derive(Clone, Debug)]
pub struct DeliverySignature {
    /// Its entry in the first `index.json` (with the signer's fingerprint annotation).
    pub descriptor: Descriptor,
    /// The signature manifest's bytes, if the archive holds them.
    pub manifest: Option<Vec<u8>>,
    /// The blobs its layers name (the signed payloads), by digest.
    pub blobs: BTreeMap<Digest, Vec<u8>>,
}

impl DeliverySignature {
    /// The first `index.json`'s signature entry, if it has one.
    fn listed_in(index: &Index) -> Option<DeliverySignature> {
        let descriptor = index.manifests.iter().find(|d| d.annotations.contains_key(ferry_oci::annotations::DELIVERY_SIGNATURE))?;
        Some(DeliverySignature { descriptor: descriptor.clone(), manifest: None, blobs: BTreeMap::new() })
    }

    /// Keeps `bytes` when they are the signature manifest or one of its layers.
    fn take(&mut self, digest: &Digest, bytes: &[u8]) {
        if *digest == self.descriptor.digest {
            self.manifest = Some(bytes.to_vec());
            return;
        }
        let named = self.manifest.as_ref().and_then(|m| Manifest::from_bytes(self.descriptor.clone(), m.clone()).ok());
        if named.is_some_and(|m| m.view().layers.iter().any(|l| l.digest == *digest)) {
            self.blobs.insert(digest.clone(), bytes.to_vec());
        }
    }
}

/// Reads the whole (decompressed) tar stream and checks it. The first fault that stops the
/// reader ([`crate::entries`]) ends the check; a blob with wrong content is reported and the
/// check goes on.
pub fn verify(tar_stream: impl Read) -> Report {
    let mut report = Report::default();
    let mut sizes: BTreeMap<Digest, u64> = BTreeMap::new();
    let mut kept: BTreeMap<Digest, Vec<u8>> = BTreeMap::new();
    let mut indexes: Vec<Index> = Vec::new();
    let mut foreign = Foreign::default();
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
            // Once an index.json was read the archive is an OCI layout: other files are skipped.
            Entry::Other { member, .. } if indexes.is_empty() => {
                if let Err(e) = foreign.take(&mut entries, member) {
                    report.entries = entries.entries_read();
                    report.faults.push(e.to_string());
                    return report;
                }
            }
            Entry::Layout { .. } | Entry::Other { .. } => {}
            Entry::Index { index, .. } => {
                if indexes.is_empty() {
                    report.root = index.manifests.first().cloned();
                    report.signature = DeliverySignature::listed_in(&index);
                }
                indexes.push(index);
            }
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
                    if let (Some(signature), Some(bytes)) = (report.signature.as_mut(), first.as_ref()) {
                        signature.take(&blob.digest, bytes);
                    }
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
    if indexes.is_empty() && foreign.members.has_manifest() {
        check_docker(&mut report, &foreign);
        return report;
    }
    check_graph(&mut report, &indexes, &sizes, &kept);
    report
}

/// What a docker archive's check needs of the files outside `blobs/`.
#[derive(Default)]
struct Foreign {
    members: Members,
    /// Each regular file's sha256, by header offset.
    hashes: BTreeMap<u64, Digest>,
    /// Small files, by header offset.
    kept: BTreeMap<u64, Vec<u8>>,
    kept_bytes: u64,
}

impl Foreign {
    fn take<S: Source>(&mut self, entries: &mut Entries<S>, member: Member) -> Result<(), ReadError> {
        if member.kind == MemberKind::File {
            let small = member.size <= docker::MANIFEST_JSON_MAX_BYTES.max(docker::CONFIG_MAX_BYTES)
                && self.kept_bytes + member.size <= KEPT_MEMBER_BYTES;
            let (digest, bytes) = hash_data(entries, ferry_oci::Algorithm::Sha256, small)?;
            self.hashes.insert(member.header_offset, digest);
            if let Some(bytes) = bytes.filter(|b| b.first().is_some_and(|c| matches!(c, b'{' | b'['))) {
                self.kept_bytes += bytes.len() as u64;
                self.kept.insert(member.header_offset, bytes);
            }
        }
        self.members.insert(member);
        Ok(())
    }
}

/// Checks a docker archive: every image's config and layers present, layers matching their
/// diff_ids.
fn check_docker(report: &mut Report, foreign: &Foreign) {
    let manifest = match foreign.members.resolve("manifest.json") {
        Ok(Some(m)) => m,
        Ok(None) => return,
        Err(fault) => {
            report.faults.push(fault.to_string());
            return;
        }
    };
    let read = |m: &Member| {
        foreign.kept.get(&m.header_offset).cloned().ok_or_else(|| {
            if m.size > docker::MANIFEST_JSON_MAX_BYTES.max(docker::CONFIG_MAX_BYTES) {
                DockerFault::TooBig { name: m.shown.clone(), size: m.size, limit: docker::CONFIG_MAX_BYTES }
            } else {
                DockerFault::Config {
                    name: m.shown.clone(),
                    source: serde::de::Error::custom("not JSON, or over the reader's memory budget"),
                }
            }
        })
    };
    let planned = if manifest.size > docker::MANIFEST_JSON_MAX_BYTES {
        Err(DockerFault::TooBig { name: manifest.shown.clone(), size: manifest.size, limit: docker::MANIFEST_JSON_MAX_BYTES })
    } else {
        match foreign.kept.get(&manifest.header_offset) {
            Some(bytes) => docker::plan(bytes, &foreign.members, read).and_then(|r| r),
            None => Err(DockerFault::ManifestJson(serde::de::Error::custom("not a JSON list"))),
        }
    };
    let images = match planned {
        Ok(images) => images,
        Err(fault) => {
            report.faults.push(fault.to_string());
            return;
        }
    };
    let mut counted = BTreeSet::new();
    for image in &images {
        report.manifests += 1;
        report.images += 1;
        if counted.insert(image.config.digest.clone()) {
            report.blobs += 1;
            report.blob_bytes += image.config.size;
        }
        for layer in &image.layers {
            let Some(actual) = foreign.hashes.get(&layer.member.header_offset) else { continue };
            if *actual != layer.descriptor.digest {
                let fault =
                    DockerFault::DiffId { name: layer.named.clone(), diff_id: layer.descriptor.digest.clone(), actual: actual.clone() };
                report.faults.push(fault.to_string());
            } else if counted.insert(actual.clone()) {
                report.blobs += 1;
                report.blob_bytes += layer.descriptor.size;
            }
        }
    }
}

/// Hashes the current blob's data; returns its digest and, if it is small enough to be a
/// manifest, its bytes.
pub(crate) fn hash_blob<S: Source>(entries: &mut Entries<S>, blob: &Blob) -> Result<(Digest, Option<Vec<u8>>), ReadError> {
    hash_data(entries, blob.digest.algorithm(), blob.size <= KEEP_JSON_BYTES)
}

/// Hashes the current entry's data; returns its digest and, with `keep`, its bytes.
fn hash_data<S: Source>(
    entries: &mut Entries<S>,
    algorithm: ferry_oci::Algorithm,
    keep: bool,
) -> Result<(Digest, Option<Vec<u8>>), ReadError> {
    let mut first = keep.then(Vec::new);
    let mut hasher = Hasher::new(algorithm);
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
        report.faults.push("no index.json in the archive (and no manifest.json: not a docker archive either)".to_owned());
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
