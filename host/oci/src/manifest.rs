//! Manifests kept as their original bytes, with a parsed view and the successor function.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::annotations;
use crate::descriptor::{Descriptor, null_as_default};
use crate::media_type;
use crate::mismatch::DigestMismatch;

/// A manifest: its descriptor and the exact bytes it was fetched or built as.
/// The bytes are never re-serialized, so the digest always holds.
#[derive(Clone, Debug)]
pub struct Manifest {
    descriptor: Descriptor,
    bytes: Vec<u8>,
    view: ManifestView,
}

/// The fields of any manifest kind that ferry reads. Unknown fields are ignored, and the
/// original bytes stay authoritative.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ManifestView {
    /// `schemaVersion` (2 for every kind ferry handles).
    #[serde(default)]
    pub schema_version: i64,
    /// `mediaType`, if the document states it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub media_type: String,
    /// `artifactType`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// Image config.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<Descriptor>,
    /// Image layers.
    #[serde(default, skip_serializing_if = "Vec::is_empty", deserialize_with = "null_as_default")]
    pub layers: Vec<Descriptor>,
    /// Index children.
    #[serde(default, deserialize_with = "null_as_default")]
    pub manifests: Vec<Descriptor>,
    /// The manifest this one refers to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Descriptor>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty", deserialize_with = "null_as_default")]
    pub annotations: BTreeMap<String, String>,
}

/// Why bytes are not a usable manifest.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ManifestError {
    /// The media type is not a manifest type.
    #[error("{digest}: media type {} is not a manifest", crate::quoted(media_type.as_bytes()))]
    NotAManifest {
        /// Digest of the content.
        digest: String,
        /// The offending media type.
        media_type: String,
    },
    /// Bytes do not hash to the descriptor's digest or have another size.
    #[error("manifest does not match its descriptor: {0}")]
    DigestMismatch(#[source] DigestMismatch),
    /// The JSON does not parse.
    #[error("manifest {digest} ({}) is not valid JSON", crate::quoted(media_type.as_bytes()))]
    Json {
        /// Digest of the content.
        digest: String,
        /// Media type.
        media_type: String,
        /// Parser error.
        #[source]
        source: serde_json::Error,
    },
    /// An image manifest without `config`.
    #[error("image manifest {0} has no config")]
    MissingConfig(String),
    /// The `vnd.act3-ace.data.extra-manifests` annotation is not a JSON array of descriptors.
    #[error("manifest {digest}: annotation {} is not a JSON array of descriptors", annotations::EXTRA_MANIFESTS)]
    ExtraManifests {
        /// Digest of the index.
        digest: String,
        /// Parser error.
        #[source]
        source: serde_json::Error,
    },
}

impl Manifest {
    /// Checks `bytes` against `descriptor` (digest, size) and parses them.
    pub fn from_bytes(descriptor: Descriptor, bytes: Vec<u8>) -> Result<Manifest, ManifestError> {
        if !descriptor.is_manifest() {
            return Err(ManifestError::NotAManifest { digest: descriptor.digest.to_string(), media_type: descriptor.media_type.clone() });
        }
        let actual = descriptor.digest.same_algorithm_of(&bytes);
        if actual != descriptor.digest || bytes.len() as u64 != descriptor.size {
            return Err(ManifestError::DigestMismatch(DigestMismatch::new(&descriptor, bytes.len() as u64, Some(actual))));
        }
        let view: ManifestView = serde_json::from_slice(&bytes).map_err(|source| ManifestError::Json {
            digest: descriptor.digest.to_string(),
            media_type: descriptor.media_type.clone(),
            source,
        })?;
        if media_type::is_image(&descriptor.media_type) && view.config.is_none() {
            return Err(ManifestError::MissingConfig(descriptor.digest.to_string()));
        }
        let manifest = Manifest { descriptor, bytes, view };
        manifest.extra_manifests()?;
        Ok(manifest)
    }

    /// The descriptor (media type, digest, size, plus whatever the caller attached).
    pub fn descriptor(&self) -> &Descriptor {
        &self.descriptor
    }

    /// The original bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The parsed view.
    pub fn view(&self) -> &ManifestView {
        &self.view
    }

    /// Children in ace-dt's order (spec §0): image: subject, config, layers; index: subject,
    /// manifests; then, for an index, the shadow children of `vnd.act3-ace.data.extra-manifests`.
    pub fn successors(&self) -> Vec<Descriptor> {
        let v = &self.view;
        let mut out = Vec::new();
        let mt = self.descriptor.media_type.as_str();
        match mt {
            media_type::OCI_MANIFEST | media_type::OCI_INDEX => out.extend(v.subject.clone()),
            _ => {}
        }
        if media_type::is_image(mt) {
            out.extend(v.config.clone());
            out.extend(v.layers.iter().cloned());
        } else {
            out.extend(v.manifests.iter().cloned());
            // Validated in `from_bytes`.
            out.extend(self.extra_manifests().unwrap_or_default());
        }
        out
    }

    /// This manifest as an entry of a referrers list: media type, digest, size, its
    /// `artifactType` (or config media type) and its annotations, as the OCI spec lists them.
    pub fn referrer_descriptor(&self) -> Descriptor {
        let d = &self.descriptor;
        let mut entry = Descriptor::new(d.media_type.clone(), d.digest.clone(), d.size);
        entry.artifact_type = self.view.artifact_type.clone().or_else(|| self.view.config.as_ref().map(|c| c.media_type.clone()));
        entry.annotations = self.view.annotations.clone();
        entry
    }

    /// The descriptors in the `vnd.act3-ace.data.extra-manifests` annotation of an index.
    pub fn extra_manifests(&self) -> Result<Vec<Descriptor>, ManifestError> {
        if !media_type::is_index(&self.descriptor.media_type) {
            return Ok(Vec::new());
        }
        match self.view.annotations.get(annotations::EXTRA_MANIFESTS) {
            None => Ok(Vec::new()),
            Some(json) => serde_json::from_str(json)
                .map_err(|source| ManifestError::ExtraManifests { digest: self.descriptor.digest.to_string(), source }),
        }
    }
}

/// An OCI image index as ferry writes it (gather index, layout `index.json`), with Go's field
/// order: `schemaVersion, mediaType, artifactType, manifests, annotations`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Index {
    /// Always 2.
    pub schema_version: i64,
    /// `application/vnd.oci.image.index.v1+json`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub media_type: String,
    /// Artifact type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// Children; written as `[]` when empty (ace-dt wrote `null`, spec §13.20).
    #[serde(default, deserialize_with = "null_as_default")]
    pub manifests: Vec<Descriptor>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty", deserialize_with = "null_as_default")]
    pub annotations: BTreeMap<String, String>,
}

impl Index {
    /// An empty OCI index.
    pub fn new() -> Index {
        Index {
            schema_version: 2,
            media_type: media_type::OCI_INDEX.to_owned(),
            artifact_type: None,
            manifests: Vec::new(),
            annotations: BTreeMap::new(),
        }
    }
}

impl Default for Index {
    fn default() -> Self {
        Index::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Digest, gojson};

    fn desc(mt: &str, b: &[u8]) -> Descriptor {
        Descriptor::of_bytes(mt, b)
    }

    #[test]
    fn successors_follow_spec_order() {
        let cfg = desc(media_type::OCI_CONFIG, b"{}");
        let l1 = desc("application/vnd.oci.image.layer.v1.tar", b"1");
        let subj = desc(media_type::OCI_MANIFEST, b"s");
        let body = serde_json::json!({"schemaVersion":2,"config":cfg,"layers":[l1],"subject":subj});
        let bytes = serde_json::to_vec(&body).unwrap();
        let m = Manifest::from_bytes(desc(media_type::OCI_MANIFEST, &bytes), bytes).unwrap();
        assert_eq!(m.successors(), vec![subj.clone(), cfg.clone(), l1.clone()]);

        // Docker schema2 has no subject.
        let bytes = serde_json::to_vec(&body).unwrap();
        let m = Manifest::from_bytes(desc(media_type::DOCKER_MANIFEST, &bytes), bytes).unwrap();
        assert_eq!(m.successors(), vec![cfg, l1]);
    }

    #[test]
    fn index_successors_include_extra_manifests() {
        let a = desc(media_type::OCI_MANIFEST, b"a");
        let x = desc(media_type::OCI_INDEX, b"x");
        let mut idx = Index::new();
        idx.manifests.push(a.clone());
        idx.annotations.insert(annotations::EXTRA_MANIFESTS.into(), String::from_utf8(gojson::to_vec(&vec![x.clone()])).unwrap());
        let bytes = gojson::to_vec(&idx);
        let m = Manifest::from_bytes(desc(media_type::OCI_INDEX, &bytes), bytes).unwrap();
        assert_eq!(m.successors(), vec![a, x]);
    }

    #[test]
    fn rejects_mismatch_and_garbage() {
        let bytes = b"{}".to_vec();
        let mut d = desc(media_type::OCI_INDEX, &bytes);
        d.digest = Digest::sha256(b"other");
        assert!(matches!(Manifest::from_bytes(d, bytes.clone()), Err(ManifestError::DigestMismatch(_))));
        let junk = b"not json".to_vec();
        assert!(matches!(Manifest::from_bytes(desc(media_type::OCI_INDEX, &junk), junk), Err(ManifestError::Json { .. })));
        assert!(matches!(
            Manifest::from_bytes(desc(media_type::OCI_MANIFEST, &bytes), bytes.clone()),
            Err(ManifestError::MissingConfig(_))
        ));
        let idx = br#"{"schemaVersion":2,"manifests":null,"annotations":{"vnd.act3-ace.data.extra-manifests":"nope"}}"#.to_vec();
        assert!(matches!(Manifest::from_bytes(desc(media_type::OCI_INDEX, &idx), idx), Err(ManifestError::ExtraManifests { .. })));
    }

    #[test]
    fn empty_index_encodes_empty_array() {
        assert_eq!(
            gojson::to_vec(&Index::new()),
            br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}"#
        );
    }
}

/// An image manifest as ferry writes one, in Go's field order; [`NewImageManifest::build`]
/// gives the [`Manifest`] of its bytes.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NewImageManifest {
    /// 2.
    pub schema_version: u32,
    /// `application/vnd.oci.image.manifest.v1+json`.
    pub media_type: String,
    /// The artifact's type, if it is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// The config.
    pub config: Descriptor,
    /// The layers.
    pub layers: Vec<Descriptor>,
    /// What it refers to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<Descriptor>,
    /// Annotations.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl NewImageManifest {
    /// The manifest these fields make, as Go's `json.Marshal` writes it.
    pub fn build(&self) -> Manifest {
        let bytes = crate::gojson::to_vec(self);
        let descriptor = Descriptor::of_bytes(&self.media_type, &bytes);
        // Bytes built from these fields always parse as the manifest they describe.
        Manifest::from_bytes(descriptor, bytes).unwrap_or_else(|e| unreachable!("a manifest ferry built does not parse: {e}"))
    }
}
