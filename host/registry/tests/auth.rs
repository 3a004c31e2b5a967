//! Auth under concurrency, against a real registry with token auth and its token server:
//! requests that need one token wait for one fetch, other repositories fetch theirs in
//! parallel, a token server that fails is retried and its failure not kept, and credential
//! helpers run once per registry, off the async workers, and are stopped when they hang.
//! Everything is asserted by counts (requests the token server saw, helper runs, ticks of a
//! task sharing the runtime), not by timings.

#![allow(clippy::unwrap_used, missing_docs, reason = "tests")]

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use ferry_config::Config;
use ferry_config::certs::CertDirs;
use ferry_config::credentials::CredentialStore;
use ferry_registry::{Client, ErrorKind, Repository, RetryPolicy};
use ferry_testkit::{Registry, images};
use futures_util::future::join_all;

/// Requests sent at once.
const CONCURRENT: usize = 16;

fn client(reg: &Registry, credentials: CredentialStore, retry: RetryPolicy) -> Client {
    let config = Config::from_yaml(&reg.ferry_config(), Path::new("test-config.yaml")).unwrap();
    Client::with_parts(config, credentials, CertDirs(Vec::new()), retry)
}

fn anonymous(home: &Path) -> CredentialStore {
    CredentialStore::with_config_dir(home)
}

fn repo(client: &Client, reg: &Registry, name: &str) -> Repository {
    client.repository(&format!("{}/{name}", reg.addr()).parse().unwrap())
}

fn token_registry() -> Registry {
    Registry::builder().token_auth(&[("alice", "alice-pw")]).start()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_pulls_of_one_repository_fetch_one_token() {
    let reg = token_registry();
    images::single_image(&reg.pusher(), "team/app", "v1", 1);
    let home = tempfile::tempdir().unwrap();
    let r = repo(&client(&reg, anonymous(home.path()), RetryPolicy::default()), &reg, "team/app");
    let tokens = reg.token_server();
    let before = tokens.requests();
    let pulls = join_all((0..CONCURRENT).map(|_| r.fetch_manifest_by_reference("v1"))).await;
    assert!(pulls.iter().all(Result::is_ok), "{:?}", pulls.iter().find_map(|p| p.as_ref().err()));
    assert_eq!(tokens.requests() - before, 1, "{CONCURRENT} pulls, one token fetch");
    assert_eq!(tokens.scopes().last().unwrap(), "repository:team/app:pull");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_for_other_repositories_are_fetched_in_parallel() {
    let reg = token_registry();
    let p = reg.pusher();
    images::single_image(&p, "team/a", "v1", 2);
    images::single_image(&p, "team/b", "v1", 3);
    let home = tempfile::tempdir().unwrap();
    let c = client(&reg, anonymous(home.path()), RetryPolicy::default());
    let (a, b) = (repo(&c, &reg, "team/a"), repo(&c, &reg, "team/b"));
    let tokens = reg.token_server();
    let before = tokens.requests();
    // Each token answer waits until two token requests are in flight: fetches that queued
    // behind one another would never get there (the server gives up waiting after 5 s).
    tokens.hold_until(2);
    let pulls = join_all([a.clone(), b.clone(), a, b].iter().map(|r| async move { r.fetch_manifest_by_reference("v1").await })).await;
    assert!(pulls.iter().all(Result::is_ok), "{:?}", pulls.iter().find_map(|p| p.as_ref().err()));
    assert_eq!(tokens.requests() - before, 2, "one token per repository");
    assert_eq!(tokens.max_in_flight(), 2, "both token fetches were in flight at once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_server_that_fails_once_is_asked_again() {
    let reg = token_registry();
    images::single_image(&reg.pusher(), "team/app", "v1", 4);
    let home = tempfile::tempdir().unwrap();
    let r = repo(&client(&reg, anonymous(home.path()), RetryPolicy::default()), &reg, "team/app");
    let tokens = reg.token_server();
    let before = tokens.requests();
    tokens.fail_next(1);
    let pulls = join_all((0..CONCURRENT).map(|_| r.fetch_manifest_by_reference("v1"))).await;
    assert!(pulls.iter().all(Result::is_ok), "{:?}", pulls.iter().find_map(|p| p.as_ref().err()));
    assert_eq!(tokens.requests() - before, 2, "the failed fetch and its one retry, for every waiting pull");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_token_fetch_is_shared_by_its_waiters_and_not_kept() {
    let reg = token_registry();
    images::single_image(&reg.pusher(), "team/app", "v1", 5);
    images::single_image(&reg.pusher(), "team/other", "v1", 8);
    let home = tempfile::tempdir().unwrap();
    let fast = RetryPolicy::new(2, Duration::from_millis(10));
    let c = client(&reg, anonymous(home.path()), fast);
    // Once the registry's challenge is known, every pull asks for the token as soon as it
    // starts, so all of them are waiting when the fetch fails (later callers would fetch anew).
    repo(&c, &reg, "team/other").fetch_manifest_by_reference("v1").await.unwrap();
    let r = repo(&c, &reg, "team/app");
    let tokens = reg.token_server();
    let before = tokens.requests();
    tokens.fail_next(2);
    let pulls = join_all((0..CONCURRENT).map(|_| r.fetch_manifest_by_reference("v1"))).await;
    assert_eq!(tokens.requests() - before, 2, "one fetch of two attempts for all {CONCURRENT} pulls");
    for pull in &pulls {
        let e = pull.as_ref().unwrap_err();
        assert!(matches!(e.kind, ErrorKind::Token(_)) && e.is_transient(), "{e}");
        assert!(e.to_string().contains("503"), "{e}");
    }
    // The failure was not kept: the next pull fetches a token and succeeds.
    r.fetch_manifest_by_reference("v1").await.unwrap();
    assert_eq!(tokens.requests() - before, 3);
}

/// A Docker config naming `docker-credential-NAME` for `host`, and the helper: a script that
/// logs each run to `NAME.calls`, waits `delay`, then answers with alice's credentials.
fn helper_home(host: &str, name: &str, delay: &str) -> (tempfile::TempDir, CredentialStore) {
    use std::os::unix::fs::PermissionsExt as _;
    let home = tempfile::tempdir().unwrap();
    let calls = home.path().join(format!("{name}.calls"));
    let script = home.path().join(format!("docker-credential-{name}"));
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nread server\necho \"$server\" >> '{}'\nsleep {delay}\necho '{{\"Username\":\"alice\",\"Secret\":\"alice-pw\"}}'\n",
            calls.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(home.path().join("config.json"), format!(r#"{{"credHelpers":{{"{host}":"{name}"}}}}"#)).unwrap();
    let store = CredentialStore::with_config_dir(home.path()).with_helper_path(vec![home.path().to_owned()]);
    (home, store)
}

fn helper_runs(home: &Path, name: &str) -> usize {
    std::fs::read_to_string(home.join(format!("{name}.calls"))).map(|s| s.lines().count()).unwrap_or(0)
}

#[test]
fn a_credential_helper_runs_once_and_off_the_async_workers() {
    let reg = token_registry();
    images::single_image(&reg.pusher(), "team/app", "v1", 6);
    let (home, store) = helper_home(reg.addr(), "slow", "1");
    // One worker thread: a helper run on it would stop every other task for its second.
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let ticks = Arc::new(AtomicUsize::new(0));
    let r = repo(&client(&reg, store, RetryPolicy::default()), &reg, "team/app");
    let bytes = manifest_of(&reg, "team/app");
    let (pushes, ticked) = rt.block_on(async {
        let counter = ticks.clone();
        let ticker = tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_millis(10));
            // Ticks missed while the thread was blocked are lost, not made up in a burst.
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                every.tick().await;
                counter.fetch_add(1, Ordering::SeqCst);
            }
        });
        tokio::task::yield_now().await;
        let start = ticks.load(Ordering::SeqCst);
        // Pushes need alice's credentials (anonymous callers may only pull).
        let pushes = join_all((0..CONCURRENT).map(|i| push_copy(&r, i, &bytes))).await;
        let ticked = ticks.load(Ordering::SeqCst) - start;
        ticker.abort();
        (pushes, ticked)
    });
    assert!(pushes.iter().all(Result::is_ok), "{:?}", pushes.iter().find_map(|p| p.as_ref().err()));
    assert_eq!(helper_runs(home.path(), "slow"), 1, "{CONCURRENT} pushes, one helper run");
    // The helper alone took 1 s: 100 ticks of 10 ms if the runtime stayed free meanwhile (a
    // helper run on the runtime's thread leaves about a dozen, from before and after it).
    assert!(ticked >= 40, "the runtime ticked {ticked} times while the helper ran");
}

fn manifest_of(reg: &Registry, repo: &str) -> Vec<u8> {
    reg.pusher().manifest(repo, "v1").unwrap().1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_credential_helper_is_stopped_once_for_everyone() {
    let reg = token_registry();
    images::single_image(&reg.pusher(), "team/app", "v1", 7);
    let (home, store) = helper_home(reg.addr(), "stuck", "30");
    let store = store.with_helper_timeout(Duration::from_millis(300));
    let r = repo(&client(&reg, store, RetryPolicy::default()), &reg, "team/app");
    let bytes = manifest_of(&reg, "team/app");
    let pushes = join_all((0..4).map(|i| push_copy(&r, i, &bytes))).await;
    for push in &pushes {
        let e = push.as_ref().unwrap_err();
        let chain = ferry_oci::with_causes(e);
        assert!(chain.contains("docker-credential-stuck") && chain.contains("no answer within"), "{chain}");
    }
    assert_eq!(helper_runs(home.path(), "stuck"), 1, "the waiting pushes shared one helper run");
}

/// Pushes `bytes` (an OCI image manifest) to `r` as tag `copy-N`: a push needs credentials.
async fn push_copy(r: &Repository, n: usize, bytes: &[u8]) -> Result<bool, ferry_registry::Error> {
    r.push_manifest(&format!("copy-{n}"), ferry_oci::media_type::OCI_MANIFEST, bytes).await
}
