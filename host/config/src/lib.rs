//! ferry's configuration.
//!
//! It owns three things read from the machine, none of them from the network:
//! - the configuration file ([`Config`]), in ace-dt's schema so an existing ace-dt file works
//!   unchanged, decoded strictly (an unknown key is an error naming the key and the file), except
//!   a file found in ace-dt's places, whose keys ferry does not use are left out with a note;
//!   `rewritePull` rules apply in file order (ace-dt used random order, spec §13.26) and a
//!   broken file is an error, never silently replaced by defaults (§13.27);
//! - registry credentials ([`credentials`]): `registryAuthFile`, Docker's `config.json`
//!   (`credHelpers`, `credsStore`, identity tokens), `REGISTRY_AUTH_FILE` and podman's
//!   `auth.json`, read in that order; written by `ferry login`;
//! - per-host TLS material in `certs.d` directories ([`certs`]).

pub mod certs;
mod config;
pub mod credentials;
mod sample;

pub use config::{
    Candidate, CandidateKind, CatalogSetting, Config, ConfigError, Endpoint, PluginSettings, ReferrersMode, SYSTEM_CONFIG, Scheme,
    SchemeSource, SignaturePolicy,
};
pub use sample::sample;
