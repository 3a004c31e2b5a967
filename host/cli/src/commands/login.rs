//! `ferry login` and `ferry logout`: Docker's commands, writing where Docker (or the
//! configuration's `registryAuthFile`) keeps credentials, so docker, podman and ferry share them.

use std::io::Read as _;

use anyhow::Context as _;
use ferry_config::certs::CertDirs;
use ferry_config::credentials::{Credential, CredentialStore, Secret};
use ferry_registry::{Client, RetryPolicy};

use crate::args::{LoginArgs, LogoutArgs};
use crate::exit::BadInput;
use crate::session::Session;
use crate::stdout::outln;

/// Checks the user name and password with a `GET /v2/` round trip (basic auth, or a token),
/// and stores them only when the registry accepted them.
pub(crate) async fn login(session: &Session, args: LoginArgs) -> anyhow::Result<()> {
    let registry = registry_name(&args.registry)?;
    let password = match (args.password, args.password_stdin) {
        (Some(p), _) => {
            eprintln!("WARNING! Using --password via the CLI is insecure. Use --password-stdin.");
            p
        }
        (None, true) => {
            let mut text = String::new();
            std::io::stdin().read_to_string(&mut text).context("reading the password from standard input")?;
            text.trim_end_matches(['\n', '\r']).to_owned()
        }
        (None, false) => return Err(BadInput("give the password on standard input with --password-stdin (or with -p)".to_owned()).into()),
    };
    if password.is_empty() || args.username.is_empty() {
        return Err(BadInput("the user name and the password must not be empty".to_owned()).into());
    }
    let password = Secret::new(password);
    let credential = Credential::Basic { username: args.username.clone(), password: password.clone() };
    let checker =
        Client::with_parts(session.config().clone(), CredentialStore::given(credential), CertDirs::default_dirs(), RetryPolicy::default());
    checker.check_login(&registry).await.with_context(|| format!("logging in to {registry}"))?;
    let store = session.client().credentials().clone();
    let (name, username) = (registry.clone(), args.username);
    let saved = tokio::task::spawn_blocking(move || store.save(&name, &username, &password)).await?;
    let saved = saved.with_context(|| format!("storing the credentials for {registry}"))?;
    outln!("Login Succeeded: credentials for {registry} stored in {saved}");
    Ok(())
}

/// Removes the registry's entry from the login file, and from the helper it names.
pub(crate) async fn logout(session: &Session, args: LogoutArgs) -> anyhow::Result<()> {
    let registry = registry_name(&args.registry)?;
    let store = session.client().credentials().clone();
    let file = store.login_file().map(|f| f.display().to_string()).unwrap_or_default();
    let name = registry.clone();
    let removed = tokio::task::spawn_blocking(move || store.remove(&name)).await?;
    let removed = removed.with_context(|| format!("removing the credentials for {registry}"))?;
    if removed.is_empty() {
        outln!("Not logged in to {registry} (no credentials for it in {file})");
    }
    for source in removed {
        outln!("Removed the credentials for {registry} from {source}");
    }
    Ok(())
}

/// `host[:port]` from what docker login accepts too (`https://host/v1/`); Docker Hub's names
/// are `docker.io`.
fn registry_name(given: &str) -> anyhow::Result<String> {
    let rest = given.strip_prefix("https://").or_else(|| given.strip_prefix("http://")).unwrap_or(given);
    let host = rest.split('/').next().unwrap_or_default().to_ascii_lowercase();
    if host.is_empty() || host.contains(char::is_whitespace) {
        return Err(BadInput(format!("{} is not a registry (host[:port])", ferry_oci::quoted(given.as_bytes()))).into());
    }
    Ok(match host.as_str() {
        "index.docker.io" | "registry-1.docker.io" => "docker.io".to_owned(),
        _ => host,
    })
}
