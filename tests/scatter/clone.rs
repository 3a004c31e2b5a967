//! clone (spec §12.5), `-p` giving each platform its own result, and `--continue`.

use ferry_testkit::images;
use ferry_tests::write_file;

use crate::fixture::Fixture;

/// §12.5.2: first-prefix takes the first matching row only; no gather index is made.
#[test]
fn first_prefix_takes_the_first_row() {
    let f = Fixture::new();
    let csv = f.file(
        "m.csv",
        "H/low/source1,H/high/clone/first-prefix/source1\nH/low/source1,H/high/clone/second-prefix/source1\nH/low/source2,H/high/clone/first-prefix/source2\n",
    );
    f.run(&["mirror", "clone", &f.sources, &format!("first-prefix={csv}")]).expect_code(0);
    assert!(f.holds("high/clone/first-prefix/source1", "v1", &f.img_digest()));
    assert!(!f.p.has_manifest("high/clone/second-prefix/source1", "v1"));
    assert!(f.holds("high/clone/first-prefix/source2", &f.idx_digest(), &f.idx_digest()));
    f.assert_complete("high/clone/first-prefix/source1");
    f.assert_complete("high/clone/first-prefix/source2");
    assert!(f.p.tags("low/mirror").is_empty(), "clone makes no gather index");

    // §12.5.3 digests: the row's destination as written, tagged latest.
    let csv = f.file("d.csv", &format!("{},H/high/clone/digests/image1\n", f.img_digest()));
    f.run(&["mirror", "clone", &f.sources, &format!("digests={csv}")]).expect_code(0);
    assert!(f.holds("high/clone/digests/image1", "latest", &f.img_digest()));
    assert_eq!(f.p.tags("high/clone/digests/image1"), ["latest"]);
}

/// §12.5.4 all-prefix, §12.5.6 labels with an AND selector, and --check listing everything.
#[test]
fn all_prefix_selectors_and_check() {
    let f = Fixture::new();
    let csv = f.file("all.csv", "H/low/source1,H/high/clone/all/a\nH/low/source1,H/high/clone/all/b\nH/low/source2,H/high/clone/all/c\n");
    let rule = format!("all-prefix={csv}");
    let run = f.run(&["mirror", "clone", "--check", &f.sources, &rule]);
    run.expect_code(0);
    assert_eq!(run.stdout.lines().filter(|l| l.starts_with("sending ")).count(), 3, "{}", run.stdout);
    assert!(f.p.tags("high/clone/all/a").is_empty() && f.p.tags("high/clone/all/b").is_empty());

    f.run(&["mirror", "clone", "-l", "component=core,module=test", &f.sources, &rule]).expect_code(0);
    assert!(f.holds("high/clone/all/a", "v1", &f.img_digest()));
    assert!(f.holds("high/clone/all/b", "v1", &f.img_digest()));
    assert!(!f.p.has_manifest("high/clone/all/c", &f.idx_digest()), "source2 is component=env");
}

/// §12.5.7 and §13 item 15: with `-p`, the platforms selected from one index and sent to one
/// reference become one index of exactly those platforms (ace-dt tagged each in turn, and
/// the last won); a single image of a wanted platform is copied as it is.
#[test]
fn platforms_give_one_index_of_the_selected_platforms() {
    let f = Fixture::new();
    let multi = images::multi_platform_index(&f.p, "low/multiarch", "v1", 5);
    let list = write_file(&f.home, "platforms.list", &format!("{},component=core\n{}/low/multiarch:v1,component=core\n", f.src1, f.h()));
    let rule = f.under("clone/platform");
    let run = f.run(&["mirror", "clone", "-p", "linux/arm64", "-p", "linux/arm/v7", &list, &rule]);
    run.expect_code(1);
    assert!(run.stderr.contains("nothing matches the platforms asked for"), "source1 is linux/amd64 only: {}", run.stderr);
    let run = f.run(&["mirror", "clone", "--allow-empty", "-p", "linux/arm64", "-p", "linux/arm/v7", &list, &rule]);
    run.expect_code(0);
    let dest = "high/clone/platform/multiarch".to_owned();
    let index = f.p.manifest_json(&dest, "v1");
    let children: Vec<&str> = index["manifests"].as_array().unwrap().iter().map(|c| c["digest"].as_str().unwrap()).collect();
    let want: Vec<String> = multi.children[1..3].iter().map(|c| c.digest.to_string()).collect();
    assert_eq!(children, want, "arm64/v8 and arm/v7, as the source index lists them");
    assert_eq!(index["manifests"][0]["platform"]["architecture"], "arm64");
    for c in &want {
        assert!(f.p.has_manifest(&dest, c));
    }
    assert!(!f.p.has_manifest(&dest, &multi.children[0].digest.to_string()), "amd64 was not asked for");
    // source1 is linux/amd64: not selected.
    assert!(!f.p.has_manifest("high/clone/platform/source1", "v1"));

    // One platform: its manifest itself is what the tag points at.
    let run = f.run(&["mirror", "clone", "-p", "linux/amd64", &list, &f.under("clone/one")]);
    run.expect_code(0);
    let (_, bytes) = f.p.manifest("high/clone/one/multiarch", "v1").unwrap();
    assert_eq!(ferry_tests::sha256(&bytes), multi.children[0].digest.to_string());
    assert!(f.holds("high/clone/one/source1", "v1", &f.img_digest()));
}

/// §13 item 15: --continue goes past a source that fails, lists it, and exits 1; without it
/// the first failure stops the run before anything is copied.
#[test]
fn continue_lists_failures_and_fails() {
    let f = Fixture::new();
    let missing = format!("{}/low/missing:v1", f.h());
    let list = write_file(&f.home, "some-missing.list", &format!("{}\n{missing}\n{}\n", f.src1, f.src2));
    let rule = f.under("cont");
    let run = f.run(&["mirror", "clone", &list, &rule]);
    run.expect_code(1);
    assert!(run.stderr.contains(&missing), "{}", run.stderr);
    assert!(!f.p.has_manifest("high/cont/source1", "v1"));

    let run = f.run(&["mirror", "clone", "--continue", &list, &rule]);
    run.expect_code(1);
    assert!(run.stderr.lines().any(|l| l.starts_with(&format!("failed: {missing}"))), "{}", run.stderr);
    assert!(run.stderr.contains("1 of 3 sources could not be resolved"), "{}", run.stderr);
    assert!(f.holds("high/cont/source1", "v1", &f.img_digest()));
    assert!(f.p.has_manifest("high/cont/source2", &f.idx_digest()));
}

/// §12.5.5: an unknown rule is a usage error.
#[test]
fn unknown_rule() {
    let f = Fixture::new();
    let run = f.run(&["mirror", "clone", &f.sources, "invalid-mapper=x"]);
    run.expect_code(2);
    assert!(run.stderr.contains("unknown mapping type"), "{}", run.stderr);
}
