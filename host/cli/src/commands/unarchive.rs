//! `ferry mirror unarchive SOURCE-FILE MAPPER`: deserialize into the local cache (an OCI
//! layout), then scatter from it.
//!
//! Fixed against ace-dt (spec §13 item 24): `--check` still reads the archive into the cache
//! (it is ferry's own store, not a destination), so the scatter step can list every
//! destination; ace-dt dry-ran both steps and then could not read the index.

use anyhow::Context as _;
use ferry_engine::deserialize::{DeserializeOptions, deserialize};
use ferry_engine::place::PlaceOptions;
use ferry_engine::scatter::{artifacts, narrow};
use ferry_engine::store::open_store;
use ferry_oci::{ImageRef, LayoutRef};
use ferry_registry::Client;

use super::deserialize::open_archive;
use super::scatter::{parse_selectors, read_subset, route_and_place};
use crate::args::{Global, UnarchiveArgs};
use crate::mapping::Rule;
use crate::plugins::Plugins;

pub(crate) async fn run(global: &Global, recursive: bool, args: UnarchiveArgs) -> anyhow::Result<()> {
    let selectors = parse_selectors(&args.route.selectors)?;
    let config = super::load_config(global)?;
    let plugins = Plugins::new(&config)?;
    let subset = read_subset(&plugins, args.route.sources_parser.as_deref(), args.subset.as_deref()).await?;
    let rule = Rule::load(&plugins, &args.mapper).await?;
    let cache = match args.cache.clone() {
        Some(cache) => cache,
        None => config.cache_path()?.join("unarchive"),
    };
    let client = Client::new(config);
    let cached = ImageRef::Layout(LayoutRef { path: cache.clone(), tag: Some(args.reference.clone()), digest: None });
    let store = open_store(&client, &cached, true)?;
    let input = open_archive(&args.source, args.block_size)?;
    let progress = crate::output::ByteProgress::new(global, "deserialize", false);
    let result = deserialize(
        vec![input],
        store.as_ref(),
        &args.reference,
        DeserializeOptions { strict: args.strict, dry_run: false },
        progress.events(),
    )
    .await;
    progress.finish();
    let outcome = result.with_context(|| format!("deserializing {} into the cache {}", args.source, cache.display()))?;
    let root = outcome.root.with_context(|| format!("{}: the archive has no root", args.source))?;
    let found = artifacts(store.as_ref(), &root, 0).await.with_context(|| format!("reading the archive's root {}", root.digest))?;
    let chosen = narrow(found, subset.as_ref(), &selectors);
    let stores = vec![store];
    route_and_place(global, &client, &plugins.host, &rule, &stores, chosen, &args.route, PlaceOptions { recursive, keep_going: false })
        .await
}
