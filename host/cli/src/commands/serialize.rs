//! `ferry mirror serialize IMAGE DEST [EXISTING-IMAGE...]`.

use std::collections::HashSet;

use anyhow::Context as _;
use std::os::unix::fs::FileTypeExt as _;

use ferry_archive::ledger::{delivered_before, parse_checkpoint_arg};
use ferry_archive::{BlockWriter, Geometry};
use ferry_engine::serialize::{SerializeOptions, existing_blobs, serialize};
use ferry_engine::store::{open_store, reference_string};
use ferry_oci::ImageRef;
use ferry_registry::Client;

use crate::args::{BlockFlags, CompressionArg, Global, SerializeArgs};
use crate::exit::{BadInput, Hint, Interrupted, USAGE, code_for};
use crate::shell;

pub(crate) async fn run(global: &Global, recursive: bool, args: SerializeArgs) -> anyhow::Result<()> {
    let image: ImageRef = args.image.parse().map_err(|e| BadInput(format!("IMAGE: {e}")))?;
    let client = Client::new(super::load_config(global)?);
    let ref_name = reference_string(&image);
    let before = file_stamp(&args.dest);
    let result = write(global, &client, recursive, &image, &ref_name, &args).await;
    // A run that stopped after it began writing says how to continue it.
    result.map_err(|e| {
        let wrote = match (before, file_stamp(&args.dest)) {
            (_, None) => args.dest == "-" || std::fs::metadata(&args.dest).is_ok_and(|m| m.file_type().is_char_device()),
            (before, after) => before != after,
        };
        if code_for(&e) == USAGE || !wrote { e } else { e.context(Hint(continuation(recursive, &image, &args))) }
    })
}

/// A regular file's identity and modification time (`None` for anything else), to tell
/// whether a run wrote it.
fn file_stamp(path: &str) -> Option<(u64, std::time::SystemTime)> {
    use std::os::unix::fs::MetadataExt as _;
    let m = std::fs::metadata(path).ok().filter(std::fs::Metadata::is_file)?;
    Some((m.ino(), m.modified().ok()?))
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
    let geometry = geometry(&args.flags.block)?;
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
    for path in &args.flags.existing_from_archive {
        if same_file(path, &args.dest) {
            return Err(BadInput(format!(
                "--existing-from-archive {}: that is DEST, which this run would overwrite; write the rest to another file",
                path.display()
            ))
            .into());
        }
        let held = ferry_archive::scan::blobs_held_at(path).with_context(|| format!("--existing-from-archive {}", path.display()))?;
        if !global.quiet && args.dest != "-" {
            println!("{}: {} whole blobs to leave out ({})", path.display(), held.blobs.len(), stop_text(&held.stop));
        }
        skip.extend(held.digests().cloned());
    }
    for e in &existing {
        let store = open_store(client, e, false)?;
        skip.extend(existing_blobs(store.as_ref(), &reference_string(e)).await.with_context(|| format!("reading existing image {e}"))?);
    }

    let src = open_store(client, image, false)?;
    let ref_name = ref_name.to_owned();
    let compression = compression(args.flags.compression);
    let options = SerializeOptions {
        ref_name,
        recursive,
        skip,
        checkpoint: args.flags.checkpoint.clone(),
        compression,
        manifest_json: args.flags.manifest_json,
    };
    // A root that does not resolve must not cost the operator the file already at DEST.
    let root = src.resolve(&reference_string(image)).await.with_context(|| format!("resolving {image}"))?;
    let out = open_destination(&args.dest, geometry)?;
    let progress = crate::output::ByteProgress::new(global, "serialize", args.dest == "-");
    let result = tokio::select! {
        r = serialize(src.as_ref(), root, out, &options, progress.events()) => r.map_err(anyhow::Error::from),
        _ = interrupted() => Err(anyhow::Error::new(Interrupted)),
    };
    progress.finish();
    let outcome = result.with_context(|| format!("serializing {image} to {}", args.dest))?;
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

/// Whether `path` and `dest` name one existing file.
fn same_file(path: &std::path::Path, dest: &str) -> bool {
    use std::os::unix::fs::MetadataExt as _;
    match (std::fs::metadata(path), std::fs::metadata(dest)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// How a partial archive ended, for the operator.
fn stop_text(stop: &ferry_archive::scan::Stop) -> String {
    use ferry_archive::scan::Stop;
    match stop {
        Stop::Complete { .. } => "the archive is complete".to_owned(),
        Stop::Cut { offset } => format!("cut after {offset} bytes of tar"),
        Stop::Corrupt { offset, error } => format!("damaged at byte {offset}, nothing after it counts: {error}"),
    }
}

/// Resolves on Ctrl-C or SIGTERM. Dropping the serialize then stops its writer: what reached
/// DEST is a whole prefix of the archive, which the continuation reads.
async fn interrupted() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => drop(s.recv().await),
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = term => {}
    }
}

/// The command that continues a serialize that stopped: the same image and options into a
/// new file, leaving out what the stopped run's output already holds.
fn continuation(recursive: bool, image: &ImageRef, args: &SerializeArgs) -> String {
    let mut cmd: Vec<String> = vec!["ferry".into(), "mirror".into()];
    if recursive {
        cmd.push("-r".into());
    }
    cmd.push("serialize".into());
    cmd.push(image.to_string());
    let is_file = args.dest != "-" && !std::fs::metadata(&args.dest).is_ok_and(|m| m.file_type().is_char_device());
    cmd.push(if is_file { rest_name(&args.dest) } else { "REST.tar".to_owned() });
    cmd.extend(args.existing.iter().cloned());
    for a in &args.flags.existing_from_archive {
        cmd.push("--existing-from-archive".into());
        cmd.push(a.display().to_string());
    }
    for c in &args.flags.existing_from_checkpoint {
        cmd.push("--existing-from-checkpoint".into());
        cmd.push(c.clone());
    }
    let mut note = String::new();
    if args.dest == "-" {
        // What reached the far end of the pipe is not known here.
        cmd.push("--existing-from-archive".into());
        cmd.push("RECEIVED".into());
        note = " (RECEIVED: the file or tape the partial stream was written to)".into();
    } else {
        cmd.push("--existing-from-archive".into());
        cmd.push(args.dest.clone());
        if !is_file {
            note = " (rewind the tape first, and load a new one for the rest)".into();
        }
    }
    if let Some(c) = args.flags.compression {
        cmd.push("--compression".into());
        cmd.push(match c {
            CompressionArg::Zstd => "zstd".into(),
            CompressionArg::Gzip => "gzip".into(),
        });
    }
    if args.flags.manifest_json {
        cmd.push("--manifest-json".into());
    }
    if let Some(ledger) = &args.flags.checkpoint {
        cmd.push("--checkpoint".into());
        cmd.push(rest_name(&ledger.display().to_string()));
    }
    format!("to continue: {}{note}", shell::line(&cmd))
}

/// `out.tar.zst` → `out.rest.tar.zst`: beside the partial, the same extensions.
fn rest_name(path: &str) -> String {
    let (dir, file) = path.rsplit_once('/').map_or(("", path), |(d, f)| (d, f));
    let (stem, ext) = file.split_once('.').unwrap_or((file, ""));
    let rest = if ext.is_empty() { format!("{stem}.rest") } else { format!("{stem}.rest.{ext}") };
    if dir.is_empty() && !path.starts_with('/') { rest } else { format!("{dir}/{rest}") }
}

/// The archive compression a `--compression` value names.
pub(crate) fn compression(arg: Option<CompressionArg>) -> Option<ferry_archive::Compression> {
    arg.map(|c| match c {
        CompressionArg::Zstd => ferry_archive::Compression::Zstd,
        CompressionArg::Gzip => ferry_archive::Compression::Gzip,
    })
}

/// The block buffer's geometry from the flags; `-b 0` and `--hwm` over 100 are usage errors.
pub(crate) fn geometry(flags: &BlockFlags) -> Result<Geometry, BadInput> {
    Geometry::from_flags(flags.buffer_size, flags.block_size, flags.hwm).map_err(|e| BadInput(e.to_string()))
}

/// DEST behind the block buffer: `-` is standard output, a character device (a tape) is
/// written in whole blocks, the last one padded, and anything else is a file, truncated.
pub(crate) fn open_destination(dest: &str, mut geometry: Geometry) -> anyhow::Result<BlockWriter> {
    if dest == "-" {
        return Ok(BlockWriter::new(std::io::stdout(), geometry));
    }
    let is_device = std::fs::metadata(dest).is_ok_and(|m| m.file_type().is_char_device());
    let file = if is_device {
        geometry.pad_last = true;
        std::fs::OpenOptions::new().write(true).open(dest)
    } else {
        std::fs::File::create(dest)
    }
    .with_context(|| format!("opening destination {dest}"))?;
    Ok(BlockWriter::new(file, geometry))
}
