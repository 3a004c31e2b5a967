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
    let paths: Vec<std::path::PathBuf> = args.archives.iter().map(std::path::PathBuf::from).collect();
    // A tape is read once: a set on it is staged from its tapes, anything else read as it comes.
    let (staged, device_stream) = match super::volumes::stage_tape(&paths, &args.tape, Some(output), true)? {
        Some(ferry_engine::tape::DeviceContent::Set(staged)) => (Some(staged), None),
        Some(ferry_engine::tape::DeviceContent::Stream(stream)) => (None, Some(stream)),
        None => (None, None),
    };
    let is_set = staged.is_some()
        || (device_stream.is_none()
            && args.archives.iter().all(|a| a != "-" && ferry_engine::deserialize::is_set_member(std::path::Path::new(a))));
    if args.archives.len() > 1 && !is_set {
        return Err(crate::exit::BadInput("verify takes one archive, or the volumes of one media set".to_owned()).into());
    }
    let mut volumes = None;
    let mut archive = args.archives[0].clone();
    let (input, size): (Box<dyn Read + Send>, Option<u64>) = if let Some(stream) = device_stream {
        (stream, None)
    } else if is_set {
        let paths = staged.as_ref().map_or(paths, |s| s.volumes.clone());
        let survey = ferry_volumes::survey(&paths, true).map_err(|e| anyhow::Error::new(e).context(format!("media set {archive}")))?;
        let survey = match &staged {
            Some(staged) => survey.from_tapes(&staged.device),
            None => survey,
        };
        archive = survey.name();
        let set = SetCheck::of(&survey);
        let stream = survey.stream;
        if set.unrecoverable.is_some() {
            return finish_set(output, args, &archive, &set);
        }
        volumes = Some(set);
        (Box::new(survey.reader()), Some(stream))
    } else if archive == "-" {
        (Box::new(std::io::stdin()), None)
    } else {
        let file = std::fs::File::open(&archive).with_context(|| format!("opening {archive}"))?;
        let size = file.metadata().ok().filter(std::fs::Metadata::is_file).map(|m| m.len());
        (Box::new(file), size)
    };
    let events = output.events();
    events(&Event::Stage(Stage::Verifying));
    if let Some(bytes) = size {
        events(&Event::Expected { bytes });
    }
    let metered = ProgressRead { inner: input, events: events.clone(), total: 0 };
    let opened = ferry_archive::reader::open(metered).with_context(|| format!("reading {archive}"));
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
    if let Some(set) = &volumes {
        report.faults.extend(set.faults.iter().cloned());
    }
    let kind = match compression {
        Compression::None => "tar",
        Compression::Gzip => "gzip tar",
        Compression::Zstd => "zstd tar",
    };
    if args.output == PrintFormat::Json {
        let mut doc = json(&archive, kind, &report, &signature);
        if let Some(set) = &volumes {
            doc["volumes"] = set.json();
            doc["rebuildable"] = serde_json::json!(true);
        }
        outln!("{doc}");
    } else {
        if let Some(set) = &volumes
            && !output.quiet()
        {
            set.print();
        }
        for fault in &report.faults {
            eprintln!("fault: {archive}: {fault}");
        }
        if !output.quiet() {
            text(output, &archive, kind, &report, &signature);
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

/// What a media set's volumes are, for the operator.
struct SetCheck {
    lines: Vec<(String, String, &'static str, String)>,
    faults: Vec<String>,
    unrecoverable: Option<String>,
}

impl SetCheck {
    fn of(survey: &ferry_volumes::Survey) -> SetCheck {
        use ferry_volumes::Condition;
        let mut lines = Vec::new();
        let mut faults = Vec::new();
        for r in &survey.reports {
            let slot = match r.slot {
                Some((ferry_volumes::Kind::Data, i)) => format!("data {i}/{}", survey.data_count),
                Some((ferry_volumes::Kind::Parity, j)) => format!("parity {j}/{}", survey.parity_count),
                None => "?".to_owned(),
            };
            let detail = match &r.condition {
                Condition::Damaged { stripes } => format!("{stripes} damaged stripes"),
                Condition::OtherSet(other) => format!("of {other}"),
                Condition::Unreadable(why) => why.clone(),
                _ => String::new(),
            };
            // `volume PATH`, or `volume 3` for a set read from tapes.
            let named = if survey.is_from_tapes() { survey.shown(&r.path) } else { format!("volume {}", r.path.display()) };
            if r.condition != Condition::Good {
                let detail = if detail.is_empty() { String::new() } else { format!(" ({detail})") };
                faults.push(format!("{named} is {}{detail}", r.condition.word()));
            }
            lines.push((named, slot, r.condition.word(), detail));
        }
        if survey.unfinished {
            faults.push(format!(
                "the set's writing did not finish: its {} whole data volumes are read as a partial archive (run the same serialize again to finish it)",
                survey.data_count
            ));
        }
        let unrecoverable = survey.rebuildable().err().map(|e| e.to_string());
        SetCheck { lines, faults, unrecoverable }
    }

    fn print(&self) {
        for (path, slot, word, detail) in &self.lines {
            let detail = if detail.is_empty() { String::new() } else { format!(": {detail}") };
            outln!("  {path} ({slot}): {word}{detail}");
        }
        if !self.faults.is_empty() && self.unrecoverable.is_none() {
            outln!("  the set can be rebuilt: `ferry mirror repair` writes the lost volumes back");
        }
    }

    fn json(&self) -> serde_json::Value {
        serde_json::json!(
            self.lines
                .iter()
                .map(|(path, slot, word, detail)| serde_json::json!({ "path": path, "slot": slot, "condition": word, "detail": detail }))
                .collect::<Vec<_>>()
        )
    }
}

/// A set that cannot be rebuilt: its volumes and why, and a fault for each.
fn finish_set(output: &Arc<Output>, args: &VerifyArgs, archive: &str, set: &SetCheck) -> anyhow::Result<()> {
    let why = set.unrecoverable.clone().unwrap_or_default();
    if args.output == PrintFormat::Json {
        outln!(
            "{}",
            serde_json::json!({ "archive": archive, "ok": false, "rebuildable": false, "volumes": set.json(), "faults": [why.clone()] })
        );
    } else {
        if !output.quiet() {
            set.print();
        }
        eprintln!("fault: {archive}: {why}");
    }
    Err(Faulty(set.faults.len().max(1)).into())
}

/// The whole check as one JSON document.
fn json(archive: &str, kind: &str, report: &Report, signature: &Signature) -> serde_json::Value {
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
}
