//! `ferry mirror batch-serialize` and `batch-deserialize` against real registries (spec §7,
//! the seed's weekly scenario), with ace-dt's bugs fixed (§13 items 11–13) and ace-dt-written
//! tracker files.

#![allow(clippy::unwrap_used, missing_docs, reason = "tests")]

mod fixture;
mod high;
mod low;
