//! Blob reads: existence checks and streaming fetches that verify digest and size as the
//! bytes flow, so a bad byte is an error before anything downstream commits it.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use ferry_oci::{Descriptor, Digest, Hasher};
use futures_util::{Stream, StreamExt};
use reqwest::Method;

use crate::client::{Repository, Request};
use crate::error::{Error, ErrorKind};

/// A stream of a blob's bytes that ends with an error unless exactly the descriptor's size
/// arrived and it hashed to the descriptor's digest.
pub struct BlobStream {
    inner: Pin<Box<dyn Stream<Item = Result<Bytes, ErrorKind>> + Send>>,
    descriptor: Descriptor,
    hasher: Option<Hasher>,
    seen: u64,
    host: String,
    what: String,
}

impl BlobStream {
    /// Wraps any byte stream with verification against `descriptor`; `host` and `what` name
    /// the source in errors.
    pub fn verifying<S, E>(descriptor: Descriptor, host: &str, what: String, stream: S) -> BlobStream
    where
        S: Stream<Item = Result<Bytes, E>> + Send + 'static,
        E: Into<ErrorKind>,
    {
        BlobStream {
            inner: Box::pin(stream.map(|r| r.map_err(Into::into))),
            hasher: Some(Hasher::new(descriptor.digest.algorithm())),
            descriptor,
            seen: 0,
            host: host.to_owned(),
            what,
        }
    }

    /// The descriptor being streamed.
    pub fn descriptor(&self) -> &Descriptor {
        &self.descriptor
    }

    /// Reads the whole blob into memory (for small blobs such as configs).
    pub async fn collect(mut self) -> Result<Vec<u8>, Error> {
        let mut out = Vec::with_capacity(usize::try_from(self.descriptor.size).unwrap_or(0).min(1 << 20));
        while let Some(chunk) = self.next().await {
            out.extend_from_slice(&chunk?);
        }
        Ok(out)
    }

    fn fail(&mut self, kind: ErrorKind) -> Poll<Option<Result<Bytes, Error>>> {
        self.hasher = None;
        Poll::Ready(Some(Err(Error::new(&self.host, kind))))
    }

    fn mismatch(&self, actual: String) -> ErrorKind {
        ErrorKind::Mismatch {
            what: self.what.clone(),
            expected: self.descriptor.digest.to_string(),
            actual,
            size: self.seen,
            expected_size: self.descriptor.size,
        }
    }
}

impl Stream for BlobStream {
    type Item = Result<Bytes, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        // `hasher` is taken once the stream has ended or failed.
        if self.hasher.is_none() {
            return Poll::Ready(None);
        }
        match std::task::ready!(self.inner.as_mut().poll_next(cx)) {
            Some(Ok(chunk)) => {
                self.seen += chunk.len() as u64;
                if self.seen > self.descriptor.size {
                    let kind = self.mismatch("(more bytes than expected)".to_owned());
                    return self.fail(kind);
                }
                if let Some(h) = self.hasher.as_mut() {
                    h.update(&chunk);
                }
                Poll::Ready(Some(Ok(chunk)))
            }
            Some(Err(kind)) => {
                // Name the blob and how far it got, not just "reading blob".
                let kind = match kind {
                    ErrorKind::Network { source, .. } => ErrorKind::Network {
                        what: format!("reading {} after {} of {} bytes", self.what, self.seen, self.descriptor.size),
                        source,
                    },
                    other => other,
                };
                self.fail(kind)
            }
            None => {
                let actual = self.hasher.take().map(Hasher::finish);
                if self.seen == self.descriptor.size && actual.as_ref() == Some(&self.descriptor.digest) {
                    return Poll::Ready(None);
                }
                let kind = self.mismatch(actual.map(|d| d.to_string()).unwrap_or_default());
                Poll::Ready(Some(Err(Error::new(&self.host, kind))))
            }
        }
    }
}

/// The Content-Length header of a HEAD answer (reqwest reports 0 for bodiless answers).
fn head_length(resp: &reqwest::Response) -> Option<u64> {
    resp.headers().get(reqwest::header::CONTENT_LENGTH)?.to_str().ok()?.trim().parse().ok()
}

impl From<reqwest::Error> for ErrorKind {
    fn from(source: reqwest::Error) -> Self {
        ErrorKind::Network { what: "reading blob".to_owned(), source }
    }
}

impl Repository {
    fn blob_what(&self, digest: &Digest) -> String {
        format!("blob {digest} in {}/{}", self.registry(), self.name)
    }

    /// Whether a blob exists in this repository.
    pub async fn blob_exists(&self, digest: &Digest) -> Result<bool, Error> {
        Ok(self.blob_size(digest).await?.is_some())
    }

    /// The size a blob answers HEAD with, or `None` when it is absent. A registry that answers
    /// without a Content-Length reports `Some(u64::MAX)`, which matches no descriptor.
    pub async fn blob_size(&self, digest: &Digest) -> Result<Option<u64>, Error> {
        let what = self.blob_what(digest);
        let resp = self.send(Request::new(Method::HEAD, self.url(&format!("blobs/{digest}")), self.pull_scope(), what.clone())).await?;
        match resp.status().as_u16() {
            200..=299 => Ok(Some(head_length(&resp).unwrap_or(u64::MAX))),
            404 => Ok(None),
            _ => Err(self.unexpected(resp, what).await),
        }
    }

    /// Whether the blob of `desc` is present with the size the descriptor expects: the
    /// check the tag promise relies on for blobs this run did not upload.
    pub async fn blob_present(&self, desc: &Descriptor) -> Result<bool, Error> {
        Ok(self.blob_size(&desc.digest).await? == Some(desc.size))
    }

    /// Streams a blob, verifying digest and size as the bytes arrive.
    pub async fn fetch_blob(&self, desc: &Descriptor) -> Result<BlobStream, Error> {
        let what = self.blob_what(&desc.digest);
        let resp =
            self.send(Request::new(Method::GET, self.url(&format!("blobs/{}", desc.digest)), self.pull_scope(), what.clone())).await?;
        if !resp.status().is_success() {
            return Err(self.unexpected(resp, what).await);
        }
        if let Some(len) = resp.content_length()
            && len != desc.size
        {
            return Err(self.error(ErrorKind::Mismatch {
                what,
                expected: desc.digest.to_string(),
                actual: "(not read)".to_owned(),
                size: len,
                expected_size: desc.size,
            }));
        }
        Ok(BlobStream::verifying(desc.clone(), self.host(), what, resp.bytes_stream()))
    }
}
