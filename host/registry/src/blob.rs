//! Blob reads: existence checks and streaming fetches that verify digest and size as the
//! bytes flow, so a bad byte is an error before anything downstream commits it.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
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
    /// Every byte arrived and verified; only the end of the source is awaited.
    done: bool,
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
            done: false,
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
                Some(Ok(_)) => {
                    self.done = false;
                    let kind = self.mismatch("(more bytes than expected)".to_owned());
                    Poll::Ready(Some(Err(Error::new(&self.host, kind))))
                }
                Some(Err(kind)) => {
                    self.done = false;
                    Poll::Ready(Some(Err(Error::new(&self.host, kind))))
                }
            };
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
                if self.seen == self.descriptor.size {
                    // Check the digest before handing out the last piece: a consumer never
                    // receives the final bytes of a wrong blob.
                    let actual = self.hasher.take().map(Hasher::finish);
                    if actual.as_ref() != Some(&self.descriptor.digest) {
                        let kind = self.mismatch(actual.map(|d| d.to_string()).unwrap_or_default());
                        return Poll::Ready(Some(Err(Error::new(&self.host, kind))));
                    }
                    self.done = true;
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

    /// Streams a blob, verifying digest and size as the bytes arrive. A body cut mid-way is
    /// resumed with `Range: bytes=N-`; a body that arrives whole but wrong is fetched again
    /// (see [`FETCH_ATTEMPTS`]). Bytes are held back until verified, up to [`HOLD_BYTES`], so a
    /// blob that fits is handed out only once its digest checks, and no blob's last piece is
    /// handed out before its digest checks.
    pub async fn fetch_blob(&self, desc: &Descriptor) -> Result<BlobStream, Error> {
        let what = self.blob_what(&desc.digest);
        let mut fetch = Fetch {
            repo: self.clone(),
            desc: desc.clone(),
            what: what.clone(),
            body: None,
            skip: 0,
            received: 0,
            delivered: 0,
            prefix: Hasher::new(desc.digest.algorithm()),
            check: None,
            held: BytesMut::new(),
            attempts: 0,
            resumes: 0,
            done: false,
        };
        // Open eagerly, so a missing blob or a wrong size is an error here.
        fetch.open().await.map_err(|k| self.error(k))?;
        let host = self.host().to_owned();
        let stream = futures_util::stream::unfold(fetch, |mut f| async move {
            let item = f.next_piece().await?;
            Some((item, f))
        });
        Ok(BlobStream::verifying(desc.clone(), &host, what, stream))
    }
}

/// Most bytes of a fetched blob held back until the whole is verified.
pub const HOLD_BYTES: usize = 16 << 20;
/// Fetches of a blob whose body arrives whole but wrong, the first included.
pub const FETCH_ATTEMPTS: u32 = 3;
/// Resumes of bodies that break off mid-way, per blob.
pub const BODY_RESUMES: u32 = 5;

type ByteBody = Pin<Box<dyn Stream<Item = Result<Bytes, reqwest::Error>> + Send>>;

/// One blob fetch that resumes cut bodies and refetches wrong ones.
struct Fetch {
    repo: Repository,
    desc: Descriptor,
    what: String,
    body: Option<ByteBody>,
    /// Bytes to drop from the start of the current body (a 200 answer to a ranged request).
    skip: u64,
    /// Offset in the blob of the next byte the current attempt expects.
    received: u64,
    /// Bytes handed out to the consumer, and their hash.
    delivered: u64,
    prefix: Hasher,
    /// While a refetch re-reads bytes already handed out: their hash, to compare.
    check: Option<Hasher>,
    held: BytesMut,
    attempts: u32,
    resumes: u32,
    done: bool,
}

impl Fetch {
    fn mismatch(&self, actual: String, size: u64) -> ErrorKind {
        ErrorKind::Mismatch { what: self.what.clone(), expected: self.desc.digest.to_string(), actual, size, expected_size: self.desc.size }
    }

    /// Counts a whole-but-wrong body; `Err` once the attempts are spent.
    fn wrong_whole(&mut self, kind: ErrorKind) -> Result<(), ErrorKind> {
        self.attempts += 1;
        self.body = None;
        if self.attempts >= FETCH_ATTEMPTS {
            return Err(kind);
        }
        tracing::warn!("{}: {kind}; fetching it again ({} of {FETCH_ATTEMPTS})", self.repo.host(), self.attempts + 1);
        self.received = 0;
        self.held.clear();
        self.check = (self.delivered > 0).then(|| Hasher::new(self.desc.digest.algorithm()));
        Ok(())
    }

    /// (Re)opens the body at `received`: ranged when resuming.
    async fn open(&mut self) -> Result<(), ErrorKind> {
        loop {
            let from = self.received;
            let mut req =
                Request::new(Method::GET, self.repo.url(&format!("blobs/{}", self.desc.digest)), self.repo.pull_scope(), self.what.clone());
            if from > 0 {
                req = req.header(reqwest::header::RANGE, &format!("bytes={from}-"));
            }
            let resp = self.repo.send(req).await.map_err(|e| e.kind)?;
            let status = resp.status().as_u16();
            let expect_len = match status {
                200 => {
                    self.skip = from;
                    self.desc.size
                }
                206 => {
                    let range = resp.headers().get(reqwest::header::CONTENT_RANGE).and_then(|v| v.to_str().ok()).unwrap_or("");
                    if !range.starts_with(&format!("bytes {from}-")) {
                        return Err(ErrorKind::Protocol {
                            what: self.what.clone(),
                            detail: format!("asked for bytes {from}- and got range {range:?}"),
                        });
                    }
                    self.skip = 0;
                    self.desc.size - from
                }
                _ => return Err(self.repo.unexpected(resp, self.what.clone()).await.kind),
            };
            if let Some(len) = resp.content_length()
                && len != expect_len
            {
                let kind = self.mismatch("(not read)".to_owned(), len + (self.desc.size - expect_len));
                self.wrong_whole(kind)?;
                continue;
            }
            self.body = Some(Box::pin(resp.bytes_stream()));
            return Ok(());
        }
    }

    /// The next verified piece for the consumer, `None` at the end.
    async fn next_piece(&mut self) -> Option<Result<Bytes, ErrorKind>> {
        if self.done {
            return None;
        }
        let result = self.pump().await;
        if !matches!(result, Some(Ok(_))) {
            self.done = true;
        }
        result
    }

    async fn pump(&mut self) -> Option<Result<Bytes, ErrorKind>> {
        loop {
            if self.body.is_none()
                && let Err(kind) = self.open().await
            {
                return Some(Err(kind));
            }
            let Some(body) = self.body.as_mut() else { continue };
            match body.next().await {
                Some(Ok(mut chunk)) => {
                    if self.skip > 0 {
                        let n = self.skip.min(chunk.len() as u64);
                        let _ = chunk.split_to(n as usize);
                        self.skip -= n;
                    }
                    if let Err(kind) = self.accept(chunk) {
                        return Some(Err(kind));
                    }
                    if self.received < self.desc.size && self.held.len() >= HOLD_BYTES && self.check.is_none() {
                        let piece = self.held.split().freeze();
                        self.delivered += piece.len() as u64;
                        self.prefix.update(&piece);
                        return Some(Ok(piece));
                    }
                }
                Some(Err(source)) => {
                    self.body = None;
                    self.resumes += 1;
                    if self.resumes > BODY_RESUMES {
                        return Some(Err(ErrorKind::Network { what: self.what.clone(), source }));
                    }
                    let wait = self.repo.client.inner_retry().delay(self.resumes, None);
                    tracing::warn!(
                        "{}: {} broke off after {} of {} bytes ({source}); resuming in {wait:?}",
                        self.repo.host(),
                        self.what,
                        self.received,
                        self.desc.size
                    );
                    tokio::time::sleep(wait).await;
                }
                None => {
                    self.body = None;
                    if self.received < self.desc.size {
                        // Ended early without a transport error: resume like a cut.
                        self.resumes += 1;
                        if self.resumes > BODY_RESUMES {
                            return Some(Err(self.mismatch("(body ended early)".to_owned(), self.received)));
                        }
                        continue;
                    }
                    let mut whole = self.prefix.clone();
                    whole.update(&self.held);
                    let actual = whole.finish();
                    if actual == self.desc.digest {
                        self.done = true;
                        let piece = self.held.split().freeze();
                        self.delivered += piece.len() as u64;
                        return if piece.is_empty() { None } else { Some(Ok(piece)) };
                    }
                    let kind = self.mismatch(actual.to_string(), self.received);
                    if let Err(kind) = self.wrong_whole(kind) {
                        return Some(Err(kind));
                    }
                }
            }
        }
    }

    /// Takes a chunk of the current body at offset `received`.
    fn accept(&mut self, chunk: Bytes) -> Result<(), ErrorKind> {
        let start = self.received;
        self.received += chunk.len() as u64;
        if self.received > self.desc.size {
            let kind = self.mismatch("(more bytes than expected)".to_owned(), self.received);
            return self.wrong_whole(kind);
        }
        let mut rest = &chunk[..];
        if let Some(check) = self.check.as_mut() {
            let n = usize::try_from((self.delivered - start.min(self.delivered)).min(chunk.len() as u64)).unwrap_or(0);
            check.update(&rest[..n]);
            rest = &rest[n..];
            if start + n as u64 >= self.delivered {
                let again = self.check.take().map(Hasher::finish);
                if again != Some(self.prefix.clone().finish()) {
                    // Bytes already handed out differ from this fetch's: no way to take them back.
                    return Err(ErrorKind::Protocol {
                        what: self.what.clone(),
                        detail: "the registry served different bytes on a second fetch of the part already read".to_owned(),
                    });
                }
            }
        }
        self.held.extend_from_slice(rest);
        Ok(())
    }
}
