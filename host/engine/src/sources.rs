//! The `sources.list` format (spec §5.1): CSV lines `REFERENCE[,key=value…]`.
//!
//! Read like ace-dt's Go CSV reader (comma separator, `"…"` quoting with `""` escapes, leading
//! space of each field trimmed), with its traps removed: a `#` after leading spaces also
//! starts a comment, blank and whitespace-only lines are skipped, trailing space of the
//! reference is trimmed, labels are validated as Kubernetes labels, and every error names the
//! file and line. Duplicate lines are merged; the same source with different labels is an error.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One source: the reference as written, its labels, and where it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceEntry {
    /// The reference, verbatim (it becomes the `vnd.act3-ace.manifest.source` annotation).
    pub reference: String,
    /// Labels (`key=value` fields).
    pub labels: BTreeMap<String, String>,
    /// 1-based line number in the file.
    pub line: usize,
}

/// A sources list that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SourcesError {
    /// The file could not be read.
    #[error("unable to read sources file")]
    Io(#[from] std::io::Error),
    /// A line is malformed.
    #[error("{}:{line}: {message}", file.display())]
    Line {
        /// The sources file.
        file: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
}

/// Reads and parses a sources file; entries come back sorted by reference (stable).
pub fn read_sources(path: &Path) -> Result<Vec<SourceEntry>, SourcesError> {
    let text = fs_err_read(path)?;
    parse_sources(&text, path)
}

fn fs_err_read(path: &Path) -> Result<String, std::io::Error> {
    let bytes = std::fs::read(path).map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
    String::from_utf8(bytes)
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, format!("{}: not UTF-8 text", path.display())))
}

/// Parses sources-list text; `file` is used in error messages.
pub fn parse_sources(text: &str, file: &Path) -> Result<Vec<SourceEntry>, SourcesError> {
    let err = |line: usize, message: String| SourcesError::Line { file: file.to_owned(), line, message };
    let mut entries: Vec<SourceEntry> = Vec::new();
    for record in csv_records(text).map_err(|(line, m)| err(line, m))? {
        let (line, mut fields) = record;
        let reference = fields.remove(0).trim_end().to_owned();
        if reference.is_empty() {
            return Err(err(line, "empty source reference".to_owned()));
        }
        let mut labels = BTreeMap::new();
        for field in fields {
            let parts: Vec<&str> = field.split('=').collect();
            if parts.len() != 2 {
                return Err(err(line, format!("label {field:?} should be in key=value format")));
            }
            let (key, value) = (parts[0].trim(), parts[1].trim());
            validate_label(key, value).map_err(|m| err(line, format!("invalid label {field:?}: {m}")))?;
            labels.insert(key.to_owned(), value.to_owned());
        }
        if let Some(prev) = entries.iter().find(|e| e.reference == reference) {
            if prev.labels != labels {
                return Err(err(line, format!("source {reference:?} is also on line {} with different labels", prev.line)));
            }
            tracing::warn!("{}:{line}: duplicate source {reference:?} (first on line {}) ignored", file.display(), prev.line);
            continue;
        }
        entries.push(SourceEntry { reference, labels, line });
    }
    entries.sort_by(|a, b| a.reference.cmp(&b.reference));
    Ok(entries)
}

type Record = (usize, Vec<String>);

/// Splits CSV text into records of fields, with the line each record starts on.
fn csv_records(text: &str) -> Result<Vec<Record>, (usize, String)> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    let mut line = 1;
    while chars.peek().is_some() {
        let start = line;
        // Skip leading blanks to see whether the line is empty or a comment.
        let rest: String = chars.clone().take_while(|c| *c != '\n').collect();
        let trimmed = rest.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            for c in chars.by_ref() {
                if c == '\n' {
                    break;
                }
            }
            line += 1;
            continue;
        }
        let mut fields = Vec::new();
        loop {
            while chars.peek().is_some_and(|c| *c == ' ' || *c == '\t') {
                chars.next();
            }
            let mut field = String::new();
            if chars.peek() == Some(&'"') {
                chars.next();
                loop {
                    match chars.next() {
                        None => return Err((start, "quoted field is not closed".to_owned())),
                        Some('"') if chars.peek() == Some(&'"') => {
                            chars.next();
                            field.push('"');
                        }
                        Some('"') => break,
                        Some('\n') => {
                            line += 1;
                            field.push('\n');
                        }
                        Some(c) => field.push(c),
                    }
                }
                match chars.peek() {
                    None | Some(',' | '\n') => {}
                    Some('\r') => {}
                    Some(_) => return Err((line, "extraneous or missing \" in quoted field".to_owned())),
                }
            } else {
                while let Some(&c) = chars.peek() {
                    if c == ',' || c == '\n' {
                        break;
                    }
                    if c == '"' {
                        return Err((line, "bare \" in unquoted field (quote the whole field and double the quote)".to_owned()));
                    }
                    field.push(c);
                    chars.next();
                }
                if field.ends_with('\r') {
                    field.pop();
                }
            }
            fields.push(field.trim_end_matches('\r').to_owned());
            match chars.next() {
                Some(',') => continue,
                Some('\r') => {
                    if chars.peek() == Some(&'\n') {
                        chars.next();
                    }
                    line += 1;
                    break;
                }
                Some('\n') => {
                    line += 1;
                    break;
                }
                None => break,
                Some(c) => return Err((line, format!("unexpected character {c:?}"))),
            }
        }
        out.push((start, fields));
    }
    Ok(out)
}

/// Kubernetes label rules: key `[prefix/]name`, prefix a DNS subdomain (≤ 253), name ≤ 63
/// alphanumeric at both ends with `-_.` inside; value the same as a name, or empty.
pub fn validate_label(key: &str, value: &str) -> Result<(), String> {
    let (prefix, name) = match key.split_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    if let Some(p) = prefix {
        let ok = !p.is_empty()
            && p.len() <= 253
            && p.split('.').all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && l.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                    && !l.starts_with('-')
                    && !l.ends_with('-')
            });
        if !ok {
            return Err(format!("key prefix {p:?} must be a lowercase DNS subdomain"));
        }
    }
    if !label_name_ok(name) || name.is_empty() {
        return Err(format!("key name {name:?} must be 1-63 characters, alphanumeric at both ends, with - _ . inside"));
    }
    if !value.is_empty() && !label_name_ok(value) {
        return Err(format!("value {value:?} must be at most 63 characters, alphanumeric at both ends, with - _ . inside"));
    }
    Ok(())
}

fn label_name_ok(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Vec<SourceEntry>, SourcesError> {
        parse_sources(text, Path::new("sources.list"))
    }

    #[test]
    fn parses_sources_and_labels() {
        let e =
            parse("# comment\nreg.io/b:v1, component=core ,module=x\r\n\n   \n  # indented comment\nreg.io/a:v1\n\"reg.io/c:v1\",\"k=v\"")
                .unwrap();
        let refs: Vec<_> = e.iter().map(|e| (e.reference.as_str(), e.line)).collect();
        assert_eq!(refs, vec![("reg.io/a:v1", 6), ("reg.io/b:v1", 2), ("reg.io/c:v1", 7)]);
        assert_eq!(e[1].labels.get("component").map(String::as_str), Some("core"));
        assert_eq!(e[1].labels.get("module").map(String::as_str), Some("x"));
    }

    #[test]
    fn reports_file_and_line() {
        let cases = [
            ("reg.io/a\nreg.io/b,nolabel", 2, "key=value"),
            ("reg.io/a\n\nreg.io/b,a=b=c", 3, "key=value"),
            ("reg.io/a,-bad=x", 1, "invalid label"),
            ("reg.io/a,k=Has Space", 1, "invalid label"),
            ("reg.io/a\"x", 1, "bare \""),
            ("\"reg.io/a", 1, "not closed"),
            ("reg.io/a,k=1\nreg.io/a,k=2", 2, "different labels"),
        ];
        for (text, line, needle) in cases {
            let msg = parse(text).unwrap_err().to_string();
            assert!(msg.starts_with(&format!("sources.list:{line}: ")), "{text:?}: {msg}");
            assert!(msg.contains(needle), "{text:?}: {msg}");
        }
    }

    #[test]
    fn merges_exact_duplicates() {
        assert_eq!(parse("reg.io/a\nreg.io/a\n").unwrap().len(), 1);
    }

    #[test]
    fn label_rules() {
        assert!(validate_label("example.com/component", "core").is_ok());
        assert!(validate_label("k", "").is_ok());
        assert!(validate_label("Example.com/x", "v").is_err());
        assert!(validate_label(&"k".repeat(64), "v").is_err());
        assert!(validate_label("k", &"v".repeat(64)).is_err());
    }
}
