//! ferry's workflows.
//!
//! The engine turns commands into registry and layout operations: it reads sources lists
//! ([`sources`]), opens stores ([`store`]: a registry repository or an OCI layout directory),
//! copies manifest graphs between them ([`copy`]) and runs the workflows ([`gather`],
//! [`serialize`] with its [`manifest_json`], [`deserialize`], which also loads archives of
//! other tools through `foreign`), and places mapped artifacts at
//! their destinations ([`place`], fed by [`scatter`] from a gather index or by [`clone`] from
//! a sources list, narrowed by [`selector`]s, and kept to what the operator named by
//! [`confine`]). [`diff`] lists what a gather index holds that
//! earlier deliveries did not; [`catalog`] plans a delivery against the delivery catalog
//! and records each archive written. [`report`] turns a run's events into its run report; [`trust`] checks image signatures before
//! anything is placed.
//! It owns the async orchestration and reports what it does as [`events::Event`]s; it never
//! prints.

pub mod batch;
pub mod cached;
pub mod catalog;
pub mod clone;
pub mod components;
pub mod confine;
pub mod copy;
pub mod delta;
pub mod deserialize;
pub mod diff;
mod error;
pub mod events;
pub(crate) mod foreign;
pub mod gather;
pub mod manifest_json;
pub mod place;
pub mod receipt;
pub mod report;
pub mod route;
pub mod scatter;
pub mod selector;
pub mod serialize;
pub mod sources;
pub mod store;
pub mod tape;
pub mod trust;

pub use error::Error;
