//! Bad input to the catalog: damaged receipts, a catalog file that is not a database, wrong
//! settings and durations. Each is an error naming what and where, with its exit code, and
//! a delivery never fails because the record of it cannot be kept.

use ferry_tests::ferry;

use super::{Sides, carried, layered};

#[test]
fn a_damaged_receipt_is_refused_naming_the_file_and_imports_nothing() {
    let s = Sides::new();
    let cases = [
        ("garbage.json", "\u{1b}[31mnot json".to_owned(), "not JSON"),
        ("report.json", r#"{"schemaVersion": 1, "command": "mirror scatter"}"#.to_owned(), "not a ferry receipt"),
        (
            "when.json",
            r#"{"schemaVersion":1,"kind":"ferry.receipt","ferryVersion":"x","created":"last tuesday","archives":[],"images":[],"present":[]}"#
                .to_owned(),
            "created \"last tuesday\" is not an RFC 3339 time",
        ),
        (
            "digest.json",
            r#"{"schemaVersion":1,"kind":"ferry.receipt","ferryVersion":"x","created":"2026-12-01T00:00:00Z","archives":[],"images":[],"present":["sha256:../../etc"]}"#
                .to_owned(),
            "digest.json",
        ),
    ];
    for (name, text, why) in &cases {
        std::fs::write(s.path(name), text).unwrap();
        let run = s.run(&["catalog", "import", &s.path(name)]);
        run.expect_code(2);
        assert!(run.stderr.contains(&format!("RECEIPT {}", s.path(name))) && run.stderr.contains(why), "{name}: {}", run.stderr);
        assert!(!run.stderr.contains('\u{1b}'), "escaped: {}", run.stderr);
    }
    let missing = s.run(&["catalog", "import", &s.path("nowhere.json")]);
    missing.expect_code(2);
    assert!(missing.stderr.contains("nowhere.json"), "{}", missing.stderr);
    assert_eq!(s.json(&["catalog", "list", "-o", "json"])["archives"], serde_json::json!([]));
}

#[test]
fn a_broken_catalog_never_costs_a_delivery_but_stops_a_catalog_planned_one() {
    let s = Sides::new();
    layered(&s.low.pusher(), "apps/a", "v1", &[1u8; 800], 1);
    let index = s.gather("w1", &["apps/a:v1"]);
    let db = s.home.path().join(".local/share/ferry/catalog.db");
    std::fs::create_dir_all(db.parent().unwrap()).unwrap();
    std::fs::write(&db, vec![0x5a; 8192]).unwrap();

    let plain = s.run(&["mirror", "serialize", &index, &s.path("w1.tar")]);
    plain.expect_code(0);
    assert!(plain.stderr.contains("warning: ") && plain.stderr.contains(db.to_str().unwrap()), "{}", plain.stderr);
    assert!(plain.stderr.contains("not recorded in the delivery catalog"), "{}", plain.stderr);
    assert!(carried(&s.path("w1.tar")).len() >= 4, "the archive is whole");

    let planned = s.run(&["mirror", "serialize", "--catalog", &index, &s.path("w2.tar")]);
    planned.expect_code(1);
    assert!(planned.stderr.contains(&format!("catalog {}", db.display())), "{}", planned.stderr);
    assert!(!std::path::Path::new(&s.path("w2.tar")).exists(), "nothing written when the plan cannot be made");
    assert_eq!(std::fs::read(&db).unwrap(), vec![0x5a; 8192], "the damaged file is left as it was");
}

#[test]
fn wrong_catalog_settings_and_durations_are_usage_errors() {
    let s = Sides::new();
    let run = |extra: &str, args: &[&str]| ferry(&s.home, &format!("{}{extra}", s.config), args);
    let both = run("catalog:\n  path: c.db\n  url: postgres://x/y\n", &["catalog", "list"]);
    both.expect_code(2);
    assert!(both.stderr.contains("catalog: set path (SQLite) or url (PostgreSQL), not both"), "{}", both.stderr);
    let mysql = run("catalog:\n  url: mysql://u:secret@x/y\n", &["catalog", "gaps"]);
    mysql.expect_code(2);
    assert!(mysql.stderr.contains("url must be postgres://") && !mysql.stderr.contains("secret"), "{}", mysql.stderr);
    let unknown = run("catalog:\n  file: c.db\n", &["catalog", "list"]);
    unknown.expect_code(2);
    assert!(unknown.stderr.contains("file"), "{}", unknown.stderr);

    let r = s.low.addr();
    let image = format!("{r}/low/mirror:w1");
    let bad = run("", &["mirror", "serialize", "--catalog", "--resend-after", "fortnight", &image, &s.path("x.tar")]);
    bad.expect_code(2);
    assert!(bad.stderr.contains("--resend-after"), "{}", bad.stderr);
    let alone = run("", &["mirror", "serialize", "--resend-after", "3d", &image, &s.path("x.tar")]);
    alone.expect_code(2);
    assert!(alone.stderr.contains("--catalog"), "{}", alone.stderr);

    // The password of a shared catalog never shows, not even in `ferry config`.
    let shown = run("catalog:\n  url: postgres://ferry:hunter2@db.example/ferry\n", &["config"]);
    shown.expect_code(0);
    assert!(shown.stdout.contains("postgres://ferry:***@db.example/ferry") && !shown.stdout.contains("hunter2"), "{}", shown.stdout);
}

#[test]
fn where_answers_for_digests_and_references_it_has_never_seen() {
    let s = Sides::new();
    let unknown = s.run(&["catalog", "where", "sha256:0000000000000000000000000000000000000000000000000000000000000000"]);
    unknown.expect_code(0);
    assert!(unknown.stdout.contains("No archive in the catalog holds \"sha256:0000"), "{}", unknown.stdout);
    let reference = s.json(&["catalog", "where", "registry.example/none:v1", "-o", "json"]);
    assert_eq!(reference["holdings"], serde_json::json!([]));
}
