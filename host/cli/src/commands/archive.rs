//! `ferry mirror archive SOURCES-FILE DEST-FILE [EXISTING-IMAGE...]`: gather into a local OCI
//! layout (the cache), then serialize from it with the root named `--reference`.

use ferry_engine::cached::{ArchiveRequest, archive};
use ferry_engine::components::read_sources;
use ferry_engine::serialize::ArchiveDest;

use super::catalog::{self, Delivery};
use super::serialize::{compression, delta, geometry, options, overwrite, summary, write};
use crate::args::ArchiveArgs;
use crate::output::Stdout;
use crate::plugins::ComponentSources;
use crate::policy::Policy;
use crate::session::Session;

pub(crate) async fn run(session: &Session, recursive: bool, args: ArchiveArgs) -> anyhow::Result<()> {
    let parser = ComponentSources::load(session.sites()?, args.gather.sources_parser.as_deref()).await?;
    let sources = read_sources(&parser, &args.sources)?;
    let policy = Policy::optional(session.sites()?, args.gather.policy.as_deref()).await?;
    let cache = match args.cache.clone() {
        Some(cache) => cache,
        None => session.config().cache_path()?.join("archive"),
    };
    let dest = ArchiveDest::from_arg(&args.dest);
    let delta = delta(&args.existing, &args.serialize);
    let delivery = Delivery::open(session, &args.serialize.catalog).await?;
    let mut serialize = options(&args.serialize, args.reference.clone(), recursive)?;
    serialize.catalog = delivery.planning.clone();
    let output = session.output(if dest == ArchiveDest::Stdout { Stdout::Data } else { Stdout::Status });
    crate::changer::apply(&mut serialize, &args.serialize.tape, &output);
    let request = ArchiveRequest {
        sources_file: &args.sources,
        sources: &sources,
        cache: &cache,
        reference: &args.reference,
        gather: super::gather::options(session, &args.gather, recursive)?,
        policy: policy.as_ref().map(|p| p as &dyn ferry_engine::components::Policy),
        dest: &dest,
        geometry: geometry(&args.serialize.block)?,
        delta: &delta,
        serialize,
        overwrite: overwrite(&args.serialize),
    };
    let what = format!("archiving {} to {dest} through the cache {}", args.sources.display(), cache.display());
    let command = ["archive".to_owned(), args.sources.display().to_string()];
    let (gathered, serialized) = write(&output, &dest, what, archive(session.client(), request, output.events()))
        .await
        .map_err(|e| e.hint(recursive, &command, &args.existing, &args.serialize, &dest))?;
    output.line(&format!("Gathered {} entries into {} ({})", gathered.entries, cache.display(), gathered.index.digest));
    delivery.record(&output, &dest, &serialized, compression(args.serialize.compression)).await;
    let planned = catalog::summary(&serialized, delivery.planning.is_some());
    output.summary(&(summary(&format!("oci:{}:{}", cache.display(), args.reference), &dest, &serialized) + &planned));
    Ok(())
}
