//! The referrers tag schema (OCI distribution spec 1.1, "referrers tag schema"): a subject's
//! referrers listed in an OCI index tagged `<alg>-<hex>` of the subject's digest, for stores
//! without the referrers API. Both stores that maintain such indexes (a registry repository
//! and an OCI layout) build the new index here, from the one they read under their lock.
//!
//! An index that cannot be read is an error that names it, never treated as empty: pushing
//! over it would drop the referrers it lists.

use crate::descriptor::Descriptor;
use crate::gojson;
use crate::manifest::{Index, Manifest, ManifestError};
use crate::media_type;

/// The manifest at a subject's referrers tag cannot be extended.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TagIndexError {
    /// The tag names a manifest that is not an index: something else lives there.
    #[error("tag {tag} names {digest} of media type {}, not a referrers index; it is left as it is", crate::quoted(media_type.as_bytes()))]
    NotAnIndex {
        /// The referrers tag.
        tag: String,
        /// What it names.
        digest: String,
        /// Its media type.
        media_type: String,
    },
    /// The index at the tag does not parse as an OCI index.
    #[error("tag {tag} names {digest}, which is not a readable index ({source}); it is left as it is")]
    Unreadable {
        /// The referrers tag.
        tag: String,
        /// What it names.
        digest: String,
        /// The parser's error.
        #[source]
        source: serde_json::Error,
    },
    /// The new index could not be made a manifest (it always can; kept typed all the same).
    #[error("building the referrers index for tag {tag}: {source}")]
    Build {
        /// The referrers tag.
        tag: String,
        /// Why.
        #[source]
        source: ManifestError,
    },
}

/// The referrers index to store at `subject`'s tag once `referrer` is added to `existing` (what
/// the tag names now, if anything), or `None` when `existing` lists it already. Entries of
/// `existing` are kept as they are, in their order, with the new one last.
pub fn add_referrer(subject: &Descriptor, existing: Option<&Manifest>, referrer: &Manifest) -> Result<Option<Manifest>, TagIndexError> {
    let tag = subject.digest.tag_schema();
    let mut index = match existing {
        None => Index::new(),
        // Some registries answer the tag with the subject itself: that is no list yet.
        Some(m) if m.descriptor().digest == subject.digest => Index::new(),
        Some(m) if !media_type::is_index(&m.descriptor().media_type) => {
            return Err(TagIndexError::NotAnIndex {
                tag,
                digest: m.descriptor().digest.to_string(),
                media_type: m.descriptor().media_type.clone(),
            });
        }
        Some(m) => serde_json::from_slice::<Index>(m.bytes()).map_err(|source| TagIndexError::Unreadable {
            tag: tag.clone(),
            digest: m.descriptor().digest.to_string(),
            source,
        })?,
    };
    let entry = referrer.referrer_descriptor();
    if index.manifests.iter().any(|d| d.digest == entry.digest) {
        return Ok(None);
    }
    index.manifests.push(entry);
    if index.media_type.is_empty() {
        index.media_type = media_type::OCI_INDEX.to_owned();
    }
    let bytes = gojson::to_vec(&index);
    let desc = Descriptor::of_bytes(media_type::OCI_INDEX, &bytes);
    Manifest::from_bytes(desc, bytes).map(Some).map_err(|source| TagIndexError::Build { tag, source })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(media_type: &str, json: &str) -> Manifest {
        Manifest::from_bytes(Descriptor::of_bytes(media_type, json.as_bytes()), json.as_bytes().to_vec()).unwrap()
    }

    fn artifact(n: u32, subject: &Descriptor) -> Manifest {
        let json = format!(
            r#"{{"schemaVersion":2,"mediaType":"{}","artifactType":"application/x-test","config":{{"mediaType":"{}","digest":"{}","size":2}},"layers":[],"subject":{{"mediaType":"{}","digest":"{}","size":{}}},"annotations":{{"n":"{n}"}}}}"#,
            media_type::OCI_MANIFEST,
            media_type::OCI_EMPTY,
            crate::Digest::sha256(b"{}"),
            subject.media_type,
            subject.digest,
            subject.size
        );
        manifest(media_type::OCI_MANIFEST, &json)
    }

    #[test]
    fn adds_once_and_keeps_what_was_there() {
        let subject = manifest(media_type::OCI_INDEX, r#"{"schemaVersion":2,"manifests":[]}"#).descriptor().clone();
        let (a, b) = (artifact(1, &subject), artifact(2, &subject));
        let first = add_referrer(&subject, None, &a).unwrap().unwrap();
        assert_eq!(first.view().manifests.len(), 1);
        assert!(add_referrer(&subject, Some(&first), &a).unwrap().is_none(), "listed already");
        let second = add_referrer(&subject, Some(&first), &b).unwrap().unwrap();
        let digests: Vec<_> = second.view().manifests.iter().map(|d| d.digest.clone()).collect();
        assert_eq!(digests, vec![a.descriptor().digest.clone(), b.descriptor().digest.clone()]);
        assert_eq!(second.view().manifests[1].artifact_type.as_deref(), Some("application/x-test"));
    }

    #[test]
    fn refuses_what_is_not_a_readable_index() {
        let subject = manifest(media_type::OCI_INDEX, r#"{"schemaVersion":2,"manifests":[]}"#).descriptor().clone();
        let a = artifact(1, &subject);
        let image = artifact(9, &subject);
        assert!(matches!(add_referrer(&subject, Some(&image), &a), Err(TagIndexError::NotAnIndex { .. })));
        // Readable as a manifest, but not as an index (no schemaVersion).
        let odd = manifest(media_type::OCI_INDEX, r#"{"manifests":[]}"#);
        let e = add_referrer(&subject, Some(&odd), &a).unwrap_err();
        assert!(matches!(e, TagIndexError::Unreadable { .. }), "{e:?}");
        assert!(e.to_string().contains(&subject.digest.tag_schema()), "{e}");
        // A registry that answers the tag with the subject itself: a fresh list.
        let itself = manifest(media_type::OCI_INDEX, r#"{"schemaVersion":2,"manifests":[]}"#);
        assert_eq!(add_referrer(&subject, Some(&itself), &a).unwrap().unwrap().view().manifests.len(), 1);
    }
}
