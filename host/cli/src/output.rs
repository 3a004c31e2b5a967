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
    pub(crate) fn new(global: &Global, verb: &str, units: u64) -> Progress {
        let quiet = global.quiet;
        let plain = global.no_term || !std::io::stdout().is_terminal();
        let bar = (!quiet && !plain).then(|| {
            let bar = ProgressBar::with_draw_target(Some(units), ProgressDrawTarget::stdout());
            let style = ProgressStyle::with_template("{spinner} {prefix} [{bar:30}] {pos}/{len} sources, {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar());
            bar.set_style(style.progress_chars("=> "));
            bar.set_prefix(verb.to_owned());
            bar.enable_steady_tick(std::time::Duration::from_millis(120));
            bar
        });
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
