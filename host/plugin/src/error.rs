//! Plugin errors: each names the component and, for a call, the function. What went wrong is a
//! kind callers can match ([`LoadErrorKind`], [`TrapKind`]); wasmtime's or the system's error
//! stays attached as the `source`.
//!
//! Unlike most of ferry's errors, a message here repeats its source's text: callers print a
//! `PluginError` on one line (`{e}`), and wasmtime's text is often the only detail there is
//! (which import is missing, where a guest trapped). ferry's own error renderer prints a cause
//! once when the message before it already contains it.

use std::error::Error as StdError;
use std::fmt;
use std::time::Duration;

/// The error beneath a [`PluginError`]: wasmtime's (its own error type, boxed) or the system's.
pub type Source = Box<dyn StdError + Send + Sync + 'static>;

/// What went wrong with a component.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PluginError {
    /// The component could not be compiled, loaded or linked (wrong world or version); for the
    /// engine itself, `component` is `(engine)`.
    #[error("component {component}: {kind}: {}", chain(&**source))]
    Load {
        /// The component's name.
        component: String,
        /// The step that failed.
        kind: LoadErrorKind,
        /// wasmtime's or the system's error.
        #[source]
        source: Source,
    },
    /// A call trapped or hit a limit; the component's store was thrown away.
    #[error("component {component}: {function}: {}", trap_text(kind, &**source))]
    Trap {
        /// The component's name.
        component: String,
        /// The exported function.
        function: &'static str,
        /// What stopped it.
        kind: TrapKind,
        /// wasmtime's error.
        #[source]
        source: Source,
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

/// The step of loading a component that failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum LoadErrorKind {
    /// Making the engine.
    Engine,
    /// Starting the thread that advances the engine's epoch (the time limit's clock).
    EpochThread,
    /// Compiling: the bytes are not a component wasmtime accepts.
    Compile,
    /// Loading what was just compiled.
    Deserialize,
    /// Adding WASI to the linker.
    LinkWasi,
    /// Adding the `ferry:plugin` host interface to the linker.
    LinkHost,
    /// The component imports or exports `ferry:plugin` names other than this world's at
    /// [`crate::INTERFACE_VERSION`]: another world or another interface version.
    NotWorld {
        /// The world it was to be linked as.
        world: &'static str,
    },
    /// The component cannot be linked as the world for another reason (an import ferry does
    /// not provide).
    Link {
        /// The world it was to be linked as.
        world: &'static str,
    },
}

impl fmt::Display for LoadErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let version = crate::INTERFACE_VERSION;
        match self {
            LoadErrorKind::Engine => f.write_str("making the engine"),
            LoadErrorKind::EpochThread => f.write_str("starting the epoch thread"),
            LoadErrorKind::Compile => f.write_str("not a loadable component"),
            LoadErrorKind::Deserialize => f.write_str("loading the compiled component"),
            LoadErrorKind::LinkWasi => f.write_str("linking WASI"),
            LoadErrorKind::LinkHost => f.write_str("linking the host interface"),
            LoadErrorKind::NotWorld { world } => {
                let supported = crate::SUPPORTED_VERSIONS.join(", ");
                write!(f, "not a ferry:plugin/{world}@{version} component (ferry runs components built against ferry:plugin {supported})")
            }
            LoadErrorKind::Link { world } => write!(f, "cannot be linked as a {world}"),
        }
    }
}

/// What stopped a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TrapKind {
    /// It used all its fuel (an endless loop, or far more work than its input needs).
    OutOfFuel {
        /// The fuel it was given.
        fuel: u64,
    },
    /// It ran past its deadline (epoch interruption).
    Deadline {
        /// The time it was given.
        time: Duration,
    },
    /// It tried to grow its memory past the store's ceiling.
    MemoryLimit {
        /// The ceiling, in bytes.
        limit_bytes: usize,
    },
    /// It overflowed its stack.
    StackOverflow,
    /// Any other trap (`unreachable`, a guest panic, an out-of-bounds access) or host error:
    /// the source says which.
    Other,
}

impl fmt::Display for TrapKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrapKind::OutOfFuel { fuel } => write!(f, "used all its fuel ({fuel} units): stopped (an endless loop?)"),
            TrapKind::Deadline { time } => write!(f, "ran longer than its time limit of {time:?}: stopped"),
            TrapKind::MemoryLimit { limit_bytes } => {
                write!(f, "tried to use more than its memory limit of {} MiB: stopped", limit_bytes >> 20)
            }
            TrapKind::StackOverflow => f.write_str("overflowed its stack: stopped"),
            TrapKind::Other => f.write_str("trapped"),
        }
    }
}

/// A limit's message stands alone; any other trap needs wasmtime's text to say where.
fn trap_text(kind: &TrapKind, source: &(dyn StdError + 'static)) -> String {
    match kind {
        TrapKind::Other => format!("{kind}: {}", chain(source)),
        _ => kind.to_string(),
    }
}

/// An error and its sources, `: `-separated (as wasmtime's `{:#}`).
fn chain(e: &(dyn StdError + 'static)) -> String {
    let mut text = e.to_string();
    let mut next = e.source();
    while let Some(cause) = next {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        next = cause.source();
    }
    text
}

/// `line N: message`, or the message alone for line 0.
fn at_line(line: u32, message: &str) -> String {
    if line == 0 { message.to_owned() } else { format!("line {line}: {message}") }
}
