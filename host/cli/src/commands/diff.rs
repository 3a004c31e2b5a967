//! `ferry mirror diff MIRROR-ARTIFACT [EXISTING-IMAGE...]` (spec §1.10): the rows of
//! `ferry_engine::diff` as a table, CSV or JSON, each to standard output or to a file.
//!
//! Unlike ace-dt (§13 item 23), outputs are written in the order given and a file is
//! truncated first. With no rows, the message goes to standard output and each output file
//! gets an empty listing, so that no file keeps an earlier run's rows.

use std::borrow::Cow;

use anyhow::Context as _;
use ferry_engine::diff::{Row, diff};
use ferry_oci::gojson;

use crate::args::{DiffArgs, Format};
use crate::session::Session;
use crate::stdout::{out, outln};

pub(crate) async fn run(session: &Session, args: DiffArgs) -> anyhow::Result<()> {
    let rows = diff(session.client(), &args.artifact, &args.existing, args.expand).await?;
    if rows.is_empty() {
        outln!("No artifacts found for {}", args.artifact);
    }
    for o in &args.outputs {
        let text = render(o.format, &rows);
        match &o.file {
            Some(path) => std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?,
            None if rows.is_empty() => {}
            None => out!("{text}"),
        }
    }
    Ok(())
}

fn render(format: Format, rows: &[Row]) -> String {
    match format {
        Format::Table => table(rows),
        Format::Csv => csv(rows),
        Format::Json => json(rows),
    }
}

/// For people: aligned columns under a `reference | digest` header; not a stable format.
fn table(rows: &[Row]) -> String {
    let width = rows.iter().map(|r| r.reference.chars().count()).max().unwrap_or(0).max("reference".len());
    let digest_width = rows.iter().map(|r| r.digest.to_string().len()).max().unwrap_or(0).max("digest".len());
    let mut out = format!("{:<width$} | digest\n{}-+-{}\n", "reference", "-".repeat(width), "-".repeat(digest_width));
    for r in rows {
        out += &format!("{:<width$} | {}\n", r.reference, r.digest);
    }
    out
}

/// A `reference,digest` header, then one line per row, quoted as Go's `csv.Writer` quotes.
fn csv(rows: &[Row]) -> String {
    let mut out = String::from("reference,digest\n");
    for r in rows {
        out += &format!("{},{}\n", csv_field(&r.reference), csv_field(&r.digest.to_string()));
    }
    out
}

/// Go quotes a field holding a comma, quote, CR or LF, one starting with white space, and `\.`.
fn csv_field(field: &str) -> Cow<'_, str> {
    let quote = field == r"\." || field.contains([',', '"', '\r', '\n']) || field.starts_with(char::is_whitespace);
    if quote { Cow::Owned(format!("\"{}\"", field.replace('"', "\"\""))) } else { Cow::Borrowed(field) }
}

/// One line: an array of `{"digest":…,"reference":…}`, encoded as Go encodes it.
fn json(rows: &[Row]) -> String {
    let array: Vec<serde_json::Value> =
        rows.iter().map(|r| serde_json::json!({ "digest": r.digest.to_string(), "reference": r.reference })).collect();
    let mut out = String::from_utf8(gojson::to_vec(&array)).unwrap_or_default();
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    #[test]
    fn csv_quotes_as_go() {
        for (field, quoted) in [
            ("h/r:1", "h/r:1"),
            ("", ""),
            ("a,b", "\"a,b\""),
            ("say \"hi\"", "\"say \"\"hi\"\"\""),
            (" lead", "\" lead\""),
            ("\tlead", "\"\tlead\""),
            ("trail ", "trail "),
            ("two\nlines", "\"two\nlines\""),
            (r"\.", r#""\.""#),
        ] {
            assert_eq!(csv_field(field), quoted, "{field:?}");
        }
    }

    #[test]
    fn json_is_go_encoded() {
        let digest = ferry_oci::Digest::sha256(b"x");
        let rows = [Row { reference: "h/a<b>&c".to_owned(), digest: digest.clone() }];
        assert_eq!(json(&rows), format!("[{{\"digest\":\"{digest}\",\"reference\":\"h/a\\u003cb\\u003e\\u0026c\"}}]\n"));
        assert_eq!(json(&[]), "[]\n");
    }
}
