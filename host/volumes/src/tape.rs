//! Sets on media that hold one volume each and are read one at a time (tapes): a volume is
//! written to the medium exactly as it sits in its file (header, payload, trailer), and read
//! back into a staging directory, where the set is then read as files are. The medium is
//! read from its start and only as far as its volume goes; whatever follows (a tape's
//! padding to its block size) is left.
//!
//! A set without parity can also be read one tape at a time ([`OneAtATime`]): nothing else
//! is ever needed to read a volume.
//!
//! A tape cannot hold a header rewritten at the end: every data volume but the last carries
//! a provisional header (its set's count unknown when it was written) and the last one, or
//! any parity volume, tells the count. Staging fills the count in.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};

use crate::VolumeError;
use crate::files::{at, volume_path};
use crate::header::{HEADER_BYTES, Header, Kind};

/// A volume of a set, as an operator is asked to load it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Wanted {
    /// Data or parity.
    pub kind: Kind,
    /// Its index within its kind.
    pub index: u32,
}

impl std::fmt::Display for Wanted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.kind {
            Kind::Data => write!(f, "{}", self.index),
            Kind::Parity => write!(f, "p{}", self.index),
        }
    }
}

/// Loads volumes one at a time (an operator at a prompt, an autoloader command).
pub trait Loader {
    /// Has `wanted` loaded and returns the medium's stream from its start, or `None` when
    /// that volume cannot be had (lost).
    fn load(&mut self, wanted: Wanted) -> Result<Option<Box<dyn Read>>, VolumeError>;

    /// A loaded medium is not what was asked for (another set, a volume already read).
    fn refused(&mut self, wanted: Wanted, why: &str);
}

impl<L: Loader + ?Sized> Loader for &mut L {
    fn load(&mut self, wanted: Wanted) -> Result<Option<Box<dyn Read>>, VolumeError> {
        (**self).load(wanted)
    }

    fn refused(&mut self, wanted: Wanted, why: &str) {
        (**self).refused(wanted, why);
    }
}

/// Bytes copied from a medium at a time.
const COPY_BUFFER: usize = 256 << 10;

/// Wrong media loaded in a row before staging gives up.
const WRONG_IN_A_ROW: usize = 3;

/// Copies a volume file to a medium as it is.
pub fn write_to_medium(path: &Path, medium: &mut dyn Write) -> io::Result<u64> {
    let mut file = File::open(path).map_err(|e| at(path, e))?;
    io::copy(&mut file, medium)
}

/// Why a medium does not begin with a volume header.
struct NoHeader {
    why: String,
    /// It begins with the magic: a volume whose header is damaged.
    damaged: bool,
}

/// The volume header a medium begins with.
fn header_of(medium: &mut dyn Read) -> Result<Header, NoHeader> {
    let mut head = [0u8; HEADER_BYTES];
    let read = medium.read_exact(&mut head).map_err(|e| e.to_string());
    read.and_then(|()| Header::decode(&head).map_err(|e| e.to_string()))
        .map_err(|why| NoHeader { why, damaged: head.starts_with(crate::header::MAGIC) })
}

/// The header of the first medium loaded; without one there is no set.
fn first_header(medium: &mut dyn Read) -> Result<Header, VolumeError> {
    header_of(medium).map_err(|e| VolumeError::NoSet(format!("the first medium ({})", e.why)))
}

/// A volume staged: its header as read and whether every stripe matched its checksum.
struct Staged {
    header: Header,
    intact: bool,
}

/// Reads the set whose first medium is `first` into `dir` (as `dir/set.001`, …), asking
/// `loader` for the other volumes in order: data volumes until the last, and parity volumes
/// only while what was read cannot rebuild the set, or every one when `every` (a check of
/// the whole set). Returns the staged volumes' paths, ready for [`crate::survey`], which
/// says whether they rebuild the set.
pub fn stage(first: Box<dyn Read>, loader: &mut dyn Loader, dir: &Path, every: bool) -> Result<Vec<PathBuf>, VolumeError> {
    let base = dir.join("set");
    let mut medium = first;
    let h = first_header(&mut medium)?;
    let set = h.set;
    let mut staged: BTreeMap<Wanted, Staged> = BTreeMap::new();
    let mut lost: BTreeSet<Wanted> = BTreeSet::new();
    let first = Wanted { kind: h.kind, index: h.index };
    let s = copy_volume(h, &mut medium, &base)?;
    staged.insert(first, s);
    drop(medium);
    let mut wrong = 0;
    while let Some(wanted) = next_wanted(&staged, &lost, every)? {
        let Some(mut medium) = loader.load(wanted)? else {
            lost.insert(wanted);
            continue;
        };
        let h = header_of(&mut medium);
        if let Err(NoHeader { why, damaged: true }) = &h {
            // A volume whose header cannot be read is as good as lost.
            loader.refused(wanted, &format!("unreadable header ({why}); taken as lost"));
            lost.insert(wanted);
            continue;
        }
        let why = match &h {
            Err(NoHeader { why, .. }) => Some(format!("not a volume of a set ({why})")),
            Ok(h) if h.set != set => Some(format!("volume {} of another set ({})", Wanted { kind: h.kind, index: h.index }, h.set)),
            Ok(h) if staged.contains_key(&Wanted { kind: h.kind, index: h.index }) => {
                Some(format!("volume {}, already read", Wanted { kind: h.kind, index: h.index }))
            }
            Ok(_) => None,
        };
        if let Some(why) = why {
            wrong += 1;
            if wrong >= WRONG_IN_A_ROW {
                return Err(VolumeError::NoSet(format!("volume {wanted} of {set}: {why}, {wrong} times in a row")));
            }
            loader.refused(wanted, &why);
            continue;
        }
        wrong = 0;
        let h = h.map_err(|e| VolumeError::Spec(e.why))?;
        let got = Wanted { kind: h.kind, index: h.index };
        let s = copy_volume(h, &mut medium, &base)?;
        lost.remove(&got);
        staged.insert(got, s);
    }
    finish_headers(&staged, &base)?;
    Ok(staged.keys().map(|w| volume_path(&base, w.kind, w.index)).collect())
}

/// The set's data count and stream length, once a final header was read.
fn counts(staged: &BTreeMap<Wanted, Staged>) -> Option<(u32, u64)> {
    staged.values().map(|s| &s.header).find(|h| !h.is_provisional()).map(|h| (h.data_count, h.stream))
}

/// The next volume to ask for, or `None` once the set can be read; an error naming the
/// volumes still needed when none is left to ask for.
fn next_wanted(staged: &BTreeMap<Wanted, Staged>, lost: &BTreeSet<Wanted>, every: bool) -> Result<Option<Wanted>, VolumeError> {
    let parity_count = staged.values().next().map_or(0, |s| s.header.parity_count);
    let tried = |w: &Wanted| staged.contains_key(w) || lost.contains(w);
    let parity = (1..=parity_count).map(|index| Wanted { kind: Kind::Parity, index });
    let Some((count, _)) = counts(staged) else {
        // The count is not known yet: the next data volume, unless one was lost (then a
        // parity volume tells the count).
        let highest = staged.keys().chain(lost).filter(|w| w.kind == Kind::Data).map(|w| w.index).max().unwrap_or(0);
        if lost.iter().all(|w| w.kind == Kind::Parity) {
            return Ok(Some(Wanted { kind: Kind::Data, index: highest + 1 }));
        }
        return match parity.clone().find(|w| !tried(w)) {
            Some(w) => Ok(Some(w)),
            None => Err(VolumeError::Unrecoverable(format!(
                "{} lost and no parity volume read: the set's size is unknown",
                names(lost.iter().filter(|w| w.kind == Kind::Data))
            ))),
        };
    };
    let data = (1..=count).map(|index| Wanted { kind: Kind::Data, index });
    let good = |kind| staged.iter().filter(|(w, s)| w.kind == kind && s.intact).count();
    let missing = data.clone().filter(|w| !staged.get(w).is_some_and(|s| s.intact)).count();
    if every {
        return Ok(data.chain(parity).find(|w| !tried(w)));
    }
    if missing == 0 || (missing <= parity_count as usize && good(Kind::Data) + good(Kind::Parity) >= count as usize) {
        return Ok(None);
    }
    // Nothing left to ask for: the survey of what was read says whether it rebuilds the
    // set, stripe by stripe, and names what is missing if not.
    Ok(data.chain(parity).find(|w| !tried(w)))
}

fn names<'a>(volumes: impl Iterator<Item = &'a Wanted>) -> String {
    volumes.map(|w| format!("volume {w}")).collect::<Vec<_>>().join(", ")
}

/// Copies a volume whose header `h` was read from `medium` into its file beside `base`,
/// checking each stripe against the trailer.
fn copy_volume(h: Header, medium: &mut dyn Read, base: &Path) -> Result<Staged, VolumeError> {
    let path = volume_path(base, h.kind, h.index);
    let mut file = File::create(&path).map_err(|e| VolumeError::Io(at(&path, e)))?;
    file.write_all(&h.encode()).map_err(|e| VolumeError::Io(at(&path, e)))?;
    // A header may claim any stripe size: the buffer is fixed, each stripe hashed in pieces.
    let stripe = u64::from(h.stripe);
    let mut buf = vec![0u8; COPY_BUFFER.min(h.stripe as usize)];
    let mut crcs = Vec::new();
    let mut hasher = crc32fast::Hasher::new();
    let (mut left, mut in_stripe) = (h.payload, 0u64);
    while left > 0 {
        let n = left.min(stripe - in_stripe).min(buf.len() as u64) as usize;
        medium.read_exact(&mut buf[..n]).map_err(|e| VolumeError::Io(short(e, &h)))?;
        file.write_all(&buf[..n]).map_err(|e| VolumeError::Io(at(&path, e)))?;
        hasher.update(&buf[..n]);
        (left, in_stripe) = (left - n as u64, in_stripe + n as u64);
        if in_stripe == stripe || left == 0 {
            crcs.push(std::mem::take(&mut hasher).finalize());
            in_stripe = 0;
        }
    }
    let mut table = vec![0u8; crcs.len() * 4];
    medium.read_exact(&mut table).map_err(|e| VolumeError::Io(short(e, &h)))?;
    file.write_all(&table).map_err(|e| VolumeError::Io(at(&path, e)))?;
    let recorded: Vec<u32> = table.chunks_exact(4).map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
    let intact = crc32fast::hash(&table) == h.trailer_crc && recorded == crcs;
    Ok(Staged { header: h, intact })
}

fn short(e: io::Error, h: &Header) -> io::Error {
    io::Error::new(e.kind(), format!("reading volume {} from the medium: {e}", Wanted { kind: h.kind, index: h.index }))
}

/// Gives the staged data volumes with a provisional header their set's count and length.
fn finish_headers(staged: &BTreeMap<Wanted, Staged>, base: &Path) -> Result<(), VolumeError> {
    let Some((data_count, stream)) = counts(staged) else { return Ok(()) };
    for (w, s) in staged.iter().filter(|(_, s)| s.header.is_provisional()) {
        let path = volume_path(base, w.kind, w.index);
        let header = Header { data_count, stream, ..s.header.clone() };
        let file = std::fs::OpenOptions::new().write(true).open(&path).map_err(|e| VolumeError::Io(at(&path, e)))?;
        file.write_all_at(&header.encode(), 0).map_err(|e| VolumeError::Io(at(&path, e)))?;
    }
    Ok(())
}

/// A set without parity, read one tape at a time: each volume is staged, checked, read and
/// removed before the next is asked for, so the staging directory holds one volume. There is
/// nothing to rebuild from: a lost or damaged volume ends the stream with an error naming it.
pub struct OneAtATime<L: Loader> {
    loader: L,
    base: PathBuf,
    set: crate::header::SetId,
    /// The data volume read now: its staged file, the payload bytes left, whether it is the
    /// set's last.
    current: Option<(PathBuf, File, u64, bool)>,
    index: u32,
}

impl<L: Loader> OneAtATime<L> {
    /// Starts with the medium `first`, which must hold data volume 1 of a set without parity.
    pub fn new(mut first: Box<dyn Read>, loader: L, dir: &Path) -> Result<OneAtATime<L>, VolumeError> {
        let h = first_header(&mut first)?;
        if (h.kind, h.index) != (Kind::Data, 1) {
            return Err(VolumeError::NoSet(format!(
                "volume {} is loaded; a set without parity volumes is read from volume 1",
                Wanted { kind: h.kind, index: h.index }
            )));
        }
        let mut reader = OneAtATime { loader, base: dir.join("set"), set: h.set, current: None, index: 1 };
        reader.stage_current(h, &mut first)?;
        Ok(reader)
    }

    /// Stages the volume whose header `h` was read from `medium` and makes it the current one.
    fn stage_current(&mut self, h: Header, medium: &mut dyn Read) -> Result<(), VolumeError> {
        let index = h.index;
        let last = !h.is_provisional() && h.index == h.data_count;
        let payload = h.payload;
        let staged = copy_volume(h, medium, &self.base)?;
        let path = volume_path(&self.base, Kind::Data, index);
        if !staged.intact {
            let _ = std::fs::remove_file(&path);
            return Err(VolumeError::Unrecoverable(format!("volume {index} is damaged and the set has no parity volumes to rebuild it")));
        }
        let mut file = File::open(&path).map_err(|e| VolumeError::Io(at(&path, e)))?;
        io::Seek::seek(&mut file, io::SeekFrom::Start(HEADER_BYTES as u64)).map_err(|e| VolumeError::Io(at(&path, e)))?;
        self.current = Some((path, file, payload, last));
        Ok(())
    }

    /// Asks for the next data volume and stages it; a wrong one is named and asked for again.
    fn next_volume(&mut self) -> Result<(), VolumeError> {
        let wanted = Wanted { kind: Kind::Data, index: self.index + 1 };
        for _ in 0..WRONG_IN_A_ROW {
            let Some(mut medium) = self.loader.load(wanted)? else {
                return Err(VolumeError::Unrecoverable(format!(
                    "volume {wanted} cannot be had and the set has no parity volumes to rebuild it"
                )));
            };
            match header_of(&mut medium) {
                Ok(h) if h.set == self.set && (h.kind, h.index) == (wanted.kind, wanted.index) => {
                    self.index = wanted.index;
                    return self.stage_current(h, &mut medium);
                }
                Ok(h) if h.set == self.set => self.loader.refused(wanted, &format!("volume {}", Wanted { kind: h.kind, index: h.index })),
                Ok(h) => {
                    self.loader.refused(wanted, &format!("volume {} of another set ({})", Wanted { kind: h.kind, index: h.index }, h.set))
                }
                Err(NoHeader { why, .. }) => self.loader.refused(wanted, &format!("not a volume of a set ({why})")),
            }
        }
        Err(VolumeError::NoSet(format!("volume {wanted} of {}: not loaded after {WRONG_IN_A_ROW} tries", self.set)))
    }
}

impl<L: Loader> Read for OneAtATime<L> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let Some((path, file, left, last)) = self.current.as_mut() else { return Ok(0) };
            if *left > 0 {
                let want = buf.len().min(usize::try_from(*left).unwrap_or(usize::MAX));
                let n = file.read(&mut buf[..want]).map_err(|e| at(path, e))?;
                if n == 0 {
                    return Err(io::Error::new(io::ErrorKind::UnexpectedEof, format!("{}: shorter than its header says", path.display())));
                }
                *left -= n as u64;
                return Ok(n);
            }
            let last = *last;
            let _ = std::fs::remove_file(&*path);
            self.current = None;
            if last {
                return Ok(0);
            }
            self.next_volume().map_err(|e| match e {
                VolumeError::Io(e) => e,
                e => io::Error::new(io::ErrorKind::InvalidData, e.to_string()),
            })?;
        }
    }
}
