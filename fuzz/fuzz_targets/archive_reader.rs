//! Bytes as an archive (plain, gzip or zstd) through the one entry reader, in both of its
//! modes, `verify` and the resume scan: no panic, no unbounded allocation, and nothing
//! accepted that does not hash to its digest.

#![no_main]

use std::io::Read;

use ferry_archive::entries::{Entries, Entry, Seekable};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok((_, stream)) = ferry_archive::reader::decode(data, 4096) {
        let mut entries = Entries::stream(stream);
        while let Ok(Some(entry)) = entries.next_entry() {
            if let Entry::Blob(b) = entry {
                let mut bytes = Vec::new();
                if entries.data().read_to_end(&mut bytes).is_err() {
                    break;
                }
                assert_eq!(bytes.len() as u64, b.size);
            }
        }
    }
    if let Ok(file) = Seekable::new(std::io::Cursor::new(data)) {
        let mut entries = Entries::new(file);
        while let Ok(Some(entry)) = entries.next_entry() {
            if let Entry::Blob(b) = entry {
                assert_eq!(b.data_offset, b.header_offset + 512);
            }
        }
    }
    if let Ok((_, stream)) = ferry_archive::reader::decode(data, 4096) {
        let _ = ferry_archive::verify::verify(stream);
    }
    if let Ok(held) = ferry_archive::scan::blobs_held(data) {
        assert!(held.blobs.len() as u64 <= data.len() as u64 + 1);
    }
});
