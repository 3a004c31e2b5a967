//! Progress events. Workflows emit them; the CLI draws them, records them in a run report
//! ([`crate::report`]) and, with `--debug`, writes each as a JSON line (the serde form below:
//! `{"event": "blobCopied", "digest": …}`).

use std::path::PathBuf;
use std::sync::Arc;

use ferry_archive::scan::Stop;
use ferry_oci::Digest;
use serde::Serialize;

use crate::store::Transfer;

/// Something a workflow did.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "event", rename_all = "camelCase", rename_all_fields = "camelCase")]
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
    /// gather, scatter, clone, unarchive: a source failed; the run stops (or, for a
    /// placement with `--continue`, see [`Event::PlaceFailed`]).
    SourceFailed {
        /// The reference as written.
        reference: String,
        /// Why, with its causes.
        reason: String,
    },
    /// A blob was uploaded or mounted.
    BlobCopied {
        /// Digest.
        digest: Digest,
        /// Size in bytes.
        size: u64,
        /// Uploaded or mounted.
        transfer: Transfer,
        /// Whole copies retried after a transient failure.
        retries: u32,
        /// How long the copy took, retries included.
        millis: u64,
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
    /// serialize: a blob of the graph is left out, as an earlier delivery (an existing image,
    /// a checkpoint or a partial archive) carried it.
    BlobLeftOut {
        /// Digest.
        digest: Digest,
        /// Size in bytes.
        size: u64,
    },
    /// serialize `--catalog`: a blob is left out, as the high side confirmed holding it.
    BlobConfirmed {
        /// Digest.
        digest: Digest,
        /// Size in bytes.
        size: u64,
    },
    /// serialize `--catalog`: a blob is left out, as an archive not yet confirmed nor
    /// overdue carries it.
    BlobOnItsWay {
        /// Digest.
        digest: Digest,
        /// Size in bytes.
        size: u64,
        /// The run id of the newest archive that carries it.
        archive: String,
    },
    /// serialize `--catalog`: a blob sent before and never confirmed is sent again (its
    /// `BlobWritten` follows).
    BlobResent {
        /// Digest.
        digest: Digest,
        /// Size in bytes.
        size: u64,
        /// Where it was sent and why it goes again.
        reason: String,
    },
    /// serialize `--volume-size`: an interrupted run of the same set left whole volumes,
    /// kept as long as the stream matches them.
    SetResumed {
        /// `DEST`.
        base: std::path::PathBuf,
        /// Whole data volumes found.
        volumes: usize,
    },
    /// A media set on tapes is staged in `dir`: each volume there whole before it goes to
    /// (or after it comes from) its tape.
    SetStaging {
        /// The staging directory.
        dir: std::path::PathBuf,
        /// Each volume's size limit (0: unknown).
        volume_size: u64,
        /// Parity volumes in the set.
        parity: u32,
    },
    /// A volume of a set was written to its tape.
    VolumeOnMedium {
        /// `3`, `p1`.
        volume: String,
        /// The tape drive.
        device: std::path::PathBuf,
        /// Bytes written.
        bytes: u64,
    },
    /// Reading a set from tapes: a volume cannot be had; the set goes on without it if its
    /// parity allows.
    VolumeLost {
        /// `3`, `p1`.
        volume: String,
    },
    /// serialize, archive, batch-serialize: an archive written is recorded in the delivery
    /// catalog.
    Recorded {
        /// Its file or tape.
        location: String,
        /// Its run id.
        id: String,
    },
    /// An archive written could not be recorded in the delivery catalog; the archive itself
    /// is complete.
    NotRecorded {
        /// Its file or tape.
        location: String,
        /// Why.
        reason: String,
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
    /// scatter, clone, unarchive: an artifact will be placed at a destination (sent for every
    /// placement of the plan before the first copy).
    Planned {
        /// The source artifact, as the mapping rule saw it.
        from: String,
        /// The destination reference.
        destination: String,
        /// What goes there.
        digest: Digest,
    },
    /// gather, archive, scatter, clone, unarchive with an image or component policy: the
    /// verdict on an artifact.
    Verdict {
        /// The artifact, as messages name it.
        artifact: String,
        /// Its digest.
        digest: Digest,
        /// The fingerprint of the key that signed it, if one trusted did.
        signer: Option<String>,
        /// Why it is refused, if it is.
        refused: Option<String>,
        /// Who refused it: the image signature policy or `policy TEXT`.
        refused_by: Option<String>,
        /// The policy's reason for allowing it, when it gave one.
        allowed: Option<String>,
    },
    /// scatter, clone, unarchive: an artifact is at a destination, tagged.
    Placed {
        /// The source artifact.
        from: String,
        /// The destination reference.
        destination: String,
        /// What is there.
        digest: Digest,
    },
    /// scatter, clone, unarchive: a placement failed.
    PlaceFailed {
        /// The source artifact.
        from: String,
        /// The destination reference.
        destination: String,
        /// Why, with its causes.
        reason: String,
    },
    /// A workflow of several steps begins one.
    Stage(Stage),
    /// serialize: a partial archive of an earlier run was read; its whole blobs are left out.
    ResumeScanned {
        /// The partial archive.
        #[serde(serialize_with = "display_path")]
        path: PathBuf,
        /// Whole, intact blobs it holds.
        blobs: usize,
        /// Where its reading stopped.
        #[serde(serialize_with = "debug_text")]
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
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "stage", rename_all = "camelCase", rename_all_fields = "camelCase")]
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
    /// An archive is checked offline (verify).
    Verifying,
    /// Bytes are copied through the tape block buffer (`util mbuffer`).
    Buffering,
    /// Routed artifacts are placed (scatter, clone, unarchive).
    Placing {
        /// How many destinations.
        destinations: usize,
    },
}

/// Why batch-deserialize leaves a file of the sync directory alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
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

fn display_path<S: serde::Serializer>(path: &std::path::Path, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&path.display())
}

fn debug_text<S: serde::Serializer, T: std::fmt::Debug>(value: &T, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&format_args!("{value:?}"))
}
