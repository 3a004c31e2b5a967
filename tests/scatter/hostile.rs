//! Hostile gather indexes: source annotations that try to steer a rule out of what the
//! operator named (found by fuzzing). Each is refused with exit 2 before anything is written.

use ferry_oci::{annotations, gojson, media_type};
use ferry_testkit::images;
use serde_json::json;

use crate::fixture::Fixture;

/// Pushes to `low/evil:<tag>` a gather index of one image whose source annotation is
/// `source`; returns the index's reference.
fn hostile_index(f: &Fixture, tag: &str, source: &str) -> String {
    let img = images::image(&f.p, "low/evil", None, 77, Some("linux/amd64"), false);
    let mut child = serde_json::to_value(&img.manifest).unwrap();
    child["annotations"] = json!({ annotations::SOURCE: source, annotations::REF_NAME: source });
    let body = json!({ "schemaVersion": 2, "mediaType": media_type::OCI_INDEX, "manifests": [child] });
    f.p.push_manifest("low/evil", tag, media_type::OCI_INDEX, &gojson::to_vec(&body));
    format!("{}/low/evil:{tag}", f.h())
}

/// The two observed attacks: `..` that climbed from `nest=REG/mirror/high` to
/// `REG/victim/other`, and `../oci:PATH` that made scatter write a layout at PATH.
fn attacks(f: &Fixture) -> (String, String, std::path::PathBuf) {
    let climb = hostile_index(f, "climb", "a/../../../victim/other");
    let layout = f.home.path().join("planted-layout");
    let escape = hostile_index(f, "escape", &format!("a/../../../../oci:{}", layout.display()));
    (climb, escape, layout)
}

fn assert_refused(run: &ferry_tests::Run, what: &str) {
    run.expect_code(2);
    assert!(
        run.stderr.contains("source annotation") && run.stderr.contains(what) && run.stderr.contains("refused"),
        "the refusal names the annotation\n{}",
        run.stderr
    );
}

#[test]
fn scatter_refuses_sources_that_climb_or_name_a_layout() {
    let f = Fixture::new();
    let (climb, escape, layout) = attacks(&f);
    let nest = format!("nest={}/mirror/high", f.h());
    let run = f.run(&["mirror", "scatter", &climb, &nest]);
    assert_refused(&run, "a/../../../victim/other");
    assert!(f.p.tags("victim/other").is_empty() && !f.p.has_manifest("victim/other", "latest"), "nothing tagged at the victim");
    assert!(f.p.tags("mirror/high/a").is_empty());

    let run = f.run(&["mirror", "scatter", &escape, &nest]);
    assert_refused(&run, "oci:");
    assert!(!layout.exists(), "no layout written at {}", layout.display());
}

#[test]
fn unarchive_refuses_the_same_attacks() {
    let f = Fixture::new();
    let (climb, escape, layout) = attacks(&f);
    let nest = format!("nest={}/mirror/high", f.h());
    for (i, image) in [climb, escape].iter().enumerate() {
        let archive = f.home.path().join(format!("evil-{i}.tar"));
        f.run(&["mirror", "serialize", image, archive.to_str().unwrap()]).expect_code(0);
        let cache = f.home.path().join(format!("cache-{i}"));
        let run = f.run(&["mirror", "unarchive", "--cache", cache.to_str().unwrap(), archive.to_str().unwrap(), &nest]);
        run.expect_code(2);
        assert!(run.stderr.contains("source annotation"), "{}", run.stderr);
    }
    assert!(f.p.tags("victim/other").is_empty() && !f.p.has_manifest("victim/other", "latest"));
    assert!(!layout.exists(), "no layout written at {}", layout.display());
}

/// A well-formed layout source, echoed by a template: the layout is not one the operator
/// named, so it is refused all the same.
#[test]
fn a_layout_destination_must_be_named_by_the_operator() {
    let f = Fixture::new();
    let layout = f.home.path().join("stolen");
    let image = hostile_index(&f, "echo", &format!("oci:{}:v1", layout.display()));
    let template = f.file("echo.tmpl", "{{ index .Annotations \"vnd.act3-ace.manifest.source\" }}\n");
    let run = f.run(&["mirror", "scatter", &image, &format!("go-template={template}")]);
    run.expect_code(2);
    assert!(run.stderr.contains("OCI layout destination") && run.stderr.contains("not in a layout directory"), "{}", run.stderr);
    assert!(!layout.exists());
}

/// Ordinary scatters still work: into the registry, and into a layout the mapping file names.
#[test]
fn normal_scatter_still_works() {
    let f = Fixture::gathered();
    f.run(&["mirror", "scatter", &f.mirror(), &f.under("safe")]).expect_code(0);
    assert!(f.holds("high/safe/source1", "v1", &f.img_digest()));
    assert!(f.holds("high/safe/source2", &f.idx_digest(), &f.idx_digest()));

    let out = f.home.path().join("out");
    // Written without `f.file`, whose `H/` replacement would also hit a temporary directory
    // whose random name ends in `H`.
    let csv = ferry_tests::write_file(&f.home, "layout.csv", &format!("{}/low/,oci:{}/\n", f.h(), out.display()));
    let run = f.run(&["mirror", "scatter", &f.mirror(), &format!("first-prefix={csv}")]);
    run.expect_code(0);
    assert!(out.join("source1/index.json").exists(), "{}", run.stdout);
    assert!(out.join("source2/index.json").exists());
}
