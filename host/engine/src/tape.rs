//! Media sets on tapes: one volume per tape, the next one loaded by the operator at a prompt
//! or by an autoloader command ([`VolumeChanger`], which the CLI provides).
//!
//! A tape can be neither rewritten nor read in parallel, so a set goes through a staging
//! directory both ways: serialize writes each volume there and copies it to the tape once it
//! is whole (with parity, every data volume stays until the parity volumes are made). Reading
//! a set without parity, each tape's volume is staged, checked, read and removed before the
//! next is asked for; reading any other set (and checking or joining any), each tape's volume
//! is staged, parity tapes asked for only while what was read cannot rebuild the set, and the
//! staged set is read as files are. Room for a whole volume is checked before each.

use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ferry_archive::Geometry;
use ferry_volumes::Kind;
pub use ferry_volumes::tape::Wanted;

use crate::error::Error;
use crate::events::{Event, Events, no_events};
use crate::serialize::ArchiveDest;

/// Has the next volume of a set loaded into a drive: what the operator or an autoloader does.
pub trait VolumeChanger: Send + Sync + std::fmt::Debug {
    /// Has `wanted` loaded into `device`. Writing, `Ok(false)` is an error (the tape was not
    /// loaded); reading, it means that volume cannot be had (lost) and the set goes on
    /// without it if the parity allows.
    fn load(&self, device: &Path, wanted: Wanted, reading: bool) -> io::Result<bool>;

    /// What was loaded for `wanted` is not it (another set, a volume already read); it is
    /// asked for again.
    fn refused(&self, device: &Path, wanted: Wanted, why: &str);
}

/// How archives are read from media: the read buffer, and for a set on tapes, who loads the
/// next tape and where the set is staged.
#[derive(Clone)]
pub struct Media {
    /// Bytes per read (0: [`ferry_archive::reader::READ_BUFFER`]); a tape's block size or more.
    pub buffer: usize,
    /// Loads the next tape of a set.
    pub changer: Option<Arc<dyn VolumeChanger>>,
    /// Where a set read from tapes is staged (default: the temporary directory).
    pub staging: Option<PathBuf>,
    /// Where staging is reported.
    pub events: Events,
    /// Read every volume of a set on tapes, parity included (a check of the whole set),
    /// not only what the set needs.
    pub every_volume: bool,
}

impl Default for Media {
    fn default() -> Media {
        Media { buffer: 0, changer: None, staging: None, events: no_events(), every_volume: false }
    }
}

impl std::fmt::Debug for Media {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Media").field("buffer", &self.buffer).field("changer", &self.changer).field("staging", &self.staging).finish()
    }
}

impl Media {
    fn read_buffer(&self) -> usize {
        read_buffer(self.buffer)
    }
}

/// A read buffer of `buffer` bytes, 0 meaning [`ferry_archive::reader::READ_BUFFER`].
pub(crate) fn read_buffer(buffer: usize) -> usize {
    if buffer == 0 { ferry_archive::reader::READ_BUFFER } else { buffer }
}

/// Whether `path` is a character device (a tape drive).
pub fn is_device(path: &Path) -> bool {
    use std::os::unix::fs::FileTypeExt as _;
    std::fs::metadata(path).is_ok_and(|m| m.file_type().is_char_device())
}

/// What staging directories are called: `ferry-set-PID-…`.
const STAGING_PREFIX: &str = "ferry-set-";

/// A staging directory under `staging` (or the temporary directory), named with this
/// process's id; those a stopped or killed run left there are removed first.
pub(crate) fn staging_dir(staging: Option<&Path>) -> Result<tempfile::TempDir, Error> {
    let dir = staging.map_or_else(std::env::temp_dir, Path::to_owned);
    let made = tempfile::Builder::new()
        .prefix(&format!("{STAGING_PREFIX}{}-", std::process::id()))
        .tempdir_in(&dir)
        .map_err(|source| Error::Output { what: format!("creating a staging directory in {}", dir.display()), source })?;
    clear_abandoned(&dir, made.path());
    Ok(made)
}

/// Removes the staging directories in `dir` whose run is gone (no process of its id), which
/// a run stopped by a signal or killed leaves behind: a set's worth of space. Only this
/// user's directories (owned as `mine` is) are touched.
fn clear_abandoned(dir: &Path, mine: &Path) {
    use std::os::unix::fs::MetadataExt as _;
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let me = std::fs::metadata(mine).ok().map(|m| m.uid());
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name.strip_prefix(STAGING_PREFIX).and_then(|rest| rest.split('-').next()).and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        let ours = entry.metadata().is_ok_and(|m| m.is_dir() && Some(m.uid()) == me);
        if ours && pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            tracing::info!("removing {}, left by a run that is gone", entry.path().display());
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Fails unless `dir` has room for `need` more bytes, so a staging directory that would fill
/// is said before the volume that would fill it; `what` names that volume. When the space
/// cannot be read, the writes say.
pub(crate) fn ensure_room(dir: &Path, need: u64, what: &str) -> io::Result<()> {
    let Ok(fs) = rustix::fs::statvfs(dir) else { return Ok(()) };
    let free = fs.f_bavail.saturating_mul(fs.f_frsize);
    if free >= need {
        return Ok(());
    }
    Err(io::Error::new(
        io::ErrorKind::StorageFull,
        format!(
            "the staging directory {} has {free} bytes free and {what} needs up to {need}: make room there, or name another with --staging-dir",
            dir.display()
        ),
    ))
}

/// What takes each whole volume of a set being written to the tape at `dest`: the first
/// goes on the tape loaded now, each later one after `changer` loads the next; room for the
/// next volume (`volume_size`) is checked before it is made.
pub(crate) fn hand_off_to(
    dest: ArchiveDest,
    geometry: Geometry,
    changer: Arc<dyn VolumeChanger>,
    volume_size: u64,
    events: Events,
) -> ferry_volumes::Handoff {
    let mut first = true;
    Box::new(move |handed: ferry_volumes::Handed<'_>| {
        let wanted = Wanted { kind: handed.kind, index: handed.index };
        let device = dest.path().unwrap_or(Path::new("-")).to_owned();
        if !std::mem::take(&mut first) && !changer.load(&device, wanted, false)? {
            return Err(io::Error::other(format!("volume {wanted} was not loaded into {}", device.display())));
        }
        let mut medium = dest.open(geometry).map_err(io::Error::other)?;
        let bytes = ferry_volumes::tape::write_to_medium(handed.path, &mut medium)?;
        medium.finish().map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", device.display())))?;
        events(&Event::VolumeOnMedium { volume: wanted.to_string(), device, bytes });
        if handed.more {
            let next = describe(Wanted { kind: handed.kind, index: handed.index + 1 });
            ensure_room(handed.path.parent().unwrap_or(Path::new(".")), volume_size, &next)?;
        }
        Ok(())
    })
}

/// What a device holds: a set (staged, read as files) or a plain archive stream.
pub enum DeviceContent {
    /// A media set, staged from its tapes.
    Set(StagedSet),
    /// Anything else, from its first byte.
    Stream(Box<dyn Read + Send>),
}

/// A set staged from tapes; the staging directory goes when this is dropped.
pub struct StagedSet {
    /// The tape drive it was read from.
    pub device: PathBuf,
    /// The staged volumes.
    pub volumes: Vec<PathBuf>,
    dir: tempfile::TempDir,
}

impl StagedSet {
    /// Keeps the staging directory until `reader` is dropped.
    pub fn holding<R: Read + Send + 'static>(self, reader: R) -> Box<dyn Read + Send> {
        Box::new(Holding { reader, _dir: self.dir })
    }
}

struct Holding<R> {
    reader: R,
    _dir: tempfile::TempDir,
}

impl<R: Read> Read for Holding<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.reader.read(buf)
    }
}

/// Opens the device at `path`: a set's first volume is staged with the rest of its tapes,
/// anything else is handed back as a stream from its first byte (nothing is read twice).
/// With `stream`, a set without parity comes back as its archive stream instead, read one
/// tape at a time, so staging holds one volume (there is nothing to rebuild it from).
pub fn open_device(path: &Path, media: &Media, stream: bool) -> Result<DeviceContent, Error> {
    use std::io::BufRead as _;
    let name = path.display().to_string();
    let failed = |source| Error::ReadArchive { name: name.clone(), source };
    let file = std::fs::File::open(path).map_err(failed)?;
    let mut reader = BufReader::with_capacity(media.read_buffer(), file);
    let head = reader.fill_buf().map_err(failed)?;
    if !head.starts_with(ferry_volumes::header::MAGIC) {
        return Ok(DeviceContent::Stream(Box::new(reader)));
    }
    let header = ferry_volumes::Header::decode(head).ok();
    let dir = staging_dir(media.staging.as_deref())?;
    let volume_size = header.as_ref().map_or(0, |h| h.volume_size);
    let first = header.as_ref().map_or_else(|| "the first volume".to_owned(), |h| describe(Wanted { kind: h.kind, index: h.index }));
    ensure_room(dir.path(), volume_size, &first).map_err(|source| Error::Output { what: format!("reading {name}"), source })?;
    (media.events)(&Event::SetStaging { dir: dir.path().to_owned(), volume_size, parity: header.as_ref().map_or(0, |h| h.parity_count) });
    // A set on one tape needs nobody to change tapes; the changer is asked for when needed.
    let mut loader = Loader {
        device: path.to_owned(),
        changer: media.changer.clone(),
        buffer: media.read_buffer(),
        staging: dir.path().to_owned(),
        volume_size,
        events: media.events.clone(),
    };
    if stream && !media.every_volume && header.as_ref().is_some_and(|h| h.parity_count == 0) {
        let one = ferry_volumes::tape::OneAtATime::new(Box::new(reader), loader, dir.path())
            .map_err(|source| Error::Volumes { what: format!("media set on {name}"), source })?;
        return Ok(DeviceContent::Stream(Box::new(Holding { reader: one, _dir: dir })));
    }
    let volumes = ferry_volumes::tape::stage(Box::new(reader), &mut loader, dir.path(), media.every_volume)
        .map_err(|source| Error::Volumes { what: format!("media set on {name}"), source })?;
    Ok(DeviceContent::Set(StagedSet { device: path.to_owned(), volumes, dir }))
}

/// Asks the changer for each tape and opens the device once it is loaded.
struct Loader {
    device: PathBuf,
    changer: Option<Arc<dyn VolumeChanger>>,
    buffer: usize,
    /// Where each volume is copied, and how much room one needs there.
    staging: PathBuf,
    volume_size: u64,
    events: Events,
}

impl ferry_volumes::tape::Loader for Loader {
    fn load(&mut self, wanted: Wanted) -> Result<Option<Box<dyn Read>>, ferry_volumes::VolumeError> {
        let Some(changer) = &self.changer else {
            let device = format!("{} (the set goes on with {})", self.device.display(), describe(wanted));
            let problem = crate::serialize::DestinationProblem::SetNeedsChanger(device);
            return Err(ferry_volumes::VolumeError::NoLoader(problem.to_string()));
        };
        ensure_room(&self.staging, self.volume_size, &describe(wanted))?;
        if !changer.load(&self.device, wanted, true)? {
            (self.events)(&Event::VolumeLost { volume: wanted.to_string() });
            return Ok(None);
        }
        let file = std::fs::File::open(&self.device).map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", self.device.display())))?;
        Ok(Some(Box::new(BufReader::with_capacity(self.buffer, file))))
    }

    fn refused(&mut self, wanted: Wanted, why: &str) {
        if let Some(changer) = &self.changer {
            changer.refused(&self.device, wanted, why);
        }
    }
}

/// The data or parity volume a [`Wanted`] names, for messages: "volume 3", "parity volume 1".
pub fn describe(wanted: Wanted) -> String {
    match wanted.kind {
        Kind::Data => format!("volume {}", wanted.index),
        Kind::Parity => format!("parity volume {}", wanted.index),
    }
}
