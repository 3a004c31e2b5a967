//! `ferry config [--sample]`.

use crate::args::{ConfigArgs, Global};

pub(crate) fn run(global: &Global, args: &ConfigArgs) -> anyhow::Result<()> {
    if args.sample {
        print!("{}", ferry_config::sample());
        return Ok(());
    }
    let config = super::load_config(global)?;
    match config.source() {
        Some(p) => println!("# from {}", p.display()),
        None => println!("# no configuration file found; defaults"),
    }
    print!("{}", config.to_yaml());
    Ok(())
}
