//! `diff` (spec §1.10): what a gather index holds that earlier deliveries did not.
//!
//! This module owns the listing: the check that the root is a gather index, the digests
//! existing images already carried, the candidates (extra manifests, then manifests), their
//! expansion and the sorted, de-duplicated rows. Rendering the rows is the CLI's job.
//!
//! ace-dt's bugs fixed (§13 item 23): every row is sorted (ace-dt left the first one in
//! place), by reference then digest, so `--expand` is deterministic too. Beyond ace-dt, a
//! nested gather index found in an existing image counts as delivered along with its images,
//! and an expanded gather index is never listed itself, even when all its images were
//! filtered out.

use std::collections::HashSet;

use ferry_oci::{Descriptor, Digest, ImageRef, Manifest, annotations, media_type};
use ferry_registry::Client;

use crate::error::Error;
use crate::store::{Access, Store, open_store};

/// `diff`: the rows of the gather index `artifact` that no `existing` image carried; with
/// `expand`, the images of nested gather indexes instead of the indexes.
pub async fn diff(client: &Client, artifact: &ImageRef, existing: &[ImageRef], expand: bool) -> Result<Vec<Row>, Error> {
    let resolve = async |image: &ImageRef| {
        let store = open_store(client, image, Access::Read)?;
        let root = store
            .resolve(&image.reference_or_default())
            .await
            .map_err(|e| Error::Resolve { reference: image.to_string(), source: Box::new(e) })?;
        Ok::<_, Error>((store, root))
    };
    let (store, root) = resolve(artifact).await?;
    let index = mirror_artifact(store.as_ref(), &root, &artifact.to_string()).await?;
    let mut filtered = HashSet::new();
    for image in existing {
        let (s, d) = resolve(image).await?;
        let carried = delivered(s.as_ref(), &d).await.map_err(|e| Error::Existing { image: image.to_string(), source: Box::new(e) })?;
        filtered.extend(carried);
    }
    list(store.as_ref(), &index, &filtered, expand).await
}

/// One artifact of the listing.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Row {
    /// The `vnd.act3-ace.manifest.source` annotation (empty if the entry has none).
    pub reference: String,
    /// The entry's digest.
    pub digest: Digest,
}

impl Row {
    fn of(d: &Descriptor) -> Row {
        Row { reference: d.annotations.get(annotations::SOURCE).cloned().unwrap_or_default(), digest: d.digest.clone() }
    }
}

/// Fetches `root` (named `name` in messages); it must be a gather index.
pub async fn mirror_artifact(store: &dyn Store, root: &Descriptor, name: &str) -> Result<Manifest, Error> {
    let not = |found: String| Error::NotAMirrorArtifact { reference: name.to_owned(), found };
    if !media_type::is_index(&root.media_type) {
        return Err(not(format!("its media type is {}", root.media_type)));
    }
    let index = store.fetch_manifest(root).await?;
    if is_gather(&index) {
        return Ok(index);
    }
    Err(not(match &index.view().artifact_type {
        Some(t) => format!("it is an index of artifactType {t}"),
        None => "it is an index without an artifactType".to_owned(),
    }))
}

/// The digests an existing image `root` delivered, as far as a listing is concerned: its
/// own, and for a gather index, every image and nested gather index it contains.
pub async fn delivered(store: &dyn Store, root: &Descriptor) -> Result<HashSet<Digest>, Error> {
    let mut out = HashSet::from([root.digest.clone()]);
    if let Some(index) = as_gather(store, root).await? {
        let inside = contents(store, &index).await?;
        out.extend(inside.nested);
        out.extend(inside.images.into_iter().map(|d| d.digest));
    }
    Ok(out)
}

/// The rows of the gather index `root` (in `store`) whose digests are not `filtered`, each
/// digest once, sorted by reference then digest. With `expand`, a nested gather index is
/// replaced by the images it contains.
pub async fn list(store: &dyn Store, root: &Manifest, filtered: &HashSet<Digest>, expand: bool) -> Result<Vec<Row>, Error> {
    let mut candidates = Vec::new();
    for d in entries(root)? {
        let nested = if expand && !filtered.contains(&d.digest) { as_gather(store, &d).await? } else { None };
        let expanded = match nested {
            Some(index) => Some(contents(store, &index).await?.images),
            None => None,
        };
        candidates.push(Candidate { entry: d, expanded });
    }
    Ok(rows(candidates, filtered))
}

/// A gather index's entry, as the listing sees it.
#[derive(Debug)]
struct Candidate {
    entry: Descriptor,
    /// For an expanded gather index, its images: listed instead of the entry.
    expanded: Option<Vec<Descriptor>>,
}

/// Filters, de-duplicates (the first candidate of a digest wins) and sorts.
fn rows(candidates: Vec<Candidate>, filtered: &HashSet<Digest>) -> Vec<Row> {
    let mut seen = filtered.clone();
    let mut out = Vec::new();
    for c in candidates {
        if !seen.insert(c.entry.digest.clone()) {
            continue;
        }
        match c.expanded {
            None => out.push(Row::of(&c.entry)),
            Some(images) => out.extend(images.iter().filter(|d| seen.insert(d.digest.clone())).map(Row::of)),
        }
    }
    out.sort();
    out
}

fn is_gather(index: &Manifest) -> bool {
    index.view().artifact_type.as_deref() == Some(media_type::GATHER_ARTIFACT_TYPE)
}

/// Fetches `desc` if it is an index, and returns it if it is a gather index.
async fn as_gather(store: &dyn Store, desc: &Descriptor) -> Result<Option<Manifest>, Error> {
    if !media_type::is_index(&desc.media_type) {
        return Ok(None);
    }
    let index = store.fetch_manifest(desc).await?;
    Ok(is_gather(&index).then_some(index))
}

/// A gather index's entries: the extra manifests, then `manifests`.
fn entries(index: &Manifest) -> Result<Vec<Descriptor>, Error> {
    let extra = index
        .extra_manifests()
        .map_err(|source| Error::Manifest { what: format!("gather index {}", index.descriptor().digest), source })?;
    Ok(extra.into_iter().chain(index.view().manifests.iter().cloned()).collect())
}

/// What a gather index contains, nested gather indexes opened recursively.
#[derive(Default)]
struct Contents {
    /// Entries that are not gather indexes, depth first in entry order.
    images: Vec<Descriptor>,
    /// Digests of the nested gather indexes.
    nested: Vec<Digest>,
}

async fn contents(store: &dyn Store, index: &Manifest) -> Result<Contents, Error> {
    let mut out = Contents::default();
    let mut opened = HashSet::new();
    // A stack, reversed so that entries come off it in order.
    let mut stack: Vec<Descriptor> = entries(index)?.into_iter().rev().collect();
    while let Some(d) = stack.pop() {
        match as_gather(store, &d).await? {
            Some(nested) => {
                if opened.insert(d.digest.clone()) {
                    stack.extend(entries(&nested)?.into_iter().rev());
                    out.nested.push(d.digest);
                }
            }
            None => out.images.push(d),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    fn desc(source: &str, n: u8) -> Descriptor {
        let mut d = Descriptor::of_bytes(media_type::OCI_MANIFEST, &[n]);
        if !source.is_empty() {
            d.annotations.insert(annotations::SOURCE.to_owned(), source.to_owned());
        }
        d
    }

    fn entry(d: &Descriptor) -> Candidate {
        Candidate { entry: d.clone(), expanded: None }
    }

    fn listed(rows: &[Row]) -> Vec<(&str, Digest)> {
        rows.iter().map(|r| (r.reference.as_str(), r.digest.clone())).collect()
    }

    #[test]
    fn every_row_sorted_by_reference_then_digest() {
        let (a, b1, b2, c) = (desc("r/a", 1), desc("r/b", 2), desc("r/b", 3), desc("r/c", 4));
        let (lo, hi) = if b1.digest < b2.digest { (&b1, &b2) } else { (&b2, &b1) };
        let candidates = [&c, hi, &a, lo].into_iter().map(entry).collect();
        let out = rows(candidates, &HashSet::new());
        assert_eq!(listed(&out), vec![("r/a", a.digest), ("r/b", lo.digest.clone()), ("r/b", hi.digest.clone()), ("r/c", c.digest)]);
    }

    #[test]
    fn filtered_and_repeated_digests_are_left_out() {
        let (a, b, c) = (desc("r/a", 1), desc("r/b", 2), desc("r/c", 3));
        let again = desc("r/z-same-digest-as-c", 3);
        let candidates = [&c, &a, &again, &b].into_iter().map(entry).collect();
        let out = rows(candidates, &HashSet::from([a.digest.clone()]));
        assert_eq!(listed(&out), vec![("r/b", b.digest), ("r/c", c.digest)], "the first candidate of a digest wins");
    }

    #[test]
    fn expanded_gather_lists_its_new_images_only() {
        let (a, b, c, d) = (desc("r/a", 1), desc("r/b", 2), desc("r/c", 3), desc("", 4));
        let gather = |n: u8, images: Vec<Descriptor>| Candidate { entry: desc("", n), expanded: Some(images) };
        let candidates = vec![
            entry(&b),
            gather(10, vec![a.clone(), b.clone(), c.clone()]),
            // Every image filtered or listed already: the gather index itself is not listed.
            gather(11, vec![a.clone(), c.clone()]),
            // Filtered: not expanded.
            gather(12, vec![d.clone()]),
        ];
        let filtered = HashSet::from([c.digest.clone(), desc("", 12).digest]);
        assert_eq!(listed(&rows(candidates, &filtered)), vec![("r/a", a.digest), ("r/b", b.digest)]);
    }
}
