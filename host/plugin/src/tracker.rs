//! The `tracker` world: the rows of the two batch tracker files, and the text to append for
//! one more.

use crate::bindings::tracker as bindings;
use crate::instance::{Live, world};
use crate::{Host, Loaded, PluginError};

pub use crate::bindings::types::{Loaded as LoadedRow, Sent as SentRow};

world!(
    bindings::Tracker,
    bindings::TrackerPre<crate::sandbox::State>,
    "tracker",
    ["read-sent", "format-sent", "read-loaded", "format-loaded"]
);

/// A tracker format, instantiated with its parameters.
pub struct Tracker<'h> {
    live: Live<'h, bindings::Tracker>,
}

impl<'h> Tracker<'h> {
    /// Links `loaded` as a tracker; a component of another world or interface version is
    /// refused here, with what it wants.
    pub fn new(host: &'h Host, loaded: &Loaded, params: Vec<(String, String)>) -> Result<Tracker<'h>, PluginError> {
        Ok(Tracker { live: Live::new(host, loaded, params)? })
    }

    /// The rows of a low-side tracker file (`record-keeping.csv`); a bad line is
    /// [`PluginError::Parse`] with its number.
    pub fn read_sent(&mut self, text: &str) -> Result<Vec<SentRow>, PluginError> {
        const F: &str = "read-sent";
        self.live.call(F, text.len(), |t, store| t.call_read_sent(store, text))?.map_err(|e| self.live.bad_line(F, e))
    }

    /// The text to append for `row`; `new_file` when the file is empty (the header comes first).
    pub fn format_sent(&mut self, row: &SentRow, new_file: bool) -> Result<String, PluginError> {
        self.live.call("format-sent", 0, |t, store| t.call_format_sent(store, row, new_file))
    }

    /// The rows of a high-side tracker file (`successful-syncs.csv`).
    pub fn read_loaded(&mut self, text: &str) -> Result<Vec<LoadedRow>, PluginError> {
        const F: &str = "read-loaded";
        self.live.call(F, text.len(), |t, store| t.call_read_loaded(store, text))?.map_err(|e| self.live.bad_line(F, e))
    }

    /// The text to append for `row`, as [`Tracker::format_sent`].
    pub fn format_loaded(&mut self, row: &LoadedRow, new_file: bool) -> Result<String, PluginError> {
        self.live.call("format-loaded", 0, |t, store| t.call_format_loaded(store, row, new_file))
    }
}
