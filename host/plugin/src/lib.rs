//! ferry's plugin host: loads WebAssembly components that implement a world of the
//! `ferry:plugin` interface (`wit/plugin.wit`) and runs them in a sandbox.
//!
//! This is the only crate that depends on wasmtime. A component gets no files, network,
//! environment, arguments or clock beyond what WASI p2 needs to start; its memory is capped, a
//! call is stopped by an epoch deadline and by fuel, and a store that trapped is thrown away.
//! Compiled components are cached on disk, keyed by the wasm's sha256 and the engine's
//! compatibility hash. Every error names the component and the function.

mod cache;
mod error;
mod inspect;
pub mod mapper;
mod sandbox;

pub use error::PluginError;
pub use inspect::Inspection;
pub use mapper::{Image, Mapper, Platform};
pub use sandbox::{Host, Limits, Loaded};

/// The `ferry:plugin` package version this host implements.
pub const INTERFACE_VERSION: &str = "0.1.0";

/// The components built with ferry, as wasm bytes.
pub mod builtin {
    /// `nest=PREFIX`.
    pub const NEST: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/nest.wasm"));
    /// `first-prefix`, `all-prefix`, `longest-prefix` and `digests` (parameter `rule`), with
    /// the CSV text as the parameter `file`.
    pub const CSV_MAP: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/csv_map.wasm"));
    /// `go-template=FILE`: a Go text/template with sprig's hermetic functions and the
    /// reference helpers, the template text as the parameter `file` and its file name as
    /// `path`.
    pub const GO_TEMPLATE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/go_template.wasm"));
    /// A rule that misbehaves on purpose (parameter `do`: loop, hog, open, env, panic), for
    /// the sandbox tests. Not a rule anyone can name on the command line.
    pub const HOSTILE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/hostile.wasm"));
    /// A mapper built against `ferry:plugin@0.2.0`, for the refusal tests.
    pub const OLD_INTERFACE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/old_interface.wasm"));
}
