//! `ferry mirror archive SOURCES-FILE DEST-FILE [EXISTING-IMAGE...]`: gather into a local OCI
//! layout (the cache), then serialize from it with the root named `--reference`.

use anyhow::Context as _;
use ferry_engine::gather::{GatherOptions, gather};
use ferry_oci::{ImageRef, LayoutRef};
use ferry_registry::Client;

use super::gather::{parse_annotations, parse_platforms};
use crate::args::{ArchiveArgs, Global, SerializeArgs};
use crate::output::Progress;

pub(crate) async fn run(global: &Global, recursive: bool, args: ArchiveArgs) -> anyhow::Result<()> {
    let annotations = parse_annotations(&args.gather.annotations)?;
    let platforms = parse_platforms(&args.gather.platforms)?;
    let config = super::load_config(global)?;
    let cache = match args.cache.clone() {
        Some(cache) => cache,
        None => config.cache_path()?.join("archive"),
    };
    let plugins = crate::plugins::Plugins::new(&config)?;
    let parser = plugins.sources_parser(args.gather.sources_parser.as_deref()).await?;
    let sources = crate::plugins::read_sources(&plugins.host, &parser, &args.sources)?;
    let client = Client::new(config);
    // The gather index is tagged in the cache under the archive's reference name.
    let gathered = ImageRef::Layout(LayoutRef { path: cache.clone(), tag: Some(args.reference.clone()), digest: None });
    let options = GatherOptions { platforms, annotations, index_fallback: args.gather.index_fallback, recursive };
    let progress = Progress::new(global, "gather", sources.len() as u64, "sources");
    let outcome = gather(&client, &args.sources, &sources, &gathered, &options, progress.events())
        .await
        .with_context(|| format!("gathering into the cache {}", cache.display()))?;
    progress.finish();
    progress.line(&format!("Gathered {} entries into {} ({})", outcome.entries, cache.display(), outcome.index.digest));
    let serialize = SerializeArgs { image: gathered.to_string(), dest: args.dest, existing: args.existing, flags: args.serialize };
    super::serialize::write(global, &client, recursive, &gathered, &args.reference, &serialize).await
}
