//! What the workflows ask of components, as small traits: a [`SourcesParser`] reads a sources
//! list, a [`Rule`] hands out [`Mapper`]s that route an artifact to its destinations, a
//! [`Policy`] decides whether an artifact may be shipped or placed, and a
//! [`TrackerFormat`] reads and writes the batch tracker files. The CLI implements them over
//! `ferry-plugin` (WebAssembly components, built-in or a site's), so the engine never links
//! a component runtime; tests implement them in plain Rust.
//!
//! A component reads what the operator gave (a file, a rule): its complaints are bad input,
//! [`crate::Error::Component`] or, naming a line, [`crate::Error::InputLine`].

use std::path::Path;

use crate::confine::LayoutRoots;
use crate::error::Error;
use crate::place::Artifact;
use crate::sources::SourceEntry;

/// Reads a sources list.
pub trait SourcesParser: Send + Sync {
    /// The entries of `text`, read from `file` (which names it in errors).
    fn parse(&self, file: &Path, text: &str) -> Result<Vec<SourceEntry>, Error>;
}

/// A mapping rule as the operator named it.
pub trait Rule: Sync {
    /// The rule as written (`nest=reg/mirror`), for messages.
    fn text(&self) -> &str;
    /// The layout directories the operator wrote in the rule: the only ones an `oci:`
    /// destination may be in.
    fn roots(&self) -> &LayoutRoots;
    /// A mapper for one worker; each worker maps many artifacts with its own.
    fn mapper(&self) -> Result<Box<dyn Mapper + '_>, Error>;
}

/// One worker's instance of a rule.
pub trait Mapper {
    /// The destinations of `artifact`, as the rule writes them (checked by [`crate::place::plan`]).
    fn map(&mut self, artifact: &Artifact) -> Result<Vec<String>, Error>;
}

/// A site's policy (`--policy`): whether an artifact may be shipped or placed.
pub trait Policy: Sync {
    /// The policy as written (`plugin=deny-by-label,label=team,deny=x`), for messages.
    fn text(&self) -> &str;
    /// The decision on `artifact`, given what was found about it; an error means the policy
    /// could not decide, and stops the run.
    fn decide(&self, artifact: &Artifact, evidence: &crate::trust::Evidence) -> Result<Decision, Error>;
}

/// A policy's decision, with its reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// It may be shipped or placed (the reason may be empty).
    Allow(String),
    /// It may not.
    Deny(String),
}

/// A row of the low-side tracker (`record-keeping.csv`): an archive and what it carried.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SentRow {
    /// The archive's file name, `NNNNNN-<name>.tar…`.
    pub sync_name: String,
    /// The artifact reference, as the BATCH-LIST wrote it.
    pub artifact: String,
    /// Its digest when it was sent.
    pub digest: String,
}

/// A row of the high-side tracker (`successful-syncs.csv`): an archive that was loaded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadedRow {
    /// The archive's file name.
    pub file_name: String,
    /// Where its root was tagged.
    pub artifact: String,
    /// When, RFC 3339.
    pub timestamp: String,
}

/// The format of the two batch tracker files.
pub trait TrackerFormat {
    /// The rows of a low-side tracker file; `file` names it in errors.
    fn read_sent(&mut self, file: &Path, text: &str) -> Result<Vec<SentRow>, Error>;
    /// The text to append for `row`; `new_file` when the file is empty (a header first).
    fn format_sent(&mut self, row: &SentRow, new_file: bool) -> Result<String, Error>;
    /// The rows of a high-side tracker file.
    fn read_loaded(&mut self, file: &Path, text: &str) -> Result<Vec<LoadedRow>, Error>;
    /// The text to append for `row`, as [`TrackerFormat::format_sent`].
    fn format_loaded(&mut self, row: &LoadedRow, new_file: bool) -> Result<String, Error>;
}

/// A text file a component will be given (`what` names it in errors: `sources file`,
/// `mapping file`, `BATCH-LIST`); unreadable or not UTF-8 is bad input.
pub fn read_text(path: &Path, what: &'static str) -> Result<String, Error> {
    let bytes = std::fs::read(path).map_err(|source| Error::Input { what, path: path.to_owned(), source })?;
    String::from_utf8(bytes).map_err(|e| Error::Input { what, path: path.to_owned(), source: std::io::Error::other(e.utf8_error()) })
}

/// The entries of the sources list at `path`, read by `parser`, sorted by reference.
pub fn read_sources(parser: &dyn SourcesParser, path: &Path) -> Result<Vec<SourceEntry>, Error> {
    let text = read_text(path, "sources file")?;
    parser.parse(path, &text)
}
