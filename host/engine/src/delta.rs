//! What a serialize may leave out: the blobs the far side has or will have from earlier
//! deliveries, named by EXISTING-IMAGEs, checkpoint ledgers (`FILE:OFFSET`) and partial
//! archives of earlier runs.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ferry_oci::{Digest, ImageRef};
use ferry_registry::Client;

use crate::error::Error;
use crate::events::{Event, Events};
use crate::store::{Access, Store, open_store};

/// The earlier deliveries a serialize is a delta against.
#[derive(Clone, Debug, Default)]
pub struct Delta {
    /// Images already delivered: their non-manifest blobs are left out.
    pub existing: Vec<ImageRef>,
    /// Ledgers and offsets: the blobs recorded at or below each offset are on the media.
    pub checkpoints: Vec<(PathBuf, u64)>,
    /// Partial archives of earlier runs: the blobs each holds whole and intact.
    pub archives: Vec<PathBuf>,
}

impl Delta {
    /// Nothing is left out.
    pub fn is_empty(&self) -> bool {
        self.existing.is_empty() && self.checkpoints.is_empty() && self.archives.is_empty()
    }
}

/// The digests `delta` lets a serialize to `dest` leave out. Every ledger and archive is read
/// before anything is written, so one at DEST's own path is read whole first; a partial
/// archive that is DEST itself is refused, since the run would overwrite it.
pub async fn skip_set(client: &Client, delta: &Delta, dest: Option<&Path>, events: &Events) -> Result<HashSet<Digest>, Error> {
    let mut skip = HashSet::new();
    for (file, offset) in &delta.checkpoints {
        skip.extend(ferry_archive::ledger::delivered_before(file, *offset)?);
    }
    for path in &delta.archives {
        if dest.is_some_and(|d| same_file(path, d)) {
            return Err(Error::ResumeFromDestination(path.clone()));
        }
        let held = match set_volumes(path) {
            Some(volumes) => blobs_held_in_set(&volumes, dest)?,
            None => ferry_archive::scan::blobs_held_at(path)?,
        };
        events(&Event::ResumeScanned { path: path.clone(), blobs: held.blobs.len(), stop: Arc::new(held.stop) });
        skip.extend(held.blobs.into_iter().map(|b| b.digest));
    }
    for image in &delta.existing {
        let store = open_store(client, image, Access::Read)?;
        let blobs =
            existing_blobs(store.as_ref(), image).await.map_err(|e| Error::Existing { image: image.to_string(), source: Box::new(e) })?;
        skip.extend(blobs);
    }
    Ok(skip)
}

/// The media set `path` names: a volume, a directory of volumes, or the set's `DEST` (its
/// volumes `DEST.001`, … beside it); `None` for anything else.
fn set_volumes(path: &Path) -> Option<Vec<PathBuf>> {
    if crate::deserialize::is_set_member(path) {
        return Some(vec![path.to_owned()]);
    }
    let first = ferry_volumes::volume_path(path, ferry_volumes::Kind::Data, 1);
    (!path.exists() && ferry_volumes::is_volume(&first)).then(|| vec![first])
}

/// The blobs whole in a media set: all of a finished set's (rebuilt from parity where it
/// must), or those of an unfinished set's whole volumes. A set that is DEST's own is refused:
/// the run would write over it.
fn blobs_held_in_set(volumes: &[PathBuf], dest: Option<&Path>) -> Result<ferry_archive::scan::Held, Error> {
    let named = volumes.first().map(|v| v.display().to_string()).unwrap_or_default();
    let failed = |source| Error::Volumes { what: format!("media set {named}"), source };
    let survey = ferry_volumes::survey(volumes, false).map_err(failed)?;
    let base = survey.base().to_owned();
    let first = |base: &Path| ferry_volumes::volume_path(base, ferry_volumes::Kind::Data, 1);
    if dest.is_some_and(|d| same_file(&first(&base), &first(d))) {
        return Err(Error::ResumeFromDestination(base));
    }
    survey.refuse_strangers().map_err(failed)?;
    survey.rebuildable().map_err(failed)?;
    Ok(ferry_archive::scan::blobs_held(survey.reader()).map_err(|e| match e {
        ferry_archive::scan::ScanError::Io { source, .. } => ferry_archive::scan::ScanError::Io { path: base.clone(), source },
        e => e,
    })?)
}

/// Non-manifest blobs reachable from `image` in `store` (extended successors): what an
/// EXISTING-IMAGE lets serialize leave out.
pub async fn existing_blobs(store: &dyn Store, image: &ImageRef) -> Result<HashSet<Digest>, Error> {
    let root = store.resolve(&image.reference_or_default()).await?;
    let mut out = HashSet::new();
    let mut seen = HashSet::new();
    let mut stack = vec![root];
    while let Some(d) = stack.pop() {
        if !d.is_manifest() {
            out.insert(d.digest);
            continue;
        }
        if seen.insert(d.digest.clone()) {
            stack.extend(store.fetch_manifest(&d).await?.successors());
        }
    }
    Ok(out)
}

/// Whether `a` and `b` name one existing file.
fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt as _;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}
