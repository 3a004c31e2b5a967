//! `ferry mirror verify ARCHIVE`: offline checks with progress, a summary (or `-o json`),
//! non-zero exit on any fault.

use std::io::Read;
use std::sync::Arc;

use anyhow::Context as _;
use ferry_archive::Compression;
use ferry_archive::verify::Report;
use ferry_engine::events::{Event, Events, Stage};

use crate::args::{PrintFormat, VerifyArgs};
use crate::output::{Output, Stdout};
use crate::session::Session;
use crate::stdout::outln;

/// The archive has faults; they were printed above.
#[derive(Debug)]
struct Faulty(usize);

impl std::fmt::Display for Faulty {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the archive has {} fault(s)", self.0)
    }
}

impl std::error::Error for Faulty {}

pub(crate) async fn run(session: &Session, args: VerifyArgs) -> anyhow::Result<()> {
    let output = session.output(Stdout::json_if(args.output == PrintFormat::Json));
    // The check reads the whole archive: off the async threads, so Ctrl-C is heard.
    let checking = Arc::clone(&output);
    tokio::task::spawn_blocking(move || check(&checking, &args)).await?
}

fn check(output: &Arc<Output>, args: &VerifyArgs) -> anyhow::Result<()> {
    let (input, size): (Box<dyn Read + Send>, Option<u64>) = if args.archive == "-" {
        (Box::new(std::io::stdin()), None)
    } else {
        let file = std::fs::File::open(&args.archive).with_context(|| format!("opening {}", args.archive))?;
        let size = file.metadata().ok().filter(std::fs::Metadata::is_file).map(|m| m.len());
        (Box::new(file), size)
    };
    let events = output.events();
    events(&Event::Stage(Stage::Verifying));
    if let Some(bytes) = size {
        events(&Event::Expected { bytes });
    }
    let metered = Metered { inner: input, events: events.clone() };
    let opened = ferry_archive::reader::open(metered).with_context(|| format!("reading {}", args.archive));
    let (compression, stream) = match opened {
        Ok(o) => o,
        Err(e) => {
            output.finish();
            return Err(e);
        }
    };
    let mut report = ferry_archive::verify::verify(stream);
    output.finish();
    if args.complete {
        let absent = std::mem::take(&mut report.absent);
        report.faults.extend(absent.iter().map(|d| format!("{d} is referenced but not in the archive (--complete)")));
    }
    let kind = match compression {
        Compression::None => "tar",
        Compression::Gzip => "gzip tar",
        Compression::Zstd => "zstd tar",
    };
    if args.output == PrintFormat::Json {
        outln!("{}", json(&args.archive, kind, &report));
    } else {
        for fault in &report.faults {
            eprintln!("fault: {}: {fault}", args.archive);
        }
        if !output.quiet() {
            text(output, &args.archive, kind, &report);
        }
    }
    if report.faults.is_empty() { Ok(()) } else { Err(Faulty(report.faults.len()).into()) }
}

fn text(output: &Output, archive: &str, kind: &str, report: &Report) {
    // A delta archive leaves these to earlier ones: list them for the operator to check.
    const LISTED: usize = 20;
    for d in report.absent.iter().take(LISTED) {
        outln!("  not in this archive: {d}");
    }
    if report.absent.len() > LISTED {
        outln!("  … and {} more", report.absent.len() - LISTED);
    }
    output.summary(&format!(
        "{archive}: {kind}, {} entries, {} blobs ({}), {} manifests ({} images); {} referenced blobs not in this archive",
        report.entries,
        report.blobs,
        crate::output::bytes(report.blob_bytes),
        report.manifests,
        report.images,
        report.absent.len()
    ));
}

/// The whole check as one JSON document.
fn json(archive: &str, kind: &str, report: &Report) -> String {
    serde_json::json!({
        "archive": archive,
        "format": kind,
        "ok": report.faults.is_empty(),
        "entries": report.entries,
        "blobs": report.blobs,
        "blobBytes": report.blob_bytes,
        "manifests": report.manifests,
        "images": report.images,
        "absent": report.absent.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "faults": report.faults,
    })
    .to_string()
}

/// The archive's bytes as they are read, as progress.
struct Metered {
    inner: Box<dyn Read + Send>,
    events: Events,
}

impl Read for Metered {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n > 0 {
            (self.events)(&Event::Progress { bytes: n as u64 });
        }
        Ok(n)
    }
}
