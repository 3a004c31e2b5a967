//! Command-line behaviour outside the mirror commands: configuration.

#![allow(clippy::unwrap_used, missing_docs, reason = "tests")]

use ferry_testkit::TestHome;
use ferry_tests::{ferry, ferry_raw};

mod readme;

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

/// `ferry plugin inspect`: a built-in rule is a usable mapper; JSON for programs; another
/// interface version is refused (exit 1); a file that is not a component is bad input naming
/// the file.
#[test]
fn plugin_inspect() {
    let home = ferry_testkit::TestHome::new();
    let wasm = home.path().join("nest.wasm");
    std::fs::write(&wasm, ferry_plugin::builtin::NEST).unwrap();
    let run = ferry_tests::ferry_raw(&home, &["plugin", "inspect", wasm.to_str().unwrap()]);
    run.expect_code(0);
    for line in ["world:     mapper", "interface: ferry:plugin@0.1.0", "exports:   map-image", "usable:    yes"] {
        assert!(run.stdout.contains(line), "{line}: {}", run.stdout);
    }
    assert!(run.stdout.contains(&ferry_tests::sha256(ferry_plugin::builtin::NEST).trim_start_matches("sha256:").to_owned()));
    let run = ferry_tests::ferry_raw(&home, &["plugin", "inspect", "--json", wasm.to_str().unwrap()]);
    run.expect_code(0);
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!((doc["world"].as_str(), doc["usable"].as_bool()), (Some("mapper"), Some(true)));
    assert_eq!(doc["size"], ferry_plugin::builtin::NEST.len());
    // Built against another interface version: described, and refused with both versions.
    let other = home.path().join("route.wasm");
    std::fs::write(&other, ferry_plugin::builtin::OLD_INTERFACE).unwrap();
    let run = ferry_tests::ferry_raw(&home, &["plugin", "inspect", other.to_str().unwrap()]);
    run.expect_code(1);
    assert!(
        run.stdout.contains("usable:    no: it was built against ferry:plugin@0.2.0, and this ferry implements 0.1.0"),
        "{}",
        run.stdout
    );
    assert!(run.stderr.contains("route.wasm: not usable"), "{}", run.stderr);
    let bad = home.path().join("notes.wasm");
    std::fs::write(&bad, b"not a component").unwrap();
    let run = ferry_tests::ferry_raw(&home, &["plugin", "inspect", bad.to_str().unwrap()]);
    run.expect_code(2);
    assert!(run.stderr.contains("notes.wasm") && run.stderr.contains("not a loadable component"), "{}", run.stderr);
}

/// Outside bytes in a message are escaped and cut short: a 4 MiB sources line holding ESC
/// and BEL gives a short error naming FILE:LINE, with no raw control byte.
#[test]
fn a_huge_bad_line_gives_a_short_escaped_message() {
    let home = TestHome::new();
    let list = home.path().join("sources.list");
    let mut bytes = b"reg.example.com/app:v1\n\x1b[31m".to_vec();
    bytes.extend(std::iter::repeat_n(b'A', 4 << 20));
    bytes.extend(b"\x07\n");
    std::fs::write(&list, bytes).unwrap();
    let run = ferry(&home, "", &["mirror", "gather", list.to_str().unwrap(), "127.0.0.1:1/mirror:sync-1"]);
    run.expect_code(2);
    assert!(run.stderr.contains(&format!("{}:2: invalid reference \"\\u{{1b}}[31mAAA", list.display())), "{}", run.stderr);
    assert!(run.stderr.len() < 1024, "{} bytes of message", run.stderr.len());
    assert!(!run.stderr.bytes().any(|b| b == 0x1b || b == 0x07), "{:?}", run.stderr);
}

/// A reader that closes standard output early (`| head`) ends ferry quietly with exit 0: no
/// panic, no exit 101. The pipe's read end is closed before ferry starts, so every write
/// meets a closed pipe.
#[test]
fn a_closed_pipe_ends_quietly() {
    let home = TestHome::new();
    for args in [vec!["plugin", "wit"], vec!["config", "--sample"], vec!["--help"]] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = std::process::Command::new(ferry_tests::binary())
            .args(&args)
            .current_dir(home.path())
            .envs(home.env())
            .stdout(writer)
            .stderr(std::process::Stdio::piped())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
    }
}
