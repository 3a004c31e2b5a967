//! An example mapping rule: send each image to a registry chosen by one of its sources-list
//! labels.
//!
//! ```text
//! ferry mirror scatter REG/low/mirror:sync-1 \
//!   'plugin=route_by_label.wasm,label=team,to.ops=high.example.com/ops/,to.web=high.example.com/web/,default=high.example.com/misc/'
//! ```
//!
//! Parameters (from `host::params()`):
//! - `label`: the label whose value picks the route (required);
//! - `to.VALUE`: the prefix for images whose label has that value;
//! - `default`: the prefix for the rest (without it, they are not copied).
//!
//! The destination is the prefix followed by the source reference without its registry:
//! `reg.example.com/apps/api:1.2` with `team=ops` goes to `high.example.com/ops/apps/api:1.2`.

// The WIT lives in ferry's `wit/` directory; a copy of this example points at its own copy
// (`ferry plugin wit > wit/plugin.wit`, then `path: "wit"`).
wit_bindgen::generate!({ world: "mapper", path: "../../../wit" });

use ferry::plugin::host;

struct RouteByLabel;

impl Guest for RouteByLabel {
    fn map_image(image: Image) -> Result<Vec<String>, String> {
        let params = host::params();
        let param = |key: &str| params.iter().find_map(|(k, v)| (k == key).then_some(v.as_str()));
        let label = param("label").ok_or("the parameter \"label\" is missing (plugin=route_by_label.wasm,label=KEY,...)")?;
        let value = image.labels.iter().find_map(|(k, v)| (k == label).then_some(v.as_str()));
        let prefix = match value.and_then(|v| param(&format!("to.{v}"))).or_else(|| param("default")) {
            Some(prefix) => prefix,
            None => {
                host::log(host::Level::Info, &format!("{}: no route for {label}={}", image.source, value.unwrap_or("(none)")));
                return Ok(Vec::new());
            }
        };
        // The registry is everything before the first `/`.
        let (_, path) = image.source.split_once('/').ok_or_else(|| format!("{}: not a REGISTRY/REPOSITORY reference", image.source))?;
        Ok(vec![format!("{prefix}{path}")])
    }
}

export!(RouteByLabel);
