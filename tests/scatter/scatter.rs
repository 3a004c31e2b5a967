//! scatter (spec §12.4), the CSV and nest rules, and the checks made before anything moves.

use ferry_testkit::TestHome;
use ferry_testkit::images;
use ferry_tests::{ferry, write_file};

use crate::fixture::Fixture;

/// §12.4.2, first-prefix: the tagged source keeps its tag, the digest-pinned one lands by
/// digest with no tag; same registry, so every blob is mounted, none uploaded.
#[test]
fn first_prefix_keeps_tags_and_digest_pins() {
    let f = Fixture::gathered();
    let csv = f.file(
        "map.csv",
        "# this is a test comment\nH/low/source1,H/high/first-prefix/source1\nH/low/source2,H/high/first-prefix/source2\n",
    );
    let run = f.run(&["mirror", "scatter", &f.mirror(), &format!("first-prefix={csv}")]);
    run.expect_code(0);
    assert!(f.holds("high/first-prefix/source1", "v1", &f.img_digest()));
    assert!(f.holds("high/first-prefix/source2", &f.idx_digest(), &f.idx_digest()));
    assert_eq!(f.p.tags("high/first-prefix/source2"), Vec::<String>::new(), "a digest pin gets no tag");
    f.assert_complete("high/first-prefix/source1");
    f.assert_complete("high/first-prefix/source2");
    assert!(run.stdout.contains("Placed 2 destinations: copied 0 blobs"), "{}", run.stdout);
    assert!(run.stdout.contains("mounted ") && !run.stdout.contains("mounted 0;"), "same registry: blobs are mounted\n{}", run.stdout);
}

/// §12.4.3 longest-prefix and §12.4.5 all-prefix.
#[test]
fn longest_and_all_prefix() {
    let f = Fixture::gathered();
    let csv = f.file(
        "longest.csv",
        "H/low/source,H/high/longest-prefix/wrong\nH/low/source1,H/high/longest-prefix/source1\nH/low/source2,H/high/longest-prefix/source2\n",
    );
    f.run(&["mirror", "scatter", &f.mirror(), &format!("longest-prefix={csv}")]).expect_code(0);
    assert!(!f.p.has_manifest("high/longest-prefix/wrong1", "v1") && !f.p.has_manifest("high/longest-prefix/wrong", "v1"));
    assert!(f.holds("high/longest-prefix/source1", "v1", &f.img_digest()));
    assert!(f.holds("high/longest-prefix/source2", &f.idx_digest(), &f.idx_digest()));

    let csv = f.file(
        "all.csv",
        "H/low/source1,H/high/all-prefix/source1\nH/low/source1,H/high/all-prefix/no1\nH/low/source2,H/high/all-prefix/no2\nH/low/source2,H/high/all-prefix/source2\nH/low/source2,H/high/all-prefix/image2\n",
    );
    f.run(&["mirror", "scatter", &f.mirror(), &format!("all-prefix={csv}")]).expect_code(0);
    for repo in ["source1", "no1"] {
        assert!(f.holds(&format!("high/all-prefix/{repo}"), "v1", &f.img_digest()), "{repo}");
    }
    for repo in ["no2", "source2", "image2"] {
        assert!(f.holds(&format!("high/all-prefix/{repo}"), &f.idx_digest(), &f.idx_digest()), "{repo}");
    }
}

/// §12.4.4 digests: the row's destination, tagged `latest`.
#[test]
fn digests_rule_tags_latest() {
    let f = Fixture::gathered();
    let csv = f.file("digests.csv", &format!("{},H/high/scatter/digests/image1\n", f.img_digest()));
    f.run(&["mirror", "scatter", &f.mirror(), &format!("digests={csv}")]).expect_code(0);
    assert!(f.holds("high/scatter/digests/image1", "latest", &f.img_digest()));
    assert!(!f.p.has_manifest("high/scatter/digests/image1", &f.idx_digest()));
}

/// §12.4.6 and §13 item 14: --check lists every destination of every artifact and copies
/// nothing.
#[test]
fn check_lists_every_destination() {
    let f = Fixture::gathered();
    let csv = f.file(
        "all.csv",
        "H/low/source1,H/high/check/source1\nH/low/source1,H/high/check/no1\nH/low/source2,H/high/check/no2\nH/low/source2,H/high/check/source2\n",
    );
    let run = f.run(&["mirror", "scatter", "--check", &f.mirror(), &format!("all-prefix={csv}")]);
    run.expect_code(0);
    let h = f.h();
    for line in [
        format!("sending {} ({}) to {h}/high/check/source1:v1 ({})", f.src1, f.img_digest(), f.img_digest()),
        format!("sending {} ({}) to {h}/high/check/no1:v1 ({})", f.src1, f.img_digest(), f.img_digest()),
        format!("sending {} ({}) to {h}/high/check/no2@{}", f.src2, f.idx_digest(), f.idx_digest()),
        format!("sending {} ({}) to {h}/high/check/source2@{}", f.src2, f.idx_digest(), f.idx_digest()),
    ] {
        assert!(run.stdout.lines().any(|l| l == line), "missing {line:?} in\n{}", run.stdout);
    }
    assert_eq!(run.stdout.lines().filter(|l| l.starts_with("sending ")).count(), 4);
    for repo in ["source1", "no1", "no2", "source2"] {
        assert!(f.p.tags(&format!("high/check/{repo}")).is_empty(), "{repo}");
        assert!(!f.p.has_manifest(&format!("high/check/{repo}"), &f.idx_digest()), "{repo}");
    }
}

/// §12.4.7: mapper errors are usage errors (exit 2) and name what was given.
#[test]
fn bad_mappers_are_named() {
    let f = Fixture::gathered();
    let csv = f.file("m.csv", "H/low/,H/high/x/\n");
    let run = f.run(&["mirror", "scatter", &f.mirror(), &format!("invalid-mapper={csv}")]);
    run.expect_code(2);
    assert!(run.stderr.contains("unknown mapping type \"invalid-mapper\""), "{}", run.stderr);
    let run = f.run(&["mirror", "scatter", &f.mirror(), "nest"]);
    run.expect_code(2);
    assert!(run.stderr.contains("invalid mapper, please use the format 'MAP-TYPE=MAP-ARG': got 'nest'"), "{}", run.stderr);
    let run = f.run(&["mirror", "scatter", &f.mirror(), "first-prefix=missing.csv"]);
    run.expect_code(2);
    assert!(run.stderr.contains("missing.csv"), "{}", run.stderr);
    let bad = f.file("bad.csv", "H/low/source1,H/high/x/a\nonly-one-field\n");
    let run = f.run(&["mirror", "scatter", &f.mirror(), &format!("first-prefix={bad}")]);
    run.expect_code(2);
    assert!(run.stderr.contains(&format!("{bad}:2")), "{}", run.stderr);
    assert!(f.p.tags("high/x/a").is_empty());
}

/// §13 item 16: a destination that is empty or not a reference stops the run before anything
/// is copied, naming the rule and the image.
#[test]
fn unusable_destinations_stop_before_copying() {
    let f = Fixture::gathered();
    // source1 maps to "H/high/ok/source1:v1", source2 to "Bad/Upper@sha256:…" (not a reference).
    let csv = f.file("m.csv", "H/low/source1,H/high/ok/source1\nH/low/source2,Bad/Upper\n");
    let rule = format!("first-prefix={csv}");
    let run = f.run(&["mirror", "scatter", &f.mirror(), &rule]);
    run.expect_code(2);
    assert!(run.stderr.contains(&rule) && run.stderr.contains(&f.src2), "{}", run.stderr);
    assert!(run.stderr.contains("invalid destination"), "{}", run.stderr);
    assert!(f.p.tags("high/ok/source1").is_empty(), "nothing is copied when any destination is unusable");

    // A remainder with nothing before it gives ":v1", not a reference either.
    let csv = f.file("m2.csv", "H/low/source1,\n");
    let run = f.run(&["mirror", "scatter", &f.mirror(), &format!("first-prefix={csv}")]);
    run.expect_code(2);
    assert!(run.stderr.contains(&f.src1), "{}", run.stderr);
}

/// Two different artifacts sent to one reference is an error, not a race for the tag.
#[test]
fn conflicting_destinations_are_refused() {
    let f = Fixture::gathered();
    let csv = f.file("d.csv", &format!("{},H/high/same:one\n{},H/high/same:one\n", f.img_digest(), f.idx_digest()));
    let run = f.run(&["mirror", "scatter", &f.mirror(), &format!("digests={csv}")]);
    run.expect_code(2);
    assert!(run.stderr.contains("is the destination of more than one artifact"), "{}", run.stderr);
    assert!(run.stderr.contains(&f.src1) && run.stderr.contains(&f.src2), "{}", run.stderr);
    assert!(f.p.tags("high/same").is_empty());
}

/// §12.4.8 subset and §12.4.9 / §13 item 25 selectors: `a=b,c=d` means both.
#[test]
fn subset_and_selectors() {
    let f = Fixture::gathered();
    let subset = write_file(&f.home, "subset.list", &format!("{}\n", f.src1));
    f.run(&["mirror", "scatter", "--subset", &subset, &f.mirror(), &f.under("subset")]).expect_code(0);
    let host_path = |prefix: &str, repo: &str| format!("high/{prefix}/{repo}");
    assert!(f.holds(&host_path("subset", "source1"), "v1", &f.img_digest()));
    assert!(!f.p.has_manifest(&host_path("subset", "source2"), &f.idx_digest()));

    for (i, (selector, want1, want2)) in [
        ("component=core,module=test", true, false),
        ("module=test", true, true),
        ("component=core,module=prod", false, false),
        ("component in (core,env),module=test", true, true),
    ]
    .into_iter()
    .enumerate()
    {
        let prefix = format!("sel{i}");
        // A selector that keeps nothing is accepted only with --allow-empty.
        let allow = if want1 || want2 { "--quiet" } else { "--allow-empty" };
        f.run(&["mirror", "scatter", allow, "-l", selector, &f.mirror(), &f.under(&prefix)]).expect_code(0);
        assert_eq!(f.holds(&host_path(&prefix, "source1"), "v1", &f.img_digest()), want1, "{selector}");
        assert_eq!(f.p.has_manifest(&host_path(&prefix, "source2"), &f.idx_digest()), want2, "{selector}");
    }
    // Repeated -l are alternatives.
    f.run(&["mirror", "scatter", "-l", "component=core", "-l", "component=env", &f.mirror(), &f.under("either")]).expect_code(0);
    assert!(f.holds(&host_path("either", "source1"), "v1", &f.img_digest()));
    assert!(f.p.has_manifest(&host_path("either", "source2"), &f.idx_digest()));
    let run = f.run(&["mirror", "scatter", "-l", "tier in (a", &f.mirror(), "nest=x/y"]);
    run.expect_code(2);
    assert!(run.stderr.contains("invalid selector"), "{}", run.stderr);
}

/// §13 items 17 and 18: an index-fallback gather (its nested index only in the
/// extra-manifests annotation, no size annotation needed) scatters completely.
#[test]
fn extra_manifests_are_followed() {
    let reg = ferry_testkit::Registry::start();
    let p = reg.pusher();
    let r = reg.addr();
    let img = images::single_image(&p, "low/plain", "v1", 7);
    let nested = images::index_of_indexes(&p, "low/nested", "v1", 8);
    let home = TestHome::new();
    let list = write_file(&home, "s.list", &format!("{r}/low/plain:v1\n{r}/low/nested:v1\n"));
    ferry(&home, &reg.ferry_config(), &["mirror", "gather", "--index-fallback", &list, &format!("{r}/low/fb:1")]).expect_code(0);
    let index = p.manifest_json("low/fb", "1");
    assert_eq!(index["manifests"].as_array().unwrap().len(), 1, "the nested index is only in the annotation");
    let csv = write_file(&home, "m.csv", &format!("{r}/low/,{r}/high/\n"));
    let run = ferry(&home, &reg.ferry_config(), &["mirror", "scatter", &format!("{r}/low/fb:1"), &format!("first-prefix={csv}")]);
    run.expect_code(0);
    assert!(p.has_manifest("high/plain", &img.manifest.digest.to_string()));
    let dest = "high/nested";
    let (_, top) = p.manifest(dest, "v1").unwrap();
    assert_eq!(ferry_tests::sha256(&top), nested.index.digest.to_string());
    // Every level below the nested index arrived too.
    for child in &nested.children {
        let (_, bytes) = p.manifest(dest, &child.digest.to_string()).unwrap();
        let m: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        for grandchild in m["manifests"].as_array().into_iter().flatten() {
            assert!(p.has_manifest(dest, grandchild["digest"].as_str().unwrap()));
        }
    }
}

/// scatter needs an index.
#[test]
fn scatter_of_an_image_is_refused() {
    let f = Fixture::new();
    let run = f.run(&["mirror", "scatter", &f.src1, "nest=x/y"]);
    run.expect_code(2);
    assert!(run.stderr.contains("scatter needs an index"), "{}", run.stderr);
}

/// `-r`: an artifact's referrers (an SBOM) and cosign signature follow it to its destination,
/// listed under the subject's tag-schema tag; without `-r` they stay behind.
#[test]
fn referrers_follow_with_recursive() {
    let f = Fixture::new();
    let sbom = images::artifact_with_subject(&f.p, "low/source1", &f.img1.manifest, 41);
    let sig = images::cosign_signature(&f.p, "low/source1", &f.img1.manifest, 42);
    f.run(&["mirror", "-r", "gather", &f.sources, &f.mirror()]).expect_code(0);

    f.run(&["mirror", "scatter", &f.mirror(), &f.under("plain")]).expect_code(0);
    assert!(f.holds("high/plain/source1", "v1", &f.img_digest()));
    assert!(!f.p.has_manifest("high/plain/source1", &sbom.manifest.digest.to_string()));

    f.run(&["mirror", "-r", "scatter", &f.mirror(), &f.under("with-referrers")]).expect_code(0);
    let repo = "high/with-referrers/source1";
    assert!(f.holds(repo, "v1", &f.img_digest()));
    let listed = f.p.manifest_json(repo, &f.img1.manifest.digest.tag_schema());
    let digests: Vec<&str> = listed["manifests"].as_array().unwrap().iter().map(|m| m["digest"].as_str().unwrap()).collect();
    assert!(digests.contains(&sbom.manifest.digest.to_string().as_str()), "{listed}");
    let sig_tag = format!("{}.sig", f.img1.manifest.digest.to_string().replace(':', "-"));
    assert!(f.holds(repo, &sig_tag, &sig.manifest.digest.to_string()), "the cosign signature tag came along");
}
