//! The CSV mapping rules (spec §6.1), one component for the four of them. Parameters: `rule`
//! (`first-prefix`, `all-prefix`, `longest-prefix` or `digests`) and `file` (the CSV text,
//! named in errors by `path`).
//!
//! The file is read as ace-dt reads it: `#` starts a comment line, empty lines are skipped,
//! every record has exactly two fields (match key, destination), fields are not trimmed and
//! may be quoted, and there is no header row. (Unlike Go's reader, a quote left open runs to
//! the end of the file instead of failing.) ace-dt's bug fixed: `longest-prefix` with no
//! matching row gives no destination (ace-dt gave an empty one, which failed later).

wit_bindgen::generate!({ world: "mapper", path: "../../wit" });

use ferry::plugin::host;

struct CsvMap;

#[derive(Clone, Copy)]
enum Rule {
    First,
    All,
    Longest,
    Digests,
}

/// The rule and its rows, read once per instance: the parameters do not change between calls.
static CONFIGURED: std::sync::OnceLock<Result<(Rule, Vec<(String, String)>), String>> = std::sync::OnceLock::new();

impl Guest for CsvMap {
    fn map_image(image: Image) -> Result<Vec<String>, String> {
        let (rule, rows) = CONFIGURED.get_or_init(configure).as_ref().map_err(Clone::clone)?;
        Ok(destinations(*rule, rows, &image.source, &image.digest))
    }
}

fn configure() -> Result<(Rule, Vec<(String, String)>), String> {
    let params = host::params();
    let param = |key: &str| params.iter().find_map(|(k, v)| (k == key).then_some(v.as_str()));
    let rule = match param("rule") {
        Some("first-prefix") => Rule::First,
        Some("all-prefix") => Rule::All,
        Some("longest-prefix") => Rule::Longest,
        Some("digests") => Rule::Digests,
        other => return Err(format!("unknown CSV rule {other:?} (first-prefix, all-prefix, longest-prefix, digests)")),
    };
    let path = param("path").unwrap_or("the mapping file");
    let rows = parse(param("file").ok_or("the parameter \"file\" (the CSV text) is missing")?, path)?;
    Ok((rule, rows))
}

/// The rows of the mapping file; an error names `path:line`.
fn parse(text: &str, path: &str) -> Result<Vec<(String, String)>, String> {
    let mut reader = csv::ReaderBuilder::new().has_headers(false).comment(Some(b'#')).flexible(true).from_reader(text.as_bytes());
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map_or(0, csv::Position::line);
            format!("{path}:{line}: {e}")
        })?;
        let line = record.position().map_or(0, csv::Position::line);
        if record.len() == 1 && record[0].is_empty() {
            continue;
        }
        if record.len() != 2 {
            return Err(format!("{path}:{line}: expected 2 fields (match, destination), found {}", record.len()));
        }
        rows.push((record[0].to_owned(), record[1].to_owned()));
    }
    Ok(rows)
}

fn destinations(rule: Rule, rows: &[(String, String)], source: &str, digest: &str) -> Vec<String> {
    let prefixed = |(key, dest): &(String, String)| source.strip_prefix(key.as_str()).map(|rest| format!("{dest}{rest}"));
    match rule {
        Rule::First => rows.iter().filter(|(k, _)| !k.is_empty()).find_map(prefixed).into_iter().collect(),
        Rule::All => rows.iter().filter(|(k, _)| !k.is_empty()).filter_map(prefixed).collect(),
        // The longest matching key wins, the last of equals; an empty key matches everything.
        Rule::Longest => rows
            .iter()
            .filter(|(k, _)| source.starts_with(k.as_str()))
            .fold(None::<&(String, String)>, |best, row| match best {
                Some(b) if b.0.len() > row.0.len() => Some(b),
                _ => Some(row),
            })
            .and_then(prefixed)
            .into_iter()
            .collect(),
        Rule::Digests => rows.iter().filter(|(k, _)| k == digest).map(|(_, d)| d.clone()).collect(),
    }
}

export!(CsvMap);
