//! Where bundles are read from and written to: a file (ferry's archive format, a name ending
//! in `.tar` or an existing file), an `oci:PATH[:TAG]` layout or a registry reference. A file
//! is read, verified, into a temporary layout, and written beside its final name and renamed
//! when complete.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use ferry_archive::Geometry;
use ferry_engine::deserialize::{ArchiveSource, DeserializeOptions, deserialize};
use ferry_engine::events::no_events;
use ferry_engine::serialize::{SerializeOptions, serialize};
use ferry_engine::store::{Access, LayoutStore, Store, open_store};
use ferry_oci::{Descriptor, ImageRef, Manifest};
use ferry_registry::Client;

use crate::bundle::{self, Opened};
use crate::error::BundleError;
use crate::format::Metadata;

/// The tag of a bundle inside a bundle file and its temporary layout.
const FILE_TAG: &str = "bundle";

/// Where a bundle is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    /// A bundle file.
    File(PathBuf),
    /// A layout or registry reference.
    Image(ImageRef),
}

impl FromStr for Location {
    type Err = BundleError;

    fn from_str(text: &str) -> Result<Location, BundleError> {
        if !text.starts_with("oci:") && (text.ends_with(".tar") || Path::new(text).is_file()) {
            return Ok(Location::File(PathBuf::from(text)));
        }
        text.parse().map(Location::Image).map_err(|source| BundleError::Location { text: text.to_owned(), source })
    }
}

/// A bundle opened for reading: the store it is in and its tag or digest there.
pub struct Source {
    /// The store.
    pub store: Box<dyn Store>,
    /// The bundle's tag or digest in it.
    pub reference: String,
    /// A bundle file's temporary layout, removed when the source is dropped.
    _temp: Option<tempfile::TempDir>,
}

impl Source {
    /// Opens the bundle at `location`.
    pub async fn open(client: &Client, location: &Location) -> Result<Source, BundleError> {
        match location {
            Location::Image(image) => {
                Ok(Source { store: open_store(client, image, Access::Read)?, reference: image.reference_or_default(), _temp: None })
            }
            Location::File(path) => {
                if !path.is_file() {
                    return Err(BundleError::NoSuchFile(path.clone()));
                }
                let temp =
                    tempfile::tempdir().map_err(|source| BundleError::Io { what: "making a temporary directory".to_owned(), source })?;
                let store = LayoutStore::open(temp.path(), Access::Create)?;
                let input = ArchiveSource::open(&path.display().to_string(), 0)?;
                deserialize(vec![input], &store, FILE_TAG, DeserializeOptions::default(), no_events())
                    .await
                    .map_err(|e| BundleError::File { path: path.clone(), source: Box::new(e.into()) })?;
                Ok(Source { store: Box::new(store), reference: FILE_TAG.to_owned(), _temp: Some(temp) })
            }
        }
    }

    /// Opens the bundle it holds (not yet checked).
    pub async fn bundle(&self) -> Result<Opened, BundleError> {
        bundle::open(self.store.as_ref(), &self.reference).await
    }
}

/// Writes a new bundle of `metadata` and its components' `wasm` to `location`; a location
/// without a tag is tagged with the bundle's version. Returns its manifest.
pub async fn write_bundle(client: &Client, location: &Location, metadata: &Metadata, wasm: &[Vec<u8>]) -> Result<Manifest, BundleError> {
    match location {
        Location::Image(image) => {
            if image.digest().is_some() {
                return Err(BundleError::DigestOutput(image.to_string()));
            }
            let tag = image.tag().unwrap_or(&metadata.version).to_owned();
            if !ferry_oci::valid_tag(&tag) {
                return Err(BundleError::VersionNotATag { output: image.to_string(), version: metadata.version.clone() });
            }
            let store = open_store(client, image, Access::Create)?;
            bundle::write(store.as_ref(), &tag, metadata, wasm).await
        }
        Location::File(path) => {
            let temp = tempfile::tempdir().map_err(|source| BundleError::Io { what: "making a temporary directory".to_owned(), source })?;
            let store = LayoutStore::open(temp.path(), Access::Create)?;
            let manifest = bundle::write(&store, FILE_TAG, metadata, wasm).await?;
            write_file(&store, manifest.descriptor().clone(), path).await?;
            Ok(manifest)
        }
    }
}

/// Writes the bundle `root` in `store`, with its signatures, to the file `path`: written
/// beside it and renamed when complete, so a file already at `path` is never half-replaced.
pub async fn write_file(store: &dyn Store, root: Descriptor, path: &Path) -> Result<(), BundleError> {
    let partial = PathBuf::from(format!("{}.partial", path.display()));
    let io = |what: String| move |source| BundleError::Io { what, source };
    let file = std::fs::File::create(&partial).map_err(io(format!("creating {}", partial.display())))?;
    let out = ferry_archive::BlockWriter::new(file, Geometry::from_flags(0, 1 << 20, 90).map_err(ferry_engine::Error::from)?);
    let options = SerializeOptions { ref_name: FILE_TAG.to_owned(), recursive: true, ..SerializeOptions::default() };
    let written = match serialize(store, root, out, &options, no_events()).await {
        Ok((_, out)) => out.finish().map_err(io(format!("writing {}", partial.display()))),
        Err(e) => Err(BundleError::File { path: partial.clone(), source: Box::new(e.into()) }),
    };
    if let Err(e) = written {
        let _ = std::fs::remove_file(&partial);
        return Err(e);
    }
    std::fs::rename(&partial, path).map_err(io(format!("renaming {} to {}", partial.display(), path.display())))
}
