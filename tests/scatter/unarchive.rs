//! unarchive (spec §1.7): an archive read into the local cache, then scattered, with
//! `--check` working (§13 item 24).

use ferry_testkit::Registry;

use crate::fixture::Fixture;

/// gather → serialize on the low side; unarchive on the high side into another registry,
/// by a first-prefix rule. `--check` first lists the destinations and pushes nothing.
#[test]
fn unarchive_scatters_into_another_registry() {
    let f = Fixture::gathered();
    let archive = f.home.path().join("sync-1.tar");
    f.run(&["mirror", "serialize", &f.mirror(), archive.to_str().unwrap()]).expect_code(0);

    let high = Registry::start();
    let hp = high.pusher();
    let config = ferry_tests::config_for(&[&f.reg, &high]);
    let csv = ferry_tests::write_file(
        &f.home,
        "high.csv",
        &format!("{0}/low/source1,{1}/apps/one\n{0}/low/source2,{1}/apps/two\n", f.h(), high.addr()),
    );
    let rule = format!("first-prefix={csv}");
    let cache = f.home.path().join("cache");
    let args = ["mirror", "unarchive", "--cache", cache.to_str().unwrap(), archive.to_str().unwrap(), &rule];
    let run = ferry_tests::ferry(&f.home, &config, &[&args[..2], &["--check"], &args[2..]].concat());
    run.expect_code(0);
    assert_eq!(run.stdout.lines().filter(|l| l.starts_with("sending ")).count(), 2, "{}", run.stdout);
    assert!(hp.tags("apps/one").is_empty());
    assert!(!hp.has_manifest("apps/two", &f.idx_digest()));

    let run = ferry_tests::ferry(&f.home, &config, &args);
    run.expect_code(0);
    let (_, bytes) = hp.manifest("apps/one", "v1").unwrap();
    assert_eq!(ferry_tests::sha256(&bytes), f.img_digest());
    assert!(hp.has_manifest("apps/two", &f.idx_digest()));
    for child in &f.idx1.children {
        assert!(hp.has_manifest("apps/two", &child.digest.to_string()));
    }
    for blob in std::iter::once(&f.img1.config).chain(&f.img1.layers) {
        assert_eq!(hp.blob("apps/one", &blob.digest), f.p.blob("low/source1", &blob.digest));
    }
}
