//! `ferry mirror scatter IMAGE MAPPER`, and what scatter, clone and unarchive share: the
//! routing flags as engine options, and drawing what routing did (or, with `--check`, would do).

use std::collections::HashSet;
use std::path::Path;

use ferry_engine::place::{Content, PlaceOptions, Placement};
use ferry_engine::route::{Retry, RouteOptions, Routed};
use ferry_engine::scatter::{Routing, read_subset, scatter};
use ferry_oci::ImageRef;

use crate::args::{PrintFormat, RouteFlags, ScatterArgs};
use crate::exit::{BadInput, bad_input};
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
    let mut routing = routing(&rule, subset.as_ref(), args.subset.as_deref(), &args.route, PlaceOptions { recursive, keep_going: false });
    routing.options.only = retry("scatter", args.retry_failed.as_deref())?;
    routing.options.images = session.image_trust(&args.route.require_signed_images)?;
    let output = session.output(Stdout::json_if(args.route.output == PrintFormat::Json));
    let routed = scatter(session.client(), &args.image, routing, output.events()).await;
    output.finish();
    report(&output, args.route.output, routed?)
}

/// What the run that wrote the report at `path` left undone, when `--retry-failed` was given.
/// The report must be one of `command`'s.
pub(super) fn retry(command: &str, path: Option<&Path>) -> anyhow::Result<Option<Retry>> {
    let Some(path) = path else { return Ok(None) };
    let report = ferry_engine::report::read(path).map_err(bad_input("--retry-failed"))?;
    if report.command != format!("mirror {command}") {
        let was = &report.command;
        return Err(BadInput(format!("--retry-failed {}: the report is of `ferry {was}`, not of a {command}", path.display())).into());
    }
    Ok(Some(report.retry()))
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
    subset_file: Option<&'a Path>,
    flags: &'a RouteFlags,
    place: PlaceOptions,
) -> Routing<'a> {
    let options = RouteOptions { check: flags.check, place, only: None, allow_empty: flags.allow_empty, images: None };
    Routing { rule, subset, subset_file, selectors: &flags.selectors, options }
}

/// Prints the plan (`--check`, as text or JSON) or the placements; failed placements (with
/// `--continue`) are listed and make the command fail.
pub(super) fn report(output: &Output, format: PrintFormat, routed: Routed) -> anyhow::Result<()> {
    let outcome = match routed {
        Routed::Checked { artifacts, placements, verdicts } => {
            if format == PrintFormat::Json {
                outln!("{}", plan_json(artifacts, &placements, &verdicts));
                return Ok(());
            }
            for v in &verdicts {
                match &v.signer {
                    Ok(key) => outln!("signed: {} by key {key}", v.artifact),
                    Err(why) => outln!("refused: {}: {why}", v.artifact),
                }
            }
            for p in &placements {
                match &p.content {
                    Content::Artifact(d) => outln!("sending {} to {}", p.from, describe(&p.destination, d)),
                    Content::Selection { index, .. } => {
                        outln!("sending {} to {} as a new index {}", p.from, p.destination, index.descriptor().digest);
                    }
                }
            }
            if !output.quiet() {
                eprintln!("{artifacts} artifacts, {} destinations; nothing copied (--check); {}", placements.len(), output.took());
            }
            return Ok(());
        }
        Routed::Placed { outcome, verdicts } => {
            let refused: Vec<_> = verdicts.iter().filter_map(|v| v.signer.as_ref().err().map(|why| (v, why))).collect();
            for (v, why) in &refused {
                eprintln!("refused: {}: {why}", v.artifact);
            }
            if !refused.is_empty() && outcome.placed == 0 && outcome.failures.is_empty() {
                anyhow::bail!("{} of {} artifacts refused by the image signature policy; nothing placed", refused.len(), verdicts.len());
            }
            if !refused.is_empty() {
                output.summary(&format!("Placed {} destinations: {}", outcome.placed, crate::output::copy_summary(&outcome.stats)));
                anyhow::bail!("{} of {} artifacts refused by the image signature policy; the rest placed", refused.len(), verdicts.len());
            }
            outcome
        }
    };
    output.summary(&format!("Placed {} destinations: {}", outcome.placed, crate::output::copy_summary(&outcome.stats)));
    let failed = outcome.failures.len();
    if failed == 0 {
        return Ok(());
    }
    for (p, e) in outcome.failures {
        eprintln!("failed: {} to {}: {}", p.from, p.destination, crate::exit::render(&anyhow::Error::new(e)));
    }
    anyhow::bail!("{failed} of {} destinations failed", failed + outcome.placed)
}

/// `{"artifacts": N, "placements": [{"from", "destination", "digest", "newIndex"}], "verdicts": […]}`.
fn plan_json(artifacts: usize, placements: &[Placement], verdicts: &[ferry_engine::trust::Verdict]) -> String {
    let verdicts: Vec<_> = verdicts
        .iter()
        .map(|v| match &v.signer {
            Ok(key) => serde_json::json!({ "artifact": v.artifact, "digest": v.digest.to_string(), "signed": true, "key": key }),
            Err(why) => serde_json::json!({ "artifact": v.artifact, "digest": v.digest.to_string(), "signed": false, "reason": why }),
        })
        .collect();
    let placements: Vec<_> = placements
        .iter()
        .map(|p| {
            serde_json::json!({
                "from": p.from,
                "destination": p.destination.to_string(),
                "digest": p.content.root().digest.to_string(),
                "newIndex": matches!(p.content, Content::Selection { .. }),
            })
        })
        .collect();
    serde_json::json!({ "artifacts": artifacts, "placements": placements, "verdicts": verdicts }).to_string()
}

fn describe(destination: &ImageRef, d: &ferry_oci::Descriptor) -> String {
    match destination {
        ImageRef::Registry(_) if destination.digest().is_some() => destination.to_string(),
        _ => format!("{destination} ({})", d.digest),
    }
}
