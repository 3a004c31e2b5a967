//! The `sources-parser` world: a sources list's text to its entries.

use crate::bindings::sources_parser as bindings;
use crate::instance::{Live, world};
use crate::{Host, Loaded, PluginError};

pub use crate::bindings::types::SourceEntry;

world!(bindings::SourcesParser, bindings::SourcesParserPre<crate::sandbox::State>, "sources-parser", ["parse"]);

const FUNCTION: &str = "parse";

/// A sources-list format, instantiated with its parameters.
pub struct SourcesParser<'h> {
    live: Live<'h, bindings::SourcesParser>,
}

impl<'h> SourcesParser<'h> {
    /// Links `loaded` as a sources parser; a component of another world or interface version
    /// is refused here, with what it wants.
    pub fn new(host: &'h Host, loaded: &Loaded, params: Vec<(String, String)>) -> Result<SourcesParser<'h>, PluginError> {
        Ok(SourcesParser { live: Live::new(host, loaded, params)? })
    }

    /// The entries of `text`; a bad line is [`PluginError::Parse`] with its number.
    pub fn parse(&mut self, text: &str) -> Result<Vec<SourceEntry>, PluginError> {
        self.live.call(FUNCTION, text.len(), |p, store| p.call_parse(store, text))?.map_err(|e| self.live.bad_line(FUNCTION, e))
    }
}
