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

use std::collections::HashMap;
use std::sync::OnceLock;

use ferry::plugin::host;

/// The parameters, read once per instance: they do not change between calls.
struct Routes {
    label: String,
    to: HashMap<String, String>,
    default: Option<String>,
}

static ROUTES: OnceLock<Result<Routes, String>> = OnceLock::new();

fn routes() -> Result<Routes, String> {
    let mut routes = Routes { label: String::new(), to: HashMap::new(), default: None };
    for (key, value) in host::params() {
        match key.as_str() {
            "label" => routes.label = value,
            "default" => routes.default = Some(value),
            _ => match key.strip_prefix("to.") {
                Some(label_value) => {
                    routes.to.insert(label_value.to_owned(), value);
                }
                None => return Err(format!("unknown parameter {key:?} (label, to.VALUE, default)")),
            },
        }
    }
    if routes.label.is_empty() {
        return Err("the parameter \"label\" is missing (plugin=route_by_label.wasm,label=KEY,...)".to_owned());
    }
    Ok(routes)
}

struct RouteByLabel;

impl Guest for RouteByLabel {
    fn map_image(image: Image) -> Result<Vec<String>, String> {
        let routes = ROUTES.get_or_init(routes).as_ref().map_err(Clone::clone)?;
        let value = image.labels.iter().find_map(|(k, v)| (*k == routes.label).then_some(v.as_str()));
        let Some(prefix) = value.and_then(|v| routes.to.get(v)).or(routes.default.as_ref()) else {
            let shown = value.unwrap_or("(none)");
            host::log(host::Level::Info, &format!("{}: no route for {}={shown}", image.source, routes.label));
            return Ok(Vec::new());
        };
        // The registry is everything before the first `/`.
        let (_, path) = image.source.split_once('/').ok_or_else(|| format!("{}: not a REGISTRY/REPOSITORY reference", image.source))?;
        Ok(vec![format!("{prefix}{path}")])
    }
}

export!(RouteByLabel);
