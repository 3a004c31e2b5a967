//! A repository in a registry as a [`Store`].

use async_trait::async_trait;
use ferry_oci::{BlobStream, Descriptor, Manifest};
use ferry_registry::{Mount, Repository};

use super::{Store, Transfer};
use crate::error::Error;

/// A registry repository.
pub struct RegistryStore {
    repo: Repository,
}

impl RegistryStore {
    /// Wraps a repository handle.
    pub fn new(repo: Repository) -> RegistryStore {
        RegistryStore { repo }
    }
}

#[async_trait]
impl Store for RegistryStore {
    fn name(&self) -> String {
        format!("{}/{}", self.repo.registry(), self.repo.name())
    }

    fn registry_repository(&self) -> Option<(String, String)> {
        Some((self.repo.host().to_owned(), self.repo.name().to_owned()))
    }

    async fn resolve(&self, reference: &str) -> Result<Descriptor, Error> {
        Ok(self.repo.resolve(reference).await?)
    }

    async fn fetch_manifest(&self, desc: &Descriptor) -> Result<Manifest, Error> {
        Ok(self.repo.fetch_manifest(desc).await?)
    }

    async fn manifest_exists(&self, desc: &Descriptor) -> Result<bool, Error> {
        Ok(self.repo.manifest_exists(desc).await?)
    }

    async fn blob_exists(&self, desc: &Descriptor) -> Result<bool, Error> {
        Ok(self.repo.blob_present(desc).await?)
    }

    async fn fetch_blob(&self, desc: &Descriptor) -> Result<BlobStream, Error> {
        Ok(self.repo.fetch_blob(desc).await?)
    }

    async fn push_blob(&self, desc: &Descriptor, source: &dyn Store) -> Result<Transfer, Error> {
        let mut session = None;
        if let Some((host, from)) = source.registry_repository()
            && host == self.repo.host()
            && from != self.repo.name()
        {
            match self.repo.mount_blob(desc, &from).await? {
                Mount::Mounted => return Ok(Transfer::Mounted),
                Mount::Upload(s) => session = Some(s),
            }
        }
        // The source stream is one-shot; the upload holds what it needs to re-send (the
        // whole blob up to 16 MiB, else the chunk in flight) and retries from that.
        self.repo.push_blob_stream(desc, session, source.fetch_blob(desc).await?).await?;
        Ok(Transfer::Uploaded)
    }

    async fn push_blob_stream(&self, desc: &Descriptor, stream: BlobStream) -> Result<Transfer, Error> {
        self.repo.push_blob_stream(desc, None, stream).await?;
        Ok(Transfer::Uploaded)
    }

    async fn push_manifest(&self, manifest: &Manifest, tag: Option<&str>) -> Result<bool, Error> {
        Ok(self.repo.push_manifest(&pushed_as(manifest, tag), &manifest.descriptor().media_type, manifest.bytes()).await?)
    }

    async fn push_manifest_placed(&self, manifest: &Manifest, tag: Option<&str>) -> Result<bool, Error> {
        Ok(self.repo.push_manifest_placed(&pushed_as(manifest, tag), &manifest.descriptor().media_type, manifest.bytes()).await?)
    }

    async fn referrers(&self, desc: &Descriptor) -> Result<Vec<Descriptor>, Error> {
        Ok(self.repo.referrers(desc).await?)
    }

    async fn cosign_attachments(&self, desc: &Descriptor) -> Result<Vec<(String, Descriptor)>, Error> {
        Ok(self.repo.cosign_attachments(desc).await?)
    }

    async fn record_referrer(&self, subject: &Descriptor, referrer: &Manifest, indexed: bool) -> Result<(), Error> {
        Ok(self.repo.record_referrer(subject, referrer, indexed).await?)
    }
}

/// The reference a manifest is PUT under: its tag, or its digest when untagged.
fn pushed_as(manifest: &Manifest, tag: Option<&str>) -> String {
    tag.map_or_else(|| manifest.descriptor().digest.to_string(), str::to_owned)
}
