//! Tag-schema referrers indexes kept by the two stores under concurrency: many referrers of one
//! subject recorded at once all end up listed, in an OCI layout and in a real registry; an
//! existing index that cannot be read is refused with an error naming it, and left as it is.

#![allow(clippy::unwrap_used, missing_docs, reason = "tests")]

use std::collections::BTreeSet;
use std::path::Path;

use ferry_config::Config;
use ferry_config::certs::CertDirs;
use ferry_config::credentials::CredentialStore;
use ferry_engine::Error;
use ferry_engine::store::{LayoutStore, RegistryStore, Store};
use ferry_oci::{Descriptor, Digest, Manifest, media_type};
use ferry_registry::{Client, ErrorKind, RetryPolicy};
use ferry_testkit::{Registry, images};

/// Referrers recorded at once.
const REFERRERS: u64 = 24;

fn manifest(media_type: &str, json: String) -> Manifest {
    Manifest::from_bytes(Descriptor::of_bytes(media_type, json.as_bytes()), json.into_bytes()).unwrap()
}

/// An OCI artifact manifest, with `subject` when given (its blobs are never read here).
fn artifact(n: u64, subject: Option<&Descriptor>) -> Manifest {
    let subject = subject.map_or_else(String::new, |s| {
        format!(r#","subject":{{"mediaType":"{}","digest":"{}","size":{}}}"#, s.media_type, s.digest, s.size)
    });
    manifest(
        media_type::OCI_MANIFEST,
        format!(
            r#"{{"schemaVersion":2,"mediaType":"{}","artifactType":"application/x-test","config":{{"mediaType":"{}","digest":"{}","size":2}},"layers":[],"annotations":{{"n":"{n}"}}{subject}}}"#,
            media_type::OCI_MANIFEST,
            media_type::OCI_EMPTY,
            Digest::sha256(b"{}"),
        ),
    )
}

async fn listed(store: &dyn Store, subject: &Descriptor) -> BTreeSet<Digest> {
    store.referrers(subject).await.unwrap().into_iter().map(|d| d.digest).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn referrers_recorded_at_once_in_a_layout_are_all_listed() {
    let dir = tempfile::tempdir().unwrap();
    // Two stores on one directory, as two copies in one run would open it.
    let (a, b) = (
        LayoutStore::open(dir.path(), ferry_engine::store::Access::Create).unwrap(),
        LayoutStore::open(dir.path(), ferry_engine::store::Access::Create).unwrap(),
    );
    let subject = artifact(0, None);
    a.push_manifest(&subject, Some("v1")).await.unwrap();
    let referrers: Vec<Manifest> = (1..=REFERRERS).map(|n| artifact(n, Some(subject.descriptor()))).collect();
    for r in &referrers {
        a.push_manifest(r, None).await.unwrap();
    }
    let recorded = referrers.iter().enumerate().map(|(i, r)| {
        let store: &dyn Store = if i % 2 == 0 { &a } else { &b };
        store.record_referrer(subject.descriptor(), r, false)
    });
    for result in futures_util::future::join_all(recorded).await {
        result.unwrap();
    }
    let want: BTreeSet<Digest> = referrers.iter().map(|r| r.descriptor().digest.clone()).collect();
    assert_eq!(listed(&a, subject.descriptor()).await, want);
}

#[tokio::test]
async fn an_unreadable_referrers_index_in_a_layout_is_refused_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    let store = LayoutStore::open(dir.path(), ferry_engine::store::Access::Create).unwrap();
    let subject = artifact(0, None);
    store.push_manifest(&subject, Some("v1")).await.unwrap();
    let tag = subject.descriptor().digest.tag_schema();
    let referrer = artifact(1, Some(subject.descriptor()));
    // An index without schemaVersion, and an image that is not an index at all.
    for garbage in [manifest(media_type::OCI_INDEX, r#"{"manifests":[]}"#.to_owned()), artifact(99, None)] {
        store.push_manifest(&garbage, Some(&tag)).await.unwrap();
        let index_before = std::fs::read(dir.path().join("index.json")).unwrap();
        let e = store.record_referrer(subject.descriptor(), &referrer, false).await.unwrap_err();
        assert!(matches!(e, Error::ReferrersIndex { .. }), "{e:?}");
        let chain = ferry_oci::with_causes(&e);
        assert!(chain.contains(&tag) && chain.contains(&garbage.descriptor().digest.to_string()), "{chain}");
        assert!(chain.contains(&dir.path().display().to_string()), "names the layout: {chain}");
        assert_eq!(std::fs::read(dir.path().join("index.json")).unwrap(), index_before, "index.json untouched");
        assert_eq!(store.resolve(&tag).await.unwrap().digest, garbage.descriptor().digest);
    }
}

fn client_for(reg: &Registry, home: &Path) -> Client {
    let config = Config::from_yaml(&reg.ferry_config(), Path::new("test-config.yaml")).unwrap();
    Client::with_parts(config, CredentialStore::with_config_dir(home), CertDirs(Vec::new()), RetryPolicy::default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn referrers_recorded_at_once_in_a_registry_are_all_listed() {
    let reg = Registry::start();
    let p = reg.pusher();
    let subject = images::single_image(&p, "refs/app", "v1", 40);
    let referrers: Vec<Manifest> = (1..=REFERRERS)
        .map(|n| {
            let art = images::artifact(&p, "refs/app", None, 40 + n, Some(&subject.manifest));
            Manifest::from_bytes(art.manifest.clone(), art.bytes.clone()).unwrap()
        })
        .collect();
    let home = tempfile::tempdir().unwrap();
    let client = client_for(&reg, home.path());
    let store = RegistryStore::new(client.repository(&format!("{}/refs/app", reg.addr()).parse().unwrap()));
    let recorded = referrers.iter().map(|r| store.record_referrer(&subject.manifest, r, false));
    for result in futures_util::future::join_all(recorded).await {
        result.unwrap();
    }
    let want: BTreeSet<Digest> = referrers.iter().map(|r| r.descriptor().digest.clone()).collect();
    assert_eq!(listed(&store, &subject.manifest).await, want);
    // Read independently of ferry's client: the tag names an index listing every one.
    let index = p.manifest_json("refs/app", &subject.manifest.digest.tag_schema());
    assert_eq!(index["manifests"].as_array().unwrap().len() as u64, REFERRERS);
}

#[tokio::test]
async fn an_unreadable_referrers_index_in_a_registry_is_refused_and_kept() {
    let reg = Registry::start();
    let p = reg.pusher();
    let subject = images::single_image(&p, "refs/app", "v1", 50);
    let tag = subject.manifest.digest.tag_schema();
    // Something that is not a referrers index already holds the subject's tag.
    let squatter = images::single_image(&p, "refs/app", &tag, 51);
    let art = images::artifact(&p, "refs/app", None, 52, Some(&subject.manifest));
    let referrer = Manifest::from_bytes(art.manifest.clone(), art.bytes.clone()).unwrap();
    let home = tempfile::tempdir().unwrap();
    let store = RegistryStore::new(client_for(&reg, home.path()).repository(&format!("{}/refs/app", reg.addr()).parse().unwrap()));
    let e = store.record_referrer(&subject.manifest, &referrer, false).await.unwrap_err();
    let Error::Registry(r) = &e else { panic!("{e:?}") };
    assert!(matches!(r.kind, ErrorKind::ReferrersIndex { .. }), "{e:?}");
    let chain = ferry_oci::with_causes(&e);
    assert!(chain.contains(&tag) && chain.contains(&squatter.manifest.digest.to_string()) && chain.contains(reg.addr()), "{chain}");
    assert_eq!(p.manifest("refs/app", &tag).unwrap().1, squatter.bytes, "the tag still names what it did");
}
