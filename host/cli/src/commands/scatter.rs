//! `ferry mirror scatter IMAGE MAPPER`, and the steps scatter, clone and unarchive share:
//! route the artifacts by the rule, check the plan, then place it (or print it with
//! `--check`).

use std::collections::HashSet;
use std::path::Path;

use anyhow::Context as _;
use ferry_engine::confine::check_sources;
use ferry_engine::place::{Artifact, Content, PlaceOptions, place, plan};
use ferry_engine::scatter::{artifacts, narrow};
use ferry_engine::selector::Selector;
use ferry_engine::store::{Store, open_store, reference_string};
use ferry_oci::ImageRef;
use ferry_registry::Client;

use crate::args::{Global, RouteFlags, ScatterArgs};
use crate::exit::BadInput;
use crate::mapping::{Rule, route};
use crate::output::Progress;
use crate::plugins::{Plugins, read_sources};

pub(crate) async fn run(global: &Global, recursive: bool, args: ScatterArgs) -> anyhow::Result<()> {
    let image: ImageRef = args.image.parse().map_err(|e| BadInput(format!("IMAGE: {e}")))?;
    let selectors = parse_selectors(&args.route.selectors)?;
    let config = super::load_config(global)?;
    let plugins = Plugins::new(&config)?;
    let subset = read_subset(&plugins, args.route.sources_parser.as_deref(), args.subset.as_deref()).await?;
    let rule = Rule::load(&plugins, &args.mapper).await?;
    let client = Client::new(config);
    let store = open_store(&client, &image, false)?;
    let root = store.resolve(&reference_string(&image)).await.with_context(|| format!("resolving {image}"))?;
    let found = artifacts(store.as_ref(), &root, 0).await.with_context(|| format!("reading the gather index {image}"))?;
    let chosen = narrow(found, subset.as_ref(), &selectors);
    let stores = vec![store];
    route_and_place(global, &client, &plugins.host, &rule, &stores, chosen, &args.route, PlaceOptions { recursive, keep_going: false })
        .await
}

/// Routes `artifacts` by `rule` and places them (or, with `--check`, prints where each would
/// go). With `keep_going`, failed placements are listed and make the command fail at the end.
#[expect(clippy::too_many_arguments, reason = "the shared tail of three commands")]
pub(super) async fn route_and_place(
    global: &Global,
    client: &Client,
    plugins: &ferry_plugin::Host,
    rule: &Rule,
    stores: &[Box<dyn Store>],
    artifacts: Vec<Artifact>,
    flags: &RouteFlags,
    options: PlaceOptions,
) -> anyhow::Result<()> {
    let count = artifacts.len();
    // Source annotations are outside input: each must be a reference before a rule sees it.
    check_sources(&artifacts)?;
    let routed = route(plugins, rule, artifacts)?;
    let placements = plan(&rule.text, &routed, &rule.roots)?;
    if flags.check {
        for p in &placements {
            match &p.content {
                Content::Artifact(d) => println!("sending {} to {}", p.from, describe(&p.destination, d)),
                Content::Selection { index, .. } => {
                    println!("sending {} to {} as a new index {}", p.from, p.destination, index.descriptor().digest);
                }
            }
        }
        if !global.quiet {
            eprintln!("{count} artifacts, {} destinations; nothing copied (--check)", placements.len());
        }
        return Ok(());
    }
    let progress = Progress::new(global, "placing", placements.len() as u64, "destinations");
    let result = place(client, stores, placements, options, progress.events()).await;
    progress.finish();
    let outcome = result?;
    progress.line(&format!("Placed {} destinations: {}", outcome.placed, crate::output::copy_summary(&outcome.stats)));
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
        ImageRef::Registry(r) if r.digest.is_some() => destination.to_string(),
        _ => format!("{destination} ({})", d.digest),
    }
}

pub(super) fn parse_selectors(values: &[String]) -> anyhow::Result<Vec<Selector>> {
    values.iter().map(|v| v.parse::<Selector>().map_err(|e| BadInput(format!("--selector: {e}")).into())).collect()
}

/// The references a `--subset` sources file lists, if one was given.
pub(super) async fn read_subset(plugins: &Plugins, parser: Option<&str>, path: Option<&Path>) -> anyhow::Result<Option<HashSet<String>>> {
    let Some(path) = path else {
        return Ok(None);
    };
    let parser = plugins.sources_parser(parser).await?;
    let entries = read_sources(&plugins.host, &parser, path)?;
    if entries.is_empty() {
        return Err(BadInput(format!("--subset {} lists no sources", path.display())).into());
    }
    Ok(Some(entries.into_iter().map(|e| e.reference).collect()))
}
