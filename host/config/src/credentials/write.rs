//! `ferry login` and `ferry logout`: credentials written the way Docker writes them, to the
//! store's login file (mode 0600, replaced atomically, every other entry and field kept) or
//! through the credential helper that file names for the host.

use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine as _;
use serde_json::{Map, Value};

use super::{CredentialError, CredentialStore, HelperFailure, Secret, Source, aliases, normalize, run_with_timeout};

/// The key Docker files a registry's credentials under: Docker Hub's historical URL, else the
/// registry as written (`host[:port]`).
pub(super) fn login_key(registry: &str) -> String {
    match registry {
        "docker.io" | "index.docker.io" | "registry-1.docker.io" => "https://index.docker.io/v1/".to_owned(),
        other => other.to_owned(),
    }
}

impl CredentialStore {
    /// Stores a user name and password for `registry`: through the helper the login file names
    /// for it (`credHelpers`, else `credsStore`), else as an `auths` entry of the login file.
    /// Says where they went.
    pub fn save(&self, registry: &str, username: &str, password: &Secret) -> Result<Source, CredentialError> {
        let path = self.login_file.clone().ok_or(CredentialError::NoFile)?;
        let mut doc = read_object(&path)?;
        let key = login_key(registry);
        let helper = helper_for(&doc, registry);
        let auths = auths(&mut doc, &path)?;
        // Older entries for the host under another spelling would be found first next time.
        auths.retain(|k, _| !aliases(registry).contains(&normalize(k)));
        let source = match helper {
            Some(helper) => {
                let input = serde_json::json!({ "ServerURL": key, "Username": username, "Secret": password.expose() }).to_string();
                self.helper_call(&helper, registry, "store", input.as_bytes())?;
                // As Docker does: an entry without secrets says a helper holds them.
                auths.insert(key, Value::Object(Map::new()));
                Source::Helper { helper, file: path.clone() }
            }
            None => {
                let auth = base64::engine::general_purpose::STANDARD.encode(format!("{username}:{}", password.expose()));
                auths.insert(key, serde_json::json!({ "auth": auth }));
                Source::File(path.clone())
            }
        };
        write_atomically(&path, &doc)?;
        Ok(source)
    }

    /// Removes `registry`'s credentials from the login file and from the helper it names for
    /// the host. Says where there were some (empty: there were none).
    pub fn remove(&self, registry: &str) -> Result<Vec<Source>, CredentialError> {
        let path = self.login_file.clone().ok_or(CredentialError::NoFile)?;
        if !path.exists() {
            return Ok(Vec::new());
        }
        let mut doc = read_object(&path)?;
        let mut removed = Vec::new();
        if let Some(helper) = helper_for(&doc, registry)
            && self.helper_call(&helper, registry, "erase", login_key(registry).as_bytes())?
        {
            removed.push(Source::Helper { helper, file: path.clone() });
        }
        let auths = auths(&mut doc, &path)?;
        let before = auths.len();
        auths.retain(|k, _| !aliases(registry).contains(&normalize(k)));
        if auths.len() != before {
            write_atomically(&path, &doc)?;
            if removed.is_empty() {
                removed.push(Source::File(path));
            }
        }
        Ok(removed)
    }

    /// Runs `docker-credential-HELPER ACTION` with `input`; `false` when the helper says it
    /// had no credentials for the host.
    fn helper_call(&self, helper: &str, host: &str, action: &str, input: &[u8]) -> Result<bool, CredentialError> {
        let err = |failure: HelperFailure| CredentialError::Helper { helper: helper.to_owned(), host: host.to_owned(), failure };
        let program = self.helper_program(helper).map_err(err)?;
        let out = run_with_timeout(Command::new(&program).arg(action), input, self.helper_timeout).map_err(err)?;
        match out.status.success() {
            true => Ok(true),
            false if action == "erase" && out.says_not_found() => Ok(false),
            false => Err(err(HelperFailure::Exit(out.status))),
        }
    }
}

/// The helper a file names for `registry`: `credHelpers` by any of its names, else `credsStore`.
fn helper_for(doc: &Map<String, Value>, registry: &str) -> Option<String> {
    let names = aliases(registry);
    let named = doc
        .get("credHelpers")
        .and_then(Value::as_object)
        .and_then(|h| h.iter().find(|(k, _)| names.contains(&normalize(k))).and_then(|(_, v)| v.as_str()).map(str::to_owned));
    named.or_else(|| doc.get("credsStore").and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_owned))
}

fn auths<'a>(doc: &'a mut Map<String, Value>, path: &Path) -> Result<&'a mut Map<String, Value>, CredentialError> {
    doc.entry("auths")
        .or_insert_with(|| Value::Object(Map::new()))
        .as_object_mut()
        .ok_or_else(|| CredentialError::NotAnObject { path: path.to_owned() })
}

/// The file as a JSON object (an empty one when it does not exist or is empty).
fn read_object(path: &Path) -> Result<Map<String, Value>, CredentialError> {
    let text = match fs_err::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Map::new()),
        Err(source) => return Err(CredentialError::Read { path: path.to_owned(), source }),
    };
    if text.trim().is_empty() {
        return Ok(Map::new());
    }
    match serde_json::from_str(&text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(CredentialError::NotAnObject { path: path.to_owned() }),
        Err(source) => Err(CredentialError::Parse { path: path.to_owned(), source }),
    }
}

/// Replaces `path` (the file a symbolic link points at) with `doc`, tab-indented as Docker
/// writes it: a new file, mode 0600, synced, then renamed over the old one, so a crash leaves
/// either the old file or the new one.
fn write_atomically(path: &Path, doc: &Map<String, Value>) -> Result<(), CredentialError> {
    let target: PathBuf = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned());
    let err = |source| CredentialError::Write { path: target.clone(), source };
    let dir = target.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(err)?;
    let mut text = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut text, serde_json::ser::PrettyFormatter::with_indent(b"\t"));
    serde::Serialize::serialize(doc, &mut ser).map_err(|e| err(e.into()))?;
    text.push(b'\n');
    // tempfile creates the file with mode 0600.
    let mut file = tempfile::NamedTempFile::new_in(dir).map_err(err)?;
    std::io::Write::write_all(&mut file, &text).map_err(err)?;
    file.as_file().sync_all().map_err(err)?;
    file.persist(&target).map_err(|e| err(e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credentials::Credential;

    #[test]
    fn login_keeps_other_entries_and_logout_removes_every_spelling() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        std::fs::write(&path, r#"{"auths":{"other.io":{"auth":"eDp5"},"https://reg.io/v1/":{"auth":"b2xkOm9sZA=="}},"psFormat":"table"}"#)
            .unwrap();
        let store = CredentialStore::with_config_dir(dir.path());
        let saved = store.save("reg.io", "user", &Secret::new("pw".into())).unwrap();
        assert_eq!(saved, Source::File(path.clone()));
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(doc["psFormat"], "table");
        assert_eq!(doc["auths"]["other.io"]["auth"], "eDp5");
        assert!(doc["auths"].get("https://reg.io/v1/").is_none(), "{doc}");
        assert_eq!(store.get("reg.io").unwrap(), Some(Credential::Basic { username: "user".into(), password: Secret::new("pw".into()) }));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        assert_eq!(store.remove("reg.io").unwrap(), vec![Source::File(path.clone())]);
        assert_eq!(store.get("reg.io").unwrap(), None);
        assert!(store.get("other.io").unwrap().is_some());
        assert!(store.remove("reg.io").unwrap().is_empty());
        assert_eq!(login_key("docker.io"), "https://index.docker.io/v1/");
    }

    #[test]
    fn a_file_that_is_not_an_object_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        std::fs::write(&path, "[1]").unwrap();
        let store = CredentialStore::with_config_dir(dir.path());
        assert!(matches!(store.save("reg.io", "u", &Secret::new("p".into())), Err(CredentialError::NotAnObject { .. })));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "[1]");
    }

    #[cfg(unix)]
    #[test]
    fn a_helper_named_for_the_host_stores_the_secret() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        std::fs::write(&path, r#"{"credHelpers":{"reg.io":"keep"}}"#).unwrap();
        let script = dir.path().join("docker-credential-keep");
        let saved = dir.path().join("saved");
        std::fs::write(&script, format!("#!/bin/sh\ncat > '{}.'\"$1\"\n", saved.display())).unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let store = CredentialStore::with_config_dir(dir.path()).with_helper_path(vec![dir.path().to_owned()]);
        let source = store.save("reg.io", "u", &Secret::new("helper-pw".into())).unwrap();
        assert_eq!(source, Source::Helper { helper: "keep".into(), file: path.clone() });
        let stored: Value = serde_json::from_str(&std::fs::read_to_string(dir.path().join("saved.store")).unwrap()).unwrap();
        assert_eq!((stored["ServerURL"].as_str(), stored["Secret"].as_str()), (Some("reg.io"), Some("helper-pw")));
        assert!(!std::fs::read_to_string(&path).unwrap().contains("helper-pw"));
        assert_eq!(store.remove("reg.io").unwrap()[0], source);
        assert_eq!(std::fs::read_to_string(dir.path().join("saved.erase")).unwrap(), "reg.io");
    }
}
