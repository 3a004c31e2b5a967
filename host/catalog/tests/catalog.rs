//! The catalog against SQLite and a real PostgreSQL: the week-by-week loop (ship three, the
//! high side confirms two, the third is a gap until its content is confirmed), lookups,
//! idempotent imports, a newer schema refused, and concurrent writers losing nothing.

#![allow(clippy::unwrap_used, missing_docs, reason = "tests")]

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime};

use ferry_catalog::{ArchiveWritten, BlobWritten, Catalog, Loaded, Location, Status};
use ferry_oci::Digest;
use ferry_testkit::postgres::Postgres;

fn d(n: u32) -> Digest {
    Digest::sha256(format!("blob {n}").as_bytes())
}

/// An archive of `blobs` (digest numbers), root `root`, written `days_ago`.
fn archive(id: &str, root: u32, blobs: &[u32], days_ago: u64) -> ArchiveWritten {
    ArchiveWritten {
        id: id.to_owned(),
        root: d(root),
        location: format!("/media/{id}.tar"),
        volume: 1,
        volumes: 1,
        compression: "zstd".to_owned(),
        written: SystemTime::now() - Duration::from_secs(days_ago * 86_400),
        host: "low-1".to_owned(),
        images: vec![(format!("reg.example.com/app-{id}:1"), d(root + 1))],
        blobs: blobs
            .iter()
            .enumerate()
            .map(|(i, n)| BlobWritten { digest: d(*n), size: 1000 + u64::from(*n), offset: 512 * (i as u64 + 1), volumes: (1, 1) })
            .collect(),
    }
}

async fn week_by_week(location: Location) {
    let catalog = Catalog::open(&location).await.unwrap();
    // Week 1: three deliveries; 1 and 2 share a base layer (blob 10).
    catalog.record_archive(&archive("w1-a", 100, &[100, 101, 10, 11], 8)).await.unwrap();
    catalog.record_archive(&archive("w1-b", 200, &[200, 201, 10, 21], 8)).await.unwrap();
    catalog.record_archive(&archive("w1-c", 300, &[300, 301, 31, 32], 8)).await.unwrap();
    assert!(catalog.list().await.unwrap().iter().all(|a| a.status == Status::Sent));

    // The high side loaded a and b; c was lost.
    let loaded = vec![
        Loaded {
            root: d(100),
            file: "w1-a.tar".into(),
            loaded: "2026-11-28T10:00:00Z".into(),
            destination: "high/in:a".into(),
            complete: true,
        },
        Loaded {
            root: d(200),
            file: "w1-b.tar".into(),
            loaded: "2026-11-28T10:05:00Z".into(),
            destination: "high/in:b".into(),
            complete: true,
        },
    ];
    let present: BTreeSet<Digest> = [100, 101, 10, 11, 200, 201, 21].into_iter().map(d).collect();
    let first = catalog.import("receipt-1", "2026-11-28T10:06:00Z", Some("sha256:feed"), &loaded, &present).await.unwrap();
    assert_eq!((first.already, first.newly_confirmed, first.loaded), (false, 7, 2));
    let again = catalog.import("receipt-1", "2026-11-28T10:06:00Z", Some("sha256:feed"), &loaded, &present).await.unwrap();
    assert!(again.already, "a receipt imported twice changes nothing");

    let list = catalog.list().await.unwrap();
    let status: Vec<(&str, Status, u64, u64)> = list.iter().map(|a| (a.id.as_str(), a.status, a.blobs, a.confirmed)).collect();
    assert_eq!(status, [("w1-a", Status::Confirmed, 4, 4), ("w1-b", Status::Confirmed, 4, 4), ("w1-c", Status::Sent, 4, 0)]);

    // Week 2 plans: of what it would carry, the confirmed blobs go, whatever name they came
    // under (blob 10 came with a and b, blob 21 with b); the lost archive's do not.
    let week2 = [10, 21, 31, 32, 400].map(d);
    let confirmed = catalog.confirmed_among(&week2).await.unwrap();
    assert_eq!(confirmed, [10, 21].into_iter().map(d).collect());
    let stale = catalog.unconfirmed_sent_before(SystemTime::now() - Duration::from_secs(7 * 86_400)).await.unwrap();
    assert_eq!(stale.keys().cloned().collect::<BTreeSet<_>>(), [300, 301, 31, 32].into_iter().map(d).collect());
    assert_eq!(stale[&d(31)], ["w1-c"]);

    // Where a digest went: every archive, its offset, confirmed or not.
    let where10 = catalog.holdings(&d(10)).await.unwrap();
    assert_eq!(
        where10.iter().map(|h| (h.archive.as_str(), h.offset, h.confirmed)).collect::<Vec<_>>(),
        [("w1-a", 1536, true), ("w1-b", 1536, true)]
    );
    let where31 = catalog.holdings(&d(31)).await.unwrap();
    assert_eq!((where31[0].archive.as_str(), where31[0].location.as_str(), where31[0].confirmed), ("w1-c", "/media/w1-c.tar", false));
    assert_eq!(catalog.image_digests("reg.example.com/app-w1-c:1").await.unwrap(), [d(301)]);

    // The gap is the lost archive, until a receipt confirms its content (sent again in week 2).
    let gaps = catalog.gaps().await.unwrap();
    assert_eq!(gaps.len(), 1);
    assert_eq!((gaps[0].archive.id.as_str(), gaps[0].unconfirmed.len()), ("w1-c", 4));
    catalog.record_archive(&archive("w2", 500, &[500, 300, 301, 31, 32], 0)).await.unwrap();
    let present: BTreeSet<Digest> = [500, 300, 301, 31].into_iter().map(d).collect();
    let loaded = [Loaded {
        root: d(500),
        file: "w2.tar".into(),
        loaded: "2026-12-05T10:00:00Z".into(),
        destination: "high/in:w2".into(),
        complete: false,
    }];
    catalog.import("receipt-2", "2026-12-05T10:01:00Z", None, &loaded, &present).await.unwrap();
    let gaps = catalog.gaps().await.unwrap();
    let named: Vec<(&str, Vec<Digest>)> = gaps.iter().map(|g| (g.archive.id.as_str(), g.unconfirmed.clone())).collect();
    assert_eq!(named, [("w1-c", vec![d(32)]), ("w2", vec![d(32)])], "only blob 32 is still missing");
    assert_eq!(catalog.list().await.unwrap()[2].status, Status::Partial);
    catalog.close().await;

    // Opened again: the schema is there, nothing is applied twice.
    let reopened = Catalog::open(&location).await.unwrap();
    assert_eq!(reopened.list().await.unwrap().len(), 4);
    reopened.close().await;
}

/// Two catalogs (two pools, as two processes have) write at once: every archive lands.
async fn concurrent_writers(location: Location) {
    let (a, b) = tokio::join!(Catalog::open(&location), Catalog::open(&location));
    let (a, b) = (a.unwrap(), b.unwrap());
    tokio::join!(write(&a, "x"), write(&b, "y"));
    let list = a.list().await.unwrap();
    assert_eq!(list.len(), 80);
    assert!(list.iter().all(|s| s.blobs == 20 && s.status == Status::Confirmed), "{list:?}");
    a.close().await;
    b.close().await;
}

/// Forty archives and their receipts, written by one catalog.
async fn write(catalog: &Catalog, prefix: &str) {
    for i in 0..40u32 {
        let blobs: Vec<u32> = (0..20).map(|k| 10_000 + i * 20 + k).collect();
        catalog.record_archive(&archive(&format!("{prefix}-{i}"), 1_000 + i, &blobs, 0)).await.unwrap();
        let present: BTreeSet<Digest> = blobs.iter().map(|n| d(*n)).collect();
        catalog.import(&format!("{prefix}-receipt-{i}"), "2026-12-06T00:00:00Z", None, &[], &present).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_week_by_week() {
    let dir = tempfile::tempdir().unwrap();
    week_by_week(Location::Sqlite(dir.path().join("nested/catalog.db"))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_week_by_week() {
    let pg = Postgres::start();
    week_by_week(Location::Postgres(pg.url())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_concurrent_writers_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    concurrent_writers(Location::Sqlite(dir.path().join("catalog.db"))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_concurrent_writers_lose_nothing() {
    let pg = Postgres::start();
    concurrent_writers(Location::Postgres(pg.url())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_catalog_of_a_newer_ferry_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let location = Location::Sqlite(dir.path().join("catalog.db"));
    Catalog::open(&location).await.unwrap().close().await;
    let pool = sqlx::AnyPool::connect(&format!("sqlite://{}", dir.path().join("catalog.db").display())).await.unwrap();
    sqlx::query("INSERT INTO catalog_migrations (version, applied) VALUES (99, 'later')").execute(&pool).await.unwrap();
    pool.close().await;
    let err = Catalog::open(&location).await.err().unwrap().to_string();
    assert!(err.ends_with("schema version 99; this ferry knows up to 2"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_catalog_of_the_first_schema_is_brought_up_to_date_and_keeps_its_archives() {
    let dir = tempfile::tempdir().unwrap();
    let location = Location::Sqlite(dir.path().join("catalog.db"));
    let catalog = Catalog::open(&location).await.unwrap();
    catalog.record_archive(&archive("w1", 1, &[10, 11], 1)).await.unwrap();
    catalog.close().await;
    // Back to schema 1, as the ferry before media sets left it.
    let pool = sqlx::AnyPool::connect(&format!("sqlite://{}", dir.path().join("catalog.db").display())).await.unwrap();
    for statement in [
        "ALTER TABLE archives DROP COLUMN volumes",
        "ALTER TABLE archive_blobs DROP COLUMN first_volume",
        "ALTER TABLE archive_blobs DROP COLUMN last_volume",
        "DELETE FROM catalog_migrations WHERE version = 2",
    ] {
        sqlx::query(statement).execute(&pool).await.unwrap();
    }
    pool.close().await;
    let catalog = Catalog::open(&location).await.unwrap();
    let held = catalog.holdings(&d(11)).await.unwrap();
    assert_eq!(held.len(), 1);
    assert_eq!((held[0].volume, held[0].last_volume, held[0].volumes), (1, 1, 1), "an archive of before is one volume");
    let mut set = archive("w2", 2, &[11], 0);
    set.volumes = 7;
    set.blobs[0].volumes = (3, 4);
    catalog.record_archive(&set).await.unwrap();
    let held = catalog.holdings(&d(11)).await.unwrap();
    assert_eq!((held[1].volume, held[1].last_volume, held[1].volumes), (3, 4, 7));
    catalog.close().await;
}

#[test]
fn a_postgres_password_is_not_shown() {
    let location = Location::parse("postgres://ferry:s3cret@db.example.com:5432/catalog");
    assert_eq!(location.to_string(), "postgres://db.example.com:5432/catalog");
    assert_eq!(Location::parse("/var/lib/ferry/catalog.db"), Location::Sqlite("/var/lib/ferry/catalog.db".into()));
}
