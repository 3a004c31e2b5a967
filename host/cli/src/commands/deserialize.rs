//! `ferry mirror deserialize SOURCE-FILE IMAGE`.

use std::io::Read;

use anyhow::Context as _;
use ferry_archive::Compression;
use ferry_engine::deserialize::{ArchiveInput, DeserializeOptions, deserialize};
use ferry_engine::store::{open_store, reference_string};
use ferry_oci::ImageRef;
use ferry_registry::Client;

use crate::args::{DeserializeArgs, Global};
use crate::exit::BadInput;

pub(crate) async fn run(global: &Global, args: DeserializeArgs) -> anyhow::Result<()> {
    let image: ImageRef = args.image.parse().map_err(|e| BadInput(format!("IMAGE: {e}")))?;
    let client = Client::new(super::load_config(global)?);
    let input = open_archive(&args.source, args.block_size)?;
    let dst = open_store(&client, &image, !args.dry_run)?;
    let tag = reference_string(&image);
    let options = DeserializeOptions { strict: args.strict, dry_run: args.dry_run };
    let progress = crate::output::ByteProgress::new(global, if args.dry_run { "verify" } else { "deserialize" }, false);
    let result = deserialize(input, dst.as_ref(), &tag, options, progress.events()).await;
    progress.finish();
    let outcome = result.with_context(|| format!("deserializing {} into {image}", args.source))?;
    if !global.quiet {
        let root = outcome.root.map(|r| r.digest.to_string()).unwrap_or_default();
        let verb = if args.dry_run { "Verified (dry run, nothing written)" } else { "Deserialized" };
        println!(
            "{verb} {}: {} blobs ({}), {} already present, {} manifests; root {root}{}",
            args.source,
            outcome.blobs,
            crate::output::bytes(outcome.bytes),
            outcome.present,
            outcome.manifests,
            if args.dry_run { String::new() } else { format!(" tagged {tag}") }
        );
    }
    Ok(())
}

/// A plain tar in a regular file is read at its blobs' offsets; anything else (standard
/// input, a tape, a compressed file) as a stream.
pub(super) fn open_archive(source: &str, block_size: u64) -> anyhow::Result<ArchiveInput> {
    let input: Box<dyn Read + Send> = if source == "-" {
        Box::new(std::io::stdin())
    } else {
        let file = std::fs::File::open(source).with_context(|| format!("opening {source}"))?;
        let regular = file.metadata().is_ok_and(|m| m.is_file());
        if regular && ferry_archive::reader::file_compression(&file).with_context(|| format!("reading {source}"))? == Compression::None {
            return Ok(ArchiveInput::File(file));
        }
        Box::new(file)
    };
    let buffer = match usize::try_from(block_size) {
        Ok(0) => ferry_archive::reader::READ_BUFFER,
        Ok(n) => n,
        Err(_) => return Err(BadInput(format!("--block-size {} is too large", block_size)).into()),
    };
    let (_, stream) = ferry_archive::reader::open_with_buffer(input, buffer).with_context(|| format!("reading {source}"))?;
    Ok(ArchiveInput::Stream(stream))
}
