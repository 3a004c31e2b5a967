//! The configuration file: schema, loading, endpoint resolution and `rewritePull`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use regex::Regex;
use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The machine-wide config: a plugin policy that requires signatures there holds whichever
/// config file is chosen.
pub const SYSTEM_CONFIG: &str = "/etc/ferry/config.yaml";

/// Default concurrency, as ace-dt's real default.
const DEFAULT_CONCURRENT_HTTP: usize = 5;

/// The file as written (ace-dt's schema).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct FileConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    api_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cache_path: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cache_prune_max: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    compression_level: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    editor: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    chunk_size: Option<String>,
    #[serde(default, rename = "concurrentHTTP", skip_serializing_if = "Option::is_none")]
    concurrent_http: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    registry_auth_file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    hide_progress: Option<bool>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    telemetry: Vec<Telemetry>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    telemetry_user_name: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    keys: Vec<SigningKey>,
    #[serde(default)]
    registry_config: RegistryConfig,
    #[serde(default, skip_serializing_if = "PluginsConfig::is_empty")]
    plugins: PluginsConfig,
    #[serde(default, skip_serializing_if = "SignaturePolicyConfig::is_empty")]
    deliveries: SignaturePolicyConfig,
    #[serde(default, skip_serializing_if = "SignaturePolicyConfig::is_empty")]
    images: SignaturePolicyConfig,
    #[serde(default, skip_serializing_if = "SignaturePolicyConfig::is_empty")]
    receipts: SignaturePolicyConfig,
    #[serde(default, skip_serializing_if = "CatalogConfig::is_empty")]
    catalog: CatalogConfig,
}

/// `catalog:`: ferry's own section: where the delivery catalog is kept.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CatalogConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    path: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    url: Option<String>,
}

impl CatalogConfig {
    fn is_empty(&self) -> bool {
        self.path.is_none() && self.url.is_none()
    }
}

/// Where the delivery catalog is kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CatalogSetting {
    /// A SQLite file: `catalog.path` (relative to the config file's directory), else
    /// `$XDG_DATA_HOME/ferry/catalog.db` or `~/.local/share/ferry/catalog.db`.
    File(PathBuf),
    /// A PostgreSQL database shared by several hosts: `catalog.url: postgres://…`.
    Url(String),
}

/// `deliveries:` and `images:`: ferry's own sections: which archives deserialize,
/// batch-deserialize and unarchive load, and which artifacts scatter, clone and unarchive
/// place (the same shape as `plugins`, and held machine-wide the same way).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SignaturePolicyConfig {
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    require_signed: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    trusted_keys: Vec<PathBuf>,
}

impl SignaturePolicyConfig {
    fn is_empty(&self) -> bool {
        !self.require_signed && self.trusted_keys.is_empty()
    }

    /// The section as `policy` has it in effect (its keys resolved).
    fn held(policy: SignaturePolicy) -> SignaturePolicyConfig {
        SignaturePolicyConfig { require_signed: policy.require_signed, trusted_keys: policy.trusted_keys }
    }
}

/// A signature policy in effect (`deliveries` or `images`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignaturePolicy {
    /// Accept only what is signed by a trusted key.
    pub require_signed: bool,
    /// Public key files (PEM) whose signatures are trusted; relative paths are resolved
    /// against the config file's directory.
    pub trusted_keys: Vec<PathBuf>,
    /// The file the policy came from.
    pub policy_file: Option<PathBuf>,
}

/// `plugins:`: ferry's own section (ace-dt has none): the trust policy for components and
/// where installed bundles live.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PluginsConfig {
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    require_signed: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    trusted_keys: Vec<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    store: Option<PathBuf>,
}

impl PluginsConfig {
    fn is_empty(&self) -> bool {
        !self.require_signed && self.trusted_keys.is_empty() && self.store.is_none()
    }
}

/// The plugin settings in effect.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PluginSettings {
    /// Load only components of installed bundles signed by a trusted key.
    pub require_signed: bool,
    /// Public key files (PEM) whose signatures are trusted; relative paths are resolved
    /// against the config file's directory.
    pub trusted_keys: Vec<PathBuf>,
    /// The installed-plugin store; `None` when no configured, XDG or home path gives one.
    pub store: Option<PathBuf>,
    /// The file the policy (`requireSigned`, `trustedKeys`) came from.
    pub policy_file: Option<PathBuf>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct Telemetry {
    #[serde(default)]
    name: String,
    #[serde(default)]
    url: String,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct SigningKey {
    #[serde(default)]
    alias: String,
    #[serde(default)]
    path: String,
    #[serde(default)]
    api: String,
    #[serde(default)]
    userid: String,
    #[serde(default)]
    keyid: String,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RegistryConfig {
    #[serde(default)]
    registries: BTreeMap<String, RegistryEntry>,
    #[serde(default)]
    endpoint_config: BTreeMap<String, EndpointConfig>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RegistryEntry {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    endpoints: Vec<String>,
    #[serde(default, skip_serializing_if = "OrderedRules::is_empty")]
    rewrite_pull: OrderedRules,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    noncompliant: bool,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct EndpointConfig {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    supports_referrers: String,
    #[serde(default)]
    tls: TlsConfig,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TlsConfig {
    #[serde(default)]
    insecure_skip_verify: bool,
}

/// A YAML mapping kept in file order.
#[derive(Clone, Debug, Default)]
struct OrderedRules(Vec<(String, String)>);

impl OrderedRules {
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<'de> Deserialize<'de> for OrderedRules {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = OrderedRules;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a mapping of regular expression to replacement")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<OrderedRules, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, String>()? {
                    out.push((k, v));
                }
                Ok(OrderedRules(out))
            }
        }
        d.deserialize_map(V)
    }
}

impl Serialize for OrderedRules {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().map(|(k, v)| (k, v)))
    }
}

/// Plain HTTP or TLS.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    /// `http://`.
    Http,
    /// `https://`.
    Https,
}

/// Why an endpoint has its scheme.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SchemeSource {
    /// No endpoint configured: `https://`, which a loopback registry may fall back from.
    Default,
    /// `registryConfig.registries.<registry>.endpoints` names it.
    Config,
    /// `--plain-http` names the registry or its host.
    PlainHttpFlag,
}

/// How to discover referrers on an endpoint (`supportsReferrers`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReferrersMode {
    /// Probe the referrers API, fall back to the tag schema.
    Auto,
    /// Always the referrers API.
    Api,
    /// Always the `sha256-<hex>` tag schema.
    Tag,
}

/// Where and how to reach one registry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// The registry as written in the reference.
    pub registry: String,
    /// Plain HTTP or TLS.
    pub scheme: Scheme,
    /// Why that scheme.
    pub scheme_source: SchemeSource,
    /// `host[:port]` used on the network.
    pub host: String,
    /// `scheme://host[:port]`, the key of `endpointConfig`.
    pub url: String,
    /// Skip certificate verification.
    pub insecure_skip_verify: bool,
    /// Referrers discovery.
    pub referrers: ReferrersMode,
}

/// One place a configuration file may be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    /// The file.
    pub path: PathBuf,
    /// Who named it, which decides whether it may be missing.
    pub kind: CandidateKind,
}

/// Who named a configuration candidate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CandidateKind {
    /// The operator, by `--config` or `FERRY_CONFIG` (the name kept for messages): it must exist.
    Named(&'static str),
    /// One of ferry's default places: it may be missing.
    Default,
    /// ace-dt's `ACE_DT_CONFIG` or one of its default places: it may be missing, and keys
    /// ferry does not know are left out.
    AceDt,
}

/// The configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file exists but could not be read.
    #[error("reading {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// A file named by `--config` or `FERRY_CONFIG` does not exist.
    #[error("configuration file {} (named by {by}) does not exist", path.display())]
    Missing {
        /// The file.
        path: PathBuf,
        /// `--config` or `FERRY_CONFIG`.
        by: &'static str,
    },
    /// The file does not decode (syntax, unknown key, wrong type).
    #[error("{}: {message}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// The decoder's message, with the key path and position.
        message: String,
    },
    /// A value is not acceptable.
    #[error("{}: {key}: {message}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The key.
        key: String,
        /// Why.
        message: String,
    },
    /// No cache directory can be chosen: no `cachePath`, `XDG_CACHE_HOME`, `HOME` or home
    /// directory in the user database (a shared directory such as `/tmp` is never used).
    #[error(
        "no cache directory: set cachePath in the config file (or FERRY_CACHE_PATH), or XDG_CACHE_HOME; this user has no HOME and no home directory in the user database"
    )]
    NoCachePath,
    /// An environment override is not acceptable.
    #[error("environment variable {name}={value:?}: {message}")]
    Env {
        /// The variable.
        name: String,
        /// Its value.
        value: String,
        /// Why.
        message: String,
    },
}

/// The effective configuration: the file, defaults and environment overrides.
#[derive(Clone, Debug, Default)]
pub struct Config {
    file: FileConfig,
    source: Option<PathBuf>,
    /// The machine-wide config, when its plugin policy overrode the chosen file's.
    policy_source: Option<PathBuf>,
    /// The machine-wide config, when its delivery policy overrode the chosen file's.
    deliveries_source: Option<PathBuf>,
    /// The machine-wide config, when its image policy overrode the chosen file's.
    images_source: Option<PathBuf>,
    /// The machine-wide config, when its receipt policy overrode the chosen file's.
    receipts_source: Option<PathBuf>,
    rules: BTreeMap<String, Vec<(Regex, String)>>,
    /// Registries or hosts reached over plain HTTP whatever the file says (`--plain-http`).
    plain_http: Vec<String>,
}

impl Config {
    /// Candidate files in order: the `--config` paths, else `FERRY_CONFIG` (`:`-separated),
    /// both [`Named`](CandidateKind::Named); else ferry's defaults `ferry-config.yaml`,
    /// `$XDG_CONFIG_HOME/ferry/config.yaml`, `/etc/ferry/config.yaml`, then ace-dt's:
    /// `ACE_DT_CONFIG` (`:`-separated), else `ace-dt-config.yaml`,
    /// `$XDG_CONFIG_HOME/ace/dt/config.yaml`, `/etc/ace/dt/config.yaml`.
    pub fn candidates(cli: &[PathBuf]) -> Vec<Candidate> {
        let named = |paths: Vec<PathBuf>, by: &'static str| -> Vec<Candidate> {
            paths.into_iter().map(|path| Candidate { path, kind: CandidateKind::Named(by) }).collect()
        };
        if !cli.is_empty() {
            return named(cli.to_vec(), "--config");
        }
        let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
        if let Some(v) = var("FERRY_CONFIG") {
            return named(std::env::split_paths(&v).collect(), "FERRY_CONFIG");
        }
        let xdg = var("XDG_CONFIG_HOME").map(PathBuf::from).or_else(|| var("HOME").map(|h| PathBuf::from(h).join(".config")));
        let default = |path: PathBuf| Candidate { path, kind: CandidateKind::Default };
        let acedt = |path: PathBuf| Candidate { path, kind: CandidateKind::AceDt };
        let mut out = vec![default(PathBuf::from("ferry-config.yaml"))];
        out.extend(xdg.as_ref().map(|x| default(x.join("ferry").join("config.yaml"))));
        out.push(default(PathBuf::from(SYSTEM_CONFIG)));
        match var("ACE_DT_CONFIG") {
            Some(v) => out.extend(std::env::split_paths(&v).map(acedt)),
            None => {
                out.push(acedt(PathBuf::from("ace-dt-config.yaml")));
                out.extend(xdg.map(|x| acedt(x.join("ace").join("dt").join("config.yaml"))));
                out.push(acedt(PathBuf::from("/etc/ace/dt/config.yaml")));
            }
        }
        out
    }

    /// [`Config::load_from`] with these files, each of which must exist.
    pub fn load(paths: &[PathBuf]) -> Result<Config, ConfigError> {
        let named: Vec<Candidate> = paths.iter().map(|p| Candidate { path: p.clone(), kind: CandidateKind::Named("--config") }).collect();
        Config::load_from(&named)
    }

    /// Decodes the first readable candidate (none: defaults), then applies environment
    /// overrides (`FERRY_CACHE_PATH`, `FERRY_CONCURRENT_HTTP`, then `ACE_DT_CONCURRENT_HTTP`)
    /// and the machine-wide plugin policy ([`SYSTEM_CONFIG`]). A named candidate that does
    /// not exist is an error, whichever comes first.
    pub fn load_from(candidates: &[Candidate]) -> Result<Config, ConfigError> {
        for c in candidates {
            // Only a file known not to be there: one that cannot be checked fails when read.
            if let CandidateKind::Named(by) = c.kind
                && matches!(c.path.try_exists(), Ok(false))
            {
                return Err(ConfigError::Missing { path: c.path.clone(), by });
            }
        }
        let mut config = Config::load_candidates(candidates)?;
        config.apply_system_policy(Path::new(SYSTEM_CONFIG))?;
        Ok(config)
    }

    /// When `system` (not the chosen file) requires signed plugins, its policy replaces the
    /// chosen file's: another config can neither turn it off nor add keys. A `system` that
    /// exists but cannot be read is an error, so the policy fails closed.
    fn apply_system_policy(&mut self, system: &Path) -> Result<(), ConfigError> {
        if self.source.as_deref() == Some(system) {
            return Ok(());
        }
        let text = match fs_err::read_to_string(system) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(source) => return Err(ConfigError::Read { path: system.to_owned(), source }),
        };
        let site = Config::from_yaml(&text, system)?;
        if site.file.plugins.require_signed {
            let keys = site.plugins().trusted_keys;
            self.file.plugins.require_signed = true;
            self.file.plugins.trusted_keys = keys;
            self.policy_source = Some(system.to_owned());
        }
        if site.file.deliveries.require_signed {
            self.file.deliveries = SignaturePolicyConfig::held(site.deliveries());
            self.deliveries_source = Some(system.to_owned());
        }
        if site.file.images.require_signed {
            self.file.images = SignaturePolicyConfig::held(site.images());
            self.images_source = Some(system.to_owned());
        }
        if site.file.receipts.require_signed {
            self.file.receipts = SignaturePolicyConfig::held(site.receipts());
            self.receipts_source = Some(system.to_owned());
        }
        Ok(())
    }

    fn load_candidates(candidates: &[Candidate]) -> Result<Config, ConfigError> {
        let mut config = None;
        for c in candidates {
            let path = &c.path;
            match fs_err::read_to_string(path) {
                Ok(text) => {
                    config = Some(match c.kind {
                        CandidateKind::AceDt => Config::from_acedt_yaml(&text, path)?,
                        _ => Config::from_yaml(&text, path)?,
                    });
                    tracing::debug!("configuration read from {}", path.display());
                    break;
                }
                Err(e) if matches!(c.kind, CandidateKind::Named(_)) => {
                    return Err(ConfigError::Read { path: path.clone(), source: e });
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied || path.is_dir() => {
                    tracing::debug!("configuration candidate skipped: {e}");
                }
                Err(source) => return Err(ConfigError::Read { path: path.clone(), source }),
            }
        }
        let mut config = config.unwrap_or_else(|| {
            let looked: Vec<String> = candidates.iter().map(|c| c.path.display().to_string()).collect();
            tracing::debug!("no configuration file found, defaults used; looked at {}", looked.join(", "));
            Config::default()
        });
        if let Ok(v) = std::env::var("FERRY_CACHE_PATH")
            && !v.is_empty()
        {
            config.file.cache_path = Some(PathBuf::from(v));
        }
        for name in ["FERRY_CONCURRENT_HTTP", "ACE_DT_CONCURRENT_HTTP"] {
            if let Ok(v) = std::env::var(name)
                && !v.is_empty()
            {
                let n = v.parse::<i64>().map_err(|e| ConfigError::Env { name: name.into(), value: v.clone(), message: e.to_string() })?;
                config.file.concurrent_http = Some(n);
                break;
            }
        }
        Ok(config)
    }

    /// Decodes configuration text strictly (a key ferry does not know is an error naming it);
    /// `origin` names the file in errors.
    pub fn from_yaml(text: &str, origin: &Path) -> Result<Config, ConfigError> {
        let (file, unknown) = decode(text, origin)?;
        if let Some(key) = unknown.first() {
            let message = format!("unknown key {key:?}{}", locate(text, key));
            return Err(ConfigError::Parse { path: origin.to_owned(), message });
        }
        Config::from_file(file, origin)
    }

    /// Decodes an ace-dt configuration file: the keys ferry knows are taken as in
    /// [`Config::from_yaml`]; any other (a newer ace-dt's) is left out with a note in the log.
    pub fn from_acedt_yaml(text: &str, origin: &Path) -> Result<Config, ConfigError> {
        let (file, unknown) = decode(text, origin)?;
        if !unknown.is_empty() {
            tracing::info!("{}: ace-dt configuration keys ferry does not use, left out: {}", origin.display(), unknown.join(", "));
        }
        Config::from_file(file, origin)
    }

    fn from_file(file: FileConfig, origin: &Path) -> Result<Config, ConfigError> {
        let invalid = |key: String, message: String| ConfigError::Invalid { path: origin.to_owned(), key, message };
        let mut rules = BTreeMap::new();
        for (host, entry) in &file.registry_config.registries {
            let mut compiled = Vec::new();
            for (pattern, replacement) in &entry.rewrite_pull.0 {
                let re = Regex::new(pattern)
                    .map_err(|e| invalid(format!("registryConfig.registries.{host}.rewritePull {pattern:?}"), e.to_string()))?;
                compiled.push((re, replacement.clone()));
            }
            rules.insert(host.clone(), compiled);
            for ep in &entry.endpoints {
                parse_endpoint(ep).ok_or_else(|| {
                    invalid(
                        format!("registryConfig.registries.{host}.endpoints"),
                        format!("{ep:?} is not an http:// or https:// URL with a host"),
                    )
                })?;
            }
        }
        for (url, ep) in &file.registry_config.endpoint_config {
            if !matches!(ep.supports_referrers.as_str(), "" | "auto" | "api" | "tag") {
                return Err(invalid(
                    format!("registryConfig.endpointConfig.{url}.supportsReferrers"),
                    format!("{:?} is not one of tag, api, auto", ep.supports_referrers),
                ));
            }
        }
        Ok(Config {
            file,
            source: Some(origin.to_owned()),
            policy_source: None,
            deliveries_source: None,
            images_source: None,
            receipts_source: None,
            rules,
            plain_http: Vec::new(),
        })
    }

    /// The file the configuration came from, if any.
    pub fn source(&self) -> Option<&Path> {
        self.source.as_deref()
    }

    /// Requests per host and sources at once: `concurrentHTTP`, default 5, values < 1 give 5.
    pub fn concurrent_http(&self) -> usize {
        match self.file.concurrent_http {
            Some(n) if n >= 1 => usize::try_from(n).unwrap_or(DEFAULT_CONCURRENT_HTTP),
            _ => DEFAULT_CONCURRENT_HTTP,
        }
    }

    /// The cache directory: `cachePath`, default `$XDG_CACHE_HOME/ferry`, else
    /// `~/.cache/ferry` (`HOME`, else the user's home directory in the user database).
    /// [`ConfigError::NoCachePath`] when there is none of those: the cache holds compiled plugin
    /// code, so it never falls back to a directory other users share (such as `/tmp`).
    pub fn cache_path(&self) -> Result<PathBuf, ConfigError> {
        if let Some(p) = &self.file.cache_path {
            return Ok(p.clone());
        }
        default_cache_path(std::env::var_os("XDG_CACHE_HOME"), std::env::home_dir).ok_or(ConfigError::NoCachePath)
    }

    /// Reaches these registries (by name or network host) over plain HTTP, whatever the
    /// file says: `--plain-http`.
    pub fn with_plain_http(mut self, hosts: impl IntoIterator<Item = String>) -> Config {
        self.plain_http.extend(hosts);
        self
    }

    /// `registryAuthFile`: read for credentials before Docker's config, and written by
    /// `ferry login`. A leading `~/` is the home directory.
    pub fn registry_auth_file(&self) -> Option<PathBuf> {
        let file = self.file.registry_auth_file.as_deref().filter(|f| !f.is_empty())?;
        match file.strip_prefix("~/") {
            Some(rest) => std::env::home_dir().map(|h| h.join(rest)),
            None => Some(PathBuf::from(file)),
        }
    }

    /// The endpoint for a registry: the first configured endpoint, else `https://<registry>`
    /// (`docker.io` is reached at `registry-1.docker.io`); `http://` when `--plain-http` names
    /// the registry or that host.
    pub fn endpoint(&self, registry: &str) -> Endpoint {
        let configured = self.file.registry_config.registries.get(registry).and_then(|e| e.endpoints.first());
        let (mut url, mut scheme, host, mut scheme_source) =
            match configured.and_then(|u| parse_endpoint(u).map(|(s, h)| (u.clone(), s, h, SchemeSource::Config))) {
                Some(found) => found,
                None => {
                    let host = if registry == "docker.io" { "registry-1.docker.io".to_owned() } else { registry.to_owned() };
                    (format!("https://{host}"), Scheme::Https, host, SchemeSource::Default)
                }
            };
        if self.plain_http.iter().any(|h| h == registry || *h == host) {
            (url, scheme, scheme_source) = (format!("http://{host}"), Scheme::Http, SchemeSource::PlainHttpFlag);
        }
        let ep = self
            .file
            .registry_config
            .endpoint_config
            .get(&url)
            .or_else(|| self.file.registry_config.endpoint_config.get(url.trim_end_matches('/')));
        let referrers = match ep.map(|e| e.supports_referrers.as_str()) {
            Some("api") => ReferrersMode::Api,
            Some("tag") => ReferrersMode::Tag,
            _ => ReferrersMode::Auto,
        };
        Endpoint {
            registry: registry.to_owned(),
            scheme,
            scheme_source,
            host,
            url: url.trim_end_matches('/').to_owned(),
            insecure_skip_verify: ep.is_some_and(|e| e.tls.insecure_skip_verify),
            referrers,
        }
    }

    /// Applies the registry's `rewritePull` rules to a repository path: in file order, the
    /// first that matches is applied (`${1}` expands groups), otherwise the path is unchanged.
    pub fn rewrite_repository(&self, registry: &str, repository: &str) -> String {
        for (re, replacement) in self.rules.get(registry).into_iter().flatten() {
            if re.is_match(repository) {
                return re.replace_all(repository, replacement.as_str()).into_owned();
            }
        }
        repository.to_owned()
    }

    /// The plugin trust policy and store: `plugins.requireSigned` (default off),
    /// `plugins.trustedKeys`, and `plugins.store` (default `$XDG_DATA_HOME/ferry/plugins`,
    /// `~/.local/share/ferry/plugins`).
    pub fn plugins(&self) -> PluginSettings {
        let p = &self.file.plugins;
        let base = self.source.as_deref().and_then(Path::parent).map(Path::to_owned).unwrap_or_default();
        // Like the cache, the store holds code: it never falls back to a shared directory.
        let store = p.store.clone().map(|s| base.join(s)).or_else(|| {
            let xdg = std::env::var_os("XDG_DATA_HOME").map(PathBuf::from).filter(|p| p.is_absolute());
            let home = || std::env::home_dir().filter(|h| !h.as_os_str().is_empty()).map(|h| h.join(".local").join("share"));
            xdg.or_else(home).map(|d| d.join("ferry").join("plugins"))
        });
        let policy_file = self.policy_source.clone().or_else(|| self.source.clone());
        PluginSettings {
            require_signed: p.require_signed,
            trusted_keys: p.trusted_keys.iter().map(|k| base.join(k)).collect(),
            store,
            policy_file,
        }
    }

    /// The delivery policy: `deliveries.requireSigned` (default off) and
    /// `deliveries.trustedKeys`.
    pub fn deliveries(&self) -> SignaturePolicy {
        self.signature_policy(&self.file.deliveries, self.deliveries_source.as_ref())
    }

    /// The image policy of scatter, clone and unarchive: `images.requireSigned` (default
    /// off) and `images.trustedKeys`.
    pub fn images(&self) -> SignaturePolicy {
        self.signature_policy(&self.file.images, self.images_source.as_ref())
    }

    /// The receipt policy of `catalog import`: `receipts.requireSigned` (default off) and
    /// `receipts.trustedKeys`.
    pub fn receipts(&self) -> SignaturePolicy {
        self.signature_policy(&self.file.receipts, self.receipts_source.as_ref())
    }

    /// Where the delivery catalog is kept; `None` when neither the config, `XDG_DATA_HOME`
    /// nor a home directory gives a place.
    pub fn catalog(&self) -> Result<Option<CatalogSetting>, ConfigError> {
        let c = &self.file.catalog;
        let invalid = |message: &str| ConfigError::Invalid {
            path: self.source.clone().unwrap_or_default(),
            key: "catalog".to_owned(),
            message: message.to_owned(),
        };
        match (&c.path, &c.url) {
            (Some(_), Some(_)) => Err(invalid("set path (SQLite) or url (PostgreSQL), not both")),
            (None, Some(url)) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                Ok(Some(CatalogSetting::Url(url.clone())))
            }
            (None, Some(_)) => Err(invalid("url must be postgres://… (a SQLite catalog is set by path)")),
            (Some(path), None) => {
                let base = self.source.as_deref().and_then(Path::parent).map(Path::to_owned).unwrap_or_default();
                Ok(Some(CatalogSetting::File(base.join(path))))
            }
            (None, None) => {
                let xdg = std::env::var_os("XDG_DATA_HOME").map(PathBuf::from).filter(|p| p.is_absolute());
                let home = || std::env::home_dir().filter(|h| !h.as_os_str().is_empty()).map(|h| h.join(".local").join("share"));
                Ok(xdg.or_else(home).map(|d| CatalogSetting::File(d.join("ferry").join("catalog.db"))))
            }
        }
    }

    /// A signature policy section in effect: its keys resolved against the config file's
    /// directory; `held_by` is the machine-wide file when it set the policy.
    fn signature_policy(&self, section: &SignaturePolicyConfig, held_by: Option<&PathBuf>) -> SignaturePolicy {
        let base = self.source.as_deref().and_then(Path::parent).map(Path::to_owned).unwrap_or_default();
        SignaturePolicy {
            require_signed: section.require_signed,
            trusted_keys: section.trusted_keys.iter().map(|k| base.join(k)).collect(),
            policy_file: held_by.or(self.source.as_ref()).cloned(),
        }
    }

    /// The effective configuration as YAML, defaults filled in.
    pub fn to_yaml(&self) -> String {
        let mut file = self.file.clone();
        file.api_version.get_or_insert_with(|| "config.dt.act3-ace.io/v1alpha1".to_owned());
        file.kind.get_or_insert_with(|| "Configuration".to_owned());
        file.cache_path = self.cache_path().ok();
        file.concurrent_http = Some(self.concurrent_http() as i64);
        let plugins = self.plugins();
        file.plugins = PluginsConfig { require_signed: plugins.require_signed, trusted_keys: plugins.trusted_keys, store: plugins.store };
        file.deliveries = SignaturePolicyConfig::held(self.deliveries());
        file.images = SignaturePolicyConfig::held(self.images());
        file.receipts = SignaturePolicyConfig::held(self.receipts());
        // A PostgreSQL URL may carry a password: it is never printed.
        file.catalog.url = file.catalog.url.as_deref().map(without_password);
        serde_yaml_ng::to_string(&file).unwrap_or_default()
    }
}

/// `scheme://user:password@host/…` → `scheme://user:***@host/…`.
fn without_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    match rest.rsplit_once('@') {
        Some((user_pass, host)) => match user_pass.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

/// `$XDG_CACHE_HOME/ferry`, else `HOME/.cache/ferry` (`home` is `std::env::home_dir`, a
/// parameter so tests need not change the process's environment). An empty or relative
/// `XDG_CACHE_HOME` is ignored, as the XDG base directory specification says.
fn default_cache_path(xdg_cache_home: Option<std::ffi::OsString>, home: impl FnOnce() -> Option<PathBuf>) -> Option<PathBuf> {
    let xdg = xdg_cache_home.map(PathBuf::from).filter(|p| p.is_absolute());
    xdg.or_else(|| home().filter(|h| !h.as_os_str().is_empty()).map(|h| h.join(".cache"))).map(|c| c.join("ferry"))
}

/// `scheme://host[:port][/]` → scheme and host.
fn parse_endpoint(url: &str) -> Option<(Scheme, String)> {
    let (scheme, rest) = if let Some(r) = url.strip_prefix("https://") {
        (Scheme::Https, r)
    } else if let Some(r) = url.strip_prefix("http://") {
        (Scheme::Http, r)
    } else {
        return None;
    };
    let host = rest.trim_end_matches('/');
    (!host.is_empty() && !host.contains('/')).then(|| (scheme, host.to_owned()))
}

/// Decodes the file, listing the keys the schema does not have (as `a.b.c`) instead of
/// failing on them, so a strict and a lenient reading share one schema.
fn decode(text: &str, origin: &Path) -> Result<(FileConfig, Vec<String>), ConfigError> {
    if text.trim().is_empty() {
        return Ok((FileConfig::default(), Vec::new()));
    }
    let mut unknown = Vec::new();
    let de = serde_yaml_ng::Deserializer::from_str(text);
    let file = serde_ignored::deserialize(de, |path| unknown.push(key_path(&path)))
        .map_err(|e| ConfigError::Parse { path: origin.to_owned(), message: e.to_string() })?;
    Ok((file, unknown))
}

/// `registryConfig.registries.reg.io.endpoint`, `telemetry.0.name`.
fn key_path(path: &serde_ignored::Path<'_>) -> String {
    use serde_ignored::Path as P;
    let (parent, own) = match path {
        P::Root => return String::new(),
        P::Seq { parent, index } => (*parent, index.to_string()),
        P::Map { parent, key } => (*parent, key.clone()),
        P::Some { parent } | P::NewtypeStruct { parent } | P::NewtypeVariant { parent } => return key_path(parent),
    };
    let parent = key_path(parent);
    if parent.is_empty() { own } else { format!("{parent}.{own}") }
}

/// ` (line N)` when exactly one line of `text` starts with the key's last name, else nothing.
fn locate(text: &str, key: &str) -> String {
    let name = key.rsplit('.').next().unwrap_or(key);
    let forms = [format!("{name}:"), format!("\"{name}\":"), format!("'{name}':")];
    let mut lines = text.lines().enumerate().filter(|(_, l)| {
        let l = l.trim_start().trim_start_matches("- ");
        forms.iter().any(|f| l.starts_with(f.as_str()))
    });
    match (lines.next(), lines.next()) {
        (Some((n, _)), None) => format!(" (line {})", n + 1),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<Config, ConfigError> {
        Config::from_yaml(text, Path::new("/etc/ferry/test.yaml"))
    }

    #[test]
    fn the_cache_path_never_falls_back_to_a_shared_directory() {
        let home = || Some(PathBuf::from("/home/op"));
        let none = || None;
        assert_eq!(default_cache_path(Some("/xdg/cache".into()), home), Some(PathBuf::from("/xdg/cache/ferry")));
        // Empty or relative XDG_CACHE_HOME is ignored (XDG base directory specification).
        assert_eq!(default_cache_path(Some("".into()), home), Some(PathBuf::from("/home/op/.cache/ferry")));
        assert_eq!(default_cache_path(Some("cache".into()), home), Some(PathBuf::from("/home/op/.cache/ferry")));
        assert_eq!(default_cache_path(None, home), Some(PathBuf::from("/home/op/.cache/ferry")));
        // No XDG_CACHE_HOME, no HOME, no home in the user database: no cache path at all.
        assert_eq!(default_cache_path(None, none), None);
        assert_eq!(default_cache_path(None, || Some(PathBuf::new())), None);
        let message = ConfigError::NoCachePath.to_string();
        assert!(message.contains("set cachePath in the config file") && message.contains("XDG_CACHE_HOME"), "{message}");
        // A configured path is used as written, whatever the environment.
        let config = load("cachePath: /var/cache/ferry-op\n").unwrap();
        assert_eq!(config.cache_path().unwrap(), PathBuf::from("/var/cache/ferry-op"));
    }

    #[test]
    fn unknown_keys_name_key_and_file() {
        for (text, key) in [
            ("bogus: 1\n", "bogus"),
            ("registryConfig:\n  registries:\n    reg.io:\n      endpoint: [x]\n", "endpoint"),
            ("registryConfig:\n  endpointConfig:\n    https://a:\n      tls:\n        insecure: true\n", "insecure"),
        ] {
            let msg = load(text).unwrap_err().to_string();
            assert!(msg.starts_with("/etc/ferry/test.yaml: "), "{msg}");
            assert!(msg.contains("unknown key") && msg.contains(key), "{msg}");
        }
    }

    #[test]
    fn reads_acedt_config_and_resolves_endpoints() {
        let c = load(
            "apiVersion: config.dt.act3-ace.io/v1alpha1\nkind: Configuration\nconcurrentHTTP: 0\nregistryConfig:\n  registries:\n    localhost:5000:\n      endpoints: [\"http://127.0.0.1:5000\"]\n    reg.io:\n      rewritePull:\n        \"^a/(.*)\": \"first/${1}\"\n        \"^a/b(.*)\": \"second/${1}\"\n  endpointConfig:\n    http://127.0.0.1:5000:\n      supportsReferrers: tag\n      tls:\n        insecureSkipVerify: true\n",
        )
        .unwrap();
        assert_eq!(c.concurrent_http(), 5);
        let e = c.endpoint("localhost:5000");
        assert_eq!(
            (e.scheme, e.host.as_str(), e.referrers, e.insecure_skip_verify),
            (Scheme::Http, "127.0.0.1:5000", ReferrersMode::Tag, true)
        );
        let d = c.endpoint("docker.io");
        assert_eq!((d.url.as_str(), d.referrers), ("https://registry-1.docker.io", ReferrersMode::Auto));
        for _ in 0..20 {
            assert_eq!(c.rewrite_repository("reg.io", "a/bc"), "first/bc");
        }
        assert_eq!(c.rewrite_repository("reg.io", "z/y"), "z/y");
        assert!(c.to_yaml().contains("concurrentHTTP: 5"));
    }

    #[test]
    fn plain_http_flag_overrides_the_scheme_and_says_why() {
        let c = load("registryConfig:\n  registries:\n    reg.io:\n      endpoints: [\"https://mirror.io:5000\"]\n").unwrap();
        assert_eq!((c.endpoint("reg.io").scheme, c.endpoint("reg.io").scheme_source), (Scheme::Https, SchemeSource::Config));
        assert_eq!(c.endpoint("other.io").scheme_source, SchemeSource::Default);
        let c = c.with_plain_http(["mirror.io:5000".to_owned(), "other.io".to_owned()]);
        for registry in ["reg.io", "other.io"] {
            let e = c.endpoint(registry);
            assert_eq!((e.scheme, e.scheme_source), (Scheme::Http, SchemeSource::PlainHttpFlag), "{registry}");
        }
        assert_eq!(c.endpoint("reg.io").url, "http://mirror.io:5000");
        assert_eq!(c.endpoint("third.io").scheme, Scheme::Https);
    }

    #[test]
    fn registry_auth_file_expands_home() {
        assert_eq!(load("registryAuthFile: /etc/auth.json\n").unwrap().registry_auth_file(), Some(PathBuf::from("/etc/auth.json")));
        let home = std::env::home_dir().unwrap();
        assert_eq!(load("registryAuthFile: ~/.docker/config.json\n").unwrap().registry_auth_file(), Some(home.join(".docker/config.json")));
        assert_eq!(load("kind: Configuration\n").unwrap().registry_auth_file(), None);
    }

    #[test]
    fn rejects_bad_values() {
        assert!(
            load("registryConfig:\n  endpointConfig:\n    https://a:\n      supportsReferrers: maybe\n")
                .unwrap_err()
                .to_string()
                .contains("supportsReferrers")
        );
        assert!(
            load("registryConfig:\n  registries:\n    r:\n      rewritePull:\n        \"(\": x\n")
                .unwrap_err()
                .to_string()
                .contains("rewritePull")
        );
        assert!(load("registryConfig:\n  registries:\n    r:\n      endpoints: [\"ftp://x\"]\n").is_err());
        assert!(load(": : :\n").unwrap_err().to_string().starts_with("/etc/ferry/test.yaml: "));
    }

    #[test]
    fn first_readable_candidate_wins_and_broken_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("good.yaml");
        let bad = dir.path().join("bad.yaml");
        let missing = dir.path().join("missing.yaml");
        std::fs::write(&good, "concurrentHTTP: 7\n").unwrap();
        std::fs::write(&bad, "concurrentHTTP: [\n").unwrap();
        let default = |p: &PathBuf| Candidate { path: p.clone(), kind: CandidateKind::Default };
        let c = Config::load_from(&[default(&missing), default(&good), default(&bad)]).unwrap();
        assert_eq!((c.concurrent_http(), c.source()), (7, Some(good.as_path())));
        assert!(Config::load(&[bad.clone(), good.clone()]).unwrap_err().to_string().contains("bad.yaml"));
        // A file the operator named must be there, wherever it stands in the list.
        let e = Config::load(&[good.clone(), missing.clone()]).unwrap_err().to_string();
        assert_eq!(e, format!("configuration file {} (named by --config) does not exist", missing.display()));
        // None found: defaults.
        let c = Config::load_from(&[default(&missing)]).unwrap();
        assert_eq!((c.concurrent_http(), c.source()), (5, None));
    }

    #[test]
    fn an_acedt_file_gives_the_keys_ferry_knows_and_leaves_out_the_rest() {
        let text = "concurrentHTTP: 4\nnewerAceDtKey: x\nregistryConfig:\n  registries:\n    reg.io:\n      endpoints: [\"http://127.0.0.1:5000\"]\n      mirrorOf: y\n";
        let path = Path::new("/etc/ace/dt/config.yaml");
        let c = Config::from_acedt_yaml(text, path).unwrap();
        assert_eq!((c.concurrent_http(), c.endpoint("reg.io").scheme), (4, Scheme::Http));
        assert_eq!(c.source(), Some(path));
        // The same text as ferry's own file is refused, naming the first unknown key and its line.
        let e = Config::from_yaml(text, path).unwrap_err().to_string();
        assert_eq!(e, "/etc/ace/dt/config.yaml: unknown key \"newerAceDtKey\" (line 2)");
        // Wrong types are errors in both.
        assert!(Config::from_acedt_yaml("concurrentHTTP: many\n", path).is_err());
    }

    #[test]
    fn sample_decodes_when_uncommented() {
        let text: String = crate::sample()
            .lines()
            .filter(|l| !l.starts_with("##"))
            .map(|l| l.strip_prefix("# ").unwrap_or(l))
            .map(|l| format!("{}\n", l.split("  #").next().unwrap_or(l)))
            .collect();
        let c = load(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(c.rewrite_repository("index.docker.io", "rancher/x"), "ace/dt/rancher-images/x");
        assert_eq!(c.endpoint("localhost:5000").scheme, Scheme::Http);
        assert_eq!(c.endpoint("index.docker.io").referrers, ReferrersMode::Tag);
        let plugins = c.plugins();
        assert!(plugins.require_signed);
        assert_eq!(plugins.trusted_keys, vec![PathBuf::from("/etc/ferry/keys/officer.pub")]);
    }

    #[test]
    fn a_machine_wide_policy_holds_whatever_config_is_chosen() {
        let dir = tempfile::tempdir().unwrap();
        let system = dir.path().join("system.yaml");
        let mut user = Config::from_yaml("plugins:\n  trustedKeys: [/home/u/mine.pub]\n", Path::new("/home/u/ferry.yaml")).unwrap();
        // No machine-wide file: the chosen one's policy.
        user.apply_system_policy(&system).unwrap();
        assert!(!user.plugins().require_signed);
        std::fs::write(&system, "plugins:\n  requireSigned: false\n  trustedKeys: [site.pub]\n").unwrap();
        user.apply_system_policy(&system).unwrap();
        assert_eq!(user.plugins().trusted_keys, vec![PathBuf::from("/home/u/mine.pub")]);
        // Required there: required here, with its keys only, and named as the policy's file.
        std::fs::write(&system, "plugins:\n  requireSigned: true\n  trustedKeys: [site.pub]\n").unwrap();
        user.apply_system_policy(&system).unwrap();
        let p = user.plugins();
        assert!(p.require_signed);
        assert_eq!(p.trusted_keys, vec![dir.path().join("site.pub")]);
        assert_eq!(p.policy_file.as_deref(), Some(system.as_path()));
        // A machine-wide file that does not parse stops the run.
        std::fs::write(&system, "plugins: [").unwrap();
        assert!(user.apply_system_policy(&system).unwrap_err().to_string().contains("system.yaml"));
    }

    #[test]
    fn plugin_key_paths_are_relative_to_the_config_file() {
        let c = Config::from_yaml("plugins:\n  trustedKeys: [keys/a.pub, /abs/b.pub]\n  store: installed\n", Path::new("/site/ferry.yaml"))
            .unwrap();
        let p = c.plugins();
        assert!(!p.require_signed);
        assert_eq!(p.trusted_keys, vec![PathBuf::from("/site/keys/a.pub"), PathBuf::from("/abs/b.pub")]);
        assert_eq!(p.store, Some(PathBuf::from("/site/installed")));
        let e = load("plugins:\n  requireSigned: yes please\n").unwrap_err().to_string();
        assert!(e.contains("requireSigned") || e.contains("plugins"), "{e}");
        let e = load("plugins:\n  trustKeys: []\n").unwrap_err().to_string();
        assert!(e.contains("trustKeys"), "{e}");
    }
}
