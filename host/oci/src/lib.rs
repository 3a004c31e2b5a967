//! OCI types for ferry.
//!
//! This crate owns the vocabulary every other ferry crate speaks: [`Digest`], [`Reference`]
//! (registry references and `oci:PATH` layout references), [`Descriptor`] and [`Platform`],
//! [`Manifest`] (always the original bytes, never re-serialized, with the successor function of
//! ace-dt's mirror), the Go-compatible JSON encoding used for gather indexes ([`gojson`]),
//! the on-disk OCI image layout ([`layout`]), the one digest-mismatch error ([`DigestMismatch`]),
//! blob streams verified as they flow ([`BlobStream`], named by their [`Origin`]), and the
//! referrers tag schema shared by every store that maintains it ([`referrers`]).
//!
//! It does no network I/O and has no async runtime: registry access lives in `ferry-registry`,
//! and workflows in `ferry-engine`.

pub mod annotations;
mod blob;
pub mod causes;
mod descriptor;
mod digest;
pub mod gojson;
pub mod layout;
mod manifest;
pub mod media_type;
mod mismatch;
mod platform;
pub mod quote;
mod reference;
pub mod referrers;

pub use blob::{BlobError, BlobErrorKind, BlobStream, Origin, SourceError};
pub use causes::with_causes;
pub use descriptor::Descriptor;
pub use digest::{Algorithm, Digest, DigestError, Hasher};
pub use manifest::{Index, Manifest, ManifestError, ManifestView, NewImageManifest};
pub use mismatch::DigestMismatch;
pub use platform::{Platform, PlatformError};
pub use quote::quoted;

/// The deepest manifest nesting ferry follows (an index of indexes of …). Real graphs are a
/// few levels deep; walks refuse deeper ones instead of exhausting the stack.
pub const MAX_GRAPH_DEPTH: usize = 64;
pub use reference::{ImageRef, LayoutRef, Reference, ReferenceError, valid_tag};
