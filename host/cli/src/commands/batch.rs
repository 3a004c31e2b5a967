//! `ferry mirror batch-serialize BATCH-LIST SYNC-DIRECTORY` and `batch-deserialize
//! SYNC-DIRECTORY DESTINATION` (spec §7): week after week, send each named artifact as a
//! delta against what was sent under its name before, and load on the high side what has not
//! been loaded yet. Both tracker files are read and written by a tracker component (the
//! built-in `csv-tracker`, or `--tracker PATH.wasm`).
//!
//! Fixed against ace-dt (§13 items 11–13): names go in BATCH-LIST order; an artifact is left
//! out only when the same reference still resolves to the digest recorded (a moved tag is
//! sent again, as a delta); each archive is written under a `.partial` name and its tracker
//! row appended as soon as it is complete, so an interrupted run keeps what it finished; the
//! high side tags each root `DESTINATION:<name>`, records each file as it succeeds, and skips
//! stray files with a note instead of failing.

use std::collections::{HashMap, HashSet};
use std::io::Write as _;
use std::path::Path;

use anyhow::Context as _;
use ferry_engine::batch::{parse_batch_list, parse_sync_name, sync_file_name};
use ferry_engine::store::{open_store, reference_string};
use ferry_oci::{Digest, ImageRef};
use ferry_plugin::{LoadedRow, SentRow, Tracker, builtin};
use ferry_registry::Client;

use super::serialize::compression;
use crate::args::{BatchDeserializeArgs, BatchSerializeArgs, BlockFlags, DeserializeArgs, Global, SerializeArgs, SerializeFlags};
use crate::exit::BadInput;
use crate::plugins::{Plugins, line_error, read_text};

pub(crate) async fn serialize(global: &Global, recursive: bool, args: BatchSerializeArgs) -> anyhow::Result<()> {
    let dir = sync_directory(&args.sync_directory)?;
    let list = read_text(&args.batch_list, "BATCH-LIST")?;
    let entries = parse_batch_list(&list, &args.batch_list)?;
    // Every reference is checked before anything is written.
    let images = entries
        .iter()
        .map(|e| e.artifact.parse::<ImageRef>().map_err(|err| BadInput(format!("{}:{}: {err}", args.batch_list.display(), e.line))))
        .collect::<Result<Vec<_>, _>>()?;
    let config = super::load_config(global)?;
    let plugins = Plugins::new(&config)?;
    let mut tracker = load_tracker(&plugins, args.tracker.as_deref()).await?;
    let tracker_path = dir.join(&args.tracker_filename);
    let text = read_existing(&tracker_path)?;
    let rows = tracker.read_sent(&text).map_err(|e| line_error(&tracker_path, e))?;

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
    let client = Client::new(config);
    let mut new_file = text.trim().is_empty();
    let (mut written, mut skipped) = (0, 0);
    for (entry, image) in entries.into_iter().zip(images) {
        let at = format!("{}:{}", args.batch_list.display(), entry.line);
        let store = open_store(&client, &image, false)?;
        let root = store.resolve(&reference_string(&image)).await.with_context(|| format!("resolving {} ({at})", entry.artifact))?;
        let sent = history.get(&entry.name).map(Vec::as_slice).unwrap_or_default();
        if let Some(row) = sent.iter().find(|r| r.artifact == entry.artifact && r.digest == root.digest.to_string()) {
            println_unless(global, &format!("{}: {} ({}) was sent in {}; skipped", entry.name, entry.artifact, root.digest, row.sync_name));
            skipped += 1;
            continue;
        }
        // The delta is against what was sent under this name, by digest: a tag may have moved.
        let existing = sent.iter().filter_map(|r| pinned_text(&r.artifact, &r.digest)).collect::<Vec<_>>();
        counter += 1;
        let file_name = sync_file_name(counter, &entry.name, compression(args.compression));
        let path = dir.join(&file_name);
        let partial = dir.join(format!("{file_name}.partial"));
        let pinned = pin(&image, &root.digest);
        let serialize = SerializeArgs {
            image: pinned.to_string(),
            dest: partial.display().to_string(),
            existing,
            flags: SerializeFlags {
                checkpoint: None,
                compression: args.compression,
                existing_from_checkpoint: Vec::new(),
                existing_from_archive: Vec::new(),
                manifest_json: args.manifest_json,
                block: BlockFlags { buffer_size: 0, block_size: 1 << 20, hwm: 90 },
            },
        };
        super::serialize::write(global, &client, recursive, &pinned, &entry.artifact, &serialize)
            .await
            .with_context(|| format!("{}: {} ({at})", entry.name, entry.artifact))?;
        std::fs::rename(&partial, &path).with_context(|| format!("renaming {} to {}", partial.display(), path.display()))?;
        let row = SentRow { sync_name: file_name, artifact: entry.artifact.clone(), digest: root.digest.to_string() };
        append(&tracker_path, &tracker.format_sent(&row, new_file)?)?;
        new_file = false;
        history.entry(entry.name).or_default().push(row);
        written += 1;
    }
    println_unless(global, &format!("{written} archives written, {skipped} already sent; tracker {}", tracker_path.display()));
    Ok(())
}

pub(crate) async fn deserialize(global: &Global, args: BatchDeserializeArgs) -> anyhow::Result<()> {
    let dir = sync_directory(&args.sync_directory)?;
    let destination: ImageRef = args.destination.parse().map_err(|e| BadInput(format!("DESTINATION: {e}")))?;
    let untagged = match &destination {
        ImageRef::Registry(r) => r.tag.is_none() && r.digest.is_none(),
        ImageRef::Layout(l) => l.tag.is_none() && l.digest.is_none(),
    };
    if !untagged {
        return Err(
            BadInput(format!("DESTINATION {destination}: give a repository without a tag; each archive is tagged with its name")).into()
        );
    }
    let config = super::load_config(global)?;
    let plugins = Plugins::new(&config)?;
    let mut tracker = load_tracker(&plugins, args.tracker.as_deref()).await?;
    let tracker_path = dir.join(&args.sync_filename);
    let text = read_existing(&tracker_path)?;
    let loaded: HashSet<String> =
        tracker.read_loaded(&text).map_err(|e| line_error(&tracker_path, e))?.into_iter().map(|r| r.file_name).collect();

    let mut pending = Vec::new();
    for file_name in file_names(dir)? {
        if file_name.ends_with(".csv") || loaded.contains(&file_name) {
            continue;
        }
        match parse_sync_name(&file_name) {
            Some((number, name)) => pending.push((number, name, file_name)),
            None if file_name.ends_with(".partial") => {
                eprintln!("skipped: {file_name}: an archive an interrupted batch-serialize did not finish");
            }
            None => eprintln!("skipped: {file_name}: not a sync file (NNNNNN-NAME.tar[.zst|.gz])"),
        }
    }
    pending.sort();
    let mut new_file = text.trim().is_empty();
    for (_, name, file_name) in &pending {
        let target = format!("{destination}:{name}");
        let args = DeserializeArgs {
            sources: vec![dir.join(file_name).display().to_string()],
            image: target.clone(),
            strict: false,
            dry_run: false,
            block_size: 0,
        };
        super::deserialize::run(global, args)
            .await
            .with_context(|| format!("{file_name} (the files before it are recorded in {})", tracker_path.display()))?;
        let row = LoadedRow {
            file_name: file_name.clone(),
            artifact: target,
            timestamp: humantime::format_rfc3339_nanos(std::time::SystemTime::now()).to_string(),
        };
        append(&tracker_path, &tracker.format_loaded(&row, new_file)?)?;
        new_file = false;
    }
    if pending.is_empty() {
        println_unless(global, &format!("Nothing new in {}", dir.display()));
    } else {
        println_unless(global, &format!("{} archives loaded; tracker {}", pending.len(), tracker_path.display()));
    }
    Ok(())
}

/// The built-in CSV tracker, or a site's component (a file or an installed plugin).
async fn load_tracker<'h>(plugins: &'h Plugins, spec: Option<&str>) -> anyhow::Result<Tracker<'h>> {
    let loaded = match spec {
        None => plugins.host.load("csv-tracker", builtin::CSV_TRACKER)?,
        Some(s) => plugins.site_component(s, &format!("--tracker {s}")).await?,
    };
    Tracker::new(&plugins.host, &loaded, Vec::new()).map_err(|e| BadInput(format!("tracker: {e}")).into())
}

fn sync_directory(dir: &Path) -> anyhow::Result<&Path> {
    if !dir.is_dir() {
        return Err(BadInput(format!("SYNC-DIRECTORY {} is not a directory", dir.display())).into());
    }
    Ok(dir)
}

/// A tracker file's text; a missing file is an empty one.
fn read_existing(path: &Path) -> anyhow::Result<String> {
    if !path.exists() {
        return Ok(String::new());
    }
    read_text(path, "tracker")
}

/// Appends `text` and makes it durable before the next archive starts.
fn append(path: &Path, text: &str) -> anyhow::Result<()> {
    let mut file =
        std::fs::OpenOptions::new().create(true).append(true).open(path).with_context(|| format!("opening {}", path.display()))?;
    file.write_all(text.as_bytes()).and_then(|()| file.sync_data()).with_context(|| format!("writing {}", path.display()))
}

/// The file names in `dir` (directories left out), sorted.
fn file_names(dir: &Path) -> anyhow::Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
        let entry = entry.with_context(|| format!("listing {}", dir.display()))?;
        if entry.file_type().is_ok_and(|t| !t.is_dir()) {
            names.push(entry.file_name().to_string_lossy().into_owned());
        }
    }
    names.sort();
    Ok(names)
}

/// The highest archive number among the files in `dir` (0 if none), so a new archive never
/// overwrites one the tracker does not list.
fn highest_number(dir: &Path) -> anyhow::Result<u64> {
    Ok(file_names(dir)?.iter().filter_map(|n| parse_sync_name(n.strip_suffix(".partial").unwrap_or(n))).map(|(n, _)| n).max().unwrap_or(0))
}

/// `image` at `digest` (its tag dropped).
fn pin(image: &ImageRef, digest: &Digest) -> ImageRef {
    match image {
        ImageRef::Registry(r) => ImageRef::Registry(r.with_digest(digest)),
        ImageRef::Layout(l) => ImageRef::Layout(ferry_oci::LayoutRef { path: l.path.clone(), tag: None, digest: Some(digest.clone()) }),
    }
}

/// A tracker row's artifact at its recorded digest, as EXISTING-IMAGE text.
fn pinned_text(artifact: &str, digest: &str) -> Option<String> {
    let image: ImageRef = artifact.parse().ok()?;
    let digest: Digest = digest.parse().ok()?;
    Some(pin(&image, &digest).to_string())
}

fn println_unless(global: &Global, text: &str) {
    if !global.quiet {
        println!("{text}");
    }
}
