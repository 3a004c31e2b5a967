//! Manifests: resolve (HEAD), fetch (GET, kept as bytes and verified), push (PUT with
//! `Content-Type`), existence checks and tag listing.

use bytes::Bytes;
use ferry_oci::media_type::MANIFEST_TYPES;
use ferry_oci::{Descriptor, Digest, DigestMismatch, Manifest};
use reqwest::Method;
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap};

use crate::client::{Body, Repository, Request};
use crate::error::{Error, ErrorKind};
use crate::retry::INDEX_RACE;

/// Manifests larger than this are refused; distribution itself accepts at most 4 MiB.
const MAX_MANIFEST_BYTES: usize = 16 << 20;

fn accept() -> String {
    MANIFEST_TYPES.join(", ")
}

fn media_type_of(headers: &HeaderMap) -> Option<String> {
    let ct = headers.get(CONTENT_TYPE)?.to_str().ok()?;
    Some(ct.split(';').next().unwrap_or(ct).trim().to_owned())
}

fn digest_header(headers: &HeaderMap) -> Option<Digest> {
    headers.get("docker-content-digest")?.to_str().ok()?.parse().ok()
}

impl Repository {
    fn manifest_what(&self, reference: &str) -> String {
        let sep = if reference.contains(':') { "@" } else { ":" };
        format!("manifest {}/{}{sep}{reference}", self.registry(), self.name)
    }

    /// Resolves a tag or digest to a descriptor (media type, digest, size).
    pub async fn resolve(&self, reference: &str) -> Result<Descriptor, Error> {
        let what = self.manifest_what(reference);
        let req = Request::new(Method::HEAD, self.url(&format!("manifests/{reference}")), self.pull_scope(), what.clone())
            .header(ACCEPT, &accept());
        let resp = self.send(req).await?;
        if !resp.status().is_success() {
            return Err(self.unexpected(resp, what).await);
        }
        let headers = resp.headers();
        let size = headers.get(reqwest::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
        match (media_type_of(headers), digest_header(headers), size) {
            (Some(mt), Some(digest), Some(size)) if ferry_oci::media_type::is_manifest(&mt) => {
                if let Ok(want) = reference.parse::<Digest>()
                    && want != digest
                {
                    return Err(self.error(ErrorKind::Protocol { what, detail: format!("registry reports digest {digest}") }));
                }
                Ok(Descriptor::new(mt, digest, size))
            }
            // Some registries answer HEAD without a digest; fetch and hash instead.
            _ => Ok(self.fetch_manifest_by_reference(reference).await?.descriptor().clone()),
        }
    }

    /// Fetches a manifest by tag or digest and checks it: against the digest when one was
    /// given, and against `Docker-Content-Digest` when the registry sent one.
    pub async fn fetch_manifest_by_reference(&self, reference: &str) -> Result<Manifest, Error> {
        let what = self.manifest_what(reference);
        let (media_type, bytes, header) = self.get_manifest(reference, &what).await?;
        let computed = match reference.parse::<Digest>() {
            Ok(d) => d.same_algorithm_of(&bytes),
            Err(_) => header.as_ref().map_or_else(|| Digest::sha256(&bytes), |h| h.same_algorithm_of(&bytes)),
        };
        let expected = reference.parse::<Digest>().ok().or(header).unwrap_or_else(|| computed.clone());
        if expected != computed {
            let size = bytes.len() as u64;
            let mismatch = DigestMismatch { expected, expected_size: size, size, actual: Some(computed) };
            return Err(self.error(ErrorKind::Mismatch { what, mismatch: Box::new(mismatch) }));
        }
        let desc = Descriptor::new(media_type, computed, bytes.len() as u64);
        Manifest::from_bytes(desc, bytes.to_vec()).map_err(|e| self.error(ErrorKind::Protocol { what, detail: e.to_string() }))
    }

    /// Fetches the manifest a descriptor names and verifies digest and size.
    pub async fn fetch_manifest(&self, desc: &Descriptor) -> Result<Manifest, Error> {
        let reference = desc.digest.to_string();
        let what = self.manifest_what(&reference);
        let (_, bytes, _) = self.get_manifest(&reference, &what).await?;
        Manifest::from_bytes(desc.clone(), bytes.to_vec()).map_err(|e| self.error(ErrorKind::Protocol { what, detail: e.to_string() }))
    }

    async fn get_manifest(&self, reference: &str, what: &str) -> Result<(String, Bytes, Option<Digest>), Error> {
        let req = Request::new(Method::GET, self.url(&format!("manifests/{reference}")), self.pull_scope(), what.to_owned())
            .header(ACCEPT, &accept());
        let resp = self.send(req).await?;
        if !resp.status().is_success() {
            return Err(self.unexpected(resp, what.to_owned()).await);
        }
        let media_type = media_type_of(resp.headers()).unwrap_or_default();
        let header = digest_header(resp.headers());
        if resp.content_length().is_some_and(|n| n > MAX_MANIFEST_BYTES as u64) {
            return Err(self
                .error(ErrorKind::Protocol { what: what.to_owned(), detail: format!("manifest larger than {MAX_MANIFEST_BYTES} bytes") }));
        }
        let bytes = resp.bytes().await.map_err(|source| self.error(ErrorKind::Network { what: what.to_owned(), source }))?;
        if bytes.len() > MAX_MANIFEST_BYTES {
            return Err(self
                .error(ErrorKind::Protocol { what: what.to_owned(), detail: format!("manifest larger than {MAX_MANIFEST_BYTES} bytes") }));
        }
        // A registry that omits Content-Type: take the document's own mediaType.
        let media_type = if ferry_oci::media_type::is_manifest(&media_type) {
            media_type
        } else {
            serde_json::from_slice::<ferry_oci::ManifestView>(&bytes).map(|v| v.media_type).unwrap_or(media_type)
        };
        Ok((media_type, bytes, header))
    }

    /// Whether the manifest exists (HEAD by digest).
    pub async fn manifest_exists(&self, desc: &Descriptor) -> Result<bool, Error> {
        let reference = desc.digest.to_string();
        let what = self.manifest_what(&reference);
        let req = Request::new(Method::HEAD, self.url(&format!("manifests/{reference}")), self.pull_scope(), what.clone())
            .header(ACCEPT, &accept());
        let resp = self.send(req).await?;
        match resp.status().as_u16() {
            200..=299 => Ok(true),
            404 => Ok(false),
            _ => Err(self.unexpected(resp, what).await),
        }
    }

    /// Pushes manifest bytes under a tag or digest. Returns whether the registry reported an
    /// `OCI-Subject` header (it maintains the referrers API itself).
    pub async fn push_manifest(&self, reference: &str, media_type: &str, bytes: &[u8]) -> Result<bool, Error> {
        let what = format!("push {}", self.manifest_what(reference));
        let mut req = Request::new(Method::PUT, self.url(&format!("manifests/{reference}")), self.push_scope(), what.clone())
            .header(CONTENT_TYPE, media_type);
        req.body = Body::Bytes(Bytes::copy_from_slice(bytes));
        let resp = self.send(req).await?;
        if !resp.status().is_success() {
            return Err(self.unexpected(resp, what).await);
        }
        Ok(resp.headers().contains_key("oci-subject"))
    }

    /// [`Repository::push_manifest`] for a manifest whose children this run has itself placed
    /// or verified: an index (or manifest list) PUT that distribution answers 400
    /// `DIGEST_INVALID`/`MANIFEST_BLOB_UNKNOWN`, which it does now and then while one of the
    /// children is re-PUT in the same repository, is repeated under [`INDEX_RACE`] (5 attempts,
    /// 100 ms doubling). Other manifests are pushed once.
    pub async fn push_manifest_placed(&self, reference: &str, media_type: &str, bytes: &[u8]) -> Result<bool, Error> {
        let index = ferry_oci::media_type::is_index(media_type);
        let mut attempt = 1;
        loop {
            match self.push_manifest(reference, media_type, bytes).await {
                Err(e) if index && e.is_index_race() && INDEX_RACE.allows_another(attempt) => {
                    let wait = INDEX_RACE.wait(attempt, None).await;
                    tracing::warn!("{e}; every child is in place, so pushed it again after {wait:?}");
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    /// Tags of the repository, sorted (registries need not sort them), following `Link`.
    pub async fn tags(&self) -> Result<Vec<String>, Error> {
        #[derive(serde::Deserialize)]
        struct TagList {
            #[serde(default)]
            tags: Option<Vec<String>>,
        }
        let what = format!("tags of {}/{}", self.registry(), self.name);
        let mut url = self.url("tags/list");
        let mut out = Vec::new();
        loop {
            let resp = self.send(Request::new(Method::GET, url.clone(), self.pull_scope(), what.clone())).await?;
            if resp.status().as_u16() == 404 {
                break;
            }
            if !resp.status().is_success() {
                return Err(self.unexpected(resp, what).await);
            }
            let next = resp
                .headers()
                .get(reqwest::header::LINK)
                .and_then(|v| v.to_str().ok())
                .and_then(|l| l.split(';').next())
                .map(|l| l.trim().trim_start_matches('<').trim_end_matches('>').to_owned());
            let body = resp.bytes().await.map_err(|source| self.error(ErrorKind::Network { what: what.clone(), source }))?;
            let list: TagList =
                serde_json::from_slice(&body).map_err(|e| self.error(ErrorKind::Protocol { what: what.clone(), detail: e.to_string() }))?;
            out.extend(list.tags.unwrap_or_default());
            match next {
                Some(n) if !n.is_empty() => url = self.absolute(&n),
                _ => break,
            }
        }
        out.sort();
        out.dedup();
        Ok(out)
    }
}
