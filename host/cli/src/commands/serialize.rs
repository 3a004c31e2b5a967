//! `ferry mirror serialize IMAGE DEST [EXISTING-IMAGE...]`, and what `archive` shares with it:
//! the flags as engine options, Ctrl-C, and the command that continues a stopped run.

use ferry_archive::Geometry;
use ferry_engine::delta::Delta;
use ferry_engine::report::{ArtifactRecord, Status};
use ferry_engine::serialize::{ArchiveDest, Overwrite, SerializeOptions, SerializeOutcome, SerializeRequest, serialize_image};
use ferry_oci::ImageRef;

use super::catalog::{self, Delivery};
use crate::args::{BlockFlags, CompressionArg, SerializeArgs, SerializeFlags};
use crate::exit::{Hint, Interrupted, USAGE, bad_input, code_for};
use crate::output::Output;
use crate::output::Stdout;
use crate::session::Session;
use crate::shell;

pub(crate) async fn run(session: &Session, recursive: bool, args: SerializeArgs) -> anyhow::Result<()> {
    let dest = ArchiveDest::from_arg(&args.dest);
    let delta = delta(&args.existing, &args.flags);
    let delivery = Delivery::open(session, &args.flags.catalog).await?;
    let mut options = options(&args.flags, args.image.reference_or_default(), recursive)?;
    options.catalog = delivery.planning.clone();
    let output = session.output(if dest == ArchiveDest::Stdout { Stdout::Data } else { Stdout::Status });
    crate::changer::apply(&mut options, &args.flags.tape, &output);
    let request = SerializeRequest {
        image: &args.image,
        dest: &dest,
        geometry: geometry(&args.flags.block)?,
        delta: &delta,
        options,
        overwrite: overwrite(&args.flags),
    };
    let signer = request.options.sign.as_ref().map(|key| key.public_key().fingerprint().to_owned());
    let what = format!("serializing {} to {dest}", args.image);
    let command = ["serialize".to_owned(), args.image.to_string()];
    let outcome = write(&output, &dest, what, serialize_image(session.client(), request, output.events()))
        .await
        .map_err(|e| e.hint(recursive, &command, &args.existing, &args.flags, &dest))?;
    delivery.record(&output, &dest, &outcome, compression(args.flags.compression)).await;
    output.taps().artifact(ArtifactRecord {
        reference: args.image.to_string(),
        digest: outcome.root.as_ref().map(|r| r.digest.clone()),
        destination: Some(dest.to_string()),
        status: Status::Copied,
        reason: None,
        signer,
    });
    output.summary(&(summary(&args.image, &dest, &outcome) + &catalog::summary(&outcome, delivery.planning.is_some())));
    Ok(())
}

/// Runs a serialize future until it ends or the operator stops it (Ctrl-C, SIGTERM): then the
/// writer stops, and what reached DEST is a whole prefix of the archive, which the
/// continuation reads. Notes whether DEST was written, for the hint.
pub(super) async fn write<F, T>(output: &Output, dest: &ArchiveDest, what: String, work: F) -> Result<T, Stopped>
where
    F: Future<Output = Result<T, ferry_engine::Error>>,
{
    let before = file_stamp(dest);
    let result = tokio::select! {
        r = work => r.map_err(anyhow::Error::from),
        () = crate::signal::interrupted() => Err(anyhow::Error::new(Interrupted)),
    };
    output.finish();
    let wrote = match (before, file_stamp(dest)) {
        (_, None) => dest == &ArchiveDest::Stdout || dest.is_device(),
        (before, after) => before != after,
    };
    result.map_err(|error| Stopped { error: error.context(what), wrote })
}

/// A serialize that failed, and whether it had begun writing DEST.
pub(super) struct Stopped {
    error: anyhow::Error,
    wrote: bool,
}

impl Stopped {
    /// The error, with the command that continues the run when it had begun writing
    /// (`command`: the subcommand and its arguments before DEST).
    pub(super) fn hint(
        self,
        recursive: bool,
        command: &[String],
        existing: &[ImageRef],
        flags: &SerializeFlags,
        dest: &ArchiveDest,
    ) -> anyhow::Error {
        // A set is written as DEST.001, …: DEST itself is never there.
        let set_begun = flags.volumes.volume_size.is_some()
            && dest.path().is_some_and(|p| ferry_volumes::volume_path(p, ferry_volumes::Kind::Data, 1).exists());
        if code_for(&self.error) == USAGE || !(self.wrote || set_begun) {
            return self.error;
        }
        self.error.context(Hint(continuation(recursive, command, existing, flags, dest)))
    }
}

/// `Serialized IMAGE to DEST: …`.
pub(super) fn summary(image: &impl std::fmt::Display, dest: &ArchiveDest, outcome: &SerializeOutcome) -> String {
    let set = outcome.volumes.as_ref().map(|v| {
        if dest.is_device() {
            let parity = if v.parity.is_empty() { String::new() } else { format!(" and {} parity", v.parity.len()) };
            return format!(", on {} tapes: {} data{parity}", v.data.len() + v.parity.len(), v.data.len());
        }
        let name = |p: &std::path::PathBuf| p.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        let parity = match (v.parity.first(), v.parity.last()) {
            (Some(a), Some(b)) if a == b => format!(" and parity volume {}", name(a)),
            (Some(a), Some(b)) => format!(" and parity volumes {} to {}", name(a), name(b)),
            _ => String::new(),
        };
        let data = match (v.data.first(), v.data.last()) {
            (Some(a), Some(b)) if a != b => format!("{} to {}", name(a), name(b)),
            (Some(a), _) => name(a),
            _ => String::new(),
        };
        format!(", in volumes {data}{parity}")
    });
    format!(
        "Serialized {image} to {dest}: {} blobs ({}), {} manifests, {} in all{}",
        outcome.blobs,
        crate::output::bytes(outcome.bytes),
        outcome.manifests,
        crate::output::bytes(outcome.archive_bytes),
        set.unwrap_or_default()
    )
}

/// The earlier deliveries the flags name.
pub(super) fn delta(existing: &[ImageRef], flags: &SerializeFlags) -> Delta {
    Delta {
        existing: existing.to_vec(),
        checkpoints: flags.existing_from_checkpoint.clone(),
        archives: flags.existing_from_archive.clone(),
    }
}

/// Whether `--force` lets DEST replace a file that is not an archive.
pub(super) fn overwrite(flags: &SerializeFlags) -> Overwrite {
    if flags.force { Overwrite::Any } else { Overwrite::ArchivesOnly }
}

/// How the archive is written; `--sign`'s key is read here, before any work.
pub(super) fn options(flags: &SerializeFlags, ref_name: String, recursive: bool) -> anyhow::Result<SerializeOptions> {
    let sign = match &flags.sign {
        Some(path) => Some(std::sync::Arc::new(super::bundle::private_key("--sign", path)?)),
        None => None,
    };
    Ok(SerializeOptions {
        ref_name,
        recursive,
        checkpoint: flags.checkpoint.clone(),
        compression: compression(flags.compression),
        manifest_json: flags.manifest_json,
        sign,
        volumes: flags.volumes.spec(),
        ..SerializeOptions::default()
    })
}

/// A regular file's identity and modification time (`None` for anything else), to tell
/// whether a run wrote it.
fn file_stamp(dest: &ArchiveDest) -> Option<(u64, std::time::SystemTime)> {
    use std::os::unix::fs::MetadataExt as _;
    let m = std::fs::metadata(dest.path()?).ok().filter(std::fs::Metadata::is_file)?;
    Some((m.ino(), m.modified().ok()?))
}

/// The command that continues a serialize that stopped: `command` (the subcommand and its
/// positional arguments before DEST) with the same options into a new file, leaving out what
/// the stopped run's output already holds.
pub(super) fn continuation(
    recursive: bool,
    command: &[String],
    existing: &[ImageRef],
    flags: &SerializeFlags,
    dest: &ArchiveDest,
) -> String {
    if flags.volumes.volume_size.is_some() && dest.is_device() {
        return "to continue: write the set again from its first tape; a set on tapes is not resumed".to_owned();
    }
    if flags.volumes.volume_size.is_some() {
        return format!(
            "to continue: run the same command again; the whole volumes {dest}.001, … it wrote are checked and kept where the archive matches them"
        );
    }
    let mut cmd: Vec<String> = vec!["ferry".into(), "mirror".into()];
    if recursive {
        cmd.push("-r".into());
    }
    cmd.extend(command.iter().cloned());
    let is_file = dest.path().is_some() && !dest.is_device();
    cmd.push(if is_file { rest_name(&dest.to_string()) } else { "REST.tar".to_owned() });
    cmd.extend(existing.iter().map(ToString::to_string));
    for a in &flags.existing_from_archive {
        cmd.push("--existing-from-archive".into());
        cmd.push(a.display().to_string());
    }
    for (file, offset) in &flags.existing_from_checkpoint {
        cmd.push("--existing-from-checkpoint".into());
        cmd.push(format!("{}:{offset}", file.display()));
    }
    let mut note = String::new();
    cmd.push("--existing-from-archive".into());
    match dest.path() {
        // What reached the far end of the pipe is not known here.
        None => {
            cmd.push("RECEIVED".into());
            note = " (RECEIVED: the file or tape the partial stream was written to)".into();
        }
        Some(path) => {
            cmd.push(path.display().to_string());
            if !is_file {
                note = " (rewind the tape first, and load a new one for the rest)".into();
            }
        }
    }
    if let Some(c) = flags.compression {
        cmd.push("--compression".into());
        cmd.push(match c {
            CompressionArg::Zstd => "zstd".into(),
            CompressionArg::Gzip => "gzip".into(),
        });
    }
    if flags.manifest_json {
        cmd.push("--manifest-json".into());
    }
    if flags.force {
        cmd.push("--force".into());
    }
    if let Some(ledger) = &flags.checkpoint {
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
pub(crate) fn geometry(flags: &BlockFlags) -> anyhow::Result<Geometry> {
    Geometry::from_flags(flags.buffer_size, flags.block_size, flags.hwm).map_err(bad_input("the block buffer"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rest_names_keep_extensions_and_directories() {
        assert_eq!(rest_name("out.tar.zst"), "out.rest.tar.zst");
        assert_eq!(rest_name("/d/x.tar"), "/d/x.rest.tar");
        assert_eq!(rest_name("dir/plain"), "dir/plain.rest");
        assert_eq!(rest_name("/top"), "/top.rest");
    }
}
