//! Exit codes (cli-contract: 0 success, 1 a failed operation, 2 bad usage or bad input).

/// Everything worked.
pub const SUCCESS: u8 = 0;
/// An operation failed (registry, network, content).
pub const FAILURE: u8 = 1;
/// The command line or an input file is wrong.
pub const USAGE: u8 = 2;

/// Stopped by Ctrl-C or SIGTERM (128 + SIGINT, as shells report it).
pub const INTERRUPTED: u8 = 130;

/// The run was interrupted: exits with [`INTERRUPTED`].
#[derive(Debug)]
pub struct Interrupted;

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("interrupted")
    }
}

impl std::error::Error for Interrupted {}

/// What to do next (the command that continues a run), attached as context and printed
/// after the error on its own line.
#[derive(Debug)]
pub struct Hint(pub String);

impl std::fmt::Display for Hint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// An error in what the user gave (flags, files, references): exits with [`USAGE`].
#[derive(Debug)]
pub struct BadInput(pub String);

impl std::fmt::Display for BadInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BadInput {}

/// Marks a typed error as the user's (exit 2), keeping it as the cause: `what` names the
/// argument or file it came from.
pub fn bad_input<E: std::error::Error + Send + Sync + 'static>(what: impl Into<String>) -> impl FnOnce(E) -> anyhow::Error {
    move |e| anyhow::Error::new(e).context(BadInput(what.into()))
}

/// The exit code for an error chain.
pub fn code_for(e: &anyhow::Error) -> u8 {
    if e.downcast_ref::<Interrupted>().is_some() {
        return INTERRUPTED;
    }
    // A `BadInput` attached as context (see [`bad_input`]) is found by downcasting, not in
    // the chain of causes.
    if e.downcast_ref::<BadInput>().is_some() {
        return USAGE;
    }
    for cause in e.chain() {
        if cause.is::<BadInput>() || cause.is::<ferry_config::ConfigError>() {
            return USAGE;
        }
        if let Some(bundle) = cause.downcast_ref::<ferry_bundle::BundleError>() {
            return if bundle.is_bad_input() { USAGE } else { FAILURE };
        }
        if let Some(engine) = cause.downcast_ref::<ferry_engine::Error>() {
            return if engine.is_bad_input() { USAGE } else { FAILURE };
        }
    }
    FAILURE
}

/// The error and its causes on one line, each cause once; a [`Hint`] follows on its own line.
pub fn render(e: &anyhow::Error) -> String {
    let hint = e.downcast_ref::<Hint>().map(|h| h.0.clone());
    let mut parts: Vec<String> = Vec::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if hint.as_ref() == Some(&text) {
            continue;
        }
        // Some errors repeat their source's text; print each piece once.
        if parts.last().is_some_and(|p| p.contains(&text)) {
            continue;
        }
        parts.push(text);
    }
    let mut out = parts.join(": ");
    if let Some(h) = hint {
        out.push('\n');
        out.push_str(&h);
    }
    out
}
