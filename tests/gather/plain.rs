//! Registries reached over the wrong scheme: a plain-HTTP registry spoken to in TLS is named
//! at once (one connection, no retries) with the config line to add; a loopback one falls back
//! to plain HTTP by itself; a TLS registry spoken to in plain HTTP is named as such.

use ferry_testkit::forward::{Forwarder, non_loopback_ip};
use ferry_testkit::{Registry, TestHome, images};
use ferry_tests::{ferry, write_file};

/// Gathers `source` into a local layout (so the source is the only registry contacted).
fn gather(home: &TestHome, config: &str, extra: &[&str], source: &str) -> ferry_tests::Run {
    let list = write_file(home, "sources.list", &format!("{source}\n"));
    let dest = format!("oci:{}:sync", home.path().join("layout").display());
    ferry(home, config, &[extra, &["mirror", "gather", &list, &dest]].concat())
}

#[test]
fn a_plain_http_registry_is_named_at_once_with_the_config_line_to_add() {
    let reg = Registry::start();
    images::single_image(&reg.pusher(), "low/app", "v1", 31);
    let home = TestHome::new();

    // Through an address that is not loopback, with no config entry: no fallback.
    let ip = non_loopback_ip().expect("this machine has an address that is not loopback");
    let remote = Forwarder::start(ip, reg.addr());
    let r = remote.addr();
    let run = gather(&home, "kind: Configuration\n", &[], &format!("{r}/low/app:v1"));
    run.expect_code(1);
    let expected = format!(
        "https://{r} answered plain HTTP to a TLS handshake: it is a plain-HTTP registry; add to the config file registryConfig: {{registries: {{\"{r}\": {{endpoints: [\"http://{r}\"]}}}}}}, or run with --plain-http {r}"
    );
    assert!(run.stderr.contains(&expected), "{}", run.stderr);
    assert!(!run.stderr.contains("InvalidContentType") && !run.stderr.contains("retried"), "{}", run.stderr);
    assert_eq!(remote.connections(), 1, "one TLS handshake, never retried");
    // The flag the message names works.
    gather(&home, "kind: Configuration\n", &["--plain-http", r], &format!("{r}/low/app:v1")).expect_code(0);

    // A loopback registry whose config says https: the configured scheme holds (no fallback).
    let local = Forwarder::start("127.0.0.1".parse().unwrap(), reg.addr());
    let l = local.addr();
    let config = format!("registryConfig:\n  registries:\n    {l}:\n      endpoints: [\"https://{l}\"]\n");
    let run = gather(&home, &config, &[], &format!("{l}/low/app:v1"));
    run.expect_code(1);
    let expected = format!(
        "https://{l} answered plain HTTP to a TLS handshake: it is a plain-HTTP registry; change its endpoint in the config file to registryConfig.registries.\"{l}\".endpoints: [\"http://{l}\"], or run with --plain-http {l}"
    );
    assert!(run.stderr.contains(&expected), "{}", run.stderr);
    assert_eq!(local.connections(), 1, "one TLS handshake, never retried");
}

#[test]
fn a_loopback_registry_falls_back_to_plain_http_without_config() {
    let reg = Registry::start();
    let p = reg.pusher();
    let img = images::single_image(&p, "low/app", "v1", 32);
    let r = reg.addr();
    let home = TestHome::new();
    let list = write_file(&home, "sources.list", &format!("{r}/low/app:v1\n"));
    let run = ferry(&home, "kind: Configuration\n", &["-v", "debug", "mirror", "gather", &list, &format!("{r}/low/mirror:sync-1")]);
    run.expect_code(0);
    assert_eq!(p.manifest_json("low/mirror", "sync-1")["manifests"][0]["digest"], img.manifest.digest.to_string());
    assert!(
        run.stderr.contains(&format!("{r} answered plain HTTP to a TLS handshake; a loopback registry: using http://{r}")),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains(&format!(" http://{r}/v2/low/app/manifests/v1 -> 200 OK")), "{}", run.stderr);
    // `localhost` is loopback too.
    let port = r.rsplit_once(':').unwrap().1;
    let list = write_file(&home, "sources.list", &format!("localhost:{port}/low/app:v1\n"));
    ferry(&home, "kind: Configuration\n", &["mirror", "gather", &list, &format!("localhost:{port}/low/mirror:sync-2")]).expect_code(0);
    assert!(p.tags("low/mirror").contains(&"sync-2".to_owned()));
}

#[test]
fn a_tls_registry_reached_over_plain_http_says_so() {
    let reg = Registry::builder().tls().start();
    let r = reg.addr();
    let home = TestHome::new();
    home.add_ca(r, &reg.ca_pem().unwrap());
    let run = gather(&home, &ferry_tests::config_for_addrs(&[r]), &[], &format!("{r}/low/app:v1"));
    run.expect_code(1);
    let expected = format!(
        "http://{r} is a TLS (https) registry, reached here over plain HTTP; change its endpoint in the config file to registryConfig.registries.\"{r}\".endpoints: [\"https://{r}\"]"
    );
    assert!(run.stderr.contains(&expected), "{}", run.stderr);
    assert!(!run.stderr.contains("registry answered 400"), "{}", run.stderr);
    let run = gather(&home, "kind: Configuration\n", &["--plain-http", r], &format!("{r}/low/app:v1"));
    run.expect_code(1);
    assert!(
        run.stderr.contains(&format!("is a TLS (https) registry, reached here over plain HTTP; leave out --plain-http {r}")),
        "{}",
        run.stderr
    );
}
