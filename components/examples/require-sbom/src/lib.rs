//! An example policy: allow only artifacts that carry an SBOM.
//!
//! ```text
//! ferry mirror -r gather sources.list reg.example.com/mirror/gather:sync-47 --policy plugin=require_sbom.wasm
//! ferry mirror -r scatter high.example.com/mirror/gather:sync-47 first-prefix=to-high.csv \
//!   --policy 'plugin=require-sbom,types=application/spdx+json|application/vnd.cyclonedx+json,signed=true'
//! ```
//!
//! An SBOM is a referrer whose artifact type is one of `types`, or a cosign `.sbom` tag
//! attachment. Parameters (from `host::params()`):
//! - `types`: the SBOM artifact types, separated by `|` (default: SPDX, CycloneDX and Syft,
//!   in JSON, and SPDX tag-value);
//! - `signed`: `true` to also require a cosign signature that a trusted key verifies.

// The WIT lives in ferry's `wit/` directory; a copy of this example points at its own copy
// (`ferry plugin wit > wit/plugin.wit`, then `path: "wit"`).
wit_bindgen::generate!({ world: "policy", path: "../../../wit" });

use std::sync::OnceLock;

use ferry::plugin::host;
use ferry::plugin::types::AttachmentKind;

const DEFAULT_TYPES: [&str; 4] = ["application/spdx+json", "text/spdx", "application/vnd.cyclonedx+json", "application/vnd.syft+json"];

/// The parameters, read once per instance: they do not change between calls.
struct Rules {
    types: Vec<String>,
    signed: bool,
}

static RULES: OnceLock<Result<Rules, String>> = OnceLock::new();

fn rules() -> Result<Rules, String> {
    let mut rules = Rules { types: DEFAULT_TYPES.map(str::to_owned).to_vec(), signed: false };
    for (key, value) in host::params() {
        match key.as_str() {
            "types" => rules.types = value.split('|').filter(|t| !t.is_empty()).map(str::to_owned).collect(),
            "signed" => {
                rules.signed = match value.as_str() {
                    "true" => true,
                    "false" => false,
                    _ => return Err(format!("signed={value:?}: true or false")),
                }
            }
            _ => return Err(format!("unknown parameter {key:?} (types, signed)")),
        }
    }
    if rules.types.is_empty() {
        return Err("the parameter \"types\" lists no artifact type".to_owned());
    }
    Ok(rules)
}

struct RequireSbom;

impl Guest for RequireSbom {
    fn decide(_artifact: Image, evidence: Evidence) -> Result<Verdict, String> {
        let rules = RULES.get_or_init(rules).as_ref().map_err(Clone::clone)?;
        let sbom = evidence.attachments.iter().find(|a| match a.kind {
            AttachmentKind::Referrer => rules.types.iter().any(|t| *t == a.artifact_type),
            AttachmentKind::Tag => a.tag.ends_with(".sbom"),
        });
        let Some(sbom) = sbom else {
            return Ok(Verdict::Deny(format!("no SBOM ({} referrers or a .sbom attachment)", rules.types.join(", "))));
        };
        let what = if sbom.artifact_type.is_empty() { sbom.tag.clone() } else { sbom.artifact_type.clone() };
        if rules.signed {
            let Some(signature) = evidence.signatures.iter().find(|s| s.valid) else {
                return Ok(Verdict::Deny("an SBOM, but no signature by a trusted key".to_owned()));
            };
            return Ok(Verdict::Allow(format!("SBOM {what} {}, signed by {}", sbom.digest, signature.key_id)));
        }
        Ok(Verdict::Allow(format!("SBOM {what} {}", sbom.digest)))
    }
}

export!(RequireSbom);
