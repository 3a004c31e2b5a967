//! `ferry mirror gather SOURCES-FILE IMAGE`.

use std::collections::BTreeMap;

use anyhow::Context as _;
use ferry_engine::gather::{GatherOptions, gather};
use ferry_oci::{ImageRef, Platform};
use ferry_registry::Client;

use crate::args::{GatherArgs, Global};
use crate::exit::BadInput;
use crate::output::Progress;

pub(crate) async fn run(global: &Global, recursive: bool, args: GatherArgs) -> anyhow::Result<()> {
    let dest: ImageRef = args.image.parse().map_err(|e| BadInput(format!("IMAGE: {e}")))?;
    let annotations = parse_annotations(&args.flags.annotations)?;
    let platforms = parse_platforms(&args.flags.platforms)?;
    let config = super::load_config(global)?;
    let plugins = crate::plugins::Plugins::new(&config)?;
    let parser = plugins.sources_parser(args.flags.sources_parser.as_deref()).await?;
    let sources = crate::plugins::read_sources(&plugins.host, &parser, &args.sources)?;
    let options = GatherOptions { platforms, annotations, index_fallback: args.flags.index_fallback, recursive };
    let client = Client::new(config);
    let progress = Progress::new(global, "gather", sources.len() as u64, "sources");
    let outcome =
        gather(&client, &args.sources, &sources, &dest, &options, progress.events()).await.context(format!("gathering into {dest}"))?;
    progress.finish();
    progress.line(&format!("Gathered: {}", crate::output::copy_summary(&outcome.stats)));
    progress.line(&format!(
        "Gather index: {}@{} ({} entries, {} total, {} deduplicated)",
        outcome.reference.rsplit_once(':').map_or(outcome.reference.as_str(), |(r, _)| r),
        outcome.index.digest,
        outcome.entries,
        crate::output::bytes(outcome.total_bytes),
        crate::output::bytes(outcome.deduplicated_bytes)
    ));
    progress.line(&format!("Pushed index to destination: {}", outcome.reference));
    Ok(())
}

pub(crate) fn parse_annotations(values: &[String]) -> anyhow::Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for pair in values.iter().flat_map(|v| v.split(',')) {
        let (k, v) = pair.split_once('=').ok_or_else(|| BadInput(format!("--annotations: {pair:?} should be key=value")))?;
        if k.is_empty() {
            return Err(BadInput(format!("--annotations: {pair:?} has an empty key")).into());
        }
        out.insert(k.to_owned(), v.to_owned());
    }
    Ok(out)
}

/// `all` anywhere means no filter (ace-dt matched only platform-less descriptors).
pub(crate) fn parse_platforms(values: &[String]) -> anyhow::Result<Vec<Platform>> {
    if values.iter().any(|v| v == "all") {
        return Ok(Vec::new());
    }
    values.iter().map(|v| v.parse::<Platform>().map_err(|e| BadInput(format!("--platforms: {e}")).into())).collect()
}
