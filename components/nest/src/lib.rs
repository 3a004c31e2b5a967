//! `nest=PREFIX` (spec §6.2): one destination, PREFIX and the source reference joined with
//! `/` and the path cleaned (`//` collapsed, `.` and `..` resolved, no trailing `/`).

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
        Ok(vec![clean(&format!("{prefix}/{}", image.source))])
    }
}

/// Go's `path.Clean` for the parts a reference can hold.
fn clean(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    let joined = parts.join("/");
    if path.starts_with('/') { format!("/{joined}") } else { joined }
}

export!(Nest);
