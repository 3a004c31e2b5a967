//! Bad input and unreachable registries: a clear message naming the file and line or the
//! host, the contract's exit code, and nothing tagged at the destination.

use ferry_testkit::{Registry, TestHome, images};
use ferry_tests::{ferry, write_file};

#[test]
fn bad_sources_lines_name_file_and_line() {
    let reg = Registry::start();
    let r = reg.addr();
    images::single_image(&reg.pusher(), "low/ok", "v1", 30);
    let home = TestHome::new();
    for (text, needle) in [
        (format!("{r}/low/ok:v1\n{r}/low/ok:v1,novalue\n"), "sources.list:2: label \"novalue\" should be in key=value format"),
        (format!("{r}/low/ok:v1\nalpine\n"), "sources.list:2: invalid reference \"alpine\": missing registry or repository"),
        (format!("{r}/low/ok:v1,Bad Key=x\n"), "sources.list:1: invalid label"),
        (format!("{r}/low/ok:v1\n{r}/Upper/case:v1\n"), "sources.list:2: invalid reference"),
        (format!("{r}/low/ok:v1,a=1\n{r}/low/ok:v1,a=2\n"), "sources.list:2: source"),
    ] {
        let list = write_file(&home, "sources.list", &text);
        let run = ferry(&home, &reg.ferry_config(), &["mirror", "gather", &list, &format!("{r}/low/mirror:sync-1")]);
        run.expect_code(2);
        assert!(run.stderr.contains(needle), "{text:?}\n{}", run.stderr);
    }
    assert!(reg.pusher().tags("low/mirror").is_empty());
}

#[test]
fn bad_arguments_are_usage_errors() {
    let reg = Registry::start();
    let home = TestHome::new();
    let list = write_file(&home, "sources.list", "");
    for args in [
        vec!["mirror", "gather", list.as_str(), "notaref"],
        vec!["mirror", "gather", "-p", "linux", list.as_str(), "reg.io/a:b"],
        vec!["mirror", "gather", "-a", "novalue", list.as_str(), "reg.io/a:b"],
        vec!["mirror", "gather", "missing.list", "reg.io/a:b"],
        vec!["mirror", "gather", list.as_str()],
        vec!["mirror", "gather", list.as_str(), "reg.io/a@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"],
    ] {
        let run = ferry(&home, &reg.ferry_config(), &args);
        run.expect_code(2);
        assert!(run.stderr.contains("error"), "{args:?}: {}", run.stderr);
    }
}

#[test]
fn unreachable_or_missing_sources_fail_with_nothing_tagged() {
    let reg = Registry::start();
    let r = reg.addr();
    let p = reg.pusher();
    images::single_image(&p, "low/ok", "v1", 31);
    let home = TestHome::new();
    // Port 1 on loopback: nothing listens there.
    let list = write_file(&home, "sources.list", &format!("{r}/low/ok:v1\n127.0.0.1:1/low/x:v1\n"));
    let config = format!("{}    127.0.0.1:1:\n      endpoints: [\"http://127.0.0.1:1\"]\n", reg.ferry_config());
    let run = ferry(&home, &config, &["mirror", "gather", &list, &format!("{r}/low/mirror:sync-1")]);
    run.expect_code(1);
    assert!(run.stderr.contains("127.0.0.1:1") && run.stderr.contains("line 2"), "{}", run.stderr);

    let list = write_file(&home, "sources.list", &format!("{r}/low/ok:v1\n{r}/low/missing:v9\n"));
    let run = ferry(&home, &reg.ferry_config(), &["mirror", "gather", &list, &format!("{r}/low/mirror:sync-1")]);
    run.expect_code(1);
    assert!(run.stderr.contains("low/missing:v9") && run.stderr.contains("not found"), "{}", run.stderr);
    assert!(p.tags("low/mirror").is_empty(), "nothing tagged after a failed gather");
}
