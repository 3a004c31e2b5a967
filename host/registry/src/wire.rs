//! Reading what the wire says about an endpoint's scheme: a plain-HTTP answer to a TLS
//! handshake, a TLS server's answer to plain HTTP, loopback hosts (which may fall back to
//! plain HTTP, as Docker and containerd let them), and URLs made fit for logs.

use std::net::IpAddr;

use ferry_config::{Endpoint, Scheme};

/// True when a TLS handshake failed because the server answered in plain HTTP (rustls reads
/// "HTTP/1.x" as a record of an invalid content type).
pub(crate) fn answered_in_plain_http(e: &reqwest::Error) -> bool {
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(cause) = next {
        if is_plain_http_record(cause) {
            return true;
        }
        // An I/O error's `source` skips the error it wraps (hyper wraps tokio-rustls's I/O
        // error, which wraps rustls's, in another): step into it instead.
        next = match cause.downcast_ref::<std::io::Error>().and_then(|io| io.get_ref()) {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => cause.source(),
        };
    }
    false
}

fn is_plain_http_record(e: &(dyn std::error::Error + 'static)) -> bool {
    matches!(e.downcast_ref::<rustls::Error>(), Some(rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType)))
}

/// What TLS servers answer a plain-HTTP request with: Go's (distribution, zot, Harbor) and
/// nginx's words.
pub(crate) fn is_tls_server_answer(body: &[u8]) -> bool {
    let text = String::from_utf8_lossy(&body[..body.len().min(4096)]);
    text.contains("Client sent an HTTP request to an HTTPS server") || text.contains("plain HTTP request was sent to HTTPS port")
}

/// `localhost`, 127.0.0.0/8 or ::1, with or without a port.
pub(crate) fn is_loopback(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or(rest),
        None if host.matches(':').count() > 1 => host,
        None => host.rsplit_once(':').map_or(host, |(h, _)| h),
    };
    name.eq_ignore_ascii_case("localhost") || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The same endpoint over plain HTTP.
pub(crate) fn plain(endpoint: &Endpoint) -> Endpoint {
    Endpoint { scheme: Scheme::Http, url: format!("http://{}", endpoint.host), ..endpoint.clone() }
}

/// `url` moved from `https://HOST` to `http://HOST` when it is on that endpoint.
pub(crate) fn to_plain(url: &str, endpoint: &Endpoint) -> String {
    let https = format!("https://{}", endpoint.host);
    match url.strip_prefix(&https) {
        Some(rest) if rest.is_empty() || rest.starts_with('/') || rest.starts_with('?') => format!("http://{}{rest}", endpoint.host),
        _ => url.to_owned(),
    }
}

/// What went wrong under a transport error, without its URL (reqwest's own message names it
/// with its query).
pub(crate) fn causes(e: &reqwest::Error) -> String {
    let mut out = Vec::new();
    let mut next = std::error::Error::source(e);
    while let Some(cause) = next {
        out.push(cause.to_string());
        next = cause.source();
    }
    if out.is_empty() { e.to_string() } else { out.join(": ") }
}

/// Query parameters whose values say what a request is about and carry no secret.
const PLAIN_PARAMETERS: &[&str] = &["digest", "mount", "from", "n", "last", "service", "scope", "ns", "artifactType"];

/// A URL for a log line: no user information, and the values of query parameters other than
/// [`PLAIN_PARAMETERS`] (an upload's `_state`, a pre-signed redirect's signature) left out.
pub(crate) fn loggable(url: &str) -> String {
    let Ok(mut parsed) = url::Url::parse(url) else { return url.split('?').next().unwrap_or(url).to_owned() };
    let _ = parsed.set_username("");
    let _ = parsed.set_password(None);
    if parsed.query().is_some() {
        let pairs: Vec<(String, String)> = parsed
            .query_pairs()
            .map(|(k, v)| {
                let v = if PLAIN_PARAMETERS.contains(&k.as_ref()) { v.into_owned() } else { "…".to_owned() };
                (k.into_owned(), v)
            })
            .collect();
        parsed.query_pairs_mut().clear().extend_pairs(pairs);
    }
    parsed.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts() {
        for h in ["localhost", "localhost:5000", "LOCALHOST:1", "127.0.0.1", "127.8.9.1:5000", "[::1]:5000", "::1"] {
            assert!(is_loopback(h), "{h}");
        }
        for h in ["registry.local:5000", "10.0.0.1:5000", "[::2]:5000", "localhost.example.com", "128.0.0.1"] {
            assert!(!is_loopback(h), "{h}");
        }
    }

    #[test]
    fn urls_move_to_plain_http_on_their_own_host_only() {
        let ep = Endpoint {
            registry: "127.0.0.1:5000".into(),
            scheme: Scheme::Https,
            scheme_source: ferry_config::SchemeSource::Default,
            host: "127.0.0.1:5000".into(),
            url: "https://127.0.0.1:5000".into(),
            insecure_skip_verify: false,
            referrers: ferry_config::ReferrersMode::Auto,
        };
        assert_eq!(to_plain("https://127.0.0.1:5000/v2/", &ep), "http://127.0.0.1:5000/v2/");
        assert_eq!(to_plain("https://127.0.0.1:50001/v2/", &ep), "https://127.0.0.1:50001/v2/");
        assert_eq!(plain(&ep).url, "http://127.0.0.1:5000");
    }

    #[test]
    fn log_lines_keep_no_secrets() {
        let line = loggable("https://u:pw@reg.io/v2/a/blobs/uploads/x?_state=SECRET&digest=sha256%3Aab&X-Amz-Signature=sig");
        assert!(!line.contains("pw") && !line.contains("SECRET") && !line.contains("sig"), "{line}");
        assert!(line.contains("digest=sha256%3Aab") && line.starts_with("https://reg.io/v2/a/"), "{line}");
    }
}
#[cfg(test)]
mod handshake {
    /// The error reqwest gives when a plain-HTTP server answers the handshake is recognised
    /// (hyper and tokio-rustls wrap it in two I/O errors).
    #[tokio::test]
    async fn a_plain_http_answer_to_tls_is_recognised() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        std::thread::spawn(move || {
            for c in l.incoming() {
                use std::io::{Read, Write};
                let mut c = c.unwrap();
                let mut b = [0u8; 512];
                let _ = c.read(&mut b);
                let _ = c.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
            }
        });
        let _ = rustls::crypto::ring::default_provider().install_default();
        let tls = crate::tls::client_config(&ferry_config::certs::TlsMaterial::default(), false).unwrap();
        let c = reqwest::Client::builder().use_preconfigured_tls(tls).connect_timeout(std::time::Duration::from_secs(5)).build().unwrap();
        let e = c.get(format!("https://{addr}/v2/")).send().await.unwrap_err();
        assert!(super::answered_in_plain_http(&e), "{e:?}");
        let refused = c.get("https://127.0.0.1:9/v2/").send().await.unwrap_err();
        assert!(!super::answered_in_plain_http(&refused), "{refused:?}");
    }
}
