//! `ferry mirror deserialize SOURCE-FILE… IMAGE`.

use std::io::Read;

use anyhow::Context as _;
use ferry_archive::Compression;
use ferry_engine::deserialize::{ArchiveInput, ArchiveSource, DeserializeOptions, deserialize};
use ferry_engine::store::{open_store, reference_string};
use ferry_oci::ImageRef;
use ferry_registry::Client;

use crate::args::{DeserializeArgs, Global};
use crate::exit::{BadInput, Hint};
use crate::shell;

pub(crate) async fn run(global: &Global, args: DeserializeArgs) -> anyhow::Result<()> {
    let image: ImageRef = args.image.parse().map_err(|e| BadInput(format!("IMAGE: {e}")))?;
    if args.sources.iter().filter(|s| *s == "-").count() > 1 {
        return Err(BadInput("SOURCE-FILE: standard input (-) can be read only once".to_owned()).into());
    }
    let client = Client::new(super::load_config(global)?);
    let sources = args.sources.iter().map(|s| open_archive(s, args.block_size)).collect::<anyhow::Result<Vec<_>>>()?;
    let dst = open_store(&client, &image, !args.dry_run)?;
    let tag = reference_string(&image);
    let options = DeserializeOptions { strict: args.strict, dry_run: args.dry_run };
    let progress = crate::output::ByteProgress::new(global, if args.dry_run { "verify" } else { "deserialize" }, false);
    let result = deserialize(sources, dst.as_ref(), &tag, options, progress.events()).await;
    progress.finish();
    let named = args.sources.join(" ");
    let outcome = match result {
        Ok(outcome) => outcome,
        Err(e) => {
            let incomplete = matches!(e, ferry_engine::Error::Incomplete(_)) && !args.dry_run;
            let e = anyhow::Error::new(e).context(format!("deserializing {named} into {image}"));
            return Err(if incomplete { e.context(Hint(completing_command(&args))) } else { e });
        }
    };
    if !global.quiet {
        let root = outcome.root.map(|r| r.digest.to_string()).unwrap_or_default();
        let verb = if args.dry_run { "Verified (dry run, nothing written)" } else { "Deserialized" };
        println!(
            "{verb} {named}: {} blobs ({}), {} already present, {} manifests; root {root}{}",
            outcome.blobs,
            crate::output::bytes(outcome.bytes),
            outcome.present,
            outcome.manifests,
            if args.dry_run { String::new() } else { format!(" tagged {tag}") }
        );
    }
    Ok(())
}

/// How an operator completes a load that stopped short: the low side writes what this
/// archive lacks, and the high side loads it (what is here already is skipped).
fn completing_command(args: &DeserializeArgs) -> String {
    let files: Vec<&str> = args.sources.iter().map(String::as_str).filter(|s| *s != "-").collect();
    let low = if files.is_empty() {
        "on the low side, serialize again with --existing-from-archive naming what was carried".to_owned()
    } else {
        let existing: Vec<String> = files.iter().map(|f| format!("--existing-from-archive {}", shell::word(f))).collect();
        format!("on the low side, `ferry mirror serialize GATHER-IMAGE REST.tar {}` writes the rest", existing.join(" "))
    };
    format!("to complete it: {low}; then here `ferry mirror deserialize REST.tar {}`", shell::word(&args.image))
}

/// A plain tar in a regular file is read at its blobs' offsets; anything else (standard
/// input, a tape, a compressed file) as a stream.
pub(super) fn open_archive(source: &str, block_size: u64) -> anyhow::Result<ArchiveSource> {
    let named = |input| Ok(ArchiveSource { name: source.to_owned(), input });
    let input: Box<dyn Read + Send> = if source == "-" {
        Box::new(std::io::stdin())
    } else {
        let file = std::fs::File::open(source).with_context(|| format!("opening {source}"))?;
        let regular = file.metadata().is_ok_and(|m| m.is_file());
        if regular && ferry_archive::reader::file_compression(&file).with_context(|| format!("reading {source}"))? == Compression::None {
            return named(ArchiveInput::File(file));
        }
        Box::new(file)
    };
    let buffer = match usize::try_from(block_size) {
        Ok(0) => ferry_archive::reader::READ_BUFFER,
        Ok(n) => n,
        Err(_) => return Err(BadInput(format!("--block-size {} is too large", block_size)).into()),
    };
    let (_, stream) = ferry_archive::reader::open_with_buffer(input, buffer).with_context(|| format!("reading {source}"))?;
    named(ArchiveInput::Stream(stream))
}
