//! The engine, its limits, and the per-store state a component runs with.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use wasmtime::component::{Component, ResourceTable};
use wasmtime::{Config, Engine, ResourceLimiter, Store, Trap};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::cache::Cache;
use crate::error::{LoadErrorKind, PluginError, TrapKind};

/// How often the epoch advances: the granularity of the time limit.
const TICK: Duration = Duration::from_millis(10);

/// The largest text a component is given in one call (a sources list, a tracker file), in
/// bytes; the per-call limits grow with the input up to this size.
pub const MAX_INPUT_BYTES: usize = 64 << 20;

/// What one call may use. Time and fuel grow with the size of the text the call is given
/// (a sources list or a tracker file; a mapping call is given none): `time + time_per_mib ×
/// MiB` and `fuel + fuel_per_byte × bytes`, the input counted up to [`MAX_INPUT_BYTES`]. A
/// call that loops forever is still stopped, only later for a larger input.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Linear memory per store, in bytes.
    pub memory_bytes: usize,
    /// Wall-clock time per call, before the allowance for its input.
    pub time: Duration,
    /// Fuel per call (about one unit per wasm instruction), before the allowance for its
    /// input: a backstop to the time limit.
    pub fuel: u64,
    /// Time added per MiB of input (pro rata).
    pub time_per_mib: Duration,
    /// Fuel added per byte of input.
    pub fuel_per_byte: u64,
}

impl Default for Limits {
    /// 1 s and 2e9 fuel, plus 8 s and 2000 fuel per input byte for each MiB of input: a
    /// 100,000-line labelled sources list (about 6 MiB) needs about 0.6e9 fuel and well under
    /// a second, so the allowance leaves room for a loaded machine.
    fn default() -> Limits {
        Limits {
            memory_bytes: 64 << 20,
            time: Duration::from_secs(1),
            fuel: 2_000_000_000,
            time_per_mib: Duration::from_secs(8),
            fuel_per_byte: 2000,
        }
    }
}

/// The time and fuel one call may use, given `input` bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Budget {
    /// Wall-clock time.
    pub time: Duration,
    /// Fuel.
    pub fuel: u64,
}

impl Limits {
    /// The budget of a call given `input` bytes (counted up to [`MAX_INPUT_BYTES`]).
    pub fn budget(&self, input: usize) -> Budget {
        let input = input.min(MAX_INPUT_BYTES) as u64;
        let extra_time = self.time_per_mib.mul_f64(input as f64 / f64::from(1u32 << 20));
        Budget { time: self.time + extra_time, fuel: self.fuel.saturating_add(self.fuel_per_byte.saturating_mul(input)) }
    }
}

/// The engine all components share, with its epoch ticker and compile cache.
pub struct Host {
    pub(crate) engine: Engine,
    pub(crate) limits: Limits,
    cache: Option<Cache>,
    ticking: Arc<AtomicBool>,
}

/// A compiled component, ready to instantiate.
#[derive(Clone)]
pub struct Loaded {
    pub(crate) name: String,
    pub(crate) component: Component,
    /// sha256 of the wasm, hex.
    pub sha256: String,
}

impl Host {
    /// An engine with fuel and epoch interruption; compiled components are cached in
    /// `cache_dir` when given. The directory is created mode 0700 if missing; one that is a
    /// symbolic link, not this user's or writable by group or others is not used (a warning
    /// says why, and every load compiles).
    pub fn new(limits: Limits, cache_dir: Option<PathBuf>) -> Result<Host, PluginError> {
        let engine_error =
            |kind, source: wasmtime::Error| PluginError::Load { component: "(engine)".to_owned(), kind, source: source.into() };
        let mut config = Config::new();
        config.consume_fuel(true).epoch_interruption(true).max_wasm_stack(1 << 20);
        let engine = Engine::new(&config).map_err(|e| engine_error(LoadErrorKind::Engine, e))?;
        let ticking = Arc::new(AtomicBool::new(true));
        let (weak, flag) = (engine.weak(), Arc::clone(&ticking));
        std::thread::Builder::new()
            .name("ferry-plugin-epoch".to_owned())
            .spawn(move || {
                while flag.load(Ordering::Relaxed) {
                    std::thread::sleep(TICK);
                    match weak.upgrade() {
                        Some(engine) => engine.increment_epoch(),
                        None => return,
                    }
                }
            })
            .map_err(|e| PluginError::Load { component: "(engine)".to_owned(), kind: LoadErrorKind::EpochThread, source: e.into() })?;
        let cache = cache_dir.as_deref().and_then(Cache::open);
        Ok(Host { engine, limits, cache, ticking })
    }

    /// Compiles (or loads from the cache) the component `wasm`, named `name` in errors.
    pub fn load(&self, name: &str, wasm: &[u8]) -> Result<Loaded, PluginError> {
        let sha256 = crate::cache::sha256(wasm);
        let component = crate::cache::compile(&self.engine, self.cache.as_ref(), &sha256, wasm).map_err(|e| e.for_component(name))?;
        Ok(Loaded { name: name.to_owned(), component, sha256: hex::encode(sha256) })
    }

    /// A fresh store for `component` with `params`, its limits set for one call.
    pub(crate) fn store(&self, component: &str, params: &[(String, String)]) -> Store<State> {
        let state = State {
            // Nothing: no preopens, environment, arguments, stdin, stdout or sockets.
            wasi: WasiCtx::builder().build(),
            table: ResourceTable::new(),
            limits: MemoryCeiling { bytes: self.limits.memory_bytes, refused: false },
            params: params.to_vec(),
            component: component.to_owned(),
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limits);
        store
    }

    /// Arms `store` for one call given `input` bytes; returns the budget it was given.
    pub(crate) fn arm(&self, store: &mut Store<State>, input: usize) -> Budget {
        let budget = self.limits.budget(input);
        let ticks = (budget.time.as_millis() / TICK.as_millis()).max(1);
        store.set_epoch_deadline(u64::try_from(ticks).unwrap_or(u64::MAX));
        // Fuel cannot be set only if fuel is off, and it is always on here.
        let _ = store.set_fuel(budget.fuel);
        budget
    }

    /// What stopped a call with `budget` in `store`.
    pub(crate) fn trap_kind(&self, e: &wasmtime::Error, store: &Store<State>, budget: Budget) -> TrapKind {
        // The limiter's own record first: the error its refusal raised may reach here wrapped.
        if store.data().limits.refused {
            return TrapKind::MemoryLimit { limit_bytes: self.limits.memory_bytes };
        }
        match e.downcast_ref::<Trap>() {
            Some(Trap::OutOfFuel) => TrapKind::OutOfFuel { fuel: budget.fuel },
            Some(Trap::Interrupt) => TrapKind::Deadline { time: budget.time },
            Some(Trap::StackOverflow) => TrapKind::StackOverflow,
            _ => TrapKind::Other,
        }
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        self.ticking.store(false, Ordering::Relaxed);
    }
}

/// What a store holds: the empty WASI context, the memory limiter and the plugin's view of
/// the host.
pub(crate) struct State {
    wasi: WasiCtx,
    table: ResourceTable,
    limits: MemoryCeiling,
    pub(crate) params: Vec<(String, String)>,
    pub(crate) component: String,
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

/// A store's memory ceiling. Growth past it, or past a memory's or table's own maximum, traps
/// at once (rather than failing the guest's allocator later); growth refused by the ceiling is
/// remembered, so the trap is reported as the memory limit without reading wasmtime's text.
pub(crate) struct MemoryCeiling {
    bytes: usize,
    refused: bool,
}

/// The error that stops a guest growing its memory past the ceiling.
#[derive(Debug, thiserror::Error)]
#[error("growing memory to {desired} bytes, past the store's limit of {limit} bytes")]
struct PastCeiling {
    desired: usize,
    limit: usize,
}

impl ResourceLimiter for MemoryCeiling {
    fn memory_growing(&mut self, _current: usize, desired: usize, maximum: Option<usize>) -> wasmtime::Result<bool> {
        if desired > self.bytes {
            self.refused = true;
            return Err(PastCeiling { desired, limit: self.bytes }.into());
        }
        if maximum.is_some_and(|max| desired > max) {
            wasmtime::bail!("growing memory to {desired} bytes, past its own maximum");
        }
        Ok(true)
    }

    fn memory_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        Err(error.context("growing memory failed"))
    }

    fn table_growing(&mut self, _current: usize, desired: usize, maximum: Option<usize>) -> wasmtime::Result<bool> {
        if maximum.is_some_and(|max| desired > max) {
            wasmtime::bail!("growing a table to {desired} elements, past its own maximum");
        }
        Ok(true)
    }

    fn table_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        Err(error.context("growing a table failed"))
    }
}
