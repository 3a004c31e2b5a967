//! The catalog's schema, as numbered migrations in SQL that SQLite and PostgreSQL both accept.
//! A migration is never changed once released: a change is a new one.

/// `(version, statements)`, in order.
pub(crate) const MIGRATIONS: &[(i64, &[&str])] = &[
    (
        1,
        &[
            // One row per archive written; `id` is the run id, unique per write.
            "CREATE TABLE archives (
            id TEXT PRIMARY KEY,
            root TEXT NOT NULL,
            location TEXT NOT NULL,
            volume BIGINT NOT NULL,
            compression TEXT NOT NULL,
            written TEXT NOT NULL,
            written_secs BIGINT NOT NULL,
            host TEXT NOT NULL
        )",
            "CREATE INDEX archives_root ON archives (root)",
            "CREATE TABLE archive_images (
            archive_id TEXT NOT NULL REFERENCES archives (id),
            reference TEXT NOT NULL,
            digest TEXT NOT NULL,
            PRIMARY KEY (archive_id, reference)
        )",
            "CREATE INDEX archive_images_digest ON archive_images (digest)",
            // Each blob (and manifest) the archive carries, with its offset in the stream.
            "CREATE TABLE archive_blobs (
            archive_id TEXT NOT NULL REFERENCES archives (id),
            digest TEXT NOT NULL,
            size BIGINT NOT NULL,
            byte_offset BIGINT NOT NULL,
            PRIMARY KEY (archive_id, digest)
        )",
            "CREATE INDEX archive_blobs_digest ON archive_blobs (digest)",
            // Receipts imported, by the sha256 of their bytes.
            "CREATE TABLE receipts (
            id TEXT PRIMARY KEY,
            imported TEXT NOT NULL,
            created TEXT NOT NULL,
            signer TEXT
        )",
            // The archives a receipt says were loaded.
            "CREATE TABLE loaded (
            receipt_id TEXT NOT NULL REFERENCES receipts (id),
            root TEXT NOT NULL,
            file TEXT NOT NULL,
            loaded TEXT NOT NULL,
            destination TEXT NOT NULL,
            complete BIGINT NOT NULL
        )",
            "CREATE INDEX loaded_root ON loaded (root)",
            // Every digest the high side confirmed holding, first by which receipt.
            "CREATE TABLE confirmed (
            digest TEXT PRIMARY KEY,
            receipt_id TEXT NOT NULL REFERENCES receipts (id),
            confirmed TEXT NOT NULL
        )",
        ],
    ),
    (
        2,
        &[
            // Media sets: an archive's data volumes (1 for one file or tape), and the volumes
            // each entry's bytes lie in.
            "ALTER TABLE archives ADD COLUMN volumes BIGINT NOT NULL DEFAULT 1",
            "ALTER TABLE archive_blobs ADD COLUMN first_volume BIGINT NOT NULL DEFAULT 1",
            "ALTER TABLE archive_blobs ADD COLUMN last_volume BIGINT NOT NULL DEFAULT 1",
        ],
    ),
];
