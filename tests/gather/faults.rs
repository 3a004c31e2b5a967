//! Registry trouble, injected by a proxy in front of a real registry: ferry retries what is
//! transient (429 with Retry-After, 5xx, resets, cut bodies), falls back to chunked uploads on
//! 413, and refuses corrupted bytes, tagging nothing.

use ferry_testkit::{Fault, FaultProxy, Registry, Rule, TestHome, images};
use ferry_tests::{config_for_addrs, ferry, write_file};

struct Setup {
    _low: Registry,
    high: Registry,
    proxy: FaultProxy,
    home: TestHome,
    sources: String,
    image: images::Image,
}

/// `low` holds an image, reached only through `proxy`; `high` is the destination.
fn setup(rules: Vec<Rule>) -> Setup {
    let low = Registry::start();
    let high = Registry::start();
    let image = images::single_image(&low.pusher(), "low/app", "v1", 40);
    let proxy = FaultProxy::start(low.addr(), rules);
    let home = TestHome::new();
    let sources = write_file(&home, "sources.list", &format!("{}/low/app:v1\n", proxy.addr()));
    Setup { _low: low, high, proxy, home, sources, image }
}

fn gather(s: &Setup, tag: &str) -> ferry_tests::Run {
    let config = config_for_addrs(&[s.proxy.addr(), s.high.addr()]);
    ferry(&s.home, &config, &["mirror", "gather", &s.sources, &format!("{}/mirror/g:{tag}", s.high.addr())])
}

#[test]
fn retries_429_with_retry_after_and_503() {
    let s = setup(vec![
        Rule::new("HEAD", "/manifests/v1", 0, 1, Fault::Status(429, Some(1))),
        Rule::new("GET", "/blobs/", 0, 2, Fault::Status(503, None)),
    ]);
    gather(&s, "sync-1").expect_code(0);
    assert_eq!(s.proxy.count("HEAD", "/manifests/v1"), 2, "one 429, then the retry");
    let gets = s.proxy.requests().iter().filter(|r| r.method == "GET" && r.path.contains("/blobs/")).count();
    assert_eq!(gets, 3 + 2, "three blobs, two of them retried after 503");
    assert!(s.high.pusher().has_blob("mirror/g", &s.image.layers[1].digest));
}

#[test]
fn retries_resets_and_cut_bodies() {
    let s = setup(vec![Rule::new("GET", "/blobs/", 0, 1, Fault::Reset), Rule::new("GET", "/blobs/", 1, 1, Fault::TruncateBody(10))]);
    gather(&s, "sync-1").expect_code(0);
    for d in [&s.image.config, &s.image.layers[0], &s.image.layers[1]] {
        assert!(s.high.pusher().has_blob("mirror/g", &d.digest));
    }
}

#[test]
fn corrupted_bytes_are_refused_and_nothing_is_tagged() {
    let s = setup(vec![Rule::always("GET", "/blobs/", Fault::CorruptBody)]);
    let run = gather(&s, "sync-1");
    run.expect_code(1);
    assert!(run.stderr.contains("expected") && run.stderr.contains("digest"), "{}", run.stderr);
    let p = s.high.pusher();
    assert!(p.tags("mirror/g").is_empty());
    for d in [&s.image.config, &s.image.layers[0], &s.image.layers[1]] {
        assert!(!p.has_blob("mirror/g", &d.digest), "no corrupted blob may land");
    }
}

#[test]
fn persistent_server_errors_fail_with_the_status() {
    let s = setup(vec![Rule::always("HEAD", "/manifests/", Fault::Status(500, None))]);
    let run = gather(&s, "sync-1");
    run.expect_code(1);
    assert!(run.stderr.contains("500") && run.stderr.contains(s.proxy.addr()), "{}", run.stderr);
    assert_eq!(s.proxy.count("HEAD", "/manifests/"), 5, "five attempts in all");
}

#[test]
fn upload_refused_with_413_falls_back_to_chunks() {
    let low = Registry::start();
    let high = Registry::start();
    let image = images::single_image(&low.pusher(), "low/app", "v1", 41);
    let proxy = FaultProxy::start(high.addr(), vec![Rule::new("PUT", "/blobs/uploads/", 0, 1, Fault::Status(413, None))]);
    let home = TestHome::new();
    let sources = write_file(&home, "sources.list", &format!("{}/low/app:v1\n", low.addr()));
    let config = config_for_addrs(&[low.addr(), proxy.addr()]);
    ferry(&home, &config, &["mirror", "gather", &sources, &format!("{}/mirror/g:sync-1", proxy.addr())]).expect_code(0);
    assert!(proxy.count("PATCH", "/blobs/uploads/") >= 1, "{:?}", proxy.requests());
    for d in [&image.config, &image.layers[0], &image.layers[1]] {
        assert!(high.pusher().has_blob("mirror/g", &d.digest));
    }
}

/// `concurrentHTTP` bounds the requests ferry has in flight to one host.
#[test]
fn concurrency_per_host_is_bounded() {
    let low = Registry::start();
    let high = Registry::start();
    for k in 0..4 {
        images::single_image(&low.pusher(), &format!("low/app{k}"), "v1", 50 + k);
    }
    // Long enough that a second request is under way before the first answers, even on a
    // loaded machine ("and no fewer" below).
    let proxy = FaultProxy::start(low.addr(), vec![Rule::always("GET", "/blobs/", Fault::Delay(500))]);
    let home = TestHome::new();
    let list: String = (0..4).map(|k| format!("{}/low/app{k}:v1\n", proxy.addr())).collect();
    let sources = write_file(&home, "sources.list", &list);
    let config = format!("concurrentHTTP: 2\n{}", config_for_addrs(&[proxy.addr(), high.addr()]));
    ferry(&home, &config, &["mirror", "gather", &sources, &format!("{}/mirror/g:sync-1", high.addr())]).expect_code(0);
    assert_eq!(proxy.count("GET", "/blobs/"), 12);
    assert_eq!(proxy.max_in_flight(), 2, "two requests at a time, and no fewer");
}

/// A corrupted source into an OCI layout: an error, no blob file and no tag.
#[test]
fn corrupted_bytes_into_a_layout_leave_nothing() {
    let low = Registry::start();
    let image = images::image(&low.pusher(), "low/app", Some("v1"), 42, Some("linux/amd64"), false);
    let big = images::big_image(&low.pusher(), "low/big", "v1", &[2 << 20], 43);
    let proxy = FaultProxy::start(low.addr(), vec![Rule::always("GET", "/blobs/", Fault::CorruptBody)]);
    let home = TestHome::new();
    let sources = write_file(&home, "sources.list", &format!("{0}/low/app:v1\n{0}/low/big:v1\n", proxy.addr()));
    let dir = home.path().join("layout");
    let run = ferry(&home, &config_for_addrs(&[proxy.addr()]), &["mirror", "gather", &sources, &format!("oci:{}:sync-1", dir.display())]);
    run.expect_code(1);
    for d in [&image.layers[0], &big.layers[0]] {
        assert!(!dir.join("blobs/sha256").join(d.digest.hex()).exists(), "no corrupted blob file");
    }
    let index = std::fs::read_to_string(dir.join("index.json")).unwrap_or_default();
    assert!(!index.contains("sync-1"), "{index}");
}
