//! The generated bindings of the four worlds. `ferry:plugin/types` and `ferry:plugin/host`
//! are generated once (with the mapper world) and reused by the others, so every world
//! shares one set of record types and one host implementation.

#![allow(missing_docs, reason = "generated from wit/plugin.wit, documented there")]

pub(crate) mod mapper {
    // The records are compared in tests and by callers (a source entry, a tracker row).
    wasmtime::component::bindgen!({ world: "mapper", path: "../../wit", additional_derives: [PartialEq, Eq] });
}

pub(crate) mod sources_parser {
    wasmtime::component::bindgen!({
        world: "sources-parser",
        path: "../../wit",
        with: {
            "ferry:plugin/types": crate::bindings::mapper::ferry::plugin::types,
            "ferry:plugin/host": crate::bindings::mapper::ferry::plugin::host,
        },
    });
}

pub(crate) mod tracker {
    wasmtime::component::bindgen!({
        world: "tracker",
        path: "../../wit",
        with: {
            "ferry:plugin/types": crate::bindings::mapper::ferry::plugin::types,
            "ferry:plugin/host": crate::bindings::mapper::ferry::plugin::host,
        },
    });
}

pub(crate) use mapper::ferry::plugin::{host, types};

pub(crate) mod policy {
    wasmtime::component::bindgen!({
        world: "policy",
        path: "../../wit",
        with: {
            "ferry:plugin/types": crate::bindings::mapper::ferry::plugin::types,
            "ferry:plugin/host": crate::bindings::mapper::ferry::plugin::host,
        },
    });
}
