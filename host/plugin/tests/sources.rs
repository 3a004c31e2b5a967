//! The built-in sources-list parser through the real host: ferry's `sources.list` semantics
//! (spec §5.1 with ace-dt's traps fixed), exact entries and line numbers, and components of
//! the wrong world refused.

#![allow(clippy::unwrap_used, missing_docs, reason = "tests")]

use std::io::Write;
use std::sync::{Arc, Mutex};

use ferry_plugin::{Host, Limits, LoadErrorKind, Mapper, PluginError, SourceEntry, SourcesParser, Tracker, builtin};

fn parse(text: &str) -> Result<Vec<SourceEntry>, PluginError> {
    let host = Host::new(Limits::default(), None).unwrap();
    let loaded = host.load("sources-list", builtin::SOURCES_LIST).unwrap();
    SourcesParser::new(&host, &loaded, vec![]).unwrap().parse(text)
}

fn entry(reference: &str, labels: &[(&str, &str)], line: u32) -> SourceEntry {
    let labels = labels.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    SourceEntry { reference: reference.to_owned(), labels, line }
}

/// The line and message of a parse error.
fn bad_line(text: &str) -> (u32, String) {
    match parse(text) {
        Err(PluginError::Parse { component, function, line, message }) => {
            assert_eq!((component.as_str(), function), ("sources-list", "parse"));
            (line, message)
        }
        other => panic!("{text:?}: {other:?}"),
    }
}

#[test]
fn parses_sources_and_labels() {
    let text = "# comment\nreg.io/b:v1, component=core ,module=x\r\n\n   \n  # indented comment\nreg.io/a:v1\n\"reg.io/c:v1\",\"k=v\"";
    assert_eq!(
        parse(text).unwrap(),
        [
            entry("reg.io/a:v1", &[], 6),
            entry("reg.io/b:v1", &[("component", "core"), ("module", "x")], 2),
            entry("reg.io/c:v1", &[("k", "v")], 7),
        ]
    );
}

#[test]
fn acedt_traps_are_fixed() {
    // `  # x` is a comment, a whitespace-only line is skipped, trailing space of the reference
    // is trimmed, leading space and tabs of every field too.
    let text = "  # not a source\n \t \nreg.io/a:v1   \n\treg.io/b:v1\t,\t k = v \n";
    assert_eq!(parse(text).unwrap(), [entry("reg.io/a:v1", &[], 3), entry("reg.io/b:v1", &[("k", "v")], 4)]);
    assert_eq!(parse("").unwrap(), []);
    assert_eq!(parse("# only a comment\n\n").unwrap(), []);
}

#[test]
fn quoting_as_go_reads_it() {
    // `""` is a quote, a quoted field may hold commas and a newline (the entry keeps the line
    // it starts on), and `\r\n` endings are accepted.
    let text = "\"reg.io/a,b\"\r\n\"reg.io/q\"\"x\",k=v\r\n\"reg.io/multi\nline\"\r\nreg.io/last";
    assert_eq!(
        parse(text).unwrap(),
        [
            entry("reg.io/a,b", &[], 1),
            entry("reg.io/last", &[], 5),
            entry("reg.io/multi\nline", &[], 3),
            entry("reg.io/q\"x", &[("k", "v")], 2),
        ]
    );
}

#[test]
fn sorted_by_reference_in_byte_order() {
    let text = "reg.io/b\nreg.io/B\nreg.io/a:v2\nreg.io/a:v10\nreg.io/a\n";
    let refs: Vec<_> = parse(text).unwrap().into_iter().map(|e| (e.reference, e.line)).collect();
    let want = [("reg.io/B", 2), ("reg.io/a", 5), ("reg.io/a:v10", 4), ("reg.io/a:v2", 3), ("reg.io/b", 1)];
    assert_eq!(refs, want.map(|(r, l)| (r.to_owned(), l)));
}

#[test]
fn labels_sorted_and_a_later_key_wins() {
    assert_eq!(parse("reg.io/a,z=1,a=2,z=3").unwrap(), [entry("reg.io/a", &[("a", "2"), ("z", "3")], 1)]);
}

#[test]
fn reports_the_line() {
    let cases = [
        ("reg.io/a\nreg.io/b,nolabel", 2, "label \"nolabel\" should be in key=value format"),
        ("reg.io/a\n\nreg.io/b,a=b=c", 3, "key=value"),
        ("reg.io/a,-bad=x", 1, "invalid label \"-bad=x\": key name \"-bad\""),
        ("reg.io/a,k=Has Space", 1, "invalid label"),
        ("reg.io/a\"x", 1, "bare \""),
        ("\"reg.io/a", 1, "quoted field is not closed"),
        ("reg.io/a\n\"reg.io/b\"x", 2, "extraneous or missing \" in quoted field"),
        ("reg.io/a,k=1\nreg.io/a,k=2", 2, "source \"reg.io/a\" is also on line 1 with different labels"),
        ("reg.io/a\n,k=v", 2, "empty source reference"),
    ];
    for (text, line, needle) in cases {
        let (got, message) = bad_line(text);
        assert_eq!(got, line, "{text:?}: {message}");
        assert!(message.contains(needle), "{text:?}: {message}");
    }
    // The error's text names the component, the function and the line.
    let err = parse("reg.io/a\nreg.io/b,nolabel").unwrap_err().to_string();
    assert!(err.starts_with("component sources-list: parse: line 2: label"), "{err}");
}

#[test]
fn label_rules() {
    let ok = |labels: &str| parse(&format!("reg.io/a,{labels}")).is_ok();
    assert!(ok("example.com/component=core"));
    assert!(ok("k="));
    assert!(ok("a.b-c_d=v.1-x_y"));
    assert!(!ok("Example.com/x=v"));
    assert!(!ok("-x.com/k=v"));
    assert!(!ok("/k=v"));
    assert!(!ok(&format!("{}=v", "k".repeat(64))));
    assert!(ok(&format!("{}=v", "k".repeat(63))));
    assert!(!ok(&format!("k={}", "v".repeat(64))));
    assert!(!ok("k=-v"));
    assert!(!ok("=v"));
}

/// A `Write` into shared bytes, for capturing the log.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn merges_exact_duplicates_with_a_warning() {
    let log = Captured::default();
    let writer = log.clone();
    let subscriber = tracing_subscriber::fmt().with_writer(move || writer.clone()).with_ansi(false).finish();
    let entries = tracing::subscriber::with_default(subscriber, || {
        let host = Host::new(Limits::default(), None).unwrap();
        let loaded = host.load("sources-list", builtin::SOURCES_LIST).unwrap();
        let params = vec![("path".to_owned(), "sources.list".to_owned())];
        SourcesParser::new(&host, &loaded, params).unwrap().parse("reg.io/a,k=v\nreg.io/b\n reg.io/a , k=v\n").unwrap()
    });
    assert_eq!(entries, [entry("reg.io/a", &[("k", "v")], 1), entry("reg.io/b", &[], 2)]);
    let log = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
    assert!(
        log.contains("WARN") && log.contains("sources-list: sources.list:3: duplicate source \"reg.io/a\" (first on line 1) ignored"),
        "{log}"
    );
}

#[test]
fn one_instance_parses_many_texts() {
    let host = Host::new(Limits::default(), None).unwrap();
    let loaded = host.load("sources-list", builtin::SOURCES_LIST).unwrap();
    let mut p = SourcesParser::new(&host, &loaded, vec![]).unwrap();
    assert_eq!(p.parse("reg.io/a\n").unwrap(), [entry("reg.io/a", &[], 1)]);
    assert!(matches!(p.parse("reg.io/a,x").unwrap_err(), PluginError::Parse { line: 1, .. }));
    // Nothing is kept between calls: the same reference with other labels is no conflict.
    assert_eq!(p.parse("reg.io/a,k=v\n").unwrap(), [entry("reg.io/a", &[("k", "v")], 1)]);
}

#[test]
fn a_component_of_another_world_is_refused_naming_both() {
    let host = Host::new(Limits::default(), None).unwrap();
    let sources = host.load("sources-list", builtin::SOURCES_LIST).unwrap();
    let nest = host.load("nest", builtin::NEST).unwrap();
    let tracker = host.load("csv-tracker", builtin::CSV_TRACKER).unwrap();
    let refusals = [
        (Mapper::new(&host, &sources, vec![]).err(), "component sources-list: not a ferry:plugin/mapper@0.1.1 component", "map-image"),
        (SourcesParser::new(&host, &nest, vec![]).err(), "component nest: not a ferry:plugin/sources-parser@0.1.1 component", "parse"),
        (
            SourcesParser::new(&host, &tracker, vec![]).err(),
            "component csv-tracker: not a ferry:plugin/sources-parser@0.1.1 component",
            "parse",
        ),
        (Tracker::new(&host, &sources, vec![]).err(), "component sources-list: not a ferry:plugin/tracker@0.1.1 component", "no export `"),
    ];
    for (err, start, export) in refusals {
        let err = err.unwrap();
        assert!(matches!(err, PluginError::Load { kind: LoadErrorKind::NotWorld { .. }, .. }), "{err:?}");
        let text = err.to_string();
        assert!(text.starts_with(start), "{text}");
        assert!(text.contains(export), "names the missing export: {text}");
    }
}

#[test]
fn inspection_names_the_worlds() {
    let host = Host::new(Limits::default(), None).unwrap();
    for (name, wasm, world) in [("sources-list", builtin::SOURCES_LIST, "sources-parser"), ("csv-tracker", builtin::CSV_TRACKER, "tracker")]
    {
        let i = host.inspect(&host.load(name, wasm).unwrap(), wasm.len() as u64);
        assert_eq!((i.world, i.interface_version.as_deref()), (Some(world), Some(ferry_plugin::INTERFACE_VERSION)), "{i:?}");
        assert!(i.imports.iter().all(|n| !n.starts_with("wasi:filesystem") && !n.starts_with("wasi:sockets")), "{:?}", i.imports);
    }
}
