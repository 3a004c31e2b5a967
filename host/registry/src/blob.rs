//! Blob reads: existence checks and streaming fetches that verify digest and size as the
//! bytes flow (through [`ferry_oci::BlobStream`]), resuming bodies that break off and fetching
//! again bodies that arrive whole but wrong, under the retry policies of [`crate::retry`].

use std::pin::Pin;

use bytes::{Bytes, BytesMut};
use ferry_oci::{BlobStream, Descriptor, Digest, DigestMismatch, Hasher, Origin};
use futures_util::{Stream, StreamExt};
use reqwest::Method;

use crate::client::{Repository, Request};
use crate::error::{Error, ErrorKind};
use crate::retry::{BODY_RESUME, REFETCH};

/// The Content-Length header of a HEAD answer (reqwest reports 0 for bodiless answers).
fn head_length(resp: &reqwest::Response) -> Option<u64> {
    resp.headers().get(reqwest::header::CONTENT_LENGTH)?.to_str().ok()?.trim().parse().ok()
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
    /// resumed with `Range: bytes=N-` ([`BODY_RESUME`]); a body that arrives whole but wrong is
    /// fetched again ([`REFETCH`]). A blob of at most [`HOLD_BYTES`] is handed out only once its
    /// digest checks; a larger one goes out in pieces of about 256 KiB as they arrive, and no
    /// blob's last piece is handed out before its digest checks.
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
            refetches: 0,
            resumes: 0,
            done: false,
        };
        // Open eagerly, so a missing blob or a wrong size is an error here.
        fetch.open().await.map_err(|k| self.error(k))?;
        let origin = Origin::Registry { host: self.host().to_owned(), what };
        let stream = futures_util::stream::unfold(fetch, |mut f| async move {
            let item = f.next_piece().await?;
            Some((item, f))
        });
        Ok(BlobStream::verifying(desc.clone(), origin, stream))
    }
}

/// A blob of at most this many bytes is held back until the whole is verified.
pub const HOLD_BYTES: usize = 16 << 20;

/// A larger blob goes out in pieces of about this size as they arrive: holding it back would
/// not spare the consumer anything (its prefix is handed out either way), and large pieces
/// would make every bounded channel downstream hold that much more per slot.
const PIECE_BYTES: usize = 256 << 10;

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
    /// Whole fetches so far that came back wrong.
    refetches: u32,
    /// Bodies so far that broke off.
    resumes: u32,
    done: bool,
}

impl Fetch {
    fn mismatch(&self, actual: Option<Digest>, size: u64) -> ErrorKind {
        ErrorKind::Mismatch { what: self.what.clone(), mismatch: Box::new(DigestMismatch::new(&self.desc, size, actual)) }
    }

    /// Counts a whole-but-wrong body; `Err` once the fetches are spent.
    async fn wrong_whole(&mut self, kind: ErrorKind) -> Result<(), ErrorKind> {
        self.refetches += 1;
        self.body = None;
        if !REFETCH.allows_another(self.refetches) {
            return Err(kind);
        }
        REFETCH.wait(self.refetches, None).await;
        tracing::warn!("{}: {kind}; fetching it again ({} of {})", self.repo.host(), self.refetches + 1, REFETCH.attempts);
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
                let kind = self.mismatch(None, len + (self.desc.size - expect_len));
                self.wrong_whole(kind).await?;
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
                    if let Err(kind) = self.accept(chunk).await {
                        return Some(Err(kind));
                    }
                    let release_at = if self.desc.size > HOLD_BYTES as u64 { PIECE_BYTES } else { HOLD_BYTES };
                    if self.received < self.desc.size && self.held.len() >= release_at && self.check.is_none() {
                        let piece = self.held.split().freeze();
                        self.delivered += piece.len() as u64;
                        self.prefix.update(&piece);
                        return Some(Ok(piece));
                    }
                }
                Some(Err(source)) => {
                    self.body = None;
                    self.resumes += 1;
                    if !BODY_RESUME.allows_another(self.resumes) {
                        return Some(Err(ErrorKind::Network { what: "the body".to_owned(), source }));
                    }
                    let wait = BODY_RESUME.wait(self.resumes, None).await;
                    tracing::warn!(
                        "{}: {} broke off after {} of {} bytes ({source}); resumed after {wait:?}",
                        self.repo.host(),
                        self.what,
                        self.received,
                        self.desc.size
                    );
                }
                None => {
                    self.body = None;
                    if self.received < self.desc.size {
                        // Ended early without a transport error: resume like a cut.
                        self.resumes += 1;
                        if !BODY_RESUME.allows_another(self.resumes) {
                            return Some(Err(self.mismatch(None, self.received)));
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
                    let kind = self.mismatch(Some(actual), self.received);
                    if let Err(kind) = self.wrong_whole(kind).await {
                        return Some(Err(kind));
                    }
                }
            }
        }
    }

    /// Takes a chunk of the current body at offset `received`.
    async fn accept(&mut self, chunk: Bytes) -> Result<(), ErrorKind> {
        let start = self.received;
        self.received += chunk.len() as u64;
        if self.received > self.desc.size {
            let kind = self.mismatch(None, self.received);
            return self.wrong_whole(kind).await;
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
