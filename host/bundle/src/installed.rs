//! The installed-plugin store: an OCI layout directory holding each installed bundle, tagged
//! by its name, with its signatures. Plugins are found here by component name; what is loaded
//! is read back through the same checks as at install time.
//!
//! Several ferry processes may use one store. Every change (install, remove) holds an
//! exclusive lock on the store's [`LOCK_FILE`] from its first read of `index.json` to its
//! last write and prune, so two installs never lose each other's tag or prune what the other
//! is still copying; reads hold a shared lock. The lock is an advisory `flock`, released by
//! the kernel when its holder exits, so a crashed ferry leaves no stale lock. `index.json` is
//! always replaced whole (a temporary file renamed over it).

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ferry_engine::copy::{Copier, CopyState};
use ferry_engine::store::{LayoutStore, Store};
use ferry_oci::layout::Layout;
use ferry_oci::{Digest, Manifest, annotations};

use crate::Policy;
use crate::bundle::{self, Opened};
use crate::error::BundleError;
use crate::format::ComponentEntry;

/// The lock file in the store's directory.
pub const LOCK_FILE: &str = "ferry-store.lock";

/// The store of installed bundles.
pub struct Installed {
    store: LayoutStore,
    root: PathBuf,
}

/// A lock on the store, released when dropped (its descriptor closes).
struct StoreLock {
    _file: Option<File>,
}

/// Shared for reading the store, exclusive for changing it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Access {
    Read,
    Change,
}

impl Installed {
    /// Opens the store at `root`, creating it when missing.
    pub fn open(root: &Path) -> Result<Installed, BundleError> {
        Ok(Installed { store: LayoutStore::open(root, ferry_engine::store::Access::Create)?, root: root.to_owned() })
    }

    /// The store, for reading components and signatures.
    pub fn store(&self) -> &dyn Store {
        &self.store
    }

    /// Takes the store's lock; waits (on a blocking thread) while another process holds it.
    /// Reading goes on without a lock when the lock file cannot be opened (a store the user
    /// may only read); changing does not.
    async fn lock(&self, access: Access) -> Result<StoreLock, BundleError> {
        let path = self.root.join(LOCK_FILE);
        let taken = tokio::task::spawn_blocking(move || {
            let file = match OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path) {
                Ok(f) => f,
                Err(_) if access == Access::Read => return Ok(StoreLock { _file: None }),
                Err(source) => return Err(BundleError::Lock { path, source }),
            };
            let locked = if access == Access::Change { file.lock() } else { file.lock_shared() };
            locked.map_err(|source| BundleError::Lock { path, source })?;
            Ok(StoreLock { _file: Some(file) })
        })
        .await;
        match taken {
            Ok(lock) => lock,
            Err(join) => match join.try_into_panic() {
                Ok(panic) => std::panic::resume_unwind(panic),
                Err(e) => Err(BundleError::Lock { path: self.root.join(LOCK_FILE), source: std::io::Error::other(e) }),
            },
        }
    }

    /// Every installed bundle by name, each opened or with the reason it cannot be (one damaged
    /// bundle does not hide the others).
    pub async fn bundles(&self) -> Result<Vec<(String, Result<Opened, BundleError>)>, BundleError> {
        let _lock = self.lock(Access::Read).await?;
        self.bundles_unlocked().await
    }

    async fn bundles_unlocked(&self) -> Result<Vec<(String, Result<Opened, BundleError>)>, BundleError> {
        let mut out = Vec::new();
        let mut names = self.names()?;
        names.sort();
        for name in names {
            let opened = bundle::open(&self.store, &name).await;
            out.push((name, opened));
        }
        Ok(out)
    }

    /// The installed bundle holding the component `name`, and its entry.
    pub async fn find(&self, name: &str) -> Result<(Opened, ComponentEntry), BundleError> {
        let _lock = self.lock(Access::Read).await?;
        self.find_unlocked(name).await
    }

    async fn find_unlocked(&self, name: &str) -> Result<(Opened, ComponentEntry), BundleError> {
        let bundles = self.bundles_unlocked().await?;
        let mut known = Vec::new();
        let mut damaged = Vec::new();
        for (bundle_name, b) in bundles {
            match b {
                Ok(b) => match b.entry(name) {
                    Some(entry) => return Ok((b.clone(), entry.clone())),
                    None => known.extend(b.metadata.components.iter().map(|c| c.name.clone())),
                },
                Err(e) => damaged.push(format!("{bundle_name} ({e})")),
            }
        }
        let damaged = if damaged.is_empty() { String::new() } else { format!("; unreadable: {}", damaged.join(", ")) };
        Err(BundleError::Installed(format!(
            "no installed plugin is named {name:?} (installed: {}{damaged}; see `ferry plugin list`)",
            if known.is_empty() { "none".to_owned() } else { known.join(", ") }
        )))
    }

    /// The wasm of the installed component `name`, with its bundle and entry. Under a policy
    /// that requires signatures, its bundle must be signed by one of the policy's keys as it is
    /// now; the bytes are checked against the pinned sha256 either way.
    pub async fn component(&self, name: &str, policy: &Policy) -> Result<(Opened, ComponentEntry, Vec<u8>), BundleError> {
        let _lock = self.lock(Access::Read).await?;
        let (opened, entry) = self.find_unlocked(name).await?;
        if policy.require_signed {
            bundle::trusted_signer(&opened, &policy.trusted_keys)?;
        }
        let wasm = bundle::component_bytes(&self.store, &opened, &entry).await?;
        Ok((opened, entry, wasm))
    }

    /// Copies `opened` and its signatures from `src` into the store, under its name, replacing
    /// an earlier version of the same bundle. Returns the version it replaced. Holds the
    /// store's exclusive lock throughout.
    pub async fn install(&self, src: &dyn Store, opened: &Opened) -> Result<Option<String>, BundleError> {
        let _lock = self.lock(Access::Change).await?;
        let name = &opened.metadata.name;
        let mut replaced = None;
        for (other_name, other) in self.bundles_unlocked().await? {
            // A damaged bundle of another name cannot be checked for clashes; `find` skips it.
            let Ok(other) = other else {
                continue;
            };
            if other_name == *name {
                replaced = Some(other.metadata.version.clone());
                continue;
            }
            if let Some(c) = opened.metadata.components.iter().find(|c| other.entry(&c.name).is_some()) {
                return Err(BundleError::Installed(format!(
                    "{}: component {:?} is already installed from bundle {}; remove that bundle first (`ferry plugin remove {}`)",
                    opened.title(),
                    c.name,
                    other.metadata.name,
                    other.metadata.name
                )));
            }
        }
        let state = CopyState::new(4, Arc::new(|_| {}));
        Copier { src, dst: &self.store, state: &state, recursive: true }.copy(opened.descriptor()).await?;
        // Tag last: a bundle is listed only once everything it needs is in the store.
        self.store.push_manifest(&opened.manifest, Some(name)).await?;
        self.prune()?;
        Ok(replaced)
    }

    /// Removes the bundle `name` and whatever only it used; returns it as it was, if it could
    /// still be read. Holds the store's exclusive lock throughout.
    pub async fn remove(&self, name: &str) -> Result<Option<Opened>, BundleError> {
        let _lock = self.lock(Access::Change).await?;
        let names = self.names()?;
        if !names.iter().any(|n| n == name) {
            return Err(BundleError::Installed(format!(
                "no bundle named {name:?} is installed (installed: {})",
                if names.is_empty() { "none".to_owned() } else { names.join(", ") }
            )));
        }
        let opened = bundle::open(&self.store, name).await.ok();
        let layout = self.layout()?;
        let mut index = layout.index().map_err(|e| self.error(e))?;
        index.manifests.retain(|d| d.annotations.get(annotations::REF_NAME).is_none_or(|n| n != name));
        layout.write_index(&index).map_err(|e| self.error(e))?;
        self.prune()?;
        Ok(opened)
    }

    /// Bundle names: the tags that are not referrer or signature tags.
    fn names(&self) -> Result<Vec<String>, BundleError> {
        let index = self.layout()?.index().map_err(|e| self.error(e))?;
        Ok(index
            .manifests
            .iter()
            .filter_map(|d| d.annotations.get(annotations::REF_NAME))
            .filter(|n| !n.starts_with("sha256-"))
            .cloned()
            .collect())
    }

    /// Drops the referrer and signature tags of bundles no longer installed, then every blob
    /// that no remaining tag reaches.
    fn prune(&self) -> Result<(), BundleError> {
        let layout = self.layout()?;
        let mut index = layout.index().map_err(|e| self.error(e))?;
        let kept: HashSet<String> = index
            .manifests
            .iter()
            .filter(|d| d.annotations.get(annotations::REF_NAME).is_some_and(|n| !n.starts_with("sha256-")))
            .map(|d| d.digest.tag_schema())
            .collect();
        index.manifests.retain(|d| match d.annotations.get(annotations::REF_NAME) {
            Some(n) if n.starts_with("sha256-") => kept.contains(n.trim_end_matches(".sig")),
            Some(_) => true,
            None => false,
        });
        layout.write_index(&index).map_err(|e| self.error(e))?;
        let mut reachable: HashSet<Digest> = HashSet::new();
        let mut work: Vec<_> = index.manifests.clone();
        while let Some(d) = work.pop() {
            if !reachable.insert(d.digest.clone()) || !d.is_manifest() {
                continue;
            }
            let bytes = layout.read_blob(&d).map_err(|e| self.error(e))?;
            let manifest =
                Manifest::from_bytes(d.clone(), bytes).map_err(|e| BundleError::Installed(format!("{}: {e}", self.root.display())))?;
            work.extend(manifest.successors());
        }
        let blobs = self.root.join("blobs").join("sha256");
        let Ok(entries) = std::fs::read_dir(&blobs) else { return Ok(()) };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let digest: Option<Digest> = format!("sha256:{name}").parse().ok();
            // Names that are not digests (a write in progress) are not ours to remove.
            if digest.is_some_and(|d| !reachable.contains(&d)) {
                std::fs::remove_file(entry.path()).map_err(|e| BundleError::Installed(format!("{}: {e}", entry.path().display())))?;
            }
        }
        Ok(())
    }

    fn layout(&self) -> Result<Layout, BundleError> {
        Layout::open(&self.root).map_err(|e| self.error(e))
    }

    fn error(&self, e: ferry_oci::layout::LayoutError) -> BundleError {
        BundleError::Store(ferry_engine::Error::Layout { path: self.root.clone(), source: e })
    }
}
