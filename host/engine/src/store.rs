//! Where images live: a registry repository or an OCI layout directory, behind one trait so
//! every workflow copies between any two of them.

mod layout;
mod metered;
mod registry;

use async_trait::async_trait;
use ferry_oci::{BlobStream, Descriptor, ImageRef, Manifest};
use ferry_registry::Client;

use crate::error::Error;

pub use layout::LayoutStore;
pub(crate) use metered::Metered;
pub use registry::RegistryStore;

/// How a blob reached its destination.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Transfer {
    /// The bytes were uploaded.
    Uploaded,
    /// The registry linked it from another repository.
    Mounted,
}

/// A place holding manifests and blobs.
#[async_trait]
pub trait Store: Send + Sync {
    /// Names the store in messages (`registry/repo`, `oci:/path`).
    fn name(&self) -> String;

    /// Network host and repository name, for registries; used to decide on mounts.
    fn registry_repository(&self) -> Option<(String, String)> {
        None
    }

    /// Resolves a tag or digest string.
    async fn resolve(&self, reference: &str) -> Result<Descriptor, Error>;

    /// Fetches and verifies a manifest.
    async fn fetch_manifest(&self, desc: &Descriptor) -> Result<Manifest, Error>;

    /// Whether a manifest answers by digest. Never proof that its graph is complete: a
    /// registry may answer for bytes pushed as a plain blob.
    async fn manifest_exists(&self, desc: &Descriptor) -> Result<bool, Error>;

    /// The manifest `desc` names, read back from this store by digest and parsed, or `None`
    /// when the store cannot serve it as a manifest. What a manifest this run did not PUT must
    /// show before a tag may depend on it (with its children checked in turn).
    async fn manifest_readable(&self, desc: &Descriptor) -> Result<Option<Manifest>, Error> {
        if !self.manifest_exists(desc).await? {
            return Ok(None);
        }
        match self.fetch_manifest(desc).await {
            Ok(m) => Ok(Some(m)),
            Err(e) if e.is_transient() => Err(e),
            Err(_) => Ok(None),
        }
    }

    /// Whether a blob is present with the descriptor's size (what a blob this run did not
    /// upload must show before a tag may depend on it).
    async fn blob_exists(&self, desc: &Descriptor) -> Result<bool, Error>;

    /// Streams a blob, verified as it flows.
    async fn fetch_blob(&self, desc: &Descriptor) -> Result<BlobStream, Error>;

    /// Copies a blob from `source` into this store (mounting when both are repositories of
    /// one registry).
    async fn push_blob(&self, desc: &Descriptor, source: &dyn Store) -> Result<Transfer, Error>;

    /// Stores a blob from a verified stream that cannot be replayed (an archive entry).
    async fn push_blob_stream(&self, desc: &Descriptor, stream: BlobStream) -> Result<Transfer, Error>;

    /// Stores a manifest by digest, and tags it when `tag` is given. Returns whether the
    /// store indexed its `subject` itself.
    async fn push_manifest(&self, manifest: &Manifest, tag: Option<&str>) -> Result<bool, Error>;

    /// [`Store::push_manifest`] for a manifest every child of which this run has itself
    /// placed or verified: a registry may repeat an index PUT that raced a child's re-PUT.
    async fn push_manifest_placed(&self, manifest: &Manifest, tag: Option<&str>) -> Result<bool, Error> {
        self.push_manifest(manifest, tag).await
    }

    /// Manifests whose `subject` is `desc`.
    async fn referrers(&self, desc: &Descriptor) -> Result<Vec<Descriptor>, Error>;

    /// cosign's tag attachments of `desc`: `(tag, descriptor)`.
    async fn cosign_attachments(&self, desc: &Descriptor) -> Result<Vec<(String, Descriptor)>, Error>;

    /// Makes a pushed referrer discoverable from its subject. Where the store keeps a
    /// tag-schema index, the index is read, extended and written under a lock, and one that
    /// cannot be read is an error ([`Error::ReferrersIndex`]), never replaced.
    async fn record_referrer(&self, subject: &Descriptor, referrer: &Manifest, indexed: bool) -> Result<(), Error>;
}

/// Whether opening a store may create it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// It must exist (a layout directory with its `oci-layout` file).
    Read,
    /// A missing layout directory is created; a registry repository is created by its first push.
    Create,
}

/// Opens the store an image reference names.
pub fn open_store(client: &Client, reference: &ImageRef, access: Access) -> Result<Box<dyn Store>, Error> {
    Ok(match reference {
        ImageRef::Registry(r) => Box::new(RegistryStore::new(client.repository(r))),
        ImageRef::Layout(l) => Box::new(LayoutStore::open(&l.path, access)?),
    })
}
