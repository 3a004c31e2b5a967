//! The `ferry` command line: argument parsing, logging, progress output and exit codes.
//! Commands live in [`commands`], one module each; the work itself is in `ferry-engine`.
//!
//! Exposed as a library so test harnesses can build the same binary.

#![expect(clippy::print_stdout, clippy::print_stderr, reason = "the CLI is where output is printed")]

mod args;
mod commands;
pub mod exit;
mod mapping;
mod output;
mod plugins;
mod shell;

use std::process::ExitCode;

use clap::Parser as _;

use crate::args::{Cli, Command};

/// Runs ferry with the process's arguments and returns its exit status.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { exit::USAGE } else { exit::SUCCESS };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    init_logging(&cli.global.verbosity);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: starting the async runtime: {e}");
            return ExitCode::from(exit::FAILURE);
        }
    };
    let result = runtime.block_on(run(cli));
    match result {
        Ok(()) => ExitCode::from(exit::SUCCESS),
        Err(e) => {
            eprintln!("error: {}", exit::render(&e));
            ExitCode::from(exit::code_for(&e))
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Mirror(m) => commands::mirror(&cli.global, m).await,
        Command::Config(c) => commands::config::run(&cli.global, &c),
        Command::Util(args::UtilCommand::Mbuffer(flags)) => commands::util::mbuffer(&flags),
        Command::Plugin(args::PluginCommand::Inspect(a)) => commands::plugin::inspect(&cli.global, &a),
        Command::Plugin(args::PluginCommand::Wit) => {
            print!("{}", ferry_plugin::WIT);
            Ok(())
        }
        Command::Plugin(args::PluginCommand::Keygen(a)) => commands::bundle::keygen(&cli.global, &a),
        Command::Plugin(args::PluginCommand::Bundle(a)) => commands::bundle::build(&cli.global, &a).await,
        Command::Plugin(args::PluginCommand::Sign(a)) => commands::bundle::sign(&cli.global, &a).await,
        Command::Plugin(args::PluginCommand::Verify(a)) => commands::bundle::verify(&cli.global, &a).await,
        Command::Plugin(args::PluginCommand::Install(a)) => commands::bundle::install(&cli.global, &a).await,
        Command::Plugin(args::PluginCommand::List(a)) => commands::bundle::list(&cli.global, &a).await,
        Command::Plugin(args::PluginCommand::Remove(a)) => commands::bundle::remove(&cli.global, &a).await,
    }
}

fn init_logging(level: &str) {
    let level = match level.to_ascii_lowercase().as_str() {
        "error" | "0" => "error",
        "info" | "8" => "info",
        "debug" | "12" => "debug",
        _ => "warn",
    };
    let filter = tracing_subscriber::EnvFilter::new(format!("{level},h2=warn,hyper=warn,reqwest=warn,rustls=warn"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false).try_init();
}
