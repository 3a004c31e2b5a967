//! Blob uploads: a monolithic `PUT ?digest=` with the size known up front, the chunked
//! `PATCH` fallback for registries or proxies that refuse large bodies (413), and
//! cross-repository mounts whose `202` answer turns into an ordinary upload.

use std::future::Future;

use bytes::{Bytes, BytesMut};
use ferry_oci::Descriptor;
use futures_util::StreamExt;
use reqwest::Method;
use reqwest::header::{CONTENT_LENGTH, CONTENT_TYPE, LOCATION};

use ferry_oci::{BlobError, BlobStream, Origin};

use crate::client::{Body, Repository, Request};
use crate::error::{Error, ErrorKind};

/// A blob of at most this size is read whole and sent in one `PUT`, which can be replayed.
const WHOLE_BYTES: usize = 16 << 20;

/// Size of each `PATCH` of a larger blob. An upload holds the chunk it sends and the one it
/// reads meanwhile, so this bounds its memory (and that of every upload running at once).
const CHUNK_BYTES: usize = 4 << 20;

/// An upload the registry has opened: where to send the next request.
#[derive(Debug, Clone)]
pub struct UploadSession {
    location: String,
}

/// What a mount request achieved.
#[derive(Debug)]
pub enum Mount {
    /// The registry linked the blob from the other repository.
    Mounted,
    /// The registry refused (202) and opened an upload instead, to be used for the push.
    Upload(UploadSession),
}

fn with_digest(location: &str, desc: &Descriptor) -> String {
    let sep = if location.contains('?') { '&' } else { '?' };
    format!("{location}{sep}digest={}", desc.digest)
}

impl Repository {
    fn upload_what(&self, desc: &Descriptor) -> String {
        format!("upload of blob {} to {}/{}", desc.digest, self.registry(), self.name)
    }

    /// The upload failed because its source stream did: keep the source's error.
    fn source_failed(&self, what: &str, source: BlobError) -> Error {
        self.error(ErrorKind::Source { what: what.to_owned(), source: Box::new(source) })
    }

    /// Bytes this upload holds in memory, as a stream that verifies them once more.
    fn held(&self, desc: &Descriptor, bytes: Bytes) -> BlobStream {
        let origin = Origin::Memory { what: format!("blob {} held for its upload to {}/{}", desc.digest, self.registry(), self.name) };
        BlobStream::from_bytes(desc.clone(), origin, bytes)
    }

    fn location(&self, resp: &reqwest::Response, what: &str) -> Result<String, Error> {
        let loc = resp.headers().get(LOCATION).and_then(|v| v.to_str().ok()).ok_or_else(|| {
            self.error(ErrorKind::Protocol { what: what.to_owned(), detail: "upload response has no Location".to_owned() })
        })?;
        Ok(self.absolute(loc))
    }

    /// Opens an upload session (`POST /blobs/uploads/`).
    pub async fn start_upload(&self, desc: &Descriptor) -> Result<UploadSession, Error> {
        let what = self.upload_what(desc);
        let resp = self.send(Request::new(Method::POST, self.url("blobs/uploads/"), self.push_scope(), what.clone())).await?;
        if resp.status().as_u16() != 202 {
            return Err(self.unexpected(resp, what).await);
        }
        Ok(UploadSession { location: self.location(&resp, &what)? })
    }

    /// Asks the registry to mount `desc` from repository `from` on the same registry.
    pub async fn mount_blob(&self, desc: &Descriptor, from: &str) -> Result<Mount, Error> {
        let what = format!("mount of blob {} from {from} into {}/{}", desc.digest, self.registry(), self.name);
        let url = format!(
            "{}?mount={}&from={}",
            self.url("blobs/uploads/"),
            desc.digest,
            url::form_urlencoded::byte_serialize(from.as_bytes()).collect::<String>()
        );
        let mut scopes = self.push_scope();
        scopes.push(format!("repository:{from}:pull"));
        let resp = self.send(Request::new(Method::POST, url, scopes, what.clone())).await?;
        match resp.status().as_u16() {
            201 => Ok(Mount::Mounted),
            202 => Ok(Mount::Upload(UploadSession { location: self.location(&resp, &what)? })),
            _ => Err(self.unexpected(resp, what).await),
        }
    }

    /// Pushes small bytes (a config, a manifest as a blob) in one request.
    pub async fn push_blob_bytes(&self, desc: &Descriptor, bytes: Bytes) -> Result<(), Error> {
        let what = self.upload_what(desc);
        let session = self.start_upload(desc).await?;
        let mut req = Request::new(Method::PUT, with_digest(&session.location, desc), self.push_scope(), what.clone())
            .header(CONTENT_TYPE, "application/octet-stream");
        req.body = Body::Bytes(bytes.clone());
        let resp = self.send(req).await?;
        match resp.status().as_u16() {
            201 => Ok(()),
            413 => {
                tracing::info!("{}: monolithic upload refused (413); retrying in chunks", self.host());
                self.push_blob_chunked(desc, self.held(desc, bytes)).await
            }
            _ => Err(self.unexpected(resp, what).await),
        }
    }

    /// Streams a blob into the repository: a monolithic `PUT` with the digest, falling back to
    /// chunked `PATCH`es if the registry answers 413. `open` (re)opens the verified source,
    /// since a consumed stream cannot be replayed. `session` continues an upload a refused
    /// mount opened.
    pub async fn push_blob<F, Fut>(&self, desc: &Descriptor, session: Option<UploadSession>, open: F) -> Result<(), Error>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<BlobStream, Error>>,
    {
        let what = self.upload_what(desc);
        let session = match session {
            Some(s) => s,
            None => self.start_upload(desc).await?,
        };
        let source = open().await?;
        let mut req = Request::new(Method::PUT, with_digest(&session.location, desc), self.push_scope(), what.clone())
            .header(CONTENT_TYPE, "application/octet-stream")
            .header(CONTENT_LENGTH, &desc.size.to_string());
        req.body = Body::Stream(reqwest::Body::wrap_stream(source));
        let resp = match self.send(req).await {
            Ok(r) => r,
            Err(e) => return Err(body_error(self, e, &what)),
        };
        match resp.status().as_u16() {
            201 => Ok(()),
            413 => {
                tracing::info!("{}: monolithic upload refused (413); retrying in {} MiB chunks", self.host(), CHUNK_BYTES >> 20);
                self.push_blob_chunked(desc, open().await?).await
            }
            _ => Err(self.unexpected(resp, what).await),
        }
    }

    /// Uploads in `PATCH` chunks and finishes with `PUT ?digest=`. Follows the newest
    /// `Location` at every step, as distribution changes it each time.
    pub async fn push_blob_chunked(&self, desc: &Descriptor, mut source: BlobStream) -> Result<(), Error> {
        let what = self.upload_what(desc);
        let mut session = self.start_upload(desc).await?;
        let mut offset: u64 = 0;
        let mut buf = BytesMut::with_capacity(CHUNK_BYTES.min(usize::try_from(desc.size).unwrap_or(CHUNK_BYTES).max(1)));
        loop {
            let next = source.next().await.transpose().map_err(|e| self.source_failed(&what, e))?;
            if let Some(chunk) = &next {
                buf.extend_from_slice(chunk);
            }
            if buf.len() >= CHUNK_BYTES || (next.is_none() && !buf.is_empty()) {
                let chunk = buf.split().freeze();
                let end = offset + chunk.len() as u64 - 1;
                let mut req = Request::new(Method::PATCH, session.location.clone(), self.push_scope(), what.clone())
                    .header(CONTENT_TYPE, "application/octet-stream")
                    .header(reqwest::header::CONTENT_RANGE, &format!("{offset}-{end}"));
                offset = end + 1;
                req.body = Body::Bytes(chunk);
                let resp = self.send(req).await?;
                if resp.status().as_u16() != 202 {
                    return Err(self.unexpected(resp, what).await);
                }
                session = UploadSession { location: self.location(&resp, &what)? };
            }
            if next.is_none() {
                break;
            }
        }
        let resp = self.send(Request::new(Method::PUT, with_digest(&session.location, desc), self.push_scope(), what.clone())).await?;
        if resp.status().as_u16() != 201 {
            return Err(self.unexpected(resp, what).await);
        }
        Ok(())
    }
}

/// Reads `source` into `buf` until it holds a whole chunk or the source ends; `true` at the end.
async fn fill_chunk(source: &mut BlobStream, buf: &mut BytesMut) -> Result<bool, ferry_oci::BlobError> {
    while buf.len() < CHUNK_BYTES {
        match source.next().await.transpose()? {
            Some(piece) => buf.extend_from_slice(&piece),
            None => return Ok(true),
        }
    }
    Ok(false)
}

/// Sessions opened for one blob before giving up; a session the registry lost or refused
/// is cancelled and a new one opened while the bytes to send are still held.
const SESSION_ATTEMPTS: u32 = 3;

impl Repository {
    /// Cancels an upload session (`DELETE` of its URL) so the registry drops the bytes it
    /// holds. Best effort: a registry that already forgot the session answers 404.
    pub async fn cancel_upload(&self, session: &UploadSession) {
        let what = format!("cancelling an upload to {}/{}", self.registry(), self.name);
        match self.send(Request::new(Method::DELETE, session.location.clone(), self.push_scope(), what)).await {
            Ok(resp) => tracing::debug!("{}: upload cancelled ({})", self.host(), resp.status()),
            Err(e) => tracing::debug!("{e}"),
        }
    }

    /// Uploads a one-shot stream with retries. A blob up to 16 MiB (`WHOLE_BYTES`) is read whole
    /// into memory and sent in one `PUT ?digest=`, replayed on 429, 5xx or a broken
    /// connection (honouring `Retry-After`). A larger blob goes in `PATCH` chunks of 4 MiB
    /// (`CHUNK_BYTES`), each held until the registry took it: a failed chunk is re-sent
    /// from where the session stands (`GET` on the upload URL). A rejected upload is
    /// cancelled. A failure of the source stream is returned as [`ErrorKind::Source`], not retried.
    pub async fn push_blob_stream(&self, desc: &Descriptor, session: Option<UploadSession>, mut source: BlobStream) -> Result<(), Error> {
        if desc.size <= WHOLE_BYTES as u64 {
            let bytes = match source.collect().await {
                Ok(b) => Bytes::from(b),
                Err(e) => {
                    if let Some(s) = &session {
                        self.cancel_upload(s).await;
                    }
                    return Err(self.source_failed(&self.upload_what(desc), e));
                }
            };
            return self.put_whole(desc, session, bytes).await;
        }
        let what = self.upload_what(desc);
        let mut session = match session {
            Some(s) => s,
            None => self.start_upload(desc).await?,
        };
        let mut offset: u64 = 0;
        let mut buf = BytesMut::with_capacity(CHUNK_BYTES);
        let mut ended = match fill_chunk(&mut source, &mut buf).await {
            Ok(ended) => ended,
            Err(e) => {
                self.cancel_upload(&session).await;
                return Err(self.source_failed(&what, e));
            }
        };
        // Each chunk is sent while the next one is read, so the source and the registry both
        // keep moving: two chunks held at most.
        while !buf.is_empty() {
            // A fresh buffer for the next chunk, so no allocation is shared and grown.
            let mut chunk = std::mem::replace(&mut buf, BytesMut::with_capacity(CHUNK_BYTES));
            if chunk.len() > CHUNK_BYTES {
                buf.extend_from_slice(&chunk.split_off(CHUNK_BYTES));
            }
            let n = chunk.len();
            let chunk = chunk.freeze();
            let read_next = async { if ended { Ok(true) } else { fill_chunk(&mut source, &mut buf).await } };
            let (sent, read) = tokio::join!(self.patch_chunk(desc, &mut session, offset, chunk), read_next);
            if let Err(e) = sent {
                self.cancel_upload(&session).await;
                return Err(e);
            }
            offset += n as u64;
            ended = match read {
                Ok(ended) => ended,
                Err(e) => {
                    self.cancel_upload(&session).await;
                    return Err(self.source_failed(&what, e));
                }
            };
        }
        let req = Request::new(Method::PUT, with_digest(&session.location, desc), self.push_scope(), what.clone());
        let resp = self.send(req).await?;
        if resp.status().as_u16() != 201 {
            let e = self.unexpected(resp, what).await;
            self.cancel_upload(&session).await;
            return Err(e);
        }
        Ok(())
    }

    /// One monolithic upload of bytes in memory, in a new session when one fails.
    async fn put_whole(&self, desc: &Descriptor, mut session: Option<UploadSession>, bytes: Bytes) -> Result<(), Error> {
        let what = self.upload_what(desc);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let s = match session.take() {
                Some(s) => s,
                None => self.start_upload(desc).await?,
            };
            let mut req = Request::new(Method::PUT, with_digest(&s.location, desc), self.push_scope(), what.clone())
                .header(CONTENT_TYPE, "application/octet-stream");
            req.body = Body::Bytes(bytes.clone());
            let err = match self.send(req).await {
                Ok(resp) => match resp.status().as_u16() {
                    201 => return Ok(()),
                    413 => {
                        tracing::info!("{}: monolithic upload refused (413); retrying in chunks", self.host());
                        self.cancel_upload(&s).await;
                        return self.push_blob_chunked(desc, self.held(desc, bytes.clone())).await;
                    }
                    _ => self.unexpected(resp, what.clone()).await,
                },
                Err(e) => e,
            };
            // A PUT whose answer was lost may have completed: a retry on the closed session is
            // refused, yet the blob is there.
            if !err.is_transient() && matches!(self.blob_present(desc).await, Ok(true)) {
                return Ok(());
            }
            self.cancel_upload(&s).await;
            if !err.is_transient() || attempt >= SESSION_ATTEMPTS {
                return Err(err);
            }
            tracing::warn!("{err}; uploading again in a new session");
        }
    }

    /// Sends one chunk at `offset`, re-sending it after a failure from where the registry
    /// says the session stands.
    async fn patch_chunk(&self, desc: &Descriptor, session: &mut UploadSession, offset: u64, chunk: Bytes) -> Result<(), Error> {
        let what = self.upload_what(desc);
        let end = offset + chunk.len() as u64;
        let (whole, mut offset) = (chunk, offset);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let chunk = whole.slice(usize::try_from(offset + whole.len() as u64 - end).unwrap_or(0)..);
            let mut req = Request::new(Method::PATCH, session.location.clone(), self.push_scope(), what.clone())
                .header(CONTENT_TYPE, "application/octet-stream")
                .header(reqwest::header::CONTENT_RANGE, &format!("{offset}-{}", end - 1));
            req.body = Body::Bytes(chunk.clone());
            let err = match self.send(req).await {
                Ok(resp) if resp.status().as_u16() == 202 => {
                    *session = UploadSession { location: self.location(&resp, &what)? };
                    return Ok(());
                }
                Ok(resp) => self.unexpected(resp, what.clone()).await,
                Err(e) => e,
            };
            if attempt >= SESSION_ATTEMPTS {
                return Err(err);
            }
            // Where does the session stand? A registry that took the chunk already moved on.
            match self.upload_status(session).await {
                Some(stands) if stands == end => return Ok(()),
                Some(stands) if stands >= end - whole.len() as u64 && stands < end => {
                    // The registry has the chunk up to `stands`: send the rest of it.
                    offset = stands;
                    tracing::warn!("{err}; sending the chunk again from {offset}");
                }
                None if end == whole.len() as u64 => {
                    offset = 0;
                    tracing::warn!("{err}; the session is gone, opening a new one");
                    self.cancel_upload(session).await;
                    *session = self.start_upload(desc).await?;
                }
                _ => return Err(err),
            }
        }
    }

    /// The offset an upload session has reached (`GET` on its URL, `Range: 0-N`), and
    /// follows its new `Location`; `None` when the registry does not know it.
    async fn upload_status(&self, session: &mut UploadSession) -> Option<u64> {
        let what = format!("status of an upload to {}/{}", self.registry(), self.name);
        let resp = self.send(Request::new(Method::GET, session.location.clone(), self.push_scope(), what.clone())).await.ok()?;
        if resp.status().as_u16() != 204 {
            return None;
        }
        if let Ok(loc) = self.location(&resp, &what) {
            session.location = loc;
        }
        let range = resp.headers().get(reqwest::header::RANGE)?.to_str().ok()?;
        let end: u64 = range.rsplit('-').next()?.trim().parse().ok()?;
        // "0-0" is an empty session in distribution's notation.
        Some(if range.trim() == "0-0" { 0 } else { end + 1 })
    }
}

/// A failed streaming PUT is usually the source failing mid-body; say so (the transport's
/// error keeps the source's as its cause).
fn body_error(repo: &Repository, e: Error, what: &str) -> Error {
    match e.kind {
        ErrorKind::Network { source, .. } if source.is_body() || source.is_request() => {
            repo.error(ErrorKind::Body { what: what.to_owned(), source })
        }
        kind => Error { host: e.host, kind },
    }
}
