//! `serialize` (spec §1.2, §2.5): walk a manifest graph depth-first, manifests before their
//! children, each digest once, and stream it into ace-dt's archive layout.
//!
//! The walk is async (registry I/O); the tar writer runs on its own thread and receives each
//! blob as chunks over a bounded channel, so memory stays bounded whatever the blob size and
//! nothing is staged on disk. Every blob is verified as it is written; a mismatch stops the
//! run with an error.

use std::collections::{HashMap, HashSet};
use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::mpsc;

use bytes::Bytes;
use ferry_archive::ledger::LedgerWriter;
use ferry_archive::{AnySink, ArchiveWriter, BlockWriter, Compression, Geometry, Sink as _};
use ferry_oci::{Descriptor, Digest, ImageRef, Index, Manifest, annotations, gojson, media_type};
use ferry_registry::{Client, RetryPolicy};
use futures_util::StreamExt;

use crate::catalog::Plan;
use crate::delta::{Delta, skip_set};
use crate::error::Error;
use crate::events::{Event, Events, Stage};
use crate::gather::TOOL_VERSION;
use crate::store::{Access, Store, open_store};

/// Blobs fetched ahead of the one being written.
const PREFETCH_BLOBS: usize = 6;

/// Chunks buffered per blob between its fetch and the writer thread; with [`CHUNK_BYTES`] and
/// [`PREFETCH_BLOBS`] this bounds the bytes in flight (about 6 × 8 × 256 KiB = 12 MiB, plus
/// what the HTTP client holds).
const CHANNEL_CHUNKS: usize = 8;

/// Small network chunks are gathered to this size before they cross to the writer thread.
const CHUNK_BYTES: usize = 256 << 10;

/// Planned entries between the walk and the fetch stage.
const PLAN_AHEAD: usize = 256;

/// How to serialize.
#[derive(Clone, Debug, Default)]
pub struct SerializeOptions {
    /// `org.opencontainers.image.ref.name` of the root in `index.json`.
    pub ref_name: String,
    /// Also write referrers of every manifest.
    pub recursive: bool,
    /// Digests not to write (existing images' blobs, checkpointed blobs).
    pub skip: HashSet<Digest>,
    /// Write the checkpoint ledger here.
    pub checkpoint: Option<PathBuf>,
    /// Compression of the whole stream.
    pub compression: Option<Compression>,
    /// Append a Docker-style `manifest.json` (spec §9).
    pub manifest_json: bool,
    /// Sign the delivery with this key (`--sign`): a cosign signature of the root with
    /// ferry's delivery claim, ahead of every blob ([`delivery_signature`]).
    pub sign: Option<Arc<ferry_sign::PrivateKey>>,
    /// Plan against the delivery catalog (`--catalog`): leave out the blobs (never the
    /// manifests) the high side confirmed or an archive on its way carries; send again what
    /// is overdue.
    pub catalog: Option<Arc<crate::catalog::Planning>>,
    /// Write a media set at DEST (`--volume-size`, `--parity`) instead of one file.
    pub volumes: Option<ferry_volumes::SetSpec>,
    /// For a set on tapes: who loads the next tape.
    pub changer: Option<Arc<dyn crate::tape::VolumeChanger>>,
    /// For a set on tapes: where its volumes are staged (default: the temporary directory).
    pub staging: Option<PathBuf>,
}

/// A delivery's signature: the signature manifest (its descriptor marked with
/// [`annotations::DELIVERY_SIGNATURE`]), then its config and its payload, as the archive
/// carries them. `ref_name` is what the payload names as the signed reference.
pub fn delivery_signature(key: &ferry_sign::PrivateKey, root: &Descriptor, ref_name: &str) -> Vec<(Descriptor, Bytes)> {
    let created = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    let payload = ferry_sign::cosign::delivery_payload(&root.digest, ref_name, &created);
    let layer = ferry_sign::cosign::signature_layer(&payload, key.sign(&payload));
    let (config, manifest) = ferry_sign::cosign::signature_manifest(root, vec![layer.clone()]);
    let mut desc = manifest.descriptor().clone();
    desc.annotations.insert(annotations::DELIVERY_SIGNATURE.to_owned(), key.public_key().fingerprint().to_owned());
    let config_desc = manifest.view().config.clone().unwrap_or_else(|| Descriptor::of_bytes(media_type::OCI_CONFIG, &config));
    vec![
        (desc, Bytes::copy_from_slice(manifest.bytes())),
        (config_desc, Bytes::from(config)),
        (Descriptor::new(layer.media_type.clone(), layer.digest.clone(), layer.size), Bytes::from(payload)),
    ]
}

/// What a serialize wrote.
#[derive(Clone, Debug, Default)]
pub struct SerializeOutcome {
    /// The root descriptor.
    pub root: Option<Descriptor>,
    /// Blobs written (manifests included).
    pub blobs: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Manifests listed in the final `index.json`.
    pub manifests: usize,
    /// Bytes of the whole archive.
    pub archive_bytes: u64,
    /// The images it carries: each source reference of a gather index (else the ref name)
    /// and its digest.
    pub images: Vec<(String, Digest)>,
    /// Each blob and manifest entry written: digest, size, offset of its tar header in the
    /// uncompressed stream, the data volumes it lies in (what the catalog records).
    pub entries: Vec<WrittenEntry>,
    /// What planning against the catalog did.
    pub catalog: CatalogTally,
    /// The media set written, when one was asked for.
    pub volumes: Option<ferry_volumes::SetWritten>,
}

/// An entry written: digest, size, offset of its tar header in the uncompressed stream, and
/// the data volumes its bytes lie in.
pub type WrittenEntry = ferry_catalog::BlobWritten;

/// What `--catalog` left out and sent again.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CatalogTally {
    /// Blobs left out as the high side confirmed them.
    pub confirmed: u64,
    /// Their bytes.
    pub confirmed_bytes: u64,
    /// Blobs left out as an archive on its way carries them.
    pub on_its_way: u64,
    /// Blobs sent again, overdue.
    pub resent: u64,
}

impl CatalogTally {
    /// Adds another archive's tally.
    pub fn add(&mut self, other: &CatalogTally) {
        self.confirmed += other.confirmed;
        self.confirmed_bytes += other.confirmed_bytes;
        self.on_its_way += other.on_its_way;
        self.resent += other.resent;
    }
}

enum Entry {
    File(&'static str, Vec<u8>),
    Blob(Box<Descriptor>, mpsc::Receiver<io::Result<Bytes>>),
}

/// What the walk decides to write, in archive order; the fetch stage turns it into entries.
enum Planned {
    File(&'static str, Vec<u8>),
    /// A manifest, whose bytes the walk already has.
    Manifest(Box<Descriptor>, Bytes),
    /// A blob still to fetch.
    Blob(Box<Descriptor>),
}

/// Reads a blob's chunks from the channel the fetch stage fills, reporting each as progress.
struct ChannelReader<'a> {
    rx: mpsc::Receiver<io::Result<Bytes>>,
    current: Bytes,
    events: &'a Events,
}

impl Read for ChannelReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.current.is_empty() {
            match self.rx.blocking_recv() {
                Some(chunk) => {
                    self.current = chunk?;
                    (self.events)(&Event::Progress { bytes: self.current.len() as u64 });
                }
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current.split_to(n));
        Ok(n)
    }
}

/// Serializes the graph of `root` (resolved in `src`) to `out`, and hands `out` back flushed
/// (a tape's block writer still has its last block to write).
pub async fn serialize<W: Write + Send + 'static>(
    src: &dyn Store,
    mut root: Descriptor,
    out: W,
    options: &SerializeOptions,
    events: Events,
) -> Result<(SerializeOutcome, W), Error> {
    events(&Event::Stage(Stage::Serializing));
    let root_manifest = src.fetch_manifest(&root).await?;
    let dedup = root_manifest.view().annotations.get(annotations::SIZE_DEDUPLICATED).cloned().unwrap_or_else(|| "0".to_owned());
    match dedup.parse::<u64>() {
        Err(_) => return Err(Error::Annotation { key: annotations::SIZE_DEDUPLICATED, value: dedup }),
        Ok(0) => {}
        Ok(bytes) => events(&Event::Expected { bytes }),
    }
    root.annotations.insert(annotations::REF_NAME.to_owned(), options.ref_name.clone());
    let mut index = Index::new();
    index.annotations.insert(annotations::SIZE_DEDUPLICATED.to_owned(), dedup);
    index.annotations.insert("vnd.act3-ace.data.serialization.version".to_owned(), "2".to_owned());
    index.annotations.insert(annotations::VERSION.to_owned(), TOOL_VERSION.to_owned());
    index.manifests = vec![root.clone()];
    // A signed delivery: the signature is listed and written before anything it vouches for.
    let signature = options.sign.as_ref().map(|key| delivery_signature(key, &root, &options.ref_name)).unwrap_or_default();
    if let Some((desc, _)) = signature.first() {
        index.manifests.push(desc.clone());
    }

    let ledger = match &options.checkpoint {
        Some(p) => Some(LedgerWriter::new(
            std::fs::File::create(p).map_err(|e| Error::Output { what: format!("checkpoint file {}", p.display()), source: e })?,
        )),
        None => None,
    };
    // Entries handed to the writer ahead of the one it writes: with the pumps, the prefetch.
    let (tx, rx) = mpsc::channel::<Entry>(PREFETCH_BLOBS);
    // The signature is never left out, not even from a continuation: whichever archive of
    // the delivery is read first carries what vouches for the rest.
    let mut skip = options.skip.clone();
    for (desc, _) in &signature {
        skip.remove(&desc.digest);
    }
    let keep: HashSet<Digest> = signature.iter().map(|(d, _)| d.digest.clone()).collect();
    let images = carried_images(&root, &root_manifest, &options.ref_name);
    let walk_skip = skip.clone();
    let compression = options.compression.unwrap_or(Compression::None);
    let walk_events = events.clone();
    // In a set, each ledger record names the data volume its entry ends in.
    let capacity = options.volumes.map(|spec| spec.capacity());
    let writer = std::thread::spawn(move || write_archive(out, compression, rx, (ledger, capacity), skip, &events));

    let (plan_tx, plan_rx) = mpsc::channel::<Planned>(PLAN_AHEAD);
    let walk = Walk {
        src,
        plan: plan_tx,
        written: HashSet::new(),
        skip: &walk_skip,
        planning: options.catalog.as_deref(),
        keep,
        events: walk_events,
        visited: Vec::new(),
        seen: HashSet::new(),
        recursive: options.recursive,
        keep_manifests: options.manifest_json,
        manifests: HashMap::new(),
        outcome: SerializeOutcome::default(),
    };
    let planning = async {
        let mut walk = walk;
        walk.send(Planned::File("oci-layout", ferry_oci::layout::OCI_LAYOUT_CONTENT.to_vec())).await?;
        walk.send(Planned::File("index.json", gojson::to_vec_pretty(&index))).await?;
        for (desc, bytes) in &signature {
            walk.blob(desc, Some(bytes.clone())).await?;
        }
        walk.visit(root.clone(), 0).await?;
        // The final index lists every manifest, the root first with its ref.name.
        index.manifests = walk.visited.clone();
        index.manifests[0] = root.clone();
        walk.send(Planned::File("index.json", gojson::to_vec_pretty(&index))).await?;
        if options.manifest_json {
            // The root's own children first: the final index lists each digest once, and a
            // second source reference to the same image belongs in its RepoTags.
            let candidates: Vec<Descriptor> = root_manifest.successors().into_iter().chain(index.manifests.iter().cloned()).collect();
            let bytes = crate::manifest_json::manifest_json(src, &walk.manifests, &candidates).await?;
            walk.send(Planned::File("manifest.json", bytes)).await?;
        }
        let mut outcome = std::mem::take(&mut walk.outcome);
        outcome.manifests = walk.visited.len();
        // Dropping the walk closes the plan, which ends the fetch stage.
        Ok::<SerializeOutcome, Error>(outcome)
    };
    let (planned, fetched) = tokio::join!(planning, fetch_in_order(src, plan_rx, &tx));
    drop(tx);
    let written = writer
        .join()
        .map_err(|_| Error::Output { what: "archive writer".to_owned(), source: io::Error::other("writer thread panicked") })?;
    // The first cause wins: a failed fetch leaves the writer with a short blob, and a failed
    // writer leaves the fetch stage with nowhere to send.
    let (archive_bytes, out, entries) = match fetched {
        Err(Stop::Failed(e)) => return Err(e),
        Err(Stop::WriterGone) | Ok(()) => written?,
    };
    let mut outcome = planned?;
    outcome.root = Some(root);
    outcome.archive_bytes = archive_bytes;
    outcome.images = images;
    outcome.entries = entries;
    Ok((outcome, out))
}

/// The images an archive carries: a gather index's sources, each with its digest, else the
/// root under its ref name.
fn carried_images(root: &Descriptor, manifest: &Manifest, ref_name: &str) -> Vec<(String, Digest)> {
    let sources: Vec<(String, Digest)> = manifest
        .successors()
        .into_iter()
        .filter_map(|d| d.annotations.get(annotations::SOURCE).map(|s| (s.clone(), d.digest.clone())))
        .collect();
    if sources.is_empty() { vec![(ref_name.to_owned(), root.digest.clone())] } else { sources }
}

struct Walk<'a> {
    src: &'a dyn Store,
    plan: mpsc::Sender<Planned>,
    /// Blobs planned or left out.
    written: HashSet<Digest>,
    /// What earlier deliveries carried: left out, each reported once.
    skip: &'a HashSet<Digest>,
    /// The delivery catalog, asked about each blob not skipped.
    planning: Option<&'a crate::catalog::Planning>,
    /// Never left out (the delivery's signature).
    keep: HashSet<Digest>,
    events: Events,
    visited: Vec<Descriptor>,
    seen: HashSet<(String, Digest, u64)>,
    recursive: bool,
    /// With `--manifest-json`: the image manifests and indexes fetched, so it fetches none again.
    keep_manifests: bool,
    manifests: HashMap<Digest, Manifest>,
    outcome: SerializeOutcome,
}

impl Walk<'_> {
    async fn send(&self, p: Planned) -> Result<(), Error> {
        self.plan.send(p).await.map_err(|_| stopped())
    }

    fn visit(&mut self, desc: Descriptor, depth: usize) -> futures_util::future::BoxFuture<'_, Result<(), Error>> {
        Box::pin(async move {
            if depth > ferry_oci::MAX_GRAPH_DEPTH {
                return Err(Error::TooDeep { digest: desc.digest.to_string() });
            }
            if !desc.is_manifest() {
                return self.blob(&desc, None).await;
            }
            if !self.seen.insert((desc.media_type.clone(), desc.digest.clone(), desc.size)) {
                return Ok(());
            }
            let manifest = self.src.fetch_manifest(&desc).await?;
            self.visited.push(desc.clone());
            self.blob(&desc, Some(Bytes::copy_from_slice(manifest.bytes()))).await?;
            let children = manifest.successors();
            if self.keep_manifests {
                self.manifests.insert(desc.digest.clone(), manifest);
            }
            for child in children {
                self.visit(child, depth + 1).await?;
            }
            if self.recursive {
                for r in self.src.referrers(&desc).await? {
                    self.visit(r, depth + 1).await?;
                }
                // cosign's tag attachments have no subject: the final index names their tags.
                for (tag, mut attachment) in self.src.cosign_attachments(&desc).await? {
                    attachment.annotations.insert(annotations::COSIGN_TAG.to_owned(), tag);
                    self.visit(attachment, depth + 1).await?;
                }
            }
            Ok(())
        })
    }

    /// Plans one blob unless it was written or skipped.
    async fn blob(&mut self, desc: &Descriptor, bytes: Option<Bytes>) -> Result<(), Error> {
        if !self.written.insert(desc.digest.clone()) {
            return Ok(());
        }
        if self.skip.contains(&desc.digest) {
            (self.events)(&Event::BlobLeftOut { digest: desc.digest.clone(), size: desc.size });
            return Ok(());
        }
        // Manifests always go, as with EXISTING-IMAGE: the high side walks the whole graph
        // from the archive and finds only blobs at the destination.
        let plannable = !desc.is_manifest() && !self.keep.contains(&desc.digest);
        if let Some(planning) = self.planning.filter(|_| plannable) {
            let (digest, size) = (desc.digest.clone(), desc.size);
            let tally = &mut self.outcome.catalog;
            match planning.plan(&desc.digest).await? {
                Plan::Send => {}
                Plan::Confirmed => {
                    tally.confirmed += 1;
                    tally.confirmed_bytes += size;
                    (self.events)(&Event::BlobConfirmed { digest, size });
                    return Ok(());
                }
                Plan::OnItsWay(sending) => {
                    tally.on_its_way += 1;
                    (self.events)(&Event::BlobOnItsWay { digest, size, archive: sending.archive });
                    return Ok(());
                }
                Plan::Resend(resend) => {
                    tally.resent += 1;
                    (self.events)(&Event::BlobResent { digest, size, reason: resend.to_string() });
                }
            }
        }
        self.outcome.blobs += 1;
        self.outcome.bytes += desc.size;
        let d = Box::new(desc.clone());
        self.send(match bytes {
            Some(b) => Planned::Manifest(d, b),
            None => Planned::Blob(d),
        })
        .await
    }
}

fn stopped() -> Error {
    Error::Output { what: "archive writer".to_owned(), source: io::Error::other("stopped") }
}

/// Why the fetch stage ended early.
enum Stop {
    /// The writer thread stopped; its own error says why.
    WriterGone,
    /// A blob could not be fetched: the writer, left waiting for it, fails only because of it.
    Failed(Error),
}

/// The fetch stage: up to [`PREFETCH_BLOBS`] blobs are fetched at once, each into its own
/// bounded channel, while their entries go to the writer thread in plan order. The pumps run
/// in this task beside the hand-over, so a full writer queue never stalls the blob it waits for.
async fn fetch_in_order(src: &dyn Store, mut plan: mpsc::Receiver<Planned>, writer: &mpsc::Sender<Entry>) -> Result<(), Stop> {
    let mut pumps = futures_util::stream::FuturesUnordered::new();
    let mut pending: Option<Entry> = None;
    let mut plan_open = true;
    loop {
        tokio::select! {
            permit = writer.reserve(), if pending.is_some() => {
                let (Some(entry), Ok(permit)) = (pending.take(), permit) else { return Err(Stop::WriterGone) };
                permit.send(entry);
            }
            next = plan.recv(), if plan_open && pending.is_none() && pumps.len() < PREFETCH_BLOBS => match next {
                None => plan_open = false,
                Some(Planned::File(path, bytes)) => pending = Some(Entry::File(path, bytes)),
                Some(Planned::Manifest(desc, bytes)) => {
                    let (tx, rx) = mpsc::channel(1);
                    let _ = tx.try_send(Ok(bytes));
                    pending = Some(Entry::Blob(desc, rx));
                }
                Some(Planned::Blob(desc)) => {
                    let (tx, rx) = mpsc::channel(CHANNEL_CHUNKS);
                    pumps.push(pump(src, (*desc).clone(), tx));
                    pending = Some(Entry::Blob(desc, rx));
                }
            },
            done = pumps.next(), if !pumps.is_empty() => done.unwrap_or(Ok(())).map_err(Stop::Failed)?,
            else => return Ok(()),
        }
    }
}

/// Fetches of a blob whose body breaks off mid-way even after the store's own resumes: 3 in
/// all, 200 ms doubling, with the one retry policy's jitter.
const BODY_FETCHES: RetryPolicy = RetryPolicy::new(3, std::time::Duration::from_millis(200));

/// Moves a blob's body into its channel in chunks of about [`CHUNK_BYTES`]. A body that
/// breaks off is fetched again and resumed after the bytes already sent; the writer's digest
/// check covers the joined stream. Opening the blob fails the run; a broken body after the
/// last attempt reaches the writer as the error it stops on.
async fn pump(src: &dyn Store, desc: Descriptor, tx: mpsc::Sender<io::Result<Bytes>>) -> Result<(), Error> {
    let mut sent = 0u64;
    let mut attempt = 0;
    'fetch: loop {
        attempt += 1;
        let mut stream = src.fetch_blob(&desc).await?;
        let mut skip = sent;
        let mut buf = bytes::BytesMut::new();
        while let Some(chunk) = stream.next().await {
            let mut chunk = match chunk {
                Ok(c) => c,
                Err(e) if e.is_transient() && BODY_FETCHES.allows_another(attempt) => {
                    tracing::warn!("{}: {e}; fetching it again from byte {}", desc.digest, sent + buf.len() as u64);
                    BODY_FETCHES.wait(attempt, None).await;
                    if !buf.is_empty() {
                        sent += buf.len() as u64;
                        if tx.send(Ok(buf.split().freeze())).await.is_err() {
                            return Ok(());
                        }
                    }
                    continue 'fetch;
                }
                Err(e) => {
                    let _ = tx.send(Err(io::Error::other(e))).await;
                    return Ok(());
                }
            };
            if skip > 0 {
                let n = skip.min(chunk.len() as u64);
                let _ = chunk.split_to(n as usize);
                skip -= n;
            }
            if buf.is_empty() && chunk.len() >= CHUNK_BYTES {
                sent += chunk.len() as u64;
                if tx.send(Ok(chunk)).await.is_err() {
                    return Ok(());
                }
                continue;
            }
            buf.extend_from_slice(&chunk);
            if buf.len() >= CHUNK_BYTES {
                sent += buf.len() as u64;
                if tx.send(Ok(buf.split().freeze())).await.is_err() {
                    return Ok(());
                }
            }
        }
        if !buf.is_empty() {
            let _ = tx.send(Ok(buf.freeze())).await;
        }
        return Ok(());
    }
}

/// The writer thread: entries in order, ledger lines after each blob, end marker last.
fn write_archive<W: Write>(
    out: W,
    compression: Compression,
    mut rx: mpsc::Receiver<Entry>,
    (mut ledger, capacity): (Option<LedgerWriter<std::fs::File>>, Option<u64>),
    skip: HashSet<Digest>,
    events: &Events,
) -> Result<(u64, W, Vec<WrittenEntry>), Error> {
    let io_error = |e: io::Error| Error::Output { what: "archive".to_owned(), source: e };
    let mut w = ArchiveWriter::new(AnySink::new(out, compression).map_err(io_error)?);
    w.skip(skip);
    let fail = |e: ferry_archive::writer::WriteError| Error::Archive(e);
    let mut entries = Vec::new();
    // In a set, the data volume an output position falls in.
    let volume_at = |position: u64| capacity.filter(|c| *c > 0).map_or(1, |c| u32::try_from(position / c + 1).unwrap_or(u32::MAX));
    while let Some(entry) = rx.blocking_recv() {
        match entry {
            Entry::File(path, bytes) => w.file(path, &bytes).map_err(fail)?,
            Entry::Blob(desc, chunks) => {
                // Compressed, the entry's bytes start at or after what was emitted so far.
                let before = w.position().map_err(fail)?;
                if let Some(offset) = w.write_blob(&desc, ChannelReader { rx: chunks, current: Bytes::new(), events }).map_err(fail)? {
                    let start = if compression == Compression::None { w.last_entry_start() } else { before };
                    let volumes = (volume_at(start), volume_at(offset.saturating_sub(1)));
                    if let Some(l) = ledger.as_mut() {
                        let volume = capacity.filter(|c| *c > 0).map(|_| volumes.1);
                        l.record_in(&desc, offset, volume).map_err(|e| Error::Output { what: "checkpoint file".to_owned(), source: e })?;
                    }
                    events(&Event::BlobWritten { digest: desc.digest.clone(), size: desc.size });
                    entries.push(WrittenEntry { digest: desc.digest.clone(), size: desc.size, offset: w.last_entry_start(), volumes });
                }
            }
        }
    }
    let mut plain = w.finish().map_err(fail)?.finish().map_err(io_error)?;
    let bytes = plain.position().map_err(io_error)?;
    let mut out = plain.into_inner();
    out.flush().map_err(io_error)?;
    Ok((bytes, out, entries))
}

/// Where an archive is written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ArchiveDest {
    /// Standard output (`-`).
    Stdout,
    /// A file (truncated) or a character device (a tape, written in whole blocks).
    Path(PathBuf),
}

impl ArchiveDest {
    /// `-` is standard output, anything else a path.
    pub fn from_arg(text: &str) -> ArchiveDest {
        if text == "-" { ArchiveDest::Stdout } else { ArchiveDest::Path(PathBuf::from(text)) }
    }

    /// The path, if it is not standard output.
    pub fn path(&self) -> Option<&std::path::Path> {
        match self {
            ArchiveDest::Stdout => None,
            ArchiveDest::Path(p) => Some(p),
        }
    }

    /// A character device (a tape) is there.
    pub fn is_device(&self) -> bool {
        use std::os::unix::fs::FileTypeExt as _;
        self.path().is_some_and(|p| std::fs::metadata(p).is_ok_and(|m| m.file_type().is_char_device()))
    }

    /// Refuses a destination an operator cannot have meant: a path under `/dev` that does not
    /// exist (a tape drive that is not attached; a regular file there would fill `/dev`),
    /// standard output when it is a terminal, and, unless `overwrite` is
    /// [`Overwrite::Any`], an existing regular file that is not an archive (a sources list
    /// named by mistake).
    pub fn check(&self, overwrite: Overwrite) -> Result<(), Error> {
        use std::io::IsTerminal as _;
        let path = match self {
            ArchiveDest::Stdout if io::stdout().is_terminal() => return Err(Error::Destination(DestinationProblem::Terminal)),
            ArchiveDest::Stdout => return Ok(()),
            ArchiveDest::Path(p) => p,
        };
        let meta = match std::fs::metadata(path) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound && path.starts_with("/dev") => {
                return Err(Error::Destination(DestinationProblem::NoDevice(path.clone())));
            }
            // Anything else (no permission, say) is reported when DEST is opened.
            Err(_) => return Ok(()),
        };
        if overwrite == Overwrite::Any || !meta.is_file() || meta.len() == 0 || is_archive(path) {
            return Ok(());
        }
        Err(Error::Destination(DestinationProblem::NotAnArchive(path.clone())))
    }

    /// Opens it behind the block buffer: a tape is written in whole blocks, the last one
    /// padded; a file is truncated.
    pub fn open(&self, mut geometry: Geometry) -> Result<BlockWriter, Error> {
        let path = match self {
            ArchiveDest::Stdout => return Ok(BlockWriter::new(io::stdout(), geometry)),
            ArchiveDest::Path(p) => p,
        };
        let file = if self.is_device() {
            geometry.pad_last = true;
            std::fs::OpenOptions::new().write(true).open(path)
        } else {
            std::fs::File::create(path)
        }
        .map_err(|source| Error::Output { what: format!("opening destination {}", path.display()), source })?;
        Ok(BlockWriter::new(file, geometry))
    }
}

/// Whether an existing file at DEST may be replaced.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Overwrite {
    /// Only an archive (tar, gzip or zstd) or an empty file.
    #[default]
    ArchivesOnly,
    /// Anything (`--force`, or a name ferry chose itself).
    Any,
}

/// Why a destination is refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DestinationProblem {
    /// A path under `/dev` that does not exist.
    #[error("DEST {}: no such device; ferry does not create files under /dev (is the tape drive attached?)", .0.display())]
    NoDevice(PathBuf),
    /// Standard output is a terminal.
    #[error("DEST -: standard output is a terminal; redirect it to a file or a pipe, or name a file")]
    Terminal,
    /// A media set goes to files or tapes, not to standard output.
    #[error("DEST {0}: --volume-size writes a set of files (DEST.001, …) or tapes; name a file path or a tape drive")]
    SetNeedsFile(String),
    /// A set on tapes with no one to load the next tape.
    #[error(
        "{0}: a media set on tapes needs the next tape loaded: pass --next-volume CMD (an autoloader command), or run on a terminal to be asked"
    )]
    SetNeedsChanger(String),
    /// An existing file that is not an archive.
    #[error("DEST {} exists and is not an archive (tar, gzip or zstd); pass --force to overwrite it", .0.display())]
    NotAnArchive(PathBuf),
}

/// Whether the file at `path` starts as a tar (the `ustar` magic of its first header), gzip
/// or zstd stream does.
fn is_archive(path: &std::path::Path) -> bool {
    use std::os::unix::fs::FileExt as _;
    let Ok(file) = std::fs::File::open(path) else { return false };
    let mut head = [0u8; 512];
    let n = file.read_at(&mut head, 0).unwrap_or(0);
    let compressed = ferry_archive::reader::compression_of(&head[..n]) != Compression::None;
    compressed || (n >= 262 && &head[257..262] == b"ustar")
}

impl std::fmt::Display for ArchiveDest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ArchiveDest::Stdout => f.write_str("-"),
            ArchiveDest::Path(p) => write!(f, "{}", p.display()),
        }
    }
}

/// A serialize of an image to an archive destination, as the commands ask for it.
#[derive(Debug)]
pub struct SerializeRequest<'a> {
    /// What to serialize (usually a gather index).
    pub image: &'a ImageRef,
    /// Where the archive goes.
    pub dest: &'a ArchiveDest,
    /// The block buffer in front of it.
    pub geometry: Geometry,
    /// The earlier deliveries it is a delta against.
    pub delta: &'a Delta,
    /// How to write it; its `skip` is filled from `delta`.
    pub options: SerializeOptions,
    /// Whether an existing file at DEST that is not an archive may be replaced.
    pub overwrite: Overwrite,
}

/// Serializes `request.image` to its destination, leaving out what the delta names. The root
/// is resolved before the destination is opened, so a root that does not resolve costs the
/// operator no file already at DEST.
pub async fn serialize_image(client: &Client, request: SerializeRequest<'_>, events: Events) -> Result<SerializeOutcome, Error> {
    let SerializeRequest { image, dest, geometry, delta, mut options, overwrite } = request;
    dest.check(overwrite)?;
    options.skip.extend(skip_set(client, delta, dest.path(), &events).await?);
    let src = open_store(client, image, Access::Read)?;
    let root = src
        .resolve(&image.reference_or_default())
        .await
        .map_err(|e| Error::Resolve { reference: image.to_string(), source: Box::new(e) })?;
    if let Some(spec) = options.volumes {
        return serialize_set(src.as_ref(), root, dest, spec, geometry, overwrite, &options, events).await;
    }
    let out = dest.open(geometry)?;
    let (outcome, out) = serialize(src.as_ref(), root, out, &options, events).await?;
    out.finish().map_err(|source| Error::Output { what: format!("writing {dest}"), source })?;
    Ok(outcome)
}

/// Serializes into a media set at `dest`: `DEST.001`, … through the block buffer, then the
/// headers and the parity volumes.
#[allow(clippy::too_many_arguments, reason = "serialize_image's request, taken apart")]
async fn serialize_set(
    src: &dyn Store,
    root: Descriptor,
    dest: &ArchiveDest,
    spec: ferry_volumes::SetSpec,
    geometry: Geometry,
    overwrite: Overwrite,
    options: &SerializeOptions,
    events: Events,
) -> Result<SerializeOutcome, Error> {
    if dest.is_device() {
        return serialize_set_to_tape(src, root, dest, spec, geometry, options, events).await;
    }
    let base = match dest {
        ArchiveDest::Path(p) => p.clone(),
        ArchiveDest::Stdout => return Err(Error::Destination(DestinationProblem::SetNeedsFile(dest.to_string()))),
    };
    let volumes = |source| Error::Volumes { what: format!("media set {}", base.display()), source };
    let root_raw = root_bytes(&root.digest);
    // An interrupted run of this set: its whole volumes are kept where the stream matches.
    let resumable = ferry_volumes::SetWriter::resumable(&base, spec, root_raw);
    let keep = resumable.as_ref().map_or(0, ferry_volumes::Resumable::volumes);
    clear_stale_volumes(&base, overwrite, keep)?;
    let writer = match resumable {
        Some(r) => {
            events(&Event::SetResumed { base: base.clone(), volumes: keep });
            ferry_volumes::SetWriter::resume(&base, spec, root_raw, r, run_id())
        }
        None => ferry_volumes::SetWriter::create(&base, spec, ferry_volumes::SetId { root: root_raw, run: run_id() }),
    }
    .map_err(volumes)?;
    serialize_into_set(src, root, writer, geometry, dest, options, events).await
}

/// Serializes through the block buffer into `writer`, then finishes the set: parity, final
/// headers and, for tapes, the last hand-offs.
async fn serialize_into_set(
    src: &dyn Store,
    root: Descriptor,
    writer: ferry_volumes::SetWriter,
    geometry: Geometry,
    dest: &ArchiveDest,
    options: &SerializeOptions,
    events: Events,
) -> Result<SerializeOutcome, Error> {
    let shared = ferry_volumes::SharedSet::new(writer);
    let out = BlockWriter::new(shared.clone(), geometry);
    let (mut outcome, out) = serialize(src, root, out, options, events).await?;
    out.finish().map_err(|source| Error::Output { what: format!("writing {dest}"), source })?;
    // Parity reads every data volume back: off the async threads.
    let written = tokio::task::spawn_blocking(move || shared.finish())
        .await
        .map_err(|e| Error::Output { what: format!("writing {dest}"), source: io::Error::other(e.to_string()) })?
        .map_err(|source| Error::Volumes { what: format!("media set {dest}"), source })?;
    outcome.volumes = Some(written);
    Ok(outcome)
}

/// Serializes into a media set on the tape at `dest`, one volume per tape: each volume is
/// staged whole, then copied to the tape loaded, and the changer loads the next.
async fn serialize_set_to_tape(
    src: &dyn Store,
    root: Descriptor,
    dest: &ArchiveDest,
    spec: ferry_volumes::SetSpec,
    geometry: Geometry,
    options: &SerializeOptions,
    events: Events,
) -> Result<SerializeOutcome, Error> {
    let Some(changer) = options.changer.clone() else {
        return Err(Error::Destination(DestinationProblem::SetNeedsChanger(dest.to_string())));
    };
    let staging = crate::tape::staging_dir(options.staging.as_deref())?;
    events(&Event::SetStaging { dir: staging.path().to_owned(), volume_size: spec.volume_size, parity: spec.parity });
    let base = staging.path().join("set");
    let volumes = |source| Error::Volumes { what: format!("media set on {dest}"), source };
    crate::tape::ensure_room(staging.path(), spec.volume_size, "volume 1")
        .map_err(|source| Error::Output { what: format!("writing {dest}"), source })?;
    let handoff = crate::tape::hand_off_to(dest.clone(), geometry, changer, spec.volume_size, events.clone());
    let writer = ferry_volumes::SetWriter::create(&base, spec, ferry_volumes::SetId { root: root_bytes(&root.digest), run: run_id() })
        .map_err(volumes)?
        .handing_off(handoff);
    // The staged stream is cut as a file set is; the tape's own blocks come at hand-off.
    let outcome = serialize_into_set(src, root, writer, Geometry { pad_last: false, ..geometry }, dest, options, events).await;
    drop(staging);
    outcome
}

/// A set's run id: 16 random bytes.
fn run_id() -> [u8; 16] {
    let mut run = [0u8; 16];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut run);
    run
}

/// The root's sha256 as the volume header holds it (the sha256 of the digest's text for
/// another algorithm).
fn root_bytes(digest: &Digest) -> [u8; 32] {
    let mut out = [0u8; 32];
    match hex::decode(digest.hex()) {
        Ok(raw) if raw.len() == 32 => out.copy_from_slice(&raw),
        _ => out.copy_from_slice(&hex::decode(Digest::sha256(digest.to_string().as_bytes()).hex()).unwrap_or_default()),
    }
    out
}

/// Removes the volumes of an earlier set at `base` (`DEST.001`, `DEST.p01`, …), but for the
/// first `keep` data volumes, so a directory read finds only the new set; a file of such a
/// name that is not a volume is refused unless `overwrite` allows anything.
fn clear_stale_volumes(base: &std::path::Path, overwrite: Overwrite, keep: usize) -> Result<(), Error> {
    let (Some(dir), Some(name)) = (base.parent(), base.file_name()) else { return Ok(()) };
    let dir = if dir.as_os_str().is_empty() { std::path::Path::new(".") } else { dir };
    let name = name.to_string_lossy();
    let Ok(entries) = std::fs::read_dir(dir) else { return Ok(()) };
    for entry in entries.flatten() {
        let file = entry.file_name().to_string_lossy().into_owned();
        match ferry_volumes::split_volume_name(&file) {
            Some((b, kind, i)) if b == name && !(kind == ferry_volumes::Kind::Data && (1..=keep).contains(&(i as usize))) => {}
            _ => continue,
        }
        let path = entry.path();
        if ferry_volumes::is_volume(&path) || ferry_volumes::is_unfinished(&path) || overwrite == Overwrite::Any {
            std::fs::remove_file(&path).map_err(|source| Error::Output { what: format!("removing {}", path.display()), source })?;
        } else {
            return Err(Error::Destination(DestinationProblem::NotAnArchive(path)));
        }
    }
    Ok(())
}
