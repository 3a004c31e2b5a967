//! `ferry mirror scatter IMAGE MAPPER`, and what scatter, clone and unarchive share: the
//! routing flags as engine options, and drawing what routing did (or, with `--check`, would do).

use std::collections::HashSet;
use std::path::Path;

use ferry_engine::place::{Content, PlaceOptions, Placement};
use ferry_engine::route::{Retry, RouteOptions, Routed};
use ferry_engine::scatter::{Routing, read_subset, scatter};
use ferry_engine::trust::{Ruling, Verdict};
use ferry_oci::ImageRef;

use crate::args::{PrintFormat, RouteFlags, ScatterArgs};
use crate::exit::{BadInput, bad_input};
use crate::mapping::Rule;
use crate::output::Output;
use crate::output::Stdout;
use crate::plugins::ComponentSources;
use crate::policy::Policy;
use crate::session::Session;
use crate::stdout::outln;

pub(crate) async fn run(session: &Session, recursive: bool, args: ScatterArgs) -> anyhow::Result<()> {
    let sites = session.sites()?;
    let subset = subset(session, &args.route, args.subset.as_deref()).await?;
    let rule = Rule::load(sites, &args.mapper).await?;
    let policy = Policy::optional(sites, args.route.policy.as_deref()).await?;
    let mut routing = routing(&rule, subset.as_ref(), args.subset.as_deref(), &args.route, PlaceOptions { recursive, keep_going: false });
    routing.options.only = retry("scatter", args.retry_failed.as_deref())?;
    routing.options.images = session.image_trust(&args.route.require_signed_images, policy.is_some())?;
    routing.policy = policy.as_ref().map(|p| p as &dyn ferry_engine::components::Policy);
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
    Routing { rule, policy: None, subset, subset_file, selectors: &flags.selectors, options }
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
                outln!("{}", verdict_line(v));
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
            let refused: Vec<_> = verdicts.iter().filter_map(|v| v.refusal().map(|why| (v, why))).collect();
            for (v, why) in &refused {
                eprintln!("refused: {}: {why}", v.artifact);
            }
            let by = refused_by(&verdicts);
            if !refused.is_empty() && outcome.placed == 0 && outcome.failures.is_empty() {
                anyhow::bail!("{} of {} artifacts refused by {by}; nothing placed", refused.len(), verdicts.len());
            }
            if !refused.is_empty() {
                output.summary(&format!("Placed {} destinations: {}", outcome.placed, crate::output::copy_summary(&outcome.stats)));
                anyhow::bail!("{} of {} artifacts refused by {by}; the rest placed", refused.len(), verdicts.len());
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

/// A verdict as `--check` prints it: `signed: ART by key K`, `allowed: ART: reason` or
/// `refused: ART: reason`.
fn verdict_line(v: &Verdict) -> String {
    match (&v.decision, &v.signer) {
        (Ruling::Refused { .. }, _) => format!("refused: {}: {}", v.artifact, v.refusal().unwrap_or_default()),
        (Ruling::Admitted { reason: Some(why) }, Some(key)) => format!("signed: {} by key {key}; allowed: {why}", v.artifact),
        (Ruling::Admitted { reason: Some(why) }, None) => format!("allowed: {}: {why}", v.artifact),
        (Ruling::Admitted { reason: None }, Some(key)) => format!("signed: {} by key {key}", v.artifact),
        (Ruling::Admitted { reason: None }, None) => format!("allowed: {}", v.artifact),
    }
}

/// Who refused: the image signature policy, the policy component, or both.
fn refused_by(verdicts: &[Verdict]) -> String {
    let mut by: Vec<&str> = verdicts
        .iter()
        .filter_map(|v| match &v.decision {
            Ruling::Refused { by, .. } => Some(by.as_str()),
            Ruling::Admitted { .. } => None,
        })
        .collect();
    by.sort_unstable();
    by.dedup();
    by.join(" and ")
}

/// `{"artifacts": N, "placements": [{"from", "destination", "digest", "newIndex"}], "verdicts": […]}`.
fn plan_json(artifacts: usize, placements: &[Placement], verdicts: &[Verdict]) -> String {
    let verdicts: Vec<_> = verdicts
        .iter()
        .map(|v| {
            let mut doc = serde_json::json!({ "artifact": v.artifact, "digest": v.digest.to_string(), "signed": v.signer.is_some() });
            if let Some(key) = &v.signer {
                doc["key"] = key.as_str().into();
            }
            match &v.decision {
                Ruling::Refused { by, reason } => {
                    doc["allowed"] = false.into();
                    doc["refusedBy"] = by.as_str().into();
                    doc["reason"] = reason.as_str().into();
                }
                Ruling::Admitted { reason } => {
                    doc["allowed"] = true.into();
                    if let Some(reason) = reason {
                        doc["reason"] = reason.as_str().into();
                    }
                }
            }
            doc
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
