//! A real registry per test: `/usr/bin/docker-registry serve` on 127.0.0.1 port 0, its port
//! read from its log, stopped by PID on drop.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const BINARY: &str = "/usr/bin/docker-registry";

/// A running registry.
pub struct Registry {
    child: Child,
    dir: tempfile::TempDir,
    addr: String,
    tls: bool,
    credentials: Option<(String, String)>,
    log: Arc<Mutex<Vec<String>>>,
    token_stats: Option<Arc<crate::token::TokenStats>>,
    token_realm: Option<String>,
    client_certs: bool,
}

/// Options for [`Registry`].
#[derive(Default)]
pub struct Builder {
    tls: bool,
    client_certs: bool,
    basic: Option<(String, String)>,
    token_users: Option<Vec<(String, String)>>,
    refresh_tokens: Vec<(String, String)>,
}

impl Builder {
    /// Serve HTTPS with a fresh CA and leaf certificate.
    pub fn tls(mut self) -> Builder {
        self.tls = true;
        self
    }

    /// Serve HTTPS and require a client certificate signed by the fixture's CA.
    pub fn client_certs(mut self) -> Builder {
        self.tls = true;
        self.client_certs = true;
        self
    }

    /// Require HTTP basic auth with this user.
    pub fn basic_auth(mut self, user: &str, password: &str) -> Builder {
        self.basic = Some((user.to_owned(), password.to_owned()));
        self
    }

    /// Require Docker token auth from a token server that knows these users: they may push
    /// and pull; anonymous callers may only pull.
    pub fn token_auth(mut self, users: &[(&str, &str)]) -> Builder {
        self.token_users = Some(users.iter().map(|(u, p)| ((*u).to_owned(), (*p).to_owned())).collect());
        self
    }

    /// Accept `token` as an OAuth2 refresh token (a Docker identity token) for `user`.
    pub fn refresh_token(mut self, user: &str, token: &str) -> Builder {
        self.refresh_tokens.push((user.to_owned(), token.to_owned()));
        self
    }

    pub fn start(self) -> Registry {
        Registry::launch(self)
    }
}

impl Registry {
    /// A plain-HTTP registry without auth.
    pub fn start() -> Registry {
        Builder::default().start()
    }

    pub fn builder() -> Builder {
        Builder::default()
    }

    fn launch(opts: Builder) -> Registry {
        assert!(
            Path::new(BINARY).exists(),
            "{BINARY} is missing: install it with `apt-get install docker-registry` (the README's test command does)"
        );
        let dir = tempfile::tempdir().expect("temporary directory");
        let root = dir.path();
        let mut http = "http: {addr: '127.0.0.1:0', secret: test".to_owned();
        if opts.tls {
            make_certificates(root);
            let client_cas = if opts.client_certs {
                make_client_certificate(root);
                format!(", clientcas: [{}]", root.join("ca.pem").display())
            } else {
                String::new()
            };
            http += &format!(
                ", tls: {{certificate: {}, key: {}{client_cas}}}",
                root.join("leaf.pem").display(),
                root.join("leaf.key").display()
            );
        }
        http += "}";
        let mut auth = String::new();
        if let Some((user, pass)) = &opts.basic {
            let out = run(Command::new("htpasswd").args(["-Bbn", "-C", "4", user, pass]));
            std::fs::write(root.join("htpasswd"), out).unwrap();
            auth = format!("auth: {{htpasswd: {{realm: test-realm, path: {}}}}}\n", root.join("htpasswd").display());
        }
        let mut token = None;
        let mut token_realm = None;
        if let Some(users) = &opts.token_users {
            let t = crate::token::start(root, users.iter().cloned().collect(), opts.refresh_tokens.iter().cloned().collect());
            auth = format!(
                "auth: {{token: {{realm: {}, service: {}, issuer: {}, rootcertbundle: {}}}}}\n",
                t.realm,
                crate::token::SERVICE,
                crate::token::ISSUER,
                t.cert.display()
            );
            token = Some(t.stats);
            token_realm = Some(t.realm.clone());
        }
        let config = format!(
            "version: 0.1\nlog: {{level: info, accesslog: {{disabled: true}}}}\nstorage: {{filesystem: {{rootdirectory: {}}}, delete: {{enabled: true}}}}\n{http}\n{auth}",
            root.join("data").display()
        );
        std::fs::write(root.join("config.yml"), config).unwrap();
        let mut child = Command::new(BINARY)
            .arg("serve")
            .arg(root.join("config.yml"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting docker-registry");
        let log = Arc::new(Mutex::new(Vec::new()));
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let addr = loop {
            let Some(Ok(line)) = lines.next() else {
                let _ = child.kill();
                let _ = child.wait();
                panic!("docker-registry exited before listening:\n{}", log.lock().unwrap().join("\n"));
            };
            log.lock().unwrap().push(line.clone());
            if let Some(i) = line.find("listening on ") {
                break line[i + 13..].split(['"', ' ', ',']).next().unwrap().to_owned();
            }
        };
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                let mut l = sink.lock().unwrap();
                if l.len() > 200 {
                    l.remove(0);
                }
                l.push(line);
            }
        });
        let credentials = opts.basic.or_else(|| opts.token_users.and_then(|u| u.into_iter().next()));
        let reg = Registry {
            child,
            dir,
            addr,
            tls: opts.tls,
            credentials,
            log,
            token_stats: token,
            token_realm,
            client_certs: opts.client_certs,
        };
        reg.wait_ready();
        reg
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let code = self.pusher_anonymous().status("GET", "/v2/");
            if code == 200 || code == 401 {
                return;
            }
            assert!(Instant::now() < deadline, "registry at {} not ready (last status {code}):\n{}", self.addr, self.log());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// `http://127.0.0.1:PORT` or `https://…`.
    pub fn url(&self) -> String {
        format!("{}://{}", if self.tls { "https" } else { "http" }, self.addr)
    }

    pub fn is_tls(&self) -> bool {
        self.tls
    }

    /// The CA certificate (PEM) of a TLS registry.
    pub fn ca_pem(&self) -> Option<String> {
        self.tls.then(|| std::fs::read_to_string(self.ca_path()).unwrap())
    }

    pub fn ca_path(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// The client certificate and key (PEM) a mutual-TLS registry accepts.
    pub fn client_cert(&self) -> Option<(String, String)> {
        self.client_certs.then(|| {
            let read = |n: &str| std::fs::read_to_string(self.dir.path().join(n)).unwrap();
            (read("client.pem"), read("client.key"))
        })
    }

    pub fn credentials(&self) -> Option<(&str, &str)> {
        self.credentials.as_ref().map(|(u, p)| (u.as_str(), p.as_str()))
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The last lines the registry logged.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    /// A pusher with this registry's credentials and CA.
    pub fn pusher(&self) -> crate::Pusher {
        let p = self.with_client_cert(crate::Pusher::new(self.url(), self.credentials.clone(), self.tls.then(|| self.ca_path())));
        match &self.token_realm {
            Some(realm) => p.with_token_realm(realm, crate::token::SERVICE),
            None => p,
        }
    }

    fn pusher_anonymous(&self) -> crate::Pusher {
        self.with_client_cert(crate::Pusher::new(self.url(), None, self.tls.then(|| self.ca_path())))
    }

    fn with_client_cert(&self, p: crate::Pusher) -> crate::Pusher {
        if self.client_certs { p.with_client_cert(self.dir.path().join("client.pem"), self.dir.path().join("client.key")) } else { p }
    }

    /// Requests the token server answered so far (token-auth registries).
    pub fn token_requests(&self) -> usize {
        self.token_stats.as_ref().map_or(0, |s| s.requests())
    }

    /// The token server's counters and faults (token-auth registries).
    pub fn token_server(&self) -> &crate::token::TokenStats {
        self.token_stats.as_deref().expect("a registry started with token_auth")
    }

    /// A ferry config file that reaches this registry (plain HTTP endpoints need it).
    pub fn ferry_config(&self) -> String {
        if self.tls {
            "kind: Configuration\n".to_owned()
        } else {
            format!("registryConfig:\n  registries:\n    {0}:\n      endpoints: [\"http://{0}\"]\n", self.addr)
        }
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn run(cmd: &mut Command) -> Vec<u8> {
    let out = cmd.output().unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    assert!(out.status.success(), "{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

/// A CA and a leaf for 127.0.0.1/localhost (rustls refuses a CA used as the server cert).
fn make_certificates(dir: &Path) {
    let p = |n: &str| dir.join(n).display().to_string();
    run(Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "30"])
        .args(["-keyout", &p("ca.key"), "-out", &p("ca.pem"), "-subj", "/CN=ferry-test-ca"])
        .args(["-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"]));
    issue(
        dir,
        "leaf",
        "/CN=localhost",
        "keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\n",
    );
}

/// A client certificate signed by the fixture's CA, for mutual TLS.
fn make_client_certificate(dir: &Path) {
    issue(dir, "client", "/CN=ferry-test-client", "keyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n");
}

/// `NAME.key` and `NAME.pem`: an EC key and a certificate for `subject` signed by the CA in
/// `dir`, with `extensions` (openssl extfile lines) besides CA:FALSE.
fn issue(dir: &Path, name: &str, subject: &str, extensions: &str) {
    let p = |ext: &str| dir.join(format!("{name}.{ext}")).display().to_string();
    let ca = |n: &str| dir.join(n).display().to_string();
    run(Command::new("openssl").args(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]).args([
        "-keyout",
        &p("key"),
        "-out",
        &p("csr"),
        "-subj",
        subject,
    ]));
    std::fs::write(p("ext"), format!("basicConstraints=critical,CA:FALSE\n{extensions}")).unwrap();
    run(Command::new("openssl")
        .args(["x509", "-req", "-in", &p("csr"), "-CA", &ca("ca.pem"), "-CAkey", &ca("ca.key"), "-CAcreateserial"])
        .args(["-days", "30", "-out", &p("pem"), "-extfile", &p("ext")]));
}
