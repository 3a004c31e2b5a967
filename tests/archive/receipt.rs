//! Receipts (`--receipt FILE`, `ferry mirror receipt`): what the high side holds of each
//! delivery, for the low side's catalog. The detached signature is checked by openssl.

use std::process::Command;

use base64::Engine as _;
use ferry_testkit::{Registry, TestHome, images};
use ferry_tests::{ferry, write_file};
use serde_json::Value;

fn read(path: &std::path::Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn present(receipt: &Value) -> Vec<String> {
    receipt["present"].as_array().unwrap().iter().map(|d| d.as_str().unwrap().to_owned()).collect()
}

#[test]
fn a_loaded_delivery_gives_a_signed_receipt_of_everything_it_placed() {
    let reg = Registry::start();
    let high = Registry::start();
    let p = reg.pusher();
    let app = images::single_image(&p, "low/app", "v1", 120);
    let (r, h) = (reg.addr(), high.addr());
    let home = TestHome::new();
    let config = ferry_tests::config_for(&[&reg, &high]);
    let run = |args: &[&str]| ferry(&home, &config, args);
    let path = |n: &str| home.path().join(n).to_str().unwrap().to_owned();
    run(&["plugin", "keygen", "high"]).expect_code(0);
    run(&["mirror", "gather", &write_file(&home, "a.list", &format!("{r}/low/app:v1\n")), &format!("{r}/low/mirror:w1")]).expect_code(0);
    run(&["mirror", "serialize", &format!("{r}/low/mirror:w1"), &path("w1.tar")]).expect_code(0);

    let loaded = run(&[
        "mirror",
        "deserialize",
        "--receipt",
        &path("w1.json"),
        "--sign",
        &path("high.key"),
        &path("w1.tar"),
        &format!("{h}/in/gather:w1"),
    ]);
    loaded.expect_code(0);
    assert!(loaded.stdout.contains("Receipt ") && loaded.stdout.contains("1 images (1 complete)"), "{}", loaded.stdout);
    let receipt = read(std::path::Path::new(&path("w1.json")));
    assert_eq!((receipt["kind"].as_str(), receipt["schemaVersion"].as_u64()), (Some("ferry.receipt"), Some(1)));
    let archive = &receipt["archives"][0];
    assert_eq!(archive["file"], "w1.tar");
    assert_eq!(archive["complete"], true);
    assert_eq!(archive["destination"], format!("{h}/in/gather:w1"));
    let root = archive["root"].as_str().unwrap().to_owned();
    assert_eq!(receipt["images"][0]["digest"], root.as_str());
    let held = present(&receipt);
    for digest in [root.clone(), app.manifest.digest.to_string(), app.config.digest.to_string(), app.layers[0].digest.to_string()] {
        assert!(held.contains(&digest), "{digest} in {held:?}");
    }
    assert_eq!(held.len(), 3 + app.layers.len(), "the gather index, the manifest, the config and each layer: {held:?}");

    // The detached signature verifies with openssl over the file's bytes.
    let sig = std::fs::read_to_string(path("w1.json.sig")).unwrap();
    std::fs::write(path("w1.der"), base64::engine::general_purpose::STANDARD.decode(sig.trim()).unwrap()).unwrap();
    let openssl = Command::new("openssl")
        .args(["dgst", "-sha256", "-verify", &path("high.pub"), "-signature", &path("w1.der"), &path("w1.json")])
        .output()
        .unwrap();
    assert!(openssl.status.success(), "{}", String::from_utf8_lossy(&openssl.stderr));

    // The same from the registry's state, when the receipt was lost.
    run(&["mirror", "receipt", &format!("{h}/in/gather:w1"), "-o", &path("again.json")]).expect_code(0);
    let again = read(std::path::Path::new(&path("again.json")));
    assert_eq!(present(&again), held);
    assert_eq!(again["archives"].as_array().unwrap().len(), 0);

    // A dry run gives no receipt.
    let run_dry =
        run(&["mirror", "deserialize", "--dry-run", "--receipt", &path("dry.json"), &path("w1.tar"), &format!("{h}/in/gather:dry")]);
    run_dry.expect_code(2);
    assert!(run_dry.stderr.contains("--receipt: --dry-run places nothing"), "{}", run_dry.stderr);
}

#[test]
fn missing_content_is_named_and_a_cut_delivery_is_not_complete() {
    let reg = Registry::start();
    let p = reg.pusher();
    let app = images::single_image(&p, "low/app", "v1", 121);
    let r = reg.addr();
    let home = TestHome::new();
    let config = ferry_tests::config_for(&[&reg]);
    let run = |args: &[&str]| ferry(&home, &config, args);
    let path = |n: &str| home.path().join(n).to_str().unwrap().to_owned();
    run(&["mirror", "gather", &write_file(&home, "a.list", &format!("{r}/low/app:v1\n")), &format!("{r}/low/mirror:w1")]).expect_code(0);
    run(&["mirror", "serialize", &format!("{r}/low/mirror:w1"), &path("w1.tar")]).expect_code(0);

    // Loaded into a layout, then a layer lost: the receipt names it.
    let layout = path("high");
    run(&["mirror", "deserialize", &path("w1.tar"), &format!("oci:{layout}:w1")]).expect_code(0);
    std::fs::remove_file(home.path().join("high/blobs/sha256").join(app.layers[0].digest.hex())).unwrap();
    run(&["mirror", "receipt", &format!("oci:{layout}:w1"), "-o", &path("held.json")]).expect_code(0);
    let held = read(std::path::Path::new(&path("held.json")));
    assert_eq!(held["images"][0]["complete"], false);
    assert_eq!(held["images"][0]["missing"], serde_json::json!([app.layers[0].digest.to_string()]));
    assert!(!present(&held).contains(&app.layers[0].digest.to_string()));

    // A delivery cut short: exit 1, and the receipt says it did not complete.
    let full = std::fs::read(path("w1.tar")).unwrap();
    std::fs::write(path("cut.tar"), &full[..full.len() / 2]).unwrap();
    let cut = run(&["mirror", "deserialize", "--receipt", &path("cut.json"), &path("cut.tar"), &format!("oci:{}:w1", path("other"))]);
    cut.expect_code(1);
    let receipt = read(std::path::Path::new(&path("cut.json")));
    assert_eq!(receipt["archives"][0]["complete"], false, "{receipt}");
    assert_eq!(receipt["archives"][0]["file"], "cut.tar");
    assert!(receipt["archives"][0]["root"].as_str().is_some_and(|d| d.starts_with("sha256:")), "{receipt}");
}

/// unarchive `--receipt`: the archive (its root tagged in the cache) and every placement.
#[test]
fn unarchive_gives_a_receipt_of_its_placements() {
    let reg = Registry::start();
    let p = reg.pusher();
    let app = images::single_image(&p, "low/app", "v1", 122);
    let r = reg.addr();
    let home = TestHome::new();
    let config = ferry_tests::config_for(&[&reg]);
    let run = |args: &[&str]| ferry(&home, &config, args);
    let path = |n: &str| home.path().join(n).to_str().unwrap().to_owned();
    run(&["mirror", "gather", &write_file(&home, "a.list", &format!("{r}/low/app:v1\n")), &format!("{r}/low/mirror:w1")]).expect_code(0);
    run(&["mirror", "serialize", &format!("{r}/low/mirror:w1"), &path("w1.tar")]).expect_code(0);
    let rule = format!("first-prefix={}", write_file(&home, "r.csv", &format!("{r}/low/,{r}/placed/\n")));
    let cache = path("cache");
    let check = run(&["mirror", "unarchive", "--check", "--receipt", &path("no.json"), "--cache", &cache, &path("w1.tar"), &rule]);
    check.expect_code(2);
    assert!(check.stderr.contains("--receipt: --check places nothing"), "{}", check.stderr);
    run(&["mirror", "unarchive", "--receipt", &path("u.json"), "--cache", &cache, &path("w1.tar"), &rule]).expect_code(0);
    let receipt = read(std::path::Path::new(&path("u.json")));
    assert_eq!(receipt["archives"][0]["file"], "w1.tar");
    assert_eq!(receipt["archives"][0]["complete"], true);
    assert!(receipt["archives"][0]["destination"].as_str().unwrap().starts_with("oci:"), "{receipt}");
    assert_eq!(receipt["images"][0]["reference"], format!("{r}/placed/app@{}", app.manifest.digest));
    assert_eq!(receipt["images"][0]["complete"], true);
    assert!(present(&receipt).contains(&app.layers[0].digest.to_string()));
}
