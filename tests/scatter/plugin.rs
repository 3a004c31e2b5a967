//! A site's own rule (`plugin=PATH.wasm,KEY=VALUE…`): the example component routes by label;
//! components that misbehave or are of another world are refused with exit 2 and a message
//! naming them, and nothing is copied.

use crate::fixture::Fixture;

pub(crate) fn write_wasm(f: &Fixture, name: &str, bytes: &[u8]) -> String {
    let path = f.home.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    path.to_str().unwrap().to_owned()
}

#[test]
fn the_example_routes_by_label() {
    let f = Fixture::gathered();
    let wasm = write_wasm(&f, "route_by_label.wasm", ferry_plugin::examples::ROUTE_BY_LABEL);
    let h = f.h();
    // component=core goes to high/core/, component=env has no route and no default.
    let rule = format!("plugin={wasm},label=component,to.core={h}/high/core/");
    f.run(&["mirror", "scatter", &f.mirror(), &rule]).expect_code(0);
    assert!(f.holds("high/core/low/source1", "v1", &f.img_digest()));
    assert!(!f.p.has_manifest("high/core/low/source2", &f.idx_digest()));

    // A rule file's text can be passed with KEY=@FILE; here the default route.
    let default = f.file("default.txt", "H/high/misc/");
    let rule = format!("plugin={wasm},label=component,to.core={h}/high/core2/,default=@{default}");
    f.run(&["mirror", "scatter", &f.mirror(), &rule]).expect_code(0);
    assert!(f.holds("high/core2/low/source1", "v1", &f.img_digest()));
    assert!(f.p.has_manifest("high/misc/low/source2", &f.idx_digest()));

    // Its own error, returned as a rule's refusal, names the component.
    let run = f.run(&["mirror", "scatter", &f.mirror(), &format!("plugin={wasm}")]);
    run.expect_code(2);
    assert!(run.stderr.contains("component route_by_label.wasm: map-image: the parameter \"label\" is missing"), "{}", run.stderr);
}

#[test]
fn hostile_and_foreign_components_are_refused() {
    let f = Fixture::gathered();
    let hostile = write_wasm(&f, "hostile.wasm", ferry_plugin::builtin::HOSTILE);
    for (what, expect) in [("loop", "stopped"), ("hog", "memory"), ("panic", "panic")] {
        let run = f.run(&["mirror", "scatter", &f.mirror(), &format!("plugin={hostile},do={what}")]);
        run.expect_code(2);
        assert!(run.stderr.contains("component hostile.wasm: map-image:") && run.stderr.contains(expect), "{what}: {}", run.stderr);
    }
    let parser = write_wasm(&f, "sources_list.wasm", ferry_plugin::builtin::SOURCES_LIST);
    let run = f.run(&["mirror", "scatter", &f.mirror(), &format!("plugin={parser}")]);
    run.expect_code(2);
    assert!(run.stderr.contains("not a ferry:plugin/mapper@0.1.1 component"), "{}", run.stderr);
    let junk = write_wasm(&f, "junk.wasm", b"not wasm at all");
    let run = f.run(&["mirror", "scatter", &f.mirror(), &format!("plugin={junk}")]);
    run.expect_code(2);
    assert!(run.stderr.contains("junk.wasm"), "{}", run.stderr);
    assert!(f.p.tags("high/core/low/source1").is_empty());
}

#[test]
fn plugin_wit_prints_the_interface() {
    let f = Fixture::new();
    let run = f.run(&["plugin", "wit"]);
    run.expect_code(0);
    assert_eq!(run.stdout, ferry_plugin::WIT);
    assert!(run.stdout.starts_with("package ferry:plugin@0.1.1;"));
}
