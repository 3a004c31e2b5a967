//! Referrers: the OCI referrers API when the registry has it, otherwise the `sha256-<hex>`
//! tag schema (read and maintained by ferry, the new index built by
//! [`ferry_oci::referrers::add_referrer`]), plus cosign's `.sig/.att/.sbom` tags.

use ferry_config::ReferrersMode;
use ferry_oci::{Descriptor, Index, Manifest, media_type};
use reqwest::Method;
use reqwest::header::ACCEPT;

use crate::client::{Repository, Request};
use crate::error::{Error, ErrorKind};

/// Suffixes of cosign's tag-based attachments.
pub const COSIGN_SUFFIXES: [&str; 3] = ["sig", "att", "sbom"];

impl Repository {
    fn api_known(&self) -> Option<bool> {
        let cache = self.client_referrers_cache();
        cache.lock().unwrap_or_else(|e| e.into_inner()).get(&self.endpoint.host).copied()
    }

    fn set_api_known(&self, supported: bool) {
        let cache = self.client_referrers_cache();
        cache.lock().unwrap_or_else(|e| e.into_inner()).insert(self.endpoint.host.clone(), supported);
    }

    /// Manifests whose `subject` is `subject`.
    pub async fn referrers(&self, subject: &Descriptor) -> Result<Vec<Descriptor>, Error> {
        let use_api = match self.endpoint.referrers {
            ReferrersMode::Tag => false,
            ReferrersMode::Api => true,
            ReferrersMode::Auto => self.api_known().unwrap_or(true),
        };
        if use_api {
            match self.referrers_api(subject).await? {
                Some(list) => return Ok(list),
                None if self.endpoint.referrers == ReferrersMode::Api => {
                    return Err(self.error(ErrorKind::Protocol {
                        what: format!("referrers of {}", subject.digest),
                        detail: "the registry has no referrers API (supportsReferrers: api)".to_owned(),
                    }));
                }
                None => {}
            }
        }
        self.referrers_tag_schema(subject).await
    }

    /// `None` when the registry has no referrers API.
    async fn referrers_api(&self, subject: &Descriptor) -> Result<Option<Vec<Descriptor>>, Error> {
        let what = format!("referrers of {} in {}/{}", subject.digest, self.registry(), self.name);
        let req = Request::new(Method::GET, self.url(&format!("referrers/{}", subject.digest)), self.pull_scope(), what.clone())
            .header(ACCEPT, media_type::OCI_INDEX);
        let resp = self.send(req).await?;
        match resp.status().as_u16() {
            200 => {
                let body = resp.bytes().await.map_err(|source| self.error(ErrorKind::Network { what: what.clone(), source }))?;
                let index: Index =
                    serde_json::from_slice(&body).map_err(|e| self.error(ErrorKind::Protocol { what, detail: e.to_string() }))?;
                self.set_api_known(true);
                Ok(Some(index.manifests))
            }
            // distribution 2.8 answers a plain-text 404 "page not found": no such route.
            400 | 404 | 405 => {
                self.set_api_known(false);
                Ok(None)
            }
            _ => Err(self.unexpected(resp, what).await),
        }
    }

    async fn referrers_tag_schema(&self, subject: &Descriptor) -> Result<Vec<Descriptor>, Error> {
        match self.fetch_manifest_by_reference(&subject.digest.tag_schema()).await {
            // Some registries resolve the fallback tag to the subject itself; that is no list.
            Ok(m) if media_type::is_index(&m.descriptor().media_type) && m.descriptor().digest != subject.digest => {
                Ok(m.view().manifests.clone())
            }
            Ok(_) => Ok(Vec::new()),
            Err(e) if e.is_not_found() => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }

    /// cosign's tag attachments of `subject`: `(tag, descriptor)` for each that exists.
    pub async fn cosign_attachments(&self, subject: &Descriptor) -> Result<Vec<(String, Descriptor)>, Error> {
        let mut out = Vec::new();
        for suffix in COSIGN_SUFFIXES {
            let tag = format!("{}.{suffix}", subject.digest.tag_schema());
            match self.resolve(&tag).await {
                Ok(d) => out.push((tag, d)),
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// After pushing `referrer` (whose `subject` is `subject`), records it where readers will
    /// look: nothing to do when the registry reported `OCI-Subject` or has the API; otherwise
    /// merge it into the `sha256-<hex>` tag-schema index.
    pub async fn record_referrer(&self, subject: &Descriptor, referrer: &Manifest, registry_indexed: bool) -> Result<(), Error> {
        if registry_indexed || self.endpoint.referrers == ReferrersMode::Api {
            return Ok(());
        }
        if self.endpoint.referrers == ReferrersMode::Auto && self.api_known().is_none() {
            // Probing costs one request and tells whether the tag index is needed at all.
            self.referrers_api(subject).await?;
        }
        if self.api_known() == Some(true) && self.endpoint.referrers != ReferrersMode::Tag {
            return Ok(());
        }
        let tag = subject.digest.tag_schema();
        // Read, extend and push under one lock: concurrent copies never drop each other's
        // entries. Across processes the registry offers no lock; the last PUT wins there.
        let _guard = self.lock_referrers_tag(&tag).await;
        let existing = match self.fetch_manifest_by_reference(&tag).await {
            Ok(m) => Some(m),
            Err(e) if e.is_not_found() => None,
            Err(e) => return Err(e),
        };
        let what = || format!("referrers index {}/{}:{tag}", self.registry(), self.name);
        match ferry_oci::referrers::add_referrer(subject, existing.as_ref(), referrer) {
            Ok(None) => Ok(()),
            Ok(Some(index)) => {
                self.push_manifest(&tag, media_type::OCI_INDEX, index.bytes()).await?;
                Ok(())
            }
            Err(source) => Err(self.error(ErrorKind::ReferrersIndex { what: what(), source: Box::new(source) })),
        }
    }
}
