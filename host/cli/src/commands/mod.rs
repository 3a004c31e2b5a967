//! One module per command: each reads its arguments, calls one engine (or bundle) function
//! and draws what it reports.

mod archive;
mod batch;
pub(crate) mod bundle;
pub(crate) mod catalog;
mod clone;
pub(crate) mod config;
mod deserialize;
mod diff;
mod gather;
pub(crate) mod login;
pub(crate) mod packaging;
pub(crate) mod plugin;
mod receipt;
mod scatter;
mod serialize;
mod unarchive;
pub(crate) mod util;
mod verify;
mod volumes;

use std::sync::Arc;
use std::time::Duration;

use crate::args::{Mirror, MirrorCommand};
use crate::exit::Interrupted;
use crate::session::Session;
use crate::taps::Taps;

/// How long a stopped command may take to wind down before the process ends regardless.
const GRACE: Duration = Duration::from_secs(10);

/// Runs a mirror command with its report and debug log; Ctrl-C or SIGTERM stops it with
/// the report still written (exit 130).
pub(crate) async fn mirror(session: &Session, m: Mirror) -> anyhow::Result<()> {
    let taps = Arc::new(Taps::open(m.report.as_deref(), m.debug.as_deref())?);
    session.tap(Arc::clone(&taps));
    let name = format!("mirror {}", m.command.name());
    let stop = crate::signal::interrupted();
    let watchdog = tokio::spawn(watchdog(crate::signal::Signals::new(), Arc::clone(&taps), name.clone()));
    let result = tokio::select! {
        // A command that handles the signal itself (serialize) is asked first.
        biased;
        r = command(session, m) => r,
        () = stop => Err(anyhow::Error::new(Interrupted)),
    };
    watchdog.abort();
    taps.finish(&name, result)
}

/// A command blocked where the signal cannot reach it (opening a FIFO or a tape) would
/// otherwise never end: after a second signal, or [`GRACE`] after the first, the report is
/// written and the process exits 130.
async fn watchdog(mut signals: crate::signal::Signals, taps: Arc<Taps>, name: String) {
    signals.next().await;
    tokio::select! {
        () = tokio::time::sleep(GRACE) => {}
        () = signals.next() => {}
    }
    let _ = taps.finish(&name, Err(anyhow::Error::new(Interrupted)));
    eprintln!("error: interrupted; stopped without waiting for the command to wind down");
    std::process::exit(i32::from(crate::exit::INTERRUPTED));
}

async fn command(session: &Session, m: Mirror) -> anyhow::Result<()> {
    match m.command {
        MirrorCommand::Gather(args) => gather::run(session, m.recursive, args).await,
        MirrorCommand::Serialize(args) => serialize::run(session, m.recursive, args).await,
        MirrorCommand::Verify(args) => verify::run(session, args).await,
        MirrorCommand::Join(args) => volumes::join(session, args).await,
        MirrorCommand::Repair(args) => volumes::repair(session, args).await,
        MirrorCommand::Receipt(args) => receipt::run(session, args).await,
        MirrorCommand::Deserialize(args) => deserialize::run(session, args).await,
        MirrorCommand::Archive(args) => archive::run(session, m.recursive, args).await,
        MirrorCommand::Scatter(args) => scatter::run(session, m.recursive, args).await,
        MirrorCommand::Clone(args) => clone::run(session, m.recursive, args).await,
        MirrorCommand::Unarchive(args) => unarchive::run(session, m.recursive, args).await,
        MirrorCommand::BatchSerialize(args) => batch::serialize(session, m.recursive, args).await,
        MirrorCommand::BatchDeserialize(args) => batch::deserialize(session, args).await,
        MirrorCommand::Diff(args) => diff::run(session, args).await,
    }
}
