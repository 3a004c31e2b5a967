//! `ferry mirror scatter IMAGE MAPPER`, and what scatter, clone and unarchive share: the
//! routing flags as engine options, and drawing what routing did (or, with `--check`, would do).

use std::collections::HashSet;

use ferry_engine::place::{Content, PlaceOptions};
use ferry_engine::route::{RouteOptions, Routed};
use ferry_engine::scatter::{Routing, read_subset, scatter};
use ferry_oci::ImageRef;

use crate::args::{RouteFlags, ScatterArgs};
use crate::mapping::Rule;
use crate::output::Output;
use crate::output::Stdout;
use crate::plugins::ComponentSources;
use crate::session::Session;
use crate::stdout::outln;

pub(crate) async fn run(session: &Session, recursive: bool, args: ScatterArgs) -> anyhow::Result<()> {
    let sites = session.sites()?;
    let subset = subset(session, &args.route, args.subset.as_deref()).await?;
    let rule = Rule::load(sites, &args.mapper).await?;
    let routing = routing(&rule, subset.as_ref(), &args.route, PlaceOptions { recursive, keep_going: false });
    let output = session.output(Stdout::Status);
    let routed = scatter(session.client(), &args.image, routing, output.events()).await;
    output.finish();
    report(&output, routed?)
}

/// The references a `--subset` sources file lists, if one was given.
pub(super) async fn subset(
    session: &Session,
    flags: &RouteFlags,
    path: Option<&std::path::Path>,
) -> anyhow::Result<Option<HashSet<String>>> {
    let Some(path) = path else {
        return Ok(None);
    };
    let parser = ComponentSources::load(session.sites()?, flags.sources_parser.as_deref()).await?;
    Ok(Some(read_subset(&parser, path)?))
}

/// What the flags route and how.
pub(super) fn routing<'a>(
    rule: &'a Rule<'_>,
    subset: Option<&'a HashSet<String>>,
    flags: &'a RouteFlags,
    place: PlaceOptions,
) -> Routing<'a> {
    Routing { rule, subset, selectors: &flags.selectors, options: RouteOptions { check: flags.check, place } }
}

/// Prints the plan (`--check`) or the placements; failed placements (with `--continue`) are
/// listed and make the command fail.
pub(super) fn report(output: &Output, routed: Routed) -> anyhow::Result<()> {
    let outcome = match routed {
        Routed::Checked { artifacts, placements } => {
            for p in &placements {
                match &p.content {
                    Content::Artifact(d) => outln!("sending {} to {}", p.from, describe(&p.destination, d)),
                    Content::Selection { index, .. } => {
                        outln!("sending {} to {} as a new index {}", p.from, p.destination, index.descriptor().digest);
                    }
                }
            }
            if !output.quiet() {
                eprintln!("{artifacts} artifacts, {} destinations; nothing copied (--check)", placements.len());
            }
            return Ok(());
        }
        Routed::Placed(outcome) => outcome,
    };
    output.line(&format!("Placed {} destinations: {}", outcome.placed, crate::output::copy_summary(&outcome.stats)));
    let failed = outcome.failures.len();
    if failed == 0 {
        return Ok(());
    }
    for (p, e) in outcome.failures {
        eprintln!("failed: {} to {}: {}", p.from, p.destination, crate::exit::render(&anyhow::Error::new(e)));
    }
    anyhow::bail!("{failed} of {} destinations failed", failed + outcome.placed)
}

fn describe(destination: &ImageRef, d: &ferry_oci::Descriptor) -> String {
    match destination {
        ImageRef::Registry(_) if destination.digest().is_some() => destination.to_string(),
        _ => format!("{destination} ({})", d.digest),
    }
}
