//! One entry of a sources list, as the engine's workflows take it. Parsing the list is a
//! plugin's job (the built-in `sources-list` component implements spec §5.1).

use std::collections::BTreeMap;
use std::path::Path;

use ferry_oci::ImageRef;

use crate::error::Error;

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

/// Every entry with its parsed reference; the first that does not parse is an error naming
/// `sources_file` and its line. Workflows check them all before they copy anything.
pub(crate) fn parse_references<'s>(sources_file: &Path, sources: &'s [SourceEntry]) -> Result<Vec<(&'s SourceEntry, ImageRef)>, Error> {
    sources
        .iter()
        .map(|s| {
            s.reference
                .parse::<ImageRef>()
                .map(|r| (s, r))
                .map_err(|source| Error::Reference { location: format!("{}:{}", sources_file.display(), s.line), source })
        })
        .collect()
}
