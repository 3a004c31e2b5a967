//! `ferry config [--sample]`.

use crate::args::ConfigArgs;
use crate::session::Session;
use crate::stdout::{out, outln};

/// The sample needs no configuration; the effective configuration is the session's.
pub(crate) fn run(session: Option<&Session>, args: &ConfigArgs) -> anyhow::Result<()> {
    let Some(session) = session.filter(|_| !args.sample) else {
        out!("{}", ferry_config::sample());
        return Ok(());
    };
    let config = session.config();
    match config.source() {
        Some(p) => outln!("# from {}", p.display()),
        None => outln!("# no configuration file found; defaults"),
    }
    out!("{}", config.to_yaml());
    Ok(())
}
