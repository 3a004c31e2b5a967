//! Hostile and unusual archives through `verify --complete`, `deserialize --dry-run` and
//! `deserialize`: one reader, one verdict. Each refusal names the entry and its byte offset,
//! quotes outside bytes escaped, and costs little memory; each good archive (a skopeo
//! `oci-archive`, a 1 GiB layer) passes all three.

use std::io::{Seek, Write};
use std::process::Command;

use ferry_archive::{ArchiveWriter, Plain};
use ferry_oci::{Descriptor, Index, gojson, media_type};
use ferry_testkit::{Registry, TestHome, images};
use ferry_tests::{Run, ferry};

/// A small image: manifest, config and layer, with their descriptors.
struct Parts {
    manifest: (Descriptor, Vec<u8>),
    config: (Descriptor, Vec<u8>),
    layer: (Descriptor, Vec<u8>),
}

fn parts() -> Parts {
    let layer = b"layer bytes of a hostile test".to_vec();
    let config = br#"{"architecture":"amd64","os":"linux"}"#.to_vec();
    let layer_desc = Descriptor::of_bytes("application/vnd.oci.image.layer.v1.tar", &layer);
    let config_desc = Descriptor::of_bytes(media_type::OCI_CONFIG, &config);
    let manifest = manifest_of(&config_desc, &layer_desc);
    Parts {
        manifest: (Descriptor::of_bytes(media_type::OCI_MANIFEST, &manifest), manifest),
        config: (config_desc, config),
        layer: (layer_desc, layer),
    }
}

fn manifest_of(config: &Descriptor, layer: &Descriptor) -> Vec<u8> {
    gojson::to_vec(&serde_json::json!({
        "schemaVersion": 2, "mediaType": media_type::OCI_MANIFEST, "config": config, "layers": [layer],
    }))
}

fn index_json(root: &Descriptor, version: &str) -> Vec<u8> {
    let mut i = Index::new();
    i.manifests = vec![root.clone()];
    i.annotations.insert("vnd.act3-ace.data.serialization.version".into(), version.into());
    gojson::to_vec_pretty(&i)
}

/// An archive of `parts` as ace-dt lays it out, with `root` in both `index.json` files and
/// `extra` writing more entries before the final one; returns the bytes and the offset
/// where `extra` started.
fn archive(p: &Parts, root: &Descriptor, version: &str, extra: impl FnOnce(&mut ArchiveWriter<Plain<Vec<u8>>>)) -> (Vec<u8>, u64) {
    let mut w = ArchiveWriter::new(Plain::new(Vec::new()));
    w.write_oci_layout().unwrap();
    w.write_index(&index_json(root, version)).unwrap();
    for (d, b) in [&p.manifest, &p.config, &p.layer] {
        w.write_blob(d, b.as_slice()).unwrap();
    }
    let at = w.position().unwrap();
    extra(&mut w);
    w.write_index(&index_json(root, version)).unwrap();
    (w.finish().unwrap().into_inner(), at)
}

/// `verify --complete`, `deserialize --dry-run` and `deserialize` of the archive at `path`.
fn three(home: &TestHome, config: &str, high: &Registry, path: &std::path::Path, repo: &str) -> [(&'static str, Run); 3] {
    let h = high.addr();
    let path = path.to_str().unwrap();
    [
        ("verify", ferry(home, config, &["mirror", "verify", "--complete", path])),
        ("dry run", ferry(home, config, &["mirror", "deserialize", "--dry-run", path, &format!("{h}/{repo}:dry")])),
        ("deserialize", ferry(home, config, &["mirror", "deserialize", path, &format!("{h}/{repo}:v1")])),
    ]
}

/// All three refuse alike (the same non-zero exit) with every needle in the message, no raw
/// control byte on the terminal, and nothing tagged.
fn all_refuse(home: &TestHome, config: &str, high: &Registry, what: &str, bytes: &[u8], needles: &[&str]) {
    let path = home.path().join(format!("{}.tar", what.replace(' ', "-")));
    std::fs::write(&path, bytes).unwrap();
    let repo = format!("hostile/{}", what.replace(' ', "-"));
    let runs = three(home, config, high, &path, &repo);
    let code = runs[0].1.code;
    assert_ne!(code, 0, "{what}: verify accepted it: {:?}", runs[0].1);
    for (who, run) in &runs {
        assert_eq!(run.code, code, "{what}: {who} disagrees with verify: {run:?}");
        for needle in needles {
            assert!(run.stderr.contains(needle), "{what}: {who} does not say {needle:?}: {}", run.stderr);
        }
        assert!(!run.stderr.bytes().any(|b| b == 0x1b || b == 0x07), "{what}: {who} printed a control byte: {:?}", run.stderr);
    }
    assert!(high.pusher().tags(&repo).is_empty(), "{what}: nothing tagged");
}

fn all_accept(home: &TestHome, config: &str, high: &Registry, what: &str, path: &std::path::Path) {
    let repo = format!("hostile/{}", what.replace(' ', "-"));
    for (who, run) in three(home, config, high, path, &repo) {
        assert_eq!(run.code, 0, "{what}: {who} refused it: {run:?}");
    }
}

#[test]
fn entry_rules_are_the_same_for_verify_dry_run_and_deserialize() {
    let high = Registry::start();
    let home = TestHome::new();
    let config = ferry_tests::config_for(&[&high]);
    let p = parts();
    let root = &p.manifest.0;

    // The good archive passes all three.
    let (good, _) = archive(&p, root, "2", |_| {});
    let path = home.path().join("good.tar");
    std::fs::write(&path, &good).unwrap();
    all_accept(&home, &config, &high, "good", &path);

    // A nested path under blobs/.
    let (bytes, at) = archive(&p, root, "2", |w| w.file("blobs/sha256/a/b", b"x").unwrap());
    all_refuse(
        &home,
        &config,
        &high,
        "nested blob",
        &bytes,
        &[&format!("entry \"blobs/sha256/a/b\" at byte {at}"), "blobs/<algorithm>/<hex>"],
    );

    // Serialization version 3.
    let (bytes, _) = archive(&p, root, "3", |_| {});
    all_refuse(&home, &config, &high, "version 3", &bytes, &["entry \"index.json\" at byte 1024", "serialization version \"3\" is newer"]);

    // The root's descriptor one byte longer than its blob.
    let mut lying = root.clone();
    lying.size += 1;
    let (bytes, _) = archive(&p, &lying, "2", |_| {});
    let blob_at = crate::blob_header(&bytes, root.digest.hex());
    let says = format!("{} is {} bytes in the archive but {} in the descriptor of an index.json", root.digest, root.size, root.size + 1);
    all_refuse(&home, &config, &high, "root size off by one", &bytes, &[&format!("at byte {blob_at}"), &says]);

    // A name with ESC and BEL under blobs/: refused, printed escaped.
    let (bytes, at) = archive(&p, root, "2", |w| w.file("blobs/sha256/\x1b[31mred\x07", b"x").unwrap());
    all_refuse(&home, &config, &high, "escape name", &bytes, &[&format!("\"blobs/sha256/\\u{{1b}}[31mred\\u{{7}}\" at byte {at}")]);

    // A garbage header holding ESC and BEL: quoted, escaped, cut short.
    let mut garbage = good.clone();
    let header = (0..good.len()).step_by(512).rev().find(|&o| good[o..].starts_with(b"index.json\0")).unwrap();
    garbage[header..header + 512].fill(b'z');
    garbage[header..header + 4].copy_from_slice(b"\x1b]0;");
    garbage[header + 10] = 0x07;
    all_refuse(
        &home,
        &config,
        &high,
        "escape header",
        &garbage,
        &[&format!("no valid tar header at byte {header}"), "\"\\u{1b}]0;zzzzzz\\u{7}"],
    );

    // Cut inside a blob, and at an entry boundary: both truncated.
    let layer_data = crate::blob_header(&good, p.layer.0.digest.hex()) + 512;
    all_refuse(&home, &config, &high, "cut inside", &good[..layer_data + 7], &["after 7 of", "(truncated?)"]);
    all_refuse(&home, &config, &high, "cut at boundary", &good[..good.len() - 1024], &["without an end-of-archive marker (truncated?)"]);

    // A manifest over the limit, listed as the root: refused before it is read.
    let mut big = serde_json::from_slice::<serde_json::Value>(&p.manifest.1).unwrap();
    big["annotations"] = serde_json::json!({ "padding": "p".repeat(5 << 20) });
    let big = gojson::to_vec(&big);
    let big_desc = Descriptor::of_bytes(media_type::OCI_MANIFEST, &big);
    let mut w = ArchiveWriter::new(Plain::new(Vec::new()));
    w.write_oci_layout().unwrap();
    w.write_index(&index_json(&big_desc, "2")).unwrap();
    w.write_blob(&big_desc, big.as_slice()).unwrap();
    w.write_index(&index_json(&big_desc, "2")).unwrap();
    let bytes = w.finish().unwrap().into_inner();
    all_refuse(
        &home,
        &config,
        &high,
        "big manifest",
        &bytes,
        &[&format!("manifest {} is {} bytes, over the 4 MiB limit", big_desc.digest, big.len())],
    );

    // The same manifest named only by an index the archive lists: refused when the graph
    // is walked, never read whole.
    let index = gojson::to_vec(&serde_json::json!({
        "schemaVersion": 2, "mediaType": media_type::OCI_INDEX, "manifests": [big_desc],
    }));
    let index_desc = Descriptor::of_bytes(media_type::OCI_INDEX, &index);
    let mut w = ArchiveWriter::new(Plain::new(Vec::new()));
    w.write_oci_layout().unwrap();
    w.write_index(&index_json(&index_desc, "2")).unwrap();
    w.write_blob(&index_desc, index.as_slice()).unwrap();
    w.write_blob(&big_desc, big.as_slice()).unwrap();
    for (d, b) in [&p.config, &p.layer] {
        w.write_blob(d, b.as_slice()).unwrap();
    }
    w.write_index(&index_json(&index_desc, "2")).unwrap();
    let bytes = w.finish().unwrap().into_inner();
    all_refuse(
        &home,
        &config,
        &high,
        "big child manifest",
        &bytes,
        &[&format!("manifest {} is {} bytes, over the 4 MiB limit", big_desc.digest, big.len())],
    );
}

/// A zstd archive of 47 KB whose `index.json` claims 1 GiB: refused from its header, fast,
/// in little memory.
#[test]
fn an_index_json_bomb_is_refused_in_bounded_memory() {
    let high = Registry::start();
    let home = TestHome::new();
    let config = ferry_tests::config_for(&[&high]);
    let path = home.path().join("bomb.tar.zst");
    let mut enc = ferry_archive::AnySink::new(std::fs::File::create(&path).unwrap(), ferry_archive::Compression::Zstd).unwrap();
    let mut head = Vec::new();
    head.extend(ferry_archive::header::entry_headers("oci-layout", ferry_archive::header::Kind::File, 30));
    head.extend(ferry_oci::layout::OCI_LAYOUT_CONTENT);
    head.resize(512 + 512, 0);
    head.extend(ferry_archive::header::entry_headers("index.json", ferry_archive::header::Kind::File, 1 << 30));
    enc.write_all(&head).unwrap();
    let zeros = vec![b' '; 1 << 20];
    for _ in 0..1024 {
        enc.write_all(&zeros).unwrap();
    }
    enc.write_all(&[0; 1024]).unwrap();
    enc.finish().unwrap();
    let size = std::fs::metadata(&path).unwrap().len();
    assert!(size < 200 << 10, "{size} bytes");
    let bytes = std::fs::read(&path).unwrap();
    let started = std::time::Instant::now();
    all_refuse(
        &home,
        &config,
        &high,
        "index bomb",
        &bytes,
        &["entry \"index.json\" at byte 1024", "1073741824 bytes, over the 16777216-byte limit"],
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(60), "{:?}", started.elapsed());

    // Peak memory of a refusal, as the kernel counts it for the child.
    let out = Command::new("/usr/bin/time")
        .args(["-f", "%M"])
        .arg(ferry_tests::binary())
        .args(["mirror", "verify", path.to_str().unwrap()])
        .env_clear()
        .envs(home.env())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let kib: u64 = stderr.lines().last().and_then(|l| l.trim().parse().ok()).unwrap_or_else(|| panic!("{stderr}"));
    assert!(kib < 200 << 10, "peak RSS {kib} KiB: {stderr}");
}

/// A 1 GiB layer (a hole in a sparse file) whose bytes start like a manifest: every command
/// streams it; none needs its bytes whole.
#[test]
fn a_one_gib_layer_passes() {
    const SIZE: u64 = 1 << 30;
    let high = Registry::start();
    let home = TestHome::new();
    let config = ferry_tests::config_for(&[&high]);
    let prefix = br#"{"schemaVersion":2,"layers":["#;
    let mut hasher = ferry_oci::Hasher::new(ferry_oci::Algorithm::Sha256);
    hasher.update(prefix);
    let zeros = vec![0u8; 1 << 20];
    let mut left = SIZE - prefix.len() as u64;
    while left > 0 {
        let n = left.min(zeros.len() as u64) as usize;
        hasher.update(&zeros[..n]);
        left -= n as u64;
    }
    let layer = Descriptor::new("application/vnd.oci.image.layer.v1.tar", hasher.finish(), SIZE);
    let p = parts();
    let manifest = manifest_of(&p.config.0, &layer);
    let m = Descriptor::of_bytes(media_type::OCI_MANIFEST, &manifest);

    let path = home.path().join("big.tar");
    let mut w = ArchiveWriter::new(Plain::new(std::fs::File::create(&path).unwrap()));
    w.write_oci_layout().unwrap();
    w.write_index(&index_json(&m, "2")).unwrap();
    w.write_blob(&m, manifest.as_slice()).unwrap();
    w.write_blob(&p.config.0, p.config.1.as_slice()).unwrap();
    let mut file = w.finish().unwrap().into_inner();
    // The layer entry by hand: its header, the prefix, then a hole up to its end.
    let mut header =
        ferry_archive::header::entry_headers(&format!("blobs/sha256/{}", layer.digest.hex()), ferry_archive::header::Kind::File, SIZE);
    // `finish` wrote the end marker: write over it.
    let end = file.seek(std::io::SeekFrom::End(-1024)).unwrap();
    header.extend_from_slice(prefix);
    file.write_all(&header).unwrap();
    let data_end = end + 512 + SIZE;
    file.set_len(data_end).unwrap();
    file.seek(std::io::SeekFrom::Start(data_end)).unwrap();
    let mut tail = ArchiveWriter::new(Plain::new(file));
    tail.write_index(&index_json(&m, "2")).unwrap();
    tail.finish().unwrap();

    all_accept(&home, &config, &high, "one gib layer", &path);
    assert!(high.pusher().has_blob("hostile/one-gib-layer", &layer.digest));
}

/// skopeo's `oci-archive` (another writer's order, one index.json) passes all three.
#[test]
fn a_skopeo_oci_archive_passes() {
    let low = Registry::start();
    let high = Registry::start();
    let home = TestHome::new();
    let config = ferry_tests::config_for(&[&low, &high]);
    images::single_image(&low.pusher(), "low/app", "v1", 130);
    let path = home.path().join("skopeo.tar");
    let out = Command::new("skopeo")
        .args(["copy", "--src-tls-verify=false"])
        .arg(format!("docker://{}/low/app:v1", low.addr()))
        .arg(format!("oci-archive:{}:v1", path.display()))
        .output()
        .expect("skopeo (apt-get install skopeo)");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    all_accept(&home, &config, &high, "skopeo", &path);
    let run = ferry(&home, &config, &["mirror", "verify", path.to_str().unwrap()]);
    assert!(run.stdout.contains("1 manifests (1 images); 0 referenced blobs not in this archive"), "{}", run.stdout);
    // skopeo may rewrite the manifest; the root it wrote is what lands, tagged.
    let index: serde_json::Value = serde_json::from_slice(&crate::member(&path, "index.json", 0)).unwrap();
    let root = index["manifests"][0]["digest"].as_str().unwrap();
    assert_eq!(ferry_tests::sha256(&high.pusher().manifest("hostile/skopeo", "v1").unwrap().1), root);
}
