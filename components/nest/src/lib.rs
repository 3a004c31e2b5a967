//! `nest=PREFIX` (spec §6.2): one destination, PREFIX and the source reference joined with
//! `/` (one `/` when PREFIX already ends with it).
//!
//! Unlike ace-dt, nothing is cleaned: `.` and `..` are not resolved, so a source cannot climb
//! out of PREFIX. The host refuses a destination that is not a reference exactly as written.

wit_bindgen::generate!({ world: "mapper", path: "../../wit" });

use ferry::plugin::host;

struct Nest;

/// The prefix, read once per instance.
static PREFIX: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();

impl Guest for Nest {
    fn map_image(image: Image) -> Result<Vec<String>, String> {
        let prefix = PREFIX
            .get_or_init(|| host::params().into_iter().find_map(|(k, v)| (k == "prefix").then_some(v)))
            .as_ref()
            .ok_or_else(|| "nest: the parameter \"prefix\" is missing (nest=PREFIX)".to_owned())?;
        if image.source.is_empty() {
            return Err(format!("nest: {} has no source reference to nest", image.digest));
        }
        let separator = if prefix.ends_with('/') { "" } else { "/" };
        Ok(vec![format!("{prefix}{separator}{}", image.source)])
    }
}

export!(Nest);
