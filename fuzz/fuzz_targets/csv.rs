//! Text as the CSV files ferry reads: the records reader of the tracker and sources-list
//! components, and the host's BATCH-LIST and sync-directory file names. No panic.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = csv_records::records(text);
    if let Ok(entries) = ferry_engine::batch::parse_batch_list(text, std::path::Path::new("batch.csv")) {
        for e in entries {
            assert!(ferry_oci::valid_tag(&e.name), "{:?}", e.name);
        }
    }
    for name in text.lines().take(64) {
        let _ = ferry_engine::batch::parse_sync_name(name);
    }
});
