//! cosign's signature format: a "simple signing" JSON payload naming a manifest digest, signed,
//! and stored as a layer of a signature manifest (the `.sig` tag's, and a referrer's).
//!
//! A ferry delivery is signed the same way, over the archive's root (the gather index), with a
//! claim in the payload's `optional` part: `vnd.ferry.delivery` holding the time the archive
//! was made. cosign verifies such a signature like any other; ferry also checks the claim, so a
//! signature of the same image made for another purpose is not taken for a delivery's.

use std::collections::BTreeMap;

use ferry_oci::{Descriptor, Digest, Manifest, NewImageManifest, media_type};

/// cosign's payload media type.
pub const SIMPLE_SIGNING_MEDIA_TYPE: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// cosign's `artifactType` for a signature stored as a referrer.
pub const SIGNATURE_ARTIFACT_TYPE: &str = "application/vnd.dev.cosign.artifact.sig.v1+json";
/// The layer annotation holding a signature (base64 DER).
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
/// The `type` of a cosign image signature payload.
const SIGNATURE_TYPE: &str = "cosign container image signature";
/// The `optional` key of a delivery's claim.
const DELIVERY_CLAIM: &str = "vnd.ferry.delivery";

/// cosign's simple-signing payload for the manifest `digest`; `reference` is where it was
/// signed (cosign records it; neither cosign nor ferry checks it, as artifacts move).
pub fn signing_payload(digest: &Digest, reference: &str) -> Vec<u8> {
    payload(digest, reference, serde_json::Value::Null)
}

/// The payload of a delivery's signature: over the archive's root `digest`, claiming a ferry
/// delivery made at `created` (RFC 3339).
pub fn delivery_payload(digest: &Digest, reference: &str, created: &str) -> Vec<u8> {
    let claim = serde_json::json!({ DELIVERY_CLAIM: { "created": created, "tool": concat!("ferry ", env!("CARGO_PKG_VERSION")) } });
    payload(digest, reference, claim)
}

fn payload(digest: &Digest, reference: &str, optional: serde_json::Value) -> Vec<u8> {
    let payload = serde_json::json!({
        "critical": {
            "identity": {"docker-reference": reference},
            "image": {"docker-manifest-digest": digest.to_string()},
            "type": SIGNATURE_TYPE,
        },
        "optional": optional,
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

/// When the delivery a payload signs was made, if the payload claims to be a delivery's.
pub fn delivery_created(payload: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(payload).ok()?;
    Some(v.get("optional")?.get(DELIVERY_CLAIM)?.get("created")?.as_str()?.to_owned())
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
    let manifest = NewImageManifest {
        schema_version: 2,
        media_type: media_type::OCI_MANIFEST.to_owned(),
        artifact_type: Some(SIGNATURE_ARTIFACT_TYPE.to_owned()),
        config: Descriptor::of_bytes(media_type::OCI_CONFIG, &config_bytes),
        layers,
        subject: Some(Descriptor::new(subject.media_type.clone(), subject.digest.clone(), subject.size)),
        annotations: BTreeMap::new(),
    };
    (config_bytes, manifest.build())
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
    fn a_delivery_payload_is_cosigns_with_the_claim() {
        let digest = Digest::sha256(b"root");
        let payload = delivery_payload(&digest, "ferry-delivery", "2026-12-06T10:00:00Z");
        assert_eq!(signed_digest(&payload), Some(digest.clone()));
        assert_eq!(delivery_created(&payload).as_deref(), Some("2026-12-06T10:00:00Z"));
        assert_eq!(delivery_created(&signing_payload(&digest, "x")), None, "a plain signature claims no delivery");
    }
}
