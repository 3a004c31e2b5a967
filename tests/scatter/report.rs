//! Run reports (`--report`), `--retry-failed`, the debug log (`--debug`), JSON of `--check`
//! and `verify`, guarded filters (`--allow-empty`) and the plain progress lines.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ferry_testkit::proxy::{Fault, FaultProxy, Rule};
use ferry_tests::{binary, config_for_addrs, ferry};
use serde_json::Value;

use crate::fixture::Fixture;

fn read_json(path: &std::path::Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))).expect("the report is JSON")
}

/// `(destination, status)` of every placement in a report.
fn placements(report: &Value) -> Vec<(String, String)> {
    report["artifacts"]
        .as_array()
        .expect("artifacts")
        .iter()
        .filter_map(|a| Some((a["destination"].as_str()?.to_owned(), a["status"].as_str()?.to_owned())))
        .collect()
}

/// A scatter whose first manifest PUT to one destination is refused: the report names it
/// failed with the registry's answer, `--retry-failed` places exactly what was not placed,
/// and what the first run placed is not touched again.
#[test]
fn a_failed_scatter_is_reported_and_retry_failed_redoes_only_what_failed() {
    let f = Fixture::gathered();
    let proxy = FaultProxy::start(f.h(), vec![Rule::new("PUT", "/v2/high/report/source1/manifests/", 0, 1, Fault::Status(403, None))]);
    let config = config_for_addrs(&[f.h(), proxy.addr()]);
    let rule = format!("first-prefix={}", f.file("r.csv", &format!("H/low/,{}/high/report/\n", proxy.addr())));
    let first = f.home.path().join("first.json");
    let run = ferry(&f.home, &config, &["mirror", "scatter", "--report", first.to_str().unwrap(), &f.mirror(), &rule]);
    run.expect_code(1);
    assert_eq!(proxy.requests().iter().filter(|s| s.status == 403).count(), 1, "the fault fired once");

    let report = read_json(&first);
    assert_eq!(report["schemaVersion"], 1);
    assert_eq!(report["exitCode"], 1);
    assert!(report["error"].as_str().is_some_and(|e| e.contains("403") || e.contains("denied")), "{report:#}");
    assert_eq!(report["command"], "mirror scatter");
    let done = placements(&report);
    assert_eq!(done.len(), 2, "both destinations planned: {done:?}");
    let source1 = format!("{}/high/report/source1:v1", proxy.addr());
    let failed = done.iter().find(|(d, _)| *d == source1).expect("source1's placement");
    assert_eq!(failed.1, "failed", "{report:#}");
    let reason = report["artifacts"].as_array().unwrap().iter().find(|a| a["destination"] == source1.as_str()).unwrap()["reason"].clone();
    assert!(reason.as_str().is_some_and(|r| r.contains("403") || r.contains("denied")), "{reason}");
    assert!(report["blobs"].as_array().is_some_and(|b| !b.is_empty()), "blob records: {report:#}");
    assert!(!f.p.has_manifest("high/report/source1", "v1"), "nothing tagged where the PUT failed");

    let second = f.home.path().join("second.json");
    let run = ferry(
        &f.home,
        &config,
        &["mirror", "scatter", "--retry-failed", first.to_str().unwrap(), "--report", second.to_str().unwrap(), &f.mirror(), &rule],
    );
    run.expect_code(0);
    assert!(f.holds("high/report/source1", "v1", &f.img_digest()));
    f.assert_complete("high/report/source1");
    let retried = placements(&read_json(&second));
    let undone: Vec<_> = done.iter().filter(|(_, s)| s != "copied").map(|(d, _)| (d.clone(), "copied".to_owned())).collect();
    assert_eq!(retried, undone, "the retry places what the first run did not, and nothing else");
    for (d, status) in &done {
        if status == "copied" {
            assert!(!retried.iter().any(|(r, _)| r == d), "{d} was placed by the first run and not again");
        }
    }

    // A report of another command is refused before anything is done.
    let gather_report = f.home.path().join("gather.json");
    f.run(&["mirror", "gather", "--report", gather_report.to_str().unwrap(), &f.sources, &f.mirror()]).expect_code(0);
    let run = ferry(&f.home, &config, &["mirror", "scatter", "--retry-failed", gather_report.to_str().unwrap(), &f.mirror(), &rule]);
    run.expect_code(2);
    assert!(run.stderr.contains("not of a scatter"), "{}", run.stderr);
}

/// A gather stopped by SIGINT exits 130 and still writes its report, with the source under
/// way marked failed.
#[test]
fn an_interrupted_run_still_writes_its_report() {
    let f = Fixture::new();
    // Blob reads through the proxy hang long enough to interrupt the run mid-copy.
    let proxy = FaultProxy::start(f.h(), vec![Rule::always("GET", "/blobs/", Fault::Delay(20_000))]);
    let sources = f.file("slow.list", &format!("{}/low/source1:v1\n", proxy.addr()));
    let config_path = f.home.path().join("slow.yaml");
    std::fs::write(&config_path, config_for_addrs(&[f.h(), proxy.addr()])).unwrap();
    let report = f.home.path().join("interrupted.json");
    let mut child = Command::new(binary())
        .args(["--config", config_path.to_str().unwrap(), "mirror", "gather", "--report", report.to_str().unwrap()])
        .args([sources.as_str(), &format!("{}/low/stopped:v1", f.h())])
        .current_dir(f.home.path())
        .envs(f.home.env())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let began = Instant::now();
    // The manifest answers at once; the blob reads behind it are held by the proxy.
    while proxy.count("GET", "/manifests/") == 0 && began.elapsed() < Duration::from_secs(15) {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(proxy.count("GET", "/manifests/") > 0, "the gather reached the source");
    std::thread::sleep(Duration::from_millis(500));
    let killed = Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    assert!(began.elapsed() < Duration::from_secs(15), "stopped at once, not after the delay");
    let report = read_json(&report);
    assert_eq!(report["exitCode"], 130);
    assert_eq!(report["error"], "interrupted");
    let source = &report["artifacts"][0];
    assert_eq!(source["status"], "failed", "{report:#}");
    assert_eq!(source["reason"], "interrupted");
    assert!(!f.p.has_manifest("low/stopped", "v1"), "nothing tagged");
}

/// `--debug FILE` writes one JSON object per event; a directory gets `logs.txt`, as ace-dt.
#[test]
fn the_debug_log_has_a_json_line_per_event() {
    let f = Fixture::new();
    // Another registry, so blobs are uploaded (bytes flow) rather than mounted.
    let other = ferry_testkit::Registry::start();
    let config = config_for_addrs(&[f.h(), other.addr()]);
    let dir = f.home.path().join("debug");
    std::fs::create_dir(&dir).unwrap();
    let dest = format!("{}/far/mirror:1", other.addr());
    ferry(&f.home, &config, &["mirror", "gather", "--debug", dir.to_str().unwrap(), &f.sources, &dest]).expect_code(0);
    let text = std::fs::read_to_string(dir.join("logs.txt")).unwrap();
    let events: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).expect("a JSON line")).collect();
    let kinds: Vec<&str> = events.iter().filter_map(|e| e["event"].as_str()).collect();
    assert_eq!(kinds.first(), Some(&"stage"), "{kinds:?}");
    assert_eq!(events[0]["stage"], "gathering");
    assert_eq!(kinds.iter().filter(|k| **k == "sourceDone").count(), 2, "{kinds:?}");
    assert!(kinds.contains(&"blobCopied") && kinds.contains(&"progress"), "{kinds:?}");
    let copied = events.iter().find(|e| e["event"] == "blobCopied").unwrap();
    assert!(copied["digest"].as_str().is_some_and(|d| d.starts_with("sha256:")) && copied["retries"] == 0, "{copied}");
    assert!(events.iter().all(|e| e["time"].as_str().is_some_and(|t| t.ends_with('Z'))), "every line is timed");
}

/// `--check -o json` and `verify -o json` print one document that a program can read.
#[test]
fn check_and_verify_print_json() {
    let f = Fixture::gathered();
    let run = f.run(&["mirror", "scatter", "--check", "-o", "json", &f.mirror(), &f.under("json")]);
    run.expect_code(0);
    let plan: Value = serde_json::from_str(run.stdout.trim()).expect("one JSON document");
    assert_eq!(plan["artifacts"], 2);
    let dests: Vec<&str> = plan["placements"].as_array().unwrap().iter().map(|p| p["destination"].as_str().unwrap()).collect();
    assert!(dests.contains(&format!("{}/high/json/source1:v1", f.h()).as_str()), "{dests:?}");
    assert!(f.p.tags("high/json/source1").is_empty(), "--check copies nothing");

    let archive = f.home.path().join("w.tar");
    f.run(&["mirror", "serialize", &f.mirror(), archive.to_str().unwrap()]).expect_code(0);
    let run = f.run(&["mirror", "verify", "-o", "json", archive.to_str().unwrap()]);
    run.expect_code(0);
    let v: Value = serde_json::from_str(run.stdout.trim()).expect("one JSON document");
    assert_eq!(v["ok"], true);
    assert!(v["blobs"].as_u64().is_some_and(|b| b > 3), "{v}");

    // A damaged archive: still one document, `ok: false`, exit 1.
    let mut bytes = std::fs::read(&archive).unwrap();
    let layer = f.p.blob("low/source1", &f.img1.layers[0].digest);
    let at = bytes.windows(layer.len()).position(|w| w == layer.as_slice()).expect("the layer is in the archive");
    bytes[at + layer.len() / 2] ^= 0xff;
    std::fs::write(&archive, bytes).unwrap();
    let run = f.run(&["mirror", "verify", "-o", "json", archive.to_str().unwrap()]);
    run.expect_code(1);
    let v: Value = serde_json::from_str(run.stdout.trim()).expect("one JSON document");
    assert_eq!(v["ok"], false);
    assert!(v["faults"].as_array().is_some_and(|f| !f.is_empty()), "{v}");
}

/// Filters that keep nothing are errors naming what was asked and what there is, unless
/// `--allow-empty`.
#[test]
fn filters_that_keep_nothing_are_errors_unless_allowed() {
    let f = Fixture::gathered();
    let run = f.run(&["mirror", "gather", "-p", "linux/s390x", &f.sources, &format!("{}/low/empty:1", f.h())]);
    run.expect_code(1);
    assert!(run.stderr.contains("nothing matches the platforms asked for (linux/s390x)"), "{}", run.stderr);
    assert!(run.stderr.contains("linux/amd64"), "names the platforms the source has: {}", run.stderr);
    assert!(!f.p.has_manifest("low/empty", "1"), "no empty gather index");

    let run = f.run(&["mirror", "gather", "--allow-empty", "-p", "linux/s390x", &f.sources, &format!("{}/low/empty:2", f.h())]);
    run.expect_code(0);
    assert!(run.stderr.contains("left out"), "a warning for each: {}", run.stderr);
    assert!(f.p.has_manifest("low/empty", "2"));

    let run = f.run(&["mirror", "scatter", "-l", "component=nothing", &f.mirror(), &f.under("none")]);
    run.expect_code(2);
    assert!(run.stderr.contains("-l component=nothing matches no artifact"), "{}", run.stderr);
    f.run(&["mirror", "scatter", "--allow-empty", "-l", "component=nothing", &f.mirror(), &f.under("none")]).expect_code(0);
    let subset = f.file("other.list", "H/low/elsewhere:v1\n");
    let run = f.run(&["mirror", "scatter", "--subset", &subset, &f.mirror(), &f.under("none")]);
    run.expect_code(2);
    assert!(run.stderr.contains(&format!("--subset {subset} matches no artifact")), "{}", run.stderr);

    let run = f.run(&["mirror", "clone", "-l", "component=nothing", &f.sources, &f.under("none")]);
    run.expect_code(2);
    assert!(run.stderr.contains("matches no artifact"), "{}", run.stderr);
}

/// Without a terminal, progress is timestamped lines; the summary ends with the time taken,
/// and `clone --check` copies nothing and says so.
#[test]
fn plain_progress_is_timestamped_and_summaries_end_with_the_duration() {
    let f = Fixture::new();
    let run = f.run(&["mirror", "gather", "--no-term", &f.sources, &f.mirror()]);
    run.expect_code(0);
    let lines: Vec<&str> = run.stdout.lines().collect();
    let stamped = |l: &&str| l.len() > 21 && l.as_bytes()[4] == b'-' && l[..20].ends_with('Z');
    assert!(lines.iter().any(|l| stamped(l) && l.ends_with("gather: 2 sources")), "{}", run.stdout);
    assert_eq!(lines.iter().filter(|l| stamped(l) && l.contains(" Copied ")).count(), 2, "{}", run.stdout);
    let last = lines.last().unwrap();
    assert!(last.starts_with("Pushed index to destination") && last.contains("; took "), "{last}");

    let run = f.run(&["mirror", "clone", "--check", &f.sources, &f.under("check")]);
    run.expect_code(0);
    assert!(!run.stdout.contains("Copied"), "a check copies nothing: {}", run.stdout);
    assert_eq!(run.stdout.lines().filter(|l| l.contains(" Resolved ")).count(), 2, "{}", run.stdout);
}
