//! The artifacts of a sources list, for clone (spec §1.5): each source resolved in its own
//! repository and described as gather would describe it (source, ref name, labels), so a
//! rule routes a clone exactly as it routes a scatter of the same sources.
//!
//! With platforms, each selected manifest of an index is an artifact of its own (carrying
//! its platform and the index it came from); [`crate::place::plan`] gives each platform its
//! own destination, or one new index when a rule sends several to the same reference.

use std::path::Path;

use ferry_oci::{ImageRef, Platform};
use ferry_registry::Client;
use futures_util::StreamExt;

use crate::components::{Policy, Rule};
use crate::error::Error;
use crate::events::{Event, Events, Stage};
use crate::gather::{entry_descriptor, select_platforms};
use crate::place::Artifact;
use crate::route::{RouteOptions, Routed, route_and_place};
use crate::selector::{Selector, any_matches, selector_text};
use crate::sources::SourceEntry;
use crate::store::{Access, Store, open_store};

/// Sources resolved: their stores (an artifact's `store` indexes this), their artifacts in
/// sources-list order, and, when going on past failures, the sources that failed.
pub struct Resolved {
    /// One store per source that resolved.
    pub stores: Vec<Box<dyn Store>>,
    /// What the rule will route.
    pub artifacts: Vec<Artifact>,
    /// `(reference, error)` of each source that could not be resolved.
    pub failures: Vec<(String, Error)>,
}

/// Resolves every source (`concurrency` at a time). Every reference is checked before any is
/// resolved; with `keep_going` a source that fails is recorded and the rest go on.
pub async fn resolve(
    client: &Client,
    sources_file: &Path,
    sources: &[SourceEntry],
    platforms: &[Platform],
    options: &RouteOptions,
    events: Events,
) -> Result<Resolved, Error> {
    let keep_going = options.place.keep_going;
    let parsed = crate::sources::parse_references(sources_file, sources)?;
    let concurrency = client.config().concurrent_http();
    let results: Vec<_> = futures_util::stream::iter(parsed.into_iter().map(|(entry, reference)| {
        let events = events.clone();
        async move {
            events(&Event::SourceStarted { reference: entry.reference.clone() });
            let result = resolve_one(client, entry, &reference, platforms, options.allow_empty).await;
            match &result {
                Ok((_, descriptors)) => {
                    if let Some(d) = descriptors.first() {
                        events(&Event::SourceDone { reference: entry.reference.clone(), digest: d.digest.clone() });
                    }
                }
                Err(e) => events(&Event::SourceFailed { reference: entry.reference.clone(), reason: ferry_oci::with_causes(e) }),
            }
            (entry, result)
        }
    }))
    .buffered(concurrency)
    .collect()
    .await;
    let mut resolved = Resolved { stores: Vec::new(), artifacts: Vec::new(), failures: Vec::new() };
    for (entry, result) in results {
        match result {
            Ok((store, descriptors)) => {
                let id = resolved.stores.len();
                resolved.stores.push(store);
                resolved.artifacts.extend(descriptors.into_iter().map(|descriptor| Artifact { descriptor, store: id }));
            }
            Err(e) => {
                let e = Error::Source { reference: entry.reference.clone(), line: entry.line, source: Box::new(e) };
                if !keep_going {
                    return Err(e);
                }
                resolved.failures.push((entry.reference.clone(), e));
            }
        }
    }
    Ok(resolved)
}

async fn resolve_one(
    client: &Client,
    entry: &SourceEntry,
    reference: &ImageRef,
    platforms: &[Platform],
    allow_empty: bool,
) -> Result<(Box<dyn Store>, Vec<ferry_oci::Descriptor>), Error> {
    let store = open_store(client, reference, Access::Read)?;
    let root = store.resolve(&reference.reference_or_default()).await?;
    let selected = if platforms.is_empty() {
        vec![(root, None)]
    } else {
        select_platforms(store.as_ref(), &entry.reference, &root, platforms, allow_empty).await?
    };
    let descriptors = selected.into_iter().map(|(d, raw)| entry_descriptor(d, entry, raw)).collect();
    Ok((store, descriptors))
}

/// What a clone did.
#[derive(Debug)]
pub struct CloneOutcome {
    /// Sources the selectors kept.
    pub sources: usize,
    /// The sources that could not be resolved (with `keep_going`).
    pub unresolved: Vec<(String, Error)>,
    /// What routing the rest did; an error here still leaves `unresolved` to report.
    pub routed: Result<Routed, Error>,
}

/// A clone as the command asks for it.
pub struct CloneRequest<'a> {
    /// The sources list, for messages.
    pub sources_file: &'a Path,
    /// Its entries.
    pub sources: Vec<SourceEntry>,
    /// Only these platforms of each index (all when empty).
    pub platforms: &'a [Platform],
    /// Only the sources whose labels pass one of these (all when empty).
    pub selectors: &'a [Selector],
    /// The rule.
    pub rule: &'a dyn Rule,
    /// The site's policy component, if any.
    pub policy: Option<&'a dyn Policy>,
    /// How to place; with `place.keep_going`, sources that fail to resolve are listed and the
    /// rest go on.
    pub options: RouteOptions,
}

/// `clone`: each source of a sources list straight from its registry to the destinations the
/// rule gives it.
pub async fn clone(client: &Client, request: CloneRequest<'_>, events: Events) -> Result<CloneOutcome, Error> {
    let CloneRequest { sources_file, mut sources, platforms, selectors, rule, policy, options } = request;
    let listed = sources.len();
    sources.retain(|s| any_matches(selectors, &s.labels));
    if sources.is_empty() && listed > 0 && !options.allow_empty {
        return Err(Error::NothingSelected(format!("-l {}", selector_text(selectors))));
    }
    events(&Event::Stage(Stage::Resolving { sources: sources.len() }));
    let resolved = resolve(client, sources_file, &sources, platforms, &options, events.clone()).await?;
    let routed = route_and_place(client, rule, policy, &resolved.stores, resolved.artifacts, options, events).await;
    Ok(CloneOutcome { sources: sources.len(), unresolved: resolved.failures, routed })
}
