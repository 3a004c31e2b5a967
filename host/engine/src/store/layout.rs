//! An OCI image-layout directory as a [`Store`]. Tags live in `index.json` as
//! `org.opencontainers.image.ref.name`; referrers use the same `sha256-<hex>` tag schema as
//! registries without the referrers API.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use ferry_oci::layout::{Layout, LayoutError};
use ferry_oci::{Descriptor, Index, Manifest, gojson, media_type};
use ferry_registry::BlobStream;
use futures_util::StreamExt;
use tokio::io::AsyncReadExt;

use super::{Store, Transfer};
use crate::error::Error;

/// Read size when streaming a blob from disk.
const READ_CHUNK: usize = 256 << 10;

/// An OCI layout directory.
pub struct LayoutStore {
    layout: Layout,
    /// Serialises read-modify-write of `index.json`.
    index_lock: Arc<Mutex<()>>,
}

impl LayoutStore {
    /// Opens a layout; with `create`, makes it if missing.
    pub fn open(path: &Path, access: super::Access) -> Result<LayoutStore, Error> {
        let layout = match access {
            super::Access::Create => Layout::create(path),
            super::Access::Read => Layout::open(path),
        }
        .map_err(|e| Error::layout(path, e))?;
        Ok(LayoutStore { layout, index_lock: Arc::new(Mutex::new(())) })
    }

    fn path(&self) -> PathBuf {
        self.layout.root().to_owned()
    }

    async fn blocking<T: Send + 'static>(&self, f: impl FnOnce(Layout) -> Result<T, LayoutError> + Send + 'static) -> Result<T, Error> {
        let layout = self.layout.clone();
        let path = self.path();
        match tokio::task::spawn_blocking(move || f(layout)).await {
            Ok(r) => r.map_err(|e| Error::layout(&path, e)),
            Err(join) => Err(Error::layout(&path, LayoutError::Io(std::io::Error::other(join.to_string())))),
        }
    }

    async fn tag(&self, desc: &Descriptor, tag: &str) -> Result<(), Error> {
        let lock = self.index_lock.clone();
        let (desc, tag) = (desc.clone(), tag.to_owned());
        self.blocking(move |l| {
            let _guard = lock.lock().unwrap_or_else(|e| e.into_inner());
            l.tag(&desc, &tag)
        })
        .await
    }
}

#[async_trait]
impl Store for LayoutStore {
    fn name(&self) -> String {
        format!("oci:{}", self.layout.root().display())
    }

    async fn resolve(&self, reference: &str) -> Result<Descriptor, Error> {
        let reference = reference.to_owned();
        let mut d = self.blocking(move |l| l.resolve(&reference)).await?;
        d.annotations.clear();
        Ok(d)
    }

    async fn fetch_manifest(&self, desc: &Descriptor) -> Result<Manifest, Error> {
        let d = desc.clone();
        let bytes = self.blocking(move |l| l.read_blob(&d)).await?;
        Manifest::from_bytes(desc.clone(), bytes)
            .map_err(|source| Error::Manifest { what: format!("{} in {}", desc.digest, self.name()), source })
    }

    async fn manifest_exists(&self, desc: &Descriptor) -> Result<bool, Error> {
        self.blob_exists(desc).await
    }

    async fn blob_exists(&self, desc: &Descriptor) -> Result<bool, Error> {
        let d = desc.clone();
        self.blocking(move |l| l.has_blob(&d.digest, d.size)).await
    }

    async fn fetch_blob(&self, desc: &Descriptor) -> Result<BlobStream, Error> {
        let path = self.layout.blob_path(&desc.digest);
        let file = tokio::fs::File::open(&path).await.map_err(|e| {
            Error::layout(self.layout.root(), LayoutError::Io(std::io::Error::new(e.kind(), format!("{}: {e}", path.display()))))
        })?;
        let stream = futures_util::stream::unfold(Some(file), |file| async move {
            let mut file = file?;
            let mut buf = BytesMut::zeroed(READ_CHUNK);
            match file.read(&mut buf).await {
                Ok(0) => None,
                Ok(n) => {
                    buf.truncate(n);
                    Some((Ok::<Bytes, std::io::Error>(buf.freeze()), Some(file)))
                }
                Err(e) => Some((Err(e), None)),
            }
        });
        let what = format!("blob {} in {}", desc.digest, self.name());
        Ok(BlobStream::verifying(desc.clone(), "local", what, stream.map(|r| r.map_err(io_kind))))
    }

    async fn push_blob(&self, desc: &Descriptor, source: &dyn Store) -> Result<Transfer, Error> {
        self.push_blob_stream(desc, source.fetch_blob(desc).await?).await
    }

    async fn push_blob_stream(&self, desc: &Descriptor, mut stream: BlobStream) -> Result<Transfer, Error> {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Bytes>(4);
        let d = desc.clone();
        let writer = self.blocking(move |l| {
            let mut w = l.blob_writer(&d)?;
            while let Some(chunk) = rx.blocking_recv() {
                std::io::Write::write_all(&mut w, &chunk)?;
            }
            Ok(w)
        });
        // The feeder owns the sender, so the writer sees the end of input however the feeder
        // ends, a failed source included.
        let feed = async move {
            while let Some(chunk) = stream.next().await {
                if tx.send(chunk?).await.is_err() {
                    break;
                }
            }
            Ok::<(), Error>(())
        };
        let (writer, fed) = tokio::join!(writer, feed);
        fed?;
        let w = writer?;
        // Commit only after the source stream verified to its end.
        self.blocking(move |_| w.commit()).await?;
        Ok(Transfer::Uploaded)
    }

    async fn push_manifest(&self, manifest: &Manifest, tag: Option<&str>) -> Result<bool, Error> {
        let d = manifest.descriptor().clone();
        let bytes = manifest.bytes().to_vec();
        self.blocking(move |l| if l.has_blob(&d.digest, d.size)? { Ok(()) } else { l.write_blob(&d, bytes.as_slice()) }).await?;
        if let Some(t) = tag {
            self.tag(manifest.descriptor(), t).await?;
        }
        Ok(false)
    }

    async fn referrers(&self, desc: &Descriptor) -> Result<Vec<Descriptor>, Error> {
        match self.resolve(&desc.digest.tag_schema()).await {
            Ok(d) if media_type::is_index(&d.media_type) => Ok(self.fetch_manifest(&d).await?.view().manifests.clone()),
            Ok(_) | Err(Error::Layout { source: LayoutError::NotFound { .. }, .. }) => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }

    async fn cosign_attachments(&self, desc: &Descriptor) -> Result<Vec<(String, Descriptor)>, Error> {
        let mut out = Vec::new();
        for suffix in ferry_registry::COSIGN_SUFFIXES {
            let tag = format!("{}.{suffix}", desc.digest.tag_schema());
            match self.resolve(&tag).await {
                Ok(d) => out.push((tag, d)),
                Err(Error::Layout { source: LayoutError::NotFound { .. }, .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    async fn record_referrer(&self, subject: &Descriptor, referrer: &Manifest, _indexed: bool) -> Result<(), Error> {
        let mut list = self.referrers(subject).await?;
        if list.iter().any(|d| d.digest == referrer.descriptor().digest) {
            return Ok(());
        }
        let entry = referrer.referrer_descriptor();
        list.push(entry);
        let mut index = Index::new();
        index.manifests = list;
        let bytes = gojson::to_vec(&index);
        let manifest = Manifest::from_bytes(Descriptor::of_bytes(media_type::OCI_INDEX, &bytes), bytes)
            .map_err(|source| Error::Manifest { what: "referrers index".to_owned(), source })?;
        self.push_manifest(&manifest, Some(&subject.digest.tag_schema())).await?;
        Ok(())
    }
}

fn io_kind(e: std::io::Error) -> ferry_registry::ErrorKind {
    ferry_registry::ErrorKind::Protocol { what: "reading a layout blob".to_owned(), detail: e.to_string() }
}
