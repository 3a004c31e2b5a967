//! The `sources.list` format (spec §5.1): CSV lines `REFERENCE[,key=value…]`.
//!
//! Read like ace-dt's Go CSV reader (see `csv-records`), with its traps removed: a `#` after
//! leading spaces also starts a comment, blank and whitespace-only lines are skipped, trailing
//! space of the reference is trimmed, labels are validated as Kubernetes labels, and every
//! error names the line (the host adds the file). A repeated line is merged with a warning;
//! the same source with different labels is an error. Entries come back sorted by reference.
//!
//! Parameter (optional): `path`, the file's name in the duplicate warning.

wit_bindgen::generate!({ world: "sources-parser", path: "../../wit" });

use std::collections::{BTreeMap, HashMap};

use ferry::plugin::host;

struct SourcesList;

impl Guest for SourcesList {
    fn parse(text: String) -> Result<Vec<SourceEntry>, LineError> {
        parse(&text).map_err(|(line, message)| LineError { line, message })
    }
}

fn parse(text: &str) -> Result<Vec<SourceEntry>, csv_records::Error> {
    let mut entries: Vec<SourceEntry> = Vec::new();
    // Reference → index in `entries`, to find a duplicate without a scan.
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (line, mut fields) in csv_records::records(text)? {
        let reference = fields.remove(0).trim_end().to_owned();
        if reference.is_empty() {
            return Err((line, "empty source reference".to_owned()));
        }
        let mut labels = BTreeMap::new();
        for field in fields {
            let parts: Vec<&str> = field.split('=').collect();
            if parts.len() != 2 {
                return Err((line, format!("label {field:?} should be in key=value format")));
            }
            let (key, value) = (parts[0].trim(), parts[1].trim());
            validate_label(key, value).map_err(|m| (line, format!("invalid label {field:?}: {m}")))?;
            // A later value of the same key wins, as in ace-dt.
            labels.insert(key.to_owned(), value.to_owned());
        }
        let labels: Vec<(String, String)> = labels.into_iter().collect();
        if let Some(&i) = seen.get(&reference) {
            let prev = &entries[i];
            if prev.labels != labels {
                return Err((line, format!("source {reference:?} is also on line {} with different labels", prev.line)));
            }
            host::log(host::Level::Warn, &format!("{}: duplicate source {reference:?} (first on line {}) ignored", at(line), prev.line));
            continue;
        }
        seen.insert(reference.clone(), entries.len());
        entries.push(SourceEntry { reference, labels, line });
    }
    entries.sort_by(|a, b| a.reference.cmp(&b.reference));
    Ok(entries)
}

/// `PATH:LINE` when the host named the file, else `line LINE`.
fn at(line: u32) -> String {
    match host::params().into_iter().find_map(|(k, v)| (k == "path").then_some(v)) {
        Some(path) => format!("{path}:{line}"),
        None => format!("line {line}"),
    }
}

/// Kubernetes label rules: key `[prefix/]name`, prefix a DNS subdomain (≤ 253), name ≤ 63
/// alphanumeric at both ends with `-_.` inside; value the same as a name, or empty.
fn validate_label(key: &str, value: &str) -> Result<(), String> {
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
    if !label_name_ok(name) {
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

export!(SourcesList);
