//! The OCI image layout on disk: `oci-layout`, `index.json`, `blobs/<alg>/<hex>`.
//!
//! Blobs are written to a temporary file beside their final path, hashed as they are written,
//! and renamed into place only when digest and size match, so a layout never holds a bad blob.
//! `index.json` is replaced atomically the same way.

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use crate::annotations;
use crate::descriptor::Descriptor;
use crate::digest::{Digest, Hasher};
use crate::gojson;
use crate::manifest::Index;
use crate::mismatch::DigestMismatch;

/// The contents of `oci-layout`.
pub const OCI_LAYOUT_CONTENT: &[u8] = br#"{"imageLayoutVersion":"1.0.0"}"#;

/// An OCI image-layout directory.
#[derive(Clone, Debug)]
pub struct Layout {
    root: PathBuf,
}

/// Errors of the layout store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LayoutError {
    /// A file could not be read or written (the message names the path).
    #[error(transparent)]
    Io(#[from] io::Error),
    /// `oci-layout` is missing or not version 1.0.0.
    #[error("{0}: not an OCI image layout (oci-layout missing or not version 1.0.0)")]
    NotALayout(PathBuf),
    /// `index.json` does not parse.
    #[error("{path}: invalid index.json")]
    Index {
        /// Path of the file.
        path: PathBuf,
        /// Parser error.
        #[source]
        source: serde_json::Error,
    },
    /// Bytes read or written did not match the expected digest or size.
    #[error(transparent)]
    Mismatch(#[from] DigestMismatch),
    /// A tag or digest is not in `index.json`.
    #[error("{reference} not found in {path}")]
    NotFound {
        /// The tag or digest looked up.
        reference: String,
        /// The layout directory.
        path: PathBuf,
    },
}

impl Layout {
    /// Opens an existing layout, checking `oci-layout`.
    pub fn open(root: impl Into<PathBuf>) -> Result<Layout, LayoutError> {
        let root = root.into();
        let marker = root.join("oci-layout");
        let ok = match fs_err::read(&marker) {
            Ok(b) => serde_json::from_slice::<serde_json::Value>(&b)
                .ok()
                .and_then(|v| v.get("imageLayoutVersion").and_then(|x| x.as_str()).map(|s| s == "1.0.0"))
                .unwrap_or(false),
            Err(e) if e.kind() == io::ErrorKind::NotFound => false,
            Err(e) => return Err(e.into()),
        };
        if !ok {
            return Err(LayoutError::NotALayout(root));
        }
        Ok(Layout { root })
    }

    /// Opens a layout, creating the directory, `oci-layout` and an empty `index.json` if absent.
    pub fn create(root: impl Into<PathBuf>) -> Result<Layout, LayoutError> {
        let root = root.into();
        fs_err::create_dir_all(root.join("blobs"))?;
        // Never replacing a file another process wrote meanwhile: two ferry processes may
        // create one layout at once, and the other may have tagged something already.
        write_new(&root.join("oci-layout"), OCI_LAYOUT_CONTENT)?;
        let layout = Layout::open(root)?;
        write_new(&layout.root.join("index.json"), &gojson::to_vec_pretty(&Index::new()))?;
        Ok(layout)
    }

    /// The directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the blob with `digest` lives.
    pub fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.root.join("blobs").join(digest.algorithm().name()).join(digest.hex())
    }

    /// Whether the blob exists with the expected size.
    pub fn has_blob(&self, digest: &Digest, size: u64) -> Result<bool, LayoutError> {
        match fs_err::metadata(self.blob_path(digest)) {
            Ok(m) => Ok(m.is_file() && m.len() == size),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Opens a blob for reading. The caller verifies what it reads.
    pub fn open_blob(&self, digest: &Digest) -> Result<fs_err::File, LayoutError> {
        Ok(fs_err::File::open(self.blob_path(digest))?)
    }

    /// Reads a small blob (a manifest) whole, verifying digest and size.
    pub fn read_blob(&self, desc: &Descriptor) -> Result<Vec<u8>, LayoutError> {
        let bytes = fs_err::read(self.blob_path(&desc.digest))?;
        let actual = desc.digest.same_algorithm_of(&bytes);
        if actual != desc.digest || bytes.len() as u64 != desc.size {
            return Err(DigestMismatch::new(desc, bytes.len() as u64, Some(actual)).into());
        }
        Ok(bytes)
    }

    /// Starts writing a blob; see [`BlobWriter`].
    pub fn blob_writer(&self, desc: &Descriptor) -> Result<BlobWriter, LayoutError> {
        let path = self.blob_path(&desc.digest);
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_else(|| self.root.clone());
        fs_err::create_dir_all(&dir)?;
        let tmp = tempfile::Builder::new()
            .prefix(".ferry-")
            .tempfile_in(&dir)
            .map_err(|e| io::Error::new(e.kind(), format!("creating a temporary file in {}: {e}", dir.display())))?;
        Ok(BlobWriter { tmp, path, hasher: Hasher::new(desc.digest.algorithm()), written: 0, expected: desc.clone() })
    }

    /// Writes a blob from a reader, verifying it.
    pub fn write_blob(&self, desc: &Descriptor, mut reader: impl Read) -> Result<(), LayoutError> {
        let mut w = self.blob_writer(desc)?;
        io::copy(&mut reader, &mut w)?;
        w.commit()
    }

    /// Reads `index.json`.
    pub fn index(&self) -> Result<Index, LayoutError> {
        let path = self.root.join("index.json");
        let bytes = fs_err::read(&path)?;
        serde_json::from_slice(&bytes).map_err(|source| LayoutError::Index { path, source })
    }

    /// Replaces `index.json` atomically.
    pub fn write_index(&self, index: &Index) -> Result<(), LayoutError> {
        write_atomic(&self.root.join("index.json"), &gojson::to_vec_pretty(index))?;
        Ok(())
    }

    /// Finds a manifest by tag (`org.opencontainers.image.ref.name`) or digest string.
    pub fn resolve(&self, reference: &str) -> Result<Descriptor, LayoutError> {
        let index = self.index()?;
        let found = index
            .manifests
            .into_iter()
            .find(|d| d.annotations.get(annotations::REF_NAME).map(String::as_str) == Some(reference) || d.digest.to_string() == reference);
        found.ok_or_else(|| LayoutError::NotFound { reference: reference.to_owned(), path: self.root.clone() })
    }

    /// Points `tag` at `desc` in `index.json`, replacing any earlier entry of that tag.
    pub fn tag(&self, desc: &Descriptor, tag: &str) -> Result<(), LayoutError> {
        let mut index = self.index()?;
        index.manifests.retain(|d| d.annotations.get(annotations::REF_NAME).map(String::as_str) != Some(tag));
        let mut entry = desc.clone();
        entry.annotations.insert(annotations::REF_NAME.to_owned(), tag.to_owned());
        index.manifests.push(entry);
        self.write_index(&index)
    }
}

/// A blob being written: hashed as bytes arrive, renamed into place by [`BlobWriter::commit`]
/// only if digest and size match. Dropping it without committing leaves nothing behind.
pub struct BlobWriter {
    tmp: tempfile::NamedTempFile,
    path: PathBuf,
    hasher: Hasher,
    written: u64,
    expected: Descriptor,
}

impl Write for BlobWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.tmp.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.tmp.flush()
    }
}

impl BlobWriter {
    /// Verifies and moves the blob into place.
    pub fn commit(self) -> Result<(), LayoutError> {
        let actual = self.hasher.finish();
        if actual != self.expected.digest || self.written != self.expected.size {
            return Err(DigestMismatch::new(&self.expected, self.written, Some(actual)).into());
        }
        self.tmp
            .persist(&self.path)
            .map_err(|e| io::Error::new(e.error.kind(), format!("renaming into {}: {}", self.path.display(), e.error)))?;
        Ok(())
    }
}

/// Writes `path` whole, unless it exists (then leaves it as it is).
fn write_new(path: &Path, bytes: &[u8]) -> io::Result<()> {
    if path.exists() {
        return Ok(());
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new().prefix(".ferry-").tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    match tmp.persist_noclobber(path) {
        Ok(_) => Ok(()),
        Err(e) if e.error.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(io::Error::new(e.error.kind(), format!("writing {}: {}", path.display(), e.error))),
    }
}

fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new().prefix(".ferry-").tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.persist(path).map_err(|e| io::Error::new(e.error.kind(), format!("writing {}: {}", path.display(), e.error)))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_verifies_and_tags() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::create(dir.path().join("l")).unwrap();
        let d = Descriptor::of_bytes(crate::media_type::OCTET_STREAM, b"hello");
        layout.write_blob(&d, &b"hello"[..]).unwrap();
        assert!(layout.has_blob(&d.digest, 5).unwrap());
        assert_eq!(layout.read_blob(&d).unwrap(), b"hello");

        let bad = Descriptor::of_bytes(crate::media_type::OCTET_STREAM, b"other");
        assert!(matches!(layout.write_blob(&bad, &b"hellx"[..]), Err(LayoutError::Mismatch(_))));
        assert!(!layout.has_blob(&bad.digest, 5).unwrap());

        layout.tag(&d, "v1").unwrap();
        layout.tag(&d, "v1").unwrap();
        assert_eq!(layout.index().unwrap().manifests.len(), 1);
        assert_eq!(layout.resolve("v1").unwrap().digest, d.digest);
        assert!(matches!(layout.resolve("v2"), Err(LayoutError::NotFound { .. })));
        assert!(matches!(Layout::open(dir.path()), Err(LayoutError::NotALayout(_))));
    }

    #[test]
    fn creating_a_layout_again_keeps_what_is_there() {
        let dir = tempfile::tempdir().unwrap();
        let first = Layout::create(dir.path()).unwrap();
        let d = Descriptor::of_bytes(crate::media_type::OCI_INDEX, br#"{"schemaVersion":2,"manifests":[]}"#);
        first.tag(&d, "v1").unwrap();
        // As a second process opening the same new store would.
        let second = Layout::create(dir.path()).unwrap();
        assert_eq!(second.resolve("v1").unwrap().digest, d.digest);
    }
}
