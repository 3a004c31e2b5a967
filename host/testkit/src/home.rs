//! A throw-away HOME for a ferry process: Docker credentials, `certs.d` CAs, XDG dirs.

use std::path::{Path, PathBuf};

use base64::Engine as _;

pub struct TestHome {
    dir: tempfile::TempDir,
    auths: serde_json::Map<String, serde_json::Value>,
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
        TestHome { dir, auths: serde_json::Map::new() }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn docker_config_dir(&self) -> PathBuf {
        self.dir.path().join(".docker")
    }

    fn write_config(&self) {
        let config = serde_json::json!({ "auths": self.auths });
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
        vec![
            ("HOME".to_owned(), p.to_owned()),
            ("DOCKER_CONFIG".to_owned(), self.docker_config_dir()),
            ("XDG_CONFIG_HOME".to_owned(), p.join(".config")),
            ("XDG_CACHE_HOME".to_owned(), p.join(".cache")),
        ]
    }
}
