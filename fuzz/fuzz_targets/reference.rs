//! Text as an image reference (`REGISTRY/REPOSITORY[:TAG|@DIGEST]`, `oci:PATH[:TAG]`): no
//! panic, and what parses prints as text that parses to the same reference.

#![no_main]

use ferry_oci::{ImageRef, Reference};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(r) = text.parse::<ImageRef>() {
        let shown = r.to_string();
        let again: ImageRef = shown.parse().unwrap_or_else(|e| panic!("{text:?} printed as {shown:?}, which does not parse: {e}"));
        assert_eq!(again.to_string(), shown, "{text:?}");
    }
    if let Ok(r) = text.parse::<Reference>() {
        let shown = r.to_string();
        let again: Reference = shown.parse().unwrap_or_else(|e| panic!("{text:?} printed as {shown:?}, which does not parse: {e}"));
        assert_eq!(again.to_string(), shown, "{text:?}");
    }
    let _ = ferry_oci::valid_tag(text);
    let _ = text.parse::<ferry_oci::Digest>();
});
