//! One entry of a sources list, as the engine's workflows take it. Parsing the list is a
//! plugin's job (the built-in `sources-list` component implements spec §5.1).

use std::collections::BTreeMap;

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
