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
    /// The text a call would be given is larger than any component is given.
    #[error("component {component}: {function}: the input is {bytes} bytes, more than the {max} bytes a component is given")]
    TooLarge {
        /// The component's name.
        component: String,
        /// The exported function.
        function: &'static str,
        /// The input's size.
        bytes: usize,
        /// [`crate::MAX_INPUT_BYTES`].
        max: usize,
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
    /// The component found a bad line in the text it was given (a sources list, a tracker
    /// file); `line` is 1-based, 0 when the problem is not on one line.
    #[error("component {component}: {function}: {}", at_line(*line, message))]
    Parse {
        /// The component's name.
        component: String,
        /// The exported function.
        function: &'static str,
        /// The line.
        line: u32,
        /// What is wrong with it.
        message: String,
    },
}

/// `line N: message`, or the message alone for line 0.
fn at_line(line: u32, message: &str) -> String {
    if line == 0 { message.to_owned() } else { format!("line {line}: {message}") }
}
