//! The `ferry` command line: argument parsing, logging, progress output and exit codes.
//! Commands live in `commands`, one module each; the work itself is in `ferry-engine`.
//!
//! Exposed as a library so test harnesses can build the same binary.

#![expect(clippy::print_stderr, reason = "the CLI is where errors are printed; standard output goes through `stdout`")]

mod args;
mod argv;
mod changer;
mod commands;
pub mod exit;
mod mapping;
mod output;
mod plugins;
mod policy;
mod session;
mod shell;
mod signal;
mod stdout;
mod taps;
mod values;
mod version;

use std::io::IsTerminal as _;
use std::process::ExitCode;

use clap::Parser as _;

use crate::args::{Cli, Command};
use crate::stdout::out;

/// Runs ferry with the process's arguments and returns its exit status.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse_from(argv::normalize(std::env::args_os())) {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { exit::USAGE } else { exit::SUCCESS };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let level = match argv::level(cli.global.verbosity, |name| std::env::var(name).ok()) {
        Ok(level) => level,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(exit::USAGE);
        }
    };
    init_logging(level);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: starting the async runtime: {e}");
            return ExitCode::from(exit::FAILURE);
        }
    };
    let result = runtime.block_on(run(cli));
    // A command stopped by a signal may leave a blocking read (standard input, a tape)
    // behind: the process ends without waiting for it.
    runtime.shutdown_background();
    match result {
        Ok(()) => ExitCode::from(exit::SUCCESS),
        Err(e) => {
            eprintln!("error: {}", exit::render(&e));
            ExitCode::from(exit::code_for(&e))
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    use args::PluginCommand as P;
    // Commands that read no configuration run without one, so a broken file cannot stop them.
    let session = || session::Session::new(cli.global.clone());
    match cli.command {
        Command::Util(args::UtilCommand::Mbuffer(flags)) => commands::util::mbuffer(&cli.global, &flags),
        Command::Version(a) => {
            commands::packaging::version(&a);
            Ok(())
        }
        Command::Completion(a) => {
            commands::packaging::completion(&a);
            Ok(())
        }
        Command::Man(a) => commands::packaging::man(&a),
        Command::Config(c) if c.sample => commands::config::run(None, &c),
        Command::Config(c) => commands::config::run(Some(&session()?), &c),
        Command::Plugin(P::Wit) => {
            out!("{}", ferry_plugin::WIT);
            Ok(())
        }
        Command::Plugin(P::Keygen(a)) => commands::bundle::keygen(&cli.global, &a),
        Command::Plugin(P::Inspect(a)) => commands::plugin::inspect(&cli.global, &a),
        Command::Mirror(m) => commands::mirror(&session()?, *m).await,
        Command::Catalog(c) => commands::catalog::run(&session()?, c).await,
        Command::Login(a) => commands::login::login(&session()?, a).await,
        Command::Logout(a) => commands::login::logout(&session()?, a).await,
        Command::Plugin(P::Bundle(a)) => commands::bundle::build(&session()?, &a).await,
        Command::Plugin(P::Sign(a)) => commands::bundle::sign(&session()?, &a).await,
        Command::Plugin(P::Verify(a)) => commands::bundle::verify(&session()?, &a).await,
        Command::Plugin(P::Install(a)) => commands::bundle::install(&session()?, &a).await,
        Command::Plugin(P::List(a)) => commands::bundle::list(&session()?, &a).await,
        Command::Plugin(P::Remove(a)) => commands::bundle::remove(&session()?, &a).await,
    }
}

fn init_logging(level: args::Level) {
    let level = match level {
        args::Level::Error => "error",
        args::Level::Warn => "warn",
        args::Level::Info => "info",
        args::Level::Debug => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::new(format!("{level},h2=warn,hyper=warn,reqwest=warn,rustls=warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(colour(std::io::stderr().is_terminal(), std::env::var_os("NO_COLOR")))
        .try_init();
}

/// Colour only on a terminal, and never when `NO_COLOR` is set to anything but the empty
/// string (no-color.org).
fn colour(terminal: bool, no_color: Option<std::ffi::OsString>) -> bool {
    terminal && no_color.is_none_or(|v| v.is_empty())
}

#[cfg(test)]
mod tests {
    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        assert!(super::colour(true, None));
        assert!(super::colour(true, Some("".into())));
        assert!(!super::colour(true, Some("1".into())));
        assert!(!super::colour(false, None));
    }
}
