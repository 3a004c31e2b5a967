//! Writing a set: the archive stream cut into data volumes `DEST.001`, `DEST.002`, … of at
//! most the volume size each (header, payload, trailer), then `N` parity volumes
//! `DEST.p01`, … computed stripe by stripe from the data volumes read back, so memory stays
//! bounded whatever the volume size.

use std::fs::File;
use std::io::{self, Write};
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use crate::VolumeError;
use crate::files::{at, read_header, read_table, volume_path, write_table};
use crate::header::{HEADER_BYTES, Header, Kind, SetId, payload_capacity};
use crate::parity;

/// The smallest volume ferry cuts: a header, a stripe and its checksum.
pub const MIN_VOLUME: u64 = 1 << 20;

/// How a set is cut.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SetSpec {
    /// Each volume's size limit, header and trailer included.
    pub volume_size: u64,
    /// Parity volumes: any this many lost or damaged volumes can be rebuilt.
    pub parity: u32,
}

impl SetSpec {
    /// The stripe size: 256 KiB, or 64 KiB for volumes under 16 MiB.
    pub fn stripe(&self) -> u32 {
        if self.volume_size >= 16 << 20 { 256 << 10 } else { 64 << 10 }
    }

    /// The payload bytes of every data volume but the last.
    pub fn capacity(&self) -> u64 {
        payload_capacity(self.volume_size, self.stripe())
    }
}

/// What a set's writing made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SetWritten {
    /// The data volumes, in order.
    pub data: Vec<PathBuf>,
    /// The parity volumes, in order.
    pub parity: Vec<PathBuf>,
    /// The archive stream's length.
    pub stream: u64,
}

/// A volume being written.
struct Open {
    file: File,
    path: PathBuf,
    payload: u64,
    crcs: Vec<u32>,
    stripe_crc: crc32fast::Hasher,
    in_stripe: u32,
}

impl Open {
    /// Appends `bytes` (no more than the rest of the current stripe) to the payload,
    /// closing the stripe's checksum when it is whole.
    fn append(&mut self, bytes: &[u8], stripe: u32) -> io::Result<()> {
        self.file.write_all_at(bytes, HEADER_BYTES as u64 + self.payload).map_err(|e| at(&self.path, e))?;
        self.stripe_crc.update(bytes);
        self.payload += bytes.len() as u64;
        self.in_stripe += bytes.len() as u32;
        if self.in_stripe == stripe {
            self.crcs.push(std::mem::take(&mut self.stripe_crc).finalize());
            self.in_stripe = 0;
        }
        Ok(())
    }
}

/// Writes the archive stream into a set of volumes beside `base`.
pub struct SetWriter {
    base: PathBuf,
    spec: SetSpec,
    set: SetId,
    capacity: u64,
    current: Option<Open>,
    /// Each closed data volume: path, payload, trailer CRC.
    closed: Vec<(PathBuf, u64, u32)>,
    stream: u64,
    /// Whole volumes an interrupted run left, checked against the stream before they are
    /// kept (see [`SetWriter::resume`]).
    kept: Vec<Kept>,
    /// The stripe of the stream being compared with a kept volume, and where it starts.
    pending: Vec<u8>,
    kept_offset: u64,
    /// Where each whole volume goes on (a tape), and how many of the first data volumes
    /// were handed off and removed.
    handoff: Option<Handoff>,
    discarded: usize,
    /// The run id a resumed set takes when its stream leaves the kept volumes.
    fresh_run: Option<[u8; 16]>,
}

/// A volume whole on disk, handed off to go on (to a tape) in set order: each data volume,
/// all but the last with a provisional header, then the parity volumes.
#[derive(Clone, Copy, Debug)]
pub struct Handed<'a> {
    /// Its file.
    pub path: &'a Path,
    /// Data or parity.
    pub kind: Kind,
    /// Its index within its kind.
    pub index: u32,
    /// Another volume is written after this one.
    pub more: bool,
}

/// What takes each volume once it is whole ([`SetWriter::handing_off`]).
pub type Handoff = Box<dyn FnMut(Handed<'_>) -> io::Result<()> + Send>;

/// A whole data volume of an interrupted run of the same set.
#[derive(Clone, Debug)]
pub struct Kept {
    path: PathBuf,
    payload: u64,
    crcs: Vec<u32>,
    trailer_crc: u32,
}

/// What an interrupted run of a set left to resume from: its run id and its whole data
/// volumes, in order.
#[derive(Clone, Debug)]
pub struct Resumable {
    /// The interrupted run's id, which the set keeps.
    pub run: [u8; 16],
    kept: Vec<Kept>,
}

impl Resumable {
    /// Whole data volumes that may be kept.
    pub fn volumes(&self) -> usize {
        self.kept.len()
    }
}

impl SetWriter {
    /// Starts a set at `base` (`DEST`): volumes are `DEST.001`, … and `DEST.p01`, ….
    pub fn create(base: &Path, spec: SetSpec, set: SetId) -> Result<SetWriter, VolumeError> {
        if spec.volume_size < MIN_VOLUME {
            return Err(VolumeError::Spec(format!("a volume must hold at least {MIN_VOLUME} bytes")));
        }
        if spec.parity > 255 {
            return Err(VolumeError::Spec("at most 255 parity volumes".to_owned()));
        }
        let capacity = spec.capacity();
        Ok(SetWriter {
            base: base.to_owned(),
            spec,
            set,
            capacity,
            current: None,
            closed: Vec::new(),
            stream: 0,
            kept: Vec::new(),
            pending: Vec::new(),
            kept_offset: 0,
            handoff: None,
            discarded: 0,
            fresh_run: None,
        })
    }

    /// Hands each volume to `handoff` once it is whole, in set order, for media that take
    /// one volume at a time (tapes): data volumes as they fill (all but the last with a
    /// provisional header), the last with its final header, then the parity volumes. Without
    /// parity, a data volume handed off is removed at once, so the disk holds one volume.
    pub fn handing_off(mut self, handoff: Handoff) -> SetWriter {
        self.handoff = Some(handoff);
        self
    }

    /// Hands a volume off; a data volume no parity needs is removed after.
    fn hand_off(&mut self, path: &Path, kind: Kind, index: u32, more: bool) -> io::Result<()> {
        let Some(handoff) = self.handoff.as_mut() else { return Ok(()) };
        handoff(Handed { path, kind, index, more })?;
        if kind == Kind::Data && self.spec.parity == 0 {
            std::fs::remove_file(path).map_err(|e| at(path, e))?;
            self.discarded += 1;
        }
        Ok(())
    }

    /// The whole data volumes `DEST.001`, … that an interrupted run of the same set (this
    /// root, volume size and parity) left, each read and checked stripe by stripe; `None`
    /// when there are none.
    pub fn resumable(base: &Path, spec: SetSpec, root: [u8; 32]) -> Option<Resumable> {
        let capacity = spec.capacity();
        let mut kept = Vec::new();
        let mut run = None;
        for index in 1.. {
            let path = volume_path(base, Kind::Data, index);
            let Ok((file, h)) = read_header(&path) else { break };
            let same = h.is_provisional()
                && h.set.root == root
                && run.is_none_or(|r| r == h.set.run)
                && h.volume_size == spec.volume_size
                && h.parity_count == spec.parity
                && h.stripe == spec.stripe()
                && h.index == index
                && h.payload == capacity;
            let Some(crcs) = same.then(|| whole_volume_crcs(&file, &h)).flatten() else { break };
            run = Some(h.set.run);
            kept.push(Kept { path, payload: h.payload, crcs, trailer_crc: h.trailer_crc });
        }
        Some(Resumable { run: run?, kept })
    }

    /// Starts the set again over what `resumable` found: the stream is compared with the
    /// kept volumes stripe by stripe and not written while it matches; from the first stripe
    /// that differs (another registry state, another option, a new signature), it is written
    /// there and on, as a fresh set would be, under the run id `fresh`: a copy of an
    /// interrupted run's volume taken off early (a disc burned as it was done) is then of
    /// another set, never read as part of this one.
    pub fn resume(base: &Path, spec: SetSpec, root: [u8; 32], resumable: Resumable, fresh: [u8; 16]) -> Result<SetWriter, VolumeError> {
        let mut w = SetWriter::create(base, spec, SetId { root, run: resumable.run })?;
        w.kept = resumable.kept;
        w.kept.reverse();
        w.fresh_run = Some(fresh);
        Ok(w)
    }

    fn open_next(&mut self) -> io::Result<()> {
        let index = self.closed.len() as u32 + 1;
        let path = volume_path(&self.base, Kind::Data, index);
        let file = File::create(&path).map_err(|e| at(&path, e))?;
        // The header is written when the set is complete and its counts are known.
        file.write_all_at(&[0u8; HEADER_BYTES], 0).map_err(|e| at(&path, e))?;
        self.current = Some(Open { file, path, payload: 0, crcs: Vec::new(), stripe_crc: crc32fast::Hasher::new(), in_stripe: 0 });
        Ok(())
    }

    /// Closes the volume being written; `more` when the stream goes on (it is then handed
    /// off, if the set is handing off).
    fn close_current(&mut self, more: bool) -> io::Result<()> {
        let Some(mut v) = self.current.take() else { return Ok(()) };
        if v.in_stripe > 0 {
            v.crcs.push(std::mem::take(&mut v.stripe_crc).finalize());
        }
        let trailer_crc = write_table(&v.file, &v.path, v.payload, v.crcs.iter().copied())?;
        // A volume written over one of an earlier run may have been longer.
        v.file.set_len(HEADER_BYTES as u64 + v.payload + 4 * v.crcs.len() as u64).map_err(|e| at(&v.path, e))?;
        // Provisional until the set is finished: an interrupted run is resumed from here.
        let index = self.closed.len() as u32 + 1;
        let provisional = Header {
            kind: Kind::Data,
            index,
            data_count: 0,
            parity_count: self.spec.parity,
            volume_size: self.spec.volume_size,
            payload: v.payload,
            stream: 0,
            stripe: self.spec.stripe(),
            trailer_crc,
            set: self.set,
        };
        v.file.write_all_at(&provisional.encode(), 0).map_err(|e| at(&v.path, e))?;
        drop(v.file);
        if more {
            self.hand_off(&v.path, Kind::Data, index, true)?;
        }
        self.closed.push((v.path, v.payload, trailer_crc));
        Ok(())
    }

    /// Compares the stream with the next kept volume; how much of `buf` it took.
    fn compare(&mut self, buf: &[u8]) -> io::Result<usize> {
        let stripe = u64::from(self.spec.stripe());
        let Some(k) = self.kept.last() else { return Ok(0) };
        let len = (k.payload - self.kept_offset).min(stripe) as usize;
        let n = buf.len().min(len - self.pending.len());
        self.pending.extend_from_slice(&buf[..n]);
        if self.pending.len() < len {
            return Ok(n);
        }
        let s = (self.kept_offset / stripe) as usize;
        if k.crcs.get(s) != Some(&crc32fast::hash(&self.pending)) {
            self.diverge()?;
            return Ok(n);
        }
        self.stream += len as u64;
        self.kept_offset += len as u64;
        self.pending.clear();
        if self.kept_offset == k.payload {
            let k = self.kept.pop().ok_or_else(|| io::Error::other("no kept volume"))?;
            self.closed.push((k.path, k.payload, k.trailer_crc));
            self.kept_offset = 0;
        }
        Ok(n)
    }

    /// The stream left the kept volumes: the volume being compared is written from the
    /// stripe that differs, and the rest are written as new.
    fn diverge(&mut self) -> io::Result<()> {
        let Some(k) = self.kept.pop() else { return Ok(()) };
        if let Some(run) = self.fresh_run.take() {
            self.set.run = run;
        }
        // The interrupted run's later volumes hold a stream that is no longer this one.
        for stale in self.kept.drain(..) {
            std::fs::remove_file(&stale.path).map_err(|e| at(&stale.path, e))?;
        }
        let stripe = self.spec.stripe();
        let file = std::fs::OpenOptions::new().write(true).open(&k.path).map_err(|e| at(&k.path, e))?;
        // Its header goes until it is closed again: it is no longer whole.
        file.write_all_at(&[0u8; HEADER_BYTES], 0).map_err(|e| at(&k.path, e))?;
        let s = (self.kept_offset / u64::from(stripe)) as usize;
        let mut v = Open {
            file,
            path: k.path,
            payload: self.kept_offset,
            crcs: k.crcs[..s].to_vec(),
            stripe_crc: crc32fast::Hasher::new(),
            in_stripe: 0,
        };
        let pending = std::mem::take(&mut self.pending);
        v.append(&pending, stripe)?;
        self.stream += pending.len() as u64;
        self.kept_offset = 0;
        self.current = Some(v);
        Ok(())
    }

    /// Writes the data volumes' headers and the parity volumes. Like a plain archive, the
    /// volumes are left to the page cache; a volume cut short by a crash has no header and
    /// is not taken for one.
    pub fn finish(mut self) -> Result<SetWritten, VolumeError> {
        // A stream that ended inside the kept volumes: what was compared is written.
        if !self.kept.is_empty() && (self.kept_offset > 0 || !self.pending.is_empty()) {
            self.diverge().map_err(VolumeError::Io)?;
        }
        // Kept volumes the shorter stream never reached are not part of the set.
        for k in std::mem::take(&mut self.kept) {
            std::fs::remove_file(&k.path).map_err(|e| VolumeError::Io(at(&k.path, e)))?;
        }
        if self.current.is_none() && self.closed.is_empty() {
            self.open_next().map_err(VolumeError::Io)?;
        }
        self.close_current(false).map_err(VolumeError::Io)?;
        let data_count = u32::try_from(self.closed.len()).map_err(|_| VolumeError::Spec("too many volumes".to_owned()))?;
        let stripe = self.spec.stripe();
        let header = |kind, index, payload, trailer_crc| Header {
            kind,
            index,
            data_count,
            parity_count: self.spec.parity,
            volume_size: self.spec.volume_size,
            payload,
            stream: self.stream,
            stripe,
            trailer_crc,
            set: self.set,
        };
        // Parity first, the final headers last: a run that dies before the end leaves whole
        // data volumes with provisional headers, which the same command resumes from.
        let mut parity_paths = Vec::new();
        if self.spec.parity > 0 {
            let sources: Vec<(File, u64)> = self
                .closed
                .iter()
                .map(|(p, payload, _)| File::open(p).map(|f| (f, *payload)).map_err(|e| VolumeError::Io(at(p, e))))
                .collect::<Result<_, _>>()?;
            let outputs = parity::write_parity(&self.base, &sources, self.spec.parity, stripe)?;
            for (j, (path, payload, crc)) in outputs.into_iter().enumerate() {
                let file = std::fs::OpenOptions::new().write(true).open(&path).map_err(|e| VolumeError::Io(at(&path, e)))?;
                file.write_all_at(&header(Kind::Parity, j as u32 + 1, payload, crc).encode(), 0)
                    .map_err(|e| VolumeError::Io(at(&path, e)))?;
                parity_paths.push(path);
            }
        }
        for (i, (path, payload, crc)) in self.closed.iter().enumerate().skip(self.discarded) {
            let file = std::fs::OpenOptions::new().write(true).open(path).map_err(|e| VolumeError::Io(at(path, e)))?;
            file.write_all_at(&header(Kind::Data, i as u32 + 1, *payload, *crc).encode(), 0).map_err(|e| VolumeError::Io(at(path, e)))?;
        }
        let data: Vec<PathBuf> = self.closed.iter().map(|(p, _, _)| p.clone()).collect();
        if self.handoff.is_some() {
            let last = data.last().cloned().unwrap_or_default();
            // The parity volumes are already made: nothing more is written.
            self.hand_off(&last, Kind::Data, data_count, false).map_err(VolumeError::Io)?;
            for (j, path) in parity_paths.iter().enumerate() {
                self.hand_off(path, Kind::Parity, j as u32 + 1, false).map_err(VolumeError::Io)?;
            }
        }
        Ok(SetWritten { data, parity: parity_paths, stream: self.stream })
    }
}

impl Write for SetWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if !self.kept.is_empty() {
            return self.compare(buf);
        }
        if self.current.as_ref().is_none_or(|v| v.payload == self.capacity) {
            self.close_current(true)?;
            self.open_next()?;
        }
        let stripe = self.spec.stripe();
        let capacity = self.capacity;
        let v = self.current.as_mut().ok_or_else(|| io::Error::other("no open volume"))?;
        // Up to the end of the volume and of the stripe, so each stripe's CRC is its own.
        let n = buf.len().min((capacity - v.payload) as usize).min((stripe - v.in_stripe) as usize);
        v.append(&buf[..n], stripe)?;
        self.stream += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The stripe checksums of a whole volume, if its table is intact and every stripe matches.
fn whole_volume_crcs(file: &File, h: &Header) -> Option<Vec<u32>> {
    let crcs = read_table(file, h)?;
    let mut buf = vec![0u8; h.stripe as usize];
    for (s, crc) in crcs.iter().enumerate() {
        let start = s as u64 * u64::from(h.stripe);
        let len = (h.payload - start).min(u64::from(h.stripe)) as usize;
        file.read_exact_at(&mut buf[..len], HEADER_BYTES as u64 + start).ok()?;
        if crc32fast::hash(&buf[..len]) != *crc {
            return None;
        }
    }
    Some(crcs)
}

/// A [`SetWriter`] shared between the thread that writes the stream (the block buffer's) and
/// the caller that finishes the set once that thread is done.
#[derive(Clone)]
pub struct SharedSet(Arc<Mutex<Option<SetWriter>>>);

impl SharedSet {
    /// Shares `writer`.
    pub fn new(writer: SetWriter) -> SharedSet {
        SharedSet(Arc::new(Mutex::new(Some(writer))))
    }

    /// Finishes the set (once; later calls are errors).
    pub fn finish(&self) -> Result<SetWritten, VolumeError> {
        let writer = self.0.lock().unwrap_or_else(PoisonError::into_inner).take();
        writer.ok_or_else(|| VolumeError::Spec("the set was already finished".to_owned()))?.finish()
    }
}

impl Write for SharedSet {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self.0.lock().unwrap_or_else(PoisonError::into_inner).as_mut() {
            Some(w) => w.write(buf),
            None => Err(io::Error::other("the set is finished")),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
