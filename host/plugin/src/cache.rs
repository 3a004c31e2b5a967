//! Compiled components on disk, so a second load skips Cranelift (about a millisecond instead
//! of tens or hundreds). An entry is native code that wasmtime runs as it is, so it is used
//! only if this user's ferry provably wrote it for this wasm and this engine.
//!
//! # Architecture
//!
//! - [`Cache::open`]: the directory ([`PrivateDir`]: created 0700, refused unless this user's
//!   alone) and its key; a refused directory means no cache, after a warning.
//! - [`compile`]: an entry is read, authenticated and deserialized, or the wasm is compiled and
//!   the entry (re)written. A refused entry is compiled again and replaced, after a warning.
//!
//! # Format
//!
//! - `key`: 64 random bytes from the OS, mode 0600: the HMAC-SHA256 key. A key that is not
//!   this user's alone (owner, mode) or not 64 bytes is replaced by a new one, which makes
//!   every entry compile again once.
//! - `{wasm sha256, hex}-{engine compatibility hash, 16 hex digits}.cwasm`: [`MAGIC`], then
//!   the 32-byte HMAC-SHA256 under the key of [`DOMAIN`], the wasm's sha256, the engine hash
//!   (8 bytes little-endian) and the compiled bytes; then the compiled bytes (wasmtime's
//!   `precompile_component`).

use std::hash::{Hash as _, Hasher as _};
use std::path::Path;

use hmac::{Hmac, Mac as _};
use rand_core::RngCore as _;
use sha2::{Digest as _, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

use crate::error::{LoadErrorKind, PluginError};
use crate::private_dir::{Access, PrivateDir, Publish, Refusal};

/// The start of every entry: the format, version 1.
const MAGIC: &[u8; 8] = b"ferrycw1";
/// Prefixed to what the MAC covers, so the key authenticates nothing but cache entries.
const DOMAIN: &[u8] = b"ferry compiled component v1\0";
/// The key file's name.
const KEY_FILE: &str = "key";
/// The key's length: HMAC-SHA256's block size, the longest key HMAC uses as it is.
const KEY_BYTES: usize = 64;
/// The length of an entry's MAC.
const MAC_BYTES: usize = 32;
/// The magic and the MAC before an entry's code.
const HEADER_BYTES: usize = MAGIC.len() + MAC_BYTES;
/// The largest entry read or written. The largest built-in compiles to a few MiB; a larger
/// file is refused before it is read, and a component that compiles larger is not cached.
const MAX_ENTRY_BYTES: u64 = 256 << 20;

type HmacSha256 = Hmac<Sha256>;

/// Why the cache, its key or an entry is not used.
#[derive(Debug, thiserror::Error)]
enum Untrusted {
    /// The directory or file itself (link, owner, mode, size, I/O).
    #[error(transparent)]
    File(#[from] Refusal),
    /// An entry that does not start with [`MAGIC`] and a MAC.
    #[error("it has no authentication code (not an entry this ferry wrote)")]
    Unauthenticated,
    /// An entry whose MAC does not match.
    #[error("its authentication code does not match (written with another key, or altered)")]
    Forged,
    /// A key file of the wrong length.
    #[error("it is {len} bytes, not {KEY_BYTES}")]
    KeyLength {
        /// Its length.
        len: usize,
    },
}

/// The wasm's sha256.
pub(crate) fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// The cache directory, checked and held open, with its key.
#[derive(Debug)]
pub(crate) struct Cache {
    dir: PrivateDir,
    key: [u8; KEY_BYTES],
}

/// Why [`compile`] gave no component.
#[derive(Debug)]
pub(crate) struct CompileError {
    kind: LoadErrorKind,
    source: wasmtime::Error,
}

impl CompileError {
    /// The error, for the component `name`.
    pub(crate) fn for_component(self, name: &str) -> PluginError {
        PluginError::Load { component: name.to_owned(), kind: self.kind, source: self.source.into() }
    }
}

impl Cache {
    /// The cache in `dir`, created if missing; `None`, after a warning that names the
    /// directory and why, when it is refused or its key cannot be had. Without a cache every
    /// run compiles again: slower, not wrong.
    pub(crate) fn open(dir: &Path) -> Option<Cache> {
        let opened = PrivateDir::open_or_create(dir).map_err(Untrusted::from).and_then(|dir| {
            let key = key(&dir)?;
            Ok(Cache { dir, key })
        });
        match opened {
            Ok(cache) => Some(cache),
            Err(why) => {
                tracing::warn!("not using the plugin cache {}: {why}; components are compiled on every run", dir.display());
                None
            }
        }
    }

    /// HMAC-SHA256 of what an entry's code stands for and the code itself.
    fn mac(&self, wasm_sha256: &[u8; 32], engine: u64, code: &[u8]) -> HmacSha256 {
        let mut mac = <HmacSha256 as hmac::digest::KeyInit>::new(&self.key.into());
        mac.update(DOMAIN);
        mac.update(wasm_sha256);
        mac.update(&engine.to_le_bytes());
        mac.update(code);
        mac
    }

    /// The entry `name` (its code from [`HEADER_BYTES`] on), if there is one and it is
    /// authenticated; a refused entry is warned about and treated as missing.
    fn read(&self, name: &str, wasm_sha256: &[u8; 32], engine: u64) -> Option<Vec<u8>> {
        let entry = self.dir.read(name, Access::Shared, MAX_ENTRY_BYTES).map_err(Untrusted::from).and_then(|bytes| {
            let Some(bytes) = bytes else { return Ok(None) };
            let code = bytes.get(HEADER_BYTES..).filter(|_| bytes.starts_with(MAGIC)).ok_or(Untrusted::Unauthenticated)?;
            let stored = &bytes[MAGIC.len()..HEADER_BYTES];
            self.mac(wasm_sha256, engine, code).verify_slice(stored).map_err(|_| Untrusted::Forged)?;
            Ok(Some(bytes))
        });
        entry.unwrap_or_else(|why| {
            tracing::warn!("refusing the cached component {}: {why}; compiling it again", self.dir.path().join(name).display());
            None
        })
    }

    /// Stores `code` as the entry `name`; a failure only costs the next load a compile.
    fn write(&self, name: &str, wasm_sha256: &[u8; 32], engine: u64, code: &[u8]) {
        if (HEADER_BYTES + code.len()) as u64 > MAX_ENTRY_BYTES {
            tracing::debug!("not caching {name}: {} bytes compiled, more than an entry may be", code.len());
            return;
        }
        let mac = self.mac(wasm_sha256, engine, code).finalize().into_bytes();
        if let Err(e) = self.dir.write(name, &[MAGIC, &mac, code], Publish::Replace) {
            tracing::warn!("could not cache the compiled component in {}: {e}", self.dir.path().display());
        }
    }
}

/// The cache's key: read, or made (and a refused one replaced) with the OS's randomness.
fn key(dir: &PrivateDir) -> Result<[u8; KEY_BYTES], Untrusted> {
    let path = || dir.path().join(KEY_FILE);
    // Twice at most: a key another ferry made between our read and our link is read again.
    for _ in 0..2 {
        let publish = match dir.read(KEY_FILE, Access::Secret, KEY_BYTES as u64) {
            Ok(Some(bytes)) => match <[u8; KEY_BYTES]>::try_from(bytes.as_slice()) {
                Ok(key) => return Ok(key),
                Err(_) => {
                    warn_key(&path(), &Untrusted::KeyLength { len: bytes.len() });
                    Publish::Replace
                }
            },
            Ok(None) => Publish::IfAbsent,
            Err(why) => {
                warn_key(&path(), &why.into());
                Publish::Replace
            }
        };
        let mut key = [0u8; KEY_BYTES];
        rand_core::OsRng
            .try_fill_bytes(&mut key)
            .map_err(|e| Refusal::Io { op: "making its key", source: std::io::Error::other(e.to_string()) })?;
        if dir.write(KEY_FILE, &[&key], publish).map_err(|source| Refusal::Io { op: "writing its key", source })? {
            return Ok(key);
        }
    }
    Err(Refusal::Io { op: "making its key", source: std::io::Error::other("another process keeps replacing it") }.into())
}

fn warn_key(path: &Path, why: &Untrusted) {
    tracing::warn!("refusing the plugin cache key {}: {why}; replacing it (cached components are compiled again)", path.display());
}

/// The engine's compatibility hash, as an entry's name and MAC carry it.
fn engine_hash(engine: &Engine) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut h);
    h.finish()
}

/// The component for `wasm` (whose sha256 is `wasm_sha256`): from `cache` if an entry there is
/// authenticated for it and this engine, else compiled (and stored in `cache`).
pub(crate) fn compile(engine: &Engine, cache: Option<&Cache>, wasm_sha256: &[u8; 32], wasm: &[u8]) -> Result<Component, CompileError> {
    let Some(cache) = cache else {
        return Component::new(engine, wasm).map_err(|source| CompileError { kind: LoadErrorKind::Compile, source });
    };
    let engine_id = engine_hash(engine);
    let name = format!("{}-{engine_id:016x}.cwasm", hex::encode(wasm_sha256));
    // Read into memory rather than mapped: a file changed under a mapping would crash ferry.
    if let Some(entry) = cache.read(&name, wasm_sha256, engine_id) {
        let code = &entry[HEADER_BYTES..];
        // SAFETY: `code` is native code, used only because (1) it was read, without following a
        // symbolic link, from a regular file owned by this user and not writable by group or
        // others, in a directory held open that is owned by this user and not writable by
        // group or others; and (2) its HMAC-SHA256 under this user's cache key (a file only
        // this user can read) matches over `code`, the sha256 of the wasm being loaded and
        // this engine's compatibility hash. So this user's ferry wrote it, from
        // `precompile_component` of this wasm by a compatible engine. wasmtime also checks its
        // header and version before use.
        #[allow(unsafe_code, reason = "loading an authenticated entry of ferry's own compile cache")]
        let cached = unsafe { Component::deserialize(engine, code) };
        match cached {
            Ok(component) => {
                tracing::debug!("{name}: loaded from the cache");
                return Ok(component);
            }
            Err(e) => tracing::warn!("ignoring the unreadable cache entry {}: {e}", cache.dir.path().join(&name).display()),
        }
    }
    let compiled = engine.precompile_component(wasm).map_err(|source| CompileError { kind: LoadErrorKind::Compile, source })?;
    cache.write(&name, wasm_sha256, engine_id, &compiled);
    // SAFETY: `compiled` was produced just now by `precompile_component` of this engine.
    #[allow(unsafe_code, reason = "loading what this engine just precompiled")]
    let component = unsafe { Component::deserialize(engine, &compiled) };
    component.map_err(|source| CompileError { kind: LoadErrorKind::Deserialize, source })
}
