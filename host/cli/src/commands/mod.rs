//! One module per command: each reads its arguments, calls one engine (or bundle) function
//! and draws what it reports.

mod archive;
mod batch;
pub(crate) mod bundle;
mod clone;
pub(crate) mod config;
mod deserialize;
mod diff;
mod gather;
pub(crate) mod plugin;
mod scatter;
mod serialize;
mod unarchive;
pub(crate) mod util;
mod verify;

use std::sync::Arc;

use crate::args::{Mirror, MirrorCommand};
use crate::exit::Interrupted;
use crate::session::Session;
use crate::taps::Taps;

/// Runs a mirror command with its report and debug log; Ctrl-C or SIGTERM stops it with
/// the report still written (exit 130).
pub(crate) async fn mirror(session: &Session, m: Mirror) -> anyhow::Result<()> {
    let taps = Arc::new(Taps::open(m.report.as_deref(), m.debug.as_deref())?);
    session.tap(Arc::clone(&taps));
    let name = format!("mirror {}", m.command.name());
    let stop = crate::signal::interrupted();
    let result = tokio::select! {
        // A command that handles the signal itself (serialize) is asked first.
        biased;
        r = command(session, m) => r,
        () = stop => Err(anyhow::Error::new(Interrupted)),
    };
    taps.finish(&name, result)
}

async fn command(session: &Session, m: Mirror) -> anyhow::Result<()> {
    match m.command {
        MirrorCommand::Gather(args) => gather::run(session, m.recursive, args).await,
        MirrorCommand::Serialize(args) => serialize::run(session, m.recursive, args).await,
        MirrorCommand::Verify(args) => verify::run(session, args).await,
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
