//! The bundle as bytes: its metadata document and its manifest. The cosign "simple signing"
//! payload and signature manifest that sign it are ferry-sign's, re-exported here.

use std::collections::BTreeMap;

use ferry_oci::{Descriptor, Digest, Manifest, NewImageManifest, media_type};
use serde::{Deserialize, Serialize};

/// `artifactType` of a bundle manifest.
pub const BUNDLE_ARTIFACT_TYPE: &str = "application/vnd.ferry.plugin.bundle.v1";
/// Media type of the metadata document, the bundle manifest's config.
pub const METADATA_MEDIA_TYPE: &str = "application/vnd.ferry.plugin.bundle.metadata.v1+json";
/// Media type of a component layer.
pub const WASM_MEDIA_TYPE: &str = "application/wasm";
pub use ferry_sign::cosign::{
    SIGNATURE_ANNOTATION, SIGNATURE_ARTIFACT_TYPE, SIMPLE_SIGNING_MEDIA_TYPE, signature_layer, signature_manifest, signed_digest,
    signing_payload,
};
/// Names a layer's file.
pub const TITLE_ANNOTATION: &str = "org.opencontainers.image.title";
const VERSION_ANNOTATION: &str = "org.opencontainers.image.version";

/// The metadata document: what the bundle holds, each component pinned by sha256.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Metadata {
    /// The bundle's name.
    pub name: String,
    /// Its version, as its authors number it.
    pub version: String,
    /// What it is for.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// The components, in the order given.
    pub components: Vec<ComponentEntry>,
}

/// One component of a bundle.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ComponentEntry {
    /// The name it is used by (`plugin=NAME`): its file name without `.wasm`.
    pub name: String,
    /// `mapper`, `sources-parser` or `tracker`.
    pub world: String,
    /// The WIT package it was built against: `ferry:plugin@0.1.0`.
    pub interface: String,
    /// sha256 of the wasm, hex.
    pub sha256: String,
    /// Bytes of the wasm.
    pub size: u64,
}

impl ComponentEntry {
    /// The layer descriptor this entry pins.
    pub fn layer(&self) -> Result<Descriptor, String> {
        let digest: Digest =
            format!("sha256:{}", self.sha256).parse().map_err(|e| format!("component {}: sha256 {:?}: {e}", self.name, self.sha256))?;
        let mut d = Descriptor::new(WASM_MEDIA_TYPE, digest, self.size);
        d.annotations.insert(TITLE_ANNOTATION.to_owned(), format!("{}.wasm", self.name));
        Ok(d)
    }
}

/// Whether `name` can name a bundle or a component: lower-case letters, digits, `.`, `_` and
/// `-`, starting with a letter or digit, at most 64 characters, and not `sha256-…` (the
/// installed-plugin store keeps signatures under such tags).
pub fn valid_name(name: &str) -> bool {
    name.len() <= 64
        && !name.starts_with("sha256-")
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'))
}

/// The metadata's bytes and the bundle manifest over them and the components.
pub fn bundle_manifest(metadata: &Metadata) -> Result<(Vec<u8>, Manifest), String> {
    let metadata_bytes = serde_json::to_vec_pretty(metadata).map_err(|e| e.to_string())?;
    let config = Descriptor::of_bytes(METADATA_MEDIA_TYPE, &metadata_bytes);
    let layers = metadata.components.iter().map(ComponentEntry::layer).collect::<Result<Vec<_>, _>>()?;
    let mut annotations = BTreeMap::new();
    annotations.insert(TITLE_ANNOTATION.to_owned(), metadata.name.clone());
    annotations.insert(VERSION_ANNOTATION.to_owned(), metadata.version.clone());
    let manifest = NewImageManifest {
        schema_version: 2,
        media_type: media_type::OCI_MANIFEST.to_owned(),
        artifact_type: Some(BUNDLE_ARTIFACT_TYPE.to_owned()),
        config,
        layers,
        subject: None,
        annotations,
    };
    Ok((metadata_bytes, manifest.build()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_payload_is_cosigns_and_names_the_digest() {
        let digest = Digest::sha256(b"bundle");
        let payload = signing_payload(&digest, "registry.example/plugins/x");
        let text = String::from_utf8(payload.clone()).unwrap();
        assert_eq!(
            text,
            format!(
                r#"{{"critical":{{"identity":{{"docker-reference":"registry.example/plugins/x"}},"image":{{"docker-manifest-digest":"{digest}"}},"type":"cosign container image signature"}},"optional":null}}"#
            )
        );
        assert_eq!(signed_digest(&payload), Some(digest));
        assert_eq!(signed_digest(br#"{"critical":{"type":"other"}}"#), None);
    }

    #[test]
    fn names_are_checked() {
        assert!(valid_name("route-by-label"));
        assert!(valid_name("site.rules_2"));
        assert!(!valid_name("Route"));
        assert!(!valid_name("-x"));
        assert!(!valid_name("a/b"));
        assert!(!valid_name(""));
        assert!(!valid_name("sha256-abc"));
    }
}
