//! The archive stream that crosses the air gap, as ace-dt writes it (spec §2, §3).
//!
//! This crate is plain `std::io`: no async runtime, no network. It owns the tar layer
//! ([`header`]: ustar headers byte for byte as Go's `archive/tar` writes them, PAX only for
//! sizes of 8 GiB and more or paths that do not fit), the entry order ([`writer`]:
//! `oci-layout`, the first `index.json`, directory entries before the first blob of each
//! algorithm, blobs, the final `index.json`, two zero blocks, no record padding) and the
//! checkpoint ledger ([`ledger`]: JSON lines of descriptors with `vnd.act3-ace.data.offset`),
//! and the tape block buffer ([`blockbuf`]) between the stream and its destination.
//!
//! Reading has one path: [`entries`] walks a tar stream and applies the reader's rules (entry
//! names, size limits, the serialization version, completeness), and everything that reads an
//! archive goes through it: [`verify`], the engine's `deserialize` and its dry run, and the
//! resume [`scan`] of a cut archive. [`docker`] plans the load of a docker archive
//! (`docker save`) from its `manifest.json`.
//!
//! # Format
//! See `docs/format.md`.

pub mod blockbuf;
pub mod compress;
pub mod docker;
pub mod entries;
pub mod header;
pub mod ledger;
pub mod reader;
pub mod scan;
pub mod verify;
pub mod writer;

pub use blockbuf::{BlockWriter, Geometry};
pub use compress::{AnySink, Compression};
pub use writer::{ArchiveWriter, Plain, Sink, WriteError};
