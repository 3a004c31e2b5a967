//! ferry's plugin host: loads WebAssembly components that implement a world of the
//! `ferry:plugin` interface (`wit/plugin.wit`) and runs them in a sandbox.
//!
//! This is the only crate that depends on wasmtime. A component gets no files, network,
//! environment, arguments or clock beyond what WASI p2 needs to start; its memory is capped, a
//! call is stopped by an epoch deadline and by fuel (both grown with the size of the text it
//! is given, see [`Limits`]), and a store that trapped is thrown away.
//! Compiled components are cached on disk, keyed by the wasm's sha256 and the engine's
//! compatibility hash; being native code, an entry is used only from a directory this user
//! alone can write and only if its MAC under this user's cache key matches (`cache`).
//! Every error names the component and the function, with a kind callers can match.

mod bindings;
mod cache;
mod error;
mod inspect;
mod instance;
pub mod mapper;
pub mod policy;
mod private_dir;
mod sandbox;
pub mod sources;
pub mod tracker;

pub use error::{LoadErrorKind, PluginError, Source, TrapKind};
pub use inspect::Inspection;
pub use mapper::{Image, Mapper, Platform};
pub use policy::Policy;
pub use sandbox::{Budget, Host, Limits, Loaded, MAX_INPUT_BYTES};
pub use sources::{SourceEntry, SourcesParser};
pub use tracker::{LoadedRow, SentRow, Tracker};

/// The `ferry:plugin` package version this host implements.
pub const INTERFACE_VERSION: &str = "0.1.1";

/// The versions a component may be built against: this one and the earlier versions it only
/// adds to (wasmtime's linker resolves their imports to this version's).
pub const SUPPORTED_VERSIONS: [&str; 2] = ["0.1.0", "0.1.1"];

/// Whether a component built against `ferry:plugin@version` can run here.
pub fn supports(version: &str) -> bool {
    SUPPORTED_VERSIONS.contains(&version)
}

/// The components built with ferry, as wasm bytes.
pub mod builtin {
    /// `nest=PREFIX`.
    pub const NEST: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/nest.wasm"));
    /// `first-prefix`, `all-prefix`, `longest-prefix` and `digests` (parameter `rule`), with
    /// the CSV text as the parameter `file`.
    pub const CSV_MAP: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/csv_map.wasm"));
    /// The `sources.list` format (world `sources-parser`): `REFERENCE[,key=value…]` lines;
    /// optional parameter `path`, the file's name in its warnings.
    pub const SOURCES_LIST: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/sources_list.wasm"));
    /// ace-dt's tracker files (world `tracker`): `record-keeping.csv` and
    /// `successful-syncs.csv`.
    pub const CSV_TRACKER: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/csv_tracker.wasm"));
    /// `go-template=FILE`: a Go text/template with sprig's hermetic functions and the
    /// reference helpers, the template text as the parameter `file` and its file name as
    /// `path`.
    pub const GO_TEMPLATE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/go_template.wasm"));
    /// A rule that misbehaves on purpose (parameter `do`: loop, hog, open, env, panic), for
    /// the sandbox tests. Not a rule anyone can name on the command line.
    pub const HOSTILE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/hostile.wasm"));
    /// A sources parser that never returns, for the sandbox tests.
    pub const ENDLESS_PARSER: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/endless_parser.wasm"));
    /// A mapper built against `ferry:plugin@0.2.0`, for the refusal tests.
    pub const OLD_INTERFACE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/old_interface.wasm"));
    /// A mapper built against `ferry:plugin@0.1.0`, the version 0.1.1 adds to: it must load.
    pub const EARLIER_MINOR: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/earlier_minor.wasm"));
}

/// Components that show how to write one; for tests and the authoring guide, not built in.
pub mod examples {
    /// `components/examples/route-by-label`: routes by a sources-list label.
    pub const ROUTE_BY_LABEL: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/route_by_label.wasm"));
    /// `components/examples/jsonl-tracker`: the batch tracker files as JSON lines.
    pub const JSONL_TRACKER: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/jsonl_tracker.wasm"));
    /// `components/examples/require-sbom`: a policy that allows only artifacts with an SBOM.
    pub const REQUIRE_SBOM: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/require_sbom.wasm"));
    /// `components/examples/deny-by-label`: a policy that denies artifacts by a label.
    pub const DENY_BY_LABEL: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/deny_by_label.wasm"));
}

/// The WIT of `ferry:plugin`, as this ferry implements it (`ferry plugin wit`).
pub const WIT: &str = include_str!("../../../wit/plugin.wit");
