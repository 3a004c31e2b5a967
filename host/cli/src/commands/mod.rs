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
pub(crate) mod login;
pub(crate) mod plugin;
mod scatter;
mod serialize;
mod unarchive;
pub(crate) mod util;
mod verify;

use crate::args::{Mirror, MirrorCommand};
use crate::session::Session;

pub(crate) async fn mirror(session: &Session, m: Mirror) -> anyhow::Result<()> {
    match m.command {
        MirrorCommand::Gather(args) => gather::run(session, m.recursive, args).await,
        MirrorCommand::Serialize(args) => serialize::run(session, m.recursive, args).await,
        MirrorCommand::Verify(args) => verify::run(&session.global, &args),
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
