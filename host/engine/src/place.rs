//! Putting mapped artifacts at their destinations: the last step of scatter, clone and
//! unarchive.
//!
//! [`plan`] checks every destination a rule gave before anything is copied: an empty or
//! invalid reference, a digest that is not the artifact's, or two different artifacts sent
//! to one reference are errors that name the rule's input. A destination must parse as a
//! reference exactly as the rule wrote it, and an `oci:` destination must lie in a layout
//! directory the operator named ([`LayoutRoots`]). Platform manifests selected from
//! one index and sent to one reference become a new index of just those platforms (ace-dt
//! tagged each in turn, and the last won). [`place`] then copies each placement's graph and
//! tags it once the graph is complete, so no tag points at partial content; within one
//! repository placements go one after another, manifests before indexes.

use std::collections::{BTreeMap, HashMap};

use ferry_oci::{Descriptor, ImageRef, Index, Manifest, annotations, gojson, media_type};
use ferry_registry::Client;
use futures_util::StreamExt;

use crate::confine::LayoutRoots;
use crate::copy::{Copier, CopyState, CopyStats};
use crate::error::Error;
use crate::events::{Event, Events};
use crate::store::{Access, Store, open_store};

/// An artifact a rule routes: the descriptor as the rule sees it (with the annotations gather
/// gives an entry) and which of the command's source stores holds it.
#[derive(Clone, Debug)]
pub struct Artifact {
    /// The descriptor, annotations included.
    pub descriptor: Descriptor,
    /// Index into the command's source stores.
    pub store: usize,
}

impl Artifact {
    /// The `vnd.act3-ace.manifest.source` annotation (empty when missing).
    pub fn source(&self) -> &str {
        self.descriptor.annotations.get(annotations::SOURCE).map_or("", String::as_str)
    }

    /// The sources-list labels (the `data.act3-ace.io/labels` annotation).
    pub fn labels(&self) -> BTreeMap<String, String> {
        self.descriptor.annotations.get(annotations::LABELS).and_then(|j| serde_json::from_str(j).ok()).unwrap_or_default()
    }

    /// How messages name it: its source and digest.
    pub fn name(&self) -> String {
        match self.source() {
            "" => self.descriptor.digest.to_string(),
            s => format!("{s} ({})", self.descriptor.digest),
        }
    }
}

/// Why a rule's answer cannot be used; each names the artifacts concerned.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MappingProblem {
    /// An empty destination.
    #[error("{artifact}: the rule gave an empty destination")]
    Empty {
        /// The artifact.
        artifact: String,
    },
    /// A destination that is not a reference.
    #[error("{artifact}: the rule gave an invalid destination")]
    Invalid {
        /// The artifact.
        artifact: String,
        /// Why it is not one.
        #[source]
        source: ferry_oci::ReferenceError,
    },
    /// A destination that parses as another reference than written.
    #[error(
        "{artifact}: the rule gave the destination {}, which reads as {}: a destination must be a reference exactly as written",
        ferry_oci::quoted(text.as_bytes()),
        ferry_oci::quoted(reads_as.as_bytes())
    )]
    NotExact {
        /// The artifact.
        artifact: String,
        /// The destination as written.
        text: String,
        /// How it reads.
        reads_as: String,
    },
    /// An `oci:` destination outside the layouts the operator named.
    #[error(
        "{artifact}: the rule gave the OCI layout destination {}, which is not in a layout directory named by the mapping argument or file",
        ferry_oci::quoted(text.as_bytes())
    )]
    OutsideLayouts {
        /// The artifact.
        artifact: String,
        /// The destination as written.
        text: String,
    },
    /// Different artifacts sent to one reference.
    #[error("{destination} is the destination of more than one artifact: {from}")]
    Shared {
        /// The destination.
        destination: String,
        /// The artifacts.
        from: String,
    },
    /// A destination pinned at another digest than the content's.
    #[error("{from}: the destination {destination} pins {pins}, but {what} is {is}")]
    Pinned {
        /// The artifacts.
        from: String,
        /// The destination.
        destination: String,
        /// The digest it pins.
        pins: ferry_oci::Digest,
        /// What the content is (`it`, or a new index of selected platforms).
        what: &'static str,
        /// The content's digest.
        is: ferry_oci::Digest,
    },
}

/// What goes to one destination.
#[derive(Clone, Debug)]
#[expect(clippy::large_enum_variant, reason = "one per destination; boxing would only add indirection")]
pub enum Content {
    /// An artifact's graph, as it is.
    Artifact(Descriptor),
    /// Platform manifests of one index: a new index listing them, and the manifests.
    Selection {
        /// The new index.
        index: Manifest,
        /// Its children.
        children: Vec<Descriptor>,
    },
}

impl Content {
    /// The root's digest and media type.
    pub fn root(&self) -> &Descriptor {
        match self {
            Content::Artifact(d) => d,
            Content::Selection { index, .. } => index.descriptor(),
        }
    }
}

/// One destination and what goes there.
#[derive(Clone, Debug)]
pub struct Placement {
    /// Where.
    pub destination: ImageRef,
    /// What.
    pub content: Content,
    /// Index into the command's source stores.
    pub store: usize,
    /// The artifacts it came from, for messages.
    pub from: String,
}

/// Turns each artifact's destinations (from `rule`, for messages) into placements, in the
/// order the artifacts and their destinations came. An `oci:` destination must lie in one of
/// `roots`.
pub fn plan(rule: &str, routed: &[(Artifact, Vec<String>)], roots: &LayoutRoots) -> Result<Vec<Placement>, Error> {
    let mapping = |problem: MappingProblem| Error::Mapping { rule: rule.to_owned(), problem: Box::new(problem) };
    // Destinations in first-seen order, each with the artifacts sent there.
    let mut order: Vec<(ImageRef, Vec<&Artifact>)> = Vec::new();
    let mut slot: HashMap<String, usize> = HashMap::new();
    for (artifact, destinations) in routed {
        for text in destinations {
            if text.trim().is_empty() {
                return Err(mapping(MappingProblem::Empty { artifact: artifact.name() }));
            }
            let destination: ImageRef =
                text.parse().map_err(|source| mapping(MappingProblem::Invalid { artifact: artifact.name(), source }))?;
            let rendered = destination.to_string();
            if rendered != *text {
                return Err(mapping(MappingProblem::NotExact { artifact: artifact.name(), text: text.clone(), reads_as: rendered }));
            }
            if let ImageRef::Layout(l) = &destination
                && !roots.allows(&l.path)
            {
                return Err(mapping(MappingProblem::OutsideLayouts { artifact: artifact.name(), text: text.clone() }));
            }
            let i = *slot.entry(destination.to_string()).or_insert_with(|| {
                order.push((destination, Vec::new()));
                order.len() - 1
            });
            let group = &mut order[i].1;
            if !group.iter().any(|a| a.descriptor.digest == artifact.descriptor.digest) {
                group.push(artifact);
            }
        }
    }
    order.into_iter().map(|(destination, group)| placement(rule, destination, &group)).collect()
}

fn placement(rule: &str, destination: ImageRef, group: &[&Artifact]) -> Result<Placement, Error> {
    let first = group[0];
    let from = group.iter().map(|a| a.name()).collect::<Vec<_>>().join(", ");
    let content = if group.len() == 1 {
        Content::Artifact(first.descriptor.clone())
    } else {
        let one_index = group.iter().all(|a| a.descriptor.platform.is_some() && a.source() == first.source() && a.store == first.store);
        if !one_index {
            let problem = MappingProblem::Shared { destination: destination.to_string(), from };
            return Err(Error::Mapping { rule: rule.to_owned(), problem: Box::new(problem) });
        }
        selection(group)?
    };
    if let Some(digest) = destination.digest().filter(|d| **d != content.root().digest) {
        let what = match &content {
            Content::Artifact(_) => "it",
            Content::Selection { .. } => "the platforms selected from it form a new index, which",
        };
        let problem = MappingProblem::Pinned {
            from,
            destination: destination.to_string(),
            pins: digest.clone(),
            what,
            is: content.root().digest.clone(),
        };
        return Err(Error::Mapping { rule: rule.to_owned(), problem: Box::new(problem) });
    }
    Ok(Placement { destination, content, store: first.store, from })
}

/// A new index of the platform manifests in `group`, described as their source index
/// described them.
fn selection(group: &[&Artifact]) -> Result<Content, Error> {
    let source_index: Option<Index> =
        group[0].descriptor.annotations.get(annotations::SOURCE_INDEX).and_then(|raw| serde_json::from_str(raw).ok());
    let children: Vec<Descriptor> = group
        .iter()
        .map(|a| {
            let original = source_index.as_ref().and_then(|i| i.manifests.iter().find(|c| c.digest == a.descriptor.digest));
            original.cloned().unwrap_or_else(|| {
                let mut d = a.descriptor.clone();
                d.annotations.retain(|k, _| !ferry_annotation(k));
                d
            })
        })
        .collect();
    let mut index = Index::new();
    if let Some(source) = &source_index {
        index.media_type = if source.media_type.is_empty() { media_type::OCI_INDEX.to_owned() } else { source.media_type.clone() };
    }
    index.manifests = children.clone();
    let bytes = gojson::to_vec(&index);
    let desc = Descriptor::of_bytes(index.media_type.clone(), &bytes);
    let manifest =
        Manifest::from_bytes(desc, bytes).map_err(|source| Error::Manifest { what: "platform selection index".to_owned(), source })?;
    Ok(Content::Selection { index: manifest, children })
}

/// Annotations gather puts on an entry, which are not the image's own.
fn ferry_annotation(key: &str) -> bool {
    [annotations::SOURCE, annotations::REF_NAME, annotations::LABELS, annotations::SOURCE_INDEX].contains(&key)
}

/// How to place.
#[derive(Clone, Copy, Debug, Default)]
pub struct PlaceOptions {
    /// Also copy referrers.
    pub recursive: bool,
    /// Go on past a failed placement; failures are returned, not raised.
    pub keep_going: bool,
}

/// What placing did.
#[derive(Debug, Default)]
pub struct PlaceOutcome {
    /// Placements completed and tagged.
    pub placed: usize,
    /// Each placement completed: where, pinned to what was placed there.
    pub destinations: Vec<ImageRef>,
    /// What the copies did, over every destination.
    pub stats: CopyStats,
    /// With `keep_going`: each failed placement and why.
    pub failures: Vec<(Placement, Error)>,
}

/// A destination repository and the copy state of everything sent to it.
struct Destination {
    store: Box<dyn Store>,
    state: CopyState,
}

/// Copies and tags every placement. Placements in different repositories go
/// `concurrency` at a time (blob transfers are bounded per destination by the same number);
/// within one repository they go one after another, manifests before indexes.
///
/// distribution 2.8 rewrites a manifest's link file in place when the same manifest is PUT
/// again, so an index PUT that checks its children at that moment finds an empty link and is
/// refused (400 MANIFEST_BLOB_UNKNOWN). Re-tagging a child while its parent index is being
/// PUT in the same repository is therefore never done: one repository's placements never
/// overlap, and a child tagged on its own is placed before the index that lists it.
pub async fn place(
    client: &Client,
    sources: &[Box<dyn Store>],
    placements: Vec<Placement>,
    options: PlaceOptions,
    events: Events,
) -> Result<PlaceOutcome, Error> {
    let concurrency = client.config().concurrent_http();
    let mut destinations: HashMap<String, Destination> = HashMap::new();
    // Each repository's placements, repositories in first-seen order.
    let mut groups: Vec<Vec<Placement>> = Vec::new();
    let mut group_of: HashMap<String, usize> = HashMap::new();
    for p in placements {
        let key = repository_key(&p.destination);
        if let std::collections::hash_map::Entry::Vacant(slot) = destinations.entry(key.clone()) {
            let store = open_store(client, &p.destination, Access::Create)?;
            slot.insert(Destination { store, state: CopyState::new(concurrency, events.clone()) });
        }
        let i = *group_of.entry(key).or_insert_with(|| {
            groups.push(Vec::new());
            groups.len() - 1
        });
        groups[i].push(p);
    }
    for group in &mut groups {
        // Stable: manifests first, then indexes, each in the plan's order.
        group.sort_by_key(|p| media_type::is_index(&p.content.root().media_type));
    }
    let destinations = &destinations;
    let mut results = futures_util::stream::iter(groups.into_iter().map(|group| {
        let events = events.clone();
        async move {
            let mut done = Vec::with_capacity(group.len());
            for p in group {
                let d = &destinations[&repository_key(&p.destination)];
                let result = place_one(sources[p.store].as_ref(), d, &p, options.recursive).await;
                let failed = result.is_err();
                let (from, destination) = (p.from.clone(), p.destination.to_string());
                match &result {
                    Ok(()) => events(&Event::Placed { from, destination, digest: p.content.root().digest.clone() }),
                    Err(e) => events(&Event::PlaceFailed { from, destination, reason: ferry_oci::with_causes(e) }),
                }
                done.push((p, result));
                if failed && !options.keep_going {
                    break;
                }
            }
            done
        }
    }))
    .buffer_unordered(concurrency);
    let mut outcome = PlaceOutcome::default();
    while let Some(done) = results.next().await {
        for (p, result) in done {
            match result {
                Ok(()) => {
                    outcome.placed += 1;
                    outcome.destinations.push(p.destination.with_digest(&p.content.root().digest));
                }
                Err(e) if options.keep_going => outcome.failures.push((p, e)),
                Err(e) => return Err(Error::Placement { destination: p.destination.to_string(), from: p.from, source: Box::new(e) }),
            }
        }
    }
    drop(results);
    for d in destinations.values() {
        outcome.stats.add(&d.state.stats());
    }
    Ok(outcome)
}

/// Where copy state is shared: one registry repository or one layout directory.
fn repository_key(r: &ImageRef) -> String {
    match r {
        ImageRef::Registry(r) => r.repository_name(),
        ImageRef::Layout(l) => format!("oci:{}", l.path.display()),
    }
}

async fn place_one(src: &dyn Store, dst: &Destination, p: &Placement, recursive: bool) -> Result<(), Error> {
    let copier = Copier { src, dst: dst.store.as_ref(), state: &dst.state, recursive };
    let root = match &p.content {
        Content::Artifact(desc) => {
            copier.copy(desc).await?;
            match dst.state.manifest(&desc.digest) {
                Some(m) => m,
                None => src.fetch_manifest(desc).await?,
            }
        }
        Content::Selection { index, children } => {
            for child in children {
                copier.copy(child).await?;
            }
            index.clone()
        }
    };
    // The tag is the last write. A digest destination was stored by digest in the copy
    // (a selection's index is pushed here).
    let tag = p.destination.digest().is_none().then(|| p.destination.reference_or_default());
    if tag.is_some() || matches!(p.content, Content::Selection { .. }) {
        dst.store.push_manifest_placed(&root, tag.as_deref()).await?;
    }
    Ok(())
}
