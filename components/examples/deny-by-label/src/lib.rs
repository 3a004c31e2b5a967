//! An example policy: deny artifacts by one of their sources-list labels.
//!
//! ```text
//! ferry mirror gather sources.list reg.example.com/mirror/gather:sync-47 \
//!   --policy 'plugin=deny_by_label.wasm,label=classification,deny=restricted,deny=internal'
//! ```
//!
//! Parameters (from `host::params()`):
//! - `label`: the label to look at (required);
//! - `deny`: a value to deny (repeat it for more; at least one);
//! - `missing`: `deny` to also deny artifacts without the label (default `allow`).
//!
//! On the high side the labels are those the sources list gave on the low side: they travel
//! in the gather index.

// The WIT lives in ferry's `wit/` directory; a copy of this example points at its own copy
// (`ferry plugin wit > wit/plugin.wit`, then `path: "wit"`).
wit_bindgen::generate!({ world: "policy", path: "../../../wit" });

use std::sync::OnceLock;

use ferry::plugin::host;

/// The parameters, read once per instance: they do not change between calls.
struct Rules {
    label: String,
    deny: Vec<String>,
    deny_missing: bool,
}

static RULES: OnceLock<Result<Rules, String>> = OnceLock::new();

fn rules() -> Result<Rules, String> {
    let mut rules = Rules { label: String::new(), deny: Vec::new(), deny_missing: false };
    for (key, value) in host::params() {
        match key.as_str() {
            "label" => rules.label = value,
            "deny" => rules.deny.push(value),
            "missing" => {
                rules.deny_missing = match value.as_str() {
                    "deny" => true,
                    "allow" => false,
                    _ => return Err(format!("missing={value:?}: allow or deny")),
                }
            }
            _ => return Err(format!("unknown parameter {key:?} (label, deny, missing)")),
        }
    }
    if rules.label.is_empty() {
        return Err("the parameter \"label\" is missing (plugin=deny_by_label.wasm,label=KEY,deny=VALUE)".to_owned());
    }
    if rules.deny.is_empty() && !rules.deny_missing {
        return Err("no \"deny\" value: this policy would deny nothing".to_owned());
    }
    Ok(rules)
}

struct DenyByLabel;

impl Guest for DenyByLabel {
    fn decide(artifact: Image, _evidence: Evidence) -> Result<Verdict, String> {
        let rules = RULES.get_or_init(rules).as_ref().map_err(Clone::clone)?;
        let label = &rules.label;
        let verdict = match artifact.labels.iter().find(|(k, _)| k == label) {
            Some((_, value)) if rules.deny.contains(value) => Verdict::Deny(format!("label {label}={value} is denied")),
            Some((_, value)) => Verdict::Allow(format!("label {label}={value}")),
            None if rules.deny_missing => Verdict::Deny(format!("no label {label}")),
            None => Verdict::Allow(String::new()),
        };
        Ok(verdict)
    }
}

export!(DenyByLabel);
