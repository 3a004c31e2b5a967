//! `ferry config [--sample]`.

use crate::args::ConfigArgs;
use crate::session::Session;

/// The sample needs no configuration; the effective configuration is the session's.
pub(crate) fn run(session: Option<&Session>, args: &ConfigArgs) -> anyhow::Result<()> {
    let Some(session) = session.filter(|_| !args.sample) else {
        print!("{}", ferry_config::sample());
        return Ok(());
    };
    let config = session.config();
    match config.source() {
        Some(p) => println!("# from {}", p.display()),
        None => println!("# no configuration file found; defaults"),
    }
    print!("{}", config.to_yaml());
    Ok(())
}
