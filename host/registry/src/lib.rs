//! ferry's OCI distribution client.
//!
//! It owns everything between a [`Reference`](ferry_oci::Reference) and the registry's HTTP
//! API: endpoint selection and repository rewriting from the configuration (a loopback
//! registry that answers TLS in plain HTTP is reached over `http://`, as Docker does), TLS (system roots
//! plus `certs.d` CAs and client certificates, or `insecureSkipVerify`), anonymous, basic and
//! bearer-token auth with a token cache (Docker credential store, helpers and identity
//! tokens; each token and each registry's credentials fetched once however many requests
//! wait for them), retries with backoff and jitter on network errors, 408, 429 (honouring
//! `Retry-After`) and 5xx under one [`RetryPolicy`] type, and one concurrency limit per host.
//! Errors keep the registry's error envelope as typed [`ErrorCode`]s.
//!
//! On top of that transport, a [`Repository`] offers manifest resolve/fetch/push kept as raw
//! bytes, blob existence checks, streaming blob fetches that verify digest and size as bytes
//! flow ([`ferry_oci::BlobStream`]), streaming pushes (monolithic `PUT` with a known digest, chunked `PATCH` fallback),
//! cross-repository mounts with the 202 fallback, and referrers via the API or the
//! `sha256-<hex>` tag schema, plus cosign `.sig/.att/.sbom` tag attachments.
//!
//! # Quirks handled (distribution 2.8)
//! - the full manifest `Accept` list on every manifest request, `Content-Type` on every PUT;
//! - `202` after a mount request: the upload continues at the returned `Location`;
//! - absolute and relative `Location`, the newest one followed at every step;
//! - tags sorted client-side; `Link` pagination followed when present;
//! - a plain-text 404 from `/referrers/` means "no API": the tag schema is used.

mod auth;
mod blob;
mod client;
mod error;
mod flight;
mod manifest;
mod referrers;
mod retry;
mod tls;
mod upload;
mod wire;

pub use upload::{Mount, UploadSession};

pub use blob::HOLD_BYTES;
pub use client::{Client, Repository};
pub use error::{Error, ErrorCode, ErrorKind, Presented};
pub use referrers::COSIGN_SUFFIXES;
pub use retry::{BODY_RESUME, INDEX_RACE, REFETCH, RetryPolicy};
