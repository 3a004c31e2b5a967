//! The fault matrix: gather, serialize, deserialize and scatter through a proxy that injects
//! 5xx, 429 with Retry-After, resets, cut and short bodies and flipped bytes, on the source
//! side and on the destination side. Every run either completes with correct content (each
//! blob of the result read back and its digest checked) or fails cleanly with nothing
//! tagged; every case checks that its fault fired.

#![allow(clippy::unwrap_used, clippy::print_stderr, missing_docs, reason = "tests; the matrix prints its figures")]

use std::collections::HashSet;
use std::io::Read;
use std::path::Path;

use ferry_testkit::{Fault, FaultProxy, Pusher, Registry, Rule, TestHome, images};
use ferry_tests::{Run, config_for_addrs, ferry, sha256, write_file};
use serde_json::Value;

/// What a case is expected to end with.
#[derive(Clone, Copy, Debug, PartialEq)]
enum End {
    /// Retried past the fault: completes with correct content.
    Completes,
    /// The fault persists: fails cleanly, nothing tagged.
    Fails,
}

/// A low side: an image with multi-MiB layers and a multi-platform index, gathered to
/// `low/mirror:sync-1` and serialized to `mirror.tar`, without faults.
struct Low {
    reg: Registry,
    home: TestHome,
    tar: String,
    /// The 3 MiB layer, whose body the body faults damage.
    layer: String,
}

fn low() -> Low {
    let reg = Registry::start();
    let p = reg.pusher();
    let big = images::big_image(&p, "low/big", "v1", &[3 << 20, 600 << 10], 81);
    images::multi_platform_index(&p, "low/base", "v1", 82);
    let r = reg.addr();
    let home = TestHome::new();
    let list = write_file(&home, "sources.list", &format!("{r}/low/big:v1\n{r}/low/base:v1\n"));
    let config = config_for_addrs(&[r]);
    ferry(&home, &config, &["mirror", "gather", &list, &format!("{r}/low/mirror:sync-1")]).expect_code(0);
    let tar = home.path().join("mirror.tar").to_str().unwrap().to_owned();
    ferry(&home, &config, &["mirror", "serialize", &format!("{r}/low/mirror:sync-1"), &tar]).expect_code(0);
    Low { reg, home, tar, layer: big.layers[0].digest.to_string() }
}

/// Tallies of the matrix, printed at the end of each test.
#[derive(Default, Debug)]
struct Tally {
    runs: u32,
    completed_correct: u32,
    clean_failures: u32,
    bad_bytes_accepted: u32,
}

/// Walks the graph under `repo:reference` in `p`, reading every manifest and blob back and
/// checking its digest. Returns the number of objects whose bytes are wrong.
fn bad_objects(p: &Pusher, repo: &str, reference: &str) -> u32 {
    let (_, bytes) = p.manifest(repo, reference).unwrap_or_else(|| panic!("{repo}:{reference} missing"));
    let mut bad = 0;
    let mut seen = HashSet::new();
    let mut work = vec![(bytes, None::<String>)];
    while let Some((bytes, expected)) = work.pop() {
        if let Some(d) = expected
            && sha256(&bytes) != d
        {
            bad += 1;
        }
        let v: Value = serde_json::from_slice(&bytes).unwrap();
        for child in v["manifests"].as_array().into_iter().flatten() {
            let d = child["digest"].as_str().unwrap().to_owned();
            if seen.insert(d.clone()) {
                let (_, b) = p.manifest(repo, &d).unwrap_or_else(|| panic!("{repo}@{d} missing"));
                work.push((b, Some(d)));
            }
        }
        let blobs = v["layers"].as_array().into_iter().flatten().chain(v.get("config"));
        for blob in blobs {
            let d = blob["digest"].as_str().unwrap().to_owned();
            if seen.insert(d.clone()) && sha256(&p.blob(repo, &d.parse().unwrap())) != d {
                bad += 1;
            }
        }
    }
    bad
}

/// Checks every blob entry of an archive against its name; returns how many are wrong.
fn bad_entries(tar: &Path) -> u32 {
    let mut archive = tar::Archive::new(std::fs::File::open(tar).unwrap());
    let mut bad = 0;
    let mut blobs = 0;
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = entry.path().unwrap().to_string_lossy().into_owned();
        if let Some(hex) = path.trim_start_matches("./").strip_prefix("blobs/sha256/") {
            let mut bytes = Vec::new();
            entry.read_to_end(&mut bytes).unwrap();
            blobs += 1;
            if sha256(&bytes) != format!("sha256:{hex}") {
                bad += 1;
            }
        }
    }
    assert!(blobs > 0, "the archive holds blobs");
    bad
}

/// Records one run's outcome: a completed run must have been expected to complete (or
/// retried past a persistent fault); a failed one must be clean (exit 1, `tagged` false).
fn record(t: &mut Tally, what: &str, end: End, run: &Run, bad: impl FnOnce() -> u32, tagged: impl FnOnce() -> bool) {
    t.runs += 1;
    match run.code {
        0 => {
            let b = bad();
            t.bad_bytes_accepted += b;
            assert_eq!(b, 0, "{what}: bad bytes accepted");
            assert_eq!(end, End::Completes, "{what}: completed past a persistent fault\n{}", run.stderr);
            t.completed_correct += 1;
        }
        1 => {
            assert_eq!(end, End::Fails, "{what}: failed\n{}", run.stderr);
            assert!(!tagged(), "{what}: tagged after a failure");
            t.clean_failures += 1;
        }
        c => panic!("{what}: exit {c}\n{}", run.stderr),
    }
}

/// A rejected upload is cancelled: its session's URL got a DELETE.
fn cancelled(proxy: &FaultProxy, what: &str) {
    assert!(proxy.count("DELETE", "/blobs/uploads/") > 0, "{what}: the rejected upload was not cancelled");
}

fn fired(proxy: &FaultProxy, what: &str) {
    let n = proxy.requests().iter().filter(|s| s.fault.is_some()).count();
    assert!(n > 0, "{what}: the fault never fired");
}

/// Faults on blob reads, from a registry: transient ones a few times, then persistent ones.
/// Body faults hit `layer` (3 MiB), so that cutting at 100,000 bytes always cuts.
fn read_faults(layer: &str) -> Vec<(Rule, End)> {
    let get = |first, times, f| Rule::new("GET", "/blobs/sha256:", first, times, f);
    let body = |times, f| Rule::new("GET", &format!("/blobs/{layer}"), 0, times, f);
    vec![
        (get(0, 2, Fault::Status(503, None)), End::Completes),
        (get(0, 1, Fault::Status(429, Some(1))), End::Completes),
        (get(0, 2, Fault::Reset), End::Completes),
        (body(2, Fault::TruncateBody(100_000)), End::Completes),
        (body(2, Fault::ShortBody(100_000)), End::Completes),
        (body(2, Fault::CorruptBody), End::Completes),
        (body(usize::MAX, Fault::CorruptBody), End::Fails),
        (body(usize::MAX, Fault::ShortBody(100_000)), End::Fails),
        (Rule::always("GET", "/blobs/sha256:", Fault::Status(500, None)), End::Fails),
    ]
}

/// Faults on blob uploads.
fn write_faults() -> Vec<(Rule, End)> {
    let put = |first, times, f| Rule::new("PUT", "/blobs/uploads/", first, times, f);
    vec![
        (put(0, 2, Fault::Status(503, None)), End::Completes),
        (put(1, 1, Fault::Status(429, Some(1))), End::Completes),
        (put(0, 2, Fault::Reset), End::Completes),
        (put(1, 1, Fault::DropAnswer), End::Completes),
        (Rule::new("POST", "/blobs/uploads/", 0, 2, Fault::Status(502, None)), End::Completes),
        (Rule::always("PUT", "/blobs/uploads/", Fault::Status(400, None)), End::Fails),
    ]
}

fn report(op: &str, t: &Tally) {
    eprintln!(
        "{op}: runs {}, completed correct {}, clean failures {}, bad bytes accepted {}",
        t.runs, t.completed_correct, t.clean_failures, t.bad_bytes_accepted
    );
}

#[test]
fn gather_through_faults_on_both_sides() {
    let low = low();
    let mut t = Tally::default();
    let cases = read_faults(&low.layer).into_iter().map(|c| (c, true)).chain(write_faults().into_iter().map(|c| (c, false)));
    for (i, ((rule, end), source_side)) in cases.enumerate() {
        let high = Registry::start();
        let what = format!("gather, {} side, {rule:?}", if source_side { "source" } else { "destination" });
        let proxy = FaultProxy::start(if source_side { low.reg.addr() } else { high.addr() }, vec![rule]);
        let (src, dst) = if source_side { (proxy.addr(), high.addr()) } else { (low.reg.addr(), proxy.addr()) };
        let list = write_file(&low.home, &format!("g{i}.list"), &format!("{src}/low/big:v1\n{src}/low/base:v1\n"));
        let config = config_for_addrs(&[src, dst]);
        let run = ferry(&low.home, &config, &["mirror", "gather", &list, &format!("{dst}/mirror/g:sync-1")]);
        fired(&proxy, &what);
        let p = high.pusher();
        record(&mut t, &what, end, &run, || bad_objects(&p, "mirror/g", "sync-1"), || p.has_manifest("mirror/g", "sync-1"));
        if end == End::Fails && !source_side {
            cancelled(&proxy, &what);
        }
    }
    report("gather", &t);
}

#[test]
fn serialize_through_faults_at_the_source() {
    let low = low();
    let mut t = Tally::default();
    for (i, (rule, end)) in read_faults(&low.layer).into_iter().enumerate() {
        let what = format!("serialize, {rule:?}");
        let proxy = FaultProxy::start(low.reg.addr(), vec![rule]);
        let tar = low.home.path().join(format!("s{i}.tar"));
        let config = config_for_addrs(&[proxy.addr()]);
        let run =
            ferry(&low.home, &config, &["mirror", "serialize", &format!("{}/low/mirror:sync-1", proxy.addr()), tar.to_str().unwrap()]);
        fired(&proxy, &what);
        // "Nothing tagged" for an archive: a failed serialize leaves no archive that verifies.
        let verifies = || ferry(&low.home, &config, &["mirror", "verify", "--complete", tar.to_str().unwrap()]).code == 0;
        record(&mut t, &what, end, &run, || bad_entries(&tar), verifies);
    }
    report("serialize", &t);
}

#[test]
fn deserialize_through_faults_at_the_destination() {
    let low = low();
    let mut t = Tally::default();
    for (rule, end) in write_faults() {
        let high = Registry::start();
        let what = format!("deserialize, {rule:?}");
        let proxy = FaultProxy::start(high.addr(), vec![rule]);
        let config = config_for_addrs(&[proxy.addr()]);
        let run = ferry(&low.home, &config, &["mirror", "deserialize", &low.tar, &format!("{}/mirror/d:sync-1", proxy.addr())]);
        fired(&proxy, &what);
        let p = high.pusher();
        record(&mut t, &what, end, &run, || bad_objects(&p, "mirror/d", "sync-1"), || p.has_manifest("mirror/d", "sync-1"));
        if end == End::Fails {
            cancelled(&proxy, &what);
        }
    }
    report("deserialize", &t);
}

#[test]
fn scatter_through_faults_at_the_destination() {
    let low = low();
    let r = low.reg.addr();
    let mut t = Tally::default();
    for (i, (rule, end)) in write_faults().into_iter().enumerate() {
        let high = Registry::start();
        let what = format!("scatter, {rule:?}");
        let proxy = FaultProxy::start(high.addr(), vec![rule]);
        let csv = write_file(&low.home, &format!("sc{i}.csv"), &format!("{r}/low/,{}/high/\n", proxy.addr()));
        let config = config_for_addrs(&[r, proxy.addr()]);
        let run = ferry(&low.home, &config, &["mirror", "scatter", &format!("{r}/low/mirror:sync-1"), &format!("first-prefix={csv}")]);
        fired(&proxy, &what);
        let p = high.pusher();
        let bad = || bad_objects(&p, "high/big", "v1") + bad_objects(&p, "high/base", "v1");
        record(&mut t, &what, end, &run, bad, || p.has_manifest("high/big", "v1") || p.has_manifest("high/base", "v1"));
        if end == End::Fails {
            cancelled(&proxy, &what);
        }
    }
    report("scatter", &t);
}
