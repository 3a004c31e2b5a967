//! A real PostgreSQL server for one test: Debian's `postgresql` binaries, a cluster made by
//! `initdb` in a temporary directory, listening only on a Unix socket in that directory (no
//! TCP port to collide on), stopped by PID when dropped. Run as root, the server runs as the
//! `postgres` user, as PostgreSQL requires.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running PostgreSQL cluster.
pub struct Postgres {
    child: Child,
    dir: tempfile::TempDir,
}

impl Postgres {
    /// Makes a cluster and starts its server; panics with the server's log when it does not
    /// come up within 30 s.
    pub fn start() -> Postgres {
        let bin = bin_dir();
        let dir = tempfile::Builder::new().prefix("ferry-pg").tempdir().expect("a temporary directory");
        let root = is_root();
        if root {
            // The cluster belongs to the server's user.
            let status = Command::new("chown").args(["-R", "postgres:postgres"]).arg(dir.path()).status().expect("chown");
            assert!(status.success(), "chown of the cluster directory");
        }
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).expect("chmod");
        let data = dir.path().join("data");
        let out = as_server_user(&bin.join("initdb"), root)
            .args(["-A", "trust", "-U", "ferry", "-E", "UTF8", "--no-sync", "--no-instructions", "-D"])
            .arg(&data)
            .output()
            .expect("running initdb");
        assert!(out.status.success(), "initdb failed: {}", String::from_utf8_lossy(&out.stderr));
        let log = std::fs::File::create(dir.path().join("server.log")).expect("server log");
        if root {
            let _ = Command::new("chown").args(["postgres:postgres"]).arg(dir.path().join("server.log")).status();
        }
        let child = as_server_user(&bin.join("postgres"), root)
            .arg("-D")
            .arg(&data)
            .arg("-k")
            .arg(dir.path())
            .args(["-c", "listen_addresses=", "-c", "fsync=off", "-c", "max_connections=50"])
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("starting postgres");
        let pg = Postgres { child, dir };
        let socket = pg.dir.path().join(".s.PGSQL.5432");
        let deadline = Instant::now() + Duration::from_secs(30);
        while !socket.exists() {
            assert!(Instant::now() < deadline, "postgres did not start: {}", pg.log());
            std::thread::sleep(Duration::from_millis(50));
        }
        // The socket appears slightly before the server accepts connections.
        std::thread::sleep(Duration::from_millis(200));
        pg
    }

    /// The URL of its `postgres` database, over the socket, as user `ferry`.
    pub fn url(&self) -> String {
        format!("postgres://ferry@localhost/postgres?host={}", self.dir.path().display())
    }

    /// Its log, for a failing test's message.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        // SIGINT is PostgreSQL's fast shutdown; kill if it lingers.
        let _ = Command::new("kill").arg("-INT").arg(self.child.id().to_string()).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The newest `/usr/lib/postgresql/N/bin`.
fn bin_dir() -> PathBuf {
    let base = Path::new("/usr/lib/postgresql");
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir(base)
        .unwrap_or_else(|e| panic!("{}: {e} (install Debian's postgresql: scripts/bootstrap)", base.display()))
        .filter_map(Result::ok)
        .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path().join("bin"))))
        .collect();
    versions.sort();
    versions.pop().map(|(_, p)| p).expect("a PostgreSQL version under /usr/lib/postgresql")
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

/// `program` run as the `postgres` user when we are root (exec'd, so its PID is the server's).
fn as_server_user(program: &Path, root: bool) -> Command {
    if root {
        let mut cmd = Command::new("setpriv");
        cmd.args(["--reuid=postgres", "--regid=postgres", "--init-groups", "--"]).arg(program);
        cmd
    } else {
        Command::new(program)
    }
}
