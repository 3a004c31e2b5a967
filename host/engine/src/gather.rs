//! `gather` (spec §5): copy every source into one repository and point a tag at a gather
//! index listing them.
//!
//! Fixed against ace-dt (§13 items 19, 20, 25): an empty gather writes `"manifests": []`;
//! entries are stably sorted by source (ties keep their source-index order); a platform-less
//! index child simply does not match a platform; Docker schema2 images are filtered by their
//! config's platform like OCI images; copy errors of selected children are never swallowed;
//! duplicate source lines are merged.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use ferry_oci::{Descriptor, Digest, ImageRef, Index, Manifest, Platform, annotations, gojson, media_type};
use ferry_registry::Client;
use futures_util::{StreamExt, TryStreamExt};

use crate::components::Policy;
use crate::copy::{Copier, CopyState, CopyStats};
use crate::error::Error;
use crate::events::{Event, Events, Stage};
use crate::place::Artifact;
use crate::sources::SourceEntry;
use crate::store::{Access, Store, open_store};
use crate::trust::{Admission, decide};

/// Value of `vnd.act3-ace.data.version` on what ferry writes.
pub const TOOL_VERSION: &str = concat!("ferry-v", env!("CARGO_PKG_VERSION"));

/// How to gather.
#[derive(Clone, Debug, Default)]
pub struct GatherOptions {
    /// Keep only these platforms (empty: everything).
    pub platforms: Vec<Platform>,
    /// Extra annotations on the gather index.
    pub annotations: BTreeMap<String, String>,
    /// Move index children into `vnd.act3-ace.data.extra-manifests`.
    pub index_fallback: bool,
    /// Also copy referrers.
    pub recursive: bool,
    /// A source of which the platform filter keeps nothing is left out (with a warning)
    /// instead of failing the run.
    pub allow_empty: bool,
    /// The image policy's keys, for the signature checks a policy component sees (and, when
    /// required, nothing unsigned is gathered).
    pub images: Option<std::sync::Arc<crate::trust::ImageTrust>>,
}

/// What a gather produced.
#[derive(Clone, Debug)]
pub struct GatherOutcome {
    /// The gather index.
    pub index: Descriptor,
    /// Where it was tagged (`registry/repo:tag` or `oci:path:tag`).
    pub reference: String,
    /// Entries in the index (including extra manifests).
    pub entries: usize,
    /// `vnd.act3-ace.data.layer.size.total`.
    pub total_bytes: u64,
    /// `vnd.act3-ace.data.layer.size.deduplicated`.
    pub deduplicated_bytes: u64,
    /// What the copies did.
    pub stats: CopyStats,
}

/// Runs a gather of `sources` (from `sources_file`, for messages) into `dest`. With an image
/// policy or a `policy` component, every source is resolved and decided on first: if any is
/// refused, nothing is copied or tagged.
pub async fn gather(
    client: &Client,
    sources_file: &Path,
    sources: &[SourceEntry],
    dest: &ImageRef,
    options: &GatherOptions,
    policy: Option<&dyn Policy>,
    events: Events,
) -> Result<GatherOutcome, Error> {
    if dest.digest().is_some() {
        return Err(Error::DigestDestination(dest.to_string()));
    }
    let tag = dest.reference_or_default();
    // Every reference is checked before anything is copied.
    let parsed = crate::sources::parse_references(sources_file, sources)?;
    events(&Event::Stage(Stage::Gathering { sources: sources.len() }));
    let dst = open_store(client, dest, Access::Create)?;
    let concurrency = client.config().concurrent_http();
    let state = CopyState::new(concurrency, events.clone());
    let failed = |entry: &SourceEntry, e: Error| {
        events(&Event::SourceFailed { reference: entry.reference.clone(), reason: ferry_oci::with_causes(&e) });
        Error::Source { reference: entry.reference.clone(), line: entry.line, source: Box::new(e) }
    };

    let resolved: Vec<Resolved> = futures_util::stream::iter(parsed.iter().map(|(entry, reference)| {
        let events = events.clone();
        async move {
            events(&Event::SourceStarted { reference: entry.reference.clone() });
            resolve_source(client, entry, reference, options).await.map_err(|e| failed(entry, e))
        }
    }))
    .buffered(concurrency)
    .try_collect()
    .await?;

    let admission = Admission { images: options.images.as_deref(), policy };
    if admission.is_active() {
        admit(&parsed, &resolved, admission, concurrency, &events).await?;
    }

    let per_source: Vec<Vec<Descriptor>> = futures_util::stream::iter(parsed.iter().zip(resolved).map(|((entry, _), resolved)| {
        let (dst, state) = (dst.as_ref(), &state);
        async move { copy_source(entry, resolved, dst, state, options).await.map_err(|e| failed(entry, e)) }
    }))
    .buffered(concurrency)
    .try_collect()
    .await?;

    let entries: Vec<Descriptor> = per_source.into_iter().flatten().collect();
    let (total, dedup) = count_sizes(dst.as_ref(), &state, &entries).await?;

    let mut index = Index::new();
    index.artifact_type = Some(media_type::GATHER_ARTIFACT_TYPE.to_owned());
    index.annotations = options.annotations.clone();
    index.annotations.insert(annotations::VERSION.to_owned(), TOOL_VERSION.to_owned());
    index.annotations.insert(annotations::SIZE_TOTAL.to_owned(), total.to_string());
    index.annotations.insert(annotations::SIZE_DEDUPLICATED.to_owned(), dedup.to_string());
    let count = entries.len();
    if options.index_fallback {
        let (indexes, rest): (Vec<_>, Vec<_>) = entries.into_iter().partition(|d| media_type::is_index(&d.media_type));
        index.manifests = rest;
        if !indexes.is_empty() {
            let json = String::from_utf8(gojson::to_vec(&indexes)).unwrap_or_default();
            index.annotations.insert(annotations::EXTRA_MANIFESTS.to_owned(), json);
        }
    } else {
        index.manifests = entries;
    }
    let bytes = gojson::to_vec(&index);
    let desc = Descriptor::of_bytes(media_type::OCI_INDEX, &bytes);
    let manifest =
        Manifest::from_bytes(desc.clone(), bytes).map_err(|source| Error::Manifest { what: "gather index".to_owned(), source })?;
    // The tag is the last write: nothing points at a gather that did not complete.
    dst.push_manifest(&manifest, Some(&tag)).await?;
    Ok(GatherOutcome {
        index: desc,
        reference: format!("{}:{tag}", dst.name()),
        entries: count,
        total_bytes: total,
        deduplicated_bytes: dedup,
        stats: state.stats(),
    })
}

/// A source resolved: its store, its root and the manifests the platforms select (each with
/// the raw index it came from, for a platform child).
struct Resolved {
    src: Box<dyn Store>,
    root: Descriptor,
    selected: Vec<(Descriptor, Option<String>)>,
}

/// Resolves one source and selects its platforms.
async fn resolve_source(client: &Client, entry: &SourceEntry, reference: &ImageRef, options: &GatherOptions) -> Result<Resolved, Error> {
    let src = open_store(client, reference, Access::Read)?;
    let root = src.resolve(&reference.reference_or_default()).await?;
    let selected = if options.platforms.is_empty() {
        vec![(root.clone(), None)]
    } else {
        select_platforms(src.as_ref(), &entry.reference, &root, &options.platforms, options.allow_empty).await?
    };
    Ok(Resolved { src, root, selected })
}

/// Decides on every selected manifest as the gather index will list it; any refusal fails
/// the gather before a byte is copied.
async fn admit(
    parsed: &[(&SourceEntry, ImageRef)],
    resolved: &[Resolved],
    admission: Admission<'_>,
    concurrency: usize,
    events: &Events,
) -> Result<(), Error> {
    let stores: Vec<&dyn Store> = resolved.iter().map(|r| r.src.as_ref()).collect();
    let artifacts: Vec<Artifact> = parsed
        .iter()
        .zip(resolved)
        .enumerate()
        .flat_map(|(store, ((entry, _), r))| {
            r.selected.iter().map(move |(desc, _)| Artifact { descriptor: entry_descriptor(desc.clone(), entry, None), store })
        })
        .collect();
    let refs: Vec<&Artifact> = artifacts.iter().collect();
    let verdicts = decide(&stores, &refs, admission, concurrency, events).await?;
    let refusals: Vec<(String, String)> = verdicts.iter().filter_map(|v| v.refusal().map(|why| (v.artifact.clone(), why))).collect();
    if refusals.is_empty() { Ok(()) } else { Err(Error::Refused { total: verdicts.len(), refusals }) }
}

/// Copies one resolved source and returns its gather-index entries.
async fn copy_source(
    entry: &SourceEntry,
    resolved: Resolved,
    dst: &dyn Store,
    state: &CopyState,
    options: &GatherOptions,
) -> Result<Vec<Descriptor>, Error> {
    let Resolved { src, root, selected } = resolved;
    for (desc, from_index) in &selected {
        // Children of a filtered index are copied without referrers, as in ace-dt.
        let copier = Copier { src: src.as_ref(), dst, state, recursive: options.recursive && from_index.is_none() };
        copier.copy(desc).await?;
    }
    let out = selected.into_iter().map(|(desc, source_index)| entry_descriptor(desc, entry, source_index)).collect();
    state.emit(Event::SourceDone { reference: entry.reference.clone(), digest: root.digest });
    Ok(out)
}

/// `desc` as a gather-index entry for `entry`: its annotations replaced by the source, the
/// ref name, the labels and (for a platform child) the raw index it was selected from.
pub(crate) fn entry_descriptor(mut desc: Descriptor, entry: &SourceEntry, source_index: Option<String>) -> Descriptor {
    desc.annotations.clear();
    desc.annotations.insert(annotations::SOURCE.to_owned(), entry.reference.clone());
    desc.annotations.insert(annotations::REF_NAME.to_owned(), entry.reference.clone());
    if !entry.labels.is_empty() {
        let labels = String::from_utf8(gojson::to_vec(&entry.labels)).unwrap_or_default();
        desc.annotations.insert(annotations::LABELS.to_owned(), labels);
    }
    if let Some(raw) = source_index {
        desc.annotations.insert(annotations::SOURCE_INDEX.to_owned(), raw);
    }
    desc
}

/// The manifests of `root` that match `platforms` (spec §5.3), each with the raw source
/// index it came from when `root` is an index. Nothing matching is an error naming the
/// platforms the source has, unless `allow_empty` (then a warning).
pub(crate) async fn select_platforms(
    src: &dyn Store,
    source_ref: &str,
    root: &Descriptor,
    platforms: &[Platform],
    allow_empty: bool,
) -> Result<Vec<(Descriptor, Option<String>)>, Error> {
    let wanted = |p: &Platform| platforms.iter().any(|w| w.matches(p));
    let none_match = |available: Vec<String>| {
        let available = if available.is_empty() { "no platforms".to_owned() } else { available.join(", ") };
        let wanted = platforms.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
        let error = Error::NoPlatformMatch { source_ref: source_ref.to_owned(), wanted, available };
        if allow_empty {
            tracing::warn!("{source_ref}: {error}; left out");
            Ok(Vec::new())
        } else {
            Err(error)
        }
    };
    let manifest = src.fetch_manifest(root).await?;
    if media_type::is_index(&root.media_type) {
        let raw = String::from_utf8_lossy(manifest.bytes()).into_owned();
        let children = &manifest.view().manifests;
        let picked: Vec<_> =
            children.iter().filter(|c| c.platform.as_ref().is_some_and(wanted)).map(|c| (c.clone(), Some(raw.clone()))).collect();
        if picked.is_empty() {
            // Attestation manifests (unknown/unknown) are no platform an operator can ask for.
            let platforms = children.iter().filter_map(|c| c.platform.as_ref()).filter(|p| p.os != "unknown");
            return none_match(platforms.map(ToString::to_string).collect());
        }
        return Ok(picked);
    }
    if !media_type::is_image(&root.media_type) {
        return Err(Error::PlatformUnsupported { source_ref: source_ref.to_owned(), media_type: root.media_type.clone() });
    }
    let Some(config) = manifest.view().config.clone() else { return Ok(Vec::new()) };
    if config.media_type != media_type::OCI_CONFIG && config.media_type != media_type::DOCKER_CONFIG {
        // Artifacts (signatures, charts, SBOMs) have no platform: always kept.
        return Ok(vec![(root.clone(), None)]);
    }
    let bytes = src.fetch_blob(&config).await?.collect().await?;
    let platform: Platform = serde_json::from_slice(&bytes)
        .map_err(|source| Error::Config { what: format!("{source_ref} config {}", config.digest), source })?;
    if wanted(&platform) { Ok(vec![(root.clone(), None)]) } else { none_match(vec![platform.to_string()]) }
}

/// `layer.size.total` (every non-manifest blob reachable from every entry, repeats counted)
/// and `layer.size.deduplicated` (each digest once across the whole gather).
///
/// Each manifest is read and summed once, so a graph that names one subgraph many times
/// (which a tree walk would visit exponentially often) costs its distinct manifests only.
async fn count_sizes(dst: &dyn Store, state: &CopyState, entries: &[Descriptor]) -> Result<(u64, u64), Error> {
    // Every distinct manifest and its successors, each read once.
    let mut successors: HashMap<Digest, Vec<Descriptor>> = HashMap::new();
    let mut queue: Vec<(Descriptor, usize)> = entries.iter().filter(|d| d.is_manifest()).map(|d| (d.clone(), 0)).collect();
    while let Some((desc, depth)) = queue.pop() {
        if successors.contains_key(&desc.digest) {
            continue;
        }
        if depth > ferry_oci::MAX_GRAPH_DEPTH {
            return Err(Error::TooDeep { digest: desc.digest.to_string() });
        }
        let manifest = match state.manifest(&desc.digest) {
            Some(m) => m,
            None => dst.fetch_manifest(&desc).await?,
        };
        let children = manifest.successors();
        queue.extend(children.iter().filter(|c| c.is_manifest()).map(|c| (c.clone(), depth + 1)));
        successors.insert(desc.digest.clone(), children);
    }
    let mut seen = HashSet::new();
    let dedup = successors
        .values()
        .flatten()
        .chain(entries)
        .filter(|d| !d.is_manifest() && seen.insert(&d.digest))
        .map(|d| d.size)
        .fold(0u64, u64::saturating_add);
    let mut totals: HashMap<Digest, u64> = HashMap::new();
    let mut total = 0u64;
    for entry in entries {
        let size = if entry.is_manifest() { manifest_total(&entry.digest, &successors, &mut totals) } else { entry.size };
        total = total.saturating_add(size);
    }
    Ok((total, dedup))
}

/// The blob bytes under manifest `digest`, repeats counted, from the summed `totals` of its
/// children (children first, without recursion).
fn manifest_total(digest: &Digest, successors: &HashMap<Digest, Vec<Descriptor>>, totals: &mut HashMap<Digest, u64>) -> u64 {
    let mut stack = vec![digest.clone()];
    while let Some(d) = stack.last().cloned() {
        if totals.contains_key(&d) {
            stack.pop();
            continue;
        }
        let children = successors.get(&d).map(Vec::as_slice).unwrap_or_default();
        // One child at a time, so the stack is a path from `digest` and its length a depth.
        let pending = children.iter().find(|c| c.is_manifest() && !totals.contains_key(&c.digest));
        match pending {
            Some(child) if stack.len() <= ferry_oci::MAX_GRAPH_DEPTH + 1 => stack.push(child.digest.clone()),
            // Content addressing rules out cycles; the depth bound keeps a lie from looping.
            _ => {
                let sum = children
                    .iter()
                    .map(|c| if c.is_manifest() { totals.get(&c.digest).copied().unwrap_or(0) } else { c.size })
                    .fold(0u64, u64::saturating_add);
                totals.insert(d, sum);
                stack.pop();
            }
        }
    }
    totals.get(digest).copied().unwrap_or(0)
}
