//! The two workflows that pass through ferry's local cache (an OCI layout): `archive` gathers
//! into it and serializes from it; `unarchive` deserializes into it and scatters from it.
//! The cache is ferry's own store, not a destination: unarchive's `--check` still reads the
//! archive into it, so the scatter step can list every destination (ace-dt dry-ran both
//! steps and then could not read the index, spec §13 item 24).

use std::path::Path;

use ferry_archive::Geometry;
use ferry_oci::{ImageRef, LayoutRef};
use ferry_registry::Client;

use crate::delta::Delta;
use crate::deserialize::{ArchiveSource, DeserializeOptions, DeserializeOutcome, Naming, deserialize};
use crate::error::Error;
use crate::events::Events;
use crate::gather::{GatherOptions, GatherOutcome, gather};
use crate::route::Routed;
use crate::scatter::{Routing, scatter_root};
use crate::serialize::{ArchiveDest, Overwrite, SerializeOptions, SerializeOutcome, SerializeRequest, serialize_image};
use crate::sources::SourceEntry;
use crate::store::{Access, open_store};

/// An `archive` run.
pub struct ArchiveRequest<'a> {
    /// The sources list, for messages.
    pub sources_file: &'a Path,
    /// Its entries.
    pub sources: &'a [SourceEntry],
    /// The cache layout the gather index goes into.
    pub cache: &'a Path,
    /// The gather index's tag in the cache, and the root's name in the archive.
    pub reference: &'a str,
    /// How to gather.
    pub gather: GatherOptions,
    /// The site's policy component, if any: nothing it refuses is gathered.
    pub policy: Option<&'a dyn crate::components::Policy>,
    /// Where the archive goes.
    pub dest: &'a ArchiveDest,
    /// The block buffer in front of it.
    pub geometry: Geometry,
    /// The earlier deliveries the archive is a delta against.
    pub delta: &'a Delta,
    /// How to write it (its `ref_name` is `reference`).
    pub serialize: SerializeOptions,
    /// Whether an existing file at DEST that is not an archive may be replaced.
    pub overwrite: Overwrite,
}

/// `archive`: gathers the sources into the cache, tagged `reference`, then serializes that.
pub async fn archive(client: &Client, request: ArchiveRequest<'_>, events: Events) -> Result<(GatherOutcome, SerializeOutcome), Error> {
    // DEST is checked before the gather, which may take a while.
    request.dest.check(request.overwrite)?;
    let gathered = ImageRef::Layout(LayoutRef { path: request.cache.to_owned(), tag: Some(request.reference.to_owned()), digest: None });
    let gather = gather(client, request.sources_file, request.sources, &gathered, &request.gather, request.policy, events.clone()).await?;
    let options = SerializeOptions { ref_name: request.reference.to_owned(), ..request.serialize };
    let serialize = SerializeRequest {
        image: &gathered,
        dest: request.dest,
        geometry: request.geometry,
        delta: request.delta,
        options,
        overwrite: request.overwrite,
    };
    Ok((gather, serialize_image(client, serialize, events).await?))
}

/// An `unarchive` run.
pub struct UnarchiveRequest<'a> {
    /// The archive.
    pub source: ArchiveSource,
    /// The cache layout it is read into.
    pub cache: &'a Path,
    /// The root's tag in the cache.
    pub reference: &'a str,
    /// Enforce ace-dt's entry order.
    pub strict: bool,
    /// The delivery policy, checked before anything is written.
    pub trust: Option<std::sync::Arc<crate::deserialize::DeliveryTrust>>,
    /// What to scatter, where, and how.
    pub routing: Routing<'a>,
}

/// `unarchive`: deserializes the archive into the cache, then scatters its root.
pub async fn unarchive(client: &Client, request: UnarchiveRequest<'_>, events: Events) -> Result<(DeserializeOutcome, Routed), Error> {
    let cached = ImageRef::Layout(LayoutRef { path: request.cache.to_owned(), tag: Some(request.reference.to_owned()), digest: None });
    let store = open_store(client, &cached, Access::Create)?;
    let name = request.source.name.clone();
    // An archive of several images, or a docker archive, is scattered through an index of them.
    let options = DeserializeOptions { strict: request.strict, dry_run: false, naming: Naming::Index, trust: request.trust.clone() };
    let outcome = deserialize(vec![request.source], store.as_ref(), request.reference, options, events.clone()).await?;
    let root = outcome.root.clone().ok_or(Error::NoRoot(name))?;
    let routed = scatter_root(client, store, &root, request.routing, events).await?;
    Ok((outcome, routed))
}
