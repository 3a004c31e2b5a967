//! Where a mirror command's events go besides the screen: the run report (`--report FILE`,
//! written when the command ends, whatever the outcome) and the debug log (`--debug FILE`,
//! every event as a JSON line as it happens).

use std::io::{LineWriter, Write as _};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use anyhow::Context as _;
use ferry_engine::events::Event;
use ferry_engine::report::{ArtifactRecord, Recorder, ReportError};

use crate::exit::{BadInput, code_for, render};

/// The report and debug log of one run (either may be absent).
pub(crate) struct Taps {
    report: Option<(PathBuf, Recorder)>,
    debug: Option<Mutex<DebugLog>>,
}

/// How often summed byte progress goes to the debug log.
const PROGRESS_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// `--debug FILE`: one JSON line per event.
struct DebugLog {
    out: LineWriter<std::fs::File>,
    /// Progress bytes not written yet.
    progress: u64,
    written: Option<std::time::Instant>,
}

impl DebugLog {
    fn line(&mut self, event: &Event) {
        // A debug log that cannot be written must not stop the run.
        let _ = writeln!(self.out, "{}", debug_line(event));
    }

    fn flush_progress(&mut self) {
        if self.progress > 0 {
            let bytes = std::mem::take(&mut self.progress);
            self.line(&Event::Progress { bytes });
        }
        self.written = Some(std::time::Instant::now());
    }
}

impl Taps {
    /// No report, no debug log.
    pub(crate) fn none() -> Taps {
        Taps { report: None, debug: None }
    }

    /// Checks where the report will go (its directory must exist) and opens the debug log:
    /// `--debug DIR` with an existing directory writes `DIR/logs.txt`, as ace-dt did.
    pub(crate) fn open(report: Option<&Path>, debug: Option<&Path>) -> anyhow::Result<Taps> {
        let report = match report {
            Some(path) => {
                let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
                if !dir.is_dir() || path.is_dir() {
                    let why = if path.is_dir() { "is a directory" } else { "is in a directory that does not exist" };
                    return Err(BadInput(format!("--report {}: {why}", path.display())).into());
                }
                Some((path.to_owned(), Recorder::new()))
            }
            None => None,
        };
        let debug = match debug {
            Some(path) => {
                let path = if path.is_dir() { path.join("logs.txt") } else { path.to_owned() };
                let file = std::fs::File::create(&path)
                    .map_err(|e| anyhow::Error::new(e).context(BadInput(format!("--debug {}", path.display()))))?;
                Some(Mutex::new(DebugLog { out: LineWriter::new(file), progress: 0, written: None }))
            }
            None => None,
        };
        Ok(Taps { report, debug })
    }

    /// Takes one event. Byte progress comes a chunk at a time: the report has no use for it,
    /// and the debug log gets it summed, a line a second at most.
    pub(crate) fn record(&self, event: &Event) {
        if let Event::Progress { bytes } = event {
            let Some(debug) = &self.debug else { return };
            let mut d = debug.lock().unwrap_or_else(PoisonError::into_inner);
            d.progress += bytes;
            if d.written.is_none_or(|w| w.elapsed() >= PROGRESS_EVERY) {
                d.flush_progress();
            }
            return;
        }
        if let Some((_, recorder)) = &self.report {
            recorder.record(event);
        }
        if let Some(debug) = &self.debug {
            let mut d = debug.lock().unwrap_or_else(PoisonError::into_inner);
            d.flush_progress();
            d.line(event);
        }
    }

    /// Adds a record the command knows of itself.
    pub(crate) fn artifact(&self, record: ArtifactRecord) {
        if let Some((_, recorder)) = &self.report {
            recorder.artifact(record);
        }
    }

    /// Writes the report of `command` (`mirror gather`), which ended with `result`. A report that cannot be written
    /// fails a run that had succeeded.
    pub(crate) fn finish(&self, command: &str, result: anyhow::Result<()>) -> anyhow::Result<()> {
        if let Some(debug) = &self.debug {
            let mut d = debug.lock().unwrap_or_else(PoisonError::into_inner);
            d.flush_progress();
            let _ = d.out.flush();
        }
        let Some((path, recorder)) = &self.report else {
            return result;
        };
        let (code, error) = match &result {
            Ok(()) => (crate::exit::SUCCESS, None),
            Err(e) => (code_for(e), Some(render(e).replace('\n', "; "))),
        };
        let report = recorder.finish(command, std::env::args().skip(1).collect(), code, error);
        let written = match ferry_engine::report::write(path, &report) {
            // `--report /dev/stdout | head`: the reader stopped early, as with any output.
            Err(ReportError::Io { source, .. }) if source.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
            w => w.context("writing the run report"),
        };
        match (result, written) {
            (Ok(()), w) => w,
            (Err(e), Ok(())) => Err(e),
            (Err(e), Err(w)) => {
                eprintln!("error: {}", render(&w));
                Err(e)
            }
        }
    }
}

/// `{"time": …, "event": …, …}`.
fn debug_line(event: &Event) -> String {
    let mut value = serde_json::to_value(event).unwrap_or_else(|e| serde_json::json!({ "event": "unencodable", "error": e.to_string() }));
    if let Some(map) = value.as_object_mut() {
        let time = humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string();
        map.insert("time".to_owned(), time.into());
    }
    value.to_string()
}
