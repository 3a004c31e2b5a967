//! The artifacts of a gather index, for scatter and unarchive (spec §1.4): every entry of
//! `manifests` and of the `vnd.act3-ace.data.extra-manifests` annotation (ace-dt's copy
//! ignored the latter, §13 item 18), narrowed by `--subset` and `-l`.
//!
//! ace-dt also required the index's `layer.size.deduplicated` annotation (§13 item 17); it is
//! not needed to scatter, so any index will do.

use std::collections::HashSet;

use ferry_oci::{Descriptor, media_type};

use crate::error::Error;
use crate::place::Artifact;
use crate::selector::{Selector, any_matches};
use crate::store::Store;

/// The entries of the index `root` in `store` (source store number `store_id`), in index
/// order, extra manifests last.
pub async fn artifacts(store: &dyn Store, root: &Descriptor, store_id: usize) -> Result<Vec<Artifact>, Error> {
    if !media_type::is_index(&root.media_type) {
        return Err(Error::NotAnIndex { what: format!("{} in {}", root.digest, store.name()), media_type: root.media_type.clone() });
    }
    let index = store.fetch_manifest(root).await?;
    let extra =
        index.extra_manifests().map_err(|source| Error::Manifest { what: format!("{} in {}", root.digest, store.name()), source })?;
    Ok(index.view().manifests.iter().chain(&extra).map(|d| Artifact { descriptor: d.clone(), store: store_id }).collect())
}

/// Keeps the artifacts whose source is in `subset` (when given) and whose labels pass the
/// selectors.
pub fn narrow(artifacts: Vec<Artifact>, subset: Option<&HashSet<String>>, selectors: &[Selector]) -> Vec<Artifact> {
    artifacts
        .into_iter()
        .filter(|a| subset.is_none_or(|s| s.contains(a.source())))
        .filter(|a| any_matches(selectors, &a.labels()))
        .collect()
}
