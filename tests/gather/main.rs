//! `ferry mirror gather` against real registries (spec §5, §12.1, and ace-dt's bugs fixed).

#![allow(clippy::unwrap_used, missing_docs, reason = "tests")]

mod auth;
mod basic;
mod content;
mod errors;
mod faults;
mod login;
mod plain;
