//! Plugin errors: each names the component and, for a call, the function.

/// What went wrong with a component.
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    /// The component could not be compiled, cached or linked (wrong world or version).
    #[error("component {component}: {reason}")]
    Load {
        /// The component's name.
        component: String,
        /// Why.
        reason: String,
    },
    /// A call trapped or hit a limit; the component's store was thrown away.
    #[error("component {component}: {function}: {reason}")]
    Trap {
        /// The component's name.
        component: String,
        /// The exported function.
        function: &'static str,
        /// What stopped it.
        reason: String,
    },
    /// The component returned an error of its own.
    #[error("component {component}: {function}: {message}")]
    Refused {
        /// The component's name.
        component: String,
        /// The exported function.
        function: &'static str,
        /// Its message.
        message: String,
    },
}
