//! `ferry mirror scatter`, `clone` and `unarchive` against real registries (spec §1.4, §1.5,
//! §1.7, §12.4, §12.5), with ace-dt's bugs fixed (§13 items 14–18, 24, 25).

#![allow(clippy::unwrap_used, clippy::print_stderr, missing_docs, reason = "tests; measurements are printed")]

mod attachments;
mod bundle;
mod clone;
mod fixture;
mod hostile;
mod order;
mod plugin;
mod policy;
mod report;
mod scatter;
mod signatures;
mod template;
mod unarchive;
