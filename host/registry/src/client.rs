//! The client, its per-repository handle, and the request loop every operation goes
//! through: auth, retries and the per-host concurrency limit.
//!
//! An `https://` endpoint that answers in plain HTTP is a plain-HTTP registry: a loopback one
//! (without an endpoint in the configuration) is then reached over `http://` for the rest of
//! the run, as Docker and containerd do; any other is an error saying what to configure. At
//! `-v debug` every request is logged (method, URL without secrets, status, duration,
//! attempt), and where each host's credentials came from.
//!
//! Nothing here holds a lock across network I/O. Bearer tokens are fetched once per host and
//! scope set however many requests need them at the same time (other hosts and scopes fetch
//! in parallel), and credentials once per registry; Docker credential helpers, which are
//! processes, run on blocking threads, never on the async workers.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use ferry_config::certs::CertDirs;
use ferry_config::credentials::{Credential, CredentialError, CredentialStore, Found};
use ferry_config::{Config, Endpoint, Scheme, SchemeSource};
use ferry_oci::Reference;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue, RETRY_AFTER, WWW_AUTHENTICATE};
use reqwest::{Method, Response, StatusCode};
use tokio::sync::Semaphore;

use crate::auth::{self, Challenge, Token};
use crate::error::{Error, ErrorKind, Presented, body_codes, describe_body};
use crate::flight::SingleFlight;
use crate::retry::{RetryPolicy, retriable_status};
use crate::wire;

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
    /// What each host asked for in its last `WWW-Authenticate`.
    challenges: Mutex<HashMap<String, Challenge>>,
    /// Bearer tokens by host and scope set.
    tokens: SingleFlight<(String, String), Token, ErrorKind>,
    /// Credentials by host, looked up once for the client's life.
    credentials_found: SingleFlight<String, Option<Found>, CredentialError>,
    /// Loopback hosts that answered TLS in plain HTTP: reached over `http://` from then on.
    plain_fallback: Mutex<HashSet<String>>,
    pub(crate) referrers_api: Mutex<HashMap<String, bool>>,
    /// Serialises read-modify-write of tag-schema referrer indexes, per host and subject
    /// tag, so concurrent copies never drop each other's entries.
    referrers_tag_locks: Mutex<HashMap<TagKey, Arc<tokio::sync::Mutex<()>>>>,
}

/// A tag of a repository on a host: (host, repository, tag).
type TagKey = (String, String, String);

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
    /// A client reading credentials from the configuration's `registryAuthFile`, Docker's
    /// config, `REGISTRY_AUTH_FILE` and podman's `auth.json`, and certificates from `certs.d`.
    pub fn new(config: Config) -> Client {
        let mut credentials = CredentialStore::from_env();
        if let Some(file) = config.registry_auth_file() {
            credentials = credentials.with_registry_auth_file(file);
        }
        Client::with_parts(config, credentials, CertDirs::default_dirs(), RetryPolicy::default())
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
                challenges: Mutex::new(HashMap::new()),
                tokens: SingleFlight::default(),
                credentials_found: SingleFlight::default(),
                plain_fallback: Mutex::new(HashSet::new()),
                referrers_api: Mutex::new(HashMap::new()),
                referrers_tag_locks: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// Where credentials are read from (and `ferry login` writes).
    pub fn credentials(&self) -> &CredentialStore {
        &self.inner.credentials
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

    /// The credentials for an endpoint (by host, else by the registry's name), looked up once:
    /// concurrent requests wait for one lookup, and a failed lookup is not kept.
    async fn credential(&self, endpoint: &Endpoint) -> Result<Option<Found>, Error> {
        let store = self.inner.credentials.clone();
        let (host, registry) = (endpoint.host.clone(), endpoint.registry.clone());
        let lookup = || async move {
            // A helper is a process that may be slow or prompt: keep it off the async workers.
            let blocking = tokio::task::spawn_blocking(move || {
                let mut found = store.find(&host)?;
                if found.is_none() && registry != host {
                    found = store.find(&registry)?;
                }
                match &found {
                    Some(f) => tracing::debug!("credentials for {host}: from {}", f.source),
                    None => tracing::debug!("credentials for {host}: none found (looked in: {})", files(&store)),
                }
                Ok(found)
            });
            match blocking.await {
                Ok(found) => found,
                Err(join) => match join.try_into_panic() {
                    Ok(panic) => std::panic::resume_unwind(panic),
                    Err(_) => Err(CredentialError::Interrupted),
                },
            }
        };
        self.inner
            .credentials_found
            .get(&endpoint.host, |_| true, lookup)
            .await
            .map_err(|e| Error::new(&endpoint.host, ErrorKind::Credentials(e)))
    }

    /// What a refused request carried: the credentials' source, or where none were found.
    async fn presented(&self, endpoint: &Endpoint) -> Box<Presented> {
        Box::new(match self.credential(endpoint).await {
            Ok(Some(found)) => Presented::From(found.source),
            Ok(None) => Presented::Nothing { looked_in: self.inner.credentials.files().to_vec(), registry: endpoint.registry.clone() },
            Err(_) => Presented::Unknown,
        })
    }

    fn challenge(&self, host: &str) -> Option<Challenge> {
        self.inner.challenges.lock().unwrap_or_else(|e| e.into_inner()).get(host).cloned()
    }

    /// The `Authorization` header to send for `scopes`, from what the host asked for before.
    async fn authorization(&self, endpoint: &Endpoint, http: &reqwest::Client, scopes: &[String]) -> Result<Option<String>, Error> {
        let Some(challenge) = self.challenge(&endpoint.host) else { return Ok(None) };
        match challenge {
            Challenge::Basic => match self.credential(endpoint).await?.map(|f| f.credential) {
                Some(Credential::Basic { username, password }) => Ok(Some(auth::basic_header(&username, password.expose()))),
                _ => Ok(None),
            },
            Challenge::Bearer { realm, service, .. } => {
                let key = (endpoint.host.clone(), auth::scope_key(scopes));
                let fetch = || async {
                    let found = self.credential(endpoint).await.map_err(|e| e.kind)?;
                    let credential = found.as_ref().map(|f| &f.credential);
                    match auth::fetch_token(http, &realm, service.as_deref(), scopes, credential, &self.inner.retry).await {
                        Err(ErrorKind::Unauthorized { what, detail, codes, .. }) => {
                            Err(ErrorKind::Unauthorized { what, detail, codes, presented: self.presented(endpoint).await })
                        }
                        Err(ErrorKind::Denied { what, detail, codes, .. }) => {
                            Err(ErrorKind::Denied { what, detail, codes, presented: self.presented(endpoint).await })
                        }
                        other => other,
                    }
                };
                let token = self
                    .inner
                    .tokens
                    .get(&key, |t| t.expires > Instant::now(), fetch)
                    .await
                    .map_err(|e| Error::new(&endpoint.host, ErrorKind::Token(e)))?;
                Ok(Some(format!("Bearer {}", token.value.expose())))
            }
        }
    }

    fn remember_challenge(&self, host: &str, challenge: Challenge) {
        let stored = match &challenge {
            Challenge::Bearer { realm, service, .. } => Challenge::Bearer { realm: realm.clone(), service: service.clone(), scope: None },
            Challenge::Basic => Challenge::Basic,
        };
        let previous = self.inner.challenges.lock().unwrap_or_else(|e| e.into_inner()).insert(host.to_owned(), stored.clone());
        if previous.is_some_and(|p| p != stored) {
            // Tokens from another realm or service are no use any more.
            self.inner.tokens.forget(|(h, _)| h == host);
        }
    }

    /// The endpoint requests go to: over `http://` once a loopback host answered TLS in
    /// plain HTTP.
    fn effective<'e>(&self, endpoint: &'e Endpoint) -> Cow<'e, Endpoint> {
        let switched = endpoint.scheme == Scheme::Https
            && self.inner.plain_fallback.lock().unwrap_or_else(|e| e.into_inner()).contains(&endpoint.host);
        if switched { Cow::Owned(wire::plain(endpoint)) } else { Cow::Borrowed(endpoint) }
    }

    /// A loopback `https://` endpoint that is not configured may fall back to plain HTTP.
    fn may_fall_back(endpoint: &Endpoint) -> bool {
        endpoint.scheme == Scheme::Https && endpoint.scheme_source == SchemeSource::Default && wire::is_loopback(&endpoint.host)
    }

    /// Sends a request: adds auth (answering one 401 challenge), retries transient failures
    /// of replayable requests with backoff, and holds a per-host permit while it runs.
    /// Returns the response whatever its status; callers map statuses to errors.
    pub(crate) async fn send(&self, endpoint: &Endpoint, mut req: Request) -> Result<Response, Error> {
        let mut endpoint = self.effective(endpoint);
        if endpoint.scheme == Scheme::Http {
            req.url = wire::to_plain(&req.url, &endpoint);
        }
        let mut http = self.http(&endpoint)?;
        let host = endpoint.host.clone();
        let host = host.as_str();
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
            if let Some(value) = self.authorization(&endpoint, &http, &scopes).await? {
                rb = rb.header(AUTHORIZATION, value);
            }
            if let Some(b) = body {
                rb = rb.body(b);
            }
            let permit = semaphore.clone().acquire_owned().await;
            let started = Instant::now();
            let result = rb.send().await;
            drop(permit);
            let url = wire::loggable(&req.url);
            let resp = match result {
                Ok(r) => r,
                Err(source) => {
                    tracing::debug!(
                        "HTTP {} {url} -> failed after {:?} (attempt {attempt}): {}",
                        req.method,
                        started.elapsed(),
                        wire::causes(&source)
                    );
                    if endpoint.scheme == Scheme::Https && wire::answered_in_plain_http(&source) {
                        if Client::may_fall_back(&endpoint) && replayable {
                            tracing::info!("{host} answered plain HTTP to a TLS handshake; a loopback registry: using http://{host}");
                            self.inner.plain_fallback.lock().unwrap_or_else(|e| e.into_inner()).insert(host.to_owned());
                            endpoint = Cow::Owned(wire::plain(&endpoint));
                            req.url = wire::to_plain(&req.url, &endpoint);
                            http = self.http(&endpoint)?;
                            attempt -= 1;
                            continue;
                        }
                        let configured = endpoint.scheme_source == SchemeSource::Config;
                        let registry = endpoint.registry.clone();
                        let kind = ErrorKind::PlainHttp { what: req.what, registry, host: host.to_owned(), configured };
                        return Err(Error::new(host, kind));
                    }
                    if replayable && self.inner.retry.allows_another(attempt) && transient_transport(&source) {
                        let wait = self.inner.retry.wait(attempt, None).await;
                        tracing::warn!("{host}: {}: {}; retried after {wait:?}", req.what, wire::causes(&source));
                        continue;
                    }
                    return Err(Error::new(host, ErrorKind::Network { what: req.what, source }));
                }
            };
            let status = resp.status();
            tracing::debug!("HTTP {} {url} -> {status} in {:?} (attempt {attempt})", req.method, started.elapsed());
            if status == StatusCode::UNAUTHORIZED && !answered_challenge && replayable {
                let challenge = resp.headers().get(WWW_AUTHENTICATE).and_then(|v| v.to_str().ok()).and_then(auth::parse_challenge);
                if let Some(challenge) = challenge {
                    if let Challenge::Bearer { scope: Some(s), .. } = &challenge {
                        scopes = auth::merge_scopes(scopes.iter().cloned().chain(s.split(' ').map(str::to_owned)));
                    }
                    self.remember_challenge(host, challenge);
                    answered_challenge = true;
                    attempt -= 1;
                    continue;
                }
            }
            if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
                let body = resp.bytes().await.unwrap_or_default();
                let (what, detail, codes) = (req.what, describe_body(&body), body_codes(&body));
                let presented = self.presented(&endpoint).await;
                let kind = if status == StatusCode::UNAUTHORIZED {
                    ErrorKind::Unauthorized { what, detail, codes, presented }
                } else {
                    ErrorKind::Denied { what, detail, codes, presented }
                };
                return Err(Error::new(host, kind));
            }
            if status == StatusCode::BAD_REQUEST && endpoint.scheme == Scheme::Http && !is_json(resp.headers()) {
                // A TLS server answers plain HTTP with a 400 in text (Go's has no headers at
                // all); a registry's own 400 is JSON.
                let (version, headers) = (resp.version(), resp.headers().clone());
                let body = resp.bytes().await.unwrap_or_default();
                // The answer to a HEAD has no body to read the words from: ask with a GET.
                let tls_server = if req.method == Method::HEAD && headers.is_empty() {
                    let probe = http.get(format!("{}/v2/", endpoint.url)).send().await;
                    match probe {
                        Ok(r) => wire::is_tls_server_answer(&r.bytes().await.unwrap_or_default()),
                        Err(_) => false,
                    }
                } else {
                    wire::is_tls_server_answer(&body)
                };
                if tls_server {
                    let flag = endpoint.scheme_source == SchemeSource::PlainHttpFlag;
                    let (what, registry) = (req.what, endpoint.registry.clone());
                    return Err(Error::new(host, ErrorKind::TlsExpected { what, registry, host: host.to_owned(), flag }));
                }
                let mut rebuilt = ::http::Response::new(body);
                (*rebuilt.status_mut(), *rebuilt.version_mut(), *rebuilt.headers_mut()) = (status, version, headers);
                return Ok(Response::from(rebuilt));
            }
            if retriable_status(status.as_u16()) && replayable && self.inner.retry.allows_another(attempt) {
                let retry_after = resp.headers().get(RETRY_AFTER).and_then(|v| v.to_str().ok()).map(str::to_owned);
                drop(resp);
                let wait = self.inner.retry.wait(attempt, retry_after.as_deref()).await;
                tracing::warn!("{host}: {}: registry answered {status}; retried after {wait:?}", req.what);
                continue;
            }
            return Ok(resp);
        }
    }

    /// Checks that the registry accepts this client's credentials: `GET /v2/`, answering its
    /// challenge (basic, or a token for no particular repository), as `docker login` does.
    pub async fn check_login(&self, registry: &str) -> Result<(), Error> {
        let endpoint = self.inner.config.endpoint(registry);
        let url = format!("{}/v2/", endpoint.url);
        let resp = self.send(&endpoint, Request::new(Method::GET, url, Vec::new(), "/v2/".to_owned())).await?;
        let status = resp.status().as_u16();
        if status == 200 {
            return Ok(());
        }
        let body = resp.bytes().await.unwrap_or_default();
        Err(Error::new(
            &endpoint.host,
            ErrorKind::Status { what: "/v2/".to_owned(), status, detail: describe_body(&body), codes: body_codes(&body) },
        ))
    }
}

fn is_json(headers: &HeaderMap) -> bool {
    headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains("json"))
}

/// The credential files, for a log line.
fn files(store: &CredentialStore) -> String {
    store.files().iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
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

    /// Holds the read-modify-write of one tag-schema referrers index (this repository's
    /// `tag`) against every other copy through this client.
    pub(crate) async fn lock_referrers_tag(&self, tag: &str) -> tokio::sync::OwnedMutexGuard<()> {
        let lock = {
            let mut locks = self.client.inner.referrers_tag_locks.lock().unwrap_or_else(|e| e.into_inner());
            // Locks nobody holds or waits for go, so the map stays as small as the work.
            locks.retain(|_, l| Arc::strong_count(l) > 1);
            locks.entry((self.endpoint.host.clone(), self.name.clone(), tag.to_owned())).or_default().clone()
        };
        lock.lock_owned().await
    }

    pub(crate) fn error(&self, kind: ErrorKind) -> Error {
        Error::new(&self.endpoint.host, kind)
    }

    /// Turns an unexpected response into an error, reading the registry's envelope.
    pub(crate) async fn unexpected(&self, resp: Response, what: String) -> Error {
        let status = resp.status().as_u16();
        let body = resp.bytes().await.unwrap_or_default();
        let codes = body_codes(&body);
        if status == 404 {
            return self.error(ErrorKind::NotFound { what, codes });
        }
        self.error(ErrorKind::Status { what, status, detail: describe_body(&body), codes })
    }
}
