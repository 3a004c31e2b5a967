//! Registry credentials, read from the files operators already have, in this order (the first
//! file with an entry for the host wins):
//! 1. `registryAuthFile` of ferry's configuration file, when it names one;
//! 2. Docker's `$DOCKER_CONFIG/config.json` (or `~/.docker/config.json`), with `auths`,
//!    `credHelpers`, `credsStore` and identity tokens;
//! 3. the file `REGISTRY_AUTH_FILE` names (podman's and skopeo's variable);
//! 4. podman's `$XDG_RUNTIME_DIR/containers/auth.json`, then
//!    `$XDG_CONFIG_HOME/containers/auth.json` (`~/.config/containers/auth.json`).
//!
//! Every file has Docker's schema. Each answer says where it came from ([`Source`]), so
//! messages and logs can name the file or helper; secrets never print. `ferry login` writes
//! through [`CredentialStore::save`] (see `write.rs`).
//!
//! Lookups are blocking: a credential helper is a process (`docker-credential-NAME get`),
//! given [`HELPER_TIMEOUT`] to answer before it is killed. Async callers run lookups on a
//! blocking thread (the registry client does, once per registry).

mod write;

use std::collections::BTreeMap;
use std::fmt;
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

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
#[non_exhaustive]
pub enum CredentialError {
    /// A credentials file could not be read.
    #[error("reading {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A credentials file is not valid JSON of Docker's schema.
    #[error("{} is not a valid Docker config: {source}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's error.
        #[source]
        source: serde_json::Error,
    },
    /// An `auth` value is not base64 of `user:password`.
    #[error("{}: an \"auth\" value is not base64 of user:password", path.display())]
    BadAuth {
        /// The file.
        path: PathBuf,
    },
    /// A credential helper failed.
    #[error("credential helper docker-credential-{helper} for {host}: {failure}")]
    Helper {
        /// The helper's name.
        helper: String,
        /// The registry.
        host: String,
        /// What happened (never the secret).
        #[source]
        failure: HelperFailure,
    },
    /// A credentials file could not be written (it is left as it was).
    #[error("writing {}: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A credentials file is JSON but not an object: ferry will not replace it.
    #[error("{} is not a JSON object; it is left as it is", path.display())]
    NotAnObject {
        /// The file.
        path: PathBuf,
    },
    /// No file to write credentials to: no `registryAuthFile`, `DOCKER_CONFIG` or `HOME`.
    #[error("no credentials file to write: set DOCKER_CONFIG or HOME")]
    NoFile,
    /// The lookup was abandoned before it finished (the program is shutting down).
    #[error("the credential lookup was interrupted")]
    Interrupted,
}

/// How a credential helper failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HelperFailure {
    /// No such program in the helper directories.
    #[error("not found")]
    NotFound,
    /// The program could not be started or talked to.
    #[error("cannot run it: {0}")]
    Run(#[source] std::io::Error),
    /// It did not answer in time and was killed.
    #[error("no answer within {0:?}; it was stopped (a helper waiting for a prompt?)")]
    Timeout(Duration),
    /// It exited with a failure status (other than "credentials not found").
    #[error("exited with {0}")]
    Exit(ExitStatus),
    /// Its answer is not the JSON the protocol defines.
    #[error("invalid answer: {0}")]
    Answer(#[source] serde_json::Error),
}

/// How long a credential helper may take to answer `get` before it is killed. A helper that
/// prompts (a keychain waiting to be unlocked) gets this long for the person at the prompt.
pub const HELPER_TIMEOUT: Duration = Duration::from_secs(60);

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

/// Credentials for a host and where they came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found {
    /// The credentials.
    pub credential: Credential,
    /// Where they came from.
    pub source: Source,
}

/// Where credentials came from (or went): never the secret itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// An `auths` entry of this file.
    File(PathBuf),
    /// A credential helper named in `credHelpers` or `credsStore` of this file.
    Helper {
        /// The helper's name (`docker-credential-NAME`).
        helper: String,
        /// The file that names it.
        file: PathBuf,
    },
    /// Given for this run (the user name and password `ferry login` checks).
    Given,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::File(path) => write!(f, "{}", path.display()),
            Source::Helper { helper, file } => write!(f, "credential helper docker-credential-{helper} (named in {})", file.display()),
            Source::Given => f.write_str("the command line"),
        }
    }
}

/// Reads (and, for `ferry login`, writes) registry credentials.
#[derive(Clone, Debug)]
pub struct CredentialStore {
    /// The files, in lookup order.
    files: Vec<PathBuf>,
    /// The file `login` writes: ferry's `registryAuthFile`, else Docker's `config.json`.
    login_file: Option<PathBuf>,
    /// Credentials given for the run, used before (and instead of) any file.
    given: Option<Credential>,
    helper_path: Option<Vec<PathBuf>>,
    helper_timeout: Duration,
}

impl CredentialStore {
    fn of(files: Vec<PathBuf>) -> CredentialStore {
        let login_file = files.first().cloned();
        CredentialStore { files, login_file, given: None, helper_path: None, helper_timeout: HELPER_TIMEOUT }
    }

    /// Docker's `config.json` (`$DOCKER_CONFIG`, else `$HOME/.docker`), then
    /// `REGISTRY_AUTH_FILE`, then podman's `$XDG_RUNTIME_DIR/containers/auth.json` and
    /// `$XDG_CONFIG_HOME/containers/auth.json` (`$HOME/.config/...`).
    pub fn from_env() -> CredentialStore {
        let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
        let home = var("HOME");
        let mut files = Vec::new();
        files.extend(var("DOCKER_CONFIG").or_else(|| home.as_ref().map(|h| h.join(".docker"))).map(|d| d.join("config.json")));
        files.extend(var("REGISTRY_AUTH_FILE"));
        files.extend(var("XDG_RUNTIME_DIR").map(|d| d.join("containers").join("auth.json")));
        let config_home = var("XDG_CONFIG_HOME").or_else(|| home.map(|h| h.join(".config")));
        files.extend(config_home.map(|d| d.join("containers").join("auth.json")));
        let mut store = CredentialStore::of(Vec::new());
        for f in files {
            if !store.files.contains(&f) {
                store.files.push(f);
            }
        }
        store.login_file = store.files.first().cloned();
        store
    }

    /// A store reading `DIR/config.json` alone.
    pub fn with_config_dir(dir: impl Into<PathBuf>) -> CredentialStore {
        CredentialStore::of(vec![dir.into().join("config.json")])
    }

    /// Reads `file` (ferry's `registryAuthFile`) before every other file, and makes it the
    /// file `login` writes.
    pub fn with_registry_auth_file(mut self, file: PathBuf) -> CredentialStore {
        self.files.retain(|f| *f != file);
        self.files.insert(0, file.clone());
        self.login_file = Some(file);
        self
    }

    /// A store that answers `credential` for every host (`ferry login` checks a password so).
    pub fn given(credential: Credential) -> CredentialStore {
        CredentialStore { given: Some(credential), ..CredentialStore::of(Vec::new()) }
    }

    /// Look for `docker-credential-*` helpers only in these directories (instead of `PATH`).
    pub fn with_helper_path(mut self, dirs: Vec<PathBuf>) -> CredentialStore {
        self.helper_path = Some(dirs);
        self
    }

    /// Give a credential helper `timeout` to answer (instead of [`HELPER_TIMEOUT`]).
    pub fn with_helper_timeout(mut self, timeout: Duration) -> CredentialStore {
        self.helper_timeout = timeout;
        self
    }

    /// The files looked in, in order (for messages saying where none were found).
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }

    /// The file `ferry login` writes and `ferry logout` edits.
    pub fn login_file(&self) -> Option<&Path> {
        self.login_file.as_deref()
    }

    /// Credentials for a registry host, or `None` when none are configured. Blocks while a
    /// credential helper runs (at most the helper timeout).
    pub fn get(&self, host: &str) -> Result<Option<Credential>, CredentialError> {
        Ok(self.find(host)?.map(|f| f.credential))
    }

    /// Credentials for a registry host and where they came from: the first file (in the
    /// order of [`CredentialStore::files`]) with an entry or a helper answer for it.
    pub fn find(&self, host: &str) -> Result<Option<Found>, CredentialError> {
        if let Some(credential) = &self.given {
            return Ok(Some(Found { credential: credential.clone(), source: Source::Given }));
        }
        for path in &self.files {
            if let Some(found) = self.find_in(path, host)? {
                return Ok(Some(found));
            }
        }
        Ok(None)
    }

    fn find_in(&self, path: &Path, host: &str) -> Result<Option<Found>, CredentialError> {
        let Some(config) = read_config(path)? else { return Ok(None) };
        let names = aliases(host);
        let helper = |name: &String| {
            let source = Source::Helper { helper: name.clone(), file: path.to_owned() };
            Ok(self.run_helper(name, host)?.map(|credential| Found { credential, source }))
        };
        if let Some(name) = names.iter().find_map(|n| config.cred_helpers.get(n)) {
            return helper(name);
        }
        let entry = config.auths.iter().find(|(k, _)| names.iter().any(|n| normalize(k) == *n)).map(|(_, v)| v);
        if let Some(entry) = entry
            && let Some(credential) = entry_credential(entry, path)?
        {
            return Ok(Some(Found { credential, source: Source::File(path.to_owned()) }));
        }
        match &config.creds_store {
            Some(store) if !store.is_empty() => helper(store),
            _ => Ok(None),
        }
    }

    /// `docker-credential-NAME`: in the helper directories when given, else on `PATH`.
    fn helper_program(&self, helper: &str) -> Result<PathBuf, HelperFailure> {
        let program = format!("docker-credential-{helper}");
        match &self.helper_path {
            Some(dirs) => dirs.iter().map(|d| d.join(&program)).find(|p| p.is_file()).ok_or(HelperFailure::NotFound),
            None => Ok(PathBuf::from(program)),
        }
    }

    fn run_helper(&self, helper: &str, host: &str) -> Result<Option<Credential>, CredentialError> {
        let err = |failure: HelperFailure| CredentialError::Helper { helper: helper.to_owned(), host: host.to_owned(), failure };
        let program = self.helper_program(helper).map_err(err)?;
        let out = run_with_timeout(Command::new(&program).arg("get"), host.as_bytes(), self.helper_timeout).map_err(err)?;
        if !out.status.success() {
            if out.says_not_found() {
                return Ok(None);
            }
            return Err(err(HelperFailure::Exit(out.status)));
        }
        #[derive(serde::Deserialize)]
        struct HelperAnswer {
            #[serde(rename = "Username", default)]
            username: String,
            #[serde(rename = "Secret", default)]
            secret: String,
        }
        let answer: HelperAnswer = serde_json::from_slice(&out.stdout).map_err(|e| err(HelperFailure::Answer(e)))?;
        Ok(Some(if answer.username == "<token>" {
            Credential::IdentityToken { username: String::new(), token: Secret::new(answer.secret) }
        } else {
            Credential::Basic { username: answer.username, password: Secret::new(answer.secret) }
        }))
    }
}

/// A credentials file, or `None` when it does not exist.
fn read_config(path: &Path) -> Result<Option<DockerConfig>, CredentialError> {
    let text = match fs_err::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(CredentialError::Read { path: path.to_owned(), source }),
    };
    if text.trim().is_empty() {
        return Ok(Some(DockerConfig::default()));
    }
    serde_json::from_str(&text).map(Some).map_err(|source| CredentialError::Parse { path: path.to_owned(), source })
}

/// What a finished helper wrote and how it exited.
struct HelperOutput {
    status: ExitStatus,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

impl HelperOutput {
    /// The protocol's "no credentials" answer: docker-credential-helpers print "credentials
    /// not found in native keychain"; others word it alike.
    fn says_not_found(&self) -> bool {
        let msg = String::from_utf8_lossy(&self.stdout).to_string() + &String::from_utf8_lossy(&self.stderr);
        msg.to_ascii_lowercase().contains("not found")
    }
}

/// Runs `command` with `input` on its standard input, reading its output, and kills it when
/// it has not exited within `timeout`.
fn run_with_timeout(command: &mut Command, input: &[u8], timeout: Duration) -> Result<HelperOutput, HelperFailure> {
    let mut child = command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().map_err(HelperFailure::Run)?;
    // Readers on their own threads: a helper that fills one pipe while ferry waits on the
    // other must not stall, and a hung helper must not hang ferry.
    let read = |pipe: Option<Box<dyn std::io::Read + Send>>| {
        let (tx, rx) = std::sync::mpsc::channel();
        if let Some(mut pipe) = pipe {
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                let _ = pipe.read_to_end(&mut buf);
                let _ = tx.send(buf);
            });
        }
        rx
    };
    let stdout = read(child.stdout.take().map(|p| Box::new(p) as Box<dyn std::io::Read + Send>));
    let stderr = read(child.stderr.take().map(|p| Box::new(p) as Box<dyn std::io::Read + Send>));
    if let Some(mut stdin) = child.stdin.take() {
        // A helper that exits without reading closes the pipe; its exit status says the rest.
        let _ = stdin.write_all(input);
    }
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().map_err(HelperFailure::Run)? {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(HelperFailure::Timeout(timeout));
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    // Something the helper started may hold its pipes open after it exited: wait a moment for
    // the output, not for that.
    let collect = |rx: std::sync::mpsc::Receiver<Vec<u8>>| rx.recv_timeout(Duration::from_secs(1)).unwrap_or_default();
    Ok(HelperOutput { status, stdout: collect(stdout), stderr: collect(stderr) })
}

fn entry_credential(entry: &AuthEntry, path: &Path) -> Result<Option<Credential>, CredentialError> {
    if let Some(token) = entry.identitytoken.as_ref().filter(|t| !t.is_empty()) {
        return Ok(Some(Credential::IdentityToken {
            username: entry.username.clone().unwrap_or_default(),
            token: Secret::new(token.clone()),
        }));
    }
    if let Some(auth) = entry.auth.as_ref().filter(|a| !a.is_empty()) {
        let bad = || CredentialError::BadAuth { path: path.to_owned() };
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

    #[cfg(unix)]
    #[test]
    fn a_helper_that_hangs_is_stopped() {
        use std::os::unix::fs::PermissionsExt as _;
        let (dir, s) = store(r#"{"credHelpers":{"h.io":"stuck"}}"#);
        let script = dir.path().join("docker-credential-stuck");
        // A helper waiting at a prompt that nobody answers; `sleep` keeps the pipes open too.
        std::fs::write(&script, "#!/bin/sh\nsleep 30\n").unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let s = s.with_helper_timeout(Duration::from_millis(300));
        let started = Instant::now();
        let e = s.get("h.io").unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(5), "waited {:?}", started.elapsed());
        assert!(matches!(e, CredentialError::Helper { failure: HelperFailure::Timeout(_), .. }), "{e:?}");
        let shown = e.to_string();
        assert!(shown.contains("docker-credential-stuck for h.io") && shown.contains("no answer within"), "{shown}");
    }

    #[cfg(unix)]
    #[test]
    fn a_failing_helper_is_reported_by_its_exit() {
        use std::os::unix::fs::PermissionsExt as _;
        let (dir, s) = store(r#"{"credHelpers":{"h.io":"broken","j.io":"garbled"}}"#);
        for (name, body) in [("broken", "echo 'keychain locked' >&2; exit 3"), ("garbled", "echo 'not json'")] {
            let script = dir.path().join(format!("docker-credential-{name}"));
            std::fs::write(&script, format!("#!/bin/sh\n{body}\n")).unwrap();
            std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        assert!(matches!(s.get("h.io"), Err(CredentialError::Helper { failure: HelperFailure::Exit(st), .. }) if st.code() == Some(3)));
        assert!(matches!(s.get("j.io"), Err(CredentialError::Helper { failure: HelperFailure::Answer(_), .. })));
    }

    #[test]
    fn the_first_file_with_an_entry_wins_and_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let (docker, podman, own) = (dir.path().join("config.json"), dir.path().join("auth.json"), dir.path().join("own.json"));
        std::fs::write(&docker, r#"{"auths":{"a.io":{"auth":"ZG9ja2VyOnB3"}}}"#).unwrap();
        std::fs::write(&podman, r#"{"auths":{"a.io":{"auth":"cG9kbWFuOnB3"},"b.io/ns/repo":{"auth":"cG9kbWFuOnB3"}}}"#).unwrap();
        let store = CredentialStore::of(vec![docker.clone(), dir.path().join("missing.json"), podman.clone()]);
        let user = |f: Option<Found>| match f.map(|f| (f.credential, f.source)) {
            Some((Credential::Basic { username, .. }, source)) => Some((username, source)),
            _ => None,
        };
        assert_eq!(user(store.find("a.io").unwrap()), Some(("docker".into(), Source::File(docker.clone()))));
        assert_eq!(user(store.find("b.io").unwrap()), Some(("podman".into(), Source::File(podman.clone()))));
        assert_eq!(store.find("c.io").unwrap(), None);
        // registryAuthFile comes first, and is where login writes.
        std::fs::write(&own, r#"{"auths":{"a.io":{"username":"own","password":"pw"}}}"#).unwrap();
        let store = store.with_registry_auth_file(own.clone());
        assert_eq!(user(store.find("a.io").unwrap()), Some(("own".into(), Source::File(own.clone()))));
        assert_eq!((store.files()[0].clone(), store.login_file()), (own.clone(), Some(own.as_path())));
        assert_eq!(
            Source::Helper { helper: "pass".into(), file: docker.clone() }.to_string(),
            format!("credential helper docker-credential-pass (named in {})", docker.display())
        );
    }

    #[test]
    fn malformed_file_names_path() {
        let (_d, s) = store("{not json");
        assert!(s.get("reg.io").unwrap_err().to_string().contains("config.json"));
    }
}
