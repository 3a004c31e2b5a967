//! A fault-injection proxy in front of a real registry.
//!
//! It listens on 127.0.0.1 port 0 and forwards each HTTP/1.1 request to the registry, passing
//! the client's `Host` header through unchanged (distribution builds absolute upload
//! `Location`s from it, so they keep pointing at the proxy). Each request is answered on its
//! own connection (`Connection: close`); bodies are buffered in memory, so use it for small
//! content only.
//!
//! | fault | effect |
//! |---|---|
//! | `Status(code, retry_after)` | answer `code` (with `Retry-After` seconds) instead of forwarding |
//! | `Reset` | close the connection without answering |
//! | `TruncateBody(n)` | forward, but send only `n` bytes of the body, then close |
//! | `CorruptBody` | forward with one byte of the body flipped |
//! | `Delay(ms)` | wait, then forward |
//! | `ShortBody(n)` | forward `n` bytes of the body with `Content-Length: n` |
//! | `DropAnswer` | forward, then close without answering |
//!
//! A [`Rule`] picks requests by method and a path substring, and applies its fault to the
//! matching requests numbered `first..first+times` (0-based).

use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What to do to a request.
#[derive(Clone, Debug)]
pub enum Fault {
    Status(u16, Option<u64>),
    Reset,
    TruncateBody(usize),
    CorruptBody,
    Delay(u64),
    /// Forward, but send only `n` bytes of the body with Content-Length rewritten to match:
    /// a body that arrives "whole" but short.
    ShortBody(usize),
    /// Forward, then close the connection without passing the answer on: the registry acted
    /// on the request but the client never hears of it.
    DropAnswer,
}

/// Which requests get a fault.
#[derive(Clone, Debug)]
pub struct Rule {
    pub method: String,
    pub path_contains: String,
    pub first: usize,
    pub times: usize,
    pub fault: Fault,
    seen: usize,
}

impl Rule {
    /// `fault` on matching requests number `first..first+times`.
    pub fn new(method: &str, path_contains: &str, first: usize, times: usize, fault: Fault) -> Rule {
        Rule { method: method.to_owned(), path_contains: path_contains.to_owned(), first, times, fault, seen: 0 }
    }

    /// `fault` on every matching request.
    pub fn always(method: &str, path_contains: &str, fault: Fault) -> Rule {
        Rule::new(method, path_contains, 0, usize::MAX, fault)
    }
}

/// One request the proxy saw: method, path, and the status it answered (0: none).
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub status: u16,
    pub fault: Option<String>,
}

/// The running proxy; stops accepting when dropped.
pub struct FaultProxy {
    addr: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    in_flight: Arc<InFlight>,
    _stop: Arc<()>,
}

/// Requests being handled now, and the most at once.
#[derive(Default)]
struct InFlight {
    now: std::sync::atomic::AtomicUsize,
    max: std::sync::atomic::AtomicUsize,
}

/// One request in flight; it leaves when dropped, which [`serve`] does just before the
/// answer goes out, so a client that starts its next request on receiving the answer is
/// never counted twice.
struct InFlightGuard<'a>(&'a InFlight);

impl<'a> InFlightGuard<'a> {
    fn enter(counter: &'a InFlight) -> InFlightGuard<'a> {
        use std::sync::atomic::Ordering::SeqCst;
        let n = counter.now.fetch_add(1, SeqCst) + 1;
        counter.max.fetch_max(n, SeqCst);
        InFlightGuard(counter)
    }
}

impl Drop for InFlightGuard<'_> {
    fn drop(&mut self) {
        self.0.now.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

impl FaultProxy {
    pub fn start(upstream: &str, rules: Vec<Rule>) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let rules = Arc::new(Mutex::new(rules));
        let stop = Arc::new(());
        let weak = Arc::downgrade(&stop);
        let (upstream, log) = (upstream.to_owned(), seen.clone());
        let in_flight = Arc::new(InFlight::default());
        let counter = in_flight.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if weak.upgrade().is_none() {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let (upstream, rules, log, counter) = (upstream.clone(), rules.clone(), log.clone(), counter.clone());
                std::thread::spawn(move || {
                    let guard = InFlightGuard::enter(&counter);
                    let _ = serve(conn, &upstream, &rules, &log, guard);
                });
            }
        });
        FaultProxy { addr, seen, in_flight, _stop: stop }
    }

    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// The most requests the proxy was handling at one time.
    pub fn max_in_flight(&self) -> usize {
        self.in_flight.max.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Requests whose method and path match.
    pub fn count(&self, method: &str, path_contains: &str) -> usize {
        self.requests().iter().filter(|s| s.method == method && s.path.contains(path_contains)).count()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        // Wake the accept loop so it sees the stop.
        let _ = TcpStream::connect(&self.addr);
    }
}

/// An HTTP/1.1 request or response: first line, headers, body.
pub(crate) struct Message {
    pub(crate) head: String,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
}

impl Message {
    /// A header's value, by case-insensitive name.
    pub(crate) fn header(&self, name: &str) -> Option<String> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone())
    }
}

/// Reads one request (`None` at end of input).
pub(crate) fn read_request(r: &mut impl BufRead) -> std::io::Result<Option<Message>> {
    read_message(r, false, false)
}

fn read_message(r: &mut impl BufRead, until_eof: bool, no_body: bool) -> std::io::Result<Option<Message>> {
    let mut head = String::new();
    if r.read_line(&mut head)? == 0 {
        return Ok(None);
    }
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        r.read_line(&mut line)?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            headers.push((k.trim().to_owned(), v.trim().to_owned()));
        }
    }
    let get = |name: &str| headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone());
    let mut body = Vec::new();
    if no_body {
        // A response to HEAD has a Content-Length but no body.
    } else if get("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        loop {
            let mut size = String::new();
            r.read_line(&mut size)?;
            let n = usize::from_str_radix(size.trim().split(';').next().unwrap_or("0"), 16).unwrap_or(0);
            let mut chunk = vec![0; n + 2];
            r.read_exact(&mut chunk)?;
            if n == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..n]);
        }
        headers.retain(|(k, _)| !k.eq_ignore_ascii_case("transfer-encoding"));
        headers.push(("Content-Length".to_owned(), body.len().to_string()));
    } else if let Some(len) = get("content-length").and_then(|v| v.parse::<usize>().ok()) {
        body.resize(len, 0);
        r.read_exact(&mut body)?;
    } else if until_eof {
        r.read_to_end(&mut body)?;
    }
    Ok(Some(Message { head: head.trim_end().to_owned(), headers, body }))
}

fn write_message(w: &mut impl Write, m: &Message, body: &[u8]) -> std::io::Result<()> {
    let mut out = format!("{}\r\n", m.head);
    for (k, v) in &m.headers {
        if !k.eq_ignore_ascii_case("connection") {
            out += &format!("{k}: {v}\r\n");
        }
    }
    out += "Connection: close\r\n\r\n";
    w.write_all(out.as_bytes())?;
    w.write_all(body)?;
    w.flush()
}

fn serve(
    conn: TcpStream,
    upstream: &str,
    rules: &Mutex<Vec<Rule>>,
    log: &Mutex<Vec<Seen>>,
    in_flight: InFlightGuard<'_>,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(conn.try_clone()?);
    let Some(req) = read_request(&mut reader)? else { return Ok(()) };
    let mut parts = req.head.split(' ');
    let (method, path) = (parts.next().unwrap_or("").to_owned(), parts.next().unwrap_or("").to_owned());
    let fault = {
        let mut rules = rules.lock().unwrap();
        rules.iter_mut().find_map(|r| {
            if r.method != method || !path.contains(&r.path_contains) {
                return None;
            }
            let n = r.seen;
            r.seen += 1;
            (n >= r.first && n - r.first < r.times).then(|| r.fault.clone())
        })
    };
    let mut record = Seen { method: method.clone(), path: path.clone(), status: 0, fault: fault.as_ref().map(|f| format!("{f:?}")) };
    let mut conn = conn;
    match &fault {
        Some(Fault::Reset) => {
            log.lock().unwrap().push(record);
            return conn.shutdown(Shutdown::Both);
        }
        Some(Fault::Status(code, retry_after)) => {
            let mut headers = vec![("Content-Type".to_owned(), "application/json".to_owned())];
            if let Some(s) = retry_after {
                headers.push(("Retry-After".to_owned(), s.to_string()));
            }
            let body = br#"{"errors":[{"code":"INJECTED","message":"injected by the test proxy"}]}"#.to_vec();
            headers.push(("Content-Length".to_owned(), body.len().to_string()));
            record.status = *code;
            log.lock().unwrap().push(record);
            drop(in_flight);
            let m = Message { head: format!("HTTP/1.1 {code} Injected"), headers, body: Vec::new() };
            return write_message(&mut conn, &m, &body);
        }
        Some(Fault::Delay(ms)) => std::thread::sleep(Duration::from_millis(*ms)),
        _ => {}
    }
    let mut up = TcpStream::connect(upstream)?;
    write_message(&mut up, &req, &req.body)?;
    let mut up_reader = BufReader::new(up);
    let resp = read_message(&mut up_reader, true, method == "HEAD")?.ok_or_else(|| std::io::Error::other("upstream closed"))?;
    record.status = resp.head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    log.lock().unwrap().push(record);
    drop(in_flight);
    let mut body = resp.body.clone();
    match fault {
        Some(Fault::CorruptBody) if !body.is_empty() => {
            let i = body.len() / 2;
            body[i] ^= 0xff;
            write_message(&mut conn, &resp, &body)
        }
        Some(Fault::ShortBody(n)) => {
            let mut short = resp;
            let n = n.min(body.len());
            for (k, v) in short.headers.iter_mut() {
                if k.eq_ignore_ascii_case("content-length") {
                    *v = n.to_string();
                }
            }
            write_message(&mut conn, &short, &body[..n])
        }
        Some(Fault::DropAnswer) => conn.shutdown(Shutdown::Both),
        Some(Fault::TruncateBody(n)) => {
            write_message(&mut conn, &resp, &body[..n.min(body.len())])?;
            conn.shutdown(Shutdown::Both)
        }
        _ => write_message(&mut conn, &resp, &body),
    }
}
