//! Progress events. Workflows emit them; the CLI draws them.

use std::path::PathBuf;
use std::sync::Arc;

use ferry_archive::scan::Stop;

use ferry_oci::Digest;

use crate::store::Transfer;

/// Something a workflow did.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Event {
    /// A source is being resolved and copied.
    SourceStarted {
        /// The reference as written.
        reference: String,
    },
    /// A source and its graph are at the destination.
    SourceDone {
        /// The reference as written.
        reference: String,
        /// Its resolved digest.
        digest: Digest,
    },
    /// A blob was uploaded or mounted.
    BlobCopied {
        /// Digest.
        digest: Digest,
        /// Size in bytes.
        size: u64,
        /// Uploaded or mounted.
        transfer: Transfer,
    },
    /// A blob was already at the destination.
    BlobSkipped {
        /// Digest.
        digest: Digest,
        /// Size in bytes.
        size: u64,
    },
    /// A manifest was pushed.
    ManifestPushed {
        /// Digest.
        digest: Digest,
    },
    /// About this many blob bytes lie ahead (serialize and deserialize: the root's
    /// `layer.size.deduplicated`, when it has one).
    Expected {
        /// Bytes.
        bytes: u64,
    },
    /// serialize and deserialize: this many more blob bytes went through (sent as they
    /// flow, a chunk at a time, so progress moves within a large blob).
    Progress {
        /// Bytes since the last `Progress`.
        bytes: u64,
    },
    /// serialize: a blob's tar entry is complete in the archive.
    BlobWritten {
        /// Digest.
        digest: Digest,
        /// Size in bytes.
        size: u64,
    },
    /// deserialize: a blob from the archive is verified and at the destination (or, in a dry
    /// run, verified).
    BlobStored {
        /// Digest.
        digest: Digest,
        /// Size in bytes.
        size: u64,
        /// The destination had it already.
        present: bool,
    },
    /// scatter, clone, unarchive: an artifact is at a destination, tagged.
    Placed {
        /// The destination reference.
        destination: String,
        /// What is there.
        digest: Digest,
    },
    /// A workflow of several steps begins one.
    Stage(Stage),
    /// serialize: a partial archive of an earlier run was read; its whole blobs are left out.
    ResumeScanned {
        /// The partial archive.
        path: PathBuf,
        /// Whole, intact blobs it holds.
        blobs: usize,
        /// Where its reading stopped.
        stop: Arc<Stop>,
    },
    /// batch-serialize: an entry's root was sent before under its name; nothing is written.
    BatchSkipped {
        /// The BATCH-LIST name.
        name: String,
        /// The artifact, as written.
        artifact: String,
        /// Its digest now, as when it was sent.
        digest: Digest,
        /// The archive that carried it.
        sync_name: String,
    },
    /// batch-serialize: an archive is complete and recorded in the tracker.
    BatchWritten {
        /// The archive's file name.
        sync_name: String,
    },
    /// batch-deserialize: an archive was loaded and recorded in the tracker.
    BatchLoaded {
        /// The archive's file name.
        file_name: String,
        /// Where its root is tagged.
        tagged: String,
    },
    /// batch-deserialize: a file of the sync directory that is not loaded.
    StrayFile {
        /// Its name.
        file_name: String,
        /// Why it is left.
        reason: Stray,
    },
}

/// The steps of workflows that take several: the CLI draws one progress display per stage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Stage {
    /// Sources are resolved (clone).
    Resolving {
        /// How many.
        sources: usize,
    },
    /// Sources are copied into the gather destination (gather, archive).
    Gathering {
        /// How many.
        sources: usize,
    },
    /// An archive is written (serialize, archive, batch-serialize).
    Serializing,
    /// An archive is read (deserialize, unarchive, batch-deserialize); `dry_run` writes nothing.
    Deserializing {
        /// Nothing is written.
        dry_run: bool,
    },
    /// Routed artifacts are placed (scatter, clone, unarchive).
    Placing {
        /// How many destinations.
        destinations: usize,
    },
}

/// Why batch-deserialize leaves a file of the sync directory alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Stray {
    /// `NNNNNN-NAME.tar….partial`: an interrupted batch-serialize did not finish it.
    Partial,
    /// Not named as a sync file.
    NotASyncFile,
}

/// Where events go.
pub type Events = Arc<dyn Fn(&Event) + Send + Sync>;

/// An event sink that drops everything.
pub fn no_events() -> Events {
    Arc::new(|_| {})
}
