//! A second registry implementation that serves the OCI referrers API (`ferro-oci-server`,
//! installed by `scripts/bootstrap`), since distribution 2.8 has none. Small content only: it
//! buffers uploads in memory.

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `ferro-oci-server` on 127.0.0.1.
pub struct ReferrersRegistry {
    child: Child,
    _dir: tempfile::TempDir,
    addr: String,
}

fn binary() -> PathBuf {
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join("ferro-oci-server"))
        .find(|p| p.is_file());
    let in_cargo = std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo/bin/ferro-oci-server")).filter(|p| p.is_file());
    on_path.or(in_cargo).unwrap_or_else(|| {
        panic!("ferro-oci-server is missing: install it with `cargo install --locked ferro-oci-server@1.0.0` (scripts/bootstrap does)")
    })
}

impl ReferrersRegistry {
    pub fn start() -> ReferrersRegistry {
        let bin = binary();
        let dir = tempfile::tempdir().unwrap();
        // It reports the address it was given, not the one bound, so pick a free port first
        // and try again if another process takes it meanwhile.
        for _ in 0..20 {
            let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
            let addr = format!("127.0.0.1:{port}");
            let mut child = Command::new(&bin)
                .env("FERRO_OCI_LISTEN", &addr)
                .env("FERRO_OCI_STORAGE_DIR", dir.path())
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("starting ferro-oci-server");
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                if TcpStream::connect(&addr).is_ok() {
                    return ReferrersRegistry { child, _dir: dir, addr };
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("ferro-oci-server did not start");
    }

    pub fn addr(&self) -> &str {
        &self.addr
    }

    pub fn pusher(&self) -> crate::Pusher {
        crate::Pusher::new(format!("http://{}", self.addr), None, None)
    }
}

impl Drop for ReferrersRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
