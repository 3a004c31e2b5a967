//! `ferry mirror verify ARCHIVE`: offline checks with progress, a summary (or `-o json`),
//! non-zero exit on any fault.

use std::io::Read;
use std::sync::Arc;

use anyhow::Context as _;
use ferry_archive::Compression;
use ferry_archive::verify::Report;
use ferry_engine::events::{Event, Stage};
use ferry_sign::PublicKey;
use ferry_sign::cosign::{DeliveryFault, Signer, check_delivery};

use crate::args::{PrintFormat, VerifyArgs};
use crate::output::{Output, ProgressRead, Stdout};
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
    let keys = args.keys.iter().map(|path| super::bundle::public_key("--key", path)).collect::<anyhow::Result<Vec<_>>>()?;
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
    let metered = ProgressRead { inner: input, events: events.clone(), total: 0 };
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
    let signature = signature(&mut report, &keys);
    let kind = match compression {
        Compression::None => "tar",
        Compression::Gzip => "gzip tar",
        Compression::Zstd => "zstd tar",
    };
    if args.output == PrintFormat::Json {
        outln!("{}", json(&args.archive, kind, &report, &signature));
    } else {
        for fault in &report.faults {
            eprintln!("fault: {}: {fault}", args.archive);
        }
        if !output.quiet() {
            text(output, &args.archive, kind, &report, &signature);
        }
    }
    if report.faults.is_empty() { Ok(()) } else { Err(Faulty(report.faults.len()).into()) }
}

/// What the archive says of its signature, for the operator.
enum Signature {
    /// No delivery signature.
    Absent,
    /// Signed, not checked: no `--key` was given.
    Unchecked(String),
    /// Checked: made by this key.
    Good(Signer),
    /// Checked and refused (also a fault of the report).
    Bad(DeliveryFault),
}

/// Checks the delivery's signature against `keys` (when any were given); a signature that
/// does not hold, or none when keys were given, is a fault.
fn signature(report: &mut Report, keys: &[PublicKey]) -> Signature {
    let (Some(sig), Some(root)) = (&report.signature, &report.root) else {
        if !keys.is_empty() {
            report.faults.push(format!("delivery signature: {}", DeliveryFault::Unsigned));
            return Signature::Bad(DeliveryFault::Unsigned);
        }
        return Signature::Absent;
    };
    let claimed = sig.descriptor.annotations.get(ferry_oci::annotations::DELIVERY_SIGNATURE).cloned();
    if keys.is_empty() {
        return Signature::Unchecked(claimed.unwrap_or_default());
    }
    let checked = match &sig.manifest {
        Some(manifest) => check_delivery(&root.digest, manifest, &sig.blobs, keys, claimed.as_deref()),
        None => Err(DeliveryFault::Unreadable),
    };
    match checked {
        Ok(signer) => Signature::Good(signer),
        Err(fault) => {
            report.faults.push(format!("delivery signature: {fault}"));
            Signature::Bad(fault)
        }
    }
}

fn text(output: &Output, archive: &str, kind: &str, report: &Report, signature: &Signature) {
    match signature {
        Signature::Absent => {}
        Signature::Unchecked(by) => outln!("  signed delivery (key {by}, as it claims); not checked: give --key PUB"),
        Signature::Good(s) => outln!("  signed delivery: a good signature by key {}, made {}", s.fingerprint, s.created),
        Signature::Bad(_) => {}
    }
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
fn json(archive: &str, kind: &str, report: &Report, signature: &Signature) -> String {
    let signature = match signature {
        Signature::Absent => serde_json::json!({ "present": false }),
        Signature::Unchecked(by) => serde_json::json!({ "present": true, "checked": false, "claimedKey": by }),
        Signature::Good(s) => {
            serde_json::json!({ "present": true, "checked": true, "good": true, "key": s.fingerprint, "created": s.created })
        }
        Signature::Bad(f) => {
            serde_json::json!({ "present": !matches!(f, DeliveryFault::Unsigned), "checked": true, "good": false, "fault": f.to_string() })
        }
    };
    serde_json::json!({
        "signature": signature,
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
