//! Every kind of content crosses between two registries with its digests intact: nested
//! indexes, Docker schema2 images and lists, artifacts with `subject` and, with `-r`,
//! referrers kept discoverable through the tag schema; also an OCI layout as destination.

use ferry_testkit::{Registry, TestHome, images};
use ferry_tests::{config_for, ferry, sha256, skopeo_digest, write_file};

#[test]
fn copies_every_kind_between_registries_with_referrers() {
    let low = Registry::start();
    let high = Registry::start();
    let p = low.pusher();
    let nested = images::index_of_indexes(&p, "src/nested", "v1", 7);
    let list = images::docker_manifest_list(&p, "src/dlist", "v1", 8);
    let docker = images::docker_image(&p, "src/docker", "v1", 9);
    let img = images::single_image(&p, "src/signed", "v1", 10);
    let sbom = images::artifact_with_subject(&p, "src/signed", &img.manifest, 11);
    let sig = images::cosign_signature(&p, "src/signed", &img.manifest, 12);
    let (l, h) = (low.addr(), high.addr());
    let home = TestHome::new();
    let sources =
        write_file(&home, "sources.list", &format!("{l}/src/nested:v1\n{l}/src/dlist:v1\n{l}/src/docker:v1\n{l}/src/signed:v1\n"));
    let config = config_for(&[&low, &high]);
    let run = ferry(&home, &config, &["mirror", "gather", "-r", &sources, &format!("{h}/mirror/gather:sync-1")]);
    run.expect_code(0);

    let q = high.pusher();
    // Nested index: every level present by digest, bytes unchanged.
    assert_eq!(sha256(&q.manifest("mirror/gather", &nested.index.digest.to_string()).unwrap().1), nested.index.digest.to_string());
    for child in &nested.children {
        assert!(q.has_manifest("mirror/gather", &child.digest.to_string()), "{}", child.digest);
    }
    // Docker list and image: skopeo sees the same digests.
    assert_eq!(skopeo_digest(&format!("{h}/mirror/gather@{}", list.index.digest), &["--tls-verify=false"]), list.index.digest.to_string());
    assert_eq!(
        skopeo_digest(&format!("{h}/mirror/gather@{}", docker.manifest.digest), &["--tls-verify=false"]),
        docker.manifest.digest.to_string()
    );
    // The referrer came along and is listed under the subject's tag-schema tag.
    assert!(q.has_manifest("mirror/gather", &sbom.manifest.digest.to_string()));
    let referrers = q.manifest_json("mirror/gather", &img.manifest.digest.tag_schema());
    let listed: Vec<&str> = referrers["manifests"].as_array().unwrap().iter().map(|m| m["digest"].as_str().unwrap()).collect();
    assert_eq!(listed, vec![sbom.manifest.digest.to_string()]);
    assert_eq!(referrers["manifests"][0]["artifactType"], "application/vnd.example.sbom.v1");
    // The cosign signature tag came along too.
    let sig_tag = format!("{}.sig", img.manifest.digest.tag_schema());
    assert_eq!(sha256(&q.manifest("mirror/gather", &sig_tag).unwrap().1), sig.manifest.digest.to_string());
    // Different registries: uploads, not mounts.
    assert!(run.stdout.contains("mounted 0"), "{}", run.stdout);

    // Without -r the referrer stays behind.
    ferry(&home, &config, &["mirror", "gather", &sources, &format!("{h}/plain/gather:sync-1")]).expect_code(0);
    assert!(!q.has_manifest("plain/gather", &sbom.manifest.digest.to_string()));
    assert!(!q.has_manifest("plain/gather", &sig_tag));
}

#[test]
fn gathers_into_an_oci_layout() {
    let reg = Registry::start();
    let p = reg.pusher();
    let img = images::single_image(&p, "low/one", "v1", 12);
    let home = TestHome::new();
    let sources = write_file(&home, "sources.list", &format!("{}/low/one:v1\n", reg.addr()));
    let dir = home.path().join("layout");
    ferry(&home, &reg.ferry_config(), &["mirror", "gather", &sources, &format!("oci:{}:sync-1", dir.display())]).expect_code(0);
    let index: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("index.json")).unwrap()).unwrap();
    assert_eq!(index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"], "sync-1");
    for d in [&img.manifest, &img.config, &img.layers[0], &img.layers[1]] {
        let bytes = std::fs::read(dir.join("blobs/sha256").join(d.digest.hex())).unwrap();
        assert_eq!(sha256(&bytes), d.digest.to_string());
    }
    // And back out of the layout into a registry.
    let back = write_file(&home, "back.list", &format!("oci:{}:sync-1\n", dir.display()));
    ferry(&home, &reg.ferry_config(), &["mirror", "gather", &back, &format!("{}/low/again:s", reg.addr())]).expect_code(0);
    let gather_digest = index["manifests"][0]["digest"].as_str().unwrap().to_owned();
    assert!(p.has_manifest("low/again", &gather_digest));
    assert!(p.has_blob("low/again", &img.layers[0].digest));
}

/// The referrers API itself, on a registry that has one: found through the API on the way
/// out of it, and indexed by the registry itself (no tag-schema index written) on the way in.
#[test]
fn referrers_api_both_ways() {
    let api = ferry_testkit::ferro::ReferrersRegistry::start();
    let dist = Registry::start();
    let p = api.pusher();
    let img = images::single_image(&p, "src/app", "v1", 70);
    let sbom = images::artifact(&p, "src/app", None, 71, Some(&img.manifest));
    let home = TestHome::new();
    let config = ferry_tests::config_for_addrs(&[api.addr(), dist.addr()]);

    // API → distribution: the referrer is found through the API and indexed by tag schema.
    let out = write_file(&home, "out.list", &format!("{}/src/app:v1\n", api.addr()));
    ferry(&home, &config, &["mirror", "gather", "-r", &out, &format!("{}/mirror/g:s1", dist.addr())]).expect_code(0);
    let q = dist.pusher();
    let listed = q.manifest_json("mirror/g", &img.manifest.digest.tag_schema());
    assert_eq!(listed["manifests"][0]["digest"], sbom.manifest.digest.to_string());

    // distribution → API: the registry indexes the referrer itself; ferry adds no tag.
    let back = write_file(&home, "back.list", &format!("{}/mirror/g@{}\n", dist.addr(), img.manifest.digest));
    ferry(&home, &config, &["mirror", "gather", "-r", &back, &format!("{}/dst/g:s1", api.addr())]).expect_code(0);
    let r = p.request("GET", &format!("/v2/dst/g/referrers/{}", img.manifest.digest), &[], None);
    assert_eq!(r.status, 200);
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(v["manifests"][0]["digest"], sbom.manifest.digest.to_string());
    assert!(!p.has_manifest("dst/g", &img.manifest.digest.tag_schema()));
}
