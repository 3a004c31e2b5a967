//! ace-dt's two tracker files (spec §7), readable as ace-dt writes them:
//! `record-keeping.csv` (`sync_name,artifact,digest`, the low side's archives) and
//! `successful-syncs.csv` (`filename,artifact,timestamp`, the high side's loads).
//!
//! Both are read with the CSV reader of `csv-records` (comments, leading space trimmed, any
//! number of fields) and written as Go's `csv.Writer` writes them. ace-dt's quirks fixed: the
//! first row is a header only if it is the header (ace-dt dropped whatever came first); a row
//! with too few fields is an error naming its line (ace-dt crashed); a loaded row may have two
//! fields (older ace-dt docs show two columns); a field starting with `#` is quoted so it is
//! not read back as a comment. Timestamps are kept verbatim (`2024-08-15 16:03:34.875740174
//! -0400 EDT m=+0.096890310`).

wit_bindgen::generate!({ world: "tracker", path: "../../wit" });

use ferry::plugin::host;

const SENT_HEADER: [&str; 3] = ["sync_name", "artifact", "digest"];
const LOADED_HEADER: [&str; 3] = ["filename", "artifact", "timestamp"];

struct CsvTracker;

impl Guest for CsvTracker {
    fn read_sent(text: String) -> Result<Vec<Sent>, LineError> {
        rows(&text, &SENT_HEADER, 3, |mut f| {
            let digest = f.pop().unwrap_or_default();
            let artifact = f.pop().unwrap_or_default();
            let sync_name = f.pop().unwrap_or_default();
            Sent { sync_name, artifact, digest }
        })
    }

    fn format_sent(row: Sent, new_file: bool) -> String {
        format(&SENT_HEADER, [&row.sync_name, &row.artifact, &row.digest], new_file)
    }

    fn read_loaded(text: String) -> Result<Vec<Loaded>, LineError> {
        rows(&text, &LOADED_HEADER, 2, |mut f| {
            // A two-column row has no timestamp.
            let timestamp = if f.len() == 3 { f.pop().unwrap_or_default() } else { String::new() };
            let artifact = f.pop().unwrap_or_default();
            let file_name = f.pop().unwrap_or_default();
            Loaded { file_name, artifact, timestamp }
        })
    }

    fn format_loaded(row: Loaded, new_file: bool) -> String {
        format(&LOADED_HEADER, [&row.file_name, &row.artifact, &row.timestamp], new_file)
    }
}

/// The data rows of `text`, each with at least `needed` of the `header`'s fields (cut to
/// three) and the first two not empty, made into a row by `make`.
fn rows<T>(text: &str, header: &[&str; 3], needed: usize, make: impl Fn(Vec<String>) -> T) -> Result<Vec<T>, LineError> {
    let records = csv_records::records(text).map_err(|(line, message)| LineError { line, message })?;
    let mut out = Vec::with_capacity(records.len());
    for (i, (line, mut fields)) in records.into_iter().enumerate() {
        if i == 0 && is_header(&fields, header, needed) {
            continue;
        }
        if fields.len() < needed {
            let missing = header[fields.len()..needed].join(" and ");
            let message = format!("expected {} fields ({}), found {}: {missing} missing", header.len(), header.join(", "), fields.len());
            return Err(LineError { line, message });
        }
        if fields.len() > 3 {
            host::log(
                host::Level::Warn,
                &format!("line {line}: {} fields, only the first 3 ({}) are read", fields.len(), header.join(", ")),
            );
            fields.truncate(3);
        }
        if let Some(empty) = (0..2).find(|&f| fields[f].is_empty()) {
            return Err(LineError { line, message: format!("the {} is empty", header[empty]) });
        }
        out.push(make(fields));
    }
    Ok(out)
}

/// Whether `fields` are the header's names (all three, or the first `needed`).
fn is_header(fields: &[String], header: &[&str; 3], needed: usize) -> bool {
    (needed..=3).contains(&fields.len()) && fields.iter().zip(header).all(|(f, h)| f == h)
}

/// One CSV line (the header first when `new_file`), quoted like Go's `csv.Writer`.
fn format(header: &[&str; 3], fields: [&str; 3], new_file: bool) -> String {
    let mut out = String::new();
    if new_file {
        out.push_str(&header.join(","));
        out.push('\n');
    }
    for (i, field) in fields.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        if needs_quotes(field) {
            out.push('"');
            out.push_str(&field.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(field);
        }
    }
    out.push('\n');
    out
}

/// Go's `fieldNeedsQuotes`, and a leading `#` (which a reader with comments would skip).
fn needs_quotes(field: &str) -> bool {
    field == r"\." || field.contains([',', '"', '\r', '\n']) || field.starts_with(char::is_whitespace) || field.starts_with('#')
}

export!(CsvTracker);
