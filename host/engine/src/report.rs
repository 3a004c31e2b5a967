//! Run reports (`--report FILE`): what one mirror command did, per artifact and per blob, as a
//! versioned JSON document (`docs/run-report.md`). A [`Recorder`] is fed every event of the
//! run; [`Recorder::finish`] turns it into a [`RunReport`] once the exit code is known, so a
//! run that fails or is interrupted still reports what it had done. [`RunReport::retry`]
//! reads back what a scatter or clone left undone (`--retry-failed`).

use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::{Instant, SystemTime};

use ferry_oci::Digest;
use serde::{Deserialize, Serialize};

use crate::events::{Event, Stage};
use crate::route::Retry;
use crate::store::Transfer;

/// The report format's version: a reader refuses a larger one. Fields are only ever added
/// within a version.
pub const SCHEMA_VERSION: u32 = 1;

/// A report larger than this is not read back (a report of 100,000 blobs is about 20 MB).
const MAX_REPORT_BYTES: u64 = 256 << 20;

/// What one run did.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunReport {
    /// [`SCHEMA_VERSION`] when written.
    pub schema_version: u32,
    /// The ferry that wrote it.
    pub ferry_version: String,
    /// The command (`mirror scatter`).
    pub command: String,
    /// The whole command line after `ferry`.
    pub arguments: Vec<String>,
    /// When the run began (RFC 3339, UTC).
    pub started: String,
    /// When it ended.
    pub finished: String,
    /// How long it ran.
    pub duration_ms: u64,
    /// The process's exit status (0, 1, 2 or 130).
    pub exit_code: u8,
    /// Why it failed, with the causes, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Counts over the records below.
    pub totals: Totals,
    /// Sources and placements, in the order they were first seen.
    #[serde(default)]
    pub artifacts: Vec<ArtifactRecord>,
    /// One record per blob a copy, a write or a read dealt with (a blob sent to several
    /// repositories has a record for each).
    #[serde(default)]
    pub blobs: Vec<BlobRecord>,
    /// batch-serialize and batch-deserialize: the archives written or loaded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub archives: Vec<ArchiveRecord>,
}

/// A source (gather, clone), a placement (scatter, clone, unarchive), a root (serialize,
/// deserialize) or a batch entry.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArtifactRecord {
    /// The source reference as written (for a placement, the artifacts it came from).
    pub reference: String,
    /// Its digest, once known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<Digest>,
    /// Where it went (a placement's destination, an archive, a tagged root).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<String>,
    /// What happened.
    pub status: Status,
    /// Why it failed or was skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The fingerprint of the trusted key whose signature was checked: a delivery's signer on
    /// its tagged root (deserialize, unarchive), an artifact's under an image policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signer: Option<String>,
}

/// One blob's fate.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BlobRecord {
    /// Digest.
    pub digest: Digest,
    /// Size in bytes.
    pub size: u64,
    /// What happened.
    pub status: Status,
    /// Whole copies retried after a transient failure.
    #[serde(default)]
    pub retries: u32,
    /// How long the copy took (registry copies only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    /// Why it was left out or sent again (serialize `--catalog`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// An archive a batch command wrote or loaded.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArchiveRecord {
    /// Its file name.
    pub file: String,
    /// Where its root was tagged (batch-deserialize).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tagged: Option<String>,
}

/// What happened to an artifact or a blob.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Status {
    /// Copied, written or placed.
    Copied,
    /// A blob linked from another repository of the registry.
    Mounted,
    /// Already at the destination.
    Present,
    /// Left out on purpose (an earlier delivery carried it).
    Skipped,
    /// Failed; `reason` says why.
    Failed,
    /// Planned but never tried: the run stopped first.
    NotAttempted,
}

/// Counts over a report's records.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Totals {
    /// Artifacts copied or placed.
    pub artifacts_done: u64,
    /// Artifacts that failed.
    pub artifacts_failed: u64,
    /// Artifacts never tried.
    pub artifacts_not_attempted: u64,
    /// Blobs copied, written or stored.
    pub blobs_copied: u64,
    /// Their bytes.
    pub bytes_copied: u64,
    /// Blobs mounted.
    pub blobs_mounted: u64,
    /// Blobs already at the destination.
    pub blobs_present: u64,
    /// Blobs left out.
    pub blobs_skipped: u64,
    /// Manifests pushed.
    pub manifests_pushed: u64,
}

/// Collects a run's events into a report.
pub struct Recorder {
    started: SystemTime,
    clock: Instant,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    stage: Option<Stage>,
    artifacts: Vec<ArtifactRecord>,
    /// Record index by source reference (gather) or destination (placements).
    index: HashMap<String, usize>,
    blobs: Vec<BlobRecord>,
    archives: Vec<ArchiveRecord>,
    manifests_pushed: u64,
    /// Signers of the artifacts an image policy checked, for their placements.
    signers: HashMap<Digest, String>,
    /// Why each blob `--catalog` sends again goes again, until it is written.
    resent: HashMap<Digest, String>,
}

impl Default for Recorder {
    fn default() -> Self {
        Recorder::new()
    }
}

impl Recorder {
    /// A recorder whose run begins now.
    pub fn new() -> Recorder {
        Recorder { started: SystemTime::now(), clock: Instant::now(), state: Mutex::new(State::default()) }
    }

    /// Takes one event of the run.
    pub fn record(&self, event: &Event) {
        let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        s.on(event);
    }

    /// Adds a record the command knows of itself (a serialized or deserialized root).
    pub fn artifact(&self, record: ArtifactRecord) {
        let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        s.artifacts.push(record);
    }

    /// The report of the run, which ended with `exit_code` (and `error`). Whatever was
    /// started and not finished failed with the run's error, or was not attempted.
    pub fn finish(&self, command: &str, arguments: Vec<String>, exit_code: u8, error: Option<String>) -> RunReport {
        let mut s = std::mem::take(&mut *self.state.lock().unwrap_or_else(PoisonError::into_inner));
        let unfinished = error.clone().unwrap_or_else(|| "the run ended before it finished".to_owned());
        for a in &mut s.artifacts {
            if a.status == Status::NotAttempted && a.reason.as_deref() == Some(STARTED) {
                a.status = Status::Failed;
                a.reason = Some(unfinished.clone());
            }
        }
        let totals = totals(&s);
        RunReport {
            schema_version: SCHEMA_VERSION,
            ferry_version: env!("CARGO_PKG_VERSION").to_owned(),
            command: command.to_owned(),
            arguments,
            started: humantime::format_rfc3339_millis(self.started).to_string(),
            finished: humantime::format_rfc3339_millis(SystemTime::now()).to_string(),
            duration_ms: millis(self.clock.elapsed()),
            exit_code,
            error,
            totals,
            artifacts: s.artifacts,
            blobs: s.blobs,
            archives: s.archives,
        }
    }
}

/// The reason an artifact carries while it is under way (replaced when it ends).
const STARTED: &str = "started";

impl State {
    fn on(&mut self, event: &Event) {
        match event {
            Event::Stage(stage) => self.stage = Some(*stage),
            // clone resolves its sources before routing them: only a failure is a record.
            Event::SourceStarted { reference } if !self.resolving() => {
                self.upsert(reference, None, Status::NotAttempted, Some(STARTED.to_owned()), None);
            }
            Event::SourceDone { reference, digest } if !self.resolving() => {
                self.upsert(reference, None, Status::Copied, None, Some(digest));
            }
            Event::SourceFailed { reference, reason } => {
                self.upsert(reference, None, Status::Failed, Some(reason.clone()), None);
            }
            Event::Planned { from, destination, digest } => {
                let reason = Some("the run stopped before it was placed".to_owned());
                self.upsert(from, Some(destination), Status::NotAttempted, reason, Some(digest));
            }
            Event::Placed { from, destination, digest } => self.upsert(from, Some(destination), Status::Copied, None, Some(digest)),
            Event::PlaceFailed { from, destination, reason } => {
                self.upsert(from, Some(destination), Status::Failed, Some(reason.clone()), None);
            }
            Event::Verdict { artifact, digest, signer, refused: Some(why), refused_by, .. } => self.artifacts.push(ArtifactRecord {
                reference: artifact.clone(),
                digest: Some(digest.clone()),
                destination: None,
                status: Status::Failed,
                reason: Some(format!("refused by {}: {why}", refused_by.as_deref().unwrap_or(crate::trust::SIGNATURE_POLICY))),
                signer: signer.clone(),
            }),
            Event::Verdict { digest, signer: Some(signer), refused: None, .. } => {
                self.signers.insert(digest.clone(), signer.clone());
            }
            Event::BlobCopied { digest, size, transfer, retries, millis } => {
                let status = match transfer {
                    Transfer::Uploaded => Status::Copied,
                    Transfer::Mounted => Status::Mounted,
                };
                self.blob(digest, *size, status, *retries, Some(*millis));
            }
            Event::BlobSkipped { digest, size } => self.blob(digest, *size, Status::Present, 0, None),
            Event::BlobWritten { digest, size } => {
                self.blob(digest, *size, Status::Copied, 0, None);
                let resent = self.resent.remove(digest).map(|r| format!("sent again: {r}"));
                self.because(resent);
            }
            Event::BlobResent { digest, reason, .. } => {
                self.resent.insert(digest.clone(), reason.clone());
            }
            Event::BlobConfirmed { digest, size } => {
                self.blob(digest, *size, Status::Skipped, 0, None);
                self.because(Some("the high side confirmed it".to_owned()));
            }
            Event::BlobOnItsWay { digest, size, archive } => {
                self.blob(digest, *size, Status::Skipped, 0, None);
                self.because(Some(format!("on its way in {archive}")));
            }
            Event::BlobLeftOut { digest, size } => self.blob(digest, *size, Status::Skipped, 0, None),
            Event::BlobStored { digest, size, present } => {
                self.blob(digest, *size, if *present { Status::Present } else { Status::Copied }, 0, None);
            }
            Event::ManifestPushed { .. } => self.manifests_pushed += 1,
            Event::BatchSkipped { name, artifact, digest, sync_name } => self.artifacts.push(ArtifactRecord {
                reference: artifact.clone(),
                digest: Some(digest.clone()),
                destination: Some(name.clone()),
                status: Status::Skipped,
                reason: Some(format!("sent before in {sync_name}")),
                signer: None,
            }),
            Event::BatchWritten { sync_name } => self.archives.push(ArchiveRecord { file: sync_name.clone(), tagged: None }),
            Event::BatchLoaded { file_name, tagged } => {
                self.archives.push(ArchiveRecord { file: file_name.clone(), tagged: Some(tagged.clone()) });
            }
            _ => {}
        }
    }

    fn resolving(&self) -> bool {
        matches!(self.stage, Some(Stage::Resolving { .. }))
    }

    /// Creates or updates the record keyed by `destination` (placements) or `reference`.
    fn upsert(&mut self, reference: &str, destination: Option<&String>, status: Status, reason: Option<String>, digest: Option<&Digest>) {
        let key = match destination {
            Some(d) => format!("to {d}"),
            None => format!("from {reference}"),
        };
        let i = *self.index.entry(key).or_insert_with(|| {
            self.artifacts.push(ArtifactRecord {
                reference: reference.to_owned(),
                digest: None,
                destination: destination.cloned(),
                status,
                reason: None,
                signer: None,
            });
            self.artifacts.len() - 1
        });
        let record = &mut self.artifacts[i];
        record.status = status;
        record.reason = reason;
        if let Some(d) = digest {
            record.digest = Some(d.clone());
            if let Some(signer) = self.signers.get(d) {
                record.signer = Some(signer.clone());
            }
        }
    }

    fn blob(&mut self, digest: &Digest, size: u64, status: Status, retries: u32, duration_ms: Option<u64>) {
        self.blobs.push(BlobRecord { digest: digest.clone(), size, status, retries, duration_ms, reason: None });
    }

    /// Gives the blob just recorded its reason.
    fn because(&mut self, reason: Option<String>) {
        if let Some(last) = self.blobs.last_mut() {
            last.reason = reason;
        }
    }
}

fn totals(s: &State) -> Totals {
    let mut t = Totals { manifests_pushed: s.manifests_pushed, ..Totals::default() };
    for a in &s.artifacts {
        match a.status {
            Status::Failed => t.artifacts_failed += 1,
            Status::NotAttempted => t.artifacts_not_attempted += 1,
            Status::Skipped => {}
            _ => t.artifacts_done += 1,
        }
    }
    for b in &s.blobs {
        match b.status {
            Status::Copied => {
                t.blobs_copied += 1;
                t.bytes_copied += b.size;
            }
            Status::Mounted => t.blobs_mounted += 1,
            Status::Present => t.blobs_present += 1,
            Status::Skipped => t.blobs_skipped += 1,
            _ => {}
        }
    }
    t
}

fn millis(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl RunReport {
    /// What a scatter or clone left undone: every destination not placed, and every source
    /// that failed before it was routed.
    pub fn retry(&self) -> Retry {
        let mut retry = Retry::default();
        for a in &self.artifacts {
            if !matches!(a.status, Status::Failed | Status::NotAttempted) {
                continue;
            }
            match &a.destination {
                Some(d) => retry.destinations.insert(d.clone()),
                None => retry.sources.insert(a.reference.clone()),
            };
        }
        retry
    }
}

/// A report that cannot be written or read back.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReportError {
    /// Reading or writing the file failed.
    #[error("{}", path.display())]
    Io {
        /// The report file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Not a run report.
    #[error("{}: not a ferry run report", path.display())]
    Json {
        /// The report file.
        path: PathBuf,
        /// Where the JSON is wrong.
        #[source]
        source: serde_json::Error,
    },
    /// Written by a newer ferry.
    #[error("{}: schemaVersion {found} is newer than this ferry reads ({SCHEMA_VERSION})", path.display())]
    Version {
        /// The report file.
        path: PathBuf,
        /// Its version.
        found: u32,
    },
    /// Larger than any report ferry writes.
    #[error("{}: {size} bytes is larger than a run report may be ({MAX_REPORT_BYTES})", path.display())]
    TooLarge {
        /// The report file.
        path: PathBuf,
        /// Its size.
        size: u64,
    },
}

/// Writes `report` to `path` whole or not at all (a temporary file beside it, then a rename).
/// A path that is not a regular file (`/dev/stdout`, a FIFO) is written straight to; a
/// symbolic link is followed, so the file it names is replaced, not the link.
pub fn write(path: &Path, report: &RunReport) -> Result<(), ReportError> {
    let io = |source| ReportError::Io { path: path.to_owned(), source };
    match std::fs::metadata(path) {
        Ok(m) if !m.is_file() => {
            let mut out = std::fs::OpenOptions::new().write(true).open(path).map_err(io)?;
            serde_json::to_writer_pretty(&mut out, report).map_err(|e| io(e.into()))?;
            return out.write_all(b"\n").map_err(io);
        }
        Ok(_) if path.is_symlink() => return write(&std::fs::canonicalize(path).map_err(io)?, report),
        _ => {}
    }
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new().prefix(".ferry-report").tempfile_in(dir).map_err(io)?;
    serde_json::to_writer_pretty(&mut tmp, report).map_err(|e| io(e.into()))?;
    tmp.write_all(b"\n").map_err(io)?;
    tmp.as_file().sync_all().map_err(io)?;
    tmp.persist(path).map_err(|e| io(e.error))?;
    Ok(())
}

/// Reads a report back, refusing one of a newer schema.
pub fn read(path: &Path) -> Result<RunReport, ReportError> {
    let io = |source| ReportError::Io { path: path.to_owned(), source };
    let file = std::fs::File::open(path).map_err(io)?;
    let size = file.metadata().map_err(io)?.len();
    if size > MAX_REPORT_BYTES {
        return Err(ReportError::TooLarge { path: path.to_owned(), size });
    }
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut std::io::Read::take(file, MAX_REPORT_BYTES), &mut bytes).map_err(io)?;
    parse(&bytes, path)
}

/// A report from its bytes (`path` names it in errors), refusing one of a newer schema.
pub fn parse(bytes: &[u8], path: &Path) -> Result<RunReport, ReportError> {
    let json = |source| ReportError::Json { path: path.to_owned(), source };
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(json)?;
    let found = value.get("schemaVersion").and_then(serde_json::Value::as_u64).unwrap_or(0);
    if found > u64::from(SCHEMA_VERSION) {
        return Err(ReportError::Version { path: path.to_owned(), found: u32::try_from(found).unwrap_or(u32::MAX) });
    }
    serde_json::from_value(value).map_err(json)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(n: u8) -> Digest {
        format!("sha256:{}", format!("{n:02x}").repeat(32)).parse().expect("digest")
    }

    #[test]
    fn placements_end_placed_failed_or_not_attempted() {
        let r = Recorder::new();
        r.record(&Event::Stage(Stage::Placing { destinations: 3 }));
        for d in ["a", "b", "c"] {
            r.record(&Event::Planned { from: "src".into(), destination: d.into(), digest: digest(1) });
        }
        r.record(&Event::Placed { from: "src".into(), destination: "a".into(), digest: digest(1) });
        r.record(&Event::PlaceFailed { from: "src".into(), destination: "b".into(), reason: "refused".into() });
        let report = r.finish("mirror scatter", vec![], 1, Some("1 of 3 failed".into()));
        let statuses: Vec<_> = report.artifacts.iter().map(|a| (a.destination.clone().unwrap_or_default(), a.status)).collect();
        assert_eq!(statuses, [("a".into(), Status::Copied), ("b".into(), Status::Failed), ("c".into(), Status::NotAttempted)]);
        let retry = report.retry();
        assert_eq!(retry.destinations, ["b".to_owned(), "c".to_owned()].into_iter().collect());
        assert!(retry.sources.is_empty());
        assert_eq!((report.totals.artifacts_done, report.totals.artifacts_failed, report.totals.artifacts_not_attempted), (1, 1, 1));
    }

    #[test]
    fn a_source_under_way_when_the_run_fails_is_failed_with_the_run_error() {
        let r = Recorder::new();
        r.record(&Event::Stage(Stage::Gathering { sources: 2 }));
        r.record(&Event::SourceStarted { reference: "x/a:1".into() });
        r.record(&Event::SourceStarted { reference: "x/b:1".into() });
        r.record(&Event::SourceDone { reference: "x/a:1".into(), digest: digest(2) });
        let report = r.finish("mirror gather", vec![], 130, Some("interrupted".into()));
        assert_eq!(report.artifacts[0].status, Status::Copied);
        assert_eq!(report.artifacts[1].status, Status::Failed);
        assert_eq!(report.artifacts[1].reason.as_deref(), Some("interrupted"));
    }

    #[test]
    fn written_reports_read_back_and_newer_schemas_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("r.json");
        let r = Recorder::new();
        r.record(&Event::BlobCopied { digest: digest(3), size: 5, transfer: Transfer::Uploaded, retries: 2, millis: 7 });
        let report = r.finish("mirror gather", vec!["mirror".into(), "gather".into()], 0, None);
        write(&path, &report).expect("write");
        let back = read(&path).expect("read");
        assert_eq!(back.blobs[0].retries, 2);
        assert_eq!(back.totals.bytes_copied, 5);
        let mut raw: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).expect("read")).expect("json");
        raw["schemaVersion"] = 2.into();
        std::fs::write(&path, raw.to_string()).expect("write");
        assert!(matches!(read(&path), Err(ReportError::Version { found: 2, .. })));
        std::fs::write(&path, "[1,2").expect("write");
        assert!(matches!(read(&path), Err(ReportError::Json { .. })));
    }

    #[test]
    fn a_link_is_followed_not_replaced() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (target, link) = (dir.path().join("target.json"), dir.path().join("link.json"));
        std::fs::write(&target, "old").expect("write");
        std::os::unix::fs::symlink(&target, &link).expect("symlink");
        write(&link, &Recorder::new().finish("mirror gather", vec![], 0, None)).expect("write");
        assert!(link.is_symlink(), "the link stays a link");
        assert_eq!(read(&target).expect("the target holds the report").exit_code, 0);
    }

    proptest::proptest! {
        /// A report cut anywhere or with any byte changed reads back as an error or as a
        /// report, never a panic; what it asks to redo names only what it lists.
        #[test]
        fn damaged_reports_never_panic(cut in 0usize..4096, at in 0usize..4096, byte in proptest::prelude::any::<u8>()) {
            let mut bytes = include_bytes!("../../../fuzz/seeds/run_report/scatter.json").to_vec();
            let at = at % bytes.len();
            bytes[at] = byte;
            bytes.truncate(cut.min(bytes.len()));
            if let Ok(report) = parse(&bytes, Path::new("r.json")) {
                let retry = report.retry();
                proptest::prop_assert!(retry.destinations.len() + retry.sources.len() <= report.artifacts.len());
            }
        }
    }

    #[test]
    fn the_seed_report_reads_and_retries_what_failed() {
        let report = parse(include_bytes!("../../../fuzz/seeds/run_report/scatter.json"), Path::new("r.json")).expect("parse");
        let retry = report.retry();
        assert_eq!(retry.destinations, ["high:5000/m/db:2".to_owned(), "high:5000/m/ui:3".to_owned()].into_iter().collect());
        assert_eq!(retry.sources, ["src/x:1".to_owned()].into_iter().collect());
    }
}
