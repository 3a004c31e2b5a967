//! `ferry version`, `ferry completion SHELL` and `ferry man [DIR]`: what a package or an
//! operator's shell needs, all generated from the command definitions.

use anyhow::Context as _;
use clap::CommandFactory as _;

use crate::args::{Cli, CompletionArgs, ManArgs, VersionArgs, VersionFormat};
use crate::stdout::{out, outln};

pub(crate) fn version(args: &VersionArgs) {
    match args.output {
        VersionFormat::Text => out!("{}", crate::version::text()),
        VersionFormat::Json => outln!("{}", crate::version::json()),
    }
}

pub(crate) fn completion(args: &CompletionArgs) {
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "ferry", &mut script);
    out!("{}", String::from_utf8_lossy(&script));
}

/// The command tree as the man pages show it: the release alone as the version, so the pages
/// change with what ferry does, not with each commit; no `help` subcommand (as
/// `clap_mangen::generate_to` leaves it out).
fn man_command() -> clap::Command {
    Cli::command().long_version(None::<&str>).disable_help_subcommand(true)
}

/// `ferry.1` to standard output, or `ferry.1` and one page per command (`ferry-mirror-gather.1`,
/// named by clap's display names) into DIR.
pub(crate) fn man(args: &ManArgs) -> anyhow::Result<()> {
    let Some(dir) = &args.dir else {
        let mut page = Vec::new();
        clap_mangen::Man::new(man_command()).render(&mut page)?;
        out!("{}", String::from_utf8_lossy(&page));
        return Ok(());
    };
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    clap_mangen::generate_to(man_command(), dir).with_context(|| format!("writing man pages into {}", dir.display()))
}
