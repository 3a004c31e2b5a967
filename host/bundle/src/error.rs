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
    /// The installed-plugin store's lock could not be taken.
    #[error("locking the plugin store ({}): {source}", path.display())]
    Lock {
        /// The lock file.
        path: std::path::PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

impl BundleError {
    /// Whether the fault is in what the user gave (exit 2) rather than an operation (exit 1).
    pub fn is_bad_input(&self) -> bool {
        match self {
            BundleError::Store(e) => e.is_bad_input(),
            BundleError::Lock { .. } => false,
            BundleError::Invalid { .. } | BundleError::Untrusted { .. } | BundleError::Installed(_) => true,
        }
    }
}
