//! Compiled components on disk, keyed by the wasm's sha256 and the engine's compatibility
//! hash, so a second load skips Cranelift (a fraction of a millisecond instead of tens of
//! milliseconds).

use std::hash::{Hash as _, Hasher as _};
use std::path::Path;

use sha2::{Digest as _, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

use crate::error::{LoadErrorKind, PluginError};

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
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

/// The component for `wasm`: from `dir` if compiled there before by a compatible engine, else
/// compiled (and stored in `dir`).
pub(crate) fn compile(engine: &Engine, dir: Option<&Path>, sha256: &str, wasm: &[u8]) -> Result<Component, CompileError> {
    let Some(dir) = dir else {
        return Component::new(engine, wasm).map_err(|source| CompileError { kind: LoadErrorKind::Compile, source });
    };
    let mut h = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut h);
    let path = dir.join(format!("{sha256}-{:016x}.cwasm", h.finish()));
    // Read into memory rather than mapped: a file changed under a mapping would crash ferry.
    if let Ok(bytes) = std::fs::read(&path) {
        // SAFETY: the file was written by `precompile_component` of an engine with the same
        // compatibility hash, into ferry's own cache directory, and is named by the sha256
        // of the wasm it came from; wasmtime checks its header and version before use.
        #[allow(unsafe_code, reason = "loading ferry's own precompiled cache entry")]
        let cached = unsafe { Component::deserialize(engine, &bytes) };
        match cached {
            Ok(c) => return Ok(c),
            Err(e) => tracing::warn!("ignoring the unreadable cache entry {}: {e}", path.display()),
        }
    }
    let compiled = engine.precompile_component(wasm).map_err(|source| CompileError { kind: LoadErrorKind::Compile, source })?;
    // A failed cache write only costs the next load a compile.
    if let Err(e) = store(dir, &path, &compiled) {
        tracing::warn!("could not cache the compiled component in {}: {e}", dir.display());
    }
    // SAFETY: `compiled` was produced just now by `precompile_component` of this engine.
    #[allow(unsafe_code, reason = "loading what this engine just precompiled")]
    let component = unsafe { Component::deserialize(engine, &compiled) };
    component.map_err(|source| CompileError { kind: LoadErrorKind::Deserialize, source })
}

fn store(dir: &Path, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}
