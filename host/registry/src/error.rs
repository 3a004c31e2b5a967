//! The client's error type. Every error names the registry host; none carries credentials.

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
    /// The registry wants credentials we do not have, or rejected ours.
    #[error("{what}: unauthorized{}", hint(.detail))]
    Unauthorized {
        /// The operation.
        what: String,
        /// The registry's message.
        detail: String,
    },
    /// The credentials are valid but lack permission.
    #[error("{what}: access denied{}", hint(.detail))]
    Denied {
        /// The operation.
        what: String,
        /// The registry's message.
        detail: String,
    },
    /// A manifest, blob or repository does not exist.
    #[error("{what}: not found")]
    NotFound {
        /// What was looked for.
        what: String,
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
        /// The spec error codes alone (`DIGEST_INVALID`...).
        codes: Vec<String>,
    },
    /// Content did not match its descriptor.
    #[error("{what}: received {size} bytes with digest {actual}, expected {expected_size} bytes with digest {expected}")]
    Mismatch {
        /// The content.
        what: String,
        /// Expected digest.
        expected: String,
        /// Digest of the bytes received.
        actual: String,
        /// Bytes received.
        size: u64,
        /// Expected size.
        expected_size: u64,
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
    /// Credentials could not be read.
    #[error("reading credentials")]
    Credentials(#[source] ferry_config::credentials::CredentialError),
    /// Per-host certificate files could not be read.
    #[error("reading certificates")]
    Certs(#[source] ferry_config::certs::CertError),
    /// The body of an upload failed (e.g. the source stream broke or did not verify).
    #[error("{what}: upload body failed: {detail}")]
    Body {
        /// The operation.
        what: String,
        /// The body's error.
        detail: String,
    },
}

fn hint(detail: &str) -> String {
    if detail.is_empty() { String::new() } else { format!(" ({detail})") }
}

impl Error {
    pub(crate) fn new(host: &str, kind: ErrorKind) -> Error {
        Error { host: host.to_owned(), kind }
    }

    /// True when the content or manifest does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self.kind, ErrorKind::NotFound { .. })
    }

    /// True when content did not match its descriptor (digest or size).
    pub fn is_mismatch(&self) -> bool {
        matches!(self.kind, ErrorKind::Mismatch { .. })
    }

    /// True when the registry answered 400 with one of the codes distribution gives an index
    /// PUT that races a re-PUT of one of its children (`DIGEST_INVALID`,
    /// `MANIFEST_BLOB_UNKNOWN`): worth repeating when every child is known to be in place.
    pub fn is_index_race(&self) -> bool {
        match &self.kind {
            ErrorKind::Status { status: 400, codes, .. } => codes.iter().any(|c| c == "DIGEST_INVALID" || c == "MANIFEST_BLOB_UNKNOWN"),
            _ => false,
        }
    }

    /// True when repeating the whole operation may succeed (network trouble, 5xx, 429).
    pub fn is_transient(&self) -> bool {
        match &self.kind {
            ErrorKind::Network { .. } | ErrorKind::Body { .. } => true,
            ErrorKind::Status { status, .. } => crate::retry::retriable_status(*status),
            _ => false,
        }
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
pub(crate) fn body_codes(body: &[u8]) -> Vec<String> {
    serde_json::from_slice::<Envelope>(body).map(|e| e.errors.into_iter().map(|e| e.code).collect()).unwrap_or_default()
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
