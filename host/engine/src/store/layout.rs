//! An OCI image-layout directory as a [`Store`]. Tags live in `index.json` as
//! `org.opencontainers.image.ref.name`; referrers use the same `sha256-<hex>` tag schema as
//! registries without the referrers API, extended by the same function
//! ([`ferry_oci::referrers::add_referrer`]).
//!
//! Every store on one directory in this process shares its locks: one held across each
//! read-modify-write of `index.json`, one across each read-extend-write of a referrers index.
//! Other processes writing the same layout at the same time are not coordinated.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use ferry_oci::layout::{Layout, LayoutError};
use ferry_oci::{BlobStream, Descriptor, Manifest, Origin, media_type};
use futures_util::StreamExt;
use tokio::io::AsyncReadExt;

use super::{Store, Transfer};
use crate::error::Error;

/// Read size when streaming a blob from disk.
const READ_CHUNK: usize = 256 << 10;

/// An OCI layout directory.
pub struct LayoutStore {
    layout: Layout,
    locks: Arc<Locks>,
}

/// The locks of one layout directory, shared by every store open on it in this process.
#[derive(Default)]
struct Locks {
    /// Held across each read-modify-write of `index.json`.
    index: Mutex<()>,
    /// Held across each read-extend-write of a tag-schema referrers index.
    referrers: tokio::sync::Mutex<()>,
}

/// The locks of the layout at `path` (canonical, so two spellings of one directory share them).
fn locks_for(path: &Path) -> Arc<Locks> {
    static LOCKS: OnceLock<Mutex<HashMap<PathBuf, Arc<Locks>>>> = OnceLock::new();
    let key = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned());
    LOCKS.get_or_init(Mutex::default).lock().unwrap_or_else(|e| e.into_inner()).entry(key).or_default().clone()
}

impl LayoutStore {
    /// Opens a layout; with [`super::Access::Create`], makes it if missing.
    pub fn open(path: &Path, access: super::Access) -> Result<LayoutStore, Error> {
        let layout = match access {
            super::Access::Create => Layout::create(path),
            super::Access::Read => Layout::open(path),
        }
        .map_err(|e| Error::layout(path, e))?;
        Ok(LayoutStore { locks: locks_for(layout.root()), layout })
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
        let locks = self.locks.clone();
        let (desc, tag) = (desc.clone(), tag.to_owned());
        self.blocking(move |l| {
            let _guard = locks.index.lock().unwrap_or_else(|e| e.into_inner());
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
        Ok(BlobStream::verifying(desc.clone(), Origin::Layout { path }, stream))
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
        let tag = subject.digest.tag_schema();
        let _guard = self.locks.referrers.lock().await;
        let existing = match self.resolve(&tag).await {
            Ok(d) => Some(self.fetch_manifest(&d).await?),
            Err(Error::Layout { source: LayoutError::NotFound { .. }, .. }) => None,
            Err(e) => return Err(e),
        };
        match ferry_oci::referrers::add_referrer(subject, existing.as_ref(), referrer) {
            Ok(None) => Ok(()),
            Ok(Some(index)) => {
                self.push_manifest(&index, Some(&tag)).await?;
                Ok(())
            }
            Err(source) => Err(Error::ReferrersIndex { store: self.name(), source: Box::new(source) }),
        }
    }
}
