//! The built-in rules, through the same host path a site's component takes, with ace-dt's
//! test-backed examples (spec §6.1, §6.2).

#![allow(clippy::unwrap_used, missing_docs, reason = "tests")]

use ferry_plugin::{Host, Image, Limits, Mapper, PluginError, builtin};

fn image(source: &str, digest: &str) -> Image {
    Image {
        source: source.to_owned(),
        digest: digest.to_owned(),
        media_type: "application/vnd.oci.image.manifest.v1+json".to_owned(),
        size: 1,
        platform: None,
        artifact_type: None,
        annotations: vec![],
        labels: vec![],
    }
}

fn csv_rule<'h>(host: &'h Host, rule: &str, text: &str) -> Mapper<'h> {
    let loaded = host.load("csv-map", builtin::CSV_MAP).unwrap();
    let params =
        [("rule", rule), ("file", text), ("path", "mapping.csv")].iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    Mapper::new(host, &loaded, params).unwrap()
}

const LONGEST: &str = "\
,high.example.com/default/
reg.example.com/low/source1,high.example.com/one
reg.example.com/low/source,high.example.com/two/
reg.example.com/low/sources2,high.example.com/three/
reg.example.com/low/sources2:v2,high.example.com/four:v3
";

#[test]
fn longest_prefix_as_acedt_tests_it() {
    let host = Host::new(Limits::default(), None).unwrap();
    let mut m = csv_rule(&host, "longest-prefix", LONGEST);
    for (source, want) in [
        ("reg.example.com/low/source1:v1", "high.example.com/one:v1"),
        ("reg.example.com/low/sources2:v2", "high.example.com/four:v3"),
        ("reg2.example.com/other", "high.example.com/default/reg2.example.com/other"),
    ] {
        assert_eq!(m.map(&image(source, "sha256:00")).unwrap(), [want], "{source}");
    }
    // Without a default row, no match is no destination (ace-dt gave an empty one).
    let mut m = csv_rule(&host, "longest-prefix", "reg.example.com/a,high/a\n");
    assert!(m.map(&image("other.example.com/x", "sha256:00")).unwrap().is_empty());
    // Of equal keys, the last row wins.
    let mut m = csv_rule(&host, "longest-prefix", "r/,one/\nr/,two/\n");
    assert_eq!(m.map(&image("r/x", "sha256:00")).unwrap(), ["two/x"]);
}

#[test]
fn first_all_and_digest_rules() {
    let host = Host::new(Limits::default(), None).unwrap();
    let text = "# comment\n\ndocker.io/,reg.example.com/docker.io/\ndocker.io/library/,mirror.example.com/lib/\n,never/\n";
    let src = image("docker.io/library/alpine:3", "sha256:aa");
    assert_eq!(csv_rule(&host, "first-prefix", text).map(&src).unwrap(), ["reg.example.com/docker.io/library/alpine:3"]);
    assert_eq!(
        csv_rule(&host, "all-prefix", text).map(&src).unwrap(),
        ["reg.example.com/docker.io/library/alpine:3", "mirror.example.com/lib/alpine:3"]
    );
    assert!(csv_rule(&host, "first-prefix", text).map(&image("quay.io/x", "sha256:aa")).unwrap().is_empty());
    let digests =
        "sha256:aa,high.example.com/pinned/one:v1\nsha256:bb,high.example.com/other\n\"sha256:aa\",\"high.example.com/pinned/two\"\n";
    assert_eq!(csv_rule(&host, "digests", digests).map(&src).unwrap(), ["high.example.com/pinned/one:v1", "high.example.com/pinned/two"]);
    // Fields are not trimmed: a space stays in the destination, as in ace-dt.
    assert_eq!(csv_rule(&host, "first-prefix", "docker.io/, x/").map(&src).unwrap(), [" x/library/alpine:3"]);
}

#[test]
fn bad_mapping_files_name_the_line() {
    let host = Host::new(Limits::default(), None).unwrap();
    let src = image("docker.io/x", "sha256:aa");
    for (rule, text, needle) in [
        ("first-prefix", "a,b\nc,d,e\n", "mapping.csv:2: expected 2 fields (match, destination), found 3"),
        ("all-prefix", "a,b\nonly-one\n", "mapping.csv:2: expected 2 fields"),
        ("middle-prefix", "a,b\n", "unknown CSV rule"),
    ] {
        let err = csv_rule(&host, rule, text).map(&src).unwrap_err();
        assert!(matches!(err, PluginError::Refused { .. }), "{err}");
        assert!(err.to_string().starts_with("component csv-map: map-image: ") && err.to_string().contains(needle), "{rule}: {err}");
    }
}
