//! A Docker token server for the token-auth registry variant.
//!
//! `GET /token?service=S&scope=repository:NAME:ACTIONS` with Basic credentials grants the
//! requested actions to a known user, and only `pull` to anonymous callers; a wrong password
//! gets 401. `POST /token` with `grant_type=refresh_token` implements the OAuth2 flow Docker
//! identity tokens use. Tokens are ES256 JWTs signed with a key whose certificate the registry
//! trusts (`rootcertbundle`), with the libtrust key id as `kid`. Signing shells out to
//! `openssl`, which the tests install anyway.
//!
//! [`TokenStats`] counts requests, logs the scopes each asked for and the most answered at
//! once. Two faults can be armed while it runs: answer the next N requests 503, and hold
//! each answer until N requests are in flight (or [`HOLD_LIMIT`] passes), which shows
//! whether a client fetches tokens in parallel without measuring time.

use std::collections::HashMap;
use std::io::{BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

pub(crate) const SERVICE: &str = "ferry-test-registry";
pub(crate) const ISSUER: &str = "ferry-test-issuer";

/// The running token server.
pub(crate) struct TokenServer {
    pub(crate) realm: String,
    pub(crate) cert: PathBuf,
    pub(crate) stats: Arc<TokenStats>,
}

/// The longest a held answer waits for other requests.
pub const HOLD_LIMIT: Duration = Duration::from_secs(5);

/// What the token server saw, and the faults armed in it.
#[derive(Default)]
pub struct TokenStats {
    requests: AtomicUsize,
    scopes: Mutex<Vec<String>>,
    /// Requests being answered now, and a signal when that changes.
    in_flight: Mutex<usize>,
    changed: Condvar,
    max_in_flight: AtomicUsize,
    fail_next: AtomicUsize,
    hold_until: AtomicUsize,
}

impl TokenStats {
    /// Requests answered or being answered.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    /// The scopes of each request, in arrival order (space-separated; empty for none).
    pub fn scopes(&self) -> Vec<String> {
        self.scopes.lock().unwrap().clone()
    }

    /// The most requests that were being answered at one time.
    pub fn max_in_flight(&self) -> usize {
        self.max_in_flight.load(Ordering::SeqCst)
    }

    /// Answers the next `n` requests `503 Service Unavailable`.
    pub fn fail_next(&self, n: usize) {
        self.fail_next.store(n, Ordering::SeqCst);
    }

    /// Holds every answer until `n` requests are in flight at once (or [`HOLD_LIMIT`] passes);
    /// 0 or 1 answers at once.
    pub fn hold_until(&self, n: usize) {
        self.hold_until.store(n, Ordering::SeqCst);
    }

    fn enter(&self) {
        let mut now = self.in_flight.lock().unwrap();
        *now += 1;
        self.max_in_flight.fetch_max(*now, Ordering::SeqCst);
        self.changed.notify_all();
        let want = self.hold_until.load(Ordering::SeqCst);
        if want > 1 {
            let _ = self.changed.wait_timeout_while(now, HOLD_LIMIT, |n| *n < want).unwrap();
        }
    }

    fn leave(&self) {
        *self.in_flight.lock().unwrap() -= 1;
        self.changed.notify_all();
    }

    /// Whether this request is one of the armed failures.
    fn take_failure(&self) -> bool {
        self.fail_next.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok()
    }
}

struct Signer {
    key: PathBuf,
    kid: String,
}

pub(crate) fn start(dir: &Path, users: HashMap<String, String>, refresh: HashMap<String, String>) -> TokenServer {
    let key = dir.join("token.key");
    let cert = dir.join("token.pem");
    let run = |args: &[&str]| {
        let out = Command::new("openssl").args(args).output().expect("openssl");
        assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        out.stdout
    };
    run(&["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key.to_str().unwrap()]);
    run(&["req", "-x509", "-new", "-key", key.to_str().unwrap(), "-out", cert.to_str().unwrap(), "-days", "30", "-subj", "/CN=token"]);
    let spki = run(&["pkey", "-in", key.to_str().unwrap(), "-pubout", "-outform", "DER"]);
    let signer = Arc::new(Signer { key, kid: libtrust_kid(&spki) });
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let realm = format!("http://{}/token", listener.local_addr().unwrap());
    let stats = Arc::new(TokenStats::default());
    let (users, refresh, seen) = (Arc::new(users), Arc::new(refresh), stats.clone());
    std::thread::spawn(move || {
        for conn in listener.incoming().map_while(Result::ok) {
            seen.requests.fetch_add(1, Ordering::SeqCst);
            let (signer, users, refresh, seen) = (signer.clone(), users.clone(), refresh.clone(), seen.clone());
            std::thread::spawn(move || {
                let _ = answer(conn, &signer, &users, &refresh, &seen);
            });
        }
    });
    TokenServer { realm, cert, stats }
}

/// libtrust: base32 of the first 30 bytes of sha256(SPKI DER), in 12 groups of 4.
fn libtrust_kid(spki: &[u8]) -> String {
    use sha2_digest::sha256;
    let digest = sha256(spki);
    let b32 = base32(&digest[..30]);
    b32.as_bytes().chunks(4).map(|c| String::from_utf8_lossy(c).into_owned()).collect::<Vec<_>>().join(":")
}

mod sha2_digest {
    pub(super) fn sha256(bytes: &[u8]) -> Vec<u8> {
        let d = ferry_oci::Digest::sha256(bytes);
        (0..32).map(|i| u8::from_str_radix(&d.hex()[2 * i..2 * i + 2], 16).unwrap()).collect()
    }
}

fn base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::new();
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &b in bytes {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            out.push(ALPHABET[((buffer >> (bits - 5)) & 31) as usize] as char);
            bits -= 5;
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((buffer << (5 - bits)) & 31) as usize] as char);
    }
    out
}

fn answer(
    conn: TcpStream,
    signer: &Signer,
    users: &HashMap<String, String>,
    refresh: &HashMap<String, String>,
    stats: &TokenStats,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(conn.try_clone()?);
    let Some(req) = crate::proxy::read_request(&mut reader)? else { return Ok(()) };
    stats.enter();
    let answered = answer_request(conn, req, signer, users, refresh, stats);
    stats.leave();
    answered
}

fn answer_request(
    conn: TcpStream,
    req: crate::proxy::Message,
    signer: &Signer,
    users: &HashMap<String, String>,
    refresh: &HashMap<String, String>,
    stats: &TokenStats,
) -> std::io::Result<()> {
    let mut parts = req.head.split(' ');
    let (method, target) = (parts.next().unwrap_or("").to_owned(), parts.next().unwrap_or("").to_owned());
    let auth = req.header("authorization");
    let body = req.body;
    let query = target.split_once('?').map(|(_, q)| q.to_owned()).unwrap_or_default();
    let params: Vec<(String, String)> = if method == "POST" { form(&String::from_utf8_lossy(&body)) } else { form(&query) };
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let mut scopes: Vec<String> =
        params.iter().filter(|(n, _)| n == "scope").flat_map(|(_, v)| v.split(' ').map(str::to_owned).collect::<Vec<_>>()).collect();
    scopes.retain(|s| !s.is_empty());
    stats.scopes.lock().unwrap().push(scopes.join(" "));
    if stats.take_failure() {
        return respond(conn, 503, r#"{"errors":[{"code":"UNAVAILABLE","message":"armed failure"}]}"#);
    }

    // Who is asking: a user with a password, a refresh token, or nobody.
    let subject = if method == "POST" {
        let rt = get("refresh_token").unwrap_or_default();
        match refresh.iter().find(|(_, t)| **t == rt) {
            Some((user, _)) => Some(user.clone()),
            None => return respond(conn, 401, r#"{"errors":[{"code":"UNAUTHORIZED","message":"bad refresh token"}]}"#),
        }
    } else if let Some(basic) = auth.as_deref().and_then(|a| a.strip_prefix("Basic ")) {
        let decoded = String::from_utf8(STANDARD.decode(basic).unwrap_or_default()).unwrap_or_default();
        let (u, p) = decoded.split_once(':').unwrap_or(("", ""));
        if users.get(u).map(String::as_str) != Some(p) {
            return respond(conn, 401, r#"{"errors":[{"code":"UNAUTHORIZED","message":"bad credentials"}]}"#);
        }
        Some(u.to_owned())
    } else {
        None
    };
    let access: Vec<serde_json::Value> = scopes
        .iter()
        .filter_map(|s| {
            let mut it = s.splitn(3, ':');
            let (kind, name, actions) = (it.next()?, it.next()?, it.next()?);
            let granted: Vec<&str> = actions.split(',').filter(|a| subject.is_some() || *a == "pull").collect();
            Some(serde_json::json!({ "type": kind, "name": name, "actions": granted }))
        })
        .collect();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let claims = serde_json::json!({
        "iss": ISSUER, "sub": subject.clone().unwrap_or_default(), "aud": get("service").unwrap_or_default(),
        "exp": now + 300, "nbf": now - 10, "iat": now, "jti": format!("{now}-{}", rand_suffix()), "access": access,
    });
    let token = sign(signer, &claims);
    let body = serde_json::json!({ "token": token, "access_token": token, "expires_in": 300 }).to_string();
    respond(conn, 200, &body)
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
}

fn sign(signer: &Signer, claims: &serde_json::Value) -> String {
    let header = serde_json::json!({ "typ": "JWT", "alg": "ES256", "kid": signer.kid });
    let input = format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()));
    let dir = tempfile::tempdir().unwrap();
    let msg = dir.path().join("msg");
    std::fs::write(&msg, &input).unwrap();
    let out = Command::new("openssl").args(["dgst", "-sha256", "-sign"]).arg(&signer.key).arg(&msg).output().unwrap();
    assert!(out.status.success(), "openssl dgst: {}", String::from_utf8_lossy(&out.stderr));
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(der_to_raw(&out.stdout)))
}

/// ECDSA DER `SEQUENCE { INTEGER r, INTEGER s }` to the 64-byte `r || s` JWS wants.
fn der_to_raw(der: &[u8]) -> Vec<u8> {
    let mut i = 2; // SEQUENCE tag and (short) length
    let mut out = Vec::new();
    for _ in 0..2 {
        let len = der[i + 1] as usize;
        let int = &der[i + 2..i + 2 + len];
        let int = if int.len() > 32 { &int[int.len() - 32..] } else { int };
        out.extend(std::iter::repeat_n(0, 32 - int.len()));
        out.extend_from_slice(int);
        i += 2 + len;
    }
    out
}

fn form(s: &str) -> Vec<(String, String)> {
    s.split('&').filter_map(|kv| kv.split_once('=')).map(|(k, v)| (decode(k), decode(v))).collect()
}

fn decode(s: &str) -> String {
    let bytes = s.replace('+', " ").into_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz"), 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn respond(mut conn: TcpStream, status: u16, body: &str) -> std::io::Result<()> {
    write!(
        conn,
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    conn.flush()
}

#[cfg(test)]
mod tests {
    #[test]
    fn base32_and_der() {
        assert_eq!(super::base32(b"foobar"), "MZXW6YTBOI");
        let der = [0x30, 0x06, 0x02, 0x01, 0x05, 0x02, 0x01, 0x07];
        let raw = super::der_to_raw(&der);
        assert_eq!((raw.len(), raw[31], raw[63]), (64, 5, 7));
    }
}
