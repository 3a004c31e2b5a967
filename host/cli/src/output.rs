//! Drawing a workflow's events: one progress model for every long command. Each [`Stage`] the
//! engine announces gets its own display, counting items (sources, destinations, blobs) and
//! bytes, with the total where known, the rate, an ETA and the time so far.
//!
//! The bar is drawn on standard error, when that is a terminal and neither `--no-term` nor
//! `--quiet` was given, so a pipeline on standard output keeps it. Otherwise a timestamped
//! line is printed every few seconds and at each milestone (a stage begins, a source is
//! copied, a destination placed). Status and summary lines go to standard output, unless it
//! carries the archive; each summary ends with the time the command took.

use std::io::IsTerminal as _;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use ferry_archive::scan::Stop;
use ferry_engine::events::{Event, Events, Stage, Stray};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::args::Global;
use crate::stdout::outln;
use crate::taps::Taps;

/// How often a plain progress line is printed.
const PLAIN_EVERY: Duration = Duration::from_secs(5);

/// Byte progress arrives a chunk at a time: the display is updated at most this often.
const REDRAW_EVERY: Duration = Duration::from_millis(100);

/// What standard output carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stdout {
    /// Status lines and progress.
    Status,
    /// Data (an archive, a JSON document): status goes to standard error.
    Data,
}

/// Renders one command's events; [`Output::finish`] clears any bar before the summary.
pub(crate) struct Output {
    quiet: bool,
    /// No bar: timestamped lines instead.
    plain: bool,
    /// Standard output carries data: status lines go to standard error.
    stdout_is_data: bool,
    started: Instant,
    taps: Arc<Taps>,
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
    /// Sources copied, destinations placed (the stage's items).
    items: u64,
    /// How many the stage has.
    items_total: Option<u64>,
    /// Blobs done (archive work).
    blobs: u64,
    /// Of those, already at the destination.
    present: u64,
    /// Blob bytes through.
    bytes: u64,
    /// Blob bytes ahead, when known.
    expected: Option<u64>,
    began: Option<Instant>,
    printed: Option<Instant>,
    drawn: Option<Instant>,
}

impl Stdout {
    /// Data when `json` is asked for, else status.
    pub(crate) fn json_if(json: bool) -> Stdout {
        if json { Stdout::Data } else { Stdout::Status }
    }
}

impl Output {
    pub(crate) fn new(global: &Global, stdout: Stdout, taps: Arc<Taps>) -> Arc<Output> {
        let output = Arc::new(Output {
            quiet: global.quiet,
            plain: global.no_term || !std::io::stderr().is_terminal(),
            stdout_is_data: stdout == Stdout::Data,
            started: Instant::now(),
            taps,
            state: Mutex::new(State::default()),
        });
        if output.lines() {
            // Plain lines come every few seconds even while no event arrives (a slow
            // registry): a clock asks for them, until the output is gone.
            let weak = Arc::downgrade(&output);
            std::thread::spawn(move || {
                while let Some(output) = weak.upgrade() {
                    output.tick();
                    drop(output);
                    std::thread::sleep(Duration::from_secs(1));
                }
            });
        }
        output
    }

    /// The event sink to hand to the engine.
    pub(crate) fn events(self: &Arc<Self>) -> Events {
        let this = Arc::clone(self);
        Arc::new(move |e: &Event| this.on(e))
    }

    /// Clears the bar, if one is drawn; no progress is shown after this.
    pub(crate) fn finish(&self) {
        let mut s = self.lock();
        s.stage = None;
        if let Some(b) = s.bar.take() {
            b.finish_and_clear();
        }
    }

    /// Runs `f` with the progress bar out of the way (a question to the operator).
    pub(crate) fn suspend<T>(&self, f: impl FnOnce() -> T) -> T {
        let bar = self.lock().bar.clone();
        match bar {
            Some(b) => b.suspend(f),
            None => f(),
        }
    }

    /// A status line (not printed with `--quiet`).
    pub(crate) fn line(&self, text: &str) {
        if self.quiet {
            return;
        }
        if self.stdout_is_data {
            eprintln!("{text}");
        } else {
            outln!("{text}");
        }
    }

    /// The command's last status line, ending with how long it took.
    pub(crate) fn summary(&self, text: &str) {
        self.line(&format!("{text}; {}", self.took()));
    }

    /// `took 1.2s`: the time since the command began.
    pub(crate) fn took(&self) -> String {
        format!("took {}", duration(self.started.elapsed()))
    }

    /// `--quiet` was given.
    pub(crate) fn quiet(&self) -> bool {
        self.quiet
    }

    /// The report and debug log of the run.
    pub(crate) fn taps(&self) -> &Taps {
        &self.taps
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A plain progress line, if one is due.
    fn tick(&self) {
        let mut s = self.lock();
        self.redraw(&mut s, false);
    }

    /// Plain lines are printed (no bar, not quiet).
    fn lines(&self) -> bool {
        self.plain && !self.quiet
    }

    fn on(&self, e: &Event) {
        self.taps.record(e);
        let mut s = self.lock();
        match e {
            Event::Stage(stage) => self.stage(&mut s, *stage),
            Event::SourceDone { reference: what, digest } | Event::Placed { destination: what, digest, .. } => {
                s.tally.items += 1;
                if self.lines() {
                    let verb = match (e, s.stage) {
                        (Event::Placed { .. }, _) => "Placed",
                        (_, Some(Stage::Resolving { .. })) => "Resolved",
                        _ => "Copied",
                    };
                    self.stamped(&format!("{verb} {what} ({digest})"));
                }
                self.redraw(&mut s, true);
            }
            Event::Expected { bytes } => {
                s.tally.expected = Some(*bytes);
                self.redraw(&mut s, false);
            }
            Event::Progress { bytes } => {
                s.tally.bytes += bytes;
                self.redraw(&mut s, false);
            }
            Event::BlobWritten { .. } | Event::BlobStored { .. } => {
                s.tally.present += u64::from(matches!(e, Event::BlobStored { present: true, .. }));
                s.tally.blobs += 1;
                self.redraw(&mut s, false);
            }
            _ => self.note(&s, e),
        }
    }

    /// A new stage: the previous display is cleared and the stage's own begins.
    fn stage(&self, s: &mut State, stage: Stage) {
        if let Some(b) = s.bar.take() {
            b.finish_and_clear();
        }
        let now = Instant::now();
        let items_total = match stage {
            Stage::Resolving { sources } | Stage::Gathering { sources } => Some(sources as u64),
            Stage::Placing { destinations } => Some(destinations as u64),
            _ => None,
        };
        s.tally = Tally { items_total, began: Some(now), printed: Some(now), ..Tally::default() };
        s.stage = Some(stage);
        if self.quiet {
            return;
        }
        if self.plain {
            let what = match items_total {
                Some(n) => format!("{n} {}", noun(stage)),
                None => "started".to_owned(),
            };
            self.stamped(&format!("{}: {what}", verb(stage)));
        } else {
            s.bar = Some(bar(verb(stage)));
            self.redraw(s, true);
        }
    }

    /// Updates the bar, or with plain lines prints one when `milestone` is false and a few
    /// seconds passed since the last.
    fn redraw(&self, s: &mut State, milestone: bool) {
        let Some(stage) = s.stage else { return };
        if !milestone && s.tally.drawn.is_some_and(|d| d.elapsed() < REDRAW_EVERY) {
            return;
        }
        s.tally.drawn = Some(Instant::now());
        let text = progress_text(stage, &s.tally);
        if let Some(b) = &s.bar {
            // Bytes drive the bar where a total is known, else the items.
            match (s.tally.expected, s.tally.items_total) {
                (Some(total), _) => {
                    b.set_length(total.max(s.tally.bytes));
                    b.set_position(s.tally.bytes);
                }
                (None, Some(total)) => {
                    b.set_length(total);
                    b.set_position(s.tally.items);
                }
                (None, None) => {}
            }
            b.set_message(text);
            return;
        }
        if milestone || !self.lines() || s.tally.printed.is_none_or(|p| p.elapsed() < PLAIN_EVERY) {
            return;
        }
        self.stamped(&format!("{}: {text}", verb(stage)));
        s.tally.printed = Some(Instant::now());
    }

    /// A line with the time in front (plain output).
    fn stamped(&self, text: &str) {
        let now = humantime::format_rfc3339_seconds(SystemTime::now());
        self.line(&format!("{now} {text}"));
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
            Event::SetResumed { base, volumes } => {
                format!("{}: {volumes} whole volumes of an interrupted run are kept where the archive matches them", base.display())
            }
            Event::SetStaging { dir, volume_size, parity } => {
                let per = if *volume_size > 0 { format!(" (up to {} each)", bytes(*volume_size)) } else { String::new() };
                let held = if *parity > 0 {
                    "every volume of the set stays there until the set is complete: as much free space as the whole set".to_owned()
                } else {
                    "one volume at a time (verify, join and repair of a set on tapes: the whole set)".to_owned()
                };
                format!("Staging the media set in {}{per}: {held}", dir.display())
            }
            Event::VolumeOnMedium { volume, device, bytes: n } => format!("Wrote volume {volume} to {} ({})", device.display(), bytes(*n)),
            Event::VolumeLost { volume } => format!("Volume {volume} cannot be had; going on without it"),
            Event::Recorded { location, id } => format!("Recorded {location} in the delivery catalog as {id}"),
            Event::BlobResent { digest, size, reason } => format!("Sending again {digest} ({}): {reason}", bytes(*size)),
            Event::NotRecorded { location, reason } => {
                // A warning, not status: it goes to standard error even with --quiet.
                eprintln!(
                    "warning: {location} is complete, but the delivery catalog did not record it: {reason}; a later --catalog delivery sends its blobs again"
                );
                return;
            }
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
        match &s.bar {
            Some(b) if !self.stdout_is_data => b.suspend(|| self.line(&text)),
            _ => self.line(&text),
        }
    }
}

/// `3/12 sources, 120.5 MiB of about 2.1 GiB (5%), 45.2 MiB/s, ETA 40s, 12s`: what is known
/// of the stage so far.
fn progress_text(stage: Stage, t: &Tally) -> String {
    let elapsed = t.began.map(|b| b.elapsed()).unwrap_or_default();
    let mut parts = Vec::new();
    if let Some(total) = t.items_total {
        parts.push(format!("{}/{total} {}", t.items, noun(stage)));
    } else if t.blobs > 0 {
        let present = if t.present > 0 { format!(" ({} already there)", t.present) } else { String::new() };
        parts.push(format!("{} blobs{present}", t.blobs));
    }
    let rate = if elapsed.as_secs_f64() > 0.5 { t.bytes as f64 / elapsed.as_secs_f64() } else { 0.0 };
    match t.expected {
        Some(total) if total > 0 => {
            let percent = (t.bytes.min(total) * 100) / total;
            parts.push(format!("{} of about {} ({percent}%)", bytes(t.bytes), bytes(total)));
        }
        _ if t.bytes > 0 => parts.push(bytes(t.bytes)),
        _ => {}
    }
    if rate > 0.0 {
        parts.push(format!("{}/s", bytes(rate as u64)));
    }
    // The ETA follows bytes where their total is known, else the items.
    let eta = match (t.expected, t.items_total) {
        (Some(total), _) if rate > 0.0 && total > t.bytes => Some(Duration::from_secs_f64((total - t.bytes) as f64 / rate)),
        (None, Some(total)) if t.items > 0 && total > t.items => Some(elapsed.mul_f64((total - t.items) as f64 / t.items as f64)),
        _ => None,
    };
    if let Some(eta) = eta {
        parts.push(format!("ETA {}", duration(eta)));
    }
    parts.push(duration(elapsed));
    parts.join(", ")
}

fn verb(stage: Stage) -> &'static str {
    match stage {
        Stage::Resolving { .. } => "resolve",
        Stage::Gathering { .. } => "gather",
        Stage::Serializing => "serialize",
        Stage::Deserializing { dry_run: true } | Stage::Verifying => "verify",
        Stage::Deserializing { dry_run: false } => "deserialize",
        Stage::Placing { .. } => "place",
        Stage::Buffering => "mbuffer",
        _ => "working",
    }
}

fn noun(stage: Stage) -> &'static str {
    match stage {
        Stage::Placing { .. } => "destinations",
        _ => "sources",
    }
}

/// A bar on standard error: spinner, `verb`, the bar, then the progress text.
fn bar(verb: &str) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    let style = ProgressStyle::with_template("{spinner} {prefix} [{bar:30}] {msg}").unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style.progress_chars("=> "));
    bar.set_prefix(verb.to_owned());
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

/// A reader whose bytes are reported as [`Event::Progress`] as they are read (verify reads
/// an archive, `util mbuffer` standard input); `total` counts them.
pub(crate) struct ProgressRead<R> {
    pub(crate) inner: R,
    pub(crate) events: Events,
    pub(crate) total: u64,
}

impl<R: std::io::Read> std::io::Read for ProgressRead<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n > 0 {
            self.total += n as u64;
            (self.events)(&Event::Progress { bytes: n as u64 });
        }
        Ok(n)
    }
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
    // 1023.96 KiB would print as "1024.0 KiB": such a value is shown in the next unit.
    while value >= 1023.95 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 { format!("{n} B") } else { format!("{value:.1} {}", UNITS[unit]) }
}

/// `0.4s`, `12.3s`, `4m 05s`, `2h 03m`.
pub(crate) fn duration(d: Duration) -> String {
    let secs = d.as_secs();
    match secs {
        0..60 => format!("{:.1}s", d.as_secs_f64()),
        60..3600 => format!("{}m {:02}s", secs / 60, secs % 60),
        _ => format!("{}h {:02}m", secs / 3600, (secs % 3600) / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_counts_never_read_1024_of_a_unit() {
        assert_eq!(bytes(1023), "1023 B");
        assert_eq!(bytes((10 << 20) / 10 - 1), "1.0 MiB");
        assert_eq!(bytes(1536), "1.5 KiB");
    }

    #[test]
    fn durations_read_at_a_glance() {
        assert_eq!(duration(Duration::from_millis(420)), "0.4s");
        assert_eq!(duration(Duration::from_secs(245)), "4m 05s");
        assert_eq!(duration(Duration::from_secs(7380)), "2h 03m");
    }

    #[test]
    fn progress_shows_items_bytes_total_and_eta() {
        let t = Tally {
            items: 1,
            items_total: Some(4),
            bytes: 10 << 20,
            began: Some(Instant::now() - Duration::from_secs(10)),
            ..Tally::default()
        };
        let text = progress_text(Stage::Gathering { sources: 4 }, &t);
        assert!(text.starts_with("1/4 sources, 10.0 MiB, 1.0 MiB/s, ETA 30."), "{text}");
        let t =
            Tally { bytes: 50, expected: Some(200), blobs: 2, began: Some(Instant::now() - Duration::from_secs(1)), ..Tally::default() };
        let text = progress_text(Stage::Serializing, &t);
        assert!(text.starts_with("2 blobs, 50 B of about 200 B (25%), "), "{text}");
        assert!(text.contains("ETA 3."), "{text}");
    }
}
