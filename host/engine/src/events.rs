//! Progress events. Workflows emit them; the CLI draws them.

use std::sync::Arc;

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
}

/// Where events go.
pub type Events = Arc<dyn Fn(&Event) + Send + Sync>;

/// An event sink that drops everything.
pub fn no_events() -> Events {
    Arc::new(|_| {})
}
