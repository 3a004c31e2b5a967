//! What the delivery catalog costs, on SQLite and on a PostgreSQL started as the tests start
//! one: recording an archive of 2,000 images, importing their receipt, and the per-blob
//! lookups `serialize --catalog` makes. For `just bench`; prints markdown table rows.
//! `cargo run --release -p ferry-catalog --example catalog_cost`.

#![allow(clippy::print_stdout, clippy::unwrap_used, missing_docs, reason = "a benchmark tool")]

use std::collections::BTreeSet;
use std::time::{Instant, SystemTime};

use ferry_catalog::{ArchiveWritten, BlobWritten, Catalog, Loaded, Location};
use ferry_oci::Digest;

const IMAGES: usize = 2_000;
/// Shared base layers: each image has three of them and four blobs of its own, as the
/// receipt benchmark has.
const BASES: usize = 50;
const LOOKUPS: usize = 10_000;

fn digest(n: usize) -> Digest {
    Digest::sha256(n.to_string().as_bytes())
}

fn delivery() -> (Vec<(String, Digest)>, BTreeSet<Digest>) {
    let mut present = BTreeSet::from([digest(usize::MAX)]);
    let mut images = Vec::new();
    for i in 0..IMAGES {
        let own = 1_000 + i * 4;
        images.push((format!("registry.example/team/app{i}:v1"), digest(own)));
        for n in [own, own + 1, own + 2, own + 3, i % BASES, (i + 7) % BASES, (i + 19) % BASES] {
            present.insert(digest(n));
        }
    }
    (images, present)
}

async fn measure(name: &str, location: &Location) {
    let catalog = Catalog::open(location).await.unwrap();
    let (images, present) = delivery();
    let mut offset = 0;
    let blobs: Vec<BlobWritten> = present
        .iter()
        .map(|d| {
            offset += 2_048;
            BlobWritten { digest: d.clone(), size: 1_024, offset, volumes: (1, 1) }
        })
        .collect();
    let archive = ArchiveWritten {
        id: "20261206T120000-00000001".to_owned(),
        root: digest(usize::MAX),
        location: "/media/w49.tar".to_owned(),
        volume: 1,
        volumes: 1,
        compression: "none".to_owned(),
        written: SystemTime::now(),
        host: "low".to_owned(),
        images,
        blobs,
    };
    let t = Instant::now();
    catalog.record_archive(&archive).await.unwrap();
    let record = t.elapsed();
    let loaded = [Loaded {
        root: digest(usize::MAX),
        file: "w49.tar".to_owned(),
        loaded: "2026-12-06T12:00:00Z".to_owned(),
        destination: "high.example/in/gather:w49".to_owned(),
        complete: true,
    }];
    let t = Instant::now();
    let outcome = catalog.import("r49", "2026-12-06T12:00:01Z", None, &loaded, &present).await.unwrap();
    let import = t.elapsed();
    assert_eq!(outcome.newly_confirmed as usize, present.len());
    // Half the lookups hit a confirmed digest, half miss, as a week's new images would.
    let t = Instant::now();
    let mut confirmed = 0;
    for i in 0..LOOKUPS {
        let d = if i % 2 == 0 { digest(1_000 + (i % (IMAGES * 4))) } else { digest(10_000_000 + i) };
        confirmed += usize::from(catalog.standing(&d).await.unwrap().confirmed);
    }
    let lookups = t.elapsed();
    assert_eq!(confirmed, LOOKUPS / 2);
    catalog.close().await;
    println!(
        "| {name} | {:.0} ms | {:.0} ms | {:.0} |",
        record.as_secs_f64() * 1e3,
        import.as_secs_f64() * 1e3,
        LOOKUPS as f64 / lookups.as_secs_f64()
    );
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    measure("SQLite (a file)", &Location::Sqlite(dir.path().join("catalog.db"))).await;
    let pg = ferry_testkit::postgres::Postgres::start();
    measure("PostgreSQL (local socket)", &Location::Postgres(pg.url())).await;
}
