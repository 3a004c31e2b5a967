//! Loading the next tape of a media set: `--next-volume CMD` (an autoloader), or the operator
//! asked on the terminal.

use std::io::{self, BufRead as _, IsTerminal as _};
use std::os::fd::AsFd as _;
use std::path::Path;
use std::sync::Arc;

use ferry_engine::tape::{VolumeChanger, Wanted, describe};
use ferry_volumes::Kind;

use crate::args::TapeFlags;
use crate::output::Output;

/// Runs the command, or asks.
struct Changer {
    command: Option<String>,
    output: Option<Arc<Output>>,
}

impl std::fmt::Debug for Changer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Changer").field("command", &self.command).finish_non_exhaustive()
    }
}

/// Who loads the next tape, if anyone can: the command, else the operator when standard
/// input and standard error are a terminal.
pub(crate) fn changer(flags: &TapeFlags, output: Option<&Arc<Output>>) -> Option<Arc<dyn VolumeChanger>> {
    let can_ask = io::stdin().is_terminal() && io::stderr().is_terminal();
    (flags.next_volume.is_some() || can_ask)
        .then(|| Arc::new(Changer { command: flags.next_volume.clone(), output: output.cloned() }) as Arc<dyn VolumeChanger>)
}

/// The tape flags in serialize's options: who loads the next tape, where the set is staged.
pub(crate) fn apply(options: &mut ferry_engine::serialize::SerializeOptions, flags: &TapeFlags, output: &Arc<Output>) {
    options.changer = changer(flags, Some(output));
    options.staging = flags.staging.clone();
}

/// The engine's view of the tape flags for reading.
pub(crate) fn media(flags: &TapeFlags, buffer: usize, output: Option<&Arc<Output>>) -> ferry_engine::tape::Media {
    ferry_engine::tape::Media {
        buffer,
        changer: changer(flags, output),
        staging: flags.staging.clone(),
        events: output.map_or_else(ferry_engine::events::no_events, |o| o.events()),
        every_volume: false,
    }
}

impl VolumeChanger for Changer {
    fn load(&self, device: &Path, wanted: Wanted, reading: bool) -> io::Result<bool> {
        match &self.command {
            Some(command) => run(command, device, wanted, reading),
            None => {
                let lost = if reading { "; type lost if it cannot be found" } else { "" };
                let question = format!("Load {} of the set into {}, then press Enter{lost}: ", describe(wanted), device.display());
                let ask = || {
                    eprint!("{question}");
                    let mut answer = String::new();
                    io::stdin().lock().read_line(&mut answer).map(|n| (n, answer))
                };
                let (n, answer) = match &self.output {
                    Some(output) => output.suspend(ask),
                    None => ask(),
                }?;
                if n == 0 {
                    return Err(io::Error::new(io::ErrorKind::UnexpectedEof, format!("no answer when asked to load {}", describe(wanted))));
                }
                Ok(!(reading && answer.trim().eq_ignore_ascii_case("lost")))
            }
        }
    }

    fn refused(&self, device: &Path, wanted: Wanted, why: &str) {
        eprintln!("warning: {}: {why}; {} is asked for again", device.display(), describe(wanted));
    }
}

/// Runs the `--next-volume` command for `wanted`; reading, a failure means the volume is lost.
fn run(command: &str, device: &Path, wanted: Wanted, reading: bool) -> io::Result<bool> {
    let kind = match wanted.kind {
        Kind::Data => "data",
        Kind::Parity => "parity",
    };
    let status = std::process::Command::new("sh")
        .args(["-c", command])
        .env("FERRY_DEVICE", device)
        .env("FERRY_VOLUME", wanted.to_string())
        .env("FERRY_VOLUME_KIND", kind)
        .env("FERRY_VOLUME_INDEX", wanted.index.to_string())
        .env("FERRY_OPERATION", if reading { "read" } else { "write" })
        .stdin(std::process::Stdio::null())
        // Its output is the operator's, not the command's data.
        .stdout(std::process::Stdio::from(io::stderr().as_fd().try_clone_to_owned()?))
        .status()
        .map_err(|e| io::Error::new(e.kind(), format!("--next-volume: running sh: {e}")))?;
    if status.success() {
        return Ok(true);
    }
    if reading {
        return Ok(false);
    }
    Err(io::Error::other(format!("--next-volume command failed ({status}) loading {}", describe(wanted))))
}
