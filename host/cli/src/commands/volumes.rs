//! `ferry mirror join VOLUME… -o FILE` and `ferry mirror repair VOLUME… -o DIR`: a media set
//! back into the plain archive, and its lost volumes written back; both rebuild from parity.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use ferry_volumes::{Condition, Survey, VolumeError};

use crate::args::{JoinArgs, RepairArgs};
use crate::exit::{BadInput, bad_input};
use crate::session::Session;
use crate::stdout::outln;

pub(crate) async fn join(_session: &Session, args: JoinArgs) -> anyhow::Result<()> {
    tokio::task::spawn_blocking(move || join_blocking(&args)).await?
}

fn join_blocking(args: &JoinArgs) -> anyhow::Result<()> {
    if args.output.exists() && !args.force {
        return Err(BadInput(format!("{} exists; pass --force to overwrite it", args.output.display())).into());
    }
    let survey = open(&args.volumes, false)?;
    let base = survey.base().display().to_string();
    let lost = lost(&survey);
    let stream = survey.stream;
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
    Ok(())
}

pub(crate) async fn repair(_session: &Session, args: RepairArgs) -> anyhow::Result<()> {
    tokio::task::spawn_blocking(move || {
        if !args.dir.is_dir() {
            return Err(BadInput(format!("-o {}: not a directory", args.dir.display())).into());
        }
        let survey = open(&args.volumes, true)?;
        let written = survey.repair(&args.dir).map_err(|e| set_error(&survey, e))?;
        if written.is_empty() {
            outln!("{}: every volume is good; nothing to repair", survey.base().display());
        }
        for path in written {
            outln!("Rebuilt {}", path.display());
        }
        Ok(())
    })
    .await?
}

/// Surveys the set (`check`: every stripe read), refusing volumes of another set and a set
/// that cannot be rebuilt.
fn open(volumes: &[PathBuf], check: bool) -> anyhow::Result<Survey> {
    let survey = ferry_volumes::survey(volumes, check).map_err(|e| wrap(volumes.first().map(PathBuf::as_path), e))?;
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
    wrap(Some(survey.base()), e)
}

fn wrap(base: Option<&Path>, e: VolumeError) -> anyhow::Error {
    let what = format!("media set {}", base.map(|b| b.display().to_string()).unwrap_or_default());
    if e.is_bad_input() { bad_input(what)(e) } else { anyhow::Error::new(e).context(what) }
}
