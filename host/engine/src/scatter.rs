//! The artifacts of a gather index, for scatter and unarchive (spec §1.4): every entry of
//! `manifests` and of the `vnd.act3-ace.data.extra-manifests` annotation (ace-dt's copy
//! ignored the latter, §13 item 18), narrowed by `--subset` and `-l`.
//!
//! ace-dt also required the index's `layer.size.deduplicated` annotation (§13 item 17); it is
//! not needed to scatter, so any index will do.

use std::collections::HashSet;
use std::path::Path;

use ferry_oci::{Descriptor, ImageRef, media_type};
use ferry_registry::Client;

use crate::components::{Policy, Rule, SourcesParser, read_sources};
use crate::error::Error;
use crate::events::Events;
use crate::place::Artifact;
use crate::route::{RouteOptions, Routed, route_and_place};
use crate::selector::{Selector, any_matches, selector_text};
use crate::store::{Access, Store, open_store};

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

/// The references a `--subset` sources file lists; an empty list is refused (it would
/// scatter nothing, silently).
pub fn read_subset(parser: &dyn SourcesParser, path: &Path) -> Result<HashSet<String>, Error> {
    let entries = read_sources(parser, path)?;
    if entries.is_empty() {
        return Err(Error::EmptySubset(path.to_owned()));
    }
    Ok(entries.into_iter().map(|e| e.reference).collect())
}

/// Which artifacts a rule routes, and how they are placed; shared by scatter and unarchive.
pub struct Routing<'a> {
    /// The rule.
    pub rule: &'a dyn Rule,
    /// The site's policy component, if any.
    pub policy: Option<&'a dyn Policy>,
    /// Only the artifacts whose source is listed here.
    pub subset: Option<&'a HashSet<String>>,
    /// The `--subset` file, for messages.
    pub subset_file: Option<&'a Path>,
    /// Only the artifacts whose labels pass one of these (all when empty).
    pub selectors: &'a [Selector],
    /// How to place them.
    pub options: RouteOptions,
}

/// `scatter`: each artifact of the gather index `image` to the destinations the rule gives it.
pub async fn scatter(client: &Client, image: &ImageRef, routing: Routing<'_>, events: Events) -> Result<Routed, Error> {
    let store = open_store(client, image, Access::Read)?;
    let root = store
        .resolve(&image.reference_or_default())
        .await
        .map_err(|e| Error::Resolve { reference: image.to_string(), source: Box::new(e) })?;
    scatter_root(client, store, &root, routing, events).await
}

/// The artifacts of the index `root` in `store`, narrowed and routed (scatter and unarchive).
pub(crate) async fn scatter_root(
    client: &Client,
    store: Box<dyn Store>,
    root: &Descriptor,
    routing: Routing<'_>,
    events: Events,
) -> Result<Routed, Error> {
    let found = artifacts(store.as_ref(), root, 0).await?;
    let listed = found.len();
    let chosen = narrow(found, routing.subset, routing.selectors);
    if chosen.is_empty() && listed > 0 && !routing.options.allow_empty {
        let mut by = Vec::new();
        if let Some(path) = routing.subset_file {
            by.push(format!("--subset {}", path.display()));
        }
        if !routing.selectors.is_empty() {
            by.push(format!("-l {}", selector_text(routing.selectors)));
        }
        return Err(Error::NothingSelected(by.join(" with ")));
    }
    route_and_place(client, routing.rule, routing.policy, &[store], chosen, routing.options, events).await
}
