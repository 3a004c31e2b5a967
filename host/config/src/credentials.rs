//! Docker's credential store: `$DOCKER_CONFIG/config.json` (or `~/.docker/config.json`) with
//! `auths`, `credHelpers` and `credsStore`, and identity tokens. Secrets never print.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine as _;

/// A secret string: `Debug` and `Display` show `<redacted>`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(s: String) -> Secret {
        Secret(s)
    }

    /// The secret itself, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Credentials for one registry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Credential {
    /// User name and password (or a personal access token).
    Basic {
        /// User name.
        username: String,
        /// Password.
        password: Secret,
    },
    /// An OAuth2 refresh token ("identity token") for the token endpoint.
    IdentityToken {
        /// User name, if known.
        username: String,
        /// The token.
        token: Secret,
    },
}

/// Credentials could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    /// `config.json` could not be read or parsed.
    #[error("{}: {message}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A credential helper failed.
    #[error("credential helper docker-credential-{helper} for {host}: {message}")]
    Helper {
        /// The helper's name.
        helper: String,
        /// The registry.
        host: String,
        /// What happened (never the secret).
        message: String,
    },
}

#[derive(serde::Deserialize, Default)]
struct DockerConfig {
    #[serde(default)]
    auths: BTreeMap<String, AuthEntry>,
    #[serde(default, rename = "credHelpers")]
    cred_helpers: BTreeMap<String, String>,
    #[serde(default, rename = "credsStore")]
    creds_store: Option<String>,
}

#[derive(serde::Deserialize, Default)]
struct AuthEntry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    identitytoken: Option<String>,
}

/// Reads credentials from Docker's configuration.
#[derive(Clone, Debug)]
pub struct CredentialStore {
    dir: Option<PathBuf>,
    helper_path: Option<Vec<PathBuf>>,
}

impl CredentialStore {
    /// `$DOCKER_CONFIG`, else `$HOME/.docker`.
    pub fn from_env() -> CredentialStore {
        let dir = std::env::var_os("DOCKER_CONFIG")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".docker")));
        CredentialStore { dir, helper_path: None }
    }

    /// A store reading `DIR/config.json`.
    pub fn with_config_dir(dir: impl Into<PathBuf>) -> CredentialStore {
        CredentialStore { dir: Some(dir.into()), helper_path: None }
    }

    /// Look for `docker-credential-*` helpers only in these directories (instead of `PATH`).
    pub fn with_helper_path(mut self, dirs: Vec<PathBuf>) -> CredentialStore {
        self.helper_path = Some(dirs);
        self
    }

    /// Credentials for a registry host, or `None` when none are configured.
    pub fn get(&self, host: &str) -> Result<Option<Credential>, CredentialError> {
        let Some(dir) = &self.dir else { return Ok(None) };
        let path = dir.join("config.json");
        let text = match fs_err::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(CredentialError::File { path, message: e.to_string() }),
        };
        let config: DockerConfig =
            serde_json::from_str(&text).map_err(|e| CredentialError::File { path: path.clone(), message: e.to_string() })?;
        let names = aliases(host);
        if let Some(helper) = names.iter().find_map(|n| config.cred_helpers.get(n)) {
            return self.run_helper(helper, host);
        }
        let entry = config.auths.iter().find(|(k, _)| names.iter().any(|n| normalize(k) == *n)).map(|(_, v)| v);
        if let Some(entry) = entry
            && let Some(c) = entry_credential(entry, &path)?
        {
            return Ok(Some(c));
        }
        match &config.creds_store {
            Some(store) if !store.is_empty() => self.run_helper(store, host),
            _ => Ok(None),
        }
    }

    fn run_helper(&self, helper: &str, host: &str) -> Result<Option<Credential>, CredentialError> {
        let err = |message: String| CredentialError::Helper { helper: helper.to_owned(), host: host.to_owned(), message };
        let program = format!("docker-credential-{helper}");
        let program = match &self.helper_path {
            Some(dirs) => dirs.iter().map(|d| d.join(&program)).find(|p| p.is_file()).ok_or_else(|| err("not found".to_owned()))?,
            None => PathBuf::from(program),
        };
        let mut child = Command::new(&program)
            .arg("get")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| err(format!("cannot run: {e}")))?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin.write_all(host.as_bytes()).map_err(|e| err(e.to_string()))?;
        }
        let out = child.wait_with_output().map_err(|e| err(e.to_string()))?;
        if !out.status.success() {
            let msg = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
            if msg.to_ascii_lowercase().contains("not found") {
                return Ok(None);
            }
            return Err(err(format!("exited with {}", out.status)));
        }
        #[derive(serde::Deserialize)]
        struct HelperAnswer {
            #[serde(rename = "Username", default)]
            username: String,
            #[serde(rename = "Secret", default)]
            secret: String,
        }
        let answer: HelperAnswer = serde_json::from_slice(&out.stdout).map_err(|e| err(format!("invalid answer: {e}")))?;
        Ok(Some(if answer.username == "<token>" {
            Credential::IdentityToken { username: String::new(), token: Secret::new(answer.secret) }
        } else {
            Credential::Basic { username: answer.username, password: Secret::new(answer.secret) }
        }))
    }
}

fn entry_credential(entry: &AuthEntry, path: &Path) -> Result<Option<Credential>, CredentialError> {
    if let Some(token) = entry.identitytoken.as_ref().filter(|t| !t.is_empty()) {
        return Ok(Some(Credential::IdentityToken {
            username: entry.username.clone().unwrap_or_default(),
            token: Secret::new(token.clone()),
        }));
    }
    if let Some(auth) = entry.auth.as_ref().filter(|a| !a.is_empty()) {
        let bad =
            || CredentialError::File { path: path.to_owned(), message: "an \"auth\" value is not base64 of user:password".to_owned() };
        let decoded = base64::engine::general_purpose::STANDARD.decode(auth.trim()).map_err(|_| bad())?;
        let text = String::from_utf8(decoded).map_err(|_| bad())?;
        let (u, p) = text.split_once(':').ok_or_else(bad)?;
        return Ok(Some(Credential::Basic { username: u.to_owned(), password: Secret::new(p.to_owned()) }));
    }
    match (&entry.username, &entry.password) {
        (Some(u), Some(p)) if !u.is_empty() => Ok(Some(Credential::Basic { username: u.clone(), password: Secret::new(p.clone()) })),
        _ => Ok(None),
    }
}

/// Keys written as URLs (`https://host/v1/`) name the host.
fn normalize(key: &str) -> String {
    let k = key.strip_prefix("https://").or_else(|| key.strip_prefix("http://")).unwrap_or(key);
    k.split('/').next().unwrap_or(k).to_owned()
}

fn aliases(host: &str) -> Vec<String> {
    match host {
        "docker.io" | "index.docker.io" | "registry-1.docker.io" => {
            vec!["index.docker.io".to_owned(), "docker.io".to_owned(), "registry-1.docker.io".to_owned()]
        }
        h => vec![h.to_owned()],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(json: &str) -> (tempfile::TempDir, CredentialStore) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("config.json"), json).unwrap();
        let s = CredentialStore::with_config_dir(dir.path()).with_helper_path(vec![dir.path().to_owned()]);
        (dir, s)
    }

    #[test]
    fn reads_auths() {
        let (_d, s) = store(
            r#"{"auths":{"https://reg.io/v1/":{"auth":"dXNlcjpwYTpzcw=="},"b.io":{"username":"u","password":"p"},"c.io":{"identitytoken":"tok"}}}"#,
        );
        assert_eq!(s.get("reg.io").unwrap(), Some(Credential::Basic { username: "user".into(), password: Secret::new("pa:ss".into()) }));
        assert!(matches!(s.get("b.io").unwrap(), Some(Credential::Basic { .. })));
        assert!(matches!(s.get("c.io").unwrap(), Some(Credential::IdentityToken { .. })));
        assert_eq!(s.get("none.io").unwrap(), None);
        assert_eq!(format!("{:?}", s.get("reg.io").unwrap()).matches("pa:ss").count(), 0);
    }

    #[cfg(unix)]
    #[test]
    fn runs_helpers() {
        use std::os::unix::fs::PermissionsExt as _;
        let (dir, s) = store(r#"{"credHelpers":{"h.io":"fake"},"credsStore":"fake"}"#);
        let script = dir.path().join("docker-credential-fake");
        std::fs::write(&script, "#!/bin/sh\nread host\ncase \"$host\" in\n h.io) echo '{\"Username\":\"hu\",\"Secret\":\"hs\"}';;\n t.io) echo '{\"Username\":\"<token>\",\"Secret\":\"rt\"}';;\n *) echo 'credentials not found in native keychain'; exit 1;;\nesac\n").unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert!(matches!(s.get("h.io").unwrap(), Some(Credential::Basic { ref username, .. }) if username == "hu"));
        assert!(matches!(s.get("t.io").unwrap(), Some(Credential::IdentityToken { .. })));
        assert_eq!(s.get("x.io").unwrap(), None);
    }

    #[test]
    fn malformed_file_names_path() {
        let (_d, s) = store("{not json");
        assert!(s.get("reg.io").unwrap_err().to_string().contains("config.json"));
    }
}
