//! Archives other tools write: `docker save` before Docker 25 (legacy layer directories, links
//! between them), Docker 25's (an OCI layout beside `manifest.json`), skopeo's docker-archive,
//! and an OCI layout listing several tagged images (umoci's). Each lands as valid manifests,
//! tagged by the archive's own names under the destination repository; hostile ones are
//! refused alike by `verify`, `deserialize --dry-run` and `deserialize`, with nothing tagged.

use std::process::Command;

use ferry_testkit::{Registry, TestHome};
use ferry_tests::{Run, ferry, sha256};
use serde_json::{Value, json};

/// A tar built entry by entry, as the tools write them.
struct Tar(tar::Builder<Vec<u8>>);

impl Tar {
    fn new() -> Tar {
        Tar(tar::Builder::new(Vec::new()))
    }

    fn file(&mut self, path: &str, bytes: &[u8]) -> &mut Tar {
        let mut h = tar::Header::new_ustar();
        h.set_path(path).unwrap();
        h.set_size(bytes.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        h.set_cksum();
        self.0.append(&h, bytes).unwrap();
        self
    }

    fn link(&mut self, path: &str, target: &str, kind: tar::EntryType) -> &mut Tar {
        let mut h = tar::Header::new_ustar();
        h.set_path(path).unwrap();
        h.set_size(0);
        h.set_mode(0o777);
        h.set_entry_type(kind);
        h.set_link_name(target).unwrap();
        h.set_cksum();
        self.0.append(&h, &[][..]).unwrap();
        self
    }

    fn finish(self) -> Vec<u8> {
        self.0.into_inner().unwrap()
    }
}

/// A layer: an uncompressed tar of one file. Its digest is its diff_id.
fn layer(seed: &str) -> Vec<u8> {
    let mut t = Tar::new();
    t.file(&format!("etc/{seed}"), format!("content of {seed}\n").as_bytes());
    t.finish()
}

fn hex(digest: &str) -> &str {
    digest.trim_start_matches("sha256:")
}

/// An image config listing `layers` as its diff_ids.
fn image_config(layers: &[&[u8]], user: &str) -> Vec<u8> {
    let diff_ids: Vec<String> = layers.iter().map(|l| sha256(l)).collect();
    serde_json::to_vec(&json!({
        "architecture": "amd64", "os": "linux", "config": { "User": user },
        "rootfs": { "type": "layers", "diff_ids": diff_ids },
    }))
    .unwrap()
}

/// The OCI manifest of `config` and uncompressed `layers`, in Go's field order: what ferry
/// documents it writes for a docker archive's image (and what Docker 25 writes).
fn oci_manifest(config: &[u8], layers: &[&[u8]]) -> Vec<u8> {
    let layers: Vec<String> = layers
        .iter()
        .map(|l| format!(r#"{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{}","size":{}}}"#, sha256(l), l.len()))
        .collect();
    format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{}","size":{}}},"layers":[{}]}}"#,
        sha256(config),
        config.len(),
        layers.join(",")
    )
    .into_bytes()
}

/// Three images as `docker save app:v1 app:v2 <id>` wrote them before Docker 25: layer
/// directories (`<id>/layer.tar`, `json`, `VERSION`), the shared layer of v2 a symlink into
/// v1's directory, configs as `<hex>.json`, then `manifest.json` and `repositories` last; the
/// third image has no RepoTags.
struct Legacy {
    tar: Vec<u8>,
    manifests: [Vec<u8>; 3],
    layers: [Vec<u8>; 3],
}

fn legacy() -> Legacy {
    let (a, b, c) = (layer("a"), layer("b"), layer("c"));
    let c1 = image_config(&[&a, &b], "one");
    let c2 = image_config(&[&a, &c], "two");
    let c3 = image_config(&[&c], "three");
    let ids = ["1".repeat(64), "2".repeat(64), "3".repeat(64), "4".repeat(64)];
    let mut t = Tar::new();
    for (id, l) in [(&ids[0], &a), (&ids[1], &b), (&ids[3], &c)] {
        t.file(&format!("{id}/VERSION"), b"1.0").file(&format!("{id}/json"), format!(r#"{{"id":"{id}"}}"#).as_bytes());
        t.file(&format!("{id}/layer.tar"), l);
    }
    // Docker links a layer it has written already.
    t.link(&format!("{}/layer.tar", ids[2]), &format!("../{}/layer.tar", ids[0]), tar::EntryType::Symlink);
    for c in [&c1, &c2, &c3] {
        t.file(&format!("{}.json", hex(&sha256(c))), c);
    }
    let manifest = json!([
        { "Config": format!("{}.json", hex(&sha256(&c1))), "RepoTags": ["app:v1"], "Layers": [format!("{}/layer.tar", ids[0]), format!("{}/layer.tar", ids[1])] },
        { "Config": format!("{}.json", hex(&sha256(&c2))), "RepoTags": ["app:v2", "example.com/team/app:latest"], "Layers": [format!("{}/layer.tar", ids[2]), format!("{}/layer.tar", ids[3])] },
        { "Config": format!("{}.json", hex(&sha256(&c3))), "RepoTags": null, "Layers": [format!("{}/layer.tar", ids[3])] },
    ]);
    t.file("manifest.json", &serde_json::to_vec(&manifest).unwrap());
    t.file("repositories", format!(r#"{{"app":{{"v1":"{}","v2":"{}"}}}}"#, ids[1], ids[3]).as_bytes());
    let manifests = [oci_manifest(&c1, &[&a, &b]), oci_manifest(&c2, &[&a, &c]), oci_manifest(&c3, &[&c])];
    Legacy { tar: t.finish(), manifests, layers: [a, b, c] }
}

#[test]
fn a_legacy_docker_save_loads_with_its_repo_tags() {
    let high = Registry::start();
    let home = TestHome::new();
    let config = ferry_tests::config_for(&[&high]);
    let h = high.addr();
    let q = high.pusher();
    let l = legacy();
    let path = home.path().join("saved.tar");
    std::fs::write(&path, &l.tar).unwrap();
    let p = path.to_str().unwrap();

    let verify = ferry(&home, &config, &["mirror", "verify", "--complete", p]);
    verify.expect_code(0);
    assert!(verify.stdout.contains("3 manifests (3 images)"), "{}", verify.stdout);

    // A tag in IMAGE cannot name three images: exit 2, nothing tagged.
    let run = ferry(&home, &config, &["mirror", "deserialize", p, &format!("{h}/high/tagged:v9")]);
    run.expect_code(2);
    assert!(run.stderr.contains("IMAGE names tag v9, but the archive holds 3 images") && run.stderr.contains("app:v1"), "{}", run.stderr);
    assert!(q.tags("high/tagged").is_empty());

    // From the file (read at offsets), from standard input and gzip-compressed (spooled): the
    // same manifests, tagged by RepoTags under the destination repository.
    let gz = home.path().join("saved.tar.gz");
    let out = Command::new("sh").arg("-c").arg(format!("gzip -n -c '{p}' > '{}'", gz.display())).output().unwrap();
    assert!(out.status.success());
    let cfg = home.path().join("stdin-config.yaml");
    std::fs::write(&cfg, &config).unwrap();
    let stdin =
        format!("cat '{p}' | '{}' --config '{}' mirror deserialize - {h}/high/stdin", ferry_tests::binary().display(), cfg.display());
    for (repo, run) in [
        ("high/app", ferry(&home, &config, &["mirror", "deserialize", p, &format!("{h}/high/app")])),
        ("high/gz", ferry(&home, &config, &["mirror", "deserialize", gz.to_str().unwrap(), &format!("{h}/high/gz")])),
        ("high/stdin", {
            let out = Command::new("sh")
                .arg("-c")
                .arg(&stdin)
                .env_clear()
                .env("PATH", std::env::var_os("PATH").unwrap_or_default())
                .envs(home.env())
                .output()
                .unwrap();
            Run {
                code: out.status.code().unwrap(),
                stdout: String::from_utf8_lossy(&out.stdout).into(),
                stderr: String::from_utf8_lossy(&out.stderr).into(),
            }
        }),
    ] {
        run.expect_code(0);
        let mut tags = q.tags(repo);
        tags.sort();
        assert_eq!(tags, ["latest", "v1", "v2"], "{repo}: {}", run.stdout);
        for (tag, n) in [("v1", 0), ("v2", 1), ("latest", 1)] {
            let (media_type, bytes) = q.manifest(repo, tag).unwrap();
            assert_eq!(media_type, "application/vnd.oci.image.manifest.v1+json");
            assert_eq!(bytes, l.manifests[n], "{repo}:{tag}");
        }
        // The untagged image is there by digest, and named.
        let third = sha256(&l.manifests[2]);
        assert!(q.has_manifest(repo, &third), "{repo}");
        assert!(run.stdout.contains(&format!("untagged (the archive gives it no name): {h}/{repo}@{third}")), "{}", run.stdout);
        assert!(run.stdout.contains(&format!("3 tags applied: {h}/{repo}:v1 ({})", sha256(&l.manifests[0]))), "{}", run.stdout);
        for layer in &l.layers {
            assert!(q.has_blob(repo, &sha256(layer).parse().unwrap()));
        }
    }
    // skopeo, an independent reader, sees the image as ferry documents it.
    let skopeo = ferry_tests::skopeo_digest(&format!("{h}/high/app:v2"), &["--tls-verify=false"]);
    assert_eq!(skopeo, sha256(&l.manifests[1]));

    // unarchive scatters the images by their RepoTags (as full references) through a mapper.
    let cache = home.path().join("cache");
    let run = ferry(&home, &config, &["mirror", "unarchive", "--cache", cache.to_str().unwrap(), p, &format!("nest={h}/nested")]);
    run.expect_code(0);
    assert_eq!(q.manifest("nested/docker.io/library/app", "v1").unwrap().1, l.manifests[0], "{}", run.stdout);
    assert_eq!(q.manifest("nested/example.com/team/app", "latest").unwrap().1, l.manifests[1]);
    assert!(run.stdout.contains(&format!("not routed (the archive gives it no name): {}", sha256(&l.manifests[2]))), "{}", run.stdout);
}

/// Docker 25 and later write an OCI layout (blobs, `index.json`, `oci-layout`) beside
/// `manifest.json` and `repositories`, blobs first. The `index.json` wins: its manifests land
/// as Docker wrote them, tagged by their `ref.name`.
#[test]
fn docker_25s_index_json_wins_over_its_manifest_json() {
    let high = Registry::start();
    let home = TestHome::new();
    let config = ferry_tests::config_for(&[&high]);
    let h = high.addr();
    let q = high.pusher();
    let (a, b) = (layer("a"), layer("b"));
    let (c1, c2) = (image_config(&[&a], "one"), image_config(&[&a, &b], "two"));
    // Docker's manifests carry an annotation ferry's own would not: which one lands shows.
    let docker_manifest = |c: &[u8], ls: &[&[u8]]| {
        let m = String::from_utf8(oci_manifest(c, ls)).unwrap();
        m.replacen(r#""layers""#, r#""annotations":{"by":"docker"},"layers""#, 1).into_bytes()
    };
    let (m1, m2) = (docker_manifest(&c1, &[&a]), docker_manifest(&c2, &[&a, &b]));
    let mut t = Tar::new();
    for blob in [&a, &b, &c1, &c2, &m1, &m2] {
        t.file(&format!("blobs/sha256/{}", hex(&sha256(blob))), blob);
    }
    let entry = |m: &[u8], name: &str, tag: &str| {
        json!({ "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": sha256(m), "size": m.len(),
                "annotations": { "io.containerd.image.name": name, "org.opencontainers.image.ref.name": tag } })
    };
    let index = json!({ "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [entry(&m1, "docker.io/library/app:v1", "v1"), entry(&m2, "docker.io/library/app:v2", "v2")] });
    t.file("index.json", &serde_json::to_vec(&index).unwrap());
    let manifest = json!([
        { "Config": format!("blobs/sha256/{}", hex(&sha256(&c1))), "RepoTags": ["app:v1"], "Layers": [format!("blobs/sha256/{}", hex(&sha256(&a)))] },
        { "Config": format!("blobs/sha256/{}", hex(&sha256(&c2))), "RepoTags": ["app:v2"], "Layers": [format!("blobs/sha256/{}", hex(&sha256(&a))), format!("blobs/sha256/{}", hex(&sha256(&b)))] },
    ]);
    t.file("manifest.json", &serde_json::to_vec(&manifest).unwrap());
    t.file("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#);
    t.file("repositories", br#"{"app":{"v1":"x","v2":"y"}}"#);
    let path = home.path().join("docker25.tar");
    std::fs::write(&path, t.finish()).unwrap();
    let p = path.to_str().unwrap();
    ferry(&home, &config, &["mirror", "verify", "--complete", p]).expect_code(0);
    let run = ferry(&home, &config, &["mirror", "deserialize", p, &format!("{h}/high/app")]);
    run.expect_code(0);
    assert_eq!(q.manifest("high/app", "v1").unwrap().1, m1, "{}", run.stdout);
    assert_eq!(q.manifest("high/app", "v2").unwrap().1, m2);
    assert!(run.stdout.contains("2 tags applied"), "{}", run.stdout);
}

/// An OCI layout whose `index.json` lists several tagged images (umoci writes one entry per
/// tag): every tag lands under the destination repository; an entry without a name is listed.
#[test]
fn a_layout_with_several_tags_keeps_every_tag() {
    let high = Registry::start();
    let home = TestHome::new();
    let config = ferry_tests::config_for(&[&high]);
    let h = high.addr();
    let q = high.pusher();
    let (a, b, c) = (layer("a"), layer("b"), layer("c"));
    let (c1, c2, c3) = (image_config(&[&a], "one"), image_config(&[&b], "two"), image_config(&[&c], "three"));
    let (m1, m2, m3) = (oci_manifest(&c1, &[&a]), oci_manifest(&c2, &[&b]), oci_manifest(&c3, &[&c]));
    let entry = |m: &[u8], tag: Option<&str>| {
        let mut e = json!({ "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": sha256(m), "size": m.len() });
        if let Some(t) = tag {
            e["annotations"] = json!({ "org.opencontainers.image.ref.name": t });
        }
        e
    };
    let index = json!({ "schemaVersion": 2, "manifests": [entry(&m1, Some("v1")), entry(&m1, Some("stable")), entry(&m2, Some("v2")), entry(&m3, None)] });
    let mut t = Tar::new();
    t.file("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#).file("index.json", &serde_json::to_vec(&index).unwrap());
    for blob in [&a, &b, &c, &c1, &c2, &c3, &m1, &m2, &m3] {
        t.file(&format!("blobs/sha256/{}", hex(&sha256(blob))), blob);
    }
    let path = home.path().join("umoci.tar");
    std::fs::write(&path, t.finish()).unwrap();
    let p = path.to_str().unwrap();

    let run = ferry(&home, &config, &["mirror", "deserialize", p, &format!("{h}/high/layout")]);
    run.expect_code(0);
    let mut tags = q.tags("high/layout");
    tags.sort();
    assert_eq!(tags, ["stable", "v1", "v2"], "{}", run.stdout);
    assert_eq!(q.manifest("high/layout", "stable").unwrap().1, m1);
    assert_eq!(q.manifest("high/layout", "v2").unwrap().1, m2);
    assert!(q.has_manifest("high/layout", &sha256(&m3)));
    assert!(run.stdout.contains(&format!("untagged (the archive gives it no name): {h}/high/layout@{}", sha256(&m3))), "{}", run.stdout);
    // A tag in IMAGE is refused for several images, before anything is tagged.
    let run = ferry(&home, &config, &["mirror", "deserialize", p, &format!("{h}/high/one:v1")]);
    run.expect_code(2);
    assert!(q.tags("high/one").is_empty(), "{}", run.stderr);
}

/// skopeo writes a docker-archive of an image from a registry; ferry loads it and the image is
/// byte for byte the one skopeo read (an OCI image with uncompressed layers).
#[test]
fn a_skopeo_docker_archive_loads_as_the_original() {
    let low = Registry::start();
    let high = Registry::start();
    let home = TestHome::new();
    let config = ferry_tests::config_for(&[&low, &high]);
    let p = low.pusher();
    let (a, b) = (layer("skopeo-a"), layer("skopeo-b"));
    let c = image_config(&[&a, &b], "skopeo");
    for blob in [&a, &b, &c] {
        p.push_blob("low/app", "application/octet-stream", blob);
    }
    let m = oci_manifest(&c, &[&a, &b]);
    p.push_manifest("low/app", "v1", "application/vnd.oci.image.manifest.v1+json", &m);
    let path = home.path().join("skopeo-docker.tar");
    let out = Command::new("skopeo")
        .args(["copy", "--src-tls-verify=false"])
        .arg(format!("docker://{}/low/app:v1", low.addr()))
        .arg(format!("docker-archive:{}:team/app:v1", path.display()))
        .output()
        .expect("skopeo (apt-get install skopeo)");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let listing = String::from_utf8(Command::new("tar").arg("-tf").arg(&path).output().unwrap().stdout).unwrap();
    assert!(listing.contains("manifest.json") && !listing.contains("index.json"), "{listing}");

    let p = path.to_str().unwrap();
    let verify = ferry(&home, &config, &["mirror", "verify", p]);
    verify.expect_code(0);
    assert!(verify.stdout.contains("1 manifests (1 images)"), "{}", verify.stdout);
    let run = ferry(&home, &config, &["mirror", "deserialize", p, &format!("{}/high/app", high.addr())]);
    run.expect_code(0);
    assert_eq!(high.pusher().tags("high/app"), ["v1"], "{}", run.stdout);
    let got = ferry_tests::skopeo_digest(&format!("{}/high/app:v1", high.addr()), &["--tls-verify=false"]);
    assert_eq!(got, sha256(&m), "the image skopeo wrote, as it was");

    // skopeo's oci-archive of the same image: one index.json entry, named by its ref.name as
    // a docker archive's image is by RepoTags.
    let oci = home.path().join("skopeo-oci.tar");
    let out = Command::new("skopeo")
        .args(["copy", "--src-tls-verify=false"])
        .arg(format!("docker://{}/low/app:v1", low.addr()))
        .arg(format!("oci-archive:{}:v1", oci.display()))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let run = ferry(&home, &config, &["mirror", "deserialize", oci.to_str().unwrap(), &format!("{}/high/oci", high.addr())]);
    run.expect_code(0);
    assert_eq!(high.pusher().tags("high/oci"), ["v1"], "{}", run.stdout);
    // skopeo may rewrite the manifest of an oci-archive: what it wrote is what lands.
    let index: Value = serde_json::from_slice(&crate::member(&oci, "index.json", 0)).unwrap();
    assert_eq!(sha256(&high.pusher().manifest("high/oci", "v1").unwrap().1), index["manifests"][0]["digest"].as_str().unwrap());
}

/// `verify --complete`, `deserialize --dry-run` and `deserialize` refuse alike (exit 1), each
/// naming `needles`, nothing tagged.
fn all_refuse(home: &TestHome, config: &str, high: &Registry, what: &str, bytes: &[u8], needles: &[&str]) {
    let path = home.path().join(format!("{}.tar", what.replace(' ', "-")));
    std::fs::write(&path, bytes).unwrap();
    let p = path.to_str().unwrap();
    let repo = format!("hostile/{}", what.replace(' ', "-"));
    let h = high.addr();
    let runs = [
        ("verify", ferry(home, config, &["mirror", "verify", "--complete", p])),
        ("dry run", ferry(home, config, &["mirror", "deserialize", "--dry-run", p, &format!("{h}/{repo}")])),
        ("deserialize", ferry(home, config, &["mirror", "deserialize", p, &format!("{h}/{repo}")])),
    ];
    for (who, run) in &runs {
        assert_eq!(run.code, 1, "{what}: {who}: {run:?}");
        for needle in needles {
            assert!(run.stderr.contains(needle), "{what}: {who} does not say {needle:?}: {}", run.stderr);
        }
    }
    assert!(high.pusher().tags(&repo).is_empty(), "{what}: nothing tagged");
}

/// A one-image docker archive whose `manifest.json` and files `edit` changes.
fn one_image(edit: impl FnOnce(&mut Value, &mut Tar)) -> Vec<u8> {
    let a = layer("a");
    let c = image_config(&[&a], "one");
    let mut t = Tar::new();
    t.file("l1/layer.tar", &a).file(&format!("{}.json", hex(&sha256(&c))), &c);
    let mut manifest = json!([{ "Config": format!("{}.json", hex(&sha256(&c))), "RepoTags": ["app:v1"], "Layers": ["l1/layer.tar"] }]);
    edit(&mut manifest, &mut t);
    t.file("manifest.json", &serde_json::to_vec(&manifest).unwrap());
    t.finish()
}

#[test]
fn hostile_docker_archives_are_refused_by_name() {
    let high = Registry::start();
    let home = TestHome::new();
    let config = ferry_tests::config_for(&[&high]);
    let refuse = |what: &str, bytes: Vec<u8>, needles: &[&str]| all_refuse(&home, &config, &high, what, &bytes, needles);

    refuse(
        "parent path",
        one_image(|m, _| m[0]["Layers"][0] = json!("../l1/layer.tar")),
        &[r#"entry "../l1/layer.tar": path escapes the archive"#],
    );
    refuse(
        "escaping link",
        one_image(|m, t| {
            t.link("l2/layer.tar", "../../etc/passwd", tar::EntryType::Symlink);
            m[0]["Layers"][0] = json!("l2/layer.tar");
        }),
        &[r#"entry "l2/layer.tar": path escapes the archive"#],
    );
    refuse(
        "missing layer",
        one_image(|m, _| m[0]["Layers"][0] = json!("nowhere/layer.tar")),
        &[r#"image 1: Layers[0] "nowhere/layer.tar" is not in the archive"#],
    );
    let wrong = layer("not a");
    refuse(
        "diff id mismatch",
        one_image(|m, t| {
            t.file("l2/layer.tar", &wrong);
            m[0]["Layers"][0] = json!("l2/layer.tar");
        }),
        &[&format!(r#"entry "l2/layer.tar": content has digest {}, but the config's diff_id is {}"#, sha256(&wrong), sha256(&layer("a")))],
    );
    // Over the size read whole: the mismatch is found while the layer uploads, and nothing of
    // it is kept.
    let big: Vec<u8> = (0..5u32 << 20).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
    refuse(
        "big diff id mismatch",
        one_image(|m, t| {
            t.file("big/layer.tar", &big);
            m[0]["Layers"][0] = json!("big/layer.tar");
        }),
        &[&format!(r#"entry "big/layer.tar": content has digest {}, but the config's diff_id is {}"#, sha256(&big), sha256(&layer("a")))],
    );
    assert!(!high.pusher().has_blob("hostile/big-diff-id-mismatch", &sha256(&big).parse().unwrap()));
    refuse("not json", one_image(|m, _| *m = json!("not a list")), &[r#"entry "manifest.json": not a docker-archive manifest"#]);
    refuse(
        "duplicate repo tags",
        one_image(|m, _| {
            let again = m[0].clone();
            m.as_array_mut().unwrap().push(again);
        }),
        &[r#"RepoTags entry "app:v1" is on image 1 and image 2"#],
    );
    refuse(
        "layer count",
        one_image(|m, _| m[0]["Layers"].as_array_mut().unwrap().push(json!("l1/layer.tar"))),
        &["rootfs.diff_ids lists 1 layers but manifest.json names 2 for image 1"],
    );
    // Cut inside a layer: refused as truncated, with no advice to continue it (a docker
    // archive has no index.json to continue from; it is written again).
    let tar = legacy().tar;
    refuse("cut", tar[..tar.len() / 3].to_vec(), &["(truncated?)"]);
    let run =
        ferry(&home, &config, &["mirror", "deserialize", home.path().join("cut.tar").to_str().unwrap(), &format!("{}/cut", high.addr())]);
    assert!(!run.stderr.contains("to complete it"), "{}", run.stderr);
    // A config of 9 MiB (its layer list padded with spaces).
    let mut fat = image_config(&[&layer("a")], "fat");
    fat.splice(1..1, vec![b' '; 9 << 20]);
    let fat_name = format!("{}.json", hex(&sha256(&fat)));
    refuse(
        "huge config",
        one_image(|m, t| {
            t.file(&fat_name, &fat);
            m[0]["Config"] = json!(fat_name);
        }),
        &[&format!(r#"entry "{fat_name}": {} bytes, over the 8388608-byte limit"#, fat.len())],
    );
    // An absurd manifest.json: refused from its size, before it is read.
    let mut big = Tar::new();
    big.file("manifest.json", &vec![b' '; (16 << 20) + 1]);
    refuse("huge manifest", big.finish(), &[r#"entry "manifest.json": 16777217 bytes, over the 16777216-byte limit"#]);
}

/// A docker archive carries no delivery signature: under `deliveries.requireSigned` it is
/// refused with nothing written.
#[test]
fn a_docker_archive_is_refused_when_deliveries_must_be_signed() {
    let high = Registry::start();
    let home = TestHome::new();
    let officer = home.path().join("officer.pub");
    ferry(&home, &ferry_tests::config_for(&[&high]), &["plugin", "keygen", "officer"]).expect_code(0);
    let config =
        format!("{}deliveries:\n  requireSigned: true\n  trustedKeys: [{}]\n", ferry_tests::config_for(&[&high]), officer.display());
    let l = legacy();
    let path = home.path().join("saved.tar");
    std::fs::write(&path, &l.tar).unwrap();
    let run = ferry(&home, &config, &["mirror", "deserialize", path.to_str().unwrap(), &format!("{}/high/app", high.addr())]);
    run.expect_code(1);
    assert!(
        run.stderr.contains("the delivery is refused by the policy in") && run.stderr.contains("the delivery is not signed"),
        "{}",
        run.stderr
    );
    let q = high.pusher();
    assert!(q.tags("high/app").is_empty());
    assert!(!q.has_blob("high/app", &ferry_oci::Digest::sha256(&l.layers[0])));
}
