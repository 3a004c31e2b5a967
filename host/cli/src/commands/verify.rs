//! `ferry mirror verify ARCHIVE`: offline checks, a summary, non-zero exit on any fault.

use std::io::Read;

use anyhow::Context as _;
use ferry_archive::Compression;

use crate::args::{Global, VerifyArgs};
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

pub(crate) fn run(global: &Global, args: &VerifyArgs) -> anyhow::Result<()> {
    let input: Box<dyn Read + Send> = if args.archive == "-" {
        Box::new(std::io::stdin())
    } else {
        Box::new(std::fs::File::open(&args.archive).with_context(|| format!("opening {}", args.archive))?)
    };
    let (compression, stream) = ferry_archive::reader::open(input).with_context(|| format!("reading {}", args.archive))?;
    let mut report = ferry_archive::verify::verify(stream);
    if args.complete {
        let absent = std::mem::take(&mut report.absent);
        report.faults.extend(absent.iter().map(|d| format!("{d} is referenced but not in the archive (--complete)")));
    }
    for fault in &report.faults {
        eprintln!("fault: {}: {fault}", args.archive);
    }
    if !global.quiet {
        let kind = match compression {
            Compression::None => "tar",
            Compression::Gzip => "gzip tar",
            Compression::Zstd => "zstd tar",
        };
        outln!(
            "{}: {kind}, {} entries, {} blobs ({}), {} manifests ({} images); {} referenced blobs not in this archive",
            args.archive,
            report.entries,
            report.blobs,
            crate::output::bytes(report.blob_bytes),
            report.manifests,
            report.images,
            report.absent.len()
        );
        // A delta archive leaves these to earlier ones: list them for the operator to check.
        const LISTED: usize = 20;
        for d in report.absent.iter().take(LISTED) {
            outln!("  not in this archive: {d}");
        }
        if report.absent.len() > LISTED {
            outln!("  … and {} more", report.absent.len() - LISTED);
        }
    }
    if report.faults.is_empty() { Ok(()) } else { Err(Faulty(report.faults.len()).into()) }
}
