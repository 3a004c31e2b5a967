//! One module per command.

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

use anyhow::Context as _;
use ferry_config::Config;

use crate::args::{Global, Mirror, MirrorCommand};

pub(crate) async fn mirror(global: &Global, m: Mirror) -> anyhow::Result<()> {
    match m.command {
        MirrorCommand::Gather(args) => gather::run(global, m.recursive, args).await,
        MirrorCommand::Serialize(args) => serialize::run(global, m.recursive, args).await,
        MirrorCommand::Verify(args) => verify::run(global, &args),
        MirrorCommand::Deserialize(args) => deserialize::run(global, args).await,
        MirrorCommand::Archive(args) => archive::run(global, m.recursive, args).await,
        MirrorCommand::Scatter(args) => scatter::run(global, m.recursive, args).await,
        MirrorCommand::Clone(args) => clone::run(global, m.recursive, args).await,
        MirrorCommand::Unarchive(args) => unarchive::run(global, m.recursive, args).await,
        MirrorCommand::BatchSerialize(args) => batch::serialize(global, m.recursive, args).await,
        MirrorCommand::BatchDeserialize(args) => batch::deserialize(global, args).await,
        MirrorCommand::Diff(args) => diff::run(global, args).await,
    }
}

/// Loads the configuration the global flags point at.
pub(crate) fn load_config(global: &Global) -> anyhow::Result<Config> {
    let candidates = Config::candidates(&global.config);
    Config::load(&candidates).context("loading configuration")
}
