//! Text as a sources list: the records reader the built-in `sources-list` component parses
//! with, then each record's reference and `key=value` labels as the host takes them. No
//! panic; every record starts on a line of the text.

#![no_main]

use ferry_oci::ImageRef;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(records) = csv_records::records(text) else { return };
    let lines = text.lines().count().max(1) as u32;
    for (line, fields) in records {
        assert!(line >= 1 && line <= lines + 1, "record on line {line} of {lines}");
        let Some(reference) = fields.first() else { continue };
        let _ = reference.trim_end().parse::<ImageRef>();
        for label in &fields[1..] {
            let _ = label.split_once('=');
        }
    }
});
