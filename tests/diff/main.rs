//! `ferry mirror diff` against a real registry (spec §1.10), with ace-dt's bugs fixed (§13
//! item 23): every row sorted, files truncated, outputs in the order given.

#![allow(clippy::unwrap_used, missing_docs, reason = "tests")]

use ferry_testkit::images::{self, Image, IndexFixture};
use ferry_testkit::{Registry, TestHome};
use ferry_tests::{Run, ferry, sha256, write_file};

/// `low/a:v1`, `low/b:v1`, `low/d:v1` (images) and `low/c:v1` (a multi-platform index).
struct Env {
    reg: Registry,
    home: TestHome,
    a: Image,
    b: Image,
    c: IndexFixture,
    d: Image,
}

/// A row as ferry prints it: (reference, digest).
type Row = (String, String);

impl Env {
    fn new() -> Env {
        let reg = Registry::start();
        let p = reg.pusher();
        let a = images::single_image(&p, "low/a", "v1", 1);
        let b = images::single_image(&p, "low/b", "v1", 2);
        let c = images::multi_platform_index(&p, "low/c", "v1", 3);
        let d = images::single_image(&p, "low/d", "v1", 4);
        Env { reg, home: TestHome::new(), a, b, c, d }
    }

    fn src(&self, name: &str) -> String {
        format!("{}/low/{name}:v1", self.reg.addr())
    }

    fn row(&self, name: &str) -> Row {
        let digest = match name {
            "a" => &self.a.manifest.digest,
            "b" => &self.b.manifest.digest,
            "c" => &self.c.index.digest,
            "d" => &self.d.manifest.digest,
            _ => unreachable!(),
        };
        (self.src(name), digest.to_string())
    }

    fn run(&self, args: &[&str]) -> Run {
        ferry(&self.home, &self.reg.ferry_config(), args)
    }

    /// Gathers `sources` (full references) to `low/mirror:TAG`; returns that reference.
    fn gather(&self, tag: &str, sources: &[String], flags: &[&str]) -> String {
        let list = write_file(&self.home, &format!("{tag}.list"), &(sources.join("\n") + "\n"));
        let image = format!("{}/low/mirror:{tag}", self.reg.addr());
        self.run(&[&["mirror", "gather"], flags, &[list.as_str(), image.as_str()]].concat()).expect_code(0);
        image
    }

    /// The row of a gather index this test gathered.
    fn gathered_row(&self, image: &str) -> Row {
        let tag = image.rsplit_once(':').unwrap().1;
        (image.to_owned(), sha256(&self.reg.pusher().manifest("low/mirror", tag).unwrap().1))
    }

    fn diff(&self, args: &[&str]) -> Run {
        let run = self.run(&[&["mirror", "diff"], args].concat());
        run.expect_code(0);
        run
    }

    fn diff_csv(&self, args: &[&str]) -> String {
        self.diff(&[&["-o", "csv"], args].concat()).stdout
    }
}

fn csv(rows: &[Row]) -> String {
    rows.iter().fold("reference,digest\n".to_owned(), |out, (r, d)| out + &format!("{r},{d}\n"))
}

fn json(rows: &[Row]) -> String {
    let objects: Vec<String> = rows.iter().map(|(r, d)| format!("{{\"digest\":\"{d}\",\"reference\":\"{r}\"}}")).collect();
    format!("[{}]\n", objects.join(","))
}

/// With --index-fallback the index `c` is an extra manifest, a candidate before `a` and `b`;
/// ace-dt left that first row where it was.
#[test]
fn lists_every_entry_sorted_the_first_row_too() {
    let e = Env::new();
    let mirror = e.gather("sync-1", &[e.src("b"), e.src("c"), e.src("a")], &["--index-fallback"]);
    let all = [e.row("a"), e.row("b"), e.row("c")];
    assert_eq!(e.diff_csv(&[&mirror]), csv(&all));
    assert_eq!(e.diff(&["-o", "json", &mirror]).stdout, json(&all));
}

#[test]
fn leaves_out_what_existing_images_carried() {
    let e = Env::new();
    let first = e.gather("sync-1", &[e.src("a"), e.src("b")], &[]);
    let second = e.gather("sync-2", &[e.src("a"), e.src("c"), e.src("d")], &[]);
    assert_eq!(e.diff_csv(&[&second, &first]), csv(&[e.row("c"), e.row("d")]));
    // A plain image counts by its own digest.
    assert_eq!(e.diff_csv(&[&second, &first, &e.src("d")]), csv(&[e.row("c")]));
}

/// A gather of a sources list whose entry is itself a gather index.
#[test]
fn expand_lists_the_images_of_nested_gather_indexes() {
    let e = Env::new();
    let inner = e.gather("sync-1", &[e.src("b"), e.src("a")], &[]);
    let outer = e.gather("nested", &[inner.clone(), e.src("d")], &[]);
    let fallback = e.gather("nested-fallback", &[inner.clone(), e.src("d")], &["--index-fallback"]);

    assert_eq!(e.diff_csv(&[&outer]), csv(&[e.row("d"), e.gathered_row(&inner)]), "not expanded");
    let expanded = csv(&[e.row("a"), e.row("b"), e.row("d")]);
    assert_eq!(e.diff_csv(&["--expand", &outer]), expanded);
    assert_eq!(e.diff_csv(&["--expand", &fallback]), expanded, "nested in extra-manifests");
    assert_eq!(e.diff_csv(&["--expand", &outer, &e.src("a")]), csv(&[e.row("b"), e.row("d")]));
    // The nested gather index was delivered with the earlier one: neither it nor its images.
    assert_eq!(e.diff_csv(&[&outer, &inner]), csv(&[e.row("d")]));
    assert_eq!(e.diff_csv(&["--expand", &outer, &inner]), csv(&[e.row("d")]));

    // An existing gather index's nested gather indexes count, recursively.
    let later = e.gather("sync-3", &[e.src("a"), e.src("c"), inner.clone()], &[]);
    assert_eq!(e.diff_csv(&[&later, &outer]), csv(&[e.row("c")]));
    assert_eq!(e.diff_csv(&[&later, &fallback]), csv(&[e.row("c")]));
}

#[test]
fn writes_files_truncated_in_the_order_given() {
    let e = Env::new();
    let mirror = e.gather("sync-1", &[e.src("a"), e.src("c")], &[]);
    let rows = [e.row("a"), e.row("c")];
    let stale = "x".repeat(10_000);
    let csv_file = write_file(&e.home, "out.csv", &stale);
    let json_file = write_file(&e.home, "out.json", &stale);
    let run = e.diff(&["-o", &format!("csv={csv_file}"), "-o", &format!("json={json_file}"), "-o", "table", &mirror]);
    assert_eq!(std::fs::read_to_string(&csv_file).unwrap(), csv(&rows));
    assert_eq!(std::fs::read_to_string(&json_file).unwrap(), json(&rows));

    // The table went to standard output: a header, then each row on a line of its own.
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert!(lines[0].starts_with("reference") && lines[0].ends_with("| digest"), "{}", run.stdout);
    for (i, (r, d)) in rows.iter().enumerate() {
        let line = lines[2 + i];
        assert!(line.starts_with(r.as_str()) && line.ends_with(&format!("| {d}")), "{}", run.stdout);
    }
    assert_eq!(lines.len(), 2 + rows.len());

    // Comma-separated, as ace-dt's string-slice flag; the default is the table.
    let run = e.diff(&["-o", "json,csv", &mirror]);
    assert_eq!(run.stdout, json(&rows) + &csv(&rows));
    assert_eq!(e.diff(&[&mirror]).stdout, e.diff(&["-o", "table", &mirror]).stdout);
}

#[test]
fn no_rows_is_a_message_and_success() {
    let e = Env::new();
    let mirror = e.gather("sync-1", &[e.src("a")], &[]);
    let json_file = write_file(&e.home, "out.json", "[{\"digest\":\"stale\"}]\n");
    let run = e.diff(&["-o", "table", "-o", &format!("json={json_file}"), &mirror, &mirror]);
    assert_eq!(run.stdout, format!("No artifacts found for {mirror}\n"));
    assert_eq!(std::fs::read_to_string(&json_file).unwrap(), "[]\n", "no earlier rows left in the file");
}

#[test]
fn reads_a_gather_index_in_an_oci_layout() {
    let e = Env::new();
    let layout = format!("oci:{}:sync-1", e.home.path().join("layout").display());
    let list = write_file(&e.home, "sources.list", &format!("{}\n{}\n", e.src("d"), e.src("b")));
    e.run(&["mirror", "gather", &list, &layout]).expect_code(0);
    assert_eq!(e.diff_csv(&[&layout, &e.src("d")]), csv(&[e.row("b")]));
}

#[test]
fn not_a_gather_index_is_bad_input() {
    let e = Env::new();
    for (image, found) in [(e.src("a"), "application/vnd.oci.image.manifest.v1+json"), (e.src("c"), "an index without an artifactType")] {
        let run = e.run(&["mirror", "diff", &image]);
        run.expect_code(2);
        assert!(run.stderr.contains(&format!("{image} is not a mirror artifact")) && run.stderr.contains(found), "{}", run.stderr);
    }
    let run = e.run(&["mirror", "diff", &format!("{}/low/missing:v1", e.reg.addr())]);
    run.expect_code(1);
    assert!(run.stderr.contains("low/missing"), "{}", run.stderr);
}

#[test]
fn unknown_output_type_is_a_usage_error() {
    let e = Env::new();
    let mirror = e.gather("sync-1", &[e.src("a")], &[]);
    for bad in ["yaml", "yaml=out.yaml", "csv="] {
        let run = e.run(&["mirror", "diff", "-o", bad, &mirror]);
        run.expect_code(2);
        assert!(run.stderr.contains(&format!("invalid value '{bad}' for '--output")), "{}", run.stderr);
        assert!(run.stdout.is_empty(), "{}", run.stdout);
    }
    assert!(!e.home.path().join("out.yaml").exists());
    e.run(&["mirror", "diff"]).expect_code(2);
    e.run(&["mirror", "diff", "notaref"]).expect_code(2);
}
