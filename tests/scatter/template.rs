//! The go-template rule through scatter and clone: ace-dt's template of spec §12.4.1 and
//! §12.5.1 unchanged, and routing each platform by `.Platform`.

use ferry_testkit::images;
use ferry_tests::write_file;

use crate::fixture::Fixture;

/// spec §12.4's T(prefix).
fn acedt_template(f: &Fixture, prefix: &str) -> String {
    f.file(
        &format!("{}.tmpl", prefix.replace('/', "-")),
        &format!(
            r#"{{{{- $name := index .Annotations "vnd.act3-ace.manifest.source" -}}}}
H/high/scatter/{prefix}/{{{{ trimPrefix "H/" $name -}}}}
{{{{ if hasPrefix "H/low/source1" $name }}}}
H/high/scatter/{prefix}/source1:tag
{{{{- end -}}}}
"#
        ),
    )
}

/// §12.4.1: three destinations, the digest-pinned one by digest.
#[test]
fn scatter_by_acedt_template() {
    let f = Fixture::gathered();
    let tmpl = acedt_template(&f, "go-template");
    f.run(&["mirror", "scatter", &f.mirror(), &format!("go-template={tmpl}")]).expect_code(0);
    assert!(f.holds("high/scatter/go-template/source1", "tag", &f.img_digest()));
    assert!(f.holds("high/scatter/go-template/low/source1", "v1", &f.img_digest()));
    assert!(f.holds("high/scatter/go-template/low/source2", &f.idx_digest(), &f.idx_digest()));
    f.assert_complete("high/scatter/go-template/low/source2");
}

/// §12.4.8 and §12.4.9 with the template: --subset, and -l on the labels.
#[test]
fn template_with_subset_and_filter() {
    let f = Fixture::gathered();
    let subset = write_file(&f.home, "subset.list", &format!("{}\n", f.src1));
    let tmpl = acedt_template(&f, "subset");
    f.run(&["mirror", "scatter", "--subset", &subset, &f.mirror(), &format!("go-template={tmpl}")]).expect_code(0);
    assert!(f.holds("high/scatter/subset/source1", "tag", &f.img_digest()));
    assert!(f.holds("high/scatter/subset/low/source1", "v1", &f.img_digest()));
    assert!(!f.p.has_manifest("high/scatter/subset/low/source2", &f.idx_digest()));

    let filtered = f.file(
        "filtered.tmpl",
        "{{- $name := index .Annotations \"vnd.act3-ace.manifest.source\" -}}\nH/high/scatter/filtered/{{ trimPrefix \"H/low/\" $name -}}\n",
    );
    f.run(&["mirror", "scatter", "-l", "component=core", &f.mirror(), &format!("go-template={filtered}")]).expect_code(0);
    assert!(f.holds("high/scatter/filtered/source1", "v1", &f.img_digest()));
    assert!(!f.p.has_manifest("high/scatter/filtered/source2", &f.idx_digest()));
}

/// §12.5.1, and a template error naming the file, line and the artifact (exit 2).
#[test]
fn clone_by_template_and_template_errors() {
    let f = Fixture::new();
    let tmpl = f.file(
        "clone.tmpl",
        "{{- $name := index .Annotations \"vnd.act3-ace.manifest.source\" -}}\nH/high/clone/go-template/{{ trimPrefix \"H/low/\" $name -}}\n",
    );
    f.run(&["mirror", "clone", &f.sources, &format!("go-template={tmpl}")]).expect_code(0);
    assert!(f.holds("high/clone/go-template/source1", "v1", &f.img_digest()));
    assert!(f.holds("high/clone/go-template/source2", &f.idx_digest(), &f.idx_digest()));

    let broken = f.file("broken.tmpl", "H/high/x/\n{{ if }}\n");
    let run = f.run(&["mirror", "clone", &f.sources, &format!("go-template={broken}")]);
    run.expect_code(2);
    assert!(run.stderr.contains(&format!("{broken}:2:")), "{}", run.stderr);
    let failing = f.file("fail.tmpl", "{{ fail (printf \"no route for %s\" .Source) }}");
    let run = f.run(&["mirror", "clone", &f.sources, &format!("go-template={failing}")]);
    run.expect_code(2);
    assert!(run.stderr.contains(&format!("no route for {}", f.src1)), "{}", run.stderr);
}

/// §13 item 15: with -p each platform gets its own result; a template routing by
/// `.Platform` sends each to its own repository, tagged with the source's tag.
#[test]
fn clone_routes_each_platform() {
    let f = Fixture::new();
    let multi = images::multi_platform_index(&f.p, "low/multiarch", "v1", 5);
    let list = write_file(&f.home, "multi.list", &format!("{}/low/multiarch:v1\n", f.h()));
    let tmpl = f.file(
        "arch.tmpl",
        "{{- $src := .Source -}}\nH/high/arch/{{ .Platform.Architecture }}{{ with .Platform.Variant }}-{{ . }}{{ end }}/{{ trimPrefix \"H/low/\" $src }}\n",
    );
    f.run(&["mirror", "clone", "-p", "linux/amd64", "-p", "linux/arm64", &list, &format!("go-template={tmpl}")]).expect_code(0);
    let amd = multi.children[0].digest.to_string();
    let arm = multi.children[1].digest.to_string();
    assert!(f.holds("high/arch/amd64/multiarch", "v1", &amd));
    assert!(f.holds("high/arch/arm64-v8/multiarch", "v1", &arm));
    assert!(!f.p.has_manifest("high/arch/arm-v7/multiarch", "v1"));
}
