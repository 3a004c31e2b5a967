//! The scenarios of spec §12.1, plus the gather index's exact bytes.

use ferry_oci::Descriptor;
use ferry_testkit::{Registry, TestHome, images};
use ferry_tests::{ferry, sha256, skopeo_digest, write_file};
use serde_json::Value;

fn sources_of(index: &Value) -> Vec<String> {
    index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["annotations"]["vnd.act3-ace.manifest.source"].as_str().unwrap().to_owned())
        .collect()
}

fn sizes(descs: &[&Descriptor]) -> u64 {
    descs.iter().map(|d| d.size).sum()
}

/// §12.1.1: every entry carries its source; digests match skopeo; sizes add up; the same
/// registry means blobs are mounted, not uploaded.
#[test]
fn gathers_image_and_index_by_digest() {
    let reg = Registry::start();
    let p = reg.pusher();
    let img = images::single_image(&p, "low/source1", "v1", 1);
    let idx = images::multi_platform_index(&p, "low/source2", "v2", 2);
    let r = reg.addr();
    let src1 = format!("{r}/low/source1:v1");
    let src2 = format!("{r}/low/source2@{}", idx.index.digest);
    let home = TestHome::new();
    let list = write_file(&home, "sources.list", &format!("{src2}\n{src1}"));
    let run = ferry(&home, &reg.ferry_config(), &["mirror", "gather", &list, &format!("{r}/low/mirror1:sync-1")]);
    run.expect_code(0);

    let (_, raw) = p.manifest("low/mirror1", "sync-1").unwrap();
    let digest = sha256(&raw);
    assert!(run.stdout.contains(&format!("Gather index: {r}/low/mirror1@{digest}")), "{}", run.stdout);
    assert_eq!(skopeo_digest(&format!("{r}/low/mirror1:sync-1"), &["--tls-verify=false"]), digest);

    let index: Value = serde_json::from_slice(&raw).unwrap();
    assert_eq!(index["artifactType"], "application/vnd.act3-ace.data.gather+json");
    assert_eq!(sources_of(&index), vec![src1.clone(), src2.clone()], "sorted by source");
    for m in index["manifests"].as_array().unwrap() {
        assert_eq!(m["annotations"]["org.opencontainers.image.ref.name"], m["annotations"]["vnd.act3-ace.manifest.source"]);
    }
    assert_eq!(index["manifests"][0]["digest"], img.manifest.digest.to_string());
    assert_eq!(index["manifests"][1]["digest"], idx.index.digest.to_string());

    // Sizes: every non-manifest blob of every entry's graph.
    let mut expected = sizes(&[&img.config, &img.layers[0], &img.layers[1]]);
    for child in &idx.children {
        let (_, bytes) = p.manifest("low/source2", &child.digest.to_string()).unwrap();
        let m: Value = serde_json::from_slice(&bytes).unwrap();
        expected += m["config"]["size"].as_u64().unwrap();
        expected += m["layers"].as_array().unwrap().iter().map(|l| l["size"].as_u64().unwrap()).sum::<u64>();
    }
    assert_eq!(index["annotations"]["vnd.act3-ace.data.layer.size.total"], expected.to_string());

    // Everything is in the gather repository, mounted from the sources.
    for d in [&img.config, &img.layers[0], &img.layers[1]] {
        assert!(p.has_blob("low/mirror1", &d.digest));
    }
    for child in &idx.children {
        assert!(p.has_manifest("low/mirror1", &child.digest.to_string()));
    }
    assert!(run.stdout.contains("Gathered: copied 0 blobs"), "same registry should mount: {}", run.stdout);

    // A second gather of the same sources finds everything present and gives the same index.
    let again = ferry(&home, &reg.ferry_config(), &["mirror", "gather", &list, &format!("{r}/low/mirror1:sync-2")]);
    again.expect_code(0);
    // A present manifest is not taken as a complete graph: every blob and child under it is
    // checked (the source image's 3 blobs and 1 manifest, the index's 11 blobs and 5 manifests).
    assert!(
        again.stdout.contains("copied 0 blobs (0 B), mounted 0; pushed 0 manifests; already present: 14 blobs, 6 manifests"),
        "{}",
        again.stdout
    );
    assert_eq!(sha256(&p.manifest("low/mirror1", "sync-2").unwrap().1), digest, "deterministic");
}

/// §12.1.2: with --index-fallback, index entries move to the extra-manifests annotation.
#[test]
fn index_fallback_moves_indexes_to_annotation() {
    let reg = Registry::start();
    let p = reg.pusher();
    images::single_image(&p, "low/source1", "v1", 1);
    let idx = images::multi_platform_index(&p, "low/source2", "v2", 2);
    let r = reg.addr();
    let home = TestHome::new();
    let list = write_file(&home, "sources.list", &format!("{r}/low/source1:v1\n{r}/low/source2@{}\n", idx.index.digest));
    ferry(&home, &reg.ferry_config(), &["mirror", "gather", "--index-fallback", &list, &format!("{r}/low/mirror2:sync-1")]).expect_code(0);
    let index = p.manifest_json("low/mirror2", "sync-1");
    assert_eq!(sources_of(&index), vec![format!("{r}/low/source1:v1")]);
    let extra: Value = serde_json::from_str(index["annotations"]["vnd.act3-ace.data.extra-manifests"].as_str().unwrap()).unwrap();
    assert_eq!(extra.as_array().unwrap().len(), 1);
    assert_eq!(extra[0]["digest"], idx.index.digest.to_string());
    assert!(p.has_manifest("low/mirror2", &idx.index.digest.to_string()));
}

/// §12.1.3: platform filtering selects index children by platform, drops an image of another
/// platform, survives a platform-less child, and records the source index.
#[test]
fn platforms_select_children() {
    let reg = Registry::start();
    let p = reg.pusher();
    images::single_image(&p, "low/source1", "v1", 1);
    let idx = images::multi_platform_index(&p, "low/platform", "v1", 3);
    let r = reg.addr();
    let home = TestHome::new();
    let list = write_file(&home, "sources.list", &format!("{r}/low/platform:v1\n{r}/low/source1:v1\n"));
    // source1 is a linux/amd64 image: a filter that keeps nothing of a source is an error…
    let run = ferry(
        &home,
        &reg.ferry_config(),
        &["mirror", "gather", "-p", "linux/arm64", "-p", "linux/arm/v7", &list, &format!("{r}/low/mirror3:sync-1")],
    );
    run.expect_code(1);
    let named =
        format!("{r}/low/source1:v1 (line 2): nothing matches the platforms asked for (linux/arm64, linux/arm/v7); it has linux/amd64");
    assert!(run.stderr.contains(&named), "{}", run.stderr);
    assert!(!p.has_manifest("low/mirror3", "sync-1"));
    // …unless --allow-empty, which leaves it out with a warning (ace-dt dropped it silently).
    let run = ferry(
        &home,
        &reg.ferry_config(),
        &["mirror", "gather", "--allow-empty", "-p", "linux/arm64", "-p", "linux/arm/v7", &list, &format!("{r}/low/mirror3:sync-1")],
    );
    run.expect_code(0);
    assert!(run.stderr.contains("low/source1:v1: nothing matches") && run.stderr.contains("left out"), "{}", run.stderr);
    let index = p.manifest_json("low/mirror3", "sync-1");
    let entries = index["manifests"].as_array().unwrap();
    let platforms: Vec<String> = entries
        .iter()
        .map(|e| {
            format!(
                "{}/{}/{}",
                e["platform"]["os"].as_str().unwrap(),
                e["platform"]["architecture"].as_str().unwrap(),
                e["platform"]["variant"].as_str().unwrap_or("")
            )
        })
        .collect();
    assert_eq!(platforms, vec!["linux/arm64/v8", "linux/arm/v7"]);
    for e in entries {
        assert_eq!(e["annotations"]["vnd.act3-ace.manifest.source"], format!("{r}/low/platform:v1"));
        assert_eq!(sha256(e["annotations"]["data.act3-ace.io/source-index"].as_str().unwrap().as_bytes()), idx.index.digest.to_string());
        assert!(p.has_manifest("low/mirror3", e["digest"].as_str().unwrap()));
    }
    // The original index is neither referenced nor copied.
    assert!(!p.has_manifest("low/mirror3", &idx.index.digest.to_string()));

    // `all` keeps everything.
    ferry(&home, &reg.ferry_config(), &["mirror", "gather", "-p", "all", &list, &format!("{r}/low/mirror3:sync-2")]).expect_code(0);
    assert_eq!(p.manifest_json("low/mirror3", "sync-2")["manifests"].as_array().unwrap().len(), 2);
}

/// §12.1.4: labels become a compact JSON annotation with sorted keys.
#[test]
fn labels_become_annotations() {
    let reg = Registry::start();
    let p = reg.pusher();
    images::single_image(&p, "low/labels", "image2", 4);
    images::single_image(&p, "low/labels", "image3", 5);
    let r = reg.addr();
    let home = TestHome::new();
    let list = write_file(
        &home,
        "sources.list",
        &format!(
            "# labelled\n{r}/low/labels:image2,module=kuberay,component=core\n{r}/low/labels:image3, component=env , module=kuberay\n"
        ),
    );
    ferry(&home, &reg.ferry_config(), &["mirror", "gather", "--index-fallback", &list, &format!("{r}/low/mirror2:sync-2")]).expect_code(0);
    let index = p.manifest_json("low/mirror2", "sync-2");
    let labels: Vec<&str> =
        index["manifests"].as_array().unwrap().iter().map(|m| m["annotations"]["data.act3-ace.io/labels"].as_str().unwrap()).collect();
    assert_eq!(labels, vec![r#"{"component":"core","module":"kuberay"}"#, r#"{"component":"env","module":"kuberay"}"#]);
}

/// The index is byte-for-byte what Go's encoder writes (field order, sorted keys, escaping),
/// and an empty gather writes `"manifests":[]`, not null.
#[test]
fn index_bytes_are_go_encoded() {
    let reg = Registry::start();
    let p = reg.pusher();
    let img = images::single_image(&p, "low/one", "v1", 6);
    let r = reg.addr();
    let home = TestHome::new();
    let src = format!("{r}/low/one:v1");
    let list = write_file(&home, "sources.list", &format!("{src}\n"));
    ferry(&home, &reg.ferry_config(), &["mirror", "gather", "-a", "note=<a&b>,z=1", &list, &format!("{r}/low/g:s")]).expect_code(0);
    let size = sizes(&[&img.config, &img.layers[0], &img.layers[1]]);
    let expected = format!(
        concat!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","artifactType":"application/vnd.act3-ace.data.gather+json","#,
            r#""manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{digest}","size":{msize},"#,
            r#""annotations":{{"org.opencontainers.image.ref.name":"{src}","vnd.act3-ace.manifest.source":"{src}"}}}}],"#,
            r#""annotations":{{"note":"\u003ca\u0026b\u003e","vnd.act3-ace.data.layer.size.deduplicated":"{size}","#,
            r#""vnd.act3-ace.data.layer.size.total":"{size}","vnd.act3-ace.data.version":"ferry-v{version}","z":"1"}}}}"#
        ),
        digest = img.manifest.digest,
        msize = img.manifest.size,
        src = src,
        size = size,
        version = env!("CARGO_PKG_VERSION"),
    );
    assert_eq!(String::from_utf8(p.manifest("low/g", "s").unwrap().1).unwrap(), expected);

    let empty = write_file(&home, "empty.list", "# nothing yet\n\n");
    ferry(&home, &reg.ferry_config(), &["mirror", "gather", &empty, &format!("{r}/low/g:empty")]).expect_code(0);
    let raw = String::from_utf8(p.manifest("low/g", "empty").unwrap().1).unwrap();
    assert!(raw.contains(r#""manifests":[]"#), "{raw}");
}

/// §13.19: Docker schema2 images and manifest lists are filtered by platform too (ace-dt let
/// schema2 images through unfiltered).
#[test]
fn platforms_filter_docker_images_and_lists() {
    let reg = Registry::start();
    let p = reg.pusher();
    images::docker_image(&p, "low/dimage", "v1", 60);
    let list = images::docker_manifest_list(&p, "low/dlist", "v1", 61);
    let r = reg.addr();
    let home = TestHome::new();
    let sources = write_file(&home, "sources.list", &format!("{r}/low/dimage:v1\n{r}/low/dlist:v1\n"));
    ferry(&home, &reg.ferry_config(), &["mirror", "gather", "--allow-empty", "-p", "linux/arm64", &sources, &format!("{r}/low/g:arm64")])
        .expect_code(0);
    let index = p.manifest_json("low/g", "arm64");
    let entries = index["manifests"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "the amd64 schema2 image is dropped: {index}");
    assert_eq!(entries[0]["digest"], list.children[1].digest.to_string());
    assert_eq!(entries[0]["mediaType"], "application/vnd.docker.distribution.manifest.v2+json");
    assert_eq!(
        sha256(entries[0]["annotations"]["data.act3-ace.io/source-index"].as_str().unwrap().as_bytes()),
        list.index.digest.to_string()
    );
}

/// The fixture builders are deterministic: the same seed gives the same digests in any
/// registry, another seed other digests.
#[test]
fn fixtures_are_deterministic() {
    let (a, b) = (Registry::start(), Registry::start());
    let x = images::index_of_indexes(&a.pusher(), "f/x", "v1", 5);
    let y = images::index_of_indexes(&b.pusher(), "f/y", "v1", 5);
    let z = images::index_of_indexes(&b.pusher(), "f/z", "v1", 6);
    assert_eq!(x.index.digest, y.index.digest);
    assert_ne!(x.index.digest, z.index.digest);
    let big1 = images::big_image(&a.pusher(), "f/big", "v1", &[3 << 20], 7);
    let big2 = images::big_image(&b.pusher(), "f/big", "v1", &[3 << 20], 7);
    assert_eq!(big1.layers[0].digest, big2.layers[0].digest);
    assert_eq!(big1.layers[0].size, 3 << 20);
}

/// A graph that names one subgraph twice at each of 40 levels (2^40 paths, 41 manifests):
/// gathered, counted and serialized in moments, with repeats counted in the total as a tree
/// walk would count them.
#[test]
fn a_graph_of_repeated_subgraphs_is_counted_once_per_manifest() {
    let reg = Registry::start();
    let p = reg.pusher();
    let img = images::single_image(&p, "low/dag", "leaf", 7);
    let blob_bytes: u64 = sizes(&[&img.config, &img.layers[0], &img.layers[1]]);
    let mut top = img.manifest.clone();
    const LEVELS: u32 = 40;
    for _ in 0..LEVELS {
        top = images::index(&p, "low/dag", None, vec![top.clone(), top], false).index;
    }
    let r = reg.addr();
    let home = TestHome::new();
    let list = write_file(&home, "sources.list", &format!("{r}/low/dag@{}", top.digest));
    let run = ferry(&home, &reg.ferry_config(), &["mirror", "gather", &list, &format!("{r}/low/mirror:dag")]);
    run.expect_code(0);
    let (_, raw) = p.manifest("low/mirror", "dag").unwrap();
    let index: Value = serde_json::from_slice(&raw).unwrap();
    let total = blob_bytes.saturating_mul(1 << LEVELS);
    assert_eq!(index["annotations"]["vnd.act3-ace.data.layer.size.total"], total.to_string());
    assert_eq!(index["annotations"]["vnd.act3-ace.data.layer.size.deduplicated"], blob_bytes.to_string());
    let tar = home.path().join("dag.tar");
    ferry(&home, &reg.ferry_config(), &["mirror", "serialize", &format!("{r}/low/mirror:dag"), tar.to_str().unwrap()]).expect_code(0);
}
