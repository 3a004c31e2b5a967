//! One run's shared parts, built once: the flags every command takes, the configuration and
//! the registry client, and (on first use) the component host with the trust policy.

use std::sync::{Arc, OnceLock};

use anyhow::Context as _;
use ferry_bundle::Sites;
use ferry_config::Config;
use ferry_registry::Client;

use crate::args::Global;
use crate::commands::bundle::public_key;
use crate::output::{Output, Stdout};
use crate::taps::Taps;

/// What every command of one run shares.
pub(crate) struct Session {
    pub(crate) global: Global,
    client: Client,
    sites: OnceLock<Sites>,
    taps: OnceLock<Arc<Taps>>,
}

impl Session {
    /// Loads the configuration the global flags point at.
    pub(crate) fn new(global: Global) -> anyhow::Result<Session> {
        let candidates = Config::candidates(&global.config);
        let config = Config::load_from(&candidates).context("loading configuration")?.with_plain_http(global.plain_http.iter().cloned());
        Ok(Session { global, client: Client::new(config), sites: OnceLock::new(), taps: OnceLock::new() })
    }

    pub(crate) fn config(&self) -> &Config {
        self.client.config()
    }

    pub(crate) fn client(&self) -> &Client {
        &self.client
    }

    /// The component host under the configured trust policy, made on first use (it starts a
    /// compiler).
    pub(crate) fn sites(&self) -> anyhow::Result<&Sites> {
        if let Some(s) = self.sites.get() {
            return Ok(s);
        }
        let host = crate::plugins::host(&self.config().cache_path()?)?;
        Ok(self.sites.get_or_init(|| Sites::new(host, self.config().plugins())))
    }

    /// The delivery policy of the configuration (`deliveries:`), its keys read; `None` when
    /// it asks for nothing.
    pub(crate) fn delivery_trust(&self) -> anyhow::Result<Option<Arc<ferry_engine::deserialize::DeliveryTrust>>> {
        let settings = self.config().deliveries();
        if !settings.require_signed && settings.trusted_keys.is_empty() {
            return Ok(None);
        }
        let policy_file = settings.policy_file.as_ref().map_or_else(|| "(no config file)".to_owned(), |p| p.display().to_string());
        let what = format!("deliveries.trustedKeys in {policy_file}");
        let keys = settings.trusted_keys.iter().map(|path| public_key(&what, path)).collect::<anyhow::Result<Vec<_>>>()?;
        Ok(Some(Arc::new(ferry_engine::deserialize::DeliveryTrust { require_signed: settings.require_signed, keys, policy_file })))
    }

    /// The image policy: the config's `images:` and the keys `--require-signed-images`
    /// names. Signatures are required when the config requires them or the flag names a key;
    /// otherwise the configured keys are used only to check the signatures a policy component
    /// sees (`with_policy`). `None` when nothing asks for signatures.
    pub(crate) fn image_trust(
        &self,
        flag_keys: &[std::path::PathBuf],
        with_policy: bool,
    ) -> anyhow::Result<Option<Arc<ferry_engine::trust::ImageTrust>>> {
        let settings = self.config().images();
        let required = settings.require_signed || !flag_keys.is_empty();
        let informs_policy = with_policy && !settings.trusted_keys.is_empty();
        if !required && !informs_policy {
            return Ok(None);
        }
        let config_file = settings.policy_file.as_ref().map_or_else(|| "(no config file)".to_owned(), |p| p.display().to_string());
        let configured = format!("images.trustedKeys in {config_file}");
        let keys = (settings.trusted_keys.iter().map(|p| public_key(&configured, p)))
            .chain(flag_keys.iter().map(|p| public_key("--require-signed-images", p)))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let source = if flag_keys.is_empty() { config_file } else { "--require-signed-images".to_owned() };
        Ok(Some(Arc::new(ferry_engine::trust::ImageTrust { keys, source, required })))
    }

    /// Sends this run's events to `taps` as well (the report and debug log of a mirror
    /// command); set once, before the first [`Session::output`].
    pub(crate) fn tap(&self, taps: Arc<Taps>) {
        let _ = self.taps.set(taps);
    }

    /// The report and debug log, if any.
    pub(crate) fn taps(&self) -> Arc<Taps> {
        self.taps.get().cloned().unwrap_or_else(|| Arc::new(Taps::none()))
    }

    /// A renderer for this run's events.
    pub(crate) fn output(&self, stdout: Stdout) -> Arc<Output> {
        Output::new(&self.global, stdout, self.taps())
    }
}
