//! Large inputs through the shipped components under the default limits, which grow with the
//! input (`Limits`): a 100,000-line labelled sources list and a 100,000-row
//! `record-keeping.csv`, alone and with two cores kept busy; and a parser that never returns
//! is still stopped, however large its input.
//!
//! The timings are printed (`cargo test -p ferry-plugin --test large -- --nocapture`), not
//! asserted: speed is measured, not tested.

#![allow(clippy::unwrap_used, clippy::print_stderr, missing_docs, reason = "tests; measurements are printed")]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use ferry_plugin::{Host, Limits, MAX_INPUT_BYTES, PluginError, SourcesParser, Tracker, builtin};

const LINES: usize = 100_000;

/// `LINES` distinct sources, each with two labels.
fn sources_list() -> String {
    let mut text = String::with_capacity(LINES * 80);
    for i in 0..LINES {
        text.push_str(&format!("registry.example.com/team{}/image{i}:v{},component=core{},module=test\n", i % 97, i % 13, i % 7));
    }
    text
}

/// A `record-keeping.csv` of `LINES` rows, header first, as ace-dt writes it.
fn record_keeping() -> String {
    let mut text = String::from("sync_name,artifact,digest\n");
    for i in 0..LINES {
        text.push_str(&format!("{:06}-tools.tar,registry.example.com/gather:sources{i},sha256:{:064x}\n", i + 1, i));
    }
    text
}

/// Keeps `n` threads spinning until the guard is dropped.
struct Load(Arc<AtomicBool>, Vec<std::thread::JoinHandle<()>>);

impl Load {
    fn start(n: usize) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let threads = (0..n)
            .map(|_| {
                let stop = Arc::clone(&stop);
                std::thread::spawn(move || {
                    let mut x = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
                    }
                })
            })
            .collect();
        Load(stop, threads)
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
        for t in self.1.drain(..) {
            t.join().unwrap();
        }
    }
}

fn parse_sources(host: &Host, text: &str) -> Duration {
    let loaded = host.load("sources-list", builtin::SOURCES_LIST).unwrap();
    let mut parser = SourcesParser::new(host, &loaded, vec![]).unwrap();
    let started = Instant::now();
    let entries = parser.parse(text).unwrap();
    let took = started.elapsed();
    assert_eq!(entries.len(), LINES);
    assert!(entries.iter().all(|e| e.labels.len() == 2));
    took
}

fn read_records(host: &Host, text: &str) -> Duration {
    let loaded = host.load("csv-tracker", builtin::CSV_TRACKER).unwrap();
    let mut tracker = Tracker::new(host, &loaded, vec![]).unwrap();
    let started = Instant::now();
    let rows = tracker.read_sent(text).unwrap();
    let took = started.elapsed();
    assert_eq!(rows.len(), LINES);
    assert_eq!(rows[LINES - 1].sync_name, format!("{LINES:06}-tools.tar"));
    took
}

#[test]
fn large_files_parse_under_the_default_limits_alone_and_under_load() {
    let host = Host::new(Limits::default(), None).unwrap();
    let (sources, records) = (sources_list(), record_keeping());
    for (name, text) in [("sources list", &sources), ("record-keeping.csv", &records)] {
        let budget = Limits::default().budget(text.len());
        eprintln!("{name}: {} bytes, budget {:?} and {} fuel", text.len(), budget.time, budget.fuel);
    }
    let alone = (parse_sources(&host, &sources), read_records(&host, &records));
    let loaded = {
        let _load = Load::start(2);
        (parse_sources(&host, &sources), read_records(&host, &records))
    };
    eprintln!("100,000-line sources list: {:?} alone, {:?} with 2 cores busy", alone.0, loaded.0);
    eprintln!("100,000-row record-keeping.csv: {:?} alone, {:?} with 2 cores busy", alone.1, loaded.1);
}

#[test]
fn the_budget_grows_with_the_input_up_to_the_largest_accepted() {
    let limits = Limits::default();
    let none = limits.budget(0);
    assert_eq!((none.time, none.fuel), (Duration::from_secs(1), 2_000_000_000));
    let mib = limits.budget(1 << 20);
    assert_eq!((mib.time, mib.fuel), (Duration::from_secs(9), 2_000_000_000 + 2000 * (1 << 20)));
    assert_eq!(limits.budget(MAX_INPUT_BYTES), limits.budget(usize::MAX), "capped at the largest accepted input");
    assert_eq!(limits.budget(MAX_INPUT_BYTES).time, Duration::from_secs(1 + 8 * 64));
}

#[test]
fn an_endless_parser_is_still_stopped_on_a_large_input() {
    // Time runs out first here (1 s + 0.5 s for 1 MiB); fuel is out of the way.
    let host = Host::new(
        Limits { time: Duration::from_secs(1), time_per_mib: Duration::from_millis(500), fuel: 1 << 60, ..Limits::default() },
        None,
    )
    .unwrap();
    let loaded = host.load("endless-parser", builtin::ENDLESS_PARSER).unwrap();
    let mut parser = SourcesParser::new(&host, &loaded, vec![]).unwrap();
    let text = "registry.example.com/a/b:v1\n".repeat((1 << 20) / 28);
    let started = Instant::now();
    let err = parser.parse(&text).unwrap_err();
    let took = started.elapsed();
    assert!(matches!(err, PluginError::Trap { .. }), "{err}");
    let message = err.to_string();
    assert!(message.starts_with("component endless-parser: parse: ran longer than its time limit of 1.49"), "{message}");
    assert!(took >= Duration::from_millis(1400) && took < Duration::from_secs(10), "{took:?}");

    // Under the default limits fuel stops it too, before the time limit grown for the input.
    let host = Host::new(Limits { time: Duration::from_secs(3600), ..Limits::default() }, None).unwrap();
    let loaded = host.load("endless-parser", builtin::ENDLESS_PARSER).unwrap();
    let mut parser = SourcesParser::new(&host, &loaded, vec![]).unwrap();
    let err = parser.parse("registry.example.com/a/b:v1\n").unwrap_err();
    assert!(err.to_string().contains("used all its fuel (2000056000 units)"), "{err}");

    // Past the largest accepted input nothing runs.
    let huge = "x".repeat(MAX_INPUT_BYTES + 1);
    let err = parser.parse(&huge).unwrap_err();
    assert!(matches!(err, PluginError::TooLarge { .. }), "{err}");
}
