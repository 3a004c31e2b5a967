//! The bundle crate's error type.

/// Why a bundle cannot be written, installed or trusted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BundleError {
    /// Reading or writing a store failed.
    #[error(transparent)]
    Store(#[from] ferry_engine::Error),
    /// Not a bundle, or one whose parts disagree; `what` names the bundle or component.
    #[error("{what}: {message}")]
    Invalid {
        /// The bundle or component.
        what: String,
        /// What is wrong.
        message: String,
    },
    /// A part of a bundle (a component, its bytes) cannot be used, for a reason with a type.
    #[error("{what}")]
    Unusable {
        /// The bundle or component.
        what: String,
        /// Why.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// No trusted key signed the bundle as it is.
    #[error("{what}: not trusted: {message}")]
    Untrusted {
        /// The bundle.
        what: String,
        /// Why.
        message: String,
    },
    /// The installed-plugin store has no such plugin, or installing would clash with another.
    #[error("{0}")]
    Installed(String),
    /// A bundle location is neither a file nor a reference.
    #[error("bundle {text}: a bundle is FILE.tar, oci:PATH[:TAG] or REGISTRY/REPOSITORY[:TAG|@DIGEST]")]
    Location {
        /// The location as written.
        text: String,
        /// Why it is not a reference.
        #[source]
        source: ferry_oci::ReferenceError,
    },
    /// A bundle file that is not there.
    #[error("bundle {}: no such file", .0.display())]
    NoSuchFile(std::path::PathBuf),
    /// A bundle file could not be read or written.
    #[error("the bundle file {}", path.display())]
    File {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        #[source]
        source: Box<BundleError>,
    },
    /// A local file operation failed.
    #[error("{what}")]
    Io {
        /// What was being done.
        what: String,
        /// Why it failed.
        #[source]
        source: std::io::Error,
    },
    /// A new bundle can only be written at a tag.
    #[error("--output {0}: give a tag, not a digest")]
    DigestOutput(String),
    /// The bundle's version cannot be its tag, and the output names none.
    #[error("--output {output}: --version {version:?} cannot be a tag; name one in --output")]
    VersionNotATag {
        /// The output.
        output: String,
        /// The version.
        version: String,
    },
    /// A trusted key file could not be read.
    #[error("trusted key {}", path.display())]
    KeyFile {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The installed-plugin store's lock could not be taken.
    #[error("locking the plugin store ({}): {source}", path.display())]
    Lock {
        /// The lock file.
        path: std::path::PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A key is unusable.
    #[error("trusted key {0}")]
    Key(#[from] crate::keys::KeyError),
    /// A key could not be written.
    #[error(transparent)]
    Pem(#[from] crate::keys::PemError),
    /// A component file named under `requireSigned`.
    #[error(
        "{what}: refused by the trust policy (plugins.requireSigned in {policy_file}): a component file is not a signed bundle; \
         install its bundle with `ferry plugin install` and name the installed plugin instead"
    )]
    FileRefused {
        /// Which argument named it.
        what: String,
        /// The file the policy came from.
        policy_file: String,
    },
    /// A component file could not be read.
    #[error("{what}")]
    ComponentFile {
        /// Which argument named it.
        what: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A component could not be loaded (compiled, or linked into its world).
    #[error("{what}")]
    Load {
        /// Which argument named it.
        what: String,
        /// Why.
        #[source]
        source: ferry_plugin::PluginError,
    },
    /// An installed plugin the trust policy refuses.
    #[error("{what}: refused by the trust policy in {policy_file}")]
    RefusedByPolicy {
        /// Which argument named it.
        what: String,
        /// The file the policy came from.
        policy_file: String,
        /// Why no trusted key vouches for it.
        #[source]
        source: Box<BundleError>,
    },
    /// `--allow-unsigned` under `requireSigned`.
    #[error("--allow-unsigned: refused: plugins.requireSigned is on in {policy_file}")]
    AllowUnsignedRefused {
        /// The file the policy came from.
        policy_file: String,
    },
    /// `--key` under `requireSigned`: only the configured keys decide what loads.
    #[error("--key: refused: plugins.requireSigned is on in {policy_file}, so only plugins.trustedKeys decide; add the key there")]
    ExtraKeyRefused {
        /// The file the policy came from.
        policy_file: String,
    },
    /// No installed-plugin store: none configured, and no home directory to put one in.
    #[error(
        "no installed-plugin store: set plugins.store in the config file, or XDG_DATA_HOME; this user has no HOME and no home directory in the user database"
    )]
    NoStore,
    /// An error, with what was being done.
    #[error("{what}")]
    Named {
        /// What was being done.
        what: String,
        /// The error.
        #[source]
        source: Box<BundleError>,
    },
}

impl BundleError {
    /// Whether the fault is in what the user gave (exit 2) rather than an operation (exit 1).
    pub fn is_bad_input(&self) -> bool {
        match self {
            BundleError::Store(e) => e.is_bad_input(),
            BundleError::File { source, .. } | BundleError::RefusedByPolicy { source, .. } | BundleError::Named { source, .. } => {
                source.is_bad_input()
            }
            BundleError::Invalid { .. }
            | BundleError::Unusable { .. }
            | BundleError::Untrusted { .. }
            | BundleError::Installed(_)
            | BundleError::Location { .. }
            | BundleError::NoSuchFile(_)
            | BundleError::DigestOutput(_)
            | BundleError::VersionNotATag { .. }
            | BundleError::KeyFile { .. }
            | BundleError::Key(_)
            | BundleError::FileRefused { .. }
            | BundleError::ComponentFile { .. }
            | BundleError::Load { .. }
            | BundleError::AllowUnsignedRefused { .. }
            | BundleError::ExtraKeyRefused { .. }
            | BundleError::NoStore => true,
            BundleError::Io { .. } | BundleError::Pem(_) | BundleError::Lock { .. } => false,
        }
    }
}
