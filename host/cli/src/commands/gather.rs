//! `ferry mirror gather SOURCES-FILE IMAGE`.

use std::sync::Arc;

use anyhow::Context as _;
use ferry_engine::components::read_sources;
use ferry_engine::gather::{GatherOptions, gather};
use ferry_engine::trust::ImageTrust;

use crate::args::{GatherArgs, GatherFlags, annotations, platforms};
use crate::output::Stdout;
use crate::output::copy_summary;
use crate::plugins::ComponentSources;
use crate::policy::Policy;
use crate::session::Session;

pub(crate) async fn run(session: &Session, recursive: bool, args: GatherArgs) -> anyhow::Result<()> {
    let parser = ComponentSources::load(session.sites()?, args.flags.sources_parser.as_deref()).await?;
    let sources = read_sources(&parser, &args.sources)?;
    let policy = Policy::optional(session.sites()?, args.flags.policy.as_deref()).await?;
    let options = options(session, &args.flags, recursive)?;
    let output = session.output(Stdout::Status);
    let policy_ref = policy.as_ref().map(|p| p as &dyn ferry_engine::components::Policy);
    let outcome = gather(session.client(), &args.sources, &sources, &args.image, &options, policy_ref, output.events()).await;
    output.finish();
    let outcome = outcome.with_context(|| format!("gathering into {}", args.image))?;
    output.line(&format!("Gathered: {}", copy_summary(&outcome.stats)));
    output.line(&format!(
        "Gather index: {}@{} ({} entries, {} total, {} deduplicated)",
        outcome.reference.rsplit_once(':').map_or(outcome.reference.as_str(), |(r, _)| r),
        outcome.index.digest,
        outcome.entries,
        crate::output::bytes(outcome.total_bytes),
        crate::output::bytes(outcome.deduplicated_bytes)
    ));
    output.summary(&format!("Pushed index to destination: {}", outcome.reference));
    Ok(())
}

/// The gather options the flags (and, for a policy, the config's image keys) give; shared
/// with `archive`.
pub(super) fn options(session: &Session, flags: &GatherFlags, recursive: bool) -> anyhow::Result<GatherOptions> {
    Ok(GatherOptions {
        platforms: platforms(&flags.platforms),
        annotations: annotations(&flags.annotations),
        index_fallback: flags.index_fallback,
        recursive,
        allow_empty: flags.allow_empty,
        // The low side requires no signature: the keys only check those a policy sees.
        images: match flags.policy {
            Some(_) => session.image_trust(&[], true)?.map(|t| Arc::new(ImageTrust { required: false, ..t.as_ref().clone() })),
            None => None,
        },
    })
}
