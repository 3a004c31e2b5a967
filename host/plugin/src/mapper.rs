//! The `mapper` world: one instance per worker, reused across calls, rebuilt after a trap.

use wasmtime::Store;
use wasmtime::component::HasSelf;

use crate::sandbox::State;
use crate::{Host, Loaded, PluginError};

#[allow(missing_docs, reason = "generated from wit/plugin.wit, documented there")]
mod bindings {
    wasmtime::component::bindgen!({ world: "mapper", path: "../../wit" });
}

pub use bindings::ferry::plugin::types::{Image, Platform};
use bindings::ferry::plugin::{host, types};

impl types::Host for State {}

impl host::Host for State {
    fn params(&mut self) -> Vec<(String, String)> {
        self.params.clone()
    }

    fn log(&mut self, level: host::Level, message: String) {
        let c = &self.component;
        match level {
            host::Level::Error => tracing::error!("{c}: {message}"),
            host::Level::Warn => tracing::warn!("{c}: {message}"),
            host::Level::Info => tracing::info!("{c}: {message}"),
            host::Level::Debug => tracing::debug!("{c}: {message}"),
        }
    }
}

const FUNCTION: &str = "map-image";

/// A mapping rule, instantiated with its parameters.
pub struct Mapper<'h> {
    host: &'h Host,
    name: String,
    params: Vec<(String, String)>,
    pre: bindings::MapperPre<State>,
    live: Option<(Store<State>, bindings::Mapper)>,
}

impl<'h> Mapper<'h> {
    /// Links `loaded` as a mapper; a component of another world or interface version is
    /// refused here, with what it wants.
    pub fn new(host: &'h Host, loaded: &Loaded, params: Vec<(String, String)>) -> Result<Mapper<'h>, PluginError> {
        let load_error = |reason: String| PluginError::Load { component: loaded.name.clone(), reason };
        let mut linker = wasmtime::component::Linker::<State>::new(&host.engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(|e| load_error(format!("linking WASI: {e:#}")))?;
        bindings::Mapper::add_to_linker::<State, HasSelf<State>>(&mut linker, |s| s)
            .map_err(|e| load_error(format!("linking the host interface: {e:#}")))?;
        let pre = linker.instantiate_pre(&loaded.component).and_then(bindings::MapperPre::new).map_err(|e| load_error(incompatible(&e)))?;
        Ok(Mapper { host, name: loaded.name.clone(), params, pre, live: None })
    }

    /// The destinations for `image`.
    pub fn map(&mut self, image: &Image) -> Result<Vec<String>, PluginError> {
        let trap = |reason: String, name: &str| PluginError::Trap { component: name.to_owned(), function: FUNCTION, reason };
        if self.live.is_none() {
            let mut store = self.host.store(&self.name, &self.params);
            self.host.arm(&mut store);
            let instance = self.pre.instantiate(&mut store).map_err(|e| trap(self.host.explain(&e), &self.name))?;
            self.live = Some((store, instance));
        }
        let Some((store, instance)) = self.live.as_mut() else { unreachable!("instantiated above") };
        self.host.arm(store);
        match instance.call_map_image(&mut *store, image) {
            Ok(Ok(destinations)) => Ok(destinations),
            Ok(Err(message)) => Err(PluginError::Refused { component: self.name.clone(), function: FUNCTION, message }),
            Err(e) => {
                // A trapped instance cannot be entered again: start afresh next time.
                let reason = self.host.explain(&e);
                self.live = None;
                Err(trap(reason, &self.name))
            }
        }
    }
}

/// Why a component does not link, in terms of ferry's interface.
fn incompatible(e: &wasmtime::Error) -> String {
    let text = format!("{e:#}");
    if text.contains("ferry:plugin") || text.contains("map-image") {
        format!(
            "not a ferry:plugin/mapper@{} component (ferry implements ferry:plugin@{}): {text}",
            crate::INTERFACE_VERSION,
            crate::INTERFACE_VERSION
        )
    } else {
        format!("cannot be linked as a mapper: {text}")
    }
}
