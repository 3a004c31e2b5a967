//! batch-deserialize: everything in numeric order, each root tagged with its name, each file
//! recorded as it succeeds; stray files skipped; ace-dt's successful-syncs.csv continued.

use ferry_testkit::Registry;

use crate::fixture::Low;

/// The low side's two weekly runs, then the high side.
fn two_weeks() -> Low {
    let low = Low::new();
    low.batch_serialize(&[]).expect_code(0);
    low.gather("ops2", &["src/ops-c:1", "src/ops-b:1"], "low/ops:v0.2.6");
    low.batch_list(&[("tools", "low/tools:v3.0.6"), ("ops", "low/ops:v0.2.6"), ("cicd", "low/cicd:v8.1")]);
    low.batch_serialize(&[]).expect_code(0);
    low
}

fn syncs(low: &Low) -> String {
    std::fs::read_to_string(low.sync.join("successful-syncs.csv")).unwrap()
}

#[test]
fn the_high_side_loads_everything_and_tags_each_name() {
    let low = two_weeks();
    let high = Registry::start();
    let hp = high.pusher();
    let dest = format!("{}/mirror/batch", high.addr());
    let sync = low.sync.to_str().unwrap();
    low.run_with(&high, &["mirror", "batch-deserialize", sync, &dest]).expect_code(0);
    assert_eq!(hp.tags("mirror/batch"), ["cicd", "ops", "tools"]);
    // ops was loaded twice; the later file, v0.2.6, holds the tag.
    let (_, ops) = hp.manifest("mirror/batch", "ops").unwrap();
    assert_eq!(ferry_tests::sha256(&ops), low.digest("low/ops", "v0.2.6"));
    for img in [&low.ops_a, &low.ops_b, &low.ops_c] {
        assert!(hp.has_manifest("mirror/batch", &img.manifest.digest.to_string()));
        for blob in std::iter::once(&img.config).chain(&img.layers) {
            assert!(hp.has_blob("mirror/batch", &blob.digest));
        }
    }
    let text = syncs(&low);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "filename,artifact,timestamp");
    let files: Vec<&str> = lines[1..].iter().map(|l| l.split(',').next().unwrap()).collect();
    assert_eq!(files, ["000001-tools.tar", "000002-ops.tar", "000003-cicd.tar", "000004-ops.tar"]);
    assert!(lines[2].starts_with(&format!("000002-ops.tar,{dest}:ops,")), "{}", lines[2]);

    let run = low.run_with(&high, &["mirror", "batch-deserialize", sync, &dest]);
    run.expect_code(0);
    assert!(run.stdout.contains("Nothing new"), "{}", run.stdout);
    assert_eq!(syncs(&low), text);
}

/// §13 item 13: stray files are skipped with a note; a damaged archive stops the run with its
/// name, the files before it recorded.
#[test]
fn stray_files_are_skipped_and_a_bad_archive_stops_the_run() {
    let low = two_weeks();
    std::fs::write(low.sync.join("notes.txt"), "for the operators\n").unwrap();
    std::fs::write(low.sync.join("000009-half.tar.partial"), "cut").unwrap();
    std::fs::write(low.sync.join("000010-bad.tar"), vec![7u8; 4096]).unwrap();
    let high = Registry::start();
    let dest = format!("{}/mirror/batch", high.addr());
    let sync = low.sync.to_str().unwrap();
    let run = low.run_with(&high, &["mirror", "batch-deserialize", sync, &dest]);
    run.expect_code(1);
    assert!(run.stderr.contains("skipped: notes.txt: not a sync file"), "{}", run.stderr);
    assert!(run.stderr.contains("skipped: 000009-half.tar.partial"), "{}", run.stderr);
    assert!(run.stderr.contains("000010-bad.tar"), "{}", run.stderr);
    assert_eq!(syncs(&low).lines().count(), 5, "header and the four good files");
    assert!(!high.pusher().tags("mirror/batch").contains(&"bad".to_owned()));
}

/// A successful-syncs.csv ace-dt wrote (its timestamp format included) is continued.
#[test]
fn acedt_sync_file_is_continued() {
    let low = two_weeks();
    let high = Registry::start();
    let dest = format!("{}/mirror/batch", high.addr());
    let acedt =
        format!("filename,artifact,timestamp\n000001-tools.tar,{dest}:tools,2024-08-15 16:03:34.875740174 -0400 EDT m=+0.096890310\n");
    std::fs::write(low.sync.join("successful-syncs.csv"), &acedt).unwrap();
    low.run_with(&high, &["mirror", "batch-deserialize", low.sync.to_str().unwrap(), &dest]).expect_code(0);
    let text = syncs(&low);
    assert!(text.starts_with(&acedt), "{text}");
    assert_eq!(text.lines().count(), 5);
    assert_eq!(high.pusher().tags("mirror/batch"), ["cicd", "ops"], "tools was loaded before, by ace-dt");

    let run = low.run_with(&high, &["mirror", "batch-deserialize", low.sync.to_str().unwrap(), &format!("{dest}:x")]);
    run.expect_code(2);
    assert!(run.stderr.contains("without a tag"), "{}", run.stderr);
}

/// A site's own tracker component (the JSON-lines example) on both sides.
#[test]
fn a_site_tracker_component_keeps_json_lines() {
    let low = Low::new();
    let wasm = low.home.path().join("jsonl_tracker.wasm");
    std::fs::write(&wasm, ferry_plugin::examples::JSONL_TRACKER).unwrap();
    let wasm = wasm.to_str().unwrap();
    let jsonl = ["--tracker", wasm, "--tracker-filename", "sent.jsonl"];
    low.batch_serialize(&jsonl).expect_code(0);
    let sent = std::fs::read_to_string(low.sync.join("sent.jsonl")).unwrap();
    let rows: Vec<serde_json::Value> = sent.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[1]["sync_name"], "000002-ops.tar");
    assert_eq!(rows[1]["digest"], low.digest("low/ops", "v0.2.5"));
    let run = low.batch_serialize(&jsonl);
    run.expect_code(0);
    assert!(run.stdout.contains("0 archives written, 3 already sent"), "{}", run.stdout);
    assert!(!low.sync.join("record-keeping.csv").exists());

    let high = Registry::start();
    let dest = format!("{}/mirror/batch", high.addr());
    let sync = low.sync.to_str().unwrap();
    let args = ["mirror", "batch-deserialize", "--tracker", wasm, "--sync-filename", "loaded.jsonl", sync, &dest];
    low.run_with(&high, &args).expect_code(0);
    let loaded = std::fs::read_to_string(low.sync.join("loaded.jsonl")).unwrap();
    let rows: Vec<serde_json::Value> = loaded.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0]["artifact"], format!("{dest}:tools"));
    assert_eq!(high.pusher().tags("mirror/batch"), ["cicd", "ops", "tools"]);

    // The wrong world is refused.
    let nest = low.home.path().join("nest.wasm");
    std::fs::write(&nest, ferry_plugin::builtin::NEST).unwrap();
    let run = low.batch_serialize(&["--tracker", nest.to_str().unwrap()]);
    run.expect_code(2);
    assert!(run.stderr.contains("not a ferry:plugin/tracker@0.1.1 component"), "{}", run.stderr);
}

/// `--receipt`: every archive loaded, where its root was tagged, and what is there of each.
#[test]
fn the_receipt_names_every_archive_loaded() {
    let low = two_weeks();
    let high = Registry::start();
    let dest = format!("{}/mirror/batch", high.addr());
    let sync = low.sync.to_str().unwrap();
    let receipt_path = low.sync.join("loaded.receipt.json");
    let run = low.run_with(&high, &["mirror", "batch-deserialize", "--receipt", receipt_path.to_str().unwrap(), sync, &dest]);
    run.expect_code(0);
    let receipt: serde_json::Value = serde_json::from_slice(&std::fs::read(&receipt_path).unwrap()).unwrap();
    let files: Vec<&str> = receipt["archives"].as_array().unwrap().iter().map(|a| a["file"].as_str().unwrap()).collect();
    assert_eq!(files, ["000001-tools.tar", "000002-ops.tar", "000003-cicd.tar", "000004-ops.tar"]);
    assert_eq!(receipt["archives"][1]["destination"], format!("{dest}:ops"));
    assert!(receipt["images"].as_array().unwrap().iter().all(|i| i["complete"] == true), "{receipt}");
    let present: Vec<&str> = receipt["present"].as_array().unwrap().iter().map(|d| d.as_str().unwrap()).collect();
    for img in [&low.ops_a, &low.ops_b, &low.ops_c] {
        assert!(present.contains(&img.manifest.digest.to_string().as_str()), "{present:?}");
        assert!(img.layers.iter().all(|l| present.contains(&l.digest.to_string().as_str())));
    }
}
