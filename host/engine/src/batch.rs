//! The batch workflows' files (spec §7): the BATCH-LIST and the archive names in a sync
//! directory, `NNNNNN-<name>.tar[.zst|.gz]`.
//!
//! Fixed against ace-dt (§13 items 12, 13): the BATCH-LIST's first row is a header only when
//! it is one (`name,artifact`), a row with one field is an error naming its line, names are
//! kept in file order, and a name may hold `-` and `.`: only the numeric prefix and the
//! archive extension are split off a file name. A name must be usable as a tag, since
//! batch-deserialize tags each archive's root with it.

use std::path::Path;

use ferry_archive::Compression;

use crate::error::Error;

mod sync;

pub use sync::{
    BatchDeserializeOutcome, BatchDeserializeRequest, BatchSerializeOutcome, BatchSerializeRequest, batch_deserialize, batch_serialize,
};

/// What is wrong with a BATCH-LIST row.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BatchListProblem {
    /// The CSV reader could not read it.
    #[error(transparent)]
    Csv(csv::Error),
    /// One field where two belong.
    #[error("{0:?} needs two fields: NAME,ARTIFACT")]
    OneField(String),
    /// A row without a name or an artifact.
    #[error("needs two fields: NAME,ARTIFACT")]
    NoName,
    /// A name that cannot be a tag; the high side tags with it.
    #[error("name {0:?} cannot be a tag (letters, digits, _ . -; not starting with . or -; at most 128)")]
    Name(String),
}

/// One BATCH-LIST row: a name and the artifact (usually a gather index) to send under it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BatchEntry {
    /// The name: the archive is `NNNNNN-<name>.tar…` and the high side tags it `:<name>`.
    pub name: String,
    /// The artifact reference, as written.
    pub artifact: String,
    /// 1-based line in the BATCH-LIST.
    pub line: usize,
}

/// The rows of a BATCH-LIST (`file` names it in errors), in file order; a later row with the
/// same name replaces the earlier one's artifact and keeps its place.
pub fn parse_batch_list(text: &str, file: &Path) -> Result<Vec<BatchEntry>, Error> {
    let bad = |line: u64, problem: BatchListProblem| Error::BatchList { file: file.to_owned(), line, problem };
    let mut reader =
        csv::ReaderBuilder::new().has_headers(false).comment(Some(b'#')).flexible(true).trim(csv::Trim::All).from_reader(text.as_bytes());
    let mut entries: Vec<BatchEntry> = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let record = record.map_err(|e| bad(e.position().map_or(0, csv::Position::line), BatchListProblem::Csv(e)))?;
        let line = record.position().map_or(0, |p| line_at(text, p.byte()));
        let fields: Vec<&str> = record.iter().collect();
        if fields.iter().all(|f| f.is_empty()) {
            continue;
        }
        if i == 0 && fields.len() >= 2 && fields[0].eq_ignore_ascii_case("name") && fields[1].eq_ignore_ascii_case("artifact") {
            continue;
        }
        let (name, artifact) = match fields.as_slice() {
            [name, artifact, ..] if !name.is_empty() && !artifact.is_empty() => (*name, *artifact),
            [one] | [one, ""] => return Err(bad(line, BatchListProblem::OneField((*one).to_owned()))),
            _ => return Err(bad(line, BatchListProblem::NoName)),
        };
        if !ferry_oci::valid_tag(name) {
            return Err(bad(line, BatchListProblem::Name(name.to_owned())));
        }
        let line = usize::try_from(line).unwrap_or(usize::MAX);
        match entries.iter_mut().find(|e| e.name == name) {
            Some(earlier) => {
                tracing::warn!("{}:{line}: {name} is also on line {}; this row's artifact is used", file.display(), earlier.line);
                earlier.artifact = artifact.to_owned();
                earlier.line = line;
            }
            None => entries.push(BatchEntry { name: name.to_owned(), artifact: artifact.to_owned(), line }),
        }
    }
    Ok(entries)
}

/// The line of the first non-blank character at or after `byte` (the reader's record
/// position can sit on blank lines before the record).
fn line_at(text: &str, byte: u64) -> u64 {
    let start = usize::try_from(byte).unwrap_or(text.len()).min(text.len());
    let skipped = text[start..].chars().take_while(|c| c.is_whitespace()).filter(|c| *c == '\n').count();
    (text[..start].matches('\n').count() + skipped + 1) as u64
}

/// The archive extensions, longest first.
const EXTENSIONS: [(&str, Compression); 3] = [(".tar.zst", Compression::Zstd), (".tar.gz", Compression::Gzip), (".tar", Compression::None)];

/// `NNNNNN-<name>.tar[.zst|.gz]` → the number and the name; anything else is not a sync file.
pub fn parse_sync_name(file_name: &str) -> Option<(u64, String)> {
    let (number, rest) = file_name.split_once('-')?;
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let name = EXTENSIONS.iter().find_map(|(ext, _)| rest.strip_suffix(ext))?;
    if name.is_empty() {
        return None;
    }
    Some((number.parse().ok()?, name.to_owned()))
}

/// The file name of archive `number` for `name`, as ace-dt names them (`000004-ops.tar`).
pub fn sync_file_name(number: u64, name: &str, compression: Option<Compression>) -> String {
    let ext = EXTENSIONS.iter().find(|(_, c)| Some(*c) == compression.or(Some(Compression::None))).map_or(".tar", |(e, _)| e);
    format!("{number:06}-{name}{ext}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(text: &str) -> Vec<(String, String, usize)> {
        parse_batch_list(text, Path::new("batch.csv")).unwrap().into_iter().map(|e| (e.name, e.artifact, e.line)).collect()
    }

    #[test]
    fn the_seeds_batch_list() {
        let text =
            "name, artifact\ntools,reg.example.com/dev-tools:v3.0.6\nops,reg.example.com/ops:v0.2.5\ncicd,reg.example.com/cicd:v8.1\n";
        assert_eq!(
            names(text),
            [
                ("tools".into(), "reg.example.com/dev-tools:v3.0.6".into(), 2),
                ("ops".into(), "reg.example.com/ops:v0.2.5".into(), 3),
                ("cicd".into(), "reg.example.com/cicd:v8.1".into(), 4)
            ]
        );
    }

    #[test]
    fn no_header_duplicates_and_comments() {
        let text = "# weekly\nops,r/ops:1\n\ntools, r/tools:1\nops ,r/ops:2\n";
        assert_eq!(names(text), [("ops".into(), "r/ops:2".into(), 5), ("tools".into(), "r/tools:1".into(), 4)]);
    }

    #[test]
    fn bad_rows_name_their_line() {
        for (text, want) in [
            ("ops,r/ops:1\nlonely\n", "batch.csv:2: \"lonely\" needs two fields"),
            ("ops,r/ops:1\n,r/x:1\n", "batch.csv:2: needs two fields"),
            ("-bad,r/x:1\n", "batch.csv:1: name \"-bad\" cannot be a tag"),
            ("a b,r/x:1\n", "batch.csv:1: name \"a b\" cannot be a tag"),
        ] {
            let e = parse_batch_list(text, Path::new("batch.csv")).unwrap_err().to_string();
            assert!(e.starts_with(want), "{e}");
        }
    }

    #[test]
    fn sync_names() {
        assert_eq!(parse_sync_name("000004-ops.tar"), Some((4, "ops".into())));
        assert_eq!(parse_sync_name("000012-my-app.v2.tar.zst"), Some((12, "my-app.v2".into())));
        assert_eq!(parse_sync_name("1-x.tar.gz"), Some((1, "x".into())));
        for stray in ["notes.txt", "sync-1.ledger", "000001-.tar", "x-ops.tar", "000001-ops.tar.partial", "record-keeping.csv"] {
            assert_eq!(parse_sync_name(stray), None, "{stray}");
        }
        assert_eq!(sync_file_name(4, "ops", None), "000004-ops.tar");
        assert_eq!(sync_file_name(12, "my-app.v2", Some(Compression::Zstd)), "000012-my-app.v2.tar.zst");
        assert_eq!(sync_file_name(1_234_567, "x", Some(Compression::Gzip)), "1234567-x.tar.gz");
    }
}
