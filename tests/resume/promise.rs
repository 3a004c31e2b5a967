//! The tag promise: a manifest answering HEAD is never taken for a complete graph.

use ferry_testkit::Registry;
use ferry_tests::ferry;

use crate::{blob_entries, fetch_whole_graph, low};

/// A destination pre-seeded through the blob API (every manifest as a plain blob, every blob
/// but one layer), and an archive that carries none of it: deserialize must refuse to tag and
/// name the missing layer; once the layer is there, the same archive loads.
#[test]
fn deserialize_refuses_to_tag_over_blob_api_manifests_with_a_layer_missing() {
    let l = low();
    let high = Registry::start();
    let config = ferry_tests::config_for(&[&l.reg, &high]);
    let full = l.home.path().join("full.tar");
    let ledger = l.home.path().join("full.jsonl");
    ferry(&l.home, &config, &["mirror", "serialize", "--checkpoint", ledger.to_str().unwrap(), &l.image, full.to_str().unwrap()])
        .expect_code(0);
    // Everything was delivered before: the archive holds index.json alone.
    let size = std::fs::metadata(&full).unwrap().len();
    let thin = l.home.path().join("thin.tar");
    let checkpoint = format!("{}:{size}", ledger.display());
    ferry(&l.home, &config, &["mirror", "serialize", &l.image, thin.to_str().unwrap(), "--existing-from-checkpoint", &checkpoint])
        .expect_code(0);
    assert!(blob_entries(&thin).is_empty(), "the thin archive carries no blobs");

    // Pre-seed through the blob API, leaving out the big image's largest layer.
    let entries = blob_entries(&full);
    let (missing, _, _) = entries.iter().max_by_key(|e| e.2).unwrap().clone();
    let q = high.pusher();
    let mut archive = tar::Archive::new(std::fs::File::open(&full).unwrap());
    let dir = tempfile::tempdir().unwrap();
    for e in archive.entries().unwrap() {
        let mut e = e.unwrap();
        let name = e.path().unwrap().to_string_lossy().into_owned();
        let Some(hex) = name.strip_prefix("blobs/sha256/") else { continue };
        let digest = format!("sha256:{hex}");
        if digest == missing {
            continue;
        }
        let file = dir.path().join(hex);
        e.unpack(&file).unwrap();
        q.push_blob_file("high/app", &file, &digest.parse().unwrap());
    }
    // What fooled the old check: the registry may answer HEAD for a manifest pushed as a blob.
    eprintln!("HEAD on the gather index as a manifest: {}", q.status("HEAD", &format!("/v2/high/app/manifests/{}", entries[0].0)));

    let dest = format!("{}/high/app:sync-1", high.addr());
    let run = ferry(&l.home, &config, &["mirror", "deserialize", thin.to_str().unwrap(), &dest]);
    run.expect_code(1);
    assert!(run.stderr.contains(&missing), "names the missing layer:\n{}", run.stderr);
    assert!(run.stderr.contains("nothing tagged"), "{}", run.stderr);
    assert!(run.stderr.contains("to complete it:"), "says how to finish:\n{}", run.stderr);
    assert!(q.tags("high/app").is_empty(), "nothing tagged: {:?}", q.tags("high/app"));

    // The layer arrives (as a continuation would bring it): the same archive now completes.
    let (_, at, len) = entries.iter().find(|e| e.0 == missing).unwrap().clone();
    let bytes = std::fs::read(&full).unwrap()[(at + 512) as usize..(at + 512 + len) as usize].to_vec();
    q.push_blob("high/app", "application/octet-stream", &bytes);
    ferry(&l.home, &config, &["mirror", "deserialize", thin.to_str().unwrap(), &dest]).expect_code(0);
    let seen = fetch_whole_graph(&q, "high/app", "sync-1");
    assert_eq!(seen.len(), entries.len(), "every blob of the archive's graph is there");
}

/// gather into a destination that answers for the image's manifest (pushed as a plain blob)
/// but lacks a layer: the layer is uploaded before the gather index is tagged.
#[test]
fn gather_checks_the_graph_under_a_manifest_the_destination_has() {
    let src = Registry::start();
    let p = src.pusher();
    let img = ferry_testkit::images::single_image(&p, "low/app", "v1", 31);
    let dst = Registry::start();
    let q = dst.pusher();
    q.push_blob("high/app", "application/octet-stream", &img.bytes);
    let config_bytes = p.blob("low/app", &img.config.digest);
    q.push_blob("high/app", "application/octet-stream", &config_bytes);
    for layer in &img.layers[1..] {
        q.push_blob("high/app", "application/octet-stream", &p.blob("low/app", &layer.digest));
    }
    assert!(!q.has_blob("high/app", &img.layers[0].digest));

    let home = ferry_testkit::TestHome::new();
    let config = ferry_tests::config_for(&[&src, &dst]);
    let list = ferry_tests::write_file(&home, "sources.list", &format!("{}/low/app:v1\n", src.addr()));
    ferry(&home, &config, &["mirror", "gather", &list, &format!("{}/high/app:sync", dst.addr())]).expect_code(0);
    assert!(q.has_blob("high/app", &img.layers[0].digest), "the missing layer was uploaded");
    fetch_whole_graph(&q, "high/app", "sync");
}
