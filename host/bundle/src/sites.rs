//! Site components under the trust policy. A component that is not built into ferry is
//! handed out only by [`Sites::component`]: a file (`PATH.wasm`, or a path with `/`) unless
//! `plugins.requireSigned` is on, else an installed plugin whose bundle a trusted key signed.
//! Installing follows the same policy ([`Sites::install`]): under `requireSigned` only the
//! configured keys decide, so nothing is installed that every later load would refuse.

use std::path::{Path, PathBuf};

use ferry_config::PluginSettings;
use ferry_plugin::{Host, Loaded};
use ferry_registry::Client;

use crate::Policy;
use crate::bundle::{self, Opened};
use crate::error::BundleError;
use crate::installed::Installed;
use crate::keys::{PrivateKey, PublicKey};
use crate::transport::{Location, Source, write_file};

/// The component host with the configured trust policy and installed-plugin store.
pub struct Sites {
    host: Host,
    settings: PluginSettings,
}

/// What [`Sites::check`] establishes about a bundle before trusting it.
pub struct Checked {
    /// Where it was read.
    pub source: Source,
    /// The bundle, its parts consistent and its components runnable as described.
    pub opened: Opened,
    /// The fingerprint of the trusted key that signed it, or why none did.
    pub signer: Result<String, BundleError>,
}

/// How an installed bundle is trusted.
#[derive(Debug)]
pub enum Trust {
    /// Signed by this trusted key.
    SignedBy(String),
    /// Installed with `--allow-unsigned`; why no trusted key vouches for it.
    Unsigned(BundleError),
}

/// What [`Sites::install`] did.
#[derive(Debug)]
pub struct Installation {
    /// The bundle installed.
    pub opened: Opened,
    /// How it is trusted.
    pub trust: Trust,
    /// The version it replaced, if any.
    pub replaced: Option<String>,
}

impl Sites {
    /// The host and the policy and store of `settings`.
    pub fn new(host: Host, settings: PluginSettings) -> Sites {
        Sites { host, settings }
    }

    /// The host, for built-in components and for linking loaded ones.
    pub fn host(&self) -> &Host {
        &self.host
    }

    /// Whether only signed bundles' components load.
    pub fn require_signed(&self) -> bool {
        self.settings.require_signed
    }

    /// The file the policy came from, for messages.
    pub fn policy_file(&self) -> String {
        self.settings.policy_file.as_ref().map_or_else(|| "(no config file)".to_owned(), |p| p.display().to_string())
    }

    /// The installed-plugin store.
    pub fn installed(&self) -> Result<Installed, BundleError> {
        let store = self.settings.store.as_ref().ok_or(BundleError::NoStore)?;
        Installed::open(store)
            .map_err(|e| BundleError::Named { what: format!("the installed-plugin store {}", store.display()), source: Box::new(e) })
    }

    /// The policy in effect, its trusted keys read; `extra` keys (`--key`) are trusted too.
    pub fn policy(&self, extra: &[PathBuf]) -> Result<Policy, BundleError> {
        let trusted_keys = self.settings.trusted_keys.iter().chain(extra).map(|p| read_public_key(p)).collect::<Result<_, _>>()?;
        Ok(Policy { require_signed: self.settings.require_signed, trusted_keys })
    }

    /// A site's component `spec`, which `what` (`mapper plugin=X`, `--tracker X`) names in
    /// messages: `PATH.wasm` or a path with `/` is a file, anything else an installed plugin.
    pub async fn component(&self, spec: &str, what: &str) -> Result<Loaded, BundleError> {
        let load =
            |name: &str, wasm: &[u8]| self.host.load(name, wasm).map_err(|source| BundleError::Load { what: what.to_owned(), source });
        if spec.ends_with(".wasm") || spec.contains('/') {
            if self.settings.require_signed {
                return Err(BundleError::FileRefused { what: what.to_owned(), policy_file: self.policy_file() });
            }
            let (name, wasm) = read_component(Path::new(spec), what)?;
            return load(&name, &wasm);
        }
        let policy = self.policy(&[])?;
        let (opened, _, wasm) = self.installed()?.component(spec, &policy).await.map_err(|e| match e {
            BundleError::Untrusted { .. } => {
                BundleError::RefusedByPolicy { what: what.to_owned(), policy_file: self.policy_file(), source: Box::new(e) }
            }
            e => BundleError::Named { what: what.to_owned(), source: Box::new(e) },
        })?;
        tracing::info!("{what}: from {}", opened.title());
        load(spec, &wasm)
    }

    /// Opens the bundle at `location` and checks its parts and components; says which trusted
    /// key (the configured ones and `extra`) signed it, or why none did.
    pub async fn check(&self, client: &Client, location: &Location, extra: &[PathBuf]) -> Result<Checked, BundleError> {
        let policy = self.policy(extra)?;
        let source = Source::open(client, location).await?;
        let opened = source.bundle().await?;
        bundle::check_components(&self.host, source.store.as_ref(), &opened).await?;
        let signer = bundle::trusted_signer(&opened, &policy.trusted_keys).map(|k| k.fingerprint().to_owned());
        Ok(Checked { source, opened, signer })
    }

    /// Checks the bundle at `location` and installs it if a trusted key signed it (or, with
    /// `allow_unsigned` and no `requireSigned`, anyway).
    pub async fn install(
        &self,
        client: &Client,
        location: &Location,
        extra: &[PathBuf],
        allow_unsigned: bool,
    ) -> Result<Installation, BundleError> {
        if self.settings.require_signed {
            if allow_unsigned {
                return Err(BundleError::AllowUnsignedRefused { policy_file: self.policy_file() });
            }
            if !extra.is_empty() {
                return Err(BundleError::ExtraKeyRefused { policy_file: self.policy_file() });
            }
        }
        let checked = self.check(client, location, extra).await?;
        let trust = match checked.signer {
            Ok(key) => Trust::SignedBy(key),
            Err(e) if allow_unsigned => Trust::Unsigned(e),
            Err(e) => return Err(e),
        };
        let replaced = self.installed()?.install(checked.source.store.as_ref(), &checked.opened).await?;
        Ok(Installation { opened: checked.opened, trust, replaced })
    }

    /// Signs the bundle at `location` with `key`, keeping the signatures already there; a
    /// bundle file is rewritten with the new signature. Returns the bundle and the signer.
    pub async fn sign(&self, client: &Client, location: &Location, key: &PrivateKey) -> Result<(Opened, String), BundleError> {
        let source = Source::open(client, location).await?;
        let opened = source.bundle().await?;
        // A signature vouches for what ferry will run: check it can run it, as it is described.
        bundle::check_components(&self.host, source.store.as_ref(), &opened).await?;
        let signed_as = match location {
            Location::Image(ferry_oci::ImageRef::Registry(r)) => r.repository_name(),
            _ => opened.metadata.name.clone(),
        };
        let fingerprint = bundle::sign(source.store.as_ref(), &opened, key, &signed_as).await?;
        if let Location::File(path) = location {
            write_file(source.store.as_ref(), opened.descriptor().clone(), path).await?;
        }
        Ok((opened, fingerprint))
    }
}

/// A trusted public key file.
pub fn read_public_key(path: &Path) -> Result<PublicKey, BundleError> {
    let text = std::fs::read_to_string(path).map_err(|source| BundleError::KeyFile { path: path.to_owned(), source })?;
    Ok(PublicKey::from_pem(&text, &path.display().to_string())?)
}

/// A site's component file (`what` names it in errors): its file name, which names it in
/// messages, and its bytes.
pub fn read_component(path: &Path, what: &str) -> Result<(String, Vec<u8>), BundleError> {
    let wasm = std::fs::read(path).map_err(|source| BundleError::ComponentFile { what: what.to_owned(), source })?;
    let name = path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned());
    Ok((name, wasm))
}
