//! Media sets: an archive stream cut into volumes that fit the media crossing the gap (DVDs,
//! USB disks with a size cap, transfer systems with a file-size limit), each self-describing
//! ([`header`]), with Reed-Solomon parity volumes (module `parity`) so any `N` lost or damaged
//! volumes can be rebuilt. [`writer`] cuts a stream into a set as it is written; [`reader`]
//! surveys a set (good, damaged, missing, of another set), joins its data volumes back into
//! the plain archive stream, rebuilding what it must on the fly, and repairs a set. [`tape`]
//! puts a set on media that take one volume each (tapes) and stages it back from them.
//!
//! Without their headers and trailers, the data volumes joined are exactly the stream that
//! serialize writes without `--volume-size`.

mod files;
pub mod header;
mod parity;
pub mod reader;
pub mod tape;
pub mod writer;

pub use files::{is_unfinished, is_volume, split_volume_name, volume_path};
pub use header::{HEADER_BYTES, Header, HeaderError, Kind, SetId};
pub use reader::{Condition, JoinedReader, Survey, VolumeReport, survey};
pub use writer::{Handed, Handoff, Resumable, SetSpec, SetWriter, SetWritten, SharedSet};

/// Why a set cannot be written, read or rebuilt.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VolumeError {
    /// Reading or writing a volume (the message names it).
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// The set cannot be cut as asked.
    #[error("{0}")]
    Spec(String),
    /// The Reed-Solomon coder refused (a damaged parity volume of the wrong length, say).
    #[error("parity: {0}")]
    Coder(String),
    /// No volume of a set among the files given.
    #[error("no volume of a set among {0}")]
    NoSet(String),
    /// More volumes lost or damaged than the parity can rebuild.
    #[error("{0}")]
    Unrecoverable(String),
    /// A set on tapes goes on, and nobody can load the next tape.
    #[error("{0}")]
    NoLoader(String),
    /// Volumes of another set among those given.
    #[error("not of this set ({set}): {volumes}")]
    Foreign {
        /// The set the others belong to.
        set: String,
        /// The strangers.
        volumes: String,
    },
}

impl VolumeError {
    /// Whether the files given are at fault (not the machine): no set, too few volumes, a
    /// stranger among them, a size that cannot be cut, a set on tapes with no one to load the
    /// next one.
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self,
            VolumeError::Spec(_)
                | VolumeError::NoSet(_)
                | VolumeError::Unrecoverable(_)
                | VolumeError::Foreign { .. }
                | VolumeError::NoLoader(_)
        )
    }
}
