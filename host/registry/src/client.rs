//! The client, its per-repository handle, and the request loop every operation goes
//! through: auth, retries and the per-host concurrency limit.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use ferry_config::certs::CertDirs;
use ferry_config::credentials::{Credential, CredentialStore};
use ferry_config::{Config, Endpoint, Scheme};
use ferry_oci::Reference;
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue, RETRY_AFTER, WWW_AUTHENTICATE};
use reqwest::{Method, Response, StatusCode};
use tokio::sync::Semaphore;

use crate::auth::{self, Challenge, HostAuth};
use crate::error::{Error, ErrorKind, describe_body};
use crate::retry::{RetryPolicy, retriable_status};

/// A registry client shared by every repository handle; cheap to clone.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    config: Config,
    credentials: CredentialStore,
    cert_dirs: CertDirs,
    retry: RetryPolicy,
    http: Mutex<HashMap<String, reqwest::Client>>,
    limits: Mutex<HashMap<String, Arc<Semaphore>>>,
    auth: tokio::sync::Mutex<HashMap<String, HostAuth>>,
    credential_cache: Mutex<HashMap<String, Option<Credential>>>,
    pub(crate) referrers_api: Mutex<HashMap<String, bool>>,
    /// Serialises read-modify-write of tag-schema referrer indexes, so concurrent copies
    /// never drop each other's entries.
    pub(crate) referrers_tag_lock: tokio::sync::Mutex<()>,
}

/// One repository on one registry, after endpoint selection and `rewritePull`.
#[derive(Clone)]
pub struct Repository {
    pub(crate) client: Client,
    pub(crate) endpoint: Arc<Endpoint>,
    pub(crate) name: String,
}

/// A request body: replayable bytes, or a one-shot stream that cannot be retried.
pub(crate) enum Body {
    Empty,
    Bytes(Bytes),
    Stream(reqwest::Body),
}

/// One HTTP request an operation wants made.
pub(crate) struct Request {
    pub(crate) method: Method,
    pub(crate) url: String,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Body,
    /// Token scopes the request needs (`repository:NAME:pull,push`).
    pub(crate) scopes: Vec<String>,
    /// Names the operation in errors.
    pub(crate) what: String,
}

impl Request {
    pub(crate) fn new(method: Method, url: String, scopes: Vec<String>, what: String) -> Request {
        Request { method, url, headers: HeaderMap::new(), body: Body::Empty, scopes, what }
    }

    pub(crate) fn header(mut self, name: reqwest::header::HeaderName, value: &str) -> Request {
        if let Ok(v) = HeaderValue::from_str(value) {
            self.headers.insert(name, v);
        }
        self
    }
}

impl Client {
    /// A client reading credentials from the Docker config and certificates from `certs.d`.
    pub fn new(config: Config) -> Client {
        Client::with_parts(config, CredentialStore::from_env(), CertDirs::default_dirs(), RetryPolicy::default())
    }

    /// A client with explicit credential store, certificate directories and retry policy.
    pub fn with_parts(config: Config, credentials: CredentialStore, cert_dirs: CertDirs, retry: RetryPolicy) -> Client {
        // reqwest wants a process-wide provider even for plain HTTP; ferry uses ring throughout.
        let _ = rustls::crypto::ring::default_provider().install_default();
        Client {
            inner: Arc::new(Inner {
                config,
                credentials,
                cert_dirs,
                retry,
                http: Mutex::new(HashMap::new()),
                limits: Mutex::new(HashMap::new()),
                auth: tokio::sync::Mutex::new(HashMap::new()),
                credential_cache: Mutex::new(HashMap::new()),
                referrers_api: Mutex::new(HashMap::new()),
                referrers_tag_lock: tokio::sync::Mutex::new(()),
            }),
        }
    }

    pub(crate) fn inner_retry(&self) -> &RetryPolicy {
        &self.inner.retry
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The repository a reference names, with endpoint and `rewritePull` applied.
    pub fn repository(&self, reference: &Reference) -> Repository {
        let endpoint = self.inner.config.endpoint(&reference.registry);
        let name = self.inner.config.rewrite_repository(&reference.registry, &reference.repository);
        Repository { client: self.clone(), endpoint: Arc::new(endpoint), name }
    }

    /// The HTTP client for an endpoint, built on first use.
    fn http(&self, endpoint: &Endpoint) -> Result<reqwest::Client, Error> {
        let mut clients = self.inner.http.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = clients.get(&endpoint.url) {
            return Ok(c.clone());
        }
        let mut builder = reqwest::Client::builder()
            .user_agent(concat!("ferry/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(30))
            .read_timeout(Duration::from_secs(300));
        if endpoint.scheme == Scheme::Https {
            let material = self.inner.cert_dirs.material(&endpoint.host).map_err(|e| Error::new(&endpoint.host, ErrorKind::Certs(e)))?;
            let tls = crate::tls::client_config(&material, endpoint.insecure_skip_verify)
                .map_err(|e| Error::new(&endpoint.host, ErrorKind::Tls(e)))?;
            builder = builder.use_preconfigured_tls(tls);
        }
        let client = builder.build().map_err(|e| Error::new(&endpoint.host, ErrorKind::Tls(e.to_string())))?;
        clients.insert(endpoint.url.clone(), client.clone());
        Ok(client)
    }

    fn limit(&self, host: &str) -> Arc<Semaphore> {
        let mut limits = self.inner.limits.lock().unwrap_or_else(|e| e.into_inner());
        limits.entry(host.to_owned()).or_insert_with(|| Arc::new(Semaphore::new(self.inner.config.concurrent_http()))).clone()
    }

    fn credential(&self, endpoint: &Endpoint) -> Result<Option<Credential>, Error> {
        let mut cache = self.inner.credential_cache.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = cache.get(&endpoint.host) {
            return Ok(c.clone());
        }
        let mut found = self.inner.credentials.get(&endpoint.host).map_err(|e| Error::new(&endpoint.host, ErrorKind::Credentials(e)))?;
        if found.is_none() && endpoint.registry != endpoint.host {
            found = self.inner.credentials.get(&endpoint.registry).map_err(|e| Error::new(&endpoint.host, ErrorKind::Credentials(e)))?;
        }
        cache.insert(endpoint.host.clone(), found.clone());
        Ok(found)
    }

    /// The `Authorization` header to send for `scopes`, from what the host asked for before.
    async fn authorization(&self, endpoint: &Endpoint, http: &reqwest::Client, scopes: &[String]) -> Result<Option<String>, Error> {
        let challenge = {
            let auth = self.inner.auth.lock().await;
            match auth.get(&endpoint.host).and_then(|h| h.challenge.clone()) {
                None => return Ok(None),
                Some(c) => c,
            }
        };
        match challenge {
            Challenge::Basic => match self.credential(endpoint)? {
                Some(Credential::Basic { username, password }) => Ok(Some(auth::basic_header(&username, password.expose()))),
                _ => Ok(None),
            },
            Challenge::Bearer { realm, service, .. } => {
                let key = auth::scope_key(scopes);
                let mut auth = self.inner.auth.lock().await;
                let host_auth = auth.entry(endpoint.host.clone()).or_default();
                if let Some(t) = host_auth.tokens.get(&key)
                    && t.expires > Instant::now()
                {
                    return Ok(Some(format!("Bearer {}", t.value.expose())));
                }
                // Holding the lock while fetching keeps concurrent requests from each
                // fetching the same token.
                let credential = self.credential(endpoint)?;
                let token = auth::fetch_token(http, &endpoint.host, &realm, service.as_deref(), scopes, credential.as_ref()).await?;
                let header = format!("Bearer {}", token.value.expose());
                host_auth.tokens.insert(key, token);
                Ok(Some(header))
            }
        }
    }

    async fn remember_challenge(&self, host: &str, challenge: Challenge) {
        let mut auth = self.inner.auth.lock().await;
        let entry = auth.entry(host.to_owned()).or_default();
        let stored = match &challenge {
            Challenge::Bearer { realm, service, .. } => Challenge::Bearer { realm: realm.clone(), service: service.clone(), scope: None },
            Challenge::Basic => Challenge::Basic,
        };
        if entry.challenge.as_ref() != Some(&stored) {
            entry.tokens.clear();
        }
        entry.challenge = Some(stored);
    }

    /// Sends a request: adds auth (answering one 401 challenge), retries transient failures
    /// of replayable requests with backoff, and holds a per-host permit while it runs.
    /// Returns the response whatever its status; callers map statuses to errors.
    pub(crate) async fn send(&self, endpoint: &Endpoint, mut req: Request) -> Result<Response, Error> {
        let http = self.http(endpoint)?;
        let host = endpoint.host.as_str();
        let semaphore = self.limit(host);
        let mut scopes = req.scopes.clone();
        let mut answered_challenge = false;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let body = match &mut req.body {
                Body::Empty => None,
                Body::Bytes(b) => Some(reqwest::Body::from(b.clone())),
                Body::Stream(_) => match std::mem::replace(&mut req.body, Body::Empty) {
                    Body::Stream(s) => Some(s),
                    _ => None,
                },
            };
            let replayable = !matches!(body, Some(ref b) if b.as_bytes().is_none());
            let mut rb = http.request(req.method.clone(), &req.url).headers(req.headers.clone());
            if let Some(value) = self.authorization(endpoint, &http, &scopes).await? {
                rb = rb.header(AUTHORIZATION, value);
            }
            if let Some(b) = body {
                rb = rb.body(b);
            }
            let permit = semaphore.clone().acquire_owned().await;
            let result = rb.send().await;
            drop(permit);
            let resp = match result {
                Ok(r) => r,
                Err(source) => {
                    if replayable && attempt < self.inner.retry.attempts && transient_transport(&source) {
                        let wait = self.inner.retry.delay(attempt, None);
                        tracing::warn!("{host}: {}: {source}; retrying in {wait:?}", req.what);
                        tokio::time::sleep(wait).await;
                        continue;
                    }
                    return Err(Error::new(host, ErrorKind::Network { what: req.what, source }));
                }
            };
            let status = resp.status();
            if status == StatusCode::UNAUTHORIZED && !answered_challenge && replayable {
                let challenge = resp.headers().get(WWW_AUTHENTICATE).and_then(|v| v.to_str().ok()).and_then(auth::parse_challenge);
                if let Some(challenge) = challenge {
                    if let Challenge::Bearer { scope: Some(s), .. } = &challenge {
                        scopes = auth::merge_scopes(scopes.iter().cloned().chain(s.split(' ').map(str::to_owned)));
                    }
                    self.remember_challenge(host, challenge).await;
                    answered_challenge = true;
                    attempt -= 1;
                    continue;
                }
            }
            if status == StatusCode::UNAUTHORIZED {
                let detail = describe_body(&resp.bytes().await.unwrap_or_default());
                return Err(Error::new(host, ErrorKind::Unauthorized { what: req.what, detail }));
            }
            if status == StatusCode::FORBIDDEN {
                let detail = describe_body(&resp.bytes().await.unwrap_or_default());
                return Err(Error::new(host, ErrorKind::Denied { what: req.what, detail }));
            }
            if retriable_status(status.as_u16()) && replayable && attempt < self.inner.retry.attempts {
                let retry_after = resp.headers().get(RETRY_AFTER).and_then(|v| v.to_str().ok()).map(str::to_owned);
                let wait = self.inner.retry.delay(attempt, retry_after.as_deref());
                tracing::warn!("{host}: {}: registry answered {status}; retrying in {wait:?}", req.what);
                drop(resp);
                tokio::time::sleep(wait).await;
                continue;
            }
            return Ok(resp);
        }
    }
}

fn transient_transport(e: &reqwest::Error) -> bool {
    e.is_connect() || e.is_timeout() || e.is_request() || e.is_body()
}

impl Repository {
    /// Repository path on the registry (after `rewritePull`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The network host (`host:port`).
    pub fn host(&self) -> &str {
        &self.endpoint.host
    }

    /// The registry as written in the reference.
    pub fn registry(&self) -> &str {
        &self.endpoint.registry
    }

    /// The same registry, another repository.
    pub fn sibling(&self, name: &str) -> Repository {
        Repository { client: self.client.clone(), endpoint: self.endpoint.clone(), name: name.to_owned() }
    }

    pub(crate) fn url(&self, suffix: &str) -> String {
        format!("{}/v2/{}/{}", self.endpoint.url.trim_end_matches('/'), self.name, suffix)
    }

    /// Resolves a `Location` header (absolute or relative) against the endpoint.
    pub(crate) fn absolute(&self, location: &str) -> String {
        if location.starts_with("http://") || location.starts_with("https://") {
            return location.to_owned();
        }
        let base = self.endpoint.url.trim_end_matches('/');
        if location.starts_with('/') { format!("{base}{location}") } else { format!("{base}/{location}") }
    }

    pub(crate) fn pull_scope(&self) -> Vec<String> {
        vec![format!("repository:{}:pull", self.name)]
    }

    pub(crate) fn push_scope(&self) -> Vec<String> {
        vec![format!("repository:{}:pull,push", self.name)]
    }

    pub(crate) async fn send(&self, req: Request) -> Result<Response, Error> {
        self.client.send(&self.endpoint, req).await
    }

    pub(crate) fn client_referrers_cache(&self) -> &Mutex<HashMap<String, bool>> {
        &self.client.inner.referrers_api
    }

    pub(crate) async fn lock_referrers_tags(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.client.inner.referrers_tag_lock.lock().await
    }

    pub(crate) fn error(&self, kind: ErrorKind) -> Error {
        Error::new(&self.endpoint.host, kind)
    }

    /// Turns an unexpected response into an error, reading the registry's envelope.
    pub(crate) async fn unexpected(&self, resp: Response, what: String) -> Error {
        let status = resp.status().as_u16();
        let body = resp.bytes().await.unwrap_or_default();
        if status == 404 {
            return self.error(ErrorKind::NotFound { what });
        }
        self.error(ErrorKind::Status { what, status, detail: describe_body(&body), codes: crate::error::body_codes(&body) })
    }
}
