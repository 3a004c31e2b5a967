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

use std::collections::HashMap;

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
static CONFIGURED: std::sync::OnceLock<Result<(Rule, Table), String>> = std::sync::OnceLock::new();

impl Guest for CsvMap {
    fn map_image(image: Image) -> Result<Vec<String>, String> {
        let (rule, table) = CONFIGURED.get_or_init(configure).as_ref().map_err(Clone::clone)?;
        Ok(table.destinations(*rule, &image.source, &image.digest))
    }
}

fn configure() -> Result<(Rule, Table), String> {
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
    Ok((rule, Table::new(rows)))
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

/// The rows, indexed by key: only keys that are prefixes of the source can match, so a
/// lookup per distinct key length replaces a scan of every row.
struct Table {
    rows: Vec<(String, String)>,
    /// Row numbers of each key, in file order.
    by_key: HashMap<String, Vec<usize>>,
    /// The distinct key lengths, ascending.
    lengths: Vec<usize>,
}

impl Table {
    fn new(rows: Vec<(String, String)>) -> Table {
        let mut by_key: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, (key, _)) in rows.iter().enumerate() {
            by_key.entry(key.clone()).or_default().push(i);
        }
        let mut lengths: Vec<usize> = by_key.keys().map(String::len).collect();
        lengths.sort_unstable();
        lengths.dedup();
        Table { rows, by_key, lengths }
    }

    /// Row numbers whose key is a prefix of `source` (the empty key included), as
    /// `(key length, rows)` from the shortest key to the longest.
    fn prefixes<'t>(&'t self, source: &'t str) -> impl Iterator<Item = (usize, &'t [usize])> + 't {
        self.lengths
            .iter()
            .take_while(move |&&n| n <= source.len())
            .filter_map(move |&n| source.get(..n).and_then(|key| self.by_key.get(key)).map(|rows| (n, rows.as_slice())))
    }

    fn destinations(&self, rule: Rule, source: &str, digest: &str) -> Vec<String> {
        let prefixed = |i: usize| {
            let (key, dest) = &self.rows[i];
            format!("{dest}{}", &source[key.len()..])
        };
        // first-prefix and all-prefix skip rows with an empty key.
        let matching = || self.prefixes(source).filter(|(n, _)| *n > 0).flat_map(|(_, rows)| rows.iter().copied());
        match rule {
            Rule::First => matching().min().map(prefixed).into_iter().collect(),
            Rule::All => {
                let mut rows: Vec<usize> = matching().collect();
                rows.sort_unstable();
                rows.into_iter().map(prefixed).collect()
            }
            // The longest matching key wins, the last of equals; an empty key matches everything.
            Rule::Longest => self.prefixes(source).last().and_then(|(_, rows)| rows.last().copied()).map(prefixed).into_iter().collect(),
            Rule::Digests => self.by_key.get(digest).into_iter().flatten().map(|&i| self.rows[i].1.clone()).collect(),
        }
    }
}

export!(CsvMap);
