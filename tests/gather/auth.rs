//! TLS and basic auth: credentials from Docker's config.json, the CA from certs.d, and the
//! failures an operator meets (no credentials, unknown CA) with nothing tagged.

use ferry_testkit::{Registry, TestHome, images};
use ferry_tests::{ferry, write_file};

#[test]
fn tls_and_basic_auth() {
    let reg = Registry::builder().tls().basic_auth("tester", "s3cret-pass").start();
    let p = reg.pusher();
    let img = images::single_image(&p, "low/private", "v1", 20);
    let r = reg.addr();
    let dest = format!("{r}/low/mirror:sync-1");

    // Credentials and CA from the test home: works, over TLS, with mounts.
    let mut home = TestHome::new();
    home.add_auth(r, "tester", "s3cret-pass");
    home.add_ca(r, &reg.ca_pem().unwrap());
    let list = write_file(&home, "sources.list", &format!("{r}/low/private:v1\n"));
    ferry(&home, "kind: Configuration\n", &["mirror", "gather", &list, &dest]).expect_code(0);
    assert_eq!(p.manifest_json("low/mirror", "sync-1")["manifests"][0]["digest"], img.manifest.digest.to_string());

    // No credentials: exit 1, the host named, the password never printed, nothing tagged.
    let anon = TestHome::new();
    anon.add_ca(r, &reg.ca_pem().unwrap());
    let list = write_file(&anon, "sources.list", &format!("{r}/low/private:v1\n"));
    let run = ferry(&anon, "kind: Configuration\n", &["mirror", "gather", &list, &format!("{r}/low/mirror:sync-2")]);
    run.expect_code(1);
    assert!(run.stderr.contains(r) && run.stderr.contains("unauthorized"), "{}", run.stderr);
    assert!(!p.tags("low/mirror").contains(&"sync-2".to_owned()));

    // Wrong password: rejected, and the password does not appear in the output.
    let mut wrong = TestHome::new();
    wrong.add_auth(r, "tester", "not-the-password");
    wrong.add_ca(r, &reg.ca_pem().unwrap());
    let list = write_file(&wrong, "sources.list", &format!("{r}/low/private:v1\n"));
    let run = ferry(&wrong, "kind: Configuration\n", &["mirror", "gather", &list, &format!("{r}/low/mirror:sync-3")]);
    run.expect_code(1);
    assert!(!run.stderr.contains("not-the-password") && !run.stdout.contains("not-the-password"));

    // Unknown CA: refused; insecureSkipVerify for that endpoint accepts it.
    let mut no_ca = TestHome::new();
    no_ca.add_auth(r, "tester", "s3cret-pass");
    let list = write_file(&no_ca, "sources.list", &format!("{r}/low/private:v1\n"));
    let run = ferry(&no_ca, "kind: Configuration\n", &["mirror", "gather", &list, &format!("{r}/low/mirror:sync-4")]);
    run.expect_code(1);
    assert!(run.stderr.to_lowercase().contains("certificate"), "{}", run.stderr);
    let insecure = format!("registryConfig:\n  endpointConfig:\n    https://{r}:\n      tls:\n        insecureSkipVerify: true\n");
    ferry(&no_ca, &insecure, &["mirror", "gather", &list, &format!("{r}/low/mirror:sync-4")]).expect_code(0);
    assert!(p.tags("low/mirror").contains(&"sync-4".to_owned()));
}
