//! `--manifest-json` and the tape block buffer, as an operator sees them.

use std::io::Write as _;
use std::process::{Command, Stdio};

use ferry_testkit::{Registry, TestHome, images};
use ferry_tests::{ferry, sha256, write_file};
use serde_json::Value;

use crate::member;

/// One entry per source image, the host platform's child for an index, a second reference to
/// the same image added to its RepoTags; `--strict` accepts the archive.
#[test]
fn manifest_json_describes_every_source_image() {
    let reg = Registry::start();
    let high = Registry::start();
    let p = reg.pusher();
    let app = images::single_image(&p, "low/app", "v1", 80);
    let twin = images::single_image(&p, "low/twin", "v1", 80);
    assert_eq!(app.manifest.digest, twin.manifest.digest);
    let index = images::multi_platform_index(&p, "low/base", "v1", 81);
    let (r, h) = (reg.addr(), high.addr());
    let home = TestHome::new();
    let config = ferry_tests::config_for(&[&reg, &high]);
    let list = write_file(&home, "sources.list", &format!("{r}/low/app:v1\n{r}/low/base:v1\n{r}/low/twin:v1\n"));
    ferry(&home, &config, &["mirror", "gather", &list, &format!("{r}/low/mirror:sync-1")]).expect_code(0);
    let tar = home.path().join("mj.tar");
    ferry(&home, &config, &["mirror", "serialize", "--manifest-json", &format!("{r}/low/mirror:sync-1"), tar.to_str().unwrap()])
        .expect_code(0);

    let names = crate::entries(&tar);
    assert_eq!(names[names.len() - 2..], ["index.json", "manifest.json"]);
    let raw = member(&tar, "manifest.json", 0);
    assert!(raw.starts_with(b"[\n  {\n    \"Config\": \"blobs/sha256/") && !raw.ends_with(b"\n"));
    let mj: Value = serde_json::from_slice(&raw).unwrap();
    let entries = mj.as_array().unwrap();
    assert_eq!(entries.len(), 2, "{mj:#}");
    let path = |d: &ferry_oci::Descriptor| format!("blobs/sha256/{}", d.digest.hex());
    assert_eq!(entries[0]["Config"], path(&app.config));
    assert_eq!(entries[0]["Layers"], Value::from(app.layers.iter().map(path).collect::<Vec<_>>()));
    assert_eq!(entries[0]["RepoTags"], serde_json::json!([format!("{r}/low/app:v1"), format!("{r}/low/twin:v1")]));
    // The linux/amd64 child of the index, whatever the order.
    let amd64 = p.manifest_json("low/base", &index.children[0].digest.to_string());
    assert_eq!(entries[1]["Config"], format!("blobs/sha256/{}", amd64["config"]["digest"].as_str().unwrap().trim_start_matches("sha256:")));
    assert_eq!(entries[1]["RepoTags"], serde_json::json!([format!("{r}/low/base:v1")]));
    for e in entries {
        for l in e["Layers"].as_array().unwrap() {
            assert!(names.contains(&l.as_str().unwrap().to_owned()), "{l} is in the archive");
        }
    }

    ferry(&home, &config, &["mirror", "deserialize", "--strict", tar.to_str().unwrap(), &format!("{h}/high/mirror:sync-1")]).expect_code(0);
    assert!(high.pusher().has_manifest("high/mirror", "sync-1"));
}

/// `util mbuffer` passes the stream through unchanged; bad settings are usage errors; a
/// destination that fails ends serialize with the error instead of a hang.
#[test]
fn block_buffer_settings_and_failures() {
    let reg = Registry::start();
    let p = reg.pusher();
    images::single_image(&p, "low/app", "v1", 70);
    let r = reg.addr();
    let home = TestHome::new();
    let config = ferry_tests::config_for(&[&reg]);
    let data: Vec<u8> = (0..3_000_001u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    for flags in [&["-m", "1MiB", "-b", "4096"][..], &["-b", "1000", "--hwm", "0"], &["-m", "10M", "-b", "512k", "--hwm", "100"], &[]] {
        let mut child = Command::new(ferry_tests::binary())
            .args(["util", "mbuffer"])
            .args(flags)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let input = data.clone();
        let feeder = std::thread::spawn(move || stdin.write_all(&input).unwrap());
        let out = child.wait_with_output().unwrap();
        feeder.join().unwrap();
        assert!(out.status.success(), "{flags:?}: {}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(sha256(&out.stdout), sha256(&data), "{flags:?}");
    }
    let src = format!("{r}/low/app:v1");
    for (flags, needle) in [(&["-b", "0"][..], "block size"), (&["--hwm", "101"], "high-water"), (&["-m", "lots"], "not a size")] {
        let run = ferry(&home, &config, &[&["mirror", "serialize"], flags, &[src.as_str(), "x.tar"]].concat());
        run.expect_code(2);
        assert!(run.stderr.contains(needle), "{flags:?}: {}", run.stderr);
    }
    // /dev/full refuses every write: an error naming the cause, not a hang.
    let run = ferry(&home, &config, &["mirror", "serialize", "-m", "4MiB", &src, "/dev/full"]);
    run.expect_code(1);
    assert!(run.stderr.contains("No space left on device"), "{}", run.stderr);
    // To standard output through mbuffer into a file: the same archive as written directly.
    let direct = home.path().join("direct.tar");
    ferry(&home, &config, &["mirror", "serialize", "-b", "10240", &src, direct.to_str().unwrap()]).expect_code(0);
    let piped = home.path().join("piped.tar");
    let cfg = home.path().join("ferry-config.yaml");
    let status = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "\"$0\" --config {} mirror serialize {src} - | \"$0\" util mbuffer -m 2Mi -b 10240 > {}",
            cfg.display(),
            piped.display()
        ))
        .arg(ferry_tests::binary())
        .current_dir(home.path())
        .envs(home.env())
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(sha256(&std::fs::read(&piped).unwrap()), sha256(&std::fs::read(&direct).unwrap()));
    // An IMAGE that does not resolve leaves the file at DEST as it was.
    let before = sha256(&std::fs::read(&direct).unwrap());
    ferry(&home, &config, &["mirror", "serialize", &format!("{r}/low/missing:v1"), direct.to_str().unwrap()]).expect_code(1);
    assert_eq!(sha256(&std::fs::read(&direct).unwrap()), before);
    // Reading back with a tape-sized buffer; the size takes the same units.
    let run = ferry(
        &home,
        &config,
        &["mirror", "deserialize", "--dry-run", "--block-size", "512k", piped.to_str().unwrap(), &format!("{r}/x:y")],
    );
    run.expect_code(0);
    let run = ferry(&home, &config, &["mirror", "deserialize", "--block-size", "lots", piped.to_str().unwrap(), &format!("{r}/x:y")]);
    run.expect_code(2);
}

/// Blobs are fetched ahead through a proxy that corrupts one or serves it short (a body that
/// looks whole): serialize fetches it again, a bounded number of times, then fails naming the
/// blob; a body cut once is resumed where it broke, and the archive verifies.
#[test]
fn serialize_refuses_bad_bytes_from_the_registry() {
    use ferry_testkit::{Fault, FaultProxy, Rule};
    let reg = Registry::start();
    let p = reg.pusher();
    let img = images::big_image(&p, "low/big", "v1", &[3 << 20, 1 << 20, 2 << 20], 75);
    let home = TestHome::new();
    let layer = img.layers[1].digest.to_string();
    for (fault, code) in [(Fault::CorruptBody, 1), (Fault::ShortBody(100_000), 1), (Fault::Status(404, None), 1)] {
        let proxy = FaultProxy::start(reg.addr(), vec![Rule::always("GET", &format!("/blobs/{layer}"), fault.clone())]);
        let config = ferry_tests::config_for_addrs(&[proxy.addr()]);
        let tar = home.path().join("x.tar");
        let run = ferry(&home, &config, &["mirror", "serialize", &format!("{}/low/big:v1", proxy.addr()), tar.to_str().unwrap()]);
        run.expect_code(code);
        assert!(run.stderr.contains(&layer), "{fault:?}: {}", run.stderr);
        if !matches!(fault, Fault::Status(..)) {
            // Fetched again before giving up, never accepted.
            assert!(proxy.count("GET", &format!("/blobs/{layer}")) >= 3, "{fault:?}: fetched again");
        }
        if matches!(fault, Fault::Status(..)) {
            // The registry's answer, not the short blob the writer was left with.
            assert!(!run.stderr.contains("expected") && run.stderr.contains("not found"), "{}", run.stderr);
        }
    }
    // A body cut once is fetched again: the archive verifies.
    let proxy = FaultProxy::start(reg.addr(), vec![Rule::new("GET", &format!("/blobs/{layer}"), 0, 1, Fault::TruncateBody(100_000))]);
    let config = ferry_tests::config_for_addrs(&[proxy.addr()]);
    let tar = home.path().join("y.tar");
    let run = ferry(&home, &config, &["mirror", "serialize", &format!("{}/low/big:v1", proxy.addr()), tar.to_str().unwrap()]);
    run.expect_code(0);
    assert_eq!(proxy.count("GET", &format!("/blobs/{layer}")), 2, "fetched again after the cut");
    ferry(&home, &config, &["mirror", "verify", "--complete", tar.to_str().unwrap()]).expect_code(0);
}

/// A DEST an operator cannot have meant is refused before anything is written: a sources list
/// named by mistake (unless `--force`), a tape path with no drive behind it, a terminal.
#[test]
fn destinations_an_operator_cannot_mean_are_refused() {
    let reg = Registry::start();
    let p = reg.pusher();
    images::single_image(&p, "low/app", "v1", 90);
    let r = reg.addr();
    let home = TestHome::new();
    let config = ferry_tests::config_for(&[&reg]);
    let image = format!("{r}/low/app:v1");

    let list = write_file(&home, "sources.list", &format!("{image}\n"));
    let before = std::fs::read(&list).unwrap();
    let run = ferry(&home, &config, &["mirror", "serialize", &image, &list]);
    run.expect_code(2);
    assert!(run.stderr.contains("exists and is not an archive") && run.stderr.contains("--force"), "{}", run.stderr);
    assert_eq!(std::fs::read(&list).unwrap(), before, "the list is untouched");
    // archive refuses it before gathering anything.
    let run = ferry(&home, &config, &["mirror", "archive", &list, &list]);
    run.expect_code(2);
    assert_eq!(std::fs::read(&list).unwrap(), before);
    ferry(&home, &config, &["mirror", "serialize", "--force", &image, &list]).expect_code(0);
    assert!(crate::entries(std::path::Path::new(&list)).contains(&"index.json".to_owned()), "--force overwrites it");
    // An archive and an empty file are replaced without --force.
    ferry(&home, &config, &["mirror", "serialize", &image, &list]).expect_code(0);
    let empty = write_file(&home, "empty.tar", "");
    ferry(&home, &config, &["mirror", "serialize", &image, &empty]).expect_code(0);

    let tape = format!("/dev/ferry-test-no-tape-{}", std::process::id());
    let run = ferry(&home, &config, &["mirror", "serialize", &image, &tape]);
    run.expect_code(2);
    assert!(run.stderr.contains("no such device"), "{}", run.stderr);
    assert!(!std::path::Path::new(&tape).exists(), "no file is made under /dev");

    // Standard output on a terminal: `script` gives the command one.
    let command = format!(
        "{} --config {} mirror serialize {image} -",
        ferry_tests::binary().display(),
        home.path().join("ferry-config.yaml").display()
    );
    std::fs::write(home.path().join("ferry-config.yaml"), &config).unwrap();
    let out = Command::new("script").args(["-qec", &command, "/dev/null"]).stdin(Stdio::null()).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(text.contains("standard output is a terminal"), "{text}");
}
