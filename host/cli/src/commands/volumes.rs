//! `ferry mirror join VOLUME… -o FILE` and `ferry mirror repair VOLUME… -o DIR`: a media set
//! back into the plain archive, and its lost volumes written back; both rebuild from parity.

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use ferry_engine::tape::{DeviceContent, StagedSet};
use ferry_volumes::{Condition, Survey, VolumeError};

use crate::args::{JoinArgs, RepairArgs, TapeFlags};
use crate::exit::{BadInput, bad_input};
use crate::output::Output;
use crate::session::Session;
use crate::stdout::outln;

pub(crate) async fn join(_session: &Session, args: JoinArgs) -> anyhow::Result<()> {
    tokio::task::spawn_blocking(move || join_blocking(&args)).await?
}

/// What the tape named alone in `paths` holds: a set staged from its tapes (`every` volume,
/// parity included, or what the set needs), or any other stream from its first byte (a tape
/// is read once). `None` for files.
pub(crate) fn stage_tape(
    paths: &[PathBuf],
    flags: &TapeFlags,
    output: Option<&Arc<Output>>,
    every: bool,
) -> anyhow::Result<Option<DeviceContent>> {
    let [path] = paths else { return Ok(None) };
    if !ferry_engine::tape::is_device(path) {
        return Ok(None);
    }
    let media = ferry_engine::tape::Media { every_volume: every, ..crate::changer::media(flags, 0, output) };
    Ok(Some(ferry_engine::tape::open_device(path, &media, false)?))
}

/// The set's volumes: those named, or those staged from the tape named.
fn volumes_of(volumes: &[PathBuf], flags: &TapeFlags, every: bool) -> anyhow::Result<(Vec<PathBuf>, Option<StagedSet>)> {
    match stage_tape(volumes, flags, None, every)? {
        Some(DeviceContent::Set(staged)) => Ok((staged.volumes.clone(), Some(staged))),
        Some(DeviceContent::Stream(_)) => Err(BadInput(format!("{}: the tape holds no media set", volumes[0].display())).into()),
        None => Ok((volumes.to_vec(), None)),
    }
}

fn join_blocking(args: &JoinArgs) -> anyhow::Result<()> {
    if args.output.exists() && !args.force {
        return Err(BadInput(format!("{} exists; pass --force to overwrite it", args.output.display())).into());
    }
    let (volumes, staged) = volumes_of(&args.volumes, &args.tape, false)?;
    let survey = open(&volumes, false, staged.as_ref())?;
    let base = survey.name();
    let lost = lost(&survey);
    let stream = survey.stream;
    let (unfinished, data_count) = (survey.unfinished, survey.data_count);
    let mut reader = survey.reader();
    // Written beside FILE and renamed when whole: FILE is never a part of the archive.
    let partial = PathBuf::from(format!("{}.partial", args.output.display()));
    let mut out = std::fs::File::create(&partial).with_context(|| format!("creating {}", partial.display()))?;
    let copied = std::io::copy(&mut reader, &mut out).with_context(|| format!("joining the media set {base}"));
    let copied = match copied {
        Ok(n) => n,
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            return Err(e);
        }
    };
    out.flush().and_then(|()| out.sync_all()).with_context(|| format!("writing {}", partial.display()))?;
    std::fs::rename(&partial, &args.output).with_context(|| format!("renaming {} to {}", partial.display(), args.output.display()))?;
    anyhow::ensure!(copied == stream, "the media set {base} joined to {copied} bytes; its headers say {stream}");
    let rebuilt = if lost.is_empty() { String::new() } else { format!(" (rebuilt from parity: {})", lost.join(", ")) };
    outln!("Joined {base} into {}: {copied} bytes{rebuilt}", args.output.display());
    if unfinished {
        // Not an error: a partial archive is what deserialize and a continuation take.
        eprintln!(
            "warning: the set's writing did not finish: {} is a partial archive of its {} whole volumes",
            args.output.display(),
            data_count
        );
    }
    Ok(())
}

pub(crate) async fn repair(_session: &Session, args: RepairArgs) -> anyhow::Result<()> {
    tokio::task::spawn_blocking(move || {
        if !args.dir.is_dir() {
            return Err(BadInput(format!("-o {}: not a directory", args.dir.display())).into());
        }
        // Every volume: repair writes back whatever is lost or damaged, parity included.
        let (volumes, staged) = volumes_of(&args.volumes, &args.tape, true)?;
        let survey = open(&volumes, true, staged.as_ref())?;
        let written = survey.repair(&args.dir).map_err(|e| set_error(&survey, e))?;
        if written.is_empty() {
            outln!("{}: every volume is good; nothing to repair", survey.name());
        }
        for path in written {
            outln!("Rebuilt {}", path.display());
        }
        Ok(())
    })
    .await?
}

/// Surveys the set (`check`: every stripe read, as for a set staged from tapes), refusing
/// volumes of another set and a set that cannot be rebuilt.
fn open(volumes: &[PathBuf], check: bool, staged: Option<&StagedSet>) -> anyhow::Result<Survey> {
    let named = staged
        .map_or_else(|| volumes.first().map(|v| v.display().to_string()).unwrap_or_default(), |s| format!("on {}", s.device.display()));
    let survey = ferry_volumes::survey(volumes, check || staged.is_some()).map_err(|e| wrap(&named, e))?;
    let survey = match staged {
        Some(staged) => survey.from_tapes(&staged.device),
        None => survey,
    };
    for r in &survey.reports {
        if let Condition::Unreadable(why) = &r.condition {
            eprintln!("warning: {}: {why}; left out", r.path.display());
        }
    }
    survey.refuse_strangers().map_err(|e| set_error(&survey, e))?;
    survey.rebuildable().map_err(|e| set_error(&survey, e))?;
    Ok(survey)
}

/// The volumes missing or damaged, by name.
fn lost(survey: &Survey) -> Vec<String> {
    survey
        .reports
        .iter()
        .filter(|r| matches!(r.condition, Condition::Missing | Condition::Damaged { .. }))
        .map(|r| r.path.file_name().map_or_else(|| r.path.display().to_string(), |n| n.to_string_lossy().into_owned()))
        .collect()
}

fn set_error(survey: &Survey, e: VolumeError) -> anyhow::Error {
    wrap(&survey.name(), e)
}

fn wrap(name: &str, e: VolumeError) -> anyhow::Error {
    let what = format!("media set {name}");
    if e.is_bad_input() { bad_input(what)(e) } else { anyhow::Error::new(e).context(what) }
}
