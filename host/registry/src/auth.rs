//! Registry authentication: `WWW-Authenticate` challenges and the token exchange (password or
//! identity/refresh token). The client keeps the tokens, one single-flight cell per host and
//! scope set (see `flight.rs`).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use base64::Engine as _;
use ferry_config::credentials::{Credential, Secret};
use reqwest::Method;

use crate::error::{ErrorKind, Presented, body_codes, describe_body};
use crate::retry::RetryPolicy;

/// What a registry asked for in its `WWW-Authenticate` header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Challenge {
    /// HTTP basic auth.
    Basic,
    /// Docker/OAuth2 bearer tokens from `realm`.
    Bearer { realm: String, service: Option<String>, scope: Option<String> },
}

/// Parses `Bearer realm="…",service="…",scope="…"` or `Basic realm="…"`.
pub(crate) fn parse_challenge(header: &str) -> Option<Challenge> {
    let header = header.trim();
    let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
    if scheme.eq_ignore_ascii_case("basic") {
        return Some(Challenge::Basic);
    }
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let params = parse_params(rest);
    Some(Challenge::Bearer {
        realm: params.get("realm")?.clone(),
        service: params.get("service").cloned(),
        scope: params.get("scope").cloned(),
    })
}

/// `key="value", key=value` pairs; quoted values may contain commas.
fn parse_params(s: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        let key: String = chars.by_ref().take_while(|c| *c != '=').collect::<String>().trim().to_ascii_lowercase();
        if key.is_empty() {
            return out;
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next()),
                    '"' => break,
                    c => value.push(c),
                }
            }
        } else {
            while let Some(c) = chars.peek().copied() {
                if c == ',' {
                    break;
                }
                value.push(c);
                chars.next();
            }
            value = value.trim().to_owned();
        }
        out.insert(key, value);
    }
}

/// A bearer token and when to stop using it.
#[derive(Clone)]
pub(crate) struct Token {
    pub(crate) value: Secret,
    pub(crate) expires: Instant,
}

/// Key for a set of scopes: sorted, space-joined.
pub(crate) fn scope_key(scopes: &[String]) -> String {
    let mut s: Vec<&str> = scopes.iter().map(String::as_str).collect();
    s.sort_unstable();
    s.dedup();
    s.join(" ")
}

/// Merges `repository:NAME:ACTIONS` scopes so each repository appears once with every action.
pub(crate) fn merge_scopes(scopes: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut by_resource: Vec<(String, Vec<String>)> = Vec::new();
    for scope in scopes {
        let (resource, actions) = match scope.rsplit_once(':') {
            Some((r, a)) => (r.to_owned(), a.split(',').map(str::to_owned).collect::<Vec<_>>()),
            None => (scope.clone(), Vec::new()),
        };
        match by_resource.iter_mut().find(|(r, _)| *r == resource) {
            Some((_, acts)) => {
                for a in actions {
                    if !acts.contains(&a) {
                        acts.push(a);
                    }
                }
            }
            None => by_resource.push((resource, actions)),
        }
    }
    by_resource
        .into_iter()
        .map(|(r, mut a)| {
            a.sort();
            if a.is_empty() { r } else { format!("{r}:{}", a.join(",")) }
        })
        .collect()
}

#[derive(serde::Deserialize)]
struct TokenResponse {
    #[serde(default)]
    token: String,
    #[serde(default)]
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
}

/// Exchanges credentials (or nothing, for anonymous access) for a bearer token. A connection
/// failure, 408, 429 or 5xx from the token server is tried again under `retry` (honouring
/// `Retry-After`); a refusal is not.
pub(crate) async fn fetch_token(
    http: &reqwest::Client,
    realm: &str,
    service: Option<&str>,
    scopes: &[String],
    credential: Option<&Credential>,
    retry: &RetryPolicy,
) -> Result<Token, ErrorKind> {
    let mut attempt = 1;
    loop {
        match fetch_token_once(http, realm, service, scopes, credential).await {
            Err((kind, retry_after)) if kind.is_transient() && retry.allows_another(attempt) => {
                let wait = retry.wait(attempt, retry_after.as_deref()).await;
                tracing::warn!("{kind}; asked again after {wait:?}");
                attempt += 1;
            }
            other => return other.map_err(|(kind, _)| kind),
        }
    }
}

/// One token request; a failure comes with the server's `Retry-After`, if any.
async fn fetch_token_once(
    http: &reqwest::Client,
    realm: &str,
    service: Option<&str>,
    scopes: &[String],
    credential: Option<&Credential>,
) -> Result<Token, (ErrorKind, Option<String>)> {
    let what = format!("token for {}", if scopes.is_empty() { "registry".to_owned() } else { scopes.join(" ") });
    let request = match credential {
        Some(Credential::IdentityToken { token, .. }) => {
            let mut form: Vec<(&str, String)> = vec![
                ("grant_type", "refresh_token".to_owned()),
                ("refresh_token", token.expose().to_owned()),
                ("client_id", "ferry".to_owned()),
                ("scope", scopes.join(" ")),
            ];
            if let Some(s) = service {
                form.push(("service", s.to_owned()));
            }
            let body = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(form).finish();
            (
                Method::POST,
                realm.to_owned(),
                http.post(realm).header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded").body(body),
            )
        }
        other => {
            let mut url = url::Url::parse(realm)
                .map_err(|e| (ErrorKind::Protocol { what: what.clone(), detail: format!("invalid token realm {realm:?}: {e}") }, None))?;
            {
                let mut q = url.query_pairs_mut();
                if let Some(s) = service {
                    q.append_pair("service", s);
                }
                for s in scopes {
                    q.append_pair("scope", s);
                }
            }
            let shown = url.to_string();
            let mut rb = http.get(url);
            if let Some(Credential::Basic { username, password }) = other {
                rb = rb.basic_auth(username, Some(password.expose()));
            }
            (Method::GET, shown, rb)
        }
    };
    let (method, url, request) = request;
    let network = |source| (ErrorKind::Network { what: what.clone(), source }, None);
    let started = Instant::now();
    let sent = request.send().await;
    let url = crate::wire::loggable(&url);
    match &sent {
        Ok(resp) => tracing::debug!("HTTP {method} {url} -> {} in {:?}", resp.status(), started.elapsed()),
        Err(e) => tracing::debug!("HTTP {method} {url} -> failed after {:?}: {}", started.elapsed(), crate::wire::causes(e)),
    }
    let resp = sent.map_err(network)?;
    let status = resp.status().as_u16();
    let retry_after = resp.headers().get(reqwest::header::RETRY_AFTER).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let body = resp.bytes().await.map_err(network)?;
    let (detail, codes) = (describe_body(&body), body_codes(&body));
    match status {
        200 => {}
        401 => return Err((ErrorKind::Unauthorized { what, detail, codes, presented: Box::new(Presented::Unknown) }, None)),
        403 => return Err((ErrorKind::Denied { what, detail, codes, presented: Box::new(Presented::Unknown) }, None)),
        _ => return Err((ErrorKind::Status { what, status, detail, codes }, retry_after)),
    }
    let parsed: TokenResponse = serde_json::from_slice(&body)
        .map_err(|e| (ErrorKind::Protocol { what: what.clone(), detail: format!("invalid token response: {e}") }, None))?;
    let value = if parsed.token.is_empty() { parsed.access_token } else { parsed.token };
    if value.is_empty() {
        return Err((ErrorKind::Protocol { what, detail: "token response has no token".to_owned() }, None));
    }
    // Spec default is 60 s; renew a little early.
    let lifetime = Duration::from_secs(parsed.expires_in.unwrap_or(60).max(10));
    Ok(Token { value: Secret::new(value), expires: Instant::now() + lifetime - Duration::from_secs(5) })
}

/// `Authorization` value for basic credentials.
pub(crate) fn basic_header(username: &str, password: &str) -> String {
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_challenges() {
        let c = parse_challenge(r#"Bearer realm="http://127.0.0.1:9/token",service="test-registry",scope="repository:a/b:pull,push""#);
        assert_eq!(
            c,
            Some(Challenge::Bearer {
                realm: "http://127.0.0.1:9/token".into(),
                service: Some("test-registry".into()),
                scope: Some("repository:a/b:pull,push".into())
            })
        );
        assert_eq!(parse_challenge(r#"Basic realm="test-realm""#), Some(Challenge::Basic));
        assert_eq!(parse_challenge("Negotiate"), None);
    }

    #[test]
    fn merges_scopes() {
        let m = merge_scopes(["repository:a:pull".to_owned(), "repository:a:push".to_owned(), "repository:b:pull".to_owned()]);
        assert_eq!(m, vec!["repository:a:pull,push", "repository:b:pull"]);
        assert_eq!(scope_key(&["b".into(), "a".into(), "a".into()]), "a b");
    }
}
