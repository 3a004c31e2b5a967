//! The built-in CSV tracker through the real host: ace-dt's `record-keeping.csv` and
//! `successful-syncs.csv` (spec §7.1, §7.2) read as ace-dt writes them, ferry's rows written
//! and read back, and bad rows named by line.

#![allow(clippy::unwrap_used, missing_docs, reason = "tests")]

use ferry_plugin::{Host, Limits, LoadedRow, Mapper, PluginError, SentRow, Tracker, builtin};

fn with_tracker<T>(f: impl FnOnce(&mut Tracker<'_>) -> T) -> T {
    let host = Host::new(Limits::default(), None).unwrap();
    let loaded = host.load("csv-tracker", builtin::CSV_TRACKER).unwrap();
    f(&mut Tracker::new(&host, &loaded, vec![]).unwrap())
}

fn sent(sync_name: &str, artifact: &str, digest: &str) -> SentRow {
    SentRow { sync_name: sync_name.to_owned(), artifact: artifact.to_owned(), digest: digest.to_owned() }
}

fn loaded(file_name: &str, artifact: &str, timestamp: &str) -> LoadedRow {
    LoadedRow { file_name: file_name.to_owned(), artifact: artifact.to_owned(), timestamp: timestamp.to_owned() }
}

const D1: &str = "sha256:3f6d0c3bbf13e5a6e4bd1a3b1e8c2a9d1f0e5b7c6a4d3e2f1a0b9c8d7e6f5a4b";
const D2: &str = "sha256:825b5d8b1f0c2a3e4d5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d";

#[test]
fn reads_record_keeping_as_acedt_writes_it() {
    // ace-dt writes the header first, then one row per archive (spec §7.1).
    let text = format!(
        "sync_name,artifact,digest\n000001-tools.tar,localhost:5000/gather:sources1,{D1}\n000002-tools.tar,localhost:5000/gather:sources2,{D2}\n"
    );
    let want =
        [sent("000001-tools.tar", "localhost:5000/gather:sources1", D1), sent("000002-tools.tar", "localhost:5000/gather:sources2", D2)];
    with_tracker(|t| assert_eq!(t.read_sent(&text).unwrap(), want));
}

#[test]
fn the_first_row_is_a_header_only_if_it_is_one() {
    with_tracker(|t| {
        // ace-dt dropped whatever came first; here a first data row is kept.
        let rows = t.read_sent(&format!("000001-ops.tar.zst,reg.io/ops:v1,{D1}\n")).unwrap();
        assert_eq!(rows, [sent("000001-ops.tar.zst", "reg.io/ops:v1", D1)]);
        // The header counts only as the first record (after comments and blank lines).
        let rows = t.read_sent(&format!("# written by hand\n\nsync_name,artifact,digest\n000001-a.tar,r/a:1,{D1}\n")).unwrap();
        assert_eq!(rows, [sent("000001-a.tar", "r/a:1", D1)]);
        assert_eq!(t.read_sent("").unwrap(), []);
        assert_eq!(t.read_sent("sync_name,artifact,digest\n").unwrap(), []);
    });
}

#[test]
fn sent_rows_round_trip() {
    with_tracker(|t| {
        let rows = [
            sent("000001-tools.tar", "localhost:5000/gather:sources1", D1),
            // Fields Go's csv.Writer quotes: a comma, a quote, a leading space; and a leading `#`.
            sent("000002-a,b.tar", "reg.io/x:\"q\"", " sha256:00"),
            sent("#000003-c.tar", "reg.io/c", ""),
        ];
        let mut text = String::new();
        for (i, row) in rows.iter().enumerate() {
            text.push_str(&t.format_sent(row, i == 0).unwrap());
        }
        assert_eq!(
            text,
            format!(
                "sync_name,artifact,digest\n000001-tools.tar,localhost:5000/gather:sources1,{D1}\n\"000002-a,b.tar\",\"reg.io/x:\"\"q\"\"\",\" sha256:00\"\n\"#000003-c.tar\",reg.io/c,\n"
            )
        );
        assert_eq!(t.read_sent(&text).unwrap(), rows);
        assert_eq!(t.format_sent(&rows[0], false).unwrap(), format!("000001-tools.tar,localhost:5000/gather:sources1,{D1}\n"));
    });
}

#[test]
fn reads_successful_syncs_as_acedt_writes_it() {
    // Go's default time format with the monotonic reading: spaces, no commas, kept verbatim.
    let stamp = "2024-08-15 16:03:34.875740174 -0400 EDT m=+0.096890310";
    let text = format!(
        "filename,artifact,timestamp\n000001-tools.tar,reg.example.com/high:tools,{stamp}\n000002-ops.tar.zst,reg.example.com/high:ops,2024-08-15 16:05:01.1 -0400 EDT m=+86.5\n"
    );
    with_tracker(|t| {
        assert_eq!(
            t.read_loaded(&text).unwrap(),
            [
                loaded("000001-tools.tar", "reg.example.com/high:tools", stamp),
                loaded("000002-ops.tar.zst", "reg.example.com/high:ops", "2024-08-15 16:05:01.1 -0400 EDT m=+86.5"),
            ]
        );
        // The two columns older ace-dt docs show: no timestamp.
        let rows = t.read_loaded("filename,artifact\n000001-tools.tar,reg.example.com/high:tools\n").unwrap();
        assert_eq!(rows, [loaded("000001-tools.tar", "reg.example.com/high:tools", "")]);
        // No header: the first row is data.
        let rows = t.read_loaded(&format!("000003-x.tar,reg.example.com/high:x,{stamp}")).unwrap();
        assert_eq!(rows, [loaded("000003-x.tar", "reg.example.com/high:x", stamp)]);
        assert_eq!(t.read_loaded("").unwrap(), []);
    });
}

#[test]
fn loaded_rows_round_trip() {
    with_tracker(|t| {
        let rows = [
            loaded("000001-tools.tar", "reg.example.com/high:tools", "2024-08-15 16:03:34.875740174 -0400 EDT m=+0.096890310"),
            loaded("000002-a.tar", "reg.example.com/high:a", "Thu, 15 Aug 2024 16:03:34"),
        ];
        let text = t.format_loaded(&rows[0], true).unwrap() + &t.format_loaded(&rows[1], false).unwrap();
        assert_eq!(
            text,
            "filename,artifact,timestamp\n000001-tools.tar,reg.example.com/high:tools,2024-08-15 16:03:34.875740174 -0400 EDT m=+0.096890310\n000002-a.tar,reg.example.com/high:a,\"Thu, 15 Aug 2024 16:03:34\"\n"
        );
        assert_eq!(t.read_loaded(&text).unwrap(), rows);
    });
}

#[test]
fn crlf_quoted_commas_and_a_last_line_without_newline() {
    with_tracker(|t| {
        let text = format!("sync_name,artifact,digest\r\n\"000001-a.tar\",\"reg.io/a,odd\",{D1}\r\n000002-b.tar,reg.io/b,{D2}");
        assert_eq!(t.read_sent(&text).unwrap(), [sent("000001-a.tar", "reg.io/a,odd", D1), sent("000002-b.tar", "reg.io/b", D2)]);
        let text = "filename,artifact,timestamp\r\n000001-a.tar,\"r/high:a\",\"2024-08-15 16:03:34, odd\"";
        assert_eq!(t.read_loaded(text).unwrap(), [loaded("000001-a.tar", "r/high:a", "2024-08-15 16:03:34, odd")]);
    });
}

/// The line and message of a read error.
fn bad_line(result: Result<impl std::fmt::Debug, PluginError>, function: &str) -> (u32, String) {
    match result {
        Err(PluginError::Parse { component, function: f, line, message }) => {
            assert_eq!((component.as_str(), f), ("csv-tracker", function));
            (line, message)
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn bad_rows_name_their_line() {
    with_tracker(|t| {
        let sent_cases = [
            // ace-dt crashed on a one-field row.
            (
                format!("sync_name,artifact,digest\n000001-a.tar,r/a,{D1}\n000002-b.tar\n"),
                3,
                "expected 3 fields (sync_name, artifact, digest), found 1: artifact and digest missing",
            ),
            ("# c\n000001-a.tar,r/a\n".to_owned(), 2, "found 2: digest missing"),
            (format!("000001-a.tar,r/a,{D1}\n,r/b,{D2}\n"), 2, "the sync_name is empty"),
            (format!("000001-a.tar,r/\"a,{D1}\n"), 1, "bare \""),
            ("000001-a.tar,\"r/a\n".to_owned(), 1, "quoted field is not closed"),
        ];
        for (text, line, needle) in sent_cases {
            let (got, message) = bad_line(t.read_sent(&text), "read-sent");
            assert_eq!(got, line, "{text:?}: {message}");
            assert!(message.contains(needle), "{text:?}: {message}");
        }
        let (line, message) = bad_line(t.read_loaded("filename,artifact,timestamp\n000001-a.tar,r:a,now\n000002-b.tar\n"), "read-loaded");
        assert_eq!((line, message.as_str()), (3, "expected 3 fields (filename, artifact, timestamp), found 1: artifact missing"));
        let (line, message) = bad_line(t.read_loaded("000001-a.tar,,now\n"), "read-loaded");
        assert_eq!((line, message.as_str()), (1, "the artifact is empty"));
        // The instance still works after a bad file.
        assert_eq!(t.read_sent(&format!("000001-a.tar,r/a,{D1}")).unwrap(), [sent("000001-a.tar", "r/a", D1)]);
    });
    let err = with_tracker(|t| t.read_sent("x\n").unwrap_err().to_string());
    assert_eq!(
        err,
        "component csv-tracker: read-sent: line 1: expected 3 fields (sync_name, artifact, digest), found 1: artifact and digest missing"
    );
}

#[test]
fn extra_fields_are_ignored() {
    with_tracker(|t| {
        assert_eq!(t.read_sent(&format!("000001-a.tar,r/a,{D1},extra\n")).unwrap(), [sent("000001-a.tar", "r/a", D1)]);
    });
}

#[test]
fn a_tracker_is_not_a_mapper() {
    let host = Host::new(Limits::default(), None).unwrap();
    let tracker = host.load("csv-tracker", builtin::CSV_TRACKER).unwrap();
    let err = Mapper::new(&host, &tracker, vec![]).err().unwrap().to_string();
    assert!(err.starts_with("component csv-tracker: not a ferry:plugin/mapper@0.1.1 component"), "{err}");
    let nest = host.load("nest", builtin::NEST).unwrap();
    let err = Tracker::new(&host, &nest, vec![]).err().unwrap().to_string();
    assert!(err.starts_with("component nest: not a ferry:plugin/tracker@0.1.1 component"), "{err}");
}
