//! A throw-away HOME for a ferry process: Docker credentials, `certs.d` CAs, XDG dirs (so
//! neither this machine's `~/.docker/config.json` nor podman's `auth.json` is ever read).

use std::path::{Path, PathBuf};

use base64::Engine as _;

pub struct TestHome {
    dir: tempfile::TempDir,
    auths: serde_json::Map<String, serde_json::Value>,
    cred_helpers: serde_json::Map<String, serde_json::Value>,
}

impl Default for TestHome {
    fn default() -> Self {
        TestHome::new()
    }
}

impl TestHome {
    pub fn new() -> TestHome {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join(".docker")).unwrap();
        std::fs::create_dir_all(dir.path().join("bin")).unwrap();
        TestHome { dir, auths: serde_json::Map::new(), cred_helpers: serde_json::Map::new() }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn docker_config_dir(&self) -> PathBuf {
        self.dir.path().join(".docker")
    }

    fn write_config(&self) {
        let config = serde_json::json!({ "auths": self.auths, "credHelpers": self.cred_helpers });
        std::fs::write(self.docker_config_dir().join("config.json"), serde_json::to_vec_pretty(&config).unwrap()).unwrap();
    }

    /// `auths[host].auth = base64(user:pass)`.
    pub fn add_auth(&mut self, host: &str, user: &str, pass: &str) {
        let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
        self.auths.insert(host.to_owned(), serde_json::json!({ "auth": auth }));
        self.write_config();
    }

    /// `auths[host].identitytoken`: an OAuth2 refresh token.
    pub fn add_identity_token(&mut self, host: &str, token: &str) {
        self.auths.insert(host.to_owned(), serde_json::json!({ "identitytoken": token }));
        self.write_config();
    }

    /// Registers `docker-credential-<helper>` for `host` in `credHelpers`: a script in
    /// `HOME/bin` that answers `get` for `host` with these credentials, says "credentials not
    /// found" for any other server, and appends each server it was asked about to
    /// `HOME/<helper>.calls`.
    pub fn add_cred_helper(&mut self, host: &str, helper: &str, username: &str, secret: &str) {
        use std::os::unix::fs::PermissionsExt as _;
        let script = self.dir.path().join("bin").join(format!("docker-credential-{helper}"));
        let calls = self.dir.path().join(format!("{helper}.calls"));
        let answer = serde_json::json!({ "ServerURL": host, "Username": username, "Secret": secret }).to_string();
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\n[ \"$1\" = get ] || exit 1\nread server\necho \"$server\" >> '{}'\nif [ \"$server\" = '{host}' ]; then echo '{answer}'; else echo 'credentials not found in native keychain'; exit 1; fi\n",
                calls.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        self.cred_helpers.insert(host.to_owned(), serde_json::json!(helper));
        self.write_config();
    }

    /// The servers `docker-credential-<helper>` was asked about, in order.
    pub fn helper_calls(&self, helper: &str) -> Vec<String> {
        std::fs::read_to_string(self.dir.path().join(format!("{helper}.calls"))).unwrap_or_default().lines().map(str::to_owned).collect()
    }

    /// `~/.docker/certs.d/<host>/ca.crt`.
    pub fn add_ca(&self, host: &str, ca_pem: &str) {
        let dir = self.docker_config_dir().join("certs.d").join(host);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("ca.crt"), ca_pem).unwrap();
    }

    /// `~/.docker/certs.d/<host>/cert.pem` and `key.pem`: a client certificate.
    pub fn add_client_cert(&self, host: &str, cert_pem: &str, key_pem: &str) {
        let dir = self.docker_config_dir().join("certs.d").join(host);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("cert.pem"), cert_pem).unwrap();
        std::fs::write(dir.join("key.pem"), key_pem).unwrap();
    }

    /// Environment for a ferry process using this home.
    pub fn env(&self) -> Vec<(String, PathBuf)> {
        let p = self.dir.path();
        let mut path = vec![p.join("bin")];
        path.extend(std::env::var_os("PATH").map(|v| std::env::split_paths(&v).collect::<Vec<_>>()).unwrap_or_default());
        vec![
            ("PATH".to_owned(), std::env::join_paths(path).unwrap().into()),
            ("HOME".to_owned(), p.to_owned()),
            ("DOCKER_CONFIG".to_owned(), self.docker_config_dir()),
            ("XDG_CONFIG_HOME".to_owned(), p.join(".config")),
            ("XDG_CACHE_HOME".to_owned(), p.join(".cache")),
            ("XDG_RUNTIME_DIR".to_owned(), p.join("run")),
        ]
    }
}
