//! The plugin host as the commands use it: site components named on the command line, as a
//! file or as an installed plugin, under the configured trust policy; and reading sources
//! lists through a sources-parser component (the built-in `sources-list`, spec §5.1).

use std::path::{Path, PathBuf};

use ferry_bundle::{Installed, Policy, PublicKey};
use ferry_config::{Config, PluginSettings};
use ferry_engine::sources::SourceEntry;
use ferry_plugin::{Host, Limits, Loaded, PluginError, SourcesParser, builtin};

use crate::exit::BadInput;

/// The host that runs components: default limits, compiled components cached under `cache`.
pub(crate) fn host(cache: &Path) -> anyhow::Result<Host> {
    // The host creates the directory itself (0700) and, with a warning, runs without one
    // another user could write: each run then compiles again, slower but not wrong.
    Ok(Host::new(Limits::default(), Some(cache.join("plugins")))?)
}

/// The host, with the configuration's trust policy and installed-plugin store.
pub(crate) struct Plugins {
    pub(crate) host: Host,
    settings: PluginSettings,
    /// Names the file the policy came from in refusals.
    config_file: String,
}

impl Plugins {
    pub(crate) fn new(config: &Config) -> anyhow::Result<Plugins> {
        let settings = config.plugins();
        let config_file = settings.policy_file.as_ref().map_or_else(|| "(no config file)".to_owned(), |p| p.display().to_string());
        Ok(Plugins { host: host(&config.cache_path()?)?, settings, config_file })
    }

    /// The installed-plugin store.
    pub(crate) fn installed(&self) -> anyhow::Result<Installed> {
        Installed::open(&self.settings.store)
            .map_err(|e| anyhow::anyhow!("the installed-plugin store {}: {e}", self.settings.store.display()))
    }

    /// The policy in effect, its trusted keys read; `extra` keys (`--key`) are trusted too.
    pub(crate) fn policy(&self, extra: &[PathBuf]) -> anyhow::Result<Policy> {
        let mut trusted_keys = Vec::new();
        for path in self.settings.trusted_keys.iter().chain(extra) {
            trusted_keys.push(read_public_key(path)?);
        }
        Ok(Policy { require_signed: self.settings.require_signed, trusted_keys })
    }

    pub(crate) fn require_signed(&self) -> bool {
        self.settings.require_signed
    }

    /// The file the policy came from, for messages.
    pub(crate) fn policy_file(&self) -> &str {
        &self.config_file
    }

    /// A site's component `spec`, which `what` (`mapper plugin=X`, `--tracker X`) names in
    /// messages: `PATH.wasm` or a path with `/` is a file, anything else an installed plugin.
    /// Under `requireSigned` only an installed plugin whose bundle a trusted key signed is
    /// loaded.
    pub(crate) async fn site_component(&self, spec: &str, what: &str) -> anyhow::Result<Loaded> {
        if spec.ends_with(".wasm") || spec.contains('/') {
            if self.settings.require_signed {
                return Err(BadInput(format!(
                    "{what}: refused by the trust policy (plugins.requireSigned in {}): a component file is not a signed bundle; \
                     install its bundle with `ferry plugin install` and name the installed plugin instead",
                    self.config_file
                ))
                .into());
            }
            let (name, wasm) = read_component(Path::new(spec), what)?;
            return self.host.load(&name, &wasm).map_err(|e| BadInput(format!("{what}: {e}")).into());
        }
        let policy = self.policy(&[])?;
        let installed = self.installed()?;
        let (opened, _, wasm) = installed.component(spec, &policy).await.map_err(|e| {
            // The error keeps its own exit code: a store that cannot be read is not bad input.
            let context = match e {
                ferry_bundle::BundleError::Untrusted { .. } => format!("{what}: refused by the trust policy in {}", self.config_file),
                _ => what.to_owned(),
            };
            anyhow::Error::new(e).context(context)
        })?;
        tracing::info!("{what}: from {}", opened.title());
        self.host.load(spec, &wasm).map_err(|e| BadInput(format!("{what}: {e}")).into())
    }

    /// The sources-parser `spec` names, or the built-in `sources-list`.
    pub(crate) async fn sources_parser(&self, spec: Option<&str>) -> anyhow::Result<Loaded> {
        match spec {
            None => Ok(self.host.load("sources-list", builtin::SOURCES_LIST)?),
            Some(s) => self.site_component(s, &format!("--sources-parser {s}")).await,
        }
    }
}

/// A trusted public key file.
pub(crate) fn read_public_key(path: &Path) -> anyhow::Result<PublicKey> {
    let origin = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| BadInput(format!("trusted key {origin}: {e}")))?;
    Ok(PublicKey::from_pem(&text, &origin).map_err(|e| BadInput(format!("trusted key {e}")))?)
}

/// The entries of the sources list at `path`, read by `parser`, sorted by reference; a
/// malformed line is bad input named `FILE:LINE`.
pub(crate) fn read_sources(host: &Host, loaded: &Loaded, path: &Path) -> anyhow::Result<Vec<SourceEntry>> {
    let text = read_text(path, "sources file")?;
    let params = vec![("path".to_owned(), path.display().to_string())];
    let mut parser = SourcesParser::new(host, loaded, params).map_err(|e| BadInput(format!("sources parser: {e}")))?;
    let entries = parser.parse(&text).map_err(|e| line_error(path, e))?;
    Ok(entries
        .into_iter()
        .map(|e| SourceEntry { reference: e.reference, labels: e.labels.into_iter().collect(), line: e.line as usize })
        .collect())
}

/// A text file a component will be given (`what` names it in errors: `sources file`,
/// `mapping file`, `BATCH-LIST`); unreadable or not UTF-8 is bad input.
pub(crate) fn read_text(path: &Path, what: &str) -> anyhow::Result<String> {
    let bytes = std::fs::read(path).map_err(|e| BadInput(format!("{what} {}: {e}", path.display())))?;
    String::from_utf8(bytes).map_err(|_| BadInput(format!("{what} {}: not UTF-8 text", path.display())).into())
}

/// A site's component file (`what` names it in errors: `mapper plugin=X`, `COMPONENT X`): its
/// file name, which names it in messages, and its bytes.
pub(crate) fn read_component(path: &Path, what: &str) -> anyhow::Result<(String, Vec<u8>)> {
    let wasm = std::fs::read(path).map_err(|e| BadInput(format!("{what}: {e}")))?;
    let name = path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned());
    Ok((name, wasm))
}

/// A component's complaint about a file's text, as bad input: `FILE:LINE: message` when it
/// names a line.
pub(crate) fn line_error(path: &Path, e: PluginError) -> anyhow::Error {
    match e {
        PluginError::Parse { line, message, .. } => BadInput(format!("{}:{line}: {message}", path.display())).into(),
        other => BadInput(format!("{}: {other}", path.display())).into(),
    }
}
