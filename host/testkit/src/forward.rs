//! A TCP forwarder: bytes passed through both ways unchanged (a TLS handshake too), each
//! connection counted. It can listen on any local address, so a loopback registry can be
//! reached through an address that is not loopback ([`non_loopback_ip`]).

use std::net::{IpAddr, Shutdown, TcpListener, TcpStream, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The running forwarder; stops accepting when dropped.
pub struct Forwarder {
    addr: String,
    connections: Arc<AtomicUsize>,
    _stop: Arc<()>,
}

impl Forwarder {
    /// Listens on `ip`, port 0, and forwards every connection to `upstream` (`host:port`).
    pub fn start(ip: IpAddr, upstream: &str) -> Forwarder {
        let listener = TcpListener::bind((ip, 0)).unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let connections = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(());
        let (weak, counter, upstream) = (Arc::downgrade(&stop), connections.clone(), upstream.to_owned());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if weak.upgrade().is_none() {
                    break;
                }
                let Ok(client) = conn else { continue };
                counter.fetch_add(1, Ordering::SeqCst);
                let Ok(server) = TcpStream::connect(&upstream) else { continue };
                for (mut from, mut to) in [(client.try_clone().unwrap(), server.try_clone().unwrap()), (server, client)] {
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut from, &mut to);
                        let _ = to.shutdown(Shutdown::Write);
                    });
                }
            }
        });
        Forwarder { addr, connections, _stop: stop }
    }

    /// `IP:PORT` (IPv6 in brackets).
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

/// An address of this machine that is not loopback: the one its routing table would use to
/// reach a documentation address (no packet is sent). `None` on a machine without a route.
pub fn non_loopback_ip() -> Option<IpAddr> {
    let socket = UdpSocket::bind("0.0.0.0:0").ok()?;
    socket.connect("198.51.100.1:9").ok()?;
    let ip = socket.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
}
