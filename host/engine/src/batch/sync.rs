//! The batch workflows (spec §7): `batch-serialize` sends each named artifact as a delta
//! against what was sent under its name before; `batch-deserialize` loads on the high side
//! what has not been loaded yet. Both tracker files are read and written by a
//! [`TrackerFormat`].
//!
//! Fixed against ace-dt (§13 items 11–13): names go in BATCH-LIST order; an artifact is left
//! out only when the same reference still resolves to the digest recorded (a moved tag is
//! sent again, as a delta); each archive is written under a `.partial` name and its tracker
//! row appended as soon as it is complete, so an interrupted run keeps what it finished; the
//! high side tags each root `DESTINATION:<name>`, records each file as it succeeds, and skips
//! stray files with a note instead of failing.

use std::collections::{HashMap, HashSet};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use ferry_archive::{Compression, Geometry};
use ferry_oci::{Digest, ImageRef};
use ferry_registry::Client;

use super::{parse_batch_list, parse_sync_name, sync_file_name};
use crate::components::{LoadedRow, SentRow, TrackerFormat, read_text};
use crate::delta::Delta;
use crate::deserialize::{ArchiveSource, DeserializeOptions, deserialize};
use crate::error::Error;
use crate::events::{Event, Events, Stray};
use crate::serialize::{ArchiveDest, Overwrite, SerializeOptions, SerializeRequest, serialize_image};
use crate::store::{Access, open_store};

/// A `batch-serialize` run.
#[derive(Clone, Debug)]
pub struct BatchSerializeRequest<'a> {
    /// The BATCH-LIST file.
    pub batch_list: &'a Path,
    /// Where the archives and the tracker file go.
    pub sync_directory: &'a Path,
    /// The tracker file's name in it.
    pub tracker_file: &'a str,
    /// Compress each archive.
    pub compression: Option<Compression>,
    /// Append a Docker-style manifest.json to each archive.
    pub manifest_json: bool,
    /// Also carry referrers.
    pub recursive: bool,
    /// Sign each archive as a delivery with this key.
    pub sign: Option<std::sync::Arc<ferry_sign::PrivateKey>>,
    /// Record each archive in this delivery catalog.
    pub record: Option<std::sync::Arc<ferry_catalog::Catalog>>,
    /// Plan each archive against the catalog (`--catalog`).
    pub planning: Option<std::sync::Arc<crate::catalog::Planning>>,
    /// Write each archive as a media set (`--volume-size`, `--parity`).
    pub volumes: Option<ferry_volumes::SetSpec>,
}

/// What a `batch-serialize` did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BatchSerializeOutcome {
    /// Archives written.
    pub written: usize,
    /// Entries whose root was sent before.
    pub skipped: usize,
    /// The tracker file.
    pub tracker: PathBuf,
    /// What `--catalog` left out and sent again, over every archive.
    pub catalog: crate::serialize::CatalogTally,
}

/// Writes one archive per BATCH-LIST entry not sent before, each recorded in the tracker as
/// soon as it is complete. A missing sync directory is created (after the BATCH-LIST is
/// checked); the high side's must exist.
pub async fn batch_serialize(
    client: &Client,
    request: &BatchSerializeRequest<'_>,
    tracker: &mut dyn TrackerFormat,
    events: Events,
) -> Result<BatchSerializeOutcome, Error> {
    let list = read_text(request.batch_list, "BATCH-LIST")?;
    let entries = parse_batch_list(&list, request.batch_list)?;
    // Every reference is checked before anything is written.
    let images = entries
        .iter()
        .map(|e| {
            e.artifact
                .parse::<ImageRef>()
                .map_err(|source| Error::Reference { location: format!("{}:{}", request.batch_list.display(), e.line), source })
        })
        .collect::<Result<Vec<_>, _>>()?;
    // The low side makes its sync directory, once the list is known to be good.
    let dir = request.sync_directory;
    if !dir.exists() {
        std::fs::create_dir_all(dir)
            .map_err(|source| Error::Output { what: format!("creating SYNC-DIRECTORY {}", dir.display()), source })?;
    }
    let dir = sync_directory(dir)?;
    let tracker_path = dir.join(request.tracker_file);
    let text = read_existing(&tracker_path)?;
    let rows = tracker.read_sent(&tracker_path, &text)?;

    // What was sent under each name, and the highest archive number in use.
    let mut history: HashMap<String, Vec<SentRow>> = HashMap::new();
    let mut counter = highest_number(dir)?;
    for row in rows {
        match parse_sync_name(&row.sync_name) {
            Some((number, name)) => {
                counter = counter.max(number);
                history.entry(name).or_default().push(row);
            }
            None => tracing::warn!("{}: {:?} is not a sync file name; row ignored", tracker_path.display(), row.sync_name),
        }
    }
    let mut new_file = text.trim().is_empty();
    let mut outcome = BatchSerializeOutcome { written: 0, skipped: 0, tracker: tracker_path.clone(), catalog: Default::default() };
    for (entry, image) in entries.into_iter().zip(images) {
        let what = format!("{}: {} ({}:{})", entry.name, entry.artifact, request.batch_list.display(), entry.line);
        let within = |e: Error| Error::Batch { what: what.clone(), source: Box::new(e) };
        let store = open_store(client, &image, Access::Read)?;
        let root = store
            .resolve(&image.reference_or_default())
            .await
            .map_err(|e| within(Error::Resolve { reference: entry.artifact.clone(), source: Box::new(e) }))?;
        let sent = history.get(&entry.name).map(Vec::as_slice).unwrap_or_default();
        if let Some(row) = sent.iter().find(|r| r.artifact == entry.artifact && r.digest == root.digest.to_string()) {
            let sync_name = row.sync_name.clone();
            events(&Event::BatchSkipped { name: entry.name, artifact: entry.artifact, digest: root.digest, sync_name });
            outcome.skipped += 1;
            continue;
        }
        // The delta is against what was sent under this name, by digest: a tag may have moved.
        let delta = Delta { existing: sent.iter().filter_map(|r| pinned(&r.artifact, &r.digest)).collect(), ..Delta::default() };
        counter += 1;
        let sync_name = sync_file_name(counter, &entry.name, request.compression);
        let path = dir.join(&sync_name);
        let partial = ArchiveDest::Path(dir.join(format!("{sync_name}.partial")));
        let pinned = image.with_digest(&root.digest);
        let options = SerializeOptions {
            ref_name: entry.artifact.clone(),
            recursive: request.recursive,
            compression: request.compression,
            manifest_json: request.manifest_json,
            sign: request.sign.clone(),
            catalog: request.planning.clone(),
            volumes: request.volumes,
            ..SerializeOptions::default()
        };
        let geometry = Geometry::from_flags(0, 1 << 20, 90).map_err(|e| within(Error::Geometry(e)))?;
        // The name is ferry's own, in its sync directory: a stale `.partial` is replaced.
        let serialize = SerializeRequest { image: &pinned, dest: &partial, geometry, delta: &delta, options, overwrite: Overwrite::Any };
        let written = serialize_image(client, serialize, events.clone()).await.map_err(within)?;
        let partial = partial.path().unwrap_or(&path);
        let renames: Vec<(PathBuf, PathBuf)> = match &written.volumes {
            // Each volume `NAME.partial.001` becomes `NAME.001`.
            Some(set) => {
                let data =
                    set.data.iter().zip(1..).map(|(v, i)| (v.clone(), ferry_volumes::volume_path(&path, ferry_volumes::Kind::Data, i)));
                let parity =
                    set.parity.iter().zip(1..).map(|(v, j)| (v.clone(), ferry_volumes::volume_path(&path, ferry_volumes::Kind::Parity, j)));
                data.chain(parity).collect()
            }
            None => vec![(partial.to_owned(), path.clone())],
        };
        for (from, to) in renames {
            std::fs::rename(&from, &to)
                .map_err(|source| Error::Output { what: format!("renaming {} to {}", from.display(), to.display()), source })?;
        }
        outcome.catalog.add(&written.catalog);
        if let Some(catalog) = &request.record {
            let location = std::path::absolute(&path).unwrap_or_else(|_| path.clone());
            crate::catalog::record_or_warn(catalog, &written, &location.display().to_string(), request.compression, &events).await;
        }
        let row = SentRow { sync_name: sync_name.clone(), artifact: entry.artifact.clone(), digest: root.digest.to_string() };
        append(&tracker_path, &tracker.format_sent(&row, new_file)?)?;
        new_file = false;
        history.entry(entry.name).or_default().push(row);
        events(&Event::BatchWritten { sync_name });
        outcome.written += 1;
    }
    Ok(outcome)
}

/// A `batch-deserialize` run.
#[derive(Clone, Debug)]
pub struct BatchDeserializeRequest<'a> {
    /// The directory of archives and the tracker file.
    pub sync_directory: &'a Path,
    /// A repository without a tag; each archive's root is tagged with its name.
    pub destination: &'a ImageRef,
    /// The tracker file's name in the directory.
    pub tracker_file: &'a str,
    /// The delivery policy, checked for each archive before anything of it is written.
    pub trust: Option<std::sync::Arc<crate::deserialize::DeliveryTrust>>,
}

/// What a `batch-deserialize` did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BatchDeserializeOutcome {
    /// Archives loaded.
    pub loaded: usize,
    /// The tracker file.
    pub tracker: PathBuf,
    /// Each archive loaded, as a receipt names it.
    pub archives: Vec<crate::receipt::ArchiveReceipt>,
}

/// Loads every sync file of the directory that the tracker does not list, in number order,
/// each recorded as soon as it is loaded; stray files are reported and left.
pub async fn batch_deserialize(
    client: &Client,
    request: &BatchDeserializeRequest<'_>,
    tracker: &mut dyn TrackerFormat,
    events: Events,
) -> Result<BatchDeserializeOutcome, Error> {
    let dir = sync_directory(request.sync_directory)?;
    let destination = request.destination;
    if !destination.is_bare() {
        return Err(Error::TaggedDestination(destination.to_string()));
    }
    let tracker_path = dir.join(request.tracker_file);
    let text = read_existing(&tracker_path)?;
    let loaded: HashSet<String> = tracker.read_loaded(&tracker_path, &text)?.into_iter().map(|r| r.file_name).collect();

    let mut pending = Vec::new();
    let mut sets = HashSet::new();
    for file_name in file_names(dir)? {
        // The volumes of a media set are one sync file: `NNNNNN-NAME.tar.001`, … as
        // `NNNNNN-NAME.tar`, read from its first volume listed (the others are found beside it).
        let volume = volume_base(&file_name).filter(|_| ferry_volumes::is_volume(&dir.join(&file_name)));
        let (file_name, first_volume) = match volume {
            Some(base) if !sets.insert(base.to_owned()) => continue,
            Some(base) => (base.to_owned(), Some(file_name)),
            None => (file_name, None),
        };
        if file_name.ends_with(".csv") || loaded.contains(&file_name) {
            continue;
        }
        match parse_sync_name(&file_name) {
            Some((number, name)) => pending.push((number, name, file_name, first_volume)),
            None => {
                let reason = if file_name.ends_with(".partial") { Stray::Partial } else { Stray::NotASyncFile };
                events(&Event::StrayFile { file_name, reason });
            }
        }
    }
    pending.sort();
    let mut new_file = text.trim().is_empty();
    let mut archives = Vec::new();
    for (_, name, file_name, first_volume) in &pending {
        let within = |e: Error| Error::Batch {
            what: format!("{file_name} (the files before it are recorded in {})", tracker_path.display()),
            source: Box::new(e),
        };
        let target = destination.with_tag(name);
        let source = match first_volume {
            Some(volume) => ArchiveSource::open_set(&[dir.join(volume)], 0).map_err(within)?,
            None => ArchiveSource::open(&dir.join(file_name).display().to_string(), 0).map_err(within)?,
        };
        let store = open_store(client, &target, Access::Create).map_err(within)?;
        let outcome = deserialize(
            vec![source],
            store.as_ref(),
            name,
            DeserializeOptions { trust: request.trust.clone(), ..DeserializeOptions::default() },
            events.clone(),
        )
        .await
        .map_err(within)?;
        let tagged = target.to_string();
        let row = LoadedRow {
            file_name: file_name.clone(),
            artifact: tagged.clone(),
            timestamp: humantime::format_rfc3339_nanos(std::time::SystemTime::now()).to_string(),
        };
        append(&tracker_path, &tracker.format_loaded(&row, new_file)?)?;
        new_file = false;
        archives.push(crate::receipt::ArchiveReceipt {
            file: file_name.clone(),
            root: outcome.root.map(|r| r.digest),
            signer: outcome.signer.map(|s| s.fingerprint),
            loaded: crate::receipt::now(),
            destination: tagged.clone(),
            complete: true,
        });
        events(&Event::BatchLoaded { file_name: file_name.clone(), tagged });
    }
    Ok(BatchDeserializeOutcome { loaded: pending.len(), tracker: tracker_path, archives })
}

fn sync_directory(dir: &Path) -> Result<&Path, Error> {
    if !dir.is_dir() {
        return Err(Error::NotADirectory { what: "SYNC-DIRECTORY", path: dir.to_owned() });
    }
    Ok(dir)
}

/// A tracker file's text; a missing file is an empty one.
fn read_existing(path: &Path) -> Result<String, Error> {
    if !path.exists() {
        return Ok(String::new());
    }
    read_text(path, "tracker")
}

/// Appends `text` and makes it durable before the next archive starts.
fn append(path: &Path, text: &str) -> Result<(), Error> {
    let failed = |source| Error::Tracker { path: path.to_owned(), source };
    let mut file = std::fs::OpenOptions::new().create(true).append(true).open(path).map_err(failed)?;
    file.write_all(text.as_bytes()).and_then(|()| file.sync_data()).map_err(failed)
}

/// The file names in `dir` (directories left out), sorted.
fn file_names(dir: &Path) -> Result<Vec<String>, Error> {
    let failed = |source| Error::Input { what: "SYNC-DIRECTORY", path: dir.to_owned(), source };
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(failed)? {
        let entry = entry.map_err(failed)?;
        if entry.file_type().is_ok_and(|t| !t.is_dir()) {
            names.push(entry.file_name().to_string_lossy().into_owned());
        }
    }
    names.sort();
    Ok(names)
}

/// The highest archive number among the files in `dir` (0 if none), so a new archive never
/// overwrites one the tracker does not list.
fn highest_number(dir: &Path) -> Result<u64, Error> {
    Ok(file_names(dir)?
        .iter()
        .map(|n| volume_base(n).unwrap_or(n))
        .filter_map(|n| parse_sync_name(n.strip_suffix(".partial").unwrap_or(n)))
        .map(|(n, _)| n)
        .max()
        .unwrap_or(0))
}

/// `NAME` of a volume's file name `NAME.001` or `NAME.p01`.
fn volume_base(file_name: &str) -> Option<&str> {
    ferry_volumes::split_volume_name(file_name).map(|(base, _, _)| base)
}

/// A tracker row's artifact at its recorded digest, as an EXISTING-IMAGE.
fn pinned(artifact: &str, digest: &str) -> Option<ImageRef> {
    let image: ImageRef = artifact.parse().ok()?;
    let digest: Digest = digest.parse().ok()?;
    Some(image.with_digest(&digest))
}
