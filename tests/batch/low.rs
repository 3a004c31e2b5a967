//! batch-serialize: the seed's scenario, moved tags, names, bad input, ace-dt's tracker and
//! an interrupted run.

use crate::fixture::{Low, blobs_in, image_blobs};

/// The seed: tools, ops and cicd, then ops updated. The second run writes one file with the
/// new gather index and only the new image's blobs; a third run writes nothing.
#[test]
fn weekly_scenario_sends_only_what_is_new() {
    let low = Low::new();
    low.batch_serialize(&[]).expect_code(0);
    assert_eq!(low.files(), ["000001-tools.tar", "000002-ops.tar", "000003-cicd.tar", "record-keeping.csv"]);
    let h = low.h();
    assert_eq!(
        low.tracker(),
        format!(
            "sync_name,artifact,digest\n000001-tools.tar,{h}/low/tools:v3.0.6,{}\n000002-ops.tar,{h}/low/ops:v0.2.5,{}\n000003-cicd.tar,{h}/low/cicd:v8.1,{}\n",
            low.digest("low/tools", "v3.0.6"),
            low.digest("low/ops", "v0.2.5"),
            low.digest("low/cicd", "v8.1")
        )
    );

    low.gather("ops2", &["src/ops-c:1", "src/ops-b:1"], "low/ops:v0.2.6");
    low.batch_list(&[("tools", "low/tools:v3.0.6"), ("ops", "low/ops:v0.2.6"), ("cicd", "low/cicd:v8.1")]);
    let run = low.batch_serialize(&[]);
    run.expect_code(0);
    assert!(run.stdout.contains("1 archives written, 2 already sent"), "{}", run.stdout);
    assert_eq!(low.files().len(), 5);
    let new = low.sync.join("000004-ops.tar");
    let carried = blobs_in(&new);
    let new_index = low.digest("low/ops", "v0.2.6");
    assert!(carried.contains(&new_index) && carried.contains(&low.ops_c.manifest.digest.to_string()));
    assert!(image_blobs(&low.ops_c).is_subset(&carried), "the new image's blobs are carried");
    for old in image_blobs(&low.ops_a).union(&image_blobs(&low.ops_b)) {
        assert!(!carried.contains(old), "{old} was sent before");
    }
    assert!(low.tracker().ends_with(&format!("000004-ops.tar,{h}/low/ops:v0.2.6,{new_index}\n")), "{}", low.tracker());

    let run = low.batch_serialize(&[]);
    run.expect_code(0);
    assert!(run.stdout.contains("0 archives written, 3 already sent"), "{}", run.stdout);
    assert_eq!(low.files().len(), 5);
}

/// §13 item 12: a tag that moved is sent again, as a delta against what was sent.
#[test]
fn a_moved_tag_is_sent_again_as_a_delta() {
    let low = Low::new();
    low.batch_serialize(&["--compression", "zstd"]).expect_code(0);
    low.gather("ops2", &["src/ops-c:1", "src/ops-b:1"], "low/ops:v0.2.5");
    let run = low.batch_serialize(&[]);
    run.expect_code(0);
    assert_eq!(low.files(), ["000001-tools.tar.zst", "000002-ops.tar.zst", "000003-cicd.tar.zst", "000004-ops.tar", "record-keeping.csv"]);
    let carried = blobs_in(&low.sync.join("000004-ops.tar"));
    assert!(image_blobs(&low.ops_c).is_subset(&carried));
    assert!(image_blobs(&low.ops_b).is_disjoint(&carried));
}

/// §13 item 12: names are taken in file order and may hold `-` and `.`; without a header
/// the first row is data.
#[test]
fn names_in_file_order_with_dashes_and_dots() {
    let low = Low::new();
    let h = low.h();
    let list = format!("my-app.v2,{h}/low/tools:v3.0.6\nz-last,{h}/low/cicd:v8.1\na-first,{h}/low/ops:v0.2.5\n");
    std::fs::write(low.home.path().join("batch.csv"), list).unwrap();
    low.batch_serialize(&[]).expect_code(0);
    assert_eq!(low.files(), ["000001-my-app.v2.tar", "000002-z-last.tar", "000003-a-first.tar", "record-keeping.csv"]);
    let run = low.batch_serialize(&[]);
    run.expect_code(0);
    assert!(run.stdout.contains("0 archives written, 3 already sent"), "{}", run.stdout);
}

/// Bad input names the file and line and writes nothing (exit 2).
#[test]
fn bad_batch_lists_are_named() {
    let low = Low::new();
    let h = low.h();
    for (text, want) in [
        (format!("name,artifact\ntools,{h}/low/tools:v3.0.6\nlonely\n"), "batch.csv:3: \"lonely\" needs two fields"),
        (format!("tools,{h}/low/tools:v3.0.6\nops,Not/A:Reference\n"), "batch.csv:2:"),
        (format!("-ops,{h}/low/ops:v0.2.5\n"), "batch.csv:1: name \"-ops\" cannot be a tag"),
    ] {
        std::fs::write(low.home.path().join("batch.csv"), text).unwrap();
        let run = low.batch_serialize(&[]);
        run.expect_code(2);
        assert!(run.stderr.contains(want), "{want}: {}", run.stderr);
    }
    assert!(low.files().is_empty(), "{:?}", low.files());
    let list = low.home.path().join("batch.csv");
    // A bad list makes no directory either.
    let run = low.run(&["mirror", "batch-serialize", list.to_str().unwrap(), "no-such-dir"]);
    run.expect_code(2);
    assert!(!low.home.path().join("no-such-dir").exists());
    // A file where the directory should be.
    low.batch_list(&[("tools", "low/tools:v3.0.6")]);
    let run = low.run(&["mirror", "batch-serialize", list.to_str().unwrap(), list.to_str().unwrap()]);
    run.expect_code(2);
    assert!(run.stderr.contains("is not a directory"), "{}", run.stderr);
}

/// A missing SYNC-DIRECTORY is created on the low side, nested too.
#[test]
fn a_missing_sync_directory_is_created() {
    let low = Low::new();
    let list = low.home.path().join("batch.csv");
    let dir = low.home.path().join("new").join("sync");
    low.run(&["mirror", "batch-serialize", list.to_str().unwrap(), dir.to_str().unwrap()]).expect_code(0);
    let mut names: Vec<String> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    assert_eq!(names, ["000001-tools.tar", "000002-ops.tar", "000003-cicd.tar", "record-keeping.csv"]);
}

/// A record-keeping.csv ace-dt wrote is continued: what it sent is not sent again, and the
/// numbering goes on from its last file.
#[test]
fn acedt_tracker_is_continued() {
    let low = Low::new();
    let h = low.h();
    let ops = low.digest("low/ops", "v0.2.5");
    let acedt = format!("sync_name,artifact,digest\n000007-ops.tar,{h}/low/ops:v0.2.5,{ops}\n");
    std::fs::write(low.sync.join("record-keeping.csv"), &acedt).unwrap();
    low.batch_serialize(&[]).expect_code(0);
    assert_eq!(low.files(), ["000008-tools.tar", "000009-cicd.tar", "record-keeping.csv"]);
    let tracker = low.tracker();
    assert!(tracker.starts_with(&acedt), "{tracker}");
    assert_eq!(tracker.matches("sync_name").count(), 1, "no second header: {tracker}");
}

/// An interrupted run keeps the rows of what it finished; the next run goes on from there.
#[test]
fn a_failed_run_keeps_what_it_finished() {
    let low = Low::new();
    low.batch_list(&[("tools", "low/tools:v3.0.6"), ("ops", "low/ops:missing"), ("cicd", "low/cicd:v8.1")]);
    let run = low.batch_serialize(&[]);
    run.expect_code(1);
    assert!(run.stderr.contains("low/ops:missing") && run.stderr.contains("batch.csv:3"), "{}", run.stderr);
    assert_eq!(low.files(), ["000001-tools.tar", "record-keeping.csv"]);
    assert_eq!(low.tracker().lines().count(), 2);
    low.batch_list(&[("tools", "low/tools:v3.0.6"), ("ops", "low/ops:v0.2.5"), ("cicd", "low/cicd:v8.1")]);
    low.batch_serialize(&[]).expect_code(0);
    assert_eq!(low.files(), ["000001-tools.tar", "000002-ops.tar", "000003-cicd.tar", "record-keeping.csv"]);
}

/// A tracker row that cannot be read names the tracker file and line; nothing is written.
#[test]
fn a_bad_tracker_row_is_named() {
    let low = Low::new();
    std::fs::write(low.sync.join("record-keeping.csv"), "sync_name,artifact,digest\n000001-ops.tar\n").unwrap();
    let run = low.batch_serialize(&[]);
    run.expect_code(2);
    assert!(run.stderr.contains("record-keeping.csv:2:"), "{}", run.stderr);
    assert_eq!(low.files(), ["record-keeping.csv"]);
}
