//! Verified blob streams: a blob's bytes from any source (a registry, a layout file, an archive
//! entry, memory), checked against the descriptor's size and digest as they flow, so a bad
//! byte is an error before anything downstream commits it.
//!
//! Errors name the stream's [`Origin`] by what it is (a registry host, a layout path, an archive
//! entry and its offset); the source's own error is kept as the typed `source` of a
//! [`BlobError`], together with whether reading again may help.

use std::error::Error as StdError;
use std::fmt;
use std::path::PathBuf;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::{Stream, StreamExt};

use crate::descriptor::Descriptor;
use crate::digest::Hasher;
use crate::mismatch::DigestMismatch;

/// Where a blob stream's bytes come from; errors name it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Origin {
    /// A registry: the network host, and the blob as named there (`blob D in reg/repo`).
    Registry {
        /// The host (`host:port`).
        host: String,
        /// The blob and repository.
        what: String,
    },
    /// A blob file of an OCI image layout.
    Layout {
        /// The file.
        path: PathBuf,
    },
    /// An entry of an archive.
    Archive {
        /// The archive as the user named it (`-` is standard input).
        archive: String,
        /// The entry's name.
        entry: String,
        /// Byte offset of the entry's header in the (decompressed) archive.
        offset: u64,
    },
    /// Bytes ferry holds in memory (content it built, or read and verified before).
    Memory {
        /// What they are.
        what: String,
    },
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Registry { host, what } => write!(f, "{host}: {what}"),
            Origin::Layout { path } => write!(f, "{}", path.display()),
            Origin::Archive { archive, entry, offset } => {
                let archive = if archive == "-" { "standard input" } else { archive.as_str() };
                write!(f, "entry {} at byte {offset} of {}", crate::quoted(entry.as_bytes()), crate::quoted(archive.as_bytes()))
            }
            Origin::Memory { what } => f.write_str(what),
        }
    }
}

/// What a stream's byte source reports when it fails, beyond its message.
pub trait SourceError: StdError + Send + Sync + 'static {
    /// True when reading the blob again later may succeed (a broken connection, a 5xx).
    fn is_transient(&self) -> bool {
        false
    }

    /// The mismatch, when the source itself found the bytes wrong (a registry fetch that
    /// verifies before handing bytes out).
    fn mismatch(&self) -> Option<&DigestMismatch> {
        None
    }
}

/// A local file that cannot be read will not read better later.
impl SourceError for std::io::Error {}

/// Sources that cannot fail (bytes in memory).
impl SourceError for std::convert::Infallible {}

/// A blob stream failed: where, and why. Its message is whole (origin, what happened and the
/// source's own message), for the places that print an error without its chain; the CLI
/// prints each piece of a chain once.
#[derive(Debug, thiserror::Error)]
#[error("{origin}: {kind}")]
pub struct BlobError {
    /// Where the bytes came from.
    pub origin: Origin,
    /// What went wrong.
    #[source]
    pub kind: BlobErrorKind,
}

/// What went wrong with a blob stream.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BlobErrorKind {
    /// The bytes do not match the descriptor.
    #[error(transparent)]
    Mismatch(DigestMismatch),
    /// The source failed before the blob was whole.
    #[error("reading failed after {received} of {size} bytes: {source}")]
    Source {
        /// Bytes received before the failure.
        received: u64,
        /// The blob's size.
        size: u64,
        /// Whether reading again may help ([`SourceError::is_transient`]).
        transient: bool,
        /// The source's error.
        #[source]
        source: Box<dyn StdError + Send + Sync>,
    },
}

impl BlobError {
    /// True when reading the blob again may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self.kind, BlobErrorKind::Source { transient: true, .. })
    }

    /// The mismatch, when the bytes did not match the descriptor.
    pub fn mismatch(&self) -> Option<&DigestMismatch> {
        match &self.kind {
            BlobErrorKind::Mismatch(m) => Some(m),
            BlobErrorKind::Source { .. } => None,
        }
    }
}

/// A source's failure, classified when it happens (the stream erases the source's type).
struct Fault {
    transient: bool,
    mismatch: Option<DigestMismatch>,
    error: Box<dyn StdError + Send + Sync>,
}

impl Fault {
    fn of<E: SourceError>(e: E) -> Fault {
        Fault { transient: e.is_transient(), mismatch: e.mismatch().cloned(), error: Box::new(e) }
    }
}

/// A stream of a blob's bytes that ends with an error unless exactly the descriptor's size
/// arrived and it hashed to the descriptor's digest. The last piece is handed out only after
/// the digest checked, so a consumer never receives the whole of a wrong blob.
pub struct BlobStream {
    inner: Pin<Box<dyn Stream<Item = Result<Bytes, Fault>> + Send>>,
    descriptor: Descriptor,
    origin: Origin,
    hasher: Option<Hasher>,
    seen: u64,
    /// Every byte arrived and verified; only the end of the source is awaited.
    done: bool,
    /// Told the size of each piece handed out (progress).
    observer: Option<Box<dyn Fn(u64) + Send + Sync>>,
}

impl BlobStream {
    /// Wraps a byte stream from `origin` with verification against `descriptor`.
    pub fn verifying<S, E>(descriptor: Descriptor, origin: Origin, stream: S) -> BlobStream
    where
        S: Stream<Item = Result<Bytes, E>> + Send + 'static,
        E: SourceError,
    {
        BlobStream {
            inner: Box::pin(stream.map(|r| r.map_err(Fault::of))),
            hasher: Some(Hasher::new(descriptor.digest.algorithm())),
            descriptor,
            origin,
            seen: 0,
            done: false,
            observer: None,
        }
    }

    /// Calls `observer` with the length of each piece as it is handed out, for progress.
    #[must_use]
    pub fn observed(mut self, observer: impl Fn(u64) + Send + Sync + 'static) -> BlobStream {
        self.observer = Some(Box::new(observer));
        self
    }

    /// A stream of bytes already in memory, verified like any other.
    pub fn from_bytes(descriptor: Descriptor, origin: Origin, bytes: Bytes) -> BlobStream {
        let once = futures_util::stream::once(async move { Ok::<Bytes, std::convert::Infallible>(bytes) });
        BlobStream::verifying(descriptor, origin, once)
    }

    /// The descriptor being streamed.
    pub fn descriptor(&self) -> &Descriptor {
        &self.descriptor
    }

    /// Where the bytes come from.
    pub fn origin(&self) -> &Origin {
        &self.origin
    }

    /// Reads the whole blob into memory (for small blobs such as configs).
    pub async fn collect(mut self) -> Result<Vec<u8>, BlobError> {
        let mut out = Vec::with_capacity(usize::try_from(self.descriptor.size).unwrap_or(0).min(1 << 20));
        while let Some(chunk) = self.next().await {
            out.extend_from_slice(&chunk?);
        }
        Ok(out)
    }

    fn error(&self, kind: BlobErrorKind) -> BlobError {
        BlobError { origin: self.origin.clone(), kind }
    }

    fn mismatch(&self, actual: Option<crate::Digest>) -> BlobError {
        self.error(BlobErrorKind::Mismatch(DigestMismatch::new(&self.descriptor, self.seen, actual)))
    }

    fn source_failed(&self, fault: Fault) -> BlobError {
        match fault.mismatch {
            Some(m) => self.error(BlobErrorKind::Mismatch(m)),
            None => self.error(BlobErrorKind::Source {
                received: self.seen,
                size: self.descriptor.size,
                transient: fault.transient,
                source: fault.error,
            }),
        }
    }
}

impl Stream for BlobStream {
    type Item = Result<Bytes, BlobError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        // `hasher` is taken once the stream has ended or failed.
        if self.hasher.is_none() && !self.done {
            return Poll::Ready(None);
        }
        if self.done {
            // Verified whole; the source must end here.
            return match std::task::ready!(self.inner.as_mut().poll_next(cx)) {
                None => {
                    self.done = false;
                    Poll::Ready(None)
                }
                Some(Ok(chunk)) if chunk.is_empty() => {
                    cx.waker().wake_by_ref();
                    Poll::Pending
                }
                Some(Ok(chunk)) => {
                    self.done = false;
                    self.seen += chunk.len() as u64;
                    Poll::Ready(Some(Err(self.mismatch(None))))
                }
                Some(Err(fault)) => {
                    self.done = false;
                    Poll::Ready(Some(Err(self.source_failed(fault))))
                }
            };
        }
        match std::task::ready!(self.inner.as_mut().poll_next(cx)) {
            Some(Ok(chunk)) => {
                self.seen += chunk.len() as u64;
                if self.seen > self.descriptor.size {
                    self.hasher = None;
                    return Poll::Ready(Some(Err(self.mismatch(None))));
                }
                if let Some(h) = self.hasher.as_mut() {
                    h.update(&chunk);
                }
                if self.seen == self.descriptor.size {
                    // Check the digest before handing out the last piece: a consumer never
                    // receives the final bytes of a wrong blob.
                    let actual = self.hasher.take().map(Hasher::finish);
                    if actual.as_ref() != Some(&self.descriptor.digest) {
                        return Poll::Ready(Some(Err(self.mismatch(actual))));
                    }
                    self.done = true;
                }
                if let Some(observe) = &self.observer {
                    observe(chunk.len() as u64);
                }
                Poll::Ready(Some(Ok(chunk)))
            }
            Some(Err(fault)) => {
                self.hasher = None;
                Poll::Ready(Some(Err(self.source_failed(fault))))
            }
            None => {
                let actual = self.hasher.take().map(Hasher::finish);
                if self.seen == self.descriptor.size && actual.as_ref() == Some(&self.descriptor.digest) {
                    return Poll::Ready(None);
                }
                // A short stream: its digest says nothing useful.
                let actual = if self.seen == self.descriptor.size { actual } else { None };
                Poll::Ready(Some(Err(self.mismatch(actual))))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media_type;

    fn chunks(parts: &[&'static [u8]]) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
        futures_util::stream::iter(parts.iter().map(|p| Ok(Bytes::from_static(p))).collect::<Vec<_>>())
    }

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        futures_util::FutureExt::now_or_never(f).expect("the test streams are ready at once")
    }

    fn memory() -> Origin {
        Origin::Memory { what: "test bytes".into() }
    }

    #[test]
    fn passes_a_good_blob_and_refuses_a_bad_one() {
        let d = Descriptor::of_bytes(media_type::OCTET_STREAM, b"hello world");
        let s = BlobStream::verifying(d.clone(), memory(), chunks(&[b"hello ", b"world"]));
        assert_eq!(block_on(s.collect()).unwrap(), b"hello world");

        let s = BlobStream::verifying(d.clone(), memory(), chunks(&[b"hello ", b"worle"]));
        let e = block_on(s.collect()).unwrap_err();
        let m = e.mismatch().expect("a mismatch");
        assert_eq!((m.size, m.actual.clone()), (11, Some(crate::Digest::sha256(b"hello worle"))));

        let s = BlobStream::verifying(d.clone(), memory(), chunks(&[b"hello ", b"world", b"!"]));
        assert!(block_on(s.collect()).unwrap_err().mismatch().is_some_and(|m| m.actual.is_none() && m.size == 12));

        let s = BlobStream::verifying(d.clone(), memory(), chunks(&[b"hello"]));
        assert!(block_on(s.collect()).unwrap_err().mismatch().is_some_and(|m| m.size == 5));
    }

    #[test]
    fn never_hands_out_the_last_piece_of_a_wrong_blob() {
        let d = Descriptor::of_bytes(media_type::OCTET_STREAM, b"abcdef");
        let mut s = BlobStream::verifying(d, memory(), chunks(&[b"abc", b"deX"]));
        assert_eq!(block_on(s.next()).unwrap().unwrap(), Bytes::from_static(b"abc"));
        assert!(block_on(s.next()).unwrap().is_err());
        assert!(block_on(s.next()).is_none());
    }

    #[test]
    fn names_the_origin_and_keeps_the_source_error() {
        let d = Descriptor::of_bytes(media_type::OCTET_STREAM, b"abcdef");
        let broken = futures_util::stream::iter(vec![
            Ok(Bytes::from_static(b"abc")),
            Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "cut")),
        ]);
        let origin = Origin::Archive { archive: "x.tar".into(), entry: "blobs/sha256/ab".into(), offset: 1536 };
        let e = block_on(BlobStream::verifying(d, origin, broken).collect()).unwrap_err();
        assert_eq!(e.to_string(), "entry \"blobs/sha256/ab\" at byte 1536 of \"x.tar\": reading failed after 3 of 6 bytes: cut");
        assert!(!e.is_transient());
        let kind = std::error::Error::source(&e).unwrap();
        assert_eq!(kind.to_string(), "reading failed after 3 of 6 bytes: cut");
        assert!(kind.source().unwrap().downcast_ref::<std::io::Error>().is_some());
    }
}
