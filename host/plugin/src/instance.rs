//! What the three worlds share: the `host` interface every plugin imports, linking a component
//! as one world (refused, naming the world, when it is another), and the live instance: made
//! on first use, its deadline and fuel re-armed for every call, thrown away after a trap.

use wasmtime::Store;
use wasmtime::component::{InstancePre, Linker};

use crate::bindings::{host, types};
use crate::error::LoadErrorKind;
use crate::sandbox::{MAX_INPUT_BYTES, State};
use crate::{Host, Loaded, PluginError};

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

/// One world's generated bindings, as the live instance needs them.
pub(crate) trait World: Sized {
    /// Its name in `wit/plugin.wit`.
    const NAME: &'static str;
    /// Its exports, to tell a missing export from other link failures.
    const EXPORTS: &'static [&'static str];
    /// The generated `…Pre`.
    type Pre;
    /// Adds the world's imports (`host`, `types`) to `linker`.
    fn add_to_linker(linker: &mut Linker<State>) -> wasmtime::Result<()>;
    /// Checks the component's exports.
    fn pre(pre: InstancePre<State>) -> wasmtime::Result<Self::Pre>;
    /// A new instance in `store`.
    fn instantiate(pre: &Self::Pre, store: &mut Store<State>) -> wasmtime::Result<Self>;
}

/// Implements [`World`] for a generated world type.
macro_rules! world {
    ($world:ty, $pre:ty, $name:literal, [$($export:literal),+]) => {
        impl $crate::instance::World for $world {
            const NAME: &'static str = $name;
            const EXPORTS: &'static [&'static str] = &[$($export),+];
            type Pre = $pre;
            fn add_to_linker(linker: &mut wasmtime::component::Linker<$crate::sandbox::State>) -> wasmtime::Result<()> {
                <$world>::add_to_linker::<_, wasmtime::component::HasSelf<_>>(linker, |s| s)
            }
            fn pre(pre: wasmtime::component::InstancePre<$crate::sandbox::State>) -> wasmtime::Result<$pre> {
                <$pre>::new(pre)
            }
            fn instantiate(pre: &$pre, store: &mut wasmtime::Store<$crate::sandbox::State>) -> wasmtime::Result<$world> {
                pre.instantiate(store)
            }
        }
    };
}
pub(crate) use world;

/// A component linked as the world `W`, with its parameters and (once called) its instance.
pub(crate) struct Live<'h, W: World> {
    host: &'h Host,
    name: String,
    params: Vec<(String, String)>,
    pre: W::Pre,
    live: Option<(Store<State>, W)>,
}

impl<'h, W: World> Live<'h, W> {
    /// Links `loaded` as `W`; a component of another world or interface version is refused
    /// here, with what it wants.
    pub(crate) fn new(host: &'h Host, loaded: &Loaded, params: Vec<(String, String)>) -> Result<Live<'h, W>, PluginError> {
        let load_error = |kind, source: wasmtime::Error| PluginError::Load { component: loaded.name.clone(), kind, source: source.into() };
        let mut linker = Linker::<State>::new(&host.engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(|e| load_error(LoadErrorKind::LinkWasi, e))?;
        W::add_to_linker(&mut linker).map_err(|e| load_error(LoadErrorKind::LinkHost, e))?;
        let pre = linker.instantiate_pre(&loaded.component).and_then(W::pre).map_err(|e| load_error(incompatible::<W>(&e), e))?;
        Ok(Live { host, name: loaded.name.clone(), params, pre, live: None })
    }

    /// Runs `call` on the instance (made first if there is none) with a fresh deadline and
    /// fuel, scaled to the `input` bytes it is given; a trap is reported for `function` and
    /// the instance dropped. An input larger than [`MAX_INPUT_BYTES`] is refused unread.
    pub(crate) fn call<R>(
        &mut self,
        function: &'static str,
        input: usize,
        call: impl FnOnce(&W, &mut Store<State>) -> wasmtime::Result<R>,
    ) -> Result<R, PluginError> {
        let trap = |kind, source: wasmtime::Error, name: &str| PluginError::Trap {
            component: name.to_owned(),
            function,
            kind,
            source: source.into(),
        };
        if input > MAX_INPUT_BYTES {
            return Err(PluginError::TooLarge { component: self.name.clone(), function, bytes: input, max: MAX_INPUT_BYTES });
        }
        if self.live.is_none() {
            let mut store = self.host.store(&self.name, &self.params);
            let budget = self.host.arm(&mut store, 0);
            match W::instantiate(&self.pre, &mut store) {
                Ok(instance) => self.live = Some((store, instance)),
                Err(e) => return Err(trap(self.host.trap_kind(&e, &store, budget), e, &self.name)),
            }
        }
        let Some((store, instance)) = self.live.as_mut() else { unreachable!("instantiated above") };
        let budget = self.host.arm(store, input);
        match call(instance, store) {
            Ok(r) => Ok(r),
            Err(e) => {
                let kind = self.host.trap_kind(&e, store, budget);
                // A trapped instance cannot be entered again: start afresh next time.
                self.live = None;
                Err(trap(kind, e, &self.name))
            }
        }
    }

    /// The component's own error for `function`.
    pub(crate) fn refused(&self, function: &'static str, message: String) -> PluginError {
        PluginError::Refused { component: self.name.clone(), function, message }
    }

    /// The component's report of a bad line in the text `function` was given.
    pub(crate) fn bad_line(&self, function: &'static str, e: types::LineError) -> PluginError {
        PluginError::Parse { component: self.name.clone(), function, line: e.line, message: e.message }
    }
}

/// Why a component does not link as `W`: another world or interface version when wasmtime's
/// complaint names `ferry:plugin` or one of `W`'s exports.
fn incompatible<W: World>(e: &wasmtime::Error) -> LoadErrorKind {
    // wasmtime reports a missing import or export only as text.
    let text = format!("{e:#}");
    if text.contains("ferry:plugin") || W::EXPORTS.iter().any(|f| text.contains(f)) {
        LoadErrorKind::NotWorld { world: W::NAME }
    } else {
        LoadErrorKind::Link { world: W::NAME }
    }
}
