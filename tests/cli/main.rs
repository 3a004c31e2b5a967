//! Command-line behaviour outside the mirror commands: configuration.

#![allow(clippy::unwrap_used, missing_docs, reason = "tests")]

use ferry_testkit::TestHome;
use ferry_tests::{ferry, ferry_raw};

#[test]
fn config_sample_and_effective() {
    let home = TestHome::new();
    let sample = ferry_raw(&home, &["config", "--sample"]);
    sample.expect_code(0);
    assert!(sample.stdout.contains("apiVersion: config.dt.act3-ace.io/v1alpha1") && sample.stdout.contains("rewritePull"));

    let run = ferry(&home, "concurrentHTTP: 9\n", &["config"]);
    run.expect_code(0);
    assert!(run.stdout.contains("concurrentHTTP: 9") && run.stdout.contains("ferry-config.yaml"), "{}", run.stdout);

    // No file at all: defaults.
    let run = ferry_raw(&home, &["--config", "/nonexistent/ferry.yaml", "config"]);
    run.expect_code(0);
    assert!(run.stdout.contains("concurrentHTTP: 5"));
}

#[test]
fn unknown_config_key_names_key_and_file() {
    let home = TestHome::new();
    let run = ferry(&home, "registryConfig:\n  registries:\n    reg.io:\n      endpoint: [\"http://x\"]\n", &["config"]);
    run.expect_code(2);
    assert!(
        run.stderr.contains("ferry-config.yaml") && run.stderr.contains("unknown key") && run.stderr.contains("endpoint"),
        "{}",
        run.stderr
    );
}

#[test]
fn ferry_config_variable_and_overrides() {
    let home = TestHome::new();
    let a = home.path().join("a.yaml");
    std::fs::write(&a, "concurrentHTTP: 3\n").unwrap();
    let missing = home.path().join("missing.yaml");
    let list = format!("{}:{}", missing.display(), a.display());
    let run = ferry_tests::ferry_env(&home, &[("FERRY_CONFIG", &list)], &["config"]);
    run.expect_code(0);
    assert!(run.stdout.contains("concurrentHTTP: 3") && run.stdout.contains("a.yaml"), "{}", run.stdout);

    let run = ferry_tests::ferry_env(&home, &[("FERRY_CONFIG", &list), ("FERRY_CONCURRENT_HTTP", "11")], &["config"]);
    assert!(run.stdout.contains("concurrentHTTP: 11"), "{}", run.stdout);
    let run = ferry_tests::ferry_env(&home, &[("FERRY_CONFIG", &list), ("FERRY_CONCURRENT_HTTP", "many")], &["config"]);
    run.expect_code(2);
    assert!(run.stderr.contains("FERRY_CONCURRENT_HTTP"), "{}", run.stderr);
}
