//! The catalog over one sqlx `Any` pool: opening (with migrations), recording archives,
//! importing receipts, and the questions the low side asks.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ferry_oci::Digest;
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, AssertSqlSafe, Row};

use crate::migrations::MIGRATIONS;

/// Rows per multi-row `INSERT` (four parameters each, well under every limit).
const BATCH: usize = 400;
/// The PostgreSQL advisory lock key that serialises schema changes ("ferrycat").
const MIGRATION_LOCK: i64 = 0x6665_7272_7963_6174;

/// Where a catalog is kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    /// A SQLite file, created when missing.
    Sqlite(PathBuf),
    /// A PostgreSQL database: `postgres://…` (`?host=/dir` for a socket directory).
    Postgres(String),
}

impl Location {
    /// `postgres://…` or `postgresql://…` is PostgreSQL; anything else is a SQLite path.
    pub fn parse(text: &str) -> Location {
        if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            Location::Postgres(text.to_owned())
        } else {
            Location::Sqlite(PathBuf::from(text))
        }
    }
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::Sqlite(path) => write!(f, "{}", path.display()),
            // The URL may hold a password: only its host part is shown.
            Location::Postgres(url) => {
                let rest = url.split_once("://").map_or(url.as_str(), |(_, r)| r);
                let host = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
                write!(f, "postgres://{host}")
            }
        }
    }
}

/// Why the catalog could not do what was asked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CatalogError {
    /// The database answered with an error, or could not be reached.
    #[error("catalog {location}: {what}")]
    Database {
        /// The catalog.
        location: String,
        /// What was being done.
        what: &'static str,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// A SQLite path a URL cannot carry, or a directory that cannot be made.
    #[error("catalog {location}: {message}")]
    Location {
        /// The catalog.
        location: String,
        /// What is wrong.
        message: String,
    },
    /// The catalog was made by a newer ferry.
    #[error("catalog {location}: schema version {found}; this ferry knows up to {known}")]
    Newer {
        /// The catalog.
        location: String,
        /// The version it holds.
        found: i64,
        /// The newest this ferry applies.
        known: i64,
    },
    /// A value read back is not what ferry writes (a digest, a count).
    #[error("catalog {location}: {message}")]
    Corrupt {
        /// The catalog.
        location: String,
        /// What is wrong.
        message: String,
    },
}

/// An archive written, as serialize, archive and batch-serialize record it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArchiveWritten {
    /// The run id (unique per write).
    pub id: String,
    /// The root (the gather index).
    pub root: Digest,
    /// The file or tape it went to.
    pub location: String,
    /// The volume (1 for a single file or tape).
    pub volume: i64,
    /// Its data volumes: 1 for one file or tape, more for a media set.
    pub volumes: i64,
    /// `none`, `zstd` or `gzip`.
    pub compression: String,
    /// When it was written.
    pub written: SystemTime,
    /// The host that wrote it.
    pub host: String,
    /// The images it carries: reference and digest.
    pub images: Vec<(String, Digest)>,
    /// Each blob and manifest it carries.
    pub blobs: Vec<BlobWritten>,
}

/// A blob or manifest an archive carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlobWritten {
    /// Its digest.
    pub digest: Digest,
    /// Its size.
    pub size: u64,
    /// Where its entry (the tar header) starts in the uncompressed stream.
    pub offset: u64,
    /// The data volumes its entry's bytes lie in, first and last (1 and 1 for one file).
    pub volumes: (u32, u32),
}

/// An archive the high side says it loaded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Loaded {
    /// The archive's root.
    pub root: Digest,
    /// Its file name.
    pub file: String,
    /// When (as the receipt says).
    pub loaded: String,
    /// Where its root was tagged.
    pub destination: String,
    /// Whether it completed.
    pub complete: bool,
}

/// What importing a receipt did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImportOutcome {
    /// It had been imported before: nothing changed.
    pub already: bool,
    /// Digests confirmed for the first time.
    pub newly_confirmed: u64,
    /// Archives it names as loaded.
    pub loaded: usize,
}

/// Where an archive stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    /// Nothing of it confirmed.
    Sent,
    /// Some of its blobs confirmed, not all.
    Partial,
    /// Loaded completely, or every blob confirmed.
    Confirmed,
}

impl Status {
    /// As `catalog list` shows it.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Sent => "sent",
            Status::Partial => "partial",
            Status::Confirmed => "confirmed",
        }
    }
}

/// One archive and what the high side confirmed of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArchiveStatus {
    /// The run id.
    pub id: String,
    /// The root.
    pub root: Digest,
    /// The file or tape.
    pub location: String,
    /// The volume.
    pub volume: i64,
    /// When it was written, RFC 3339.
    pub written: String,
    /// Blobs (and manifests) it carries.
    pub blobs: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Of those, confirmed by a receipt.
    pub confirmed: u64,
    /// Where it stands.
    pub status: Status,
}

/// An archive holding a digest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Holding {
    /// The archive's run id.
    pub archive: String,
    /// Its file or tape.
    pub location: String,
    /// The data volume its entry starts in (1 for one file or tape).
    pub volume: i64,
    /// The data volume its entry ends in.
    pub last_volume: i64,
    /// The archive's data volumes (more than 1 for a media set).
    pub volumes: i64,
    /// The digest.
    pub digest: Digest,
    /// Where the entry starts in the stream.
    pub offset: u64,
    /// Its size.
    pub size: u64,
    /// Whether the high side confirmed holding it.
    pub confirmed: bool,
}

/// What was sent and never confirmed, by archive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Gap {
    /// The archive.
    pub archive: ArchiveStatus,
    /// Its blobs not confirmed.
    pub unconfirmed: Vec<Digest>,
}

/// Where a digest stands in the catalog.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Standing {
    /// A receipt confirmed the high side holds it.
    pub confirmed: bool,
    /// The newest archive that carried it, if any did.
    pub newest: Option<Sending>,
}

/// An archive that carried a digest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sending {
    /// Its run id.
    pub archive: String,
    /// Its file or tape.
    pub location: String,
    /// When it was written.
    pub written: SystemTime,
}

/// An open catalog.
pub struct Catalog {
    pool: AnyPool,
    location: String,
    sqlite: bool,
}

impl std::fmt::Debug for Catalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Catalog").field("location", &self.location).finish_non_exhaustive()
    }
}

impl Catalog {
    /// Opens (creating a SQLite file and its directory when missing) and brings the schema up
    /// to date.
    pub async fn open(location: &Location) -> Result<Catalog, CatalogError> {
        sqlx::any::install_default_drivers();
        let shown = location.to_string();
        let (url, sqlite) = match location {
            Location::Sqlite(path) => (sqlite_url(path, &shown)?, true),
            Location::Postgres(url) => (url.clone(), false),
        };
        let db = |what| {
            let shown = shown.clone();
            move |source| CatalogError::Database { location: shown, what, source }
        };
        let pool = AnyPoolOptions::new()
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(60))
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if sqlite {
                        // Writers from other processes wait their turn rather than fail.
                        sqlx::query("PRAGMA busy_timeout = 60000").execute(&mut *conn).await?;
                    }
                    Ok(())
                })
            })
            .connect(&url)
            .await
            .map_err(db("opening"))?;
        if sqlite {
            // Readers do not block the writer, nor the writer them.
            sqlx::query("PRAGMA journal_mode = WAL").execute(&pool).await.map_err(db("opening"))?;
        }
        let catalog = Catalog { pool, location: location.to_string(), sqlite };
        catalog.migrate().await?;
        Ok(catalog)
    }

    fn db(&self, what: &'static str) -> impl Fn(sqlx::Error) -> CatalogError + '_ {
        move |source| CatalogError::Database { location: self.location.clone(), what, source }
    }

    fn corrupt(&self, message: String) -> CatalogError {
        CatalogError::Corrupt { location: self.location.clone(), message }
    }

    /// Applies every migration not applied yet, each in a transaction that first claims its
    /// version. PostgreSQL's DDL races between sessions, so there the whole of it runs under
    /// an advisory lock; SQLite's writers are serialised by the database itself.
    async fn migrate(&self) -> Result<(), CatalogError> {
        let db = self.db("applying the schema");
        let mut conn = self.pool.acquire().await.map_err(&db)?;
        if !self.sqlite {
            sqlx::query("SELECT pg_advisory_lock($1)").bind(MIGRATION_LOCK).execute(&mut *conn).await.map_err(&db)?;
        }
        let applied = self.apply(&mut conn).await;
        if !self.sqlite {
            sqlx::query("SELECT pg_advisory_unlock($1)").bind(MIGRATION_LOCK).execute(&mut *conn).await.map_err(&db)?;
        }
        applied
    }

    async fn apply(&self, conn: &mut sqlx::pool::PoolConnection<sqlx::Any>) -> Result<(), CatalogError> {
        let db = self.db("applying the schema");
        sqlx::query("CREATE TABLE IF NOT EXISTS catalog_migrations (version BIGINT PRIMARY KEY, applied TEXT NOT NULL)")
            .execute(&mut **conn)
            .await
            .map_err(&db)?;
        let known = MIGRATIONS.last().map_or(0, |(v, _)| *v);
        let found: Option<i64> = sqlx::query("SELECT MAX(version) FROM catalog_migrations")
            .fetch_one(&mut **conn)
            .await
            .map_err(&db)?
            .try_get(0)
            .map_err(&db)?;
        if let Some(found) = found.filter(|f| *f > known) {
            return Err(CatalogError::Newer { location: self.location.clone(), found, known });
        }
        for (version, statements) in MIGRATIONS {
            if found.is_some_and(|f| f >= *version) {
                continue;
            }
            let mut tx = sqlx::Connection::begin(&mut **conn).await.map_err(&db)?;
            let claimed = sqlx::query("INSERT INTO catalog_migrations (version, applied) VALUES ($1, $2) ON CONFLICT (version) DO NOTHING")
                .bind(*version)
                .bind(now())
                .execute(&mut *tx)
                .await
                .map_err(&db)?;
            if claimed.rows_affected() == 0 {
                continue;
            }
            for statement in *statements {
                sqlx::query(*statement).execute(&mut *tx).await.map_err(&db)?;
            }
            tx.commit().await.map_err(&db)?;
        }
        Ok(())
    }

    /// Whether this is a SQLite catalog.
    pub fn is_sqlite(&self) -> bool {
        self.sqlite
    }

    /// Records an archive written, in one transaction.
    pub async fn record_archive(&self, archive: &ArchiveWritten) -> Result<(), CatalogError> {
        let db = self.db("recording an archive");
        let mut tx = self.pool.begin().await.map_err(&db)?;
        sqlx::query(
            "INSERT INTO archives (id, root, location, volume, volumes, compression, written, written_secs, host) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&archive.id)
        .bind(archive.root.to_string())
        .bind(&archive.location)
        .bind(archive.volume)
        .bind(archive.volumes)
        .bind(&archive.compression)
        .bind(humantime::format_rfc3339_seconds(archive.written).to_string())
        .bind(secs(archive.written))
        .bind(&archive.host)
        .execute(&mut *tx)
        .await
        .map_err(&db)?;
        for chunk in archive.images.chunks(BATCH) {
            let sql =
                values("INSERT INTO archive_images (archive_id, reference, digest) VALUES ", 3, chunk.len(), " ON CONFLICT DO NOTHING");
            // Built only from placeholders; every value is bound.
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for (reference, digest) in chunk {
                q = q.bind(&archive.id).bind(reference).bind(digest.to_string());
            }
            q.execute(&mut *tx).await.map_err(&db)?;
        }
        for chunk in archive.blobs.chunks(BATCH) {
            let sql = values(
                "INSERT INTO archive_blobs (archive_id, digest, size, byte_offset, first_volume, last_volume) VALUES ",
                6,
                chunk.len(),
                " ON CONFLICT DO NOTHING",
            );
            // Built only from placeholders; every value is bound.
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for b in chunk {
                let (first, last) = b.volumes;
                q = q.bind(&archive.id).bind(b.digest.to_string()).bind(int(b.size)).bind(int(b.offset));
                q = q.bind(i64::from(first)).bind(i64::from(last));
            }
            q.execute(&mut *tx).await.map_err(&db)?;
        }
        tx.commit().await.map_err(&db)
    }

    /// Records a receipt (`id`: the sha256 of its bytes): the archives it says were loaded and
    /// every digest it confirms. A receipt imported before changes nothing.
    pub async fn import(
        &self,
        id: &str,
        created: &str,
        signer: Option<&str>,
        loaded: &[Loaded],
        present: &BTreeSet<Digest>,
    ) -> Result<ImportOutcome, CatalogError> {
        let db = self.db("importing a receipt");
        let mut tx = self.pool.begin().await.map_err(&db)?;
        // A write first: SQLite takes its lock here, and a second import of one receipt waits
        // for the first and then finds it done.
        let fresh = sqlx::query("INSERT INTO receipts (id, imported, created, signer) VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING")
            .bind(id)
            .bind(now())
            .bind(created)
            .bind(signer.map(str::to_owned))
            .execute(&mut *tx)
            .await
            .map_err(&db)?;
        if fresh.rows_affected() == 0 {
            tx.rollback().await.map_err(&db)?;
            return Ok(ImportOutcome { already: true, ..ImportOutcome::default() });
        }
        for l in loaded {
            sqlx::query("INSERT INTO loaded (receipt_id, root, file, loaded, destination, complete) VALUES ($1, $2, $3, $4, $5, $6)")
                .bind(id)
                .bind(l.root.to_string())
                .bind(&l.file)
                .bind(&l.loaded)
                .bind(&l.destination)
                .bind(i64::from(l.complete))
                .execute(&mut *tx)
                .await
                .map_err(&db)?;
        }
        let digests: Vec<&Digest> = present.iter().collect();
        let confirmed = now();
        let mut newly = 0;
        for chunk in digests.chunks(BATCH) {
            let sql =
                values("INSERT INTO confirmed (digest, receipt_id, confirmed) VALUES ", 3, chunk.len(), " ON CONFLICT (digest) DO NOTHING");
            // Built only from placeholders; every value is bound.
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for digest in chunk {
                q = q.bind(digest.to_string()).bind(id).bind(&confirmed);
            }
            newly += q.execute(&mut *tx).await.map_err(&db)?.rows_affected();
        }
        tx.commit().await.map_err(&db)?;
        Ok(ImportOutcome { already: false, newly_confirmed: newly, loaded: loaded.len() })
    }

    /// Which of `digests` the high side confirmed.
    pub async fn confirmed_among(&self, digests: &[Digest]) -> Result<BTreeSet<Digest>, CatalogError> {
        let db = self.db("looking up confirmed digests");
        let mut found = BTreeSet::new();
        for chunk in digests.chunks(BATCH) {
            let sql = format!("SELECT digest FROM confirmed WHERE digest IN ({})", placeholders(1, chunk.len()));
            // Built only from placeholders; every value is bound.
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for d in chunk {
                q = q.bind(d.to_string());
            }
            for row in q.fetch_all(&self.pool).await.map_err(&db)? {
                found.insert(self.digest(&row, 0)?);
            }
        }
        Ok(found)
    }

    /// Every archive, oldest first, with what was confirmed of it.
    pub async fn list(&self) -> Result<Vec<ArchiveStatus>, CatalogError> {
        let db = self.db("listing archives");
        let rows = sqlx::query(
            "SELECT a.id, a.root, a.location, a.volume, a.written,
                    COUNT(b.digest), CAST(COALESCE(SUM(b.size), 0) AS BIGINT), COUNT(c.digest),
                    (SELECT COUNT(*) FROM loaded l WHERE l.root = a.root AND l.complete = 1),
                    CAST(COALESCE(SUM(CASE WHEN b.digest = a.root AND c.digest IS NULL THEN 1 ELSE 0 END), 0) AS BIGINT)
             FROM archives a
             LEFT JOIN archive_blobs b ON b.archive_id = a.id
             LEFT JOIN confirmed c ON c.digest = b.digest
             GROUP BY a.id, a.root, a.location, a.volume, a.written, a.written_secs
             ORDER BY a.written_secs, a.id",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(&db)?;
        rows.iter().map(|row| self.archive_status(row)).collect()
    }

    fn archive_status(&self, row: &AnyRow) -> Result<ArchiveStatus, CatalogError> {
        let db = self.db("reading an archive row");
        let count = |i: usize| -> Result<u64, CatalogError> {
            let n: i64 = row.try_get(i).map_err(&db)?;
            u64::try_from(n).map_err(|_| self.corrupt(format!("a negative count {n}")))
        };
        let (blobs, bytes, confirmed, loaded_complete) = (count(5)?, count(6)?, count(7)?, count(8)?);
        // The root (the gather index) wraps the content: when every other blob is confirmed,
        // the content arrived, whichever delivery carried it.
        let root_unconfirmed = count(9)?;
        let status = if loaded_complete > 0 || (blobs > root_unconfirmed && confirmed + root_unconfirmed == blobs) {
            Status::Confirmed
        } else if confirmed > 0 {
            Status::Partial
        } else {
            Status::Sent
        };
        Ok(ArchiveStatus {
            id: row.try_get(0).map_err(&db)?,
            root: self.digest(row, 1)?,
            location: row.try_get(2).map_err(&db)?,
            volume: row.try_get(3).map_err(&db)?,
            written: row.try_get(4).map_err(&db)?,
            blobs,
            bytes,
            confirmed: if status == Status::Confirmed { blobs } else { confirmed },
            status,
        })
    }

    /// Every archive that carries `digest` (as a blob, a manifest or its root), with the
    /// entry's offset, and whether the high side confirmed it.
    pub async fn holdings(&self, digest: &Digest) -> Result<Vec<Holding>, CatalogError> {
        let db = self.db("finding a digest");
        let rows = sqlx::query(
            "SELECT a.id, a.location, b.first_volume, b.digest, b.byte_offset, b.size, COUNT(c.digest), b.last_volume, a.volumes
             FROM archive_blobs b
             JOIN archives a ON a.id = b.archive_id
             LEFT JOIN confirmed c ON c.digest = b.digest
             WHERE b.digest = $1
             GROUP BY a.id, a.location, b.first_volume, b.digest, b.byte_offset, b.size, a.written_secs, b.last_volume, a.volumes
             ORDER BY a.written_secs, a.id",
        )
        .bind(digest.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(&db)?;
        rows.iter()
            .map(|row| {
                let n = |i: usize| -> Result<u64, CatalogError> {
                    let v: i64 = row.try_get(i).map_err(&db)?;
                    u64::try_from(v).map_err(|_| self.corrupt(format!("a negative number {v}")))
                };
                Ok(Holding {
                    archive: row.try_get(0).map_err(&db)?,
                    location: row.try_get(1).map_err(&db)?,
                    volume: row.try_get(2).map_err(&db)?,
                    last_volume: row.try_get(7).map_err(&db)?,
                    volumes: row.try_get(8).map_err(&db)?,
                    digest: self.digest(row, 3)?,
                    offset: n(4)?,
                    size: n(5)?,
                    confirmed: n(6)? > 0,
                })
            })
            .collect()
    }

    /// The digests images named `reference` (as written in the sources) were sent as.
    pub async fn image_digests(&self, reference: &str) -> Result<Vec<Digest>, CatalogError> {
        let db = self.db("finding an image");
        let rows = sqlx::query("SELECT DISTINCT digest FROM archive_images WHERE reference = $1")
            .bind(reference)
            .fetch_all(&self.pool)
            .await
            .map_err(&db)?;
        rows.iter().map(|row| self.digest(row, 0)).collect()
    }

    /// Every archive whose content is not confirmed, with the blobs the high side never
    /// confirmed.
    pub async fn gaps(&self) -> Result<Vec<Gap>, CatalogError> {
        let db = self.db("finding gaps");
        let open: Vec<ArchiveStatus> = self.list().await?.into_iter().filter(|a| a.status != Status::Confirmed).collect();
        let mut gaps = Vec::new();
        for archive in open {
            let rows = sqlx::query(
                "SELECT b.digest FROM archive_blobs b LEFT JOIN confirmed c ON c.digest = b.digest
                 WHERE b.archive_id = $1 AND c.digest IS NULL ORDER BY b.byte_offset",
            )
            .bind(&archive.id)
            .fetch_all(&self.pool)
            .await
            .map_err(&db)?;
            let unconfirmed = rows.iter().map(|row| self.digest(row, 0)).collect::<Result<Vec<_>, _>>()?;
            gaps.push(Gap { archive, unconfirmed });
        }
        Ok(gaps)
    }

    /// Blobs sent in archives written before `older_than` and never confirmed, each with the
    /// archives that carried it: what a delivery sends again.
    pub async fn unconfirmed_sent_before(&self, older_than: SystemTime) -> Result<BTreeMap<Digest, Vec<String>>, CatalogError> {
        let db = self.db("finding unconfirmed blobs");
        let rows = sqlx::query(
            "SELECT b.digest, a.id FROM archive_blobs b JOIN archives a ON a.id = b.archive_id
             LEFT JOIN confirmed c ON c.digest = b.digest
             WHERE c.digest IS NULL AND a.written_secs < $1",
        )
        .bind(secs(older_than))
        .fetch_all(&self.pool)
        .await
        .map_err(&db)?;
        let mut by_digest: BTreeMap<Digest, Vec<String>> = BTreeMap::new();
        for row in &rows {
            by_digest.entry(self.digest(row, 0)?).or_default().push(row.try_get(1).map_err(&db)?);
        }
        Ok(by_digest)
    }

    /// Where `digest` stands: whether the high side confirmed it, and the newest archive
    /// that carried it. One query, for the walk of a delivery to ask per blob.
    pub async fn standing(&self, digest: &Digest) -> Result<Standing, CatalogError> {
        let db = self.db("looking up a digest");
        let row = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM confirmed c WHERE c.digest = $1), a.id, a.location, a.written_secs
             FROM (SELECT 1 AS one) x
             LEFT JOIN (SELECT a.id, a.location, a.written_secs FROM archive_blobs b JOIN archives a ON a.id = b.archive_id
                        WHERE b.digest = $1 ORDER BY a.written_secs DESC, a.id DESC LIMIT 1) a ON 1 = 1",
        )
        .bind(digest.to_string())
        .fetch_one(&self.pool)
        .await
        .map_err(&db)?;
        let confirmed: i64 = row.try_get(0).map_err(&db)?;
        let id: Option<String> = row.try_get(1).map_err(&db)?;
        let newest = match id {
            None => None,
            Some(archive) => {
                let location: String = row.try_get(2).map_err(&db)?;
                let written: i64 = row.try_get(3).map_err(&db)?;
                let secs = u64::try_from(written).map_err(|_| self.corrupt(format!("archive {archive}: a negative time {written}")))?;
                Some(Sending { archive, location, written: UNIX_EPOCH + Duration::from_secs(secs) })
            }
        };
        Ok(Standing { confirmed: confirmed > 0, newest })
    }

    /// When the newest receipt imported was made (as it says), if any was.
    pub async fn latest_receipt(&self) -> Result<Option<SystemTime>, CatalogError> {
        let rows = sqlx::query("SELECT created FROM receipts").fetch_all(&self.pool).await.map_err(self.db("reading receipts"))?;
        let mut latest = None;
        for row in &rows {
            let text: String = row.try_get(0).map_err(self.db("reading receipts"))?;
            let at =
                humantime::parse_rfc3339_weak(&text).map_err(|_| self.corrupt(format!("a receipt's time {text:?} is not RFC 3339")))?;
            latest = latest.max(Some(at));
        }
        Ok(latest)
    }

    /// Every blob sent in any archive (for leaving out what was sent recently).
    pub async fn sent(&self) -> Result<BTreeSet<Digest>, CatalogError> {
        let db = self.db("listing sent blobs");
        let rows = sqlx::query("SELECT DISTINCT digest FROM archive_blobs").fetch_all(&self.pool).await.map_err(&db)?;
        rows.iter().map(|row| self.digest(row, 0)).collect()
    }

    fn digest(&self, row: &AnyRow, i: usize) -> Result<Digest, CatalogError> {
        let text: String = row.try_get(i).map_err(self.db("reading a digest"))?;
        text.parse().map_err(|_| self.corrupt(format!("{text:?} is not a digest")))
    }

    /// Closes the pool, waiting for its connections.
    pub async fn close(self) {
        self.pool.close().await;
    }
}

/// A SQLite URL for `path`, whose directory is made when missing.
fn sqlite_url(path: &Path, shown: &str) -> Result<String, CatalogError> {
    let problem = |message: String| CatalogError::Location { location: shown.to_owned(), message };
    let text = path.to_str().ok_or_else(|| problem("the path is not UTF-8".to_owned()))?;
    if text.contains(['?', '#', '%']) {
        return Err(problem("a catalog path may not contain '?', '#' or '%'".to_owned()));
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| problem(format!("making {}: {e}", dir.display())))?;
    }
    Ok(format!("sqlite://{text}?mode=rwc"))
}

/// `prefix ($1, $2, …), (…) suffix` for `rows` rows of `columns` parameters.
fn values(prefix: &str, columns: usize, rows: usize, suffix: &str) -> String {
    let mut sql = String::from(prefix);
    for r in 0..rows {
        if r > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        sql.push_str(&placeholders(r * columns + 1, columns));
        sql.push(')');
    }
    sql.push_str(suffix);
    sql
}

/// `$first, $first+1, …` (`count` of them).
fn placeholders(first: usize, count: usize) -> String {
    (first..first + count).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

fn now() -> String {
    humantime::format_rfc3339_seconds(SystemTime::now()).to_string()
}

fn secs(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Sizes and offsets are stored as BIGINT; none reaches 2^63.
fn int(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}
