//! `ferry mirror clone SOURCES-FILE MAPPER`: each source straight from its registry to the
//! destinations the rule gives it, with no gather index.
//!
//! Fixed against ace-dt (spec §13 items 15, 25): with `-p`, each selected platform manifest
//! is routed on its own (several sent to one reference form one index of those platforms,
//! where ace-dt tagged each in turn and the last won); `--continue` lists the failures and
//! exits 1 if there were any (ace-dt exited 0).

use anyhow::Context as _;
use ferry_engine::clone::{CloneRequest, clone};
use ferry_engine::components::read_sources;

use ferry_engine::place::PlaceOptions;
use ferry_engine::route::RouteOptions;

use super::scatter::{report, retry};
use crate::args::{CloneArgs, PrintFormat, platforms};
use crate::mapping::Rule;
use crate::output::Stdout;
use crate::plugins::ComponentSources;
use crate::policy::Policy;
use crate::session::Session;

pub(crate) async fn run(session: &Session, recursive: bool, args: CloneArgs) -> anyhow::Result<()> {
    let sites = session.sites()?;
    let rule = Rule::load(sites, &args.mapper).await?;
    let policy = Policy::optional(sites, args.route.policy.as_deref()).await?;
    let parser = ComponentSources::load(sites, args.route.sources_parser.as_deref()).await?;
    let sources = read_sources(&parser, &args.sources)?;
    let request = CloneRequest {
        sources_file: &args.sources,
        sources,
        platforms: &platforms(&args.platforms),
        selectors: &args.route.selectors,
        rule: &rule,
        policy: policy.as_ref().map(|p| p as &dyn ferry_engine::components::Policy),
        options: RouteOptions {
            check: args.route.check,
            place: PlaceOptions { recursive, keep_going: args.keep_going },
            only: retry("clone", args.retry_failed.as_deref())?,
            allow_empty: args.route.allow_empty,
            images: session.image_trust(&args.route.require_signed_images, policy.is_some())?,
        },
    };
    let output = session.output(Stdout::json_if(args.route.output == PrintFormat::Json));
    let outcome = clone(session.client(), request, output.events()).await;
    output.finish();
    let outcome = outcome.with_context(|| format!("resolving the sources of {}", args.sources.display()))?;
    let placed = outcome.routed.map_err(anyhow::Error::from).and_then(|routed| report(&output, args.route.output, routed));
    let failed = outcome.unresolved.len();
    if failed == 0 {
        return placed;
    }
    for (reference, e) in outcome.unresolved {
        eprintln!("failed: {reference}: {}", crate::exit::render(&anyhow::Error::new(e)));
    }
    placed?;
    anyhow::bail!("{failed} of {} sources could not be resolved", outcome.sources)
}
