//! Every kind of bad archive, through `verify` and `deserialize`: a non-zero exit, a message
//! naming the entry and byte offset where there is one, and no tag at the destination.

use ferry_testkit::Registry;
use ferry_tests::ferry;

use crate::{blob_header, gathered, serialize_with_ledger};

/// Rewrites the size field of the ustar header at `at` and its checksum.
fn set_header_size(tar: &mut [u8], at: usize, size: u64) {
    let h = &mut tar[at..at + 512];
    h[124..136].copy_from_slice(format!("{size:011o}\0").as_bytes());
    h[148..156].fill(b' ');
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
}

/// Bytes of the entry whose header is at `at`: header and padded content.
fn entry_len(tar: &[u8], at: usize) -> usize {
    let size = usize::from_str_radix(std::str::from_utf8(&tar[at + 124..at + 135]).unwrap(), 8).unwrap();
    512 + size.div_ceil(512) * 512
}

/// `ferry mirror deserialize - IMAGE < archive`: exit code and standard error.
fn from_stdin(home: &ferry_testkit::TestHome, archive: &std::path::Path, image: &str) -> (i32, String) {
    let out = std::process::Command::new(ferry_tests::binary())
        .args(["--config", home.path().join("ferry-config.yaml").to_str().unwrap(), "mirror", "deserialize", "-", image])
        .stdin(std::fs::File::open(archive).unwrap())
        .current_dir(home.path())
        .envs(home.env())
        .output()
        .unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn each_kind_of_damage_is_refused_and_nothing_is_tagged() {
    let g = gathered();
    let high = Registry::start();
    let h = high.addr();
    let config = ferry_tests::config_for(&[&g.reg, &high]);
    let q = high.pusher();
    let (tar, good, offsets) = serialize_with_ledger(&g, &config, "good");
    let manifest_at = blob_header(&good, g.img.manifest.digest.hex());
    let layer_at = blob_header(&good, g.img.layers[1].digest.hex());
    let layer = format!("\"blobs/sha256/{}\"", g.img.layers[1].digest.hex());
    let manifest = format!("\"blobs/sha256/{}\"", g.img.manifest.digest.hex());

    let mut cases: Vec<(&str, Vec<u8>, String, String)> = Vec::new();
    let mut flipped = good.clone();
    flipped[manifest_at + 512 + 20] ^= 0x01;
    let needle = format!("{manifest} at byte {manifest_at}");
    cases.push(("a flipped byte in a manifest", flipped, needle.clone(), needle));
    let mut sized = good.clone();
    set_header_size(&mut sized, layer_at, g.img.layers[1].size - 1);
    let needle = format!("{layer} at byte {layer_at}");
    cases.push(("a wrong size in a header", sized, needle.clone(), needle));
    let mut missing = good.clone();
    missing.drain(layer_at..layer_at + entry_len(&good, layer_at));
    let digest = g.img.layers[1].digest.to_string();
    cases.push((
        "a missing blob",
        missing,
        format!("{digest} is referenced but not in the archive"),
        format!("missing (neither in the archive nor at the destination): {digest}"),
    ));
    let mut layout = good.clone();
    let v = layout[512..1024].windows(5).position(|w| w == b"1.0.0").unwrap();
    layout[512 + v..512 + v + 5].copy_from_slice(b"9.9.9");
    let needle = "\"oci-layout\" at byte 0".to_owned();
    cases.push(("a bad oci-layout", layout, needle.clone(), needle));
    let mut garbage = good.clone();
    garbage[offsets[2]..offsets[2] + 512].fill(0x5a);
    cases.push(("garbage instead of a header", garbage, format!("at byte {}", offsets[2]), format!("at byte {}", offsets[2])));
    // Inside the first header, the first index.json, a manifest, a layer; at a blob boundary;
    // inside the final index.json (the end marker alone may go: nothing is lost with it).
    let final_index_at = (0..good.len()).step_by(512).rev().find(|&o| good[o..].starts_with(b"index.json\0")).unwrap();
    for cut in [100, 1536, manifest_at + 700, layer_at + 512 + 4096, offsets[4], final_index_at + 600] {
        let what = format!("truncated at byte {cut}");
        cases.push((Box::leak(what.into_boxed_str()), good[..cut].to_vec(), String::new(), String::new()));
    }

    for (n, (what, bytes, verify_says, deserialize_says)) in cases.into_iter().enumerate() {
        let path = g.home.path().join(format!("bad{n}.tar"));
        std::fs::write(&path, &bytes).unwrap();
        let run = ferry(&g.home, &config, &["mirror", "verify", "--complete", path.to_str().unwrap()]);
        assert_eq!(run.code, 1, "verify, {what}: {run:?}");
        assert!(run.stderr.contains(&verify_says), "verify, {what}: {}", run.stderr);
        let repo = format!("high/bad{n}");
        let run = ferry(&g.home, &config, &["mirror", "deserialize", path.to_str().unwrap(), &format!("{h}/{repo}:sync-1")]);
        assert_eq!(run.code, 1, "deserialize, {what}: {run:?}");
        assert!(run.stderr.contains(&deserialize_says), "deserialize, {what}: {}", run.stderr);
        assert!(q.tags(&repo).is_empty(), "{what}: nothing tagged");
        let dry = ferry(&g.home, &config, &["mirror", "deserialize", "--dry-run", path.to_str().unwrap(), &format!("{h}/{repo}:dry")]);
        assert_eq!(dry.code, 1, "dry run, {what}: {dry:?}");
        // Standard input is read as a stream, not at offsets: the same verdict.
        let (code, stderr) = from_stdin(&g.home, &path, &format!("{h}/{repo}:stdin"));
        assert_eq!(code, 1, "stdin, {what}: {stderr}");
        assert!(stderr.contains(&deserialize_says), "stdin, {what}: {stderr}");
        assert!(q.tags(&repo).is_empty(), "{what}: nothing tagged from stdin");
    }
    // The good archive is complete.
    ferry(&g.home, &config, &["mirror", "verify", "--complete", tar.to_str().unwrap()]).expect_code(0);
}

/// A manifest whose layer descriptor gives another size than the archive's entry: an error
/// naming the digest and both sizes, not a panic, and nothing tagged.
#[test]
fn inconsistent_descriptors_are_refused() {
    use ferry_archive::{ArchiveWriter, Plain};
    use ferry_oci::{Descriptor, gojson, media_type};
    let high = Registry::start();
    let home = ferry_testkit::TestHome::new();
    let config = ferry_tests::config_for(&[&high]);
    let layer = b"layer bytes".to_vec();
    let cfg = br#"{"architecture":"amd64","os":"linux"}"#.to_vec();
    let layer_desc = Descriptor::of_bytes("application/vnd.oci.image.layer.v1.tar", &layer);
    let cfg_desc = Descriptor::of_bytes(media_type::OCI_CONFIG, &cfg);
    let mut lying = layer_desc.clone();
    lying.size += 1;
    let manifest = gojson::to_vec(&serde_json::json!({
        "schemaVersion": 2, "mediaType": media_type::OCI_MANIFEST, "config": cfg_desc, "layers": [lying],
    }));
    let m = Descriptor::of_bytes(media_type::OCI_MANIFEST, &manifest);
    let mut index = ferry_oci::Index::new();
    index.manifests = vec![m.clone()];
    let index = gojson::to_vec_pretty(&index);
    let mut w = ArchiveWriter::new(Plain::new(Vec::new()));
    w.write_oci_layout().unwrap();
    w.write_index(&index).unwrap();
    for (d, b) in [(&m, &manifest), (&cfg_desc, &cfg), (&layer_desc, &layer)] {
        w.write_blob(d, b.as_slice()).unwrap();
    }
    w.write_index(&index).unwrap();
    let path = home.path().join("lying.tar");
    std::fs::write(&path, w.finish().unwrap().into_inner()).unwrap();

    let run = ferry(&home, &config, &["mirror", "deserialize", path.to_str().unwrap(), &format!("{}/high/lying:v1", high.addr())]);
    run.expect_code(1);
    let sizes = format!("{}: the archive holds {} bytes but a descriptor says {}", layer_desc.digest, layer.len(), layer.len() + 1);
    assert!(run.stderr.contains(&sizes), "{}", run.stderr);
    assert!(high.pusher().tags("high/lying").is_empty());
    let run = ferry(&home, &config, &["mirror", "verify", path.to_str().unwrap()]);
    run.expect_code(1);
    assert!(
        run.stderr.contains(&format!("{} is {} bytes in the archive but {}", layer_desc.digest, layer.len(), layer.len() + 1)),
        "{}",
        run.stderr
    );
}
