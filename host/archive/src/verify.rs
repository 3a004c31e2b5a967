//! Offline verification of an archive (`ferry mirror verify`): every blob's digest and size,
//! `oci-layout`, both `index.json` copies against the content, and the manifest graph.
//! Blobs referenced but absent are reported, not faulted: delta archives leave out what
//! earlier ones carried.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;

use ferry_oci::{Descriptor, Digest, Hasher, Index, Manifest, media_type};

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

/// Reads the whole (decompressed) tar stream and checks it.
pub fn verify(tar_stream: impl Read) -> Report {
    let mut report = Report::default();
    let mut sizes: BTreeMap<Digest, u64> = BTreeMap::new();
    let mut kept: BTreeMap<Digest, Vec<u8>> = BTreeMap::new();
    let mut indexes: Vec<Index> = Vec::new();
    let mut archive = tar::Archive::new(tar_stream);
    let entries = match archive.entries() {
        Ok(e) => e,
        Err(e) => {
            report.faults.push(format!("not a tar archive: {e}"));
            return report;
        }
    };
    let mut next_at = 0;
    for entry in entries {
        let mut entry = match entry {
            Ok(e) => e,
            Err(e) => {
                report.faults.push(crate::reader::bad_header(next_at, report.entries, &e));
                return report;
            }
        };
        report.entries += 1;
        let offset = entry.raw_header_position();
        next_at = crate::reader::next_header_at(offset, entry.size());
        let name = entry.path().map(|p| p.to_string_lossy().trim_start_matches("./").trim_end_matches('/').to_owned()).unwrap_or_default();
        let at = format!("entry {name:?} at byte {offset}");
        if entry.header().entry_type().is_dir() {
            continue;
        }
        let size = entry.size();
        match name.as_str() {
            "oci-layout" => {
                let ok = crate::reader::is_oci_layout(&mut entry);
                if !ok {
                    report.faults.push(format!("{at}: not an OCI layout marker with imageLayoutVersion 1.0.0"));
                }
            }
            "index.json" => {
                let mut b = Vec::new();
                match entry
                    .read_to_end(&mut b)
                    .map_err(|e| e.to_string())
                    .and_then(|_| serde_json::from_slice::<Index>(&b).map_err(|e| e.to_string()))
                {
                    Ok(i) => indexes.push(i),
                    Err(e) => report.faults.push(format!("{at}: invalid index.json: {e}")),
                }
            }
            _ => {
                let Some(digest) = blob_digest(&name) else {
                    continue; // manifest.json and other files are not blobs
                };
                let Ok(digest) = digest else {
                    report.faults.push(format!("{at}: the path is not blobs/<algorithm>/<hex> of a valid digest"));
                    continue;
                };
                let keep = size <= KEEP_JSON_BYTES;
                let mut hasher = Hasher::new(digest.algorithm());
                let mut buf = vec![0u8; 256 << 10];
                let mut first = Vec::new();
                let mut read = 0u64;
                loop {
                    match entry.read(&mut buf) {
                        Ok(0) => break,
                        Ok(n) => {
                            hasher.update(&buf[..n]);
                            if keep {
                                first.extend_from_slice(&buf[..n]);
                            }
                            read += n as u64;
                        }
                        Err(e) => {
                            report.faults.push(format!("{at}: archive ends inside the blob after {read} of {size} bytes: {e}"));
                            return report;
                        }
                    }
                }
                if read != size {
                    report.faults.push(format!("{at}: archive ends inside the blob after {read} of {size} bytes"));
                    return report;
                }
                let actual = hasher.finish();
                if actual != digest {
                    report.faults.push(format!("{at}: content has digest {actual}"));
                    continue;
                }
                report.blobs += 1;
                report.blob_bytes += read;
                sizes.insert(digest.clone(), read);
                if keep && crate::reader::may_be_manifest(&first) {
                    kept.insert(digest, first);
                }
            }
        }
    }
    check_graph(&mut report, &indexes, &sizes, &kept);
    report
}

fn blob_digest(name: &str) -> Option<Result<Digest, ()>> {
    let rest = name.strip_prefix("blobs/")?;
    let (alg, hex) = rest.split_once('/')?;
    Some(format!("{alg}:{hex}").parse().map_err(|_| ()))
}

fn check_graph(report: &mut Report, indexes: &[Index], sizes: &BTreeMap<Digest, u64>, kept: &BTreeMap<Digest, Vec<u8>>) {
    let (Some(first), Some(last)) = (indexes.first(), indexes.last()) else {
        report.faults.push("no index.json in the archive".to_owned());
        return;
    };
    if indexes.len() < 2 {
        report.faults.push("only one index.json: the archive ends before its final index.json (truncated?)".to_owned());
    }
    match (first.manifests.first(), last.manifests.first()) {
        (Some(a), Some(b)) if a.digest == b.digest => {}
        (None, _) => report.faults.push("the first index.json lists no root".to_owned()),
        _ => report.faults.push("the two index.json copies name different roots".to_owned()),
    }
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
