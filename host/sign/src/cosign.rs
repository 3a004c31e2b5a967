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

/// Who signed a delivery, and when it was made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signer {
    /// The fingerprint of the key that signed it (`sha256:…` of its public key).
    pub fingerprint: String,
    /// When the archive was made, as its signer claims (RFC 3339).
    pub created: String,
}

/// Why a delivery's signature does not hold.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DeliveryFault {
    /// The archive carries no delivery signature.
    #[error("the delivery is not signed")]
    Unsigned,
    /// The signature manifest cannot be read.
    #[error("the delivery's signature manifest cannot be read")]
    Unreadable,
    /// A payload signs another manifest than the archive's root.
    #[error("the signature is over {signed}, not over this archive's root {root}")]
    OtherDigest {
        /// What the payload names.
        signed: Digest,
        /// The archive's root.
        root: Digest,
    },
    /// A payload makes no delivery claim: a signature of the image made for another purpose.
    #[error("the signature over the root is not a delivery's (no ferry delivery claim)")]
    NotADelivery,
    /// No signature verifies with any of the keys given.
    #[error("no signature by a trusted key (signed by {})", if signers.is_empty() { "no key it names".to_owned() } else { signers.join(", ") })]
    Untrusted {
        /// The keys the signature names (fingerprints), as it claims.
        signers: Vec<String>,
    },
}

/// Checks a delivery's signature manifest (`manifest`, its bytes) over the archive's `root`:
/// some layer's payload (`payloads`, by digest) must name `root`, claim a ferry delivery, and
/// verify with one of `keys`. `claimed` is the fingerprint the archive says signed it.
pub fn check_delivery(
    root: &Digest,
    manifest: &[u8],
    payloads: &BTreeMap<Digest, Vec<u8>>,
    keys: &[crate::PublicKey],
    claimed: Option<&str>,
) -> Result<Signer, DeliveryFault> {
    let descriptor = Descriptor::of_bytes(media_type::OCI_MANIFEST, manifest);
    let manifest = Manifest::from_bytes(descriptor, manifest.to_vec()).map_err(|_| DeliveryFault::Unreadable)?;
    let mut fault = DeliveryFault::Unreadable;
    for layer in &manifest.view().layers {
        let (Some(signature), Some(payload)) = (layer.annotations.get(SIGNATURE_ANNOTATION), payloads.get(&layer.digest)) else { continue };
        if Digest::sha256(payload) != layer.digest {
            continue;
        }
        match signed_digest(payload) {
            Some(signed) if signed != *root => {
                fault = DeliveryFault::OtherDigest { signed, root: root.clone() };
                continue;
            }
            None => continue,
            Some(_) => {}
        }
        let Some(created) = delivery_created(payload) else {
            fault = DeliveryFault::NotADelivery;
            continue;
        };
        if let Some(key) = keys.iter().find(|k| k.verifies(payload, signature)) {
            return Ok(Signer { fingerprint: key.fingerprint().to_owned(), created });
        }
        fault = DeliveryFault::Untrusted { signers: claimed.map(|c| vec![c.to_owned()]).unwrap_or_default() };
    }
    Err(fault)
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

    #[test]
    fn a_delivery_holds_only_by_a_trusted_key_over_its_root() {
        let (key, other) = (crate::PrivateKey::generate(), crate::PrivateKey::generate());
        let root = Descriptor::of_bytes(media_type::OCI_INDEX, b"{}");
        let signed = |key: &crate::PrivateKey, payload: Vec<u8>| {
            let layer = signature_layer(&payload, key.sign(&payload));
            let (_, manifest) = signature_manifest(&root, vec![layer.clone()]);
            (manifest.bytes().to_vec(), BTreeMap::from([(layer.digest, payload)]))
        };
        let (m, p) = signed(&key, delivery_payload(&root.digest, "r", "2026-12-06T10:00:00Z"));
        let signer = check_delivery(&root.digest, &m, &p, &[other.public_key(), key.public_key()], None).expect("trusted");
        assert_eq!(signer.fingerprint, key.public_key().fingerprint());
        assert!(matches!(check_delivery(&root.digest, &m, &p, &[other.public_key()], None), Err(DeliveryFault::Untrusted { .. })));
        let elsewhere = Digest::sha256(b"another root");
        assert!(matches!(check_delivery(&elsewhere, &m, &p, &[key.public_key()], None), Err(DeliveryFault::OtherDigest { .. })));
        let (m, p) = signed(&key, signing_payload(&root.digest, "r"));
        assert_eq!(check_delivery(&root.digest, &m, &p, &[key.public_key()], None), Err(DeliveryFault::NotADelivery));
    }
}
