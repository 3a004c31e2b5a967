//! The bundle as bytes: its metadata document, its manifest, and the cosign "simple signing"
//! payload and signature manifest that sign it.

use std::collections::BTreeMap;

use ferry_oci::{Descriptor, Digest, Manifest, gojson, media_type};
use serde::{Deserialize, Serialize};

/// `artifactType` of a bundle manifest.
pub const BUNDLE_ARTIFACT_TYPE: &str = "application/vnd.ferry.plugin.bundle.v1";
/// Media type of the metadata document, the bundle manifest's config.
pub const METADATA_MEDIA_TYPE: &str = "application/vnd.ferry.plugin.bundle.metadata.v1+json";
/// Media type of a component layer.
pub const WASM_MEDIA_TYPE: &str = "application/wasm";
/// cosign's payload media type.
pub const SIMPLE_SIGNING_MEDIA_TYPE: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// cosign's `artifactType` for a signature stored as a referrer.
pub const SIGNATURE_ARTIFACT_TYPE: &str = "application/vnd.dev.cosign.artifact.sig.v1+json";
/// The layer annotation holding a signature (base64 DER).
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
/// The `type` of a cosign image signature payload.
const SIGNATURE_TYPE: &str = "cosign container image signature";
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
    let doc = ManifestDoc {
        schema_version: 2,
        media_type: media_type::OCI_MANIFEST,
        artifact_type: Some(BUNDLE_ARTIFACT_TYPE),
        config,
        layers,
        subject: None,
        annotations,
    };
    Ok((metadata_bytes, manifest_of(&doc)))
}

/// An image manifest as ferry writes one (Go's field order).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ManifestDoc {
    schema_version: u32,
    media_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    artifact_type: Option<&'static str>,
    config: Descriptor,
    layers: Vec<Descriptor>,
    #[serde(skip_serializing_if = "Option::is_none")]
    subject: Option<Descriptor>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    annotations: BTreeMap<String, String>,
}

fn manifest_of(doc: &ManifestDoc) -> Manifest {
    let bytes = gojson::to_vec(doc);
    // Bytes built here always parse as the manifest they describe.
    Manifest::from_bytes(Descriptor::of_bytes(media_type::OCI_MANIFEST, &bytes), bytes).expect("a manifest ferry built")
}

/// cosign's simple-signing payload for the manifest `digest`; `reference` is where it was
/// signed (cosign records it; neither cosign nor ferry checks it, as bundles move).
pub fn signing_payload(digest: &Digest, reference: &str) -> Vec<u8> {
    let payload = serde_json::json!({
        "critical": {
            "identity": {"docker-reference": reference},
            "image": {"docker-manifest-digest": digest.to_string()},
            "type": SIGNATURE_TYPE,
        },
        "optional": null,
    });
    serde_json::to_vec(&payload).unwrap_or_default()
}

/// The manifest digest a simple-signing payload signs, if it is one.
pub fn signed_digest(payload: &[u8]) -> Option<Digest> {
    let v: serde_json::Value = serde_json::from_slice(payload).ok()?;
    let critical = v.get("critical")?;
    if critical.get("type")?.as_str()? != SIGNATURE_TYPE {
        return None;
    }
    critical.get("image")?.get("docker-manifest-digest")?.as_str()?.parse().ok()
}

/// The signature manifest of `subject` holding `layers` (payload descriptors with their
/// signature annotation), with its config: cosign's `.sig` layout, plus `subject` and
/// `artifactType` so that it is also a referrer and travels with `-r`.
pub fn signature_manifest(subject: &Descriptor, layers: Vec<Descriptor>) -> (Vec<u8>, Manifest) {
    let diff_ids: Vec<String> = layers.iter().map(|l| l.digest.to_string()).collect();
    let config = serde_json::json!({
        "architecture": "", "created": "0001-01-01T00:00:00Z",
        "history": [{"created": "0001-01-01T00:00:00Z"}], "os": "",
        "rootfs": {"type": "layers", "diff_ids": diff_ids}, "config": {},
    });
    let config_bytes = serde_json::to_vec(&config).unwrap_or_default();
    let subject = Descriptor::new(subject.media_type.clone(), subject.digest.clone(), subject.size);
    let doc = ManifestDoc {
        schema_version: 2,
        media_type: media_type::OCI_MANIFEST,
        artifact_type: Some(SIGNATURE_ARTIFACT_TYPE),
        config: Descriptor::of_bytes(media_type::OCI_CONFIG, &config_bytes),
        layers,
        subject: Some(subject),
        annotations: BTreeMap::new(),
    };
    (config_bytes, manifest_of(&doc))
}

/// A payload's layer descriptor carrying its signature.
pub fn signature_layer(payload: &[u8], signature: String) -> Descriptor {
    let mut d = Descriptor::of_bytes(SIMPLE_SIGNING_MEDIA_TYPE, payload);
    d.annotations.insert(SIGNATURE_ANNOTATION.to_owned(), signature);
    d
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
