//! Signed deliveries (`serialize --sign KEY`): the signature travels ahead of every blob, is
//! checked offline by `verify --key PUB` (and independently by openssl), and a signature by
//! another key, over another root, or none at all is a fault. deserialize, strict or not,
//! still loads a signed archive and leaves the signature beside the root as a referrer.

use std::process::Command;

use base64::Engine as _;
use ferry_testkit::{Registry, TestHome, images};
use ferry_tests::{ferry, tar_entries, write_file, write_tar};
use serde_json::Value;

use crate::member;

type Entries = ferry_tests::TarEntries;

fn blob<'a>(entries: &'a Entries, digest: &str) -> &'a [u8] {
    let name = format!("blobs/sha256/{}", digest.trim_start_matches("sha256:"));
    &entries.iter().find(|(n, _, _)| *n == name).unwrap_or_else(|| panic!("{name} is in the archive")).1
}

/// The signature's entry in the first index.json, its manifest and its one payload layer.
fn signature_parts(entries: &Entries) -> (Value, Value, Value) {
    let first: Value = serde_json::from_slice(&entries.iter().find(|(n, _, _)| n == "index.json").unwrap().1).unwrap();
    let entry = first["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["annotations"]["vnd.ferry.delivery.signature"].is_string())
        .unwrap()
        .clone();
    let manifest: Value = serde_json::from_slice(blob(entries, entry["digest"].as_str().unwrap())).unwrap();
    let layer = manifest["layers"][0].clone();
    (entry, manifest, layer)
}

/// `ours` with the delivery signature of `theirs` in its place: the entry in the first
/// index.json and the signature's three blobs.
fn swap_signature(ours: &Entries, theirs: &Entries) -> Entries {
    let (entry, manifest, layer) = signature_parts(ours);
    let (t_entry, t_manifest, t_layer) = signature_parts(theirs);
    let mut swapped = ours.clone();
    let first = swapped.iter().position(|(n, _, _)| n == "index.json").unwrap();
    let text = String::from_utf8(swapped[first].1.clone())
        .unwrap()
        .replace(entry["digest"].as_str().unwrap(), t_entry["digest"].as_str().unwrap());
    swapped[first].1 = text.replace(&format!("\"size\": {}", entry["size"]), &format!("\"size\": {}", t_entry["size"])).into_bytes();
    for (mine, other) in [
        (&entry["digest"], &t_entry["digest"]),
        (&manifest["config"]["digest"], &t_manifest["config"]["digest"]),
        (&layer["digest"], &t_layer["digest"]),
    ] {
        let at = swapped.iter().position(|(n, _, _)| n.ends_with(mine.as_str().unwrap().trim_start_matches("sha256:"))).unwrap();
        swapped[at] = (
            format!("blobs/sha256/{}", other.as_str().unwrap().trim_start_matches("sha256:")),
            blob(theirs, other.as_str().unwrap()).to_vec(),
            tar::EntryType::Regular,
        );
    }
    swapped
}

#[test]
fn a_signed_delivery_is_checked_offline_and_a_swapped_signature_is_refused() {
    let reg = Registry::start();
    let high = Registry::start();
    let p = reg.pusher();
    images::single_image(&p, "low/app", "v1", 90);
    images::single_image(&p, "low/other", "v1", 91);
    let (r, h) = (reg.addr(), high.addr());
    let home = TestHome::new();
    let config = ferry_tests::config_for(&[&reg, &high]);
    let run = |args: &[&str]| ferry(&home, &config, args);
    run(&["plugin", "keygen", "officer"]).expect_code(0);
    run(&["plugin", "keygen", "stranger"]).expect_code(0);
    let (officer, stranger) = (home.path().join("officer.pub"), home.path().join("stranger.pub"));
    let list_a = write_file(&home, "a.list", &format!("{r}/low/app:v1\n"));
    let list_b = write_file(&home, "b.list", &format!("{r}/low/other:v1\n"));
    run(&["mirror", "gather", &list_a, &format!("{r}/low/mirror:a")]).expect_code(0);
    run(&["mirror", "gather", &list_b, &format!("{r}/low/mirror:b")]).expect_code(0);
    let (a, b) = (home.path().join("a.tar"), home.path().join("b.tar"));
    let key = home.path().join("officer.key");
    run(&["mirror", "serialize", "--sign", key.to_str().unwrap(), &format!("{r}/low/mirror:a"), a.to_str().unwrap()]).expect_code(0);
    run(&["mirror", "serialize", "--sign", key.to_str().unwrap(), &format!("{r}/low/mirror:b"), b.to_str().unwrap()]).expect_code(0);

    // Ahead of every blob: the first index.json lists it, and its blobs come first.
    let names = crate::entries(&a);
    let entries = tar_entries(&a);
    let (entry, manifest, layer) = signature_parts(&entries);
    assert_eq!(names[4], format!("blobs/sha256/{}", entry["digest"].as_str().unwrap().trim_start_matches("sha256:")), "{names:?}");
    let root: Value = serde_json::from_slice(&member(&a, "index.json", 0)).unwrap();
    assert_eq!(manifest["subject"]["digest"], root["manifests"][0]["digest"], "a signature of the root");

    // openssl, independently: the payload names the root and the signature verifies.
    let payload = blob(&entries, layer["digest"].as_str().unwrap());
    let claims: Value = serde_json::from_slice(payload).unwrap();
    assert_eq!(claims["critical"]["image"]["docker-manifest-digest"], root["manifests"][0]["digest"]);
    assert!(claims["optional"]["vnd.ferry.delivery"]["created"].is_string(), "{claims}");
    let der = base64::engine::general_purpose::STANDARD
        .decode(layer["annotations"]["dev.cosignproject.cosign/signature"].as_str().unwrap())
        .unwrap();
    std::fs::write(home.path().join("payload"), payload).unwrap();
    std::fs::write(home.path().join("sig.der"), der).unwrap();
    let openssl = Command::new("openssl")
        .args(["dgst", "-sha256", "-verify"])
        .arg(&officer)
        .arg("-signature")
        .arg(home.path().join("sig.der"))
        .arg(home.path().join("payload"))
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&openssl.stdout).contains("Verified OK"), "{openssl:?}");

    // ferry's check: the right key, a stranger's, an unsigned archive.
    let good = run(&["mirror", "verify", "--key", officer.to_str().unwrap(), a.to_str().unwrap()]);
    good.expect_code(0);
    assert!(good.stdout.contains("signed delivery: a good signature by key sha256:"), "{}", good.stdout);
    let bad = run(&["mirror", "verify", "--key", stranger.to_str().unwrap(), a.to_str().unwrap()]);
    bad.expect_code(1);
    assert!(bad.stderr.contains("delivery signature: no signature by a trusted key"), "{}", bad.stderr);
    let plain = home.path().join("plain.tar");
    run(&["mirror", "serialize", &format!("{r}/low/mirror:a"), plain.to_str().unwrap()]).expect_code(0);
    let unsigned = run(&["mirror", "verify", "--key", officer.to_str().unwrap(), plain.to_str().unwrap()]);
    unsigned.expect_code(1);
    assert!(unsigned.stderr.contains("delivery signature: the delivery is not signed"), "{}", unsigned.stderr);

    // B's signature (good, by the same key) put into A: it is over another root.
    let swapped = swap_signature(&entries, &tar_entries(&b));
    let swapped_path = home.path().join("swapped.tar");
    write_tar(&swapped_path, &swapped);
    let refused = run(&["mirror", "verify", "--key", officer.to_str().unwrap(), swapped_path.to_str().unwrap()]);
    refused.expect_code(1);
    assert!(refused.stderr.contains("delivery signature: the signature is over sha256:"), "{}", refused.stderr);
    assert!(refused.stderr.contains("not over this archive's root"), "{}", refused.stderr);

    // batch-serialize signs each archive it writes.
    let batch = write_file(&home, "batch.csv", &format!("name,artifact\nweekly,{r}/low/mirror:b\n"));
    let sync = home.path().join("sync");
    run(&["mirror", "batch-serialize", "--sign", key.to_str().unwrap(), &batch, sync.to_str().unwrap()]).expect_code(0);
    let written = sync.join("000001-weekly.tar");
    run(&["mirror", "verify", "--key", officer.to_str().unwrap(), written.to_str().unwrap()]).expect_code(0);

    // The high side loads a signed archive, strict or not; the signature is a referrer of the root.
    run(&["mirror", "deserialize", "--strict", a.to_str().unwrap(), &format!("{h}/in/gather:a")]).expect_code(0);
    let root_digest = root["manifests"][0]["digest"].as_str().unwrap();
    let referrers = high.pusher().manifest_json("in/gather", &root_digest.replace(':', "-"));
    assert!(referrers.to_string().contains(entry["digest"].as_str().unwrap()), "{referrers}");
}

/// With `deliveries: {requireSigned: true, trustedKeys: [...]}`, deserialize, unarchive and
/// batch-deserialize check the signature before they write anything: an unsigned archive, one
/// signed by another key and one whose signature is over another root are refused with nothing
/// written; a good one loads and names its signer.
#[test]
fn the_delivery_policy_refuses_before_anything_is_written() {
    let reg = Registry::start();
    let high = Registry::start();
    let p = reg.pusher();
    let app = images::single_image(&p, "low/app", "v1", 92);
    images::single_image(&p, "low/other", "v1", 93);
    let (r, h) = (reg.addr(), high.addr());
    let home = TestHome::new();
    let plain_config = ferry_tests::config_for(&[&reg, &high]);
    let low = |args: &[&str]| ferry(&home, &plain_config, args);
    low(&["plugin", "keygen", "officer"]).expect_code(0);
    low(&["plugin", "keygen", "stranger"]).expect_code(0);
    let list_a = write_file(&home, "a.list", &format!("{r}/low/app:v1\n"));
    let list_b = write_file(&home, "b.list", &format!("{r}/low/other:v1\n"));
    low(&["mirror", "gather", &list_a, &format!("{r}/low/mirror:a")]).expect_code(0);
    low(&["mirror", "gather", &list_b, &format!("{r}/low/mirror:b")]).expect_code(0);
    let path = |n: &str| home.path().join(n).to_str().unwrap().to_owned();
    low(&["mirror", "serialize", "--sign", &path("officer.key"), &format!("{r}/low/mirror:a"), &path("good.tar")]).expect_code(0);
    low(&["mirror", "serialize", "--sign", &path("stranger.key"), &format!("{r}/low/mirror:a"), &path("stranger.tar")]).expect_code(0);
    low(&["mirror", "serialize", &format!("{r}/low/mirror:a"), &path("unsigned.tar")]).expect_code(0);
    low(&["mirror", "serialize", "--sign", &path("officer.key"), &format!("{r}/low/mirror:b"), &path("b.tar")]).expect_code(0);
    // A's archive with B's signature (same key, over B's root).
    let entries = tar_entries(std::path::Path::new(&path("good.tar")));
    let b_entries = tar_entries(std::path::Path::new(&path("b.tar")));
    write_tar(std::path::Path::new(&path("swapped.tar")), &swap_signature(&entries, &b_entries));

    let policy = format!("{plain_config}deliveries:\n  requireSigned: true\n  trustedKeys: [officer.pub]\n");
    let high_side = |args: &[&str]| ferry(&home, &policy, args);
    let hp = high.pusher();
    for (n, (file, reason)) in [
        ("unsigned.tar", "the delivery is not signed"),
        ("stranger.tar", "no signature by a trusted key"),
        ("swapped.tar", "not over this archive's root"),
    ]
    .into_iter()
    .enumerate()
    {
        let repo = format!("refused{n}/in");
        let run = high_side(&["mirror", "deserialize", &path(file), &format!("{h}/{repo}:a")]);
        run.expect_code(1);
        assert!(run.stderr.contains("the delivery is refused by the policy in") && run.stderr.contains(reason), "{file}: {}", run.stderr);
        assert!(run.stderr.contains("nothing was written"), "{}", run.stderr);
        assert!(hp.tags(&repo).is_empty(), "{file}: nothing tagged");
        assert!(!hp.has_blob(&repo, &app.layers[0].digest) && !hp.has_blob(&repo, &app.config.digest), "{file}: no blob written");
    }
    let cache = home.path().join("cache");
    let rule = format!("first-prefix={}", write_file(&home, "r.csv", &format!("{r}/low/,{h}/placed/\n")));
    let run = high_side(&["mirror", "unarchive", "--cache", cache.to_str().unwrap(), &path("stranger.tar"), &rule]);
    run.expect_code(1);
    assert!(run.stderr.contains("no signature by a trusted key"), "{}", run.stderr);
    assert!(hp.tags("placed/app").is_empty());

    // The root replaced (the first index.json names B's gather index, A's signature kept):
    // the signature is over another root.
    let mut replaced = entries.clone();
    let first = replaced.iter().position(|(n, _, _)| n == "index.json").unwrap();
    let root_a: Value = serde_json::from_slice(&replaced[first].1).unwrap();
    let root_b: Value = serde_json::from_slice(&b_entries.iter().find(|(n, _, _)| n == "index.json").unwrap().1).unwrap();
    let (ra, rb) = (root_a["manifests"][0]["digest"].as_str().unwrap(), root_b["manifests"][0]["digest"].as_str().unwrap());
    replaced[first].1 = String::from_utf8(replaced[first].1.clone()).unwrap().replacen(ra, rb, 1).into_bytes();
    write_tar(std::path::Path::new(&path("replaced.tar")), &replaced);
    let run = high_side(&["mirror", "deserialize", &path("replaced.tar"), &format!("{h}/replaced/in:a")]);
    run.expect_code(1);
    assert!(run.stderr.contains(&format!("the signature is over {ra}, not over this archive's root {rb}")), "{}", run.stderr);
    assert!(hp.tags("replaced/in").is_empty() && !hp.has_blob("replaced/in", &app.layers[0].digest));

    // One byte of a layer changed: the signature holds (it covers the root), the layer's
    // digest does not; nothing is tagged.
    let mut damaged = entries.clone();
    let layer_at = damaged.iter().position(|(n, _, _)| n.ends_with(app.layers[0].digest.hex())).unwrap();
    let mid = damaged[layer_at].1.len() / 2;
    damaged[layer_at].1[mid] ^= 0x01;
    write_tar(std::path::Path::new(&path("damaged.tar")), &damaged);
    let run = high_side(&["mirror", "deserialize", &path("damaged.tar"), &format!("{h}/damaged/in:a")]);
    run.expect_code(1);
    assert!(run.stderr.contains(app.layers[0].digest.hex()), "the damaged layer is named: {}", run.stderr);
    assert!(hp.tags("damaged/in").is_empty(), "nothing tagged");
    assert!(!hp.has_blob("damaged/in", &app.layers[0].digest));

    // Trusted keys without requireSigned: a signature that does not hold is a warning.
    let lenient = format!("{plain_config}deliveries:\n  trustedKeys: [officer.pub]\n");
    let run = ferry(&home, &lenient, &["mirror", "deserialize", &path("stranger.tar"), &format!("{h}/lenient/in:a")]);
    run.expect_code(0);
    assert!(run.stderr.contains("the delivery's signature does not hold: no signature by a trusted key"), "{}", run.stderr);
    assert!(hp.has_manifest("lenient/in", "a"));

    let run = high_side(&["mirror", "deserialize", &path("good.tar"), &format!("{h}/in/gather:a")]);
    run.expect_code(0);
    assert!(run.stdout.contains("; a delivery signed by sha256:"), "{}", run.stdout);
    high_side(&["mirror", "unarchive", "--cache", cache.to_str().unwrap(), &path("good.tar"), &rule]).expect_code(0);
    assert!(hp.has_manifest("placed/app", "v1"));
}

/// A signed delivery resumed after a cut: the partial archive and its continuation load
/// together under the policy, and a "continuation" from another delivery is refused before
/// any of it is written, even when the other delivery is signed by the same key.
#[test]
fn a_continuation_must_belong_to_the_signed_delivery() {
    let reg = Registry::start();
    let high = Registry::start();
    let p = reg.pusher();
    let app = images::single_image(&p, "low/app", "v1", 94);
    let other = images::single_image(&p, "low/other", "v1", 95);
    let (r, h) = (reg.addr(), high.addr());
    let home = TestHome::new();
    let plain_config = ferry_tests::config_for(&[&reg, &high]);
    let low = |args: &[&str]| ferry(&home, &plain_config, args);
    low(&["plugin", "keygen", "officer"]).expect_code(0);
    let path = |n: &str| home.path().join(n).to_str().unwrap().to_owned();
    low(&["mirror", "gather", &write_file(&home, "a.list", &format!("{r}/low/app:v1\n")), &format!("{r}/low/mirror:a")]).expect_code(0);
    low(&["mirror", "gather", &write_file(&home, "b.list", &format!("{r}/low/other:v1\n")), &format!("{r}/low/mirror:b")]).expect_code(0);
    low(&["mirror", "serialize", "--sign", &path("officer.key"), &format!("{r}/low/mirror:a"), &path("full.tar")]).expect_code(0);
    low(&["mirror", "serialize", "--sign", &path("officer.key"), &format!("{r}/low/mirror:b"), &path("b.tar")]).expect_code(0);
    // Cut A's archive after its signature and before its layer, then write the rest.
    let full = std::fs::read(path("full.tar")).unwrap();
    let name = format!("blobs/sha256/{}", app.layers[0].digest.hex());
    let header = full.windows(name.len()).position(|w| w == name.as_bytes()).expect("the layer's tar header");
    let cut = header + 100;
    std::fs::write(path("partial.tar"), &full[..cut]).unwrap();
    let existing = ["--existing-from-archive", &path("partial.tar")];
    low(&[&["mirror", "serialize", "--sign", &path("officer.key"), &format!("{r}/low/mirror:a"), &path("rest.tar")][..], &existing[..]]
        .concat())
    .expect_code(0);

    let policy = format!("{plain_config}deliveries:\n  requireSigned: true\n  trustedKeys: [officer.pub]\n");
    let high_side = |args: &[&str]| ferry(&home, &policy, args);
    let hp = high.pusher();
    let run = high_side(&["mirror", "deserialize", &path("partial.tar"), &path("b.tar"), &format!("{h}/mixed/in:a")]);
    run.expect_code(1);
    assert!(
        run.stderr.contains("the delivery is refused by the policy in") && run.stderr.contains("not over this archive's root"),
        "{}",
        run.stderr
    );
    assert!(!hp.has_blob("mixed/in", &other.layers[0].digest), "nothing of the other delivery is written");
    assert!(hp.tags("mixed/in").is_empty());

    let run = high_side(&["mirror", "deserialize", &path("rest.tar"), &path("partial.tar"), &format!("{h}/reversed/in:a")]);
    // The continuation carries the signature at its head too: read first, it is checked there.
    run.expect_code(0);
    assert!(hp.has_manifest("reversed/in", "a"));
    let run = high_side(&["mirror", "deserialize", &path("partial.tar"), &path("rest.tar"), &format!("{h}/resumed/in:a")]);
    run.expect_code(0);
    assert!(run.stdout.contains("; a delivery signed by sha256:"), "{}", run.stdout);
    assert!(hp.has_manifest("resumed/in", "a") && hp.has_blob("resumed/in", &app.layers[0].digest));
}
