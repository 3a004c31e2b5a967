//! Bytes as the volumes of a media set (the first byte says how many files, the rest is cut
//! between them): surveying, checking and joining them gives an error or a stream, never a
//! panic, and memory stays bounded whatever the headers claim.

#![no_main]

use std::io::Read;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&n, rest)) = data.split_first() else { return };
    let n = usize::from(n % 4) + 1;
    let dir = tempfile::tempdir().unwrap();
    let chunk = rest.len().div_ceil(n).max(1);
    let paths: Vec<std::path::PathBuf> = rest
        .chunks(chunk)
        .enumerate()
        .map(|(i, bytes)| {
            let p = dir.path().join(format!("set.tar.{:03}", i + 1));
            std::fs::write(&p, bytes).unwrap();
            p
        })
        .collect();
    if paths.is_empty() {
        return;
    }
    if let Ok(survey) = ferry_volumes::survey(&paths, true) {
        let _ = survey.rebuildable();
        let mut out = Vec::new();
        let _ = survey.reader().take(64 << 20).read_to_end(&mut out);
    }
});
