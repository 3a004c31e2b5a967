//! ferry's delivery catalog, on the low side: every archive written (its root, run id, file or
//! tape, volume, compression, time, images, and each blob with its offset and size) and what
//! the high side confirmed by its receipts. It answers which blobs the next delivery may leave
//! out, where a digest was sent, and what was sent and never confirmed.
//!
//! One schema in SQLite (the default: one file, no server) or PostgreSQL (several low-side
//! hosts sharing one catalog), through sqlx's `Any` driver with SQL both accept. Versioned
//! migrations are applied when a catalog is opened, each in its own transaction; every write
//! is one transaction, so concurrent ferry processes lose nothing.

mod migrations;
mod store;

pub use store::{
    ArchiveStatus, ArchiveWritten, BlobWritten, Catalog, CatalogError, Gap, Holding, ImportOutcome, Loaded, Location, Sending, Standing,
    Status,
};
