//! `ferry mirror serialize IMAGE DEST [EXISTING-IMAGE...]`.

use std::collections::HashSet;
use std::io::Write;

use anyhow::Context as _;
use ferry_archive::ledger::{delivered_before, parse_checkpoint_arg};
use ferry_engine::serialize::{SerializeOptions, existing_blobs, serialize};
use ferry_engine::store::{open_store, reference_string};
use ferry_oci::ImageRef;
use ferry_registry::Client;

use crate::args::{CompressionArg, Global, SerializeArgs};
use crate::exit::BadInput;

pub(crate) async fn run(global: &Global, recursive: bool, args: SerializeArgs) -> anyhow::Result<()> {
    let image: ImageRef = args.image.parse().map_err(|e| BadInput(format!("IMAGE: {e}")))?;
    let client = Client::new(super::load_config(global)?);
    let ref_name = reference_string(&image);
    write(global, &client, recursive, &image, &ref_name, &args).await
}

/// Serializes `image` per `args`; also the second half of `archive`.
pub(crate) async fn write(
    global: &Global,
    client: &Client,
    recursive: bool,
    image: &ImageRef,
    ref_name: &str,
    args: &SerializeArgs,
) -> anyhow::Result<()> {
    let existing: Vec<ImageRef> =
        args.existing.iter().map(|e| e.parse().map_err(|err| BadInput(format!("EXISTING-IMAGE {e}: {err}")))).collect::<Result<_, _>>()?;
    let checkpoints = args
        .flags
        .existing_from_checkpoint
        .iter()
        .map(|a| parse_checkpoint_arg(a).map_err(|e| BadInput(e.to_string())))
        .collect::<Result<Vec<_>, _>>()?;
    // Read every earlier ledger before the new one is created, even at the same path.
    let mut skip = HashSet::new();
    for (file, offset) in &checkpoints {
        skip.extend(delivered_before(file, *offset).map_err(ferry_engine::Error::from)?);
    }
    for e in &existing {
        let store = open_store(client, e, false)?;
        skip.extend(existing_blobs(store.as_ref(), &reference_string(e)).await.with_context(|| format!("reading existing image {e}"))?);
    }

    let src = open_store(client, image, false)?;
    let ref_name = ref_name.to_owned();
    let compression = args.flags.compression.map(|c| match c {
        CompressionArg::Zstd => ferry_archive::Compression::Zstd,
        CompressionArg::Gzip => ferry_archive::Compression::Gzip,
    });
    let options = SerializeOptions { ref_name, recursive, skip, checkpoint: args.flags.checkpoint.clone(), compression };
    let out: Box<dyn Write + Send> = if args.dest == "-" {
        Box::new(std::io::stdout())
    } else {
        let file = std::fs::File::create(&args.dest).with_context(|| format!("destination file {}", args.dest))?;
        Box::new(std::io::BufWriter::with_capacity(1 << 20, file))
    };
    let outcome = serialize(src.as_ref(), &reference_string(image), out, &options)
        .await
        .with_context(|| format!("serializing {image} to {}", args.dest))?;
    if !global.quiet && args.dest != "-" {
        println!(
            "Serialized {image} to {}: {} blobs ({}), {} manifests, {} in all",
            args.dest,
            outcome.blobs,
            crate::output::bytes(outcome.bytes),
            outcome.manifests,
            crate::output::bytes(outcome.archive_bytes)
        );
    }
    Ok(())
}
