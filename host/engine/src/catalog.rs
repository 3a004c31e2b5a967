//! The delivery catalog's part in writing an archive. Before, with `--catalog`: what the
//! delivery leaves out (every blob the high side confirmed, whatever name it went under, and
//! what an archive still on its way carries) and what it sends again. After: the record of
//! the archive written, each blob with its offset.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use ferry_archive::Compression;
use ferry_catalog::{ArchiveWritten, Catalog, Sending};
use ferry_oci::Digest;

use crate::error::Error;
use crate::events::{Event, Events};
use crate::serialize::SerializeOutcome;

/// How long a blob sent and never confirmed waits before a delivery sends it again.
pub const RESEND_AFTER: Duration = Duration::from_secs(14 * 24 * 3600);

/// A delivery planned against the catalog.
pub struct Planning {
    catalog: Arc<Catalog>,
    resend_after: Duration,
    /// Unconfirmed blobs whose newest sending is older than this are sent again.
    overdue_before: SystemTime,
    /// The newest receipt's time: what it does not confirm of archives written before it,
    /// the high side did not hold when it wrote it.
    latest_receipt: Option<SystemTime>,
}

impl std::fmt::Debug for Planning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Planning").field("resend_after", &self.resend_after).field("latest_receipt", &self.latest_receipt).finish()
    }
}

/// What a delivery does with one blob.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Plan {
    /// Never sent: it goes in.
    Send,
    /// The high side confirmed holding it: left out.
    Confirmed,
    /// An archive on its way carries it: left out until it is confirmed or overdue.
    OnItsWay(Sending),
    /// Sent and never confirmed, and overdue: it goes in again.
    Resend(Resend),
}

/// A blob sent again, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resend {
    /// The newest archive that carried it.
    pub sending: Sending,
    /// Why it is sent again.
    pub reason: ResendReason,
}

/// Why an unconfirmed blob is sent again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ResendReason {
    /// Its archive is older than `--resend-after`.
    Overdue(Duration),
    /// A receipt made after its archive was written (or in the same second) does not
    /// confirm it.
    NotInReceipt(SystemTime),
}

impl std::fmt::Display for Resend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = &self.sending;
        write!(f, "sent in {} ({}) on {}, ", s.archive, s.location, humantime::format_rfc3339_seconds(s.written))?;
        match self.reason {
            ResendReason::Overdue(after) => write!(f, "not confirmed after {}", humantime::format_duration(after)),
            ResendReason::NotInReceipt(at) => {
                write!(f, "not confirmed by the receipt of {}", humantime::format_rfc3339_seconds(at))
            }
        }
    }
}

impl Planning {
    /// Plans against `catalog` as of now.
    pub async fn new(catalog: Arc<Catalog>, resend_after: Duration) -> Result<Planning, Error> {
        let latest_receipt = catalog.latest_receipt().await?;
        let overdue_before = SystemTime::now().checked_sub(resend_after).unwrap_or(SystemTime::UNIX_EPOCH);
        Ok(Planning { catalog, resend_after, overdue_before, latest_receipt })
    }

    /// What to do with `digest`.
    pub async fn plan(&self, digest: &Digest) -> Result<Plan, Error> {
        let standing = self.catalog.standing(digest).await?;
        if standing.confirmed {
            return Ok(Plan::Confirmed);
        }
        let Some(sending) = standing.newest else { return Ok(Plan::Send) };
        let reason = match self.latest_receipt {
            // Both times are in whole seconds: a receipt of the same second counts as after,
            // the side that costs bytes rather than a missing blob.
            Some(at) if sending.written <= at => ResendReason::NotInReceipt(at),
            _ if sending.written < self.overdue_before => ResendReason::Overdue(self.resend_after),
            _ => return Ok(Plan::OnItsWay(sending)),
        };
        Ok(Plan::Resend(Resend { sending, reason }))
    }
}

/// Records an archive written to `location` in `catalog`; its run id.
pub async fn record(
    catalog: &Catalog,
    outcome: &SerializeOutcome,
    location: &str,
    compression: Option<Compression>,
) -> Result<String, Error> {
    let root = outcome.root.as_ref().map(|r| r.digest.clone()).ok_or_else(|| Error::Output {
        what: format!("recording {location} in the catalog"),
        source: std::io::Error::other("the archive has no root"),
    })?;
    let id = run_id();
    let archive = ArchiveWritten {
        id: id.clone(),
        root,
        location: location.to_owned(),
        volume: 1,
        volumes: outcome.volumes.as_ref().map_or(1, |v| i64::try_from(v.data.len()).unwrap_or(i64::MAX)),
        compression: match compression {
            None | Some(Compression::None) => "none",
            Some(Compression::Zstd) => "zstd",
            Some(Compression::Gzip) => "gzip",
        }
        .to_owned(),
        written: SystemTime::now(),
        host: host_name(),
        images: outcome.images.clone(),
        blobs: outcome.entries.clone(),
    };
    catalog.record_archive(&archive).await?;
    Ok(id)
}

/// [`record`], a failure reported as [`Event::NotRecorded`] rather than failing a delivery
/// already complete: the catalog then does not know the archive, so a later `--catalog`
/// delivery sends its blobs again (the safe direction).
pub async fn record_or_warn(
    catalog: &Catalog,
    outcome: &SerializeOutcome,
    location: &str,
    compression: Option<Compression>,
    events: &Events,
) {
    match record(catalog, outcome, location, compression).await {
        Ok(id) => events(&Event::Recorded { location: location.to_owned(), id }),
        Err(e) => events(&Event::NotRecorded { location: location.to_owned(), reason: e.to_string() }),
    }
}

/// A run id: the time to the microsecond and 32 random bits, unique per write and sorting by
/// time (the catalog lists archives of one second in this order).
pub fn run_id() -> String {
    use rand_core::RngCore as _;
    let now = SystemTime::now();
    let stamp = humantime::format_rfc3339_micros(now).to_string().replace(['-', ':'], "");
    format!("{}-{:08x}", stamp.trim_end_matches('Z'), rand_core::OsRng.next_u32())
}

/// This host's name, for the catalog's record of who wrote an archive.
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_ids_sort_by_time_and_differ() {
        let (a, b) = (run_id(), run_id());
        assert_ne!(a, b);
        assert_eq!(a.len(), "20261206T195642.123456-0a1b2c3d".len(), "{a}");
        assert!(a.as_bytes()[8] == b'T' && a.as_bytes()[15] == b'.' && a.as_bytes()[22] == b'-', "{a}");
        assert!(a < b || a[..22] == b[..22], "{a} then {b}");
    }
}
