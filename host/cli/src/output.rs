//! Progress and status output. Status goes to stdout (silenced by `--quiet`); a progress bar
//! is drawn only on a terminal and without `--no-term`, otherwise plain lines are printed.

use std::io::IsTerminal as _;
use std::sync::Arc;

use ferry_engine::events::{Event, Events};
use ferry_engine::store::Transfer;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::args::Global;

/// Renders a workflow's events.
pub(crate) struct Progress {
    bar: Option<ProgressBar>,
    quiet: bool,
    plain: bool,
}

impl Progress {
    /// A bar over `units` things called `noun` (sources, destinations).
    pub(crate) fn new(global: &Global, verb: &str, units: u64, noun: &str) -> Progress {
        let quiet = global.quiet;
        let plain = global.no_term || !std::io::stdout().is_terminal();
        let bar = (!quiet && !plain).then(|| bar(verb, Some(units), &format!("{{pos}}/{{len}} {noun}, {{msg}}")));
        Progress { bar, quiet, plain }
    }

    /// The event sink to hand to the engine.
    pub(crate) fn events(&self) -> Events {
        let bar = self.bar.clone();
        let print = !self.quiet && self.plain;
        let copied = Arc::new(std::sync::atomic::AtomicU64::new(0));
        Arc::new(move |e: &Event| match e {
            Event::SourceDone { reference, digest } => {
                if let Some(b) = &bar {
                    b.inc(1);
                } else if print {
                    println!("Copied {reference} ({digest})");
                }
            }
            Event::Placed { destination, digest } => {
                if let Some(b) = &bar {
                    b.inc(1);
                } else if print {
                    println!("Placed {destination} ({digest})");
                }
            }
            Event::BlobCopied { size, transfer: Transfer::Uploaded, .. } => {
                let total = copied.fetch_add(*size, std::sync::atomic::Ordering::Relaxed) + size;
                if let Some(b) = &bar {
                    b.set_message(format!("{} uploaded", bytes(total)));
                }
            }
            _ => {}
        })
    }

    pub(crate) fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }

    /// A status line (not printed with `--quiet`).
    pub(crate) fn line(&self, text: &str) {
        if !self.quiet {
            println!("{text}");
        }
    }
}

/// A bar on stdout: spinner, `verb`, the bar, then `counts` (an indicatif template fragment).
fn bar(verb: &str, length: Option<u64>, counts: &str) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(length, ProgressDrawTarget::stdout());
    let style = ProgressStyle::with_template(&format!("{{spinner}} {{prefix}} [{{bar:30}}] {counts}"))
        .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style.progress_chars("=> "));
    bar.set_prefix(verb.to_owned());
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    bar
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

/// Progress of archive work (serialize, deserialize), in bytes of blobs: a bar on a terminal,
/// a summary line every few seconds with `--no-term` (for logs), nothing with `--quiet` or
/// when stdout carries the archive.
pub(crate) struct ByteProgress {
    bar: Option<ProgressBar>,
    print: bool,
    verb: &'static str,
}

/// How often `--no-term` prints a progress line.
const PLAIN_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

#[derive(Default)]
struct Tally {
    blobs: u64,
    bytes: u64,
    present: u64,
    expected: Option<u64>,
    printed: Option<std::time::Instant>,
}

impl ByteProgress {
    pub(crate) fn new(global: &Global, verb: &'static str, stdout_is_data: bool) -> ByteProgress {
        let silent = global.quiet || stdout_is_data;
        let plain = global.no_term || !std::io::stdout().is_terminal();
        let bar = (!silent && !plain).then(|| bar(verb, None, "{bytes}/{total_bytes} {binary_bytes_per_sec}, {msg}"));
        ByteProgress { bar, print: !silent && plain, verb }
    }

    pub(crate) fn events(&self) -> Events {
        let (bar, print, verb) = (self.bar.clone(), self.print, self.verb);
        let tally = Arc::new(std::sync::Mutex::new(Tally { printed: Some(std::time::Instant::now()), ..Tally::default() }));
        Arc::new(move |e: &Event| {
            let mut t = tally.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            match e {
                Event::Expected { bytes } => {
                    t.expected = Some(*bytes);
                    if let Some(b) = &bar {
                        b.set_length(*bytes);
                    }
                    return;
                }
                Event::Progress { bytes } => {
                    t.bytes += bytes;
                    if let Some(b) = &bar {
                        // The expected size counts layers once; manifests and configs may pass it.
                        if b.length().is_none_or(|l| t.bytes > l) {
                            b.set_length(t.bytes);
                        }
                        b.set_position(t.bytes);
                    }
                    return;
                }
                Event::BlobWritten { .. } => {}
                Event::BlobStored { present, .. } => t.present += u64::from(*present),
                _ => return,
            }
            t.blobs += 1;
            if let Some(b) = &bar {
                b.set_message(format!("{} blobs", t.blobs));
            } else if print && t.printed.is_some_and(|p| p.elapsed() >= PLAIN_EVERY) {
                t.printed = Some(std::time::Instant::now());
                let of = t.expected.map(|x| format!(" of about {}", bytes(x))).unwrap_or_default();
                let present = if t.present > 0 { format!(", {} already there", t.present) } else { String::new() };
                println!("{verb}: {} blobs, {}{of}{present}", t.blobs, bytes(t.bytes));
            }
        })
    }

    pub(crate) fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}
