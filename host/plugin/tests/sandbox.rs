//! The sandbox against components that misbehave on purpose: each is stopped with an error
//! naming the component, the function and the limit, well within 10 s, and the host keeps
//! working afterwards.

#![allow(clippy::unwrap_used, missing_docs, reason = "tests")]

use std::time::{Duration, Instant};

use std::error::Error as _;

use ferry_plugin::{Host, Image, Limits, LoadErrorKind, Mapper, PluginError, TrapKind, builtin};

fn image(source: &str) -> Image {
    Image {
        source: source.to_owned(),
        digest: format!("sha256:{}", "ab".repeat(32)),
        media_type: "application/vnd.oci.image.manifest.v1+json".to_owned(),
        size: 1234,
        platform: None,
        artifact_type: None,
        annotations: vec![("vnd.act3-ace.manifest.source".to_owned(), source.to_owned())],
        labels: vec![],
    }
}

fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

/// A host whose time limit (500 ms) comes before its fuel runs out.
fn host() -> Host {
    Host::new(Limits { time: Duration::from_millis(500), fuel: 1 << 60, ..Limits::default() }, None).unwrap()
}

#[test]
fn nest_joins_without_cleaning() {
    let host = host();
    let nest = host.load("nest", builtin::NEST).unwrap();
    let mut m = Mapper::new(&host, &nest, params(&[("prefix", "localhost:5000/nest")])).unwrap();
    assert_eq!(m.map(&image("docker.io/testImage")).unwrap(), ["localhost:5000/nest/docker.io/testImage"]);
    let mut m = Mapper::new(&host, &nest, params(&[("prefix", "reg.example.com/a/")])).unwrap();
    assert_eq!(m.map(&image("quay.io/ceph/ceph:v17")).unwrap(), ["reg.example.com/a/quay.io/ceph/ceph:v17"]);
    // `..` is joined as written, never resolved: the host then refuses the destination.
    let mut m = Mapper::new(&host, &nest, params(&[("prefix", "reg.example.com/mirror/high")])).unwrap();
    assert_eq!(m.map(&image("x/../../../victim/other")).unwrap(), ["reg.example.com/mirror/high/x/../../../victim/other"]);
    let mut m = Mapper::new(&host, &nest, vec![]).unwrap();
    let err = m.map(&image("docker.io/x")).unwrap_err();
    assert!(matches!(err, PluginError::Refused { .. }), "{err}");
    assert_eq!(err.to_string(), "component nest: map-image: nest: the parameter \"prefix\" is missing (nest=PREFIX)");
}

/// Runs the hostile rule with `do=what` and returns the error and how long it took.
fn abuse(host: &Host, what: &str) -> (PluginError, Duration) {
    let hostile = host.load("hostile", builtin::HOSTILE).unwrap();
    let mut m = Mapper::new(host, &hostile, params(&[("do", what)])).unwrap();
    let started = Instant::now();
    let err = m.map(&image("docker.io/x")).unwrap_err();
    (err, started.elapsed())
}

#[test]
fn hostile_components_are_stopped_and_the_host_stays_healthy() {
    let host = host();
    for (what, want, needle) in [
        ("loop", TrapKind::Deadline { time: Duration::from_millis(500) }, "ran longer than its time limit of 500ms"),
        ("hog", TrapKind::MemoryLimit { limit_bytes: 64 << 20 }, "more than its memory limit of 64 MiB"),
        ("panic", TrapKind::Other, "trapped: "),
    ] {
        let (err, took) = abuse(&host, what);
        let PluginError::Trap { kind, function, .. } = &err else { panic!("{what}: {err}") };
        assert_eq!((*kind, *function), (want, "map-image"), "{what}: {err}");
        let text = err.to_string();
        assert!(text.starts_with("component hostile: map-image: ") && text.contains(needle), "{what}: {text}");
        // wasmtime's error stays attached; for any other trap its text says where.
        let source = err.source().map(ToString::to_string).unwrap_or_default();
        assert!(!source.is_empty(), "{what}: no source");
        if want == TrapKind::Other {
            assert!(text.contains("wasm backtrace") || text.contains("unreachable"), "{what}: {text}");
        }
        assert!(took < Duration::from_secs(10), "{what} took {took:?}");
    }
    // The same rule, well-behaved, still runs in the same engine; so does another.
    let hostile = host.load("hostile", builtin::HOSTILE).unwrap();
    let mut m = Mapper::new(&host, &hostile, params(&[("do", "loop")])).unwrap();
    assert!(m.map(&image("a/b")).is_err());
    let mut ok = Mapper::new(&host, &hostile, vec![]).unwrap();
    assert_eq!(ok.map(&image("a/b")).unwrap(), ["ok/a/b"]);
    assert_eq!(ok.map(&image("c/d")).unwrap(), ["ok/c/d"], "one instance serves many calls");
}

#[test]
fn fuel_stops_a_loop_when_time_would_not() {
    let host = Host::new(Limits { time: Duration::from_secs(3600), fuel: 50_000_000, ..Limits::default() }, None).unwrap();
    let (err, took) = abuse(&host, "loop");
    assert!(matches!(err, PluginError::Trap { kind: TrapKind::OutOfFuel { fuel: 50_000_000 }, .. }), "{err:?}");
    assert!(err.to_string().contains("used all its fuel (50000000 units)"), "{err}");
    assert!(took < Duration::from_secs(10), "{took:?}");
}

#[test]
fn components_get_no_files_and_no_environment() {
    let host = host();
    let (err, _) = abuse(&host, "open");
    assert!(matches!(err, PluginError::Refused { .. }), "{err}");
    assert!(err.to_string().contains("open refused"), "{err}");
    let hostile = host.load("hostile", builtin::HOSTILE).unwrap();
    // SAFETY of the assertion: the test process has PATH and HOME at least.
    assert!(std::env::vars().count() > 0);
    let mut m = Mapper::new(&host, &hostile, params(&[("do", "env")])).unwrap();
    assert_eq!(m.map(&image("x/y")).unwrap(), ["env/0"]);
}

#[test]
fn what_is_not_a_component_is_refused_by_name() {
    let host = host();
    for (bytes, needle) in [(&b"not wasm at all"[..], "not a loadable component"), (&b"\0asm\x01\0\0\0"[..], "not a loadable component")] {
        let err = host.load("site-rule", bytes).err().unwrap();
        assert!(err.to_string().starts_with("component site-rule: ") && err.to_string().contains(needle), "{err}");
        assert!(matches!(err, PluginError::Load { kind: LoadErrorKind::Compile, .. }), "{err:?}");
        // wasmtime's reason is the source, and the message still says it.
        let source = err.source().unwrap().to_string();
        assert!(err.to_string().contains(&source), "{err} / {source}");
    }
}

#[test]
fn compiled_components_are_cached_by_digest() {
    let dir = tempfile::tempdir().unwrap();
    let host = Host::new(Limits::default(), Some(dir.path().to_owned())).unwrap();
    let first = host.load("nest", builtin::NEST).unwrap();
    let entries: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|name| name != "key")
        .collect();
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert!(entries[0].starts_with(&first.sha256) && entries[0].ends_with(".cwasm"), "{entries:?}");
    // A second host loads the entry; a damaged entry is compiled again.
    let again = Host::new(Limits::default(), Some(dir.path().to_owned())).unwrap();
    let loaded = again.load("nest", builtin::NEST).unwrap();
    let mut m = Mapper::new(&again, &loaded, params(&[("prefix", "p")])).unwrap();
    assert_eq!(m.map(&image("r/x")).unwrap(), ["p/r/x"]);
    std::fs::write(dir.path().join(&entries[0]), b"damaged").unwrap();
    let loaded = again.load("nest", builtin::NEST).unwrap();
    let mut m = Mapper::new(&again, &loaded, params(&[("prefix", "q")])).unwrap();
    assert_eq!(m.map(&image("r/x")).unwrap(), ["q/r/x"]);
}

#[test]
fn inspection_names_world_version_and_digest() {
    let host = host();
    for (name, wasm) in [("nest", builtin::NEST), ("csv-map", builtin::CSV_MAP)] {
        let loaded = host.load(name, wasm).unwrap();
        let i = host.inspect(&loaded, wasm.len() as u64);
        assert_eq!(i.world, Some("mapper"), "{i:?}");
        assert_eq!(i.interface_version.as_deref(), Some(ferry_plugin::INTERFACE_VERSION));
        assert_eq!(i.exports, ["map-image"]);
        assert!(i.imports.iter().any(|n| n == "ferry:plugin/host@0.1.1"), "{:?}", i.imports);
        assert!(i.imports.iter().all(|n| !n.starts_with("wasi:filesystem") && !n.starts_with("wasi:sockets")), "{:?}", i.imports);
        use sha2::Digest as _;
        assert_eq!(i.sha256, hex::encode(sha2::Sha256::digest(wasm)));
    }
}

#[test]
fn a_component_that_imports_only_the_types_has_their_version() {
    // The JSON-lines tracker makes no host calls: its version comes from ferry:plugin/types.
    let host = host();
    let wasm = ferry_plugin::examples::JSONL_TRACKER;
    let loaded = host.load("jsonl-tracker", wasm).unwrap();
    let i = host.inspect(&loaded, wasm.len() as u64);
    assert!(!i.imports.iter().any(|n| n.starts_with("ferry:plugin/host")), "{:?}", i.imports);
    assert_eq!((i.world, i.interface_version.as_deref()), (Some("tracker"), Some(ferry_plugin::INTERFACE_VERSION)));
}

#[test]
fn another_interface_version_is_refused_with_both_versions() {
    let host = host();
    let other = host.load("route", builtin::OLD_INTERFACE).unwrap();
    let i = host.inspect(&other, builtin::OLD_INTERFACE.len() as u64);
    assert_eq!((i.world, i.interface_version.as_deref()), (Some("mapper"), Some("0.2.0")));
    let err = Mapper::new(&host, &other, vec![]).err().unwrap();
    assert!(matches!(err, PluginError::Load { kind: LoadErrorKind::NotWorld { world: "mapper" }, .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.starts_with("component route: not a ferry:plugin/mapper@0.1.1 component"), "{text}");
    assert!(text.contains("ferry:plugin/host@0.2.0"), "names what it wants: {text}");
}
