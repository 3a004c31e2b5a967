//! Bytes as a run report read back by `--retry-failed`: an error or a report, never a panic;
//! what a report asks to redo names only what it lists.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(report) = ferry_engine::report::parse(data, std::path::Path::new("report.json")) {
        let retry = report.retry();
        assert!(retry.destinations.len() + retry.sources.len() <= report.artifacts.len());
    }
});
