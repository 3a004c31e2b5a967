//! Drawing a workflow's events. Status goes to stdout (silenced by `--quiet`); a progress bar
//! is drawn only on a terminal and without `--no-term`, otherwise plain lines are printed.
//! Each [`Stage`] the engine announces gets its own display: a bar over sources or
//! destinations, or a byte counter for archive work.

use std::io::IsTerminal as _;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use ferry_archive::scan::Stop;
use ferry_engine::events::{Event, Events, Stage, Stray};
use ferry_engine::store::Transfer;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::args::Global;
use crate::stdout::outln;

/// How often `--no-term` prints a byte-progress line.
const PLAIN_EVERY: Duration = Duration::from_secs(5);

/// What standard output carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stdout {
    /// Status lines and progress.
    Status,
    /// The archive: nothing else may go there.
    Archive,
}

/// Renders one command's events; [`Output::finish`] clears any bar before the summary.
pub(crate) struct Output {
    quiet: bool,
    plain: bool,
    /// Standard output carries the archive: nothing else may go there.
    stdout_is_data: bool,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    bar: Option<ProgressBar>,
    stage: Option<Stage>,
    tally: Tally,
}

#[derive(Default)]
struct Tally {
    blobs: u64,
    bytes: u64,
    present: u64,
    uploaded: u64,
    expected: Option<u64>,
    printed: Option<Instant>,
}

impl Output {
    pub(crate) fn new(global: &Global, stdout: Stdout) -> Arc<Output> {
        Arc::new(Output {
            quiet: global.quiet,
            plain: global.no_term || !std::io::stdout().is_terminal(),
            stdout_is_data: stdout == Stdout::Archive,
            state: Mutex::new(State::default()),
        })
    }

    /// The event sink to hand to the engine.
    pub(crate) fn events(self: &Arc<Self>) -> Events {
        let this = Arc::clone(self);
        Arc::new(move |e: &Event| this.on(e))
    }

    /// Clears the bar, if one is drawn.
    pub(crate) fn finish(&self) {
        let mut s = self.lock();
        if let Some(b) = s.bar.take() {
            b.finish_and_clear();
        }
    }

    /// A status line (not printed with `--quiet`, nor when stdout carries the archive).
    pub(crate) fn line(&self, text: &str) {
        if !self.silent() {
            outln!("{text}");
        }
    }

    /// `--quiet` was given.
    pub(crate) fn quiet(&self) -> bool {
        self.quiet
    }

    fn silent(&self) -> bool {
        self.quiet || self.stdout_is_data
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn on(&self, e: &Event) {
        let mut s = self.lock();
        match e {
            Event::Stage(stage) => self.stage(&mut s, *stage),
            Event::SourceDone { reference: what, digest } | Event::Placed { destination: what, digest } => match &s.bar {
                Some(b) => b.inc(1),
                None if self.plain && !self.silent() => {
                    let verb = if matches!(e, Event::Placed { .. }) { "Placed" } else { "Copied" };
                    outln!("{verb} {what} ({digest})");
                }
                None => {}
            },
            Event::BlobCopied { size, transfer: Transfer::Uploaded, .. } => {
                s.tally.uploaded += size;
                if let Some(b) = &s.bar {
                    b.set_message(format!("{} uploaded", bytes(s.tally.uploaded)));
                }
            }
            Event::Expected { bytes } => {
                s.tally.expected = Some(*bytes);
                if let Some(b) = &s.bar {
                    b.set_length(*bytes);
                }
            }
            Event::Progress { bytes } => {
                s.tally.bytes += bytes;
                let done = s.tally.bytes;
                if let Some(b) = &s.bar {
                    // The expected size counts layers once; manifests and configs may pass it.
                    if b.length().is_none_or(|l| done > l) {
                        b.set_length(done);
                    }
                    b.set_position(done);
                }
            }
            Event::BlobWritten { .. } | Event::BlobStored { .. } => {
                s.tally.present += u64::from(matches!(e, Event::BlobStored { present: true, .. }));
                s.tally.blobs += 1;
                self.blob_done(&mut s);
            }
            _ => self.note(&s, e),
        }
    }

    /// A new stage: the previous display is cleared and the stage's own begins.
    fn stage(&self, s: &mut State, stage: Stage) {
        if let Some(b) = s.bar.take() {
            b.finish_and_clear();
        }
        s.tally = Tally { printed: Some(Instant::now()), ..Tally::default() };
        s.stage = Some(stage);
        s.bar = (!self.silent() && !self.plain).then(|| bar_for(stage));
    }

    /// The events that are one line for the operator.
    fn note(&self, s: &State, e: &Event) {
        let text = match e {
            Event::ResumeScanned { path, blobs, stop } => {
                format!("{}: {blobs} whole blobs to leave out ({})", path.display(), stop_text(stop))
            }
            Event::BatchSkipped { name, artifact, digest, sync_name } => {
                format!("{name}: {artifact} ({digest}) was sent in {sync_name}; skipped")
            }
            Event::BatchWritten { sync_name } => format!("Wrote {sync_name}"),
            Event::BatchLoaded { file_name, tagged } => format!("Loaded {file_name} as {tagged}"),
            Event::StrayFile { file_name, reason } => {
                let why = match reason {
                    Stray::Partial => "an archive an interrupted batch-serialize did not finish",
                    _ => "not a sync file (NNNNNN-NAME.tar[.zst|.gz])",
                };
                // A warning, not status: it goes to standard error even with --quiet.
                eprintln!("skipped: {file_name}: {why}");
                return;
            }
            _ => return,
        };
        if self.silent() {
            return;
        }
        match &s.bar {
            Some(b) => b.println(text),
            None => outln!("{text}"),
        }
    }

    /// A blob finished in archive work: the bar's message, or with `--no-term` a line every
    /// few seconds.
    fn blob_done(&self, s: &mut State) {
        let t = &s.tally;
        if let Some(b) = &s.bar {
            b.set_message(format!("{} blobs", t.blobs));
            return;
        }
        if self.silent() || t.printed.is_none_or(|p| p.elapsed() < PLAIN_EVERY) {
            return;
        }
        let verb = s.stage.map_or("progress", verb);
        let of = t.expected.map(|x| format!(" of about {}", bytes(x))).unwrap_or_default();
        let present = if t.present > 0 { format!(", {} already there", t.present) } else { String::new() };
        outln!("{verb}: {} blobs, {}{of}{present}", t.blobs, bytes(t.bytes));
        s.tally.printed = Some(Instant::now());
    }
}

fn verb(stage: Stage) -> &'static str {
    match stage {
        Stage::Resolving { .. } => "resolve",
        Stage::Gathering { .. } => "gather",
        Stage::Serializing => "serialize",
        Stage::Deserializing { dry_run: true } => "verify",
        Stage::Deserializing { dry_run: false } => "deserialize",
        Stage::Placing { .. } => "placing",
        _ => "working",
    }
}

fn bar_for(stage: Stage) -> ProgressBar {
    let counted = |units: usize, noun: &str| bar(verb(stage), Some(units as u64), &format!("{{pos}}/{{len}} {noun}, {{msg}}"));
    match stage {
        Stage::Resolving { sources } | Stage::Gathering { sources } => counted(sources, "sources"),
        Stage::Placing { destinations } => counted(destinations, "destinations"),
        _ => bar(verb(stage), None, "{bytes}/{total_bytes} {binary_bytes_per_sec}, {msg}"),
    }
}

/// A bar on stdout: spinner, `verb`, the bar, then `counts` (an indicatif template fragment).
fn bar(verb: &str, length: Option<u64>, counts: &str) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(length, ProgressDrawTarget::stdout());
    let style = ProgressStyle::with_template(&format!("{{spinner}} {{prefix}} [{{bar:30}}] {counts}"))
        .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style.progress_chars("=> "));
    bar.set_prefix(verb.to_owned());
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

/// How a partial archive ended, for the operator.
fn stop_text(stop: &Stop) -> String {
    match stop {
        Stop::Complete { .. } => "the archive is complete".to_owned(),
        Stop::Cut { offset } => format!("cut after {offset} bytes of tar"),
        Stop::Corrupt { offset, error } => format!("damaged at byte {offset}, nothing after it counts: {error}"),
    }
}

/// What copies did, as one clause: `copied N blobs (SIZE), mounted M; pushed K manifests;
/// already present: …`.
pub(crate) fn copy_summary(s: &ferry_engine::copy::CopyStats) -> String {
    format!(
        "copied {} blobs ({}), mounted {}; pushed {} manifests; already present: {} blobs, {} manifests",
        s.uploaded,
        bytes(s.uploaded_bytes),
        s.mounted,
        s.manifests,
        s.skipped,
        s.manifests_present
    )
}

/// Human-readable byte count (binary units).
pub(crate) fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 { format!("{n} B") } else { format!("{value:.1} {}", UNITS[unit]) }
}
