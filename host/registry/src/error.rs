//! The client's error type. Every error names the registry host; none carries credentials.
//! The registry's own error envelope is kept as typed [`ErrorCode`]s, so callers decide by
//! code, never by message text.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use ferry_config::credentials::Source;

use ferry_oci::{BlobError, DigestMismatch};

/// A registry operation failed.
#[derive(Debug, thiserror::Error)]
#[error("{host}: {kind}")]
pub struct Error {
    /// Registry host (as used on the network) the error concerns.
    pub host: String,
    /// What went wrong.
    #[source]
    pub kind: ErrorKind,
}

/// What went wrong with a registry operation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The connection failed or broke (after retries).
    #[error("{what}: connection failed")]
    Network {
        /// The operation.
        what: String,
        /// The transport error.
        #[source]
        source: reqwest::Error,
    },
    /// The registry wants credentials we do not have, or rejected ours (401).
    #[error("{what}: {}", refusal(401, .detail, .presented))]
    Unauthorized {
        /// The operation.
        what: String,
        /// The registry's message.
        detail: String,
        /// The spec error codes of the answer (`UNAUTHORIZED`, `DENIED`...).
        codes: Vec<ErrorCode>,
        /// The credentials the request carried (boxed: it is large, and rare).
        presented: Box<Presented>,
    },
    /// The credentials (or anonymous access) lack permission (403).
    #[error("{what}: {}", refusal(403, .detail, .presented))]
    Denied {
        /// The operation.
        what: String,
        /// The registry's message.
        detail: String,
        /// The spec error codes of the answer.
        codes: Vec<ErrorCode>,
        /// The credentials the request carried (boxed: it is large, and rare).
        presented: Box<Presented>,
    },
    /// An `https://` endpoint answered the TLS handshake in plain HTTP: a plain-HTTP registry
    /// (never retried).
    #[error("{what}: https://{host} answered plain HTTP to a TLS handshake: it is a plain-HTTP registry; {}", plain_http_fix(.registry, .host, .configured))]
    PlainHttp {
        /// The operation.
        what: String,
        /// The registry as written in the reference.
        registry: String,
        /// `host[:port]`.
        host: String,
        /// The configuration names this endpoint (rather than ferry's `https://` default).
        configured: bool,
    },
    /// An `http://` endpoint answered that it speaks TLS (Go's "Client sent an HTTP request
    /// to an HTTPS server").
    #[error("{what}: http://{host} is a TLS (https) registry, reached here over plain HTTP; {}", tls_fix(.registry, .host, .flag))]
    TlsExpected {
        /// The operation.
        what: String,
        /// The registry as written in the reference.
        registry: String,
        /// `host[:port]`.
        host: String,
        /// `--plain-http` chose plain HTTP (rather than the configuration).
        flag: bool,
    },
    /// A manifest, blob or repository does not exist.
    #[error("{what}: not found")]
    NotFound {
        /// What was looked for.
        what: String,
        /// The spec error codes of the answer (`MANIFEST_UNKNOWN`, `BLOB_UNKNOWN`,
        /// `NAME_UNKNOWN`); empty when the registry sent no envelope.
        codes: Vec<ErrorCode>,
    },
    /// Any other unexpected status, with the registry's error envelope when it sent one.
    #[error("{what}: registry answered {status}{}", hint(.detail))]
    Status {
        /// The operation.
        what: String,
        /// HTTP status code.
        status: u16,
        /// Spec error code(s) and message(s) from the body, if any.
        detail: String,
        /// The spec error codes alone.
        codes: Vec<ErrorCode>,
    },
    /// Content did not match its descriptor.
    #[error("{what}: {mismatch}")]
    Mismatch {
        /// The content.
        what: String,
        /// What was expected and what came (boxed: it is large, and rare).
        #[source]
        mismatch: Box<DigestMismatch>,
    },
    /// The response was malformed (missing header, bad JSON, oversized manifest...).
    #[error("{what}: {detail}")]
    Protocol {
        /// The operation.
        what: String,
        /// What was wrong.
        detail: String,
    },
    /// TLS material or configuration could not be used.
    #[error("TLS setup failed: {0}")]
    Tls(String),
    /// Credentials could not be read (shared by every request that waited for the lookup).
    #[error("reading credentials: {0}")]
    Credentials(#[source] Arc<ferry_config::credentials::CredentialError>),
    /// Per-host certificate files could not be read.
    #[error("reading certificates")]
    Certs(#[source] ferry_config::certs::CertError),
    /// The body of a streamed upload failed (the source stream broke or did not verify, as
    /// the transport reports it).
    #[error("{what}: upload body failed: {}", innermost(source))]
    Body {
        /// The operation.
        what: String,
        /// The transport's error, with the body's error as its source.
        #[source]
        source: reqwest::Error,
    },
    /// The content being uploaded could not be read from its source: the source's failure,
    /// not the registry's.
    #[error("{what}: {source}")]
    Source {
        /// The operation.
        what: String,
        /// The source stream's error (names where the bytes came from; boxed: it is large).
        #[source]
        source: Box<BlobError>,
    },
    /// A subject's tag-schema referrers index cannot be extended (it is left untouched).
    #[error("{what}: {source}")]
    ReferrersIndex {
        /// The index.
        what: String,
        /// Why (boxed: it is large, and rare).
        #[source]
        source: Box<ferry_oci::referrers::TagIndexError>,
    },
    /// A bearer token could not be had. Every request that waited for the same token exchange
    /// gets the same error.
    #[error(transparent)]
    Token(Arc<ErrorKind>),
}

/// The last cause of a transport error: for a failed upload body, the body's own error.
fn innermost(e: &reqwest::Error) -> String {
    let mut last: &dyn std::error::Error = e;
    while let Some(next) = last.source() {
        last = next;
    }
    last.to_string()
}

fn hint(detail: &str) -> String {
    if detail.is_empty() { String::new() } else { format!(" ({detail})") }
}

/// The credentials a refused request carried: none, from where, or not known.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Presented {
    /// Not known (the credential lookup was not made).
    Unknown,
    /// None were found for the host in these files; `ferry login REGISTRY` would add some.
    Nothing {
        /// The files looked in, in order.
        looked_in: Vec<PathBuf>,
        /// The registry to log in to.
        registry: String,
    },
    /// Credentials from here (a file or a helper; never the secret).
    From(Source),
}

/// "the registry refused the credentials from FILE (401 Unauthorized; DETAIL)", or that it
/// needs some and none were found, where ferry looked and what to run.
fn refusal(status: u16, detail: &str, presented: &Presented) -> String {
    let status_text = if status == 401 { "401 Unauthorized" } else { "403 Forbidden" };
    let why = if detail.is_empty() { status_text.to_owned() } else { format!("{status_text}; {detail}") };
    match (presented, status) {
        (Presented::From(source), 401) => format!("the registry refused the credentials from {source} ({why})"),
        (Presented::From(source), _) => format!("the credentials from {source} are not allowed this ({why})"),
        (Presented::Nothing { looked_in, registry }, _) => {
            let places = if looked_in.is_empty() {
                "nowhere: no DOCKER_CONFIG, HOME or REGISTRY_AUTH_FILE".to_owned()
            } else {
                looked_in.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
            };
            let needs = if status == 401 { "needs credentials" } else { "refuses anonymous access" };
            format!("the registry {needs} and none were found ({why}; looked in: {places}); run `ferry login {registry}`")
        }
        (Presented::Unknown, 401) => format!("unauthorized{}", hint(detail)),
        (Presented::Unknown, _) => format!("access denied{}", hint(detail)),
    }
}

fn plain_http_fix(registry: &str, host: &str, configured: &bool) -> String {
    let how = if *configured {
        format!("change its endpoint in the config file to registryConfig.registries.\"{registry}\".endpoints: [\"http://{host}\"]")
    } else {
        format!("add to the config file registryConfig: {{registries: {{\"{registry}\": {{endpoints: [\"http://{host}\"]}}}}}}")
    };
    format!("{how}, or run with --plain-http {registry}")
}

fn tls_fix(registry: &str, host: &str, flag: &bool) -> String {
    if *flag {
        format!("leave out --plain-http {registry}")
    } else {
        format!("change its endpoint in the config file to registryConfig.registries.\"{registry}\".endpoints: [\"https://{host}\"]")
    }
}

/// An error code of the distribution spec's error envelope (`{"errors":[{"code":…}]}`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// `BLOB_UNKNOWN`: the blob is not in the repository.
    BlobUnknown,
    /// `BLOB_UPLOAD_INVALID`: the upload was refused.
    BlobUploadInvalid,
    /// `BLOB_UPLOAD_UNKNOWN`: the upload session is unknown (expired or cancelled).
    BlobUploadUnknown,
    /// `DIGEST_INVALID`: content does not match the digest given.
    DigestInvalid,
    /// `MANIFEST_BLOB_UNKNOWN`: a manifest names a blob the repository lacks.
    ManifestBlobUnknown,
    /// `MANIFEST_INVALID`: the manifest was refused as invalid.
    ManifestInvalid,
    /// `MANIFEST_UNKNOWN`: no such manifest.
    ManifestUnknown,
    /// `MANIFEST_UNVERIFIED`: a schema 1 signature did not verify (Docker).
    ManifestUnverified,
    /// `NAME_INVALID`: an invalid repository name.
    NameInvalid,
    /// `NAME_UNKNOWN`: no such repository.
    NameUnknown,
    /// `SIZE_INVALID`: content does not match the length given.
    SizeInvalid,
    /// `TAG_INVALID`: the tag does not match the manifest (Docker).
    TagInvalid,
    /// `UNAUTHORIZED`: authentication is required.
    Unauthorized,
    /// `DENIED`: access to the resource is denied.
    Denied,
    /// `UNSUPPORTED`: the operation is not supported.
    Unsupported,
    /// `TOOMANYREQUESTS`: rate limited.
    TooManyRequests,
    /// `RANGE_INVALID`: an invalid `Content-Range` for an upload chunk.
    RangeInvalid,
    /// `PAGINATION_NUMBER_INVALID`: an invalid `n` for a listing.
    PaginationNumberInvalid,
    /// A code this client does not know, as the registry spelled it.
    Other(String),
}

impl ErrorCode {
    /// The code as the spec spells it.
    pub fn as_str(&self) -> &str {
        match self {
            ErrorCode::BlobUnknown => "BLOB_UNKNOWN",
            ErrorCode::BlobUploadInvalid => "BLOB_UPLOAD_INVALID",
            ErrorCode::BlobUploadUnknown => "BLOB_UPLOAD_UNKNOWN",
            ErrorCode::DigestInvalid => "DIGEST_INVALID",
            ErrorCode::ManifestBlobUnknown => "MANIFEST_BLOB_UNKNOWN",
            ErrorCode::ManifestInvalid => "MANIFEST_INVALID",
            ErrorCode::ManifestUnknown => "MANIFEST_UNKNOWN",
            ErrorCode::ManifestUnverified => "MANIFEST_UNVERIFIED",
            ErrorCode::NameInvalid => "NAME_INVALID",
            ErrorCode::NameUnknown => "NAME_UNKNOWN",
            ErrorCode::SizeInvalid => "SIZE_INVALID",
            ErrorCode::TagInvalid => "TAG_INVALID",
            ErrorCode::Unauthorized => "UNAUTHORIZED",
            ErrorCode::Denied => "DENIED",
            ErrorCode::Unsupported => "UNSUPPORTED",
            ErrorCode::TooManyRequests => "TOOMANYREQUESTS",
            ErrorCode::RangeInvalid => "RANGE_INVALID",
            ErrorCode::PaginationNumberInvalid => "PAGINATION_NUMBER_INVALID",
            ErrorCode::Other(code) => code,
        }
    }
}

impl From<&str> for ErrorCode {
    fn from(code: &str) -> ErrorCode {
        match code {
            "BLOB_UNKNOWN" => ErrorCode::BlobUnknown,
            "BLOB_UPLOAD_INVALID" => ErrorCode::BlobUploadInvalid,
            "BLOB_UPLOAD_UNKNOWN" => ErrorCode::BlobUploadUnknown,
            "DIGEST_INVALID" => ErrorCode::DigestInvalid,
            "MANIFEST_BLOB_UNKNOWN" => ErrorCode::ManifestBlobUnknown,
            "MANIFEST_INVALID" => ErrorCode::ManifestInvalid,
            "MANIFEST_UNKNOWN" => ErrorCode::ManifestUnknown,
            "MANIFEST_UNVERIFIED" => ErrorCode::ManifestUnverified,
            "NAME_INVALID" => ErrorCode::NameInvalid,
            "NAME_UNKNOWN" => ErrorCode::NameUnknown,
            "SIZE_INVALID" => ErrorCode::SizeInvalid,
            "TAG_INVALID" => ErrorCode::TagInvalid,
            "UNAUTHORIZED" => ErrorCode::Unauthorized,
            "DENIED" => ErrorCode::Denied,
            "UNSUPPORTED" => ErrorCode::Unsupported,
            "TOOMANYREQUESTS" => ErrorCode::TooManyRequests,
            "RANGE_INVALID" => ErrorCode::RangeInvalid,
            "PAGINATION_NUMBER_INVALID" => ErrorCode::PaginationNumberInvalid,
            other => ErrorCode::Other(other.to_owned()),
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl ErrorKind {
    /// The kind itself, looking through a shared token failure.
    fn inner(&self) -> &ErrorKind {
        match self {
            ErrorKind::Token(shared) => shared.inner(),
            other => other,
        }
    }

    /// The spec error codes the registry answered with (empty when it sent no envelope).
    pub fn codes(&self) -> &[ErrorCode] {
        match self.inner() {
            ErrorKind::Unauthorized { codes, .. }
            | ErrorKind::Denied { codes, .. }
            | ErrorKind::NotFound { codes, .. }
            | ErrorKind::Status { codes, .. } => codes,
            _ => &[],
        }
    }

    /// True when repeating the operation may succeed (network trouble, 5xx, 429, a source
    /// that may read better again).
    pub fn is_transient(&self) -> bool {
        match self.inner() {
            ErrorKind::Network { .. } | ErrorKind::Body { .. } => true,
            ErrorKind::Status { status, .. } => crate::retry::retriable_status(*status),
            ErrorKind::Source { source, .. } => source.is_transient(),
            _ => false,
        }
    }
}

/// A fetch's failure as a blob stream's source: transient or a mismatch, as it says.
impl ferry_oci::SourceError for ErrorKind {
    fn is_transient(&self) -> bool {
        ErrorKind::is_transient(self)
    }

    fn mismatch(&self) -> Option<&DigestMismatch> {
        match self.inner() {
            ErrorKind::Mismatch { mismatch, .. } => Some(mismatch),
            _ => None,
        }
    }
}

impl Error {
    pub(crate) fn new(host: &str, kind: ErrorKind) -> Error {
        Error { host: host.to_owned(), kind }
    }

    /// The spec error codes the registry answered with (empty when it sent no envelope).
    pub fn codes(&self) -> &[ErrorCode] {
        self.kind.codes()
    }

    /// True when the registry answered with `code`.
    pub fn has_code(&self, code: &ErrorCode) -> bool {
        self.codes().contains(code)
    }

    /// True when the content or manifest does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self.kind.inner(), ErrorKind::NotFound { .. })
    }

    /// True when content did not match its descriptor (digest or size), whether the registry
    /// served it or the upload's source did.
    pub fn is_mismatch(&self) -> bool {
        match self.kind.inner() {
            ErrorKind::Mismatch { .. } => true,
            ErrorKind::Source { source, .. } => source.mismatch().is_some(),
            _ => false,
        }
    }

    /// True when the upload failed because its source failed (the source's error is kept),
    /// not because of the registry.
    pub fn is_source_failure(&self) -> bool {
        matches!(self.kind.inner(), ErrorKind::Source { .. } | ErrorKind::Body { .. })
    }

    /// True when the registry answered 400 with one of the codes distribution gives an index
    /// PUT that races a re-PUT of one of its children (`DIGEST_INVALID`,
    /// `MANIFEST_BLOB_UNKNOWN`): worth repeating when every child is known to be in place.
    pub fn is_index_race(&self) -> bool {
        match self.kind.inner() {
            ErrorKind::Status { status: 400, codes, .. } => {
                codes.iter().any(|c| matches!(c, ErrorCode::DigestInvalid | ErrorCode::ManifestBlobUnknown))
            }
            _ => false,
        }
    }

    /// True when repeating the whole operation may succeed (network trouble, 5xx, 429).
    pub fn is_transient(&self) -> bool {
        self.kind.is_transient()
    }
}

/// A registry error as a blob stream's source (a stream fed by another registry's fetch).
impl ferry_oci::SourceError for Error {
    fn is_transient(&self) -> bool {
        Error::is_transient(self)
    }

    fn mismatch(&self) -> Option<&DigestMismatch> {
        ferry_oci::SourceError::mismatch(&self.kind)
    }
}

/// The registry's error envelope: `{"errors":[{"code","message","detail"}]}`.
#[derive(serde::Deserialize)]
struct Envelope {
    #[serde(default)]
    errors: Vec<EnvelopeError>,
}

#[derive(serde::Deserialize)]
struct EnvelopeError {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
}

/// The spec error codes of an error body.
pub(crate) fn body_codes(body: &[u8]) -> Vec<ErrorCode> {
    serde_json::from_slice::<Envelope>(body)
        .map(|e| e.errors.iter().filter(|e| !e.code.is_empty()).map(|e| ErrorCode::from(e.code.as_str())).collect())
        .unwrap_or_default()
}

/// Renders an error body: the envelope's codes and messages, or a short plain-text excerpt.
pub(crate) fn describe_body(body: &[u8]) -> String {
    if let Ok(env) = serde_json::from_slice::<Envelope>(body)
        && !env.errors.is_empty()
    {
        return env
            .errors
            .iter()
            .map(|e| if e.message.is_empty() { e.code.clone() } else { format!("{}: {}", e.code, e.message) })
            .collect::<Vec<_>>()
            .join("; ");
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    let mut out: String = text.chars().take(200).collect();
    if text.chars().count() > 200 {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_envelope_into_codes() {
        let body = br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"},{"code":"X_VENDOR","message":"?"}]}"#;
        assert_eq!(body_codes(body), vec![ErrorCode::ManifestUnknown, ErrorCode::Other("X_VENDOR".into())]);
        assert!(body_codes(b"404 page not found").is_empty());
        for code in ["BLOB_UNKNOWN", "NAME_UNKNOWN", "DENIED", "UNAUTHORIZED", "TOOMANYREQUESTS", "UNSUPPORTED", "MANIFEST_INVALID"] {
            let parsed = ErrorCode::from(code);
            assert!(!matches!(parsed, ErrorCode::Other(_)), "{code}");
            assert_eq!(parsed.as_str(), code);
        }
    }

    #[test]
    fn classifies_by_code_through_a_shared_token_failure() {
        let race = Error::new(
            "h",
            ErrorKind::Status { what: "push".into(), status: 400, detail: String::new(), codes: vec![ErrorCode::DigestInvalid] },
        );
        assert!(race.is_index_race() && race.has_code(&ErrorCode::DigestInvalid) && !race.is_transient());
        let denied = ErrorKind::Unauthorized {
            what: "token".into(),
            detail: String::new(),
            codes: vec![ErrorCode::Denied],
            presented: Box::new(Presented::Unknown),
        };
        let shared = Error::new("h", ErrorKind::Token(Arc::new(denied)));
        assert!(shared.has_code(&ErrorCode::Denied));
        assert_eq!(shared.to_string(), "h: token: unauthorized");
        let busy = ErrorKind::Status { what: "token".into(), status: 503, detail: String::new(), codes: Vec::new() };
        assert!(Error::new("h", ErrorKind::Token(Arc::new(busy))).is_transient());
    }
}
