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
        let held = ferry_archive::scan::blobs_held_at(path)?;
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
