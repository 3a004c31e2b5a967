//! `ferry mirror clone SOURCES-FILE MAPPER`: each source straight from its registry to the
//! destinations the rule gives it, with no gather index.
//!
//! Fixed against ace-dt (spec §13 items 15, 25): with `-p`, each selected platform manifest
//! is routed on its own (several sent to one reference form one index of those platforms,
//! where ace-dt tagged each in turn and the last won); `--continue` lists the failures and
//! exits 1 if there were any (ace-dt exited 0).

use anyhow::Context as _;
use ferry_engine::clone::resolve;
use ferry_engine::place::PlaceOptions;
use ferry_engine::selector::any_matches;
use ferry_registry::Client;

use super::gather::parse_platforms;
use super::scatter::{parse_selectors, route_and_place};
use crate::args::{CloneArgs, Global};
use crate::mapping::Rule;
use crate::output::Progress;
use crate::plugins::{Plugins, read_sources};

pub(crate) async fn run(global: &Global, recursive: bool, args: CloneArgs) -> anyhow::Result<()> {
    let selectors = parse_selectors(&args.route.selectors)?;
    let platforms = parse_platforms(&args.platforms)?;
    let config = super::load_config(global)?;
    let plugins = Plugins::new(&config)?;
    let rule = Rule::load(&plugins, &args.mapper).await?;
    let parser = plugins.sources_parser(args.route.sources_parser.as_deref()).await?;
    let mut sources = read_sources(&plugins.host, &parser, &args.sources)?;
    sources.retain(|s| any_matches(&selectors, &s.labels));
    let client = Client::new(config);
    let progress = Progress::new(global, "resolve", sources.len() as u64, "sources");
    let resolved = resolve(&client, &args.sources, &sources, &platforms, args.keep_going, progress.events()).await;
    progress.finish();
    let resolved = resolved.with_context(|| format!("resolving the sources of {}", args.sources.display()))?;
    let options = PlaceOptions { recursive, keep_going: args.keep_going };
    let placed = route_and_place(global, &client, &plugins.host, &rule, &resolved.stores, resolved.artifacts, &args.route, options).await;
    let failed = resolved.failures.len();
    if failed == 0 {
        return placed;
    }
    for (reference, e) in resolved.failures {
        eprintln!("failed: {reference}: {}", crate::exit::render(&anyhow::Error::new(e)));
    }
    placed?;
    anyhow::bail!("{failed} of {} sources could not be resolved", sources.len())
}
