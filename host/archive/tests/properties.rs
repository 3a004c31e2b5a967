//! Properties of the one archive reader: any prefix, and any single-byte change, of a valid
//! archive (plain, gzip, zstd) is either refused or read as the same content — the same blobs
//! with the same digests — by the entry reader, `verify` and the resume scan; never a panic.

#![allow(clippy::unwrap_used, missing_docs, reason = "tests")]

use std::collections::BTreeSet;
use std::io::Read;
use std::sync::OnceLock;

use ferry_archive::entries::{Entries, Entry, Seekable};
use ferry_archive::{AnySink, ArchiveWriter, Compression};
use ferry_oci::{Descriptor, Digest, Index, gojson, media_type};
use proptest::prelude::*;

/// A small image archive in each compression, and the digests of its blobs.
struct Fixture {
    archives: Vec<(Compression, Vec<u8>)>,
    blobs: BTreeSet<(Digest, u64)>,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let layers: Vec<Vec<u8>> = vec![(0..1300u32).map(|i| (i * 7 % 251) as u8).collect(), b"second layer".to_vec()];
        let config = br#"{"architecture":"amd64","os":"linux"}"#.to_vec();
        let layer_descs: Vec<Descriptor> =
            layers.iter().map(|l| Descriptor::of_bytes("application/vnd.oci.image.layer.v1.tar", l)).collect();
        let config_desc = Descriptor::of_bytes(media_type::OCI_CONFIG, &config);
        let manifest = gojson::to_vec(&serde_json::json!({
            "schemaVersion": 2, "mediaType": media_type::OCI_MANIFEST, "config": config_desc, "layers": layer_descs,
        }));
        let m = Descriptor::of_bytes(media_type::OCI_MANIFEST, &manifest);
        let mut index = Index::new();
        index.manifests = vec![m.clone()];
        let index = gojson::to_vec_pretty(&index);
        let mut all: Vec<(Descriptor, Vec<u8>)> = vec![(m, manifest), (config_desc, config)];
        all.extend(layer_descs.into_iter().zip(layers));
        let archives = [Compression::None, Compression::Gzip, Compression::Zstd]
            .into_iter()
            .map(|c| {
                let mut w = ArchiveWriter::new(AnySink::new(Vec::new(), c).unwrap());
                w.write_oci_layout().unwrap();
                w.write_index(&index).unwrap();
                for (d, b) in &all {
                    w.write_blob(d, b.as_slice()).unwrap();
                }
                w.write_index(&index).unwrap();
                (c, w.finish().unwrap().finish().unwrap().into_inner())
            })
            .collect();
        Fixture { archives, blobs: all.into_iter().map(|(d, _)| (d.digest, d.size)).collect() }
    })
}

/// The entry reader over a stream: the verified blobs, or `None` if it refused the archive.
fn read_blobs(bytes: &[u8]) -> Option<BTreeSet<(Digest, u64)>> {
    let (_, stream) = ferry_archive::reader::decode(bytes, 4096).ok()?;
    let mut entries = Entries::stream(stream);
    let mut out = BTreeSet::new();
    while let Some(entry) = entries.next_entry().ok()? {
        if let Entry::Blob(b) = entry {
            let mut data = Vec::new();
            entries.data().read_to_end(&mut data).ok()?;
            if b.digest.same_algorithm_of(&data) != b.digest {
                return None;
            }
            out.insert((b.digest, b.size));
        }
    }
    Some(out)
}

/// The entry reader over a seekable plain file, blobs skipped: whether it reached the end.
fn seek_through(bytes: &[u8]) -> bool {
    let mut entries = Entries::new(Seekable::new(std::io::Cursor::new(bytes)).unwrap());
    loop {
        match entries.next_entry() {
            Ok(Some(_)) => {}
            Ok(None) => return true,
            Err(_) => return false,
        }
    }
}

/// Every reader on `bytes`: refused, or the fixture's content exactly.
fn check(bytes: &[u8]) -> Result<(), TestCaseError> {
    let want = &fixture().blobs;
    if let Some(got) = read_blobs(bytes) {
        prop_assert_eq!(&got, want, "the reader accepted other content");
    }
    let _ = seek_through(bytes);
    let stream = ferry_archive::reader::decode(bytes, 4096).map(|(_, s)| s);
    if let Ok(stream) = stream {
        let report = ferry_archive::verify::verify(stream);
        if report.faults.is_empty() {
            prop_assert_eq!(report.blobs, want.len() as u64, "verify passed other content");
            prop_assert_eq!(report.blob_bytes, want.iter().map(|(_, s)| s).sum::<u64>());
        }
    }
    if let Ok(held) = ferry_archive::scan::blobs_held(bytes) {
        for b in &held.blobs {
            prop_assert!(want.contains(&(b.digest.clone(), b.size)), "the scan holds a blob that is not the fixture's: {}", b.digest);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn any_prefix(which in 0usize..3, cut in any::<prop::sample::Index>()) {
        let (_, bytes) = &fixture().archives[which];
        let cut = cut.index(bytes.len() + 1);
        check(&bytes[..cut])?;
        // A plain prefix is refused by the reader unless the end marker is in it.
        if which == 0 && cut < bytes.len() - 1024 {
            prop_assert!(read_blobs(&bytes[..cut]).is_none());
            prop_assert!(!seek_through(&bytes[..cut]));
        }
    }

    #[test]
    fn any_single_byte_change(which in 0usize..3, at in any::<prop::sample::Index>(), xor in 1u8..=255) {
        let (_, bytes) = &fixture().archives[which];
        let mut bytes = bytes.clone();
        let at = at.index(bytes.len());
        bytes[at] ^= xor;
        check(&bytes)?;
    }
}

#[test]
fn the_fixture_reads_whole() {
    for (c, bytes) in &fixture().archives {
        assert_eq!(read_blobs(bytes).as_ref(), Some(&fixture().blobs), "{c:?}");
        let held = ferry_archive::scan::blobs_held(bytes.as_slice()).unwrap();
        assert_eq!(held.blobs.len(), fixture().blobs.len(), "{c:?}");
    }
    assert!(seek_through(&fixture().archives[0].1));
}
