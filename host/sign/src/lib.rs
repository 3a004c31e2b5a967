//! ferry's signatures, one concern shared by plugin bundles and deliveries: ECDSA P-256 keys
//! as PEM files that openssl and cosign read ([`keys`]), and cosign's "simple signing"
//! payloads and signature manifests ([`cosign`]), including the claim that makes a signature a
//! ferry delivery's. Nothing here reads a registry or a file but the key files it is given.

pub mod cosign;
pub mod keys;

pub use keys::{KeyError, PemError, PrivateKey, PublicKey};
