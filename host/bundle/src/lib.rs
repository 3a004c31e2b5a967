//! ferry's plugin bundles: components a site approved, carried as one OCI artifact.
//!
//! A bundle is an OCI image manifest of artifactType `application/vnd.ferry.plugin.bundle.v1`
//! whose config is a metadata document (name, version, and each component's world, interface
//! version and sha256) and whose layers are the components' wasm ([`format`](mod@format)). It is signed the
//! way cosign signs an image: ECDSA P-256 over a "simple signing" payload naming the manifest
//! digest (`ferry-sign`), stored in cosign's `.sig` tag and as a referrer, so `-r` carries it
//! across the gap. This crate owns the format, the signature checks ([`bundle`]), the trust
//! [`Policy`] and the one door through which a site's component is loaded under it ([`sites`]),
//! the store of installed bundles ([`installed`]) and where bundles are read and written
//! ([`transport`]: files, layouts, registries). It never prints.

pub mod bundle;
mod error;
pub mod format;
pub mod installed;
pub mod sites;
pub mod transport;

pub use bundle::Opened;
pub use error::BundleError;
pub use ferry_sign::keys;
pub use ferry_sign::{KeyError, PemError, PrivateKey, PublicKey};
pub use format::{ComponentEntry, Metadata};
pub use installed::Installed;
pub use sites::{Checked, Installation, Sites, Trust};
pub use transport::Location;

/// What ferry may load: with `require_signed`, only components of installed bundles signed by
/// one of `trusted_keys` (the built-in components are trusted as part of the binary).
#[derive(Clone, Debug, Default)]
pub struct Policy {
    /// Refuse components that are not in a bundle signed by a trusted key.
    pub require_signed: bool,
    /// The keys whose signatures are trusted.
    pub trusted_keys: Vec<PublicKey>,
}
