//! Reading a set: which volumes are there and in what condition ([`survey`]), the archive
//! stream joined from the data volumes with lost or damaged stripes rebuilt from parity as
//! they are reached ([`JoinedReader`]), and [`Survey::repair`] that writes missing volumes back.

use std::collections::{BTreeSet, HashMap};
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::VolumeError;
use crate::files::{at, read_header, read_table, split_volume_name, volume_path, write_table};
use crate::header::{HEADER_BYTES, Header, Kind, SetId, payload_capacity};
use crate::parity::{rebuild, shard_len, stripe_range};

/// A volume's condition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Condition {
    /// Its header is good (and, when checked, every stripe).
    Good,
    /// Stripes whose bytes do not match their checksums (all of them when its checksum
    /// table is damaged).
    Damaged {
        /// How many.
        stripes: u64,
    },
    /// Not among the files given.
    Missing,
    /// A volume of another set.
    OtherSet(SetId),
    /// A second copy of a volume already given.
    Duplicate,
    /// Not a volume of a set, or its header is damaged.
    Unreadable(String),
}

impl Condition {
    /// As `verify` shows it.
    pub fn word(&self) -> &'static str {
        match self {
            Condition::Good => "good",
            Condition::Damaged { .. } => "damaged",
            Condition::Missing => "missing",
            Condition::OtherSet(_) => "another set",
            Condition::Duplicate => "duplicate",
            Condition::Unreadable(_) => "unreadable",
        }
    }
}

/// One line of a survey.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VolumeReport {
    /// The file (for a missing volume, the name it would have).
    pub path: PathBuf,
    /// Data or parity, and its index, when known.
    pub slot: Option<(Kind, u32)>,
    /// Its condition.
    pub condition: Condition,
}

/// A volume of the set that is there.
struct Member {
    path: PathBuf,
    file: File,
    payload: u64,
    /// The checksum of each stripe; `None` when the table itself is damaged.
    crcs: Option<Vec<u32>>,
}

/// What a set's files hold.
pub struct Survey {
    /// The set.
    pub set: SetId,
    /// Data volumes in the set.
    pub data_count: u32,
    /// Parity volumes in the set.
    pub parity_count: u32,
    /// The archive stream's length.
    pub stream: u64,
    /// Every file given and every volume missing, data first, in order, then the rest.
    pub reports: Vec<VolumeReport>,
    template: Header,
    base: PathBuf,
    members: HashMap<(Kind, u32), Member>,
    /// Stripes found damaged by a full check, per volume.
    bad: HashMap<(Kind, u32), BTreeSet<u64>>,
    /// The decoder, kept between stripes.
    decoder: std::sync::Mutex<Option<reed_solomon_simd::ReedSolomonDecoder>>,
    /// Staged from tapes (the drive): messages name the drive and the volumes by number.
    from_tapes: Option<PathBuf>,
    /// The set's writing did not finish: its whole data volumes from the first, read as a
    /// partial archive (no parity: it is made last).
    pub unfinished: bool,
}

/// Surveys the files at `paths` (volumes in any order, or directories of them; the other
/// volumes of the set beside a volume named are found too). With
/// `check`, every stripe of every volume is read and checked (`verify`); otherwise only the
/// headers and checksum tables, and damage is found as the stream is read.
pub fn survey(paths: &[PathBuf], check: bool) -> Result<Survey, VolumeError> {
    let mut files = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(p)
                .map_err(|e| VolumeError::Io(at(p, e)))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.is_file() && crate::is_volume(f))
                .collect();
            entries.sort();
            files.extend(entries);
        } else {
            files.push(p.clone());
        }
    }
    let mut headers = Vec::new();
    let mut provisional = Vec::new();
    let mut reports = Vec::new();
    for path in files.iter().cloned() {
        match read_header(&path) {
            Ok((file, h)) if h.is_provisional() => provisional.push((path, file, h)),
            Ok((file, h)) => headers.push((path, file, h)),
            Err(why) => reports.push(VolumeReport { path, slot: None, condition: Condition::Unreadable(why) }),
        }
    }
    // A set whose writing did not finish has only provisional volumes: its whole volumes
    // from the first are read as a partial archive.
    let unfinished = headers.is_empty() && !provisional.is_empty();
    let named = if unfinished { &provisional } else { &headers };
    // The set is the one most of the volumes named belong to; on a tie, the first named.
    let mut counts: HashMap<SetId, (usize, std::cmp::Reverse<usize>)> = HashMap::new();
    for (i, (_, _, h)) in named.iter().enumerate() {
        counts.entry(h.set).or_insert((0, std::cmp::Reverse(i))).0 += 1;
    }
    let Some(set) = counts.iter().max_by_key(|(_, rank)| **rank).map(|(id, _)| *id) else {
        let names: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        // Say why, for the first few files that looked like volumes.
        let why: Vec<String> = reports
            .iter()
            .take(3)
            .filter_map(|r| match &r.condition {
                Condition::Unreadable(why) => Some(format!("{}: {why}", r.path.display())),
                _ => None,
            })
            .collect();
        let why = if why.is_empty() { String::new() } else { format!(" ({})", why.join("; ")) };
        return Err(VolumeError::NoSet(format!("{}{why}", names.join(", "))));
    };
    // The rest of the set beside the volumes named (volumes of other sets there are not
    // the operator's concern).
    for path in with_siblings(&files) {
        if files.contains(&path) {
            continue;
        }
        match read_header(&path) {
            Ok((file, h)) if h.set == set && h.is_provisional() => provisional.push((path, file, h)),
            Ok((file, h)) if h.set == set => headers.push((path, file, h)),
            _ => {}
        }
    }
    let template = match headers.iter().find(|(_, _, h)| h.set == set) {
        Some((_, _, h)) => h.clone(),
        None => unfinished_template(&provisional, set)?,
    };
    // Provisional volumes of the set: those of an unfinished set, and those taken off before
    // the set was finished (a disc burned as its volume was done), are read with the set's
    // counts; any other is named.
    let capacity = payload_capacity(template.volume_size, template.stripe);
    for (path, file, h) in provisional {
        let fits = h.set == set
            && h.kind == Kind::Data
            && h.index < template.data_count.max(1)
            && h.payload == capacity
            && (h.volume_size, h.stripe) == (template.volume_size, template.stripe)
            || unfinished && h.set == set && h.index == template.data_count && h.payload == capacity;
        if fits {
            let h = Header { data_count: template.data_count, parity_count: template.parity_count, stream: template.stream, ..h };
            headers.push((path, file, h));
        } else if h.set != set {
            reports.push(VolumeReport { path, slot: Some((h.kind, h.index)), condition: Condition::OtherSet(h.set) });
        } else {
            let condition = Condition::Unreadable("a volume of a set whose writing did not finish".to_owned());
            reports.push(VolumeReport { path, slot: None, condition });
        }
    }
    let base = headers.iter().find(|(_, _, h)| h.set == set).map(|(p, _, _)| base_of(p)).unwrap_or_default();
    let last = template.stream.saturating_sub(capacity.saturating_mul(u64::from(template.data_count - 1)));
    let longest = if template.data_count == 1 { last } else { capacity };
    let expected = |kind: Kind, index: u32| match kind {
        Kind::Data if index == template.data_count => last,
        Kind::Data => capacity,
        Kind::Parity => parity_payload(longest, template.stripe),
    };
    let mut members = HashMap::new();
    let mut extra = Vec::new();
    for (path, file, h) in headers {
        if h.set != set {
            extra.push(VolumeReport { path, slot: Some((h.kind, h.index)), condition: Condition::OtherSet(h.set) });
            continue;
        }
        let slot = (h.kind, h.index);
        let agrees = h.data_count == template.data_count
            && h.parity_count == template.parity_count
            && h.stream == template.stream
            && h.volume_size == template.volume_size
            && h.stripe == template.stripe
            && h.payload == expected(h.kind, h.index);
        if members.contains_key(&slot) {
            extra.push(VolumeReport { path, slot: Some(slot), condition: Condition::Duplicate });
            continue;
        }
        if !agrees {
            extra.push(VolumeReport {
                path,
                slot: Some(slot),
                condition: Condition::Unreadable("its header disagrees with the set's".to_owned()),
            });
            continue;
        }
        // No table (damaged, or more than the file holds): the volume is lost whole.
        let crcs = read_table(&file, &h);
        members.insert(slot, Member { path, file, payload: h.payload, crcs });
    }
    let mut survey = Survey {
        set,
        data_count: template.data_count,
        parity_count: template.parity_count,
        stream: template.stream,
        reports: Vec::new(),
        template,
        base,
        members,
        bad: HashMap::new(),
        decoder: std::sync::Mutex::new(None),
        from_tapes: None,
        unfinished,
    };
    let slots: Vec<(Kind, u32)> = survey.slots().collect();
    for slot in slots {
        let condition = match survey.members.get(&slot) {
            None => Condition::Missing,
            Some(m) if m.crcs.is_none() => Condition::Damaged { stripes: m.payload.div_ceil(u64::from(survey.template.stripe)) },
            Some(_) if check => {
                let bad = survey.check_member(slot)?;
                let n = bad.len() as u64;
                if n > 0 {
                    survey.bad.insert(slot, bad);
                    Condition::Damaged { stripes: n }
                } else {
                    Condition::Good
                }
            }
            Some(_) => Condition::Good,
        };
        let path = survey.members.get(&slot).map_or_else(|| volume_path(&survey.base, slot.0, slot.1), |m| m.path.clone());
        survey.reports.push(VolumeReport { path, slot: Some(slot), condition });
    }
    survey.reports.extend(extra);
    survey.reports.extend(reports);
    Ok(survey)
}

/// The counts an unfinished set is read with: its whole provisional data volumes from the
/// first, without a gap, and no parity.
fn unfinished_template(provisional: &[(PathBuf, File, Header)], set: SetId) -> Result<Header, VolumeError> {
    let mine: Vec<&Header> = provisional.iter().map(|(_, _, h)| h).filter(|h| h.set == set && h.kind == Kind::Data).collect();
    let first = mine
        .iter()
        .find(|h| h.index == 1)
        .ok_or_else(|| VolumeError::NoSet("a set whose writing did not finish, without its first volume".to_owned()))?;
    let capacity = payload_capacity(first.volume_size, first.stripe);
    let mut whole = 0u32;
    while mine
        .iter()
        .any(|h| h.index == whole + 1 && h.payload == capacity && (h.volume_size, h.stripe) == (first.volume_size, first.stripe))
    {
        whole += 1;
    }
    if whole == 0 {
        return Err(VolumeError::NoSet("a set whose writing did not finish, without a whole first volume".to_owned()));
    }
    Ok(Header { data_count: whole, parity_count: 0, stream: capacity * u64::from(whole), ..(*first).clone() })
}

/// `paths` and, beside each volume file among them, the other files of its set's naming
/// (`DEST.001` brings `DEST.002`, …, `DEST.p01`, … from the same directory).
fn with_siblings(paths: &[PathBuf]) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = paths.to_vec();
    for p in paths {
        if !p.is_file() || !crate::is_volume(p) {
            continue;
        }
        let Some((dir, name)) = p.parent().zip(p.file_name()) else { continue };
        let name = name.to_string_lossy();
        let Some((base, _, _)) = split_volume_name(&name) else { continue };
        let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
        let Ok(entries) = std::fs::read_dir(dir) else { continue };
        let mut found: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|f| f.file_name().is_some_and(|n| split_volume_name(&n.to_string_lossy()).is_some_and(|(b, _, _)| b == base)))
            .filter(|f| !out.contains(f) && crate::is_volume(f))
            .collect();
        found.sort();
        out.extend(found);
    }
    out
}

/// `DEST` from `DEST.003` or `DEST.p01` (a renamed volume gives its whole path).
fn base_of(path: &Path) -> PathBuf {
    let text = path.as_os_str().to_string_lossy();
    let name = path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
    match split_volume_name(&name) {
        Some((base, _, _)) => PathBuf::from(&text[..text.len() - name.len() + base.len()]),
        None => PathBuf::from(text.as_ref()),
    }
}

/// A parity volume's payload: one shard per stripe of the longest data volume.
fn parity_payload(longest: u64, stripe: u32) -> u64 {
    let stripes = longest.div_ceil(u64::from(stripe));
    (0..stripes).map(|s| shard_len(longest, stripe, s) as u64).sum()
}

impl Survey {
    /// `DEST`: the set's volumes are `DEST.001`, …, `DEST.p01`, ….
    pub fn base(&self) -> &Path {
        &self.base
    }

    /// Refuses volumes of another set among those given.
    pub fn refuse_strangers(&self) -> Result<(), VolumeError> {
        let strangers: Vec<String> = self
            .reports
            .iter()
            .filter_map(|r| match &r.condition {
                Condition::OtherSet(other) => Some(format!("{} (of {other})", r.path.display())),
                _ => None,
            })
            .collect();
        if strangers.is_empty() {
            return Ok(());
        }
        Err(VolumeError::Foreign { set: self.set.to_string(), volumes: strangers.join(", ") })
    }

    fn stripe(&self) -> u32 {
        self.template.stripe
    }

    /// The longest data payload (volume 1's, or the only one's).
    fn longest(&self) -> u64 {
        let capacity = payload_capacity(self.template.volume_size, self.stripe());
        if self.data_count == 1 { self.stream } else { capacity }
    }

    fn data_payload(&self, index: u32) -> u64 {
        let capacity = payload_capacity(self.template.volume_size, self.stripe());
        if index == self.data_count {
            self.stream.saturating_sub(capacity.saturating_mul(u64::from(self.data_count - 1)))
        } else {
            capacity
        }
    }

    /// Reads every stripe of a volume; the stripes that do not match.
    fn check_member(&self, slot: (Kind, u32)) -> Result<BTreeSet<u64>, VolumeError> {
        let mut bad = BTreeSet::new();
        let stripes = self.members.get(&slot).map_or(0, |m| m.payload.div_ceil(u64::from(self.stripe())));
        for s in 0..stripes {
            if self.read_stripe(slot, s)?.is_none() {
                bad.insert(s);
            }
        }
        Ok(bad)
    }

    /// Stripe `s` of a volume that is there, if it reads and matches its checksum.
    fn read_stripe(&self, slot: (Kind, u32), s: u64) -> Result<Option<Vec<u8>>, VolumeError> {
        let Some(m) = self.members.get(&slot) else { return Ok(None) };
        let Some(crcs) = &m.crcs else { return Ok(None) };
        if self.bad.get(&slot).is_some_and(|b| b.contains(&s)) {
            return Ok(None);
        }
        let (offset, len) = match slot.0 {
            Kind::Data => stripe_range(m.payload, self.stripe(), s),
            Kind::Parity => {
                let len = shard_len(self.longest(), self.stripe(), s);
                (HEADER_BYTES as u64 + s * u64::from(self.stripe()), len)
            }
        };
        let mut buf = vec![0u8; len];
        match m.file.read_exact_at(&mut buf, offset) {
            Ok(()) => {}
            // An unreadable sector is damage, as a wrong byte is.
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof || e.raw_os_error() == Some(5) => return Ok(None),
            Err(e) => return Err(VolumeError::Io(at(&m.path, e))),
        }
        let good = crcs.get(s as usize).is_some_and(|c| *c == crc32fast::hash(&buf));
        Ok(good.then_some(buf))
    }

    /// Stripe `s` of data volume `index`, rebuilt from the other volumes when it is missing
    /// or damaged.
    fn data_stripe(&self, index: u32, s: u64) -> Result<Vec<u8>, VolumeError> {
        if let Some(bytes) = self.read_stripe((Kind::Data, index), s)? {
            return Ok(bytes);
        }
        let len = stripe_range(self.data_payload(index), self.stripe(), s).1;
        let mut shard = self.rebuild_stripe(s, index as usize - 1)?;
        shard.truncate(len);
        Ok(shard)
    }

    /// Original shard `wanted` of stripe `s`, rebuilt from the data shards there and as many
    /// parity shards as make up for the rest.
    fn rebuild_stripe(&self, s: u64, wanted: usize) -> Result<Vec<u8>, VolumeError> {
        let len = shard_len(self.longest(), self.stripe(), s);
        let mut originals = Vec::new();
        let mut lost = Vec::new();
        for i in 1..=self.data_count {
            let payload = self.data_payload(i);
            if s * u64::from(self.stripe()) >= payload {
                // Past a short last volume's end: zeros, known without reading.
                originals.push((i as usize - 1, vec![0u8; len]));
                continue;
            }
            match self.read_stripe((Kind::Data, i), s)? {
                Some(mut bytes) => {
                    bytes.resize(len, 0);
                    originals.push((i as usize - 1, bytes));
                }
                None => lost.push(volume_path(&self.base, Kind::Data, i)),
            }
        }
        let mut recovery = Vec::new();
        for j in 1..=self.parity_count {
            if originals.len() + recovery.len() == self.data_count as usize {
                break;
            }
            match self.read_stripe((Kind::Parity, j), s)? {
                Some(bytes) => recovery.push((j as usize - 1, bytes)),
                None => lost.push(volume_path(&self.base, Kind::Parity, j)),
            }
        }
        if originals.len() + recovery.len() < self.data_count as usize {
            return Err(self.unrecoverable(&lost, Some(s)));
        }
        let mut decoder = self.decoder.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        rebuild(&mut decoder, (self.data_count as usize, self.parity_count as usize), len, &originals, &recovery, wanted)
    }

    /// Marks the set as staged from tapes: messages name its volumes (`volume 3`), not the
    /// staging directory's files, which are gone once the command ends.
    pub fn from_tapes(mut self, device: &Path) -> Survey {
        self.from_tapes = Some(device.to_owned());
        self
    }

    /// Whether the set was staged from tapes.
    pub fn is_from_tapes(&self) -> bool {
        self.from_tapes.is_some()
    }

    /// How messages name the set: `DEST`, or the tape drive it was read from.
    pub fn name(&self) -> String {
        match &self.from_tapes {
            Some(device) => format!("on {}", device.display()),
            None => self.base.display().to_string(),
        }
    }

    /// How messages name the volume at `path`: its path, or for a set staged from tapes its
    /// number.
    pub fn shown(&self, path: &Path) -> String {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        match split_volume_name(&name).filter(|_| self.from_tapes.is_some()) {
            Some((_, Kind::Data, i)) => format!("volume {i}"),
            Some((_, Kind::Parity, j)) => format!("parity volume {j}"),
            None => path.display().to_string(),
        }
    }

    fn unrecoverable(&self, lost: &[PathBuf], stripe: Option<u64>) -> VolumeError {
        let names: Vec<String> = lost.iter().map(|p| self.shown(p)).collect();
        let more = lost.len() - self.parity_count as usize;
        let at =
            stripe.map(|s| format!(" in the stripe at byte {} of each volume's payload", s * u64::from(self.stripe()))).unwrap_or_default();
        VolumeError::Unrecoverable(format!(
            "{} of the set are missing or damaged{at} and {} parity volumes rebuild at most {}: bring back {more} of them",
            names.join(", "),
            self.parity_count,
            self.parity_count
        ))
    }

    /// Whether the set can be read whole: no stripe has more lost or damaged shards than
    /// there are parity volumes (damage inside a volume is known only after a check).
    pub fn rebuildable(&self) -> Result<(), VolumeError> {
        let stripes = self.longest().div_ceil(u64::from(self.stripe()));
        // Volumes lost whole: missing, or their checksum table damaged.
        let whole: Vec<(Kind, u32)> = self.slots().filter(|slot| self.members.get(slot).is_none_or(|m| m.crcs.is_none())).collect();
        // Only these rows can differ: the first, the first past the short last volume, and
        // every row with a damaged stripe (a header may claim any size: never walk them all).
        let last_end = self.data_payload(self.data_count).div_ceil(u64::from(self.stripe()));
        let rows: BTreeSet<u64> = [0, last_end].into_iter().chain(self.bad.values().flatten().copied()).filter(|s| *s < stripes).collect();
        for s in rows {
            let lost: BTreeSet<(Kind, u32)> = whole
                .iter()
                .copied()
                .chain(self.bad.iter().filter(|(_, b)| b.contains(&s)).map(|(slot, _)| *slot))
                // Past a short last volume's end its shard is zeros, known without it.
                .filter(|(kind, i)| *kind == Kind::Parity || s * u64::from(self.stripe()) < self.data_payload(*i))
                .collect();
            if lost.len() > self.parity_count as usize {
                let paths: Vec<PathBuf> = lost.iter().map(|slot| self.path_of(*slot)).collect();
                return Err(self.unrecoverable(&paths, (whole.len() <= self.parity_count as usize).then_some(s)));
            }
        }
        Ok(())
    }

    /// Every slot of the set: data volumes, then parity volumes.
    fn slots(&self) -> impl Iterator<Item = (Kind, u32)> + '_ {
        (1..=self.data_count).map(|i| (Kind::Data, i)).chain((1..=self.parity_count).map(|j| (Kind::Parity, j)))
    }

    fn path_of(&self, slot: (Kind, u32)) -> PathBuf {
        self.members.get(&slot).map_or_else(|| volume_path(&self.base, slot.0, slot.1), |m| m.path.clone())
    }

    /// The archive stream, joined from the data volumes.
    pub fn reader(self) -> JoinedReader {
        JoinedReader { survey: Arc::new(self), index: 1, stripe: 0, buf: Vec::new(), pos: 0 }
    }

    /// Writes every missing or damaged volume of the set into `dir`, rebuilt; their paths.
    pub fn repair(&self, dir: &Path) -> Result<Vec<PathBuf>, VolumeError> {
        self.rebuildable()?;
        let mut written = Vec::new();
        let broken: Vec<(Kind, u32)> = self
            .reports
            .iter()
            .filter(|r| matches!(r.condition, Condition::Missing | Condition::Damaged { .. }))
            .filter_map(|r| r.slot)
            .collect();
        let stripes = self.longest().div_ceil(u64::from(self.stripe()));
        for slot in broken {
            let name = volume_path(&self.base, slot.0, slot.1);
            let path = dir.join(name.file_name().unwrap_or_default());
            let file = File::create(&path).map_err(|e| VolumeError::Io(at(&path, e)))?;
            let mut payload = 0u64;
            let mut crcs = Vec::new();
            let own = match slot.0 {
                Kind::Data => self.data_payload(slot.1).div_ceil(u64::from(self.stripe())),
                Kind::Parity => stripes,
            };
            for s in 0..own {
                let bytes = match slot.0 {
                    Kind::Data => self.data_stripe(slot.1, s)?,
                    Kind::Parity => self.parity_stripe(slot.1, s)?,
                };
                file.write_all_at(&bytes, HEADER_BYTES as u64 + payload).map_err(|e| VolumeError::Io(at(&path, e)))?;
                payload += bytes.len() as u64;
                crcs.push(crc32fast::hash(&bytes));
            }
            let trailer_crc = write_table(&file, &path, payload, crcs)?;
            let header = Header { kind: slot.0, index: slot.1, payload, trailer_crc, ..self.template.clone() };
            file.write_all_at(&header.encode(), 0).map_err(|e| VolumeError::Io(at(&path, e)))?;
            file.sync_all().map_err(|e| VolumeError::Io(at(&path, e)))?;
            written.push(path);
        }
        Ok(written)
    }

    /// Stripe `s` of parity volume `j`, computed again from the data (rebuilt where needed).
    fn parity_stripe(&self, j: u32, s: u64) -> Result<Vec<u8>, VolumeError> {
        let len = shard_len(self.longest(), self.stripe(), s);
        let mut encoder = reed_solomon_simd::ReedSolomonEncoder::new(self.data_count as usize, self.parity_count as usize, len)
            .map_err(|e| VolumeError::Coder(e.to_string()))?;
        for i in 1..=self.data_count {
            let mut bytes = if s * u64::from(self.stripe()) >= self.data_payload(i) { Vec::new() } else { self.data_stripe(i, s)? };
            bytes.resize(len, 0);
            encoder.add_original_shard(&bytes).map_err(|e| VolumeError::Coder(e.to_string()))?;
        }
        let result = encoder.encode().map_err(|e| VolumeError::Coder(e.to_string()))?;
        result.recovery(j as usize - 1).map(<[u8]>::to_vec).ok_or_else(|| VolumeError::Coder("no recovery shard".to_owned()))
    }
}

/// The archive stream of a set, read stripe by stripe from its data volumes in order; a
/// stripe missing or damaged is rebuilt from the other volumes when it is reached, in
/// memory bounded by one stripe per volume.
pub struct JoinedReader {
    survey: Arc<Survey>,
    index: u32,
    stripe: u64,
    buf: Vec<u8>,
    pos: usize,
}

impl Read for JoinedReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.buf.len() {
            let s = &self.survey;
            if self.index > s.data_count {
                return Ok(0);
            }
            let stripes = s.data_payload(self.index).div_ceil(u64::from(s.stripe()));
            if self.stripe >= stripes {
                self.index += 1;
                self.stripe = 0;
                continue;
            }
            self.buf = s.data_stripe(self.index, self.stripe).map_err(io::Error::other)?;
            self.pos = 0;
            self.stripe += 1;
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}
