//! What a component is: its world (by its exports), the `ferry:plugin` version it was built
//! against (by its imports), its size and digest. For `ferry plugin inspect`.

use crate::{Host, Loaded};

/// A component's identity and interface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Inspection {
    /// The name it was loaded under.
    pub name: String,
    /// sha256 of the wasm, hex.
    pub sha256: String,
    /// Size of the wasm in bytes.
    pub size: u64,
    /// `mapper`, `sources-parser`, `tracker` or `policy`, if its exports are one of those worlds'.
    pub world: Option<&'static str>,
    /// The `ferry:plugin` version of its imports of that package, if it imports any.
    pub interface_version: Option<String>,
    /// Every import name (WASI's and ferry's).
    pub imports: Vec<String>,
    /// Every export name.
    pub exports: Vec<String>,
}

/// Which world exports these functions.
const WORLDS: [(&str, &[&str]); 4] = [
    ("mapper", &["map-image"]),
    ("sources-parser", &["parse"]),
    ("tracker", &["read-sent", "format-sent", "read-loaded", "format-loaded"]),
    ("policy", &["decide"]),
];

impl Host {
    /// Describes `loaded` (`size` is the wasm's length).
    pub fn inspect(&self, loaded: &Loaded, size: u64) -> Inspection {
        let ty = loaded.component.component_type();
        let imports: Vec<String> = ty.imports(&self.engine).map(|(n, _)| n.to_owned()).collect();
        let exports: Vec<String> = ty.exports(&self.engine).map(|(n, _)| n.to_owned()).collect();
        let world = WORLDS.iter().find(|(_, fns)| fns.iter().all(|f| exports.iter().any(|e| e == f))).map(|(w, _)| *w);
        // Any ferry:plugin interface it imports (`host`, or just `types` when it needs no host
        // calls) carries the package version.
        let interface_version =
            imports.iter().find_map(|i| i.strip_prefix("ferry:plugin/").and_then(|rest| rest.split_once('@')).map(|(_, v)| v.to_owned()));
        Inspection { name: loaded.name.clone(), sha256: loaded.sha256.clone(), size, world, interface_version, imports, exports }
    }
}
