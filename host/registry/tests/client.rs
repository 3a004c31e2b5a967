//! The registry client against a real registry: mounts and their 202 fallback, chunked
//! uploads, verification of fetched blobs, tags, referrers through the tag schema.

#![allow(clippy::unwrap_used, clippy::print_stderr, missing_docs, reason = "tests; the matrix prints its figures")]

use std::path::Path;

use bytes::Bytes;
use ferry_config::Config;
use ferry_config::certs::CertDirs;
use ferry_config::credentials::CredentialStore;
use ferry_oci::{BlobStream, Descriptor, Origin, Reference, media_type};
use ferry_registry::{Client, ErrorKind, Mount, Repository, RetryPolicy};
use ferry_testkit::{Registry, images};

fn repo(reg: &Registry, name: &str) -> (Repository, tempfile::TempDir) {
    let home = tempfile::tempdir().unwrap();
    let config = Config::from_yaml(&reg.ferry_config(), Path::new("test-config.yaml")).unwrap();
    let client = Client::with_parts(config, CredentialStore::with_config_dir(home.path()), CertDirs(Vec::new()), RetryPolicy::default());
    let reference: Reference = format!("{}/{name}", reg.addr()).parse().unwrap();
    (client.repository(&reference), home)
}

fn stream_of(desc: &Descriptor, bytes: Vec<u8>) -> BlobStream {
    let chunks: Vec<Result<Bytes, std::io::Error>> = bytes.chunks(1 << 20).map(|c| Ok(Bytes::copy_from_slice(c))).collect();
    BlobStream::verifying(desc.clone(), Origin::Memory { what: "test blob".into() }, futures_util::stream::iter(chunks))
}

#[tokio::test]
async fn mount_and_its_202_fallback() {
    let reg = Registry::start();
    let p = reg.pusher();
    let desc = p.push_blob("team/a", media_type::OCTET_STREAM, &vec![7u8; 3 << 20]);
    let (a, _h1) = repo(&reg, "team/a");
    let (b, _h2) = repo(&reg, "team/b");
    assert!(matches!(b.mount_blob(&desc, "team/a").await.unwrap(), Mount::Mounted));

    // A mount the registry cannot do (blob not in the source repository) opens an upload.
    let (c, _h3) = repo(&reg, "team/c");
    let Mount::Upload(session) = c.mount_blob(&desc, "team/nothing-here").await.unwrap() else { panic!("expected 202") };
    c.push_blob(&desc, Some(session), || a.fetch_blob(&desc)).await.unwrap();
    assert!(p.has_blob("team/c", &desc.digest));
}

#[tokio::test]
async fn chunked_upload_and_verified_fetch() {
    let reg = Registry::start();
    let (r, _h) = repo(&reg, "big/blob");
    let bytes: Vec<u8> = (0..(20u32 << 20)).map(|i| (i % 251) as u8).collect();
    let desc = Descriptor::of_bytes(media_type::OCTET_STREAM, &bytes);
    r.push_blob_chunked(&desc, stream_of(&desc, bytes.clone())).await.unwrap();
    assert!(r.blob_exists(&desc.digest).await.unwrap());
    assert_eq!(r.fetch_blob(&desc).await.unwrap().collect().await.unwrap(), bytes);

    // A descriptor whose size disagrees with what the registry serves is refused up front;
    // corrupted bytes are covered through the fault proxy in the gather tests.
    let mut short = desc.clone();
    short.size -= 1;
    let err = r.fetch_blob(&short).await.err().unwrap();
    assert!(matches!(err.kind, ErrorKind::Mismatch { .. }), "{err}");
    let other = Descriptor::of_bytes(media_type::OCTET_STREAM, &vec![1u8; bytes.len()]);

    // A source stream that does not match its descriptor fails the upload.
    let (s, _h2) = repo(&reg, "big/other");
    let err = s.push_blob_chunked(&other, stream_of(&other, bytes.clone())).await.unwrap_err();
    assert!(matches!(err.kind, ErrorKind::Source { .. }) && err.is_mismatch() && err.is_source_failure(), "{err}");
    assert!(!s.blob_exists(&other.digest).await.unwrap());
}

#[tokio::test]
async fn tags_are_sorted_and_referrers_found_by_tag_schema() {
    let reg = Registry::start();
    let p = reg.pusher();
    let img = images::single_image(&p, "app/x", "b", 1);
    for t in ["c", "a"] {
        p.push_manifest("app/x", t, &img.manifest.media_type, &img.bytes);
    }
    let sbom = images::artifact_with_subject(&p, "app/x", &img.manifest, 2);
    let sig = images::cosign_signature(&p, "app/x", &img.manifest, 3);
    let (r, _h) = repo(&reg, "app/x");
    let tags = r.tags().await.unwrap();
    assert_eq!(&tags[..3], &["a", "b", "c"]);
    let referrers = r.referrers(&img.manifest).await.unwrap();
    assert_eq!(referrers.iter().map(|d| d.digest.clone()).collect::<Vec<_>>(), vec![sbom.manifest.digest.clone()]);
    let attachments = r.cosign_attachments(&img.manifest).await.unwrap();
    assert_eq!(attachments.len(), 1);
    assert_eq!(attachments[0].1.digest, sig.manifest.digest);
    assert!(r.referrers(&sbom.manifest).await.unwrap().is_empty());

    // A manifest fetched by tag is checked against the registry's digest header and kept as bytes.
    let m = r.fetch_manifest_by_reference("a").await.unwrap();
    assert_eq!(m.bytes(), img.bytes.as_slice());
    assert!(r.resolve("missing").await.unwrap_err().is_not_found());
}

/// A chunk the registry took but whose answer was lost: ferry asks the session where it
/// stands (distribution drops a session asked with a stale state), opens a new one when it
/// is gone, and the upload completes with the right bytes.
#[tokio::test]
async fn a_chunk_whose_answer_was_lost_still_completes() {
    use ferry_testkit::{Fault, FaultProxy, Rule};
    let reg = Registry::start();
    let proxy = FaultProxy::start(reg.addr(), vec![Rule::new("PATCH", "/blobs/uploads/", 0, 1, Fault::DropAnswer)]);
    let home = tempfile::tempdir().unwrap();
    let yaml = format!("registryConfig:\n  registries:\n    {a}:\n      endpoints: [\"http://{a}\"]\n", a = proxy.addr());
    let config = Config::from_yaml(&yaml, Path::new("test-config.yaml")).unwrap();
    let client = Client::with_parts(config, CredentialStore::with_config_dir(home.path()), CertDirs(Vec::new()), RetryPolicy::default());
    let r = client.repository(&format!("{}/big/lost", proxy.addr()).parse().unwrap());
    let bytes: Vec<u8> = (0..(17u32 << 20)).map(|i| (i % 253) as u8).collect();
    let desc = Descriptor::of_bytes(media_type::OCTET_STREAM, &bytes);
    r.push_blob_stream(&desc, None, stream_of(&desc, bytes.clone())).await.unwrap();
    let faults = proxy.requests().iter().filter(|s| s.fault.is_some()).count();
    assert_eq!(faults, 1, "the fault fired");
    assert!(proxy.count("GET", "/blobs/uploads/") >= 1, "the session's state was asked for");
    assert_eq!(reg.pusher().blob("big/lost", &desc.digest), bytes);
}

/// A rejected upload is cancelled: the session's URL gets a DELETE.
#[tokio::test]
async fn a_rejected_upload_is_cancelled() {
    use ferry_testkit::{Fault, FaultProxy, Rule};
    let reg = Registry::start();
    let proxy = FaultProxy::start(reg.addr(), vec![Rule::always("PUT", "/blobs/uploads/", Fault::Status(400, None))]);
    let home = tempfile::tempdir().unwrap();
    let yaml = format!("registryConfig:\n  registries:\n    {a}:\n      endpoints: [\"http://{a}\"]\n", a = proxy.addr());
    let config = Config::from_yaml(&yaml, Path::new("test-config.yaml")).unwrap();
    let client = Client::with_parts(config, CredentialStore::with_config_dir(home.path()), CertDirs(Vec::new()), RetryPolicy::default());
    let r = client.repository(&format!("{}/rej/x", proxy.addr()).parse().unwrap());
    let bytes = vec![9u8; 4096];
    let desc = Descriptor::of_bytes(media_type::OCTET_STREAM, &bytes);
    let err = r.push_blob_stream(&desc, None, stream_of(&desc, bytes)).await.unwrap_err();
    assert!(matches!(err.kind, ErrorKind::Status { status: 400, .. }), "{err}");
    assert_eq!(proxy.count("PUT", "/blobs/uploads/"), 1, "the fault fired once, not retried");
    assert_eq!(proxy.count("DELETE", "/blobs/uploads/"), 1, "the session was cancelled");
}

/// distribution sometimes answers an index PUT with 400 while one of its children is re-PUT
/// at the same moment. Pushed as "every child placed", the index PUT is repeated and never
/// fails; the plain PUT's 400s are counted for comparison.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_index_put_racing_a_child_re_put_is_repeated() {
    let reg = Registry::start();
    let p = reg.pusher();
    let idx = images::multi_platform_index(&p, "race/x", "v1", 5);
    let (r, _h) = repo(&reg, "race/x");
    let children: Vec<(String, String, Vec<u8>)> = idx
        .children
        .iter()
        .map(|c| (c.digest.to_string(), c.media_type.clone(), p.manifest("race/x", &c.digest.to_string()).unwrap().1))
        .collect();
    let rounds = 40;
    let (mut plain_races, mut placed_failures) = (0, 0);
    for placed in [false, true] {
        for _ in 0..rounds {
            let re_put = futures_util::future::join_all(children.iter().map(|(d, mt, b)| r.push_manifest(d, mt, b)));
            let put = async {
                if placed {
                    r.push_manifest_placed("v1", media_type::OCI_INDEX, &idx.bytes).await
                } else {
                    r.push_manifest("v1", media_type::OCI_INDEX, &idx.bytes).await
                }
            };
            let (children_done, result) = tokio::join!(re_put, put);
            assert!(children_done.iter().all(Result::is_ok));
            match result {
                Ok(_) => {}
                Err(e) if !placed && e.is_index_race() => plain_races += 1,
                Err(e) if placed => {
                    eprintln!("{e}");
                    placed_failures += 1;
                }
                Err(e) => panic!("{e}"),
            }
        }
    }
    eprintln!("index PUT 400 races in {rounds} rounds: plain {plain_races}, repeated {placed_failures}");
    assert_eq!(placed_failures, 0);
}
