//! Bytes as a receipt the low side imports: an error or a receipt, never a panic.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(receipt) = ferry_engine::receipt::parse(data, std::path::Path::new("receipt.json")) {
        assert!(receipt.present.iter().all(|d| d.to_string().starts_with("sha256:")));
    }
});
