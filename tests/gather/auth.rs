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
    let needs = "the registry needs credentials and none were found (401 Unauthorized";
    assert!(run.stderr.contains(needs) && run.stderr.contains(&format!("run `ferry login {r}`")), "{}", run.stderr);
    assert!(!p.tags("low/mirror").contains(&"sync-2".to_owned()));

    // Wrong password: rejected, and the password does not appear in the output.
    let mut wrong = TestHome::new();
    wrong.add_auth(r, "tester", "not-the-password");
    wrong.add_ca(r, &reg.ca_pem().unwrap());
    let list = write_file(&wrong, "sources.list", &format!("{r}/low/private:v1\n"));
    let run = ferry(&wrong, "kind: Configuration\n", &["mirror", "gather", &list, &format!("{r}/low/mirror:sync-3")]);
    run.expect_code(1);
    let refused =
        format!("the registry refused the credentials from {} (401 Unauthorized", wrong.docker_config_dir().join("config.json").display());
    assert!(run.stderr.contains(&refused), "{}", run.stderr);
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

#[test]
fn token_auth_passwords_identity_tokens_and_anonymous_pulls() {
    let reg = Registry::builder().token_auth(&[("alice", "alice-pw")]).refresh_token("alice", "refresh-123").start();
    let plain = Registry::start();
    let p = reg.pusher();
    let img = images::single_image(&p, "low/app", "v1", 21);
    let r = reg.addr();
    let config = ferry_tests::config_for(&[&reg, &plain]);

    // A user with a password: gather within the registry (mounts need pull on the source and
    // push on the destination). The token cache keeps the token server's load small.
    let mut home = TestHome::new();
    home.add_auth(r, "alice", "alice-pw");
    let list = write_file(&home, "sources.list", &format!("{r}/low/app:v1\n"));
    let before = reg.token_requests();
    ferry(&home, &config, &["mirror", "gather", &list, &format!("{r}/low/mirror:sync-1")]).expect_code(0);
    let used = reg.token_requests() - before;
    assert!((1..=4).contains(&used), "{used} token requests for one source");
    assert_eq!(p.manifest_json("low/mirror", "sync-1")["manifests"][0]["digest"], img.manifest.digest.to_string());

    // An identity token (OAuth2 refresh token) instead of a password.
    let mut id = TestHome::new();
    id.add_identity_token(r, "refresh-123");
    let list = write_file(&id, "sources.list", &format!("{r}/low/app:v1\n"));
    ferry(&id, &config, &["mirror", "gather", &list, &format!("{r}/low/mirror:sync-2")]).expect_code(0);
    assert!(p.tags("low/mirror").contains(&"sync-2".to_owned()));

    // Anonymous: pulling works, pushing is refused with the host named.
    let anon = TestHome::new();
    let list = write_file(&anon, "sources.list", &format!("{r}/low/app:v1\n"));
    ferry(&anon, &config, &["mirror", "gather", &list, &format!("{}/copy/app:s", plain.addr())]).expect_code(0);
    let run = ferry(&anon, &config, &["mirror", "gather", &list, &format!("{r}/low/mirror:sync-3")]);
    run.expect_code(1);
    assert!(run.stderr.contains(r) && run.stderr.contains("none were found"), "{}", run.stderr);
    assert!(!p.tags("low/mirror").contains(&"sync-3".to_owned()));
}

/// Mutual TLS: the client certificate comes from `certs.d/<host>/cert.pem` + `key.pem`.
#[test]
fn client_certificates_from_certs_d() {
    let reg = Registry::builder().client_certs().start();
    let p = reg.pusher();
    images::single_image(&p, "low/app", "v1", 22);
    let r = reg.addr();
    let home = TestHome::new();
    home.add_ca(r, &reg.ca_pem().unwrap());
    let list = write_file(&home, "sources.list", &format!("{r}/low/app:v1\n"));
    let run = ferry(&home, "kind: Configuration\n", &["mirror", "gather", &list, &format!("{r}/low/mirror:sync-1")]);
    run.expect_code(1);
    assert!(run.stderr.contains(r), "{}", run.stderr);

    let (cert, key) = reg.client_cert().unwrap();
    home.add_client_cert(r, &cert, &key);
    ferry(&home, "kind: Configuration\n", &["mirror", "gather", &list, &format!("{r}/low/mirror:sync-1")]).expect_code(0);
    assert_eq!(p.tags("low/mirror"), vec!["sync-1"]);
}

/// Credentials from a Docker credential helper (`credHelpers`), asked once per host.
#[test]
fn credential_helper_supplies_the_password() {
    let reg = Registry::builder().tls().basic_auth("helper-user", "helper-secret").start();
    let p = reg.pusher();
    images::single_image(&p, "low/app", "v1", 23);
    let r = reg.addr();
    let mut home = TestHome::new();
    home.add_ca(r, &reg.ca_pem().unwrap());
    home.add_cred_helper(r, "ferrytest", "helper-user", "helper-secret");
    let list = write_file(&home, "sources.list", &format!("{r}/low/app:v1\n"));
    let run = ferry(&home, "kind: Configuration\n", &["mirror", "gather", &list, &format!("{r}/low/mirror:sync-1")]);
    run.expect_code(0);
    assert_eq!(home.helper_calls("ferrytest"), vec![r.to_owned()], "asked once, for this host");
    assert!(!run.stdout.contains("helper-secret") && !run.stderr.contains("helper-secret"));
}
