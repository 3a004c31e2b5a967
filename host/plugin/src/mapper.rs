//! The `mapper` world: one instance per worker, reused across calls, rebuilt after a trap.

use crate::bindings::mapper as bindings;
use crate::instance::{Live, world};
use crate::{Host, Loaded, PluginError};

pub use crate::bindings::types::{Image, Platform};

world!(bindings::Mapper, bindings::MapperPre<crate::sandbox::State>, "mapper", ["map-image"]);

const FUNCTION: &str = "map-image";

/// A mapping rule, instantiated with its parameters.
pub struct Mapper<'h> {
    live: Live<'h, bindings::Mapper>,
}

impl<'h> Mapper<'h> {
    /// Links `loaded` as a mapper; a component of another world or interface version is
    /// refused here, with what it wants.
    pub fn new(host: &'h Host, loaded: &Loaded, params: Vec<(String, String)>) -> Result<Mapper<'h>, PluginError> {
        Ok(Mapper { live: Live::new(host, loaded, params)? })
    }

    /// The destinations for `image`.
    pub fn map(&mut self, image: &Image) -> Result<Vec<String>, PluginError> {
        self.live.call(FUNCTION, 0, |m, store| m.call_map_image(store, image))?.map_err(|message| self.live.refused(FUNCTION, message))
    }
}
