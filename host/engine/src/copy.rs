//! Copying a manifest graph from one store to another: children before parents, each node
//! once even when several sources share it, blobs already at the destination (with their
//! size) skipped, every child checked before a parent counts as present,
//! mounts between repositories of one registry, transient failures retried, and referrers
//! (with `-r`) walked for every manifest once the graph is in place.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ferry_oci::{Descriptor, Digest, Manifest};
use ferry_registry::RetryPolicy;
use futures_util::future::{BoxFuture, try_join_all};
use tokio::sync::{OnceCell, Semaphore};

use crate::error::Error;
use crate::events::{Event, Events};
use crate::store::{Metered, Store, Transfer};

/// Whole blob copies after a transient failure: 3 in all, 500 ms doubling. A stream cannot be
/// replayed by the HTTP layer, so whole copies are retried here, on top of the request and
/// fetch retries below.
const BLOB_COPY: RetryPolicy = RetryPolicy::new(3, Duration::from_millis(500));

/// Counters of what a copy did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CopyStats {
    /// Blobs uploaded.
    pub uploaded: u64,
    /// Bytes uploaded.
    pub uploaded_bytes: u64,
    /// Blobs mounted from another repository.
    pub mounted: u64,
    /// Blobs already present.
    pub skipped: u64,
    /// Manifests pushed.
    pub manifests: u64,
    /// Manifests already present (read back by digest; their children were still checked).
    pub manifests_present: u64,
}

impl CopyStats {
    /// Adds another copy's counters to these.
    pub fn add(&mut self, other: &CopyStats) {
        self.uploaded += other.uploaded;
        self.uploaded_bytes += other.uploaded_bytes;
        self.mounted += other.mounted;
        self.skipped += other.skipped;
        self.manifests += other.manifests;
        self.manifests_present += other.manifests_present;
    }
}

/// State shared by every copy into one destination during one command.
pub struct CopyState {
    nodes: Mutex<HashMap<Digest, Arc<OnceCell<()>>>>,
    manifests: Mutex<HashMap<Digest, Manifest>>,
    referrers_walked: Mutex<HashSet<Digest>>,
    stats: Mutex<CopyStats>,
    transfers: Semaphore,
    events: Events,
}

impl CopyState {
    /// `concurrency` bounds blob transfers in flight.
    pub fn new(concurrency: usize, events: Events) -> CopyState {
        CopyState {
            nodes: Mutex::new(HashMap::new()),
            manifests: Mutex::new(HashMap::new()),
            referrers_walked: Mutex::new(HashSet::new()),
            stats: Mutex::new(CopyStats::default()),
            transfers: Semaphore::new(concurrency.max(1)),
            events,
        }
    }

    /// What was done so far.
    pub fn stats(&self) -> CopyStats {
        self.stats.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// A manifest fetched during the copy, if it was.
    pub fn manifest(&self, digest: &Digest) -> Option<Manifest> {
        self.manifests.lock().unwrap_or_else(|e| e.into_inner()).get(digest).cloned()
    }

    fn cell(&self, digest: &Digest) -> Arc<OnceCell<()>> {
        self.nodes.lock().unwrap_or_else(|e| e.into_inner()).entry(digest.clone()).or_default().clone()
    }

    pub(crate) fn emit(&self, e: Event) {
        (self.events)(&e);
    }

    fn count(&self, f: impl FnOnce(&mut CopyStats)) {
        f(&mut self.stats.lock().unwrap_or_else(|e| e.into_inner()));
    }
}

/// One source store and one destination store.
pub struct Copier<'a> {
    /// Where content comes from.
    pub src: &'a dyn Store,
    /// Where it goes.
    pub dst: &'a dyn Store,
    /// Shared state.
    pub state: &'a CopyState,
    /// Also copy referrers and cosign attachments of every manifest.
    pub recursive: bool,
}

impl Copier<'_> {
    /// Copies `root`'s graph, then (with `recursive`) its referrers.
    pub async fn copy(&self, root: &Descriptor) -> Result<(), Error> {
        self.copy_node(root, 0).await?;
        if self.recursive && root.is_manifest() {
            self.copy_referrers(root).await?;
        }
        Ok(())
    }

    fn copy_node<'b>(&'b self, desc: &'b Descriptor, depth: usize) -> BoxFuture<'b, Result<(), Error>> {
        Box::pin(async move {
            if depth > ferry_oci::MAX_GRAPH_DEPTH {
                return Err(Error::TooDeep { digest: desc.digest.to_string() });
            }
            let cell = self.state.cell(&desc.digest);
            cell.get_or_try_init(|| async {
                if desc.is_manifest() { self.copy_manifest(desc, depth).await } else { self.copy_blob(desc).await }
            })
            .await?;
            Ok(())
        })
    }

    /// Copies a manifest after its children. Its whole graph is checked even when the
    /// destination has the manifest: a manifest there proves nothing about its blobs (a
    /// registry may answer for bytes pushed as a plain blob, or a blob may have been lost),
    /// and a tag put on it afterwards must not point at missing content.
    async fn copy_manifest(&self, desc: &Descriptor, depth: usize) -> Result<(), Error> {
        let manifest = self.src.fetch_manifest(desc).await?;
        self.state.manifests.lock().unwrap_or_else(|e| e.into_inner()).insert(desc.digest.clone(), manifest.clone());
        try_join_all(manifest.successors().iter().map(|c| self.copy_node(c, depth + 1))).await?;
        // Read back by digest and parsed, the destination's copy may stand; else PUT it.
        let present = !self.recursive && self.dst.manifest_readable(desc).await?.is_some();
        if present {
            self.state.count(|s| s.manifests_present += 1);
        } else {
            let indexed = self.dst.push_manifest_placed(&manifest, None).await?;
            if let Some(subject) = &manifest.view().subject {
                self.dst.record_referrer(subject, &manifest, indexed).await?;
            }
            self.state.count(|s| s.manifests += 1);
            self.state.emit(Event::ManifestPushed { digest: desc.digest.clone() });
        }
        Ok(())
    }

    async fn copy_blob(&self, desc: &Descriptor) -> Result<(), Error> {
        // The semaphore is never closed, so acquiring cannot fail.
        let _permit = self.state.transfers.acquire().await.ok();
        if self.dst.blob_exists(desc).await? {
            self.state.count(|s| s.skipped += 1);
            self.state.emit(Event::BlobSkipped { digest: desc.digest.clone(), size: desc.size });
            return Ok(());
        }
        let started = Instant::now();
        // The bytes read from the source are the copy's progress.
        let src = Metered { inner: self.src, events: self.state.events.clone() };
        let mut attempt = 1;
        let transfer = loop {
            match self.dst.push_blob(desc, &src).await {
                Ok(t) => break t,
                Err(e) if e.is_transient() && BLOB_COPY.allows_another(attempt) => {
                    let wait = BLOB_COPY.wait(attempt, None).await;
                    tracing::warn!("copying blob {}: {e}; copied again after {wait:?}", desc.digest);
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        };
        match transfer {
            Transfer::Uploaded => self.state.count(|s| {
                s.uploaded += 1;
                s.uploaded_bytes += desc.size;
            }),
            Transfer::Mounted => self.state.count(|s| s.mounted += 1),
        }
        self.state.emit(Event::BlobCopied {
            digest: desc.digest.clone(),
            size: desc.size,
            transfer,
            retries: attempt - 1,
            millis: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        });
        Ok(())
    }

    /// Walks every manifest of `root`'s graph (and of each referrer found) once, copying the
    /// referrers and cosign attachments of each.
    async fn copy_referrers(&self, root: &Descriptor) -> Result<(), Error> {
        let mut work = vec![root.clone()];
        while let Some(desc) = work.pop() {
            if !self.state.referrers_walked.lock().unwrap_or_else(|e| e.into_inner()).insert(desc.digest.clone()) {
                continue;
            }
            if let Some(m) = self.state.manifest(&desc.digest) {
                work.extend(m.successors().into_iter().filter(Descriptor::is_manifest));
            }
            for referrer in self.src.referrers(&desc).await? {
                self.copy_node(&referrer, 0).await?;
                work.push(referrer);
            }
            for (tag, attachment) in self.src.cosign_attachments(&desc).await? {
                self.copy_node(&attachment, 0).await?;
                let manifest = match self.state.manifest(&attachment.digest) {
                    Some(m) => m,
                    None => self.src.fetch_manifest(&attachment).await?,
                };
                self.dst.push_manifest(&manifest, Some(&tag)).await?;
                work.push(attachment);
            }
        }
        Ok(())
    }
}
