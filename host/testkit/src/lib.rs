//! Test support for ferry's integration tests.
//!
//! - [`registry`]: a real distribution registry (Debian's `docker-registry`) on 127.0.0.1,
//!   port 0, one per test, optionally with TLS (a CA plus a leaf) and htpasswd basic auth;
//! - [`push`]: pushes and reads content with `curl`, independently of ferry's own client, so
//!   fixtures and checks do not trust the code under test;
//! - [`images`]: deterministic fixture images (single image, multi-platform index, index of
//!   indexes, Docker schema2 and manifest list, artifact with `subject`, big pseudo-random
//!   layers), the same seed always giving the same digests;
//! - [`ferro`]: `ferro-oci-server`, a second registry implementation with the referrers API;
//! - [`token`]: the token server of token-auth registries, with counters and armed faults;
//! - [`forward`]: a TCP forwarder counting connections, on any local address;
//! - [`home`]: a throw-away HOME with Docker credentials and `certs.d` CAs for a ferry process.
//!
//! It panics with clear messages on setup failures: it is test support.

#![allow(clippy::print_stderr, clippy::unwrap_used, clippy::expect_used, missing_docs, reason = "test support")]

pub mod ferro;
pub mod forward;
pub mod home;
pub mod images;
pub mod postgres;
pub mod proxy;
pub mod push;
pub mod registry;
pub mod rng;
pub mod tape;
pub mod token;

pub use forward::Forwarder;
pub use home::TestHome;
pub use proxy::{Fault, FaultProxy, Rule};
pub use push::Pusher;
pub use registry::Registry;
