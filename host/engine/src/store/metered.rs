//! A store that reports the bytes of every blob read from it as [`Event::Progress`], so a copy
//! between registries shows bytes as they flow rather than when a whole blob is in.

use async_trait::async_trait;
use ferry_oci::{BlobStream, Descriptor, Manifest};

use super::{Store, Transfer};
use crate::error::Error;
use crate::events::{Event, Events};

/// `inner`, with each blob read metered.
pub(crate) struct Metered<'a> {
    pub(crate) inner: &'a dyn Store,
    pub(crate) events: Events,
}

#[async_trait]
impl Store for Metered<'_> {
    fn name(&self) -> String {
        self.inner.name()
    }

    fn registry_repository(&self) -> Option<(String, String)> {
        self.inner.registry_repository()
    }

    async fn resolve(&self, reference: &str) -> Result<Descriptor, Error> {
        self.inner.resolve(reference).await
    }

    async fn fetch_manifest(&self, desc: &Descriptor) -> Result<Manifest, Error> {
        self.inner.fetch_manifest(desc).await
    }

    async fn manifest_exists(&self, desc: &Descriptor) -> Result<bool, Error> {
        self.inner.manifest_exists(desc).await
    }

    async fn manifest_readable(&self, desc: &Descriptor) -> Result<Option<Manifest>, Error> {
        self.inner.manifest_readable(desc).await
    }

    async fn blob_exists(&self, desc: &Descriptor) -> Result<bool, Error> {
        self.inner.blob_exists(desc).await
    }

    async fn fetch_blob(&self, desc: &Descriptor) -> Result<BlobStream, Error> {
        let events = self.events.clone();
        Ok(self.inner.fetch_blob(desc).await?.observed(move |bytes| events(&Event::Progress { bytes })))
    }

    async fn push_blob(&self, desc: &Descriptor, source: &dyn Store) -> Result<Transfer, Error> {
        self.inner.push_blob(desc, source).await
    }

    async fn push_blob_stream(&self, desc: &Descriptor, stream: BlobStream) -> Result<Transfer, Error> {
        self.inner.push_blob_stream(desc, stream).await
    }

    async fn push_manifest(&self, manifest: &Manifest, tag: Option<&str>) -> Result<bool, Error> {
        self.inner.push_manifest(manifest, tag).await
    }

    async fn push_manifest_placed(&self, manifest: &Manifest, tag: Option<&str>) -> Result<bool, Error> {
        self.inner.push_manifest_placed(manifest, tag).await
    }

    async fn referrers(&self, desc: &Descriptor) -> Result<Vec<Descriptor>, Error> {
        self.inner.referrers(desc).await
    }

    async fn cosign_attachments(&self, desc: &Descriptor) -> Result<Vec<(String, Descriptor)>, Error> {
        self.inner.cosign_attachments(desc).await
    }

    async fn record_referrer(&self, subject: &Descriptor, referrer: &Manifest, indexed: bool) -> Result<(), Error> {
        self.inner.record_referrer(subject, referrer, indexed).await
    }
}
