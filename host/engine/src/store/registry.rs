//! A repository in a registry as a [`Store`].

use async_trait::async_trait;
use bytes::Bytes;
use ferry_oci::{Descriptor, Manifest};
use ferry_registry::{BlobStream, Mount, Repository};

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
        if desc.size <= SMALL_BLOB {
            // Configs and other small blobs: one request, replayable on retry.
            let bytes = source.fetch_blob(desc).await?.collect().await?;
            self.repo.push_blob_bytes(desc, Bytes::from(bytes)).await?;
            return Ok(Transfer::Uploaded);
        }
        self.repo
            .push_blob(desc, session, || async {
                source.fetch_blob(desc).await.map_err(|e| match e {
                    Error::Registry(e) => e,
                    other => self.repo_error(other.to_string()),
                })
            })
            .await?;
        Ok(Transfer::Uploaded)
    }

    async fn push_blob_stream(&self, desc: &Descriptor, stream: BlobStream) -> Result<Transfer, Error> {
        if desc.size <= SMALL_BLOB {
            self.repo.push_blob_bytes(desc, Bytes::from(stream.collect().await?)).await?;
            return Ok(Transfer::Uploaded);
        }
        // The stream is one-shot: a 413 fallback that needs it again fails with a clear error.
        let once = std::sync::Mutex::new(Some(stream));
        self.repo
            .push_blob(desc, None, || {
                let taken = once.lock().unwrap_or_else(|e| e.into_inner()).take();
                async move {
                    taken.ok_or_else(|| {
                        self.repo_error("the archive stream cannot be read twice (upload refused; chunked retry impossible)".to_owned())
                    })
                }
            })
            .await?;
        Ok(Transfer::Uploaded)
    }

    async fn push_manifest(&self, manifest: &Manifest, tag: Option<&str>) -> Result<bool, Error> {
        let d = manifest.descriptor();
        let reference = match tag {
            Some(t) => t.to_owned(),
            None => d.digest.to_string(),
        };
        Ok(self.repo.push_manifest(&reference, &d.media_type, manifest.bytes()).await?)
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

/// Blobs up to this size are pushed from memory in one request.
const SMALL_BLOB: u64 = 1 << 20;

impl RegistryStore {
    fn repo_error(&self, detail: String) -> ferry_registry::Error {
        ferry_registry::Error {
            host: self.repo.host().to_owned(),
            kind: ferry_registry::ErrorKind::Body { what: format!("reading the source of an upload to {}", self.name()), detail },
        }
    }
}
