//! `deserialize` (spec §2.9–§2.10): read an archive (plain, gzip or zstd) and put its content
//! into a store.
//!
//! A reader thread walks the tar entries and hands each blob over, as chunks through a bounded
//! channel or, from a plain tar file, as a range of the file; up to `CONCURRENT_BLOBS` (4) are
//! stored at once. Every blob is verified as it streams, also when the destination already
//! has it or in a dry run. Blobs go in as plain blobs first; those that may be manifests (up to
//! 4 MiB) are kept in memory, and once the stream has ended every manifest named by an
//! `index.json` or by a parent is pushed bottom-up (children first). The root (first entry of the first `index.json`) is
//! tagged last, only when nothing is missing.
//!
//! Archives of other tools are read too (the `foreign` module): a docker archive (no
//! `index.json`, a `manifest.json`) has its files outside `blobs/` recorded as they pass, read
//! at their offsets in a plain tar file or, from a stream, copied to a spool file first,
//! because its `manifest.json` comes last; an `index.json` listing several images tags each by
//! its `ref.name`s ([`Naming`]).

use std::collections::{BTreeSet, HashMap, HashSet};
use std::io::Read;
use std::sync::Arc;

use bytes::Bytes;
use ferry_oci::{BlobStream, Descriptor, Digest, Index, Manifest, Origin, annotations, media_type};
use futures_util::StreamExt;
use tokio::sync::mpsc;

use crate::error::Error;
use crate::events::{Event, Events};
use crate::foreign::Spool;
use crate::store::Store;

/// Blobs up to this size are read whole, and kept if they may be manifests.
const KEEP_JSON_BYTES: u64 = ferry_archive::reader::MANIFEST_MAX_BYTES;

/// Chunks in flight per blob between the reader and the pusher.
const CHANNEL_CHUNKS: usize = 8;

/// Bytes per chunk read from the archive.
pub(crate) const CHUNK_BYTES: usize = 256 << 10;

/// How to deserialize.
#[derive(Clone, Debug, Default)]
pub struct DeserializeOptions {
    /// Enforce ace-dt's entry order (`manifest.json` allowed after the final `index.json`).
    pub strict: bool,
    /// Read and verify everything, write nothing.
    pub dry_run: bool,
    /// How the images of an archive are tagged.
    pub naming: Naming,
    /// Check the delivery's signature before anything is written ([`DeliveryTrust`]).
    pub trust: Option<Arc<DeliveryTrust>>,
}

/// Which deliveries may be loaded: signed by one of `keys`, and with `require_signed` no
/// archive without such a signature. The signature travels ahead of every blob, so it is
/// checked before anything is written.
#[derive(Clone, Debug, Default)]
pub struct DeliveryTrust {
    /// An archive without a good signature by one of `keys` is refused.
    pub require_signed: bool,
    /// The keys whose delivery signatures are trusted.
    pub keys: Vec<ferry_sign::PublicKey>,
    /// Where the policy came from, for messages.
    pub policy_file: String,
}

/// How the images of an archive are tagged. The root of ferry's and ace-dt's archives (an
/// `index.json` with a serialization version, listing one manifest) is always tagged with the
/// tag given to [`deserialize`]; these rules are for archives that name their images: other
/// tools' layouts (`ref.name`), any `index.json` listing several, docker archives (`RepoTags`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Naming {
    /// The tag given was asked for: it tags the archive's only image; an archive of several
    /// images is refused ([`Error::SeveralImages`]).
    #[default]
    Given,
    /// No tag was asked for: each image is tagged by the names the archive gives it (a name's
    /// tag, in the destination repository); an image without one is left untagged and listed
    /// in [`DeserializeOutcome::untagged`]; a lone image without a name takes the tag given.
    Own,
    /// An index listing the images, each entry annotated with its name as the source, is
    /// tagged with the tag given (`unarchive` scatters it).
    Index,
}

/// What a deserialize did.
#[derive(Clone, Debug, Default)]
pub struct DeserializeOutcome {
    /// The root.
    pub root: Option<Descriptor>,
    /// Blobs read from the archive.
    pub blobs: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Blobs the destination already had.
    pub present: u64,
    /// Manifests pushed (or, in a dry run, that would be).
    pub manifests: u64,
    /// Tags applied (or, in a dry run, that would be), and the manifest each names.
    pub tags: Vec<(String, Digest)>,
    /// Images of the archive left untagged: it gives them no name.
    pub untagged: Vec<Digest>,
    /// cosign tag attachments tagged (or, in a dry run, that would be): tag and manifest.
    pub attachments: Vec<(String, Digest)>,
    /// Who signed the delivery, when its signature was checked and held.
    pub signer: Option<ferry_sign::cosign::Signer>,
}

enum Item {
    Layout(u64),
    Index(Index, u64),
    Blob { digest: Digest, size: u64, offset: u64, body: Body },
    Other(String, u64, Option<(ferry_archive::entries::Member, Arc<std::fs::File>)>),
    Failed(ArchiveFault),
}

/// Why an archive cannot be read as one.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ArchiveFault {
    /// The archive reader found damage (names the entry and byte offset).
    #[error(transparent)]
    Read(#[from] ferry_archive::entries::ReadError),
    /// The archive file could not be opened for reading at offsets.
    #[error("opening the archive")]
    Open(#[source] std::io::Error),
    /// `index.json` is of a serialization version this ferry does not read.
    #[error("entry \"index.json\" at byte {offset}")]
    Version {
        /// The entry's offset.
        offset: u64,
        /// The version found.
        #[source]
        source: ferry_archive::entries::VersionError,
    },
    /// With `--strict`, an entry out of ace-dt's order.
    #[error("--strict: {0}")]
    Order(OrderFault),
    /// A cosign tag an archive gives a manifest is not one: `sha256-<hex>.sig|att|sbom` of a
    /// manifest the archive lists. Taken as it is, it could move any tag.
    #[error("entry \"index.json\": {} is not a cosign attachment tag of a manifest in this archive", ferry_oci::quoted(tag.as_bytes()))]
    AttachmentTag {
        /// The tag as written.
        tag: String,
    },
    /// No `index.json` was read.
    #[error("missing \"index.json\": no root in the archive (and no \"manifest.json\": not a docker archive either)")]
    NoIndex,
    /// Sources of one deserialize with different roots.
    #[error("the sources belong to different deliveries: roots {0} and {1}")]
    Deliveries(Digest, Digest),
    /// The reader thread panicked.
    #[error("the archive reader panicked")]
    ReaderPanicked,
    /// A docker archive that is not loadable (names the entry).
    #[error(transparent)]
    Docker(ferry_archive::docker::DockerFault),
    /// A docker archive read from a stream could not be copied to the spool file.
    #[error("copying the entries of a docker archive to a temporary file (the TMPDIR directory)")]
    Spool(#[source] std::io::Error),
    /// A docker archive among several sources: it has no continuations.
    #[error("a docker archive (no index.json, a manifest.json) is read alone, not with continuations")]
    DockerContinued,
}

/// An entry out of ace-dt's order, by `--strict`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OrderFault {
    /// A third `index.json`.
    #[error("entry \"index.json\" at byte {0}: more than 2 index.json files")]
    ThirdIndex(u64),
    /// The first entry is not `oci-layout`.
    #[error("entry {0:?} at byte {1}: the first entry must be \"oci-layout\"")]
    NotLayoutFirst(String, u64),
    /// The second entry is not `index.json`.
    #[error("entry {0:?} at byte {1}: the second entry must be \"index.json\"")]
    NotIndexSecond(String, u64),
    /// An entry where none belongs.
    #[error("unexpected entry {0:?} at byte {1}")]
    Unexpected(String, u64),
}

/// A source that could not be read to its end.
#[derive(Debug)]
pub struct SourceFailure {
    /// The source as named.
    pub source: String,
    /// Why its reading stopped.
    pub error: Box<Error>,
}

/// What a deserialize that could not tag leaves behind.
#[derive(Debug)]
pub struct Incomplete {
    /// The root, when an `index.json` was read.
    pub root: Option<Digest>,
    /// Blobs verified and stored at the destination by this run (they stay there).
    pub stored: u64,
    /// Their bytes.
    pub stored_bytes: u64,
    /// What the root's graph still lacks at the destination (when the graph could be read).
    pub missing: Vec<Digest>,
    /// Sources that broke off, and why.
    pub failures: Vec<SourceFailure>,
}

impl std::fmt::Display for Incomplete {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "nothing tagged; {} blobs ({} bytes) read and stored at the destination are kept", self.stored, self.stored_bytes)?;
        for failure in &self.failures {
            write!(f, "; {}: {}", failure.source, ferry_oci::with_causes(failure.error.as_ref()))?;
        }
        if !self.missing.is_empty() {
            let shown: Vec<String> = self.missing.iter().take(MISSING_SHOWN).map(ToString::to_string).collect();
            let more = self.missing.len().saturating_sub(MISSING_SHOWN);
            write!(f, "; {} missing (neither in the archive nor at the destination): {}", self.missing.len(), shown.join(", "))?;
            if more > 0 {
                write!(f, " and {more} more")?;
            }
        }
        Ok(())
    }
}

/// Missing digests named in a message; the count says how many more.
const MISSING_SHOWN: usize = 10;

/// Blobs stored at once. From a stream this overlaps one blob's upload with reading the
/// next; from a file, blobs are read at their offsets and uploaded side by side, which is
/// what a registry ingests fastest.
pub(crate) const CONCURRENT_BLOBS: usize = 4;

/// Where an archive is read from.
pub enum ArchiveInput {
    /// A decompressed stream (standard input, a tape, a compressed file): read in order.
    Stream(Box<dyn Read + Send>),
    /// A plain tar in a regular file: headers are read in order, skipping the data, and blobs
    /// are read at their offsets, several at once.
    File(std::fs::File),
}

/// A blob's bytes: chunks from the reader thread, a range of the archive file (or of the
/// spool), or bytes in memory.
pub(crate) enum Body {
    Chunks(mpsc::Receiver<std::io::Result<Bytes>>),
    At { file: Arc<std::fs::File>, offset: u64, size: u64 },
    Bytes(Bytes),
}

/// A blob once stored (or verified, in a dry run).
pub(crate) struct Stored {
    pub(crate) digest: Digest,
    pub(crate) size: u64,
    /// Its bytes, if it may be a manifest.
    json: Option<Vec<u8>>,
    pub(crate) present: bool,
    /// A blob of the delivery's signature, read (and verified) but not stored until the
    /// signature is checked.
    held: Option<Bytes>,
}

/// One archive to read, and how messages name it.
pub struct ArchiveSource {
    /// The file as the user named it (`-` for standard input).
    pub name: String,
    /// Its content.
    pub input: ArchiveInput,
}

impl ArchiveSource {
    /// Opens the archive `name` (`-` is standard input). A plain tar in a regular file is read
    /// at its blobs' offsets; anything else (standard input, a tape, a compressed file) as a
    /// stream through a read buffer of `buffer` bytes (0: [`ferry_archive::reader::READ_BUFFER`]).
    pub fn open(name: &str, buffer: usize) -> Result<ArchiveSource, Error> {
        let failed = |source| Error::ReadArchive { name: name.to_owned(), source };
        let input: Box<dyn Read + Send> = if name == "-" {
            Box::new(std::io::stdin())
        } else {
            let file = std::fs::File::open(name).map_err(failed)?;
            let regular = file.metadata().is_ok_and(|m| m.is_file());
            if regular && ferry_archive::reader::file_compression(&file).map_err(failed)? == ferry_archive::Compression::None {
                return Ok(ArchiveSource { name: name.to_owned(), input: ArchiveInput::File(file) });
            }
            Box::new(file)
        };
        ArchiveSource::stream(name, input, buffer)
    }

    /// Opens the archives `names`, as [`ArchiveSource::open`] does, except that the volumes
    /// of a media set among them (files, or directories of them, in any order) become one
    /// source: their joined stream; and a tape holding a set's volume is staged with the set's
    /// other tapes, which `media`'s changer loads.
    pub fn open_all(names: &[String], media: &crate::tape::Media) -> Result<Vec<ArchiveSource>, Error> {
        let mut sources = Vec::new();
        let mut volumes = Vec::new();
        for name in names {
            let path = std::path::Path::new(name);
            if name != "-" && crate::tape::is_device(path) {
                sources.push(match crate::tape::open_device(path, media, true)? {
                    crate::tape::DeviceContent::Set(staged) => {
                        let paths = staged.volumes.clone();
                        ArchiveSource::open_set_holding(&paths, media.buffer, Some(staged))?
                    }
                    crate::tape::DeviceContent::Stream(stream) => ArchiveSource::stream(name, stream, media.buffer)?,
                });
            } else if name != "-" && is_set_member(path) {
                volumes.push(path.to_owned());
            } else {
                sources.push(ArchiveSource::open(name, media.buffer)?);
            }
        }
        if !volumes.is_empty() {
            sources.insert(0, ArchiveSource::open_set(&volumes, media.buffer)?);
        }
        Ok(sources)
    }

    /// A stream read in order through a read buffer of `buffer` bytes.
    fn stream(name: &str, input: Box<dyn Read + Send>, buffer: usize) -> Result<ArchiveSource, Error> {
        let (_, stream) = ferry_archive::reader::open_with_buffer(input, crate::tape::read_buffer(buffer))
            .map_err(|source| Error::ReadArchive { name: name.to_owned(), source })?;
        Ok(ArchiveSource { name: name.to_owned(), input: ArchiveInput::Stream(stream) })
    }

    /// The joined stream of the media set whose volumes (or directories of them) are
    /// `paths`. A volume of another set is refused; missing volumes beyond what the parity
    /// rebuilds are refused naming them, before anything is read; damage is found and
    /// rebuilt stripe by stripe as the stream is read.
    pub fn open_set(paths: &[std::path::PathBuf], buffer: usize) -> Result<ArchiveSource, Error> {
        ArchiveSource::open_set_holding(paths, buffer, None)
    }

    /// [`ArchiveSource::open_set`], keeping the staging directory of a set read from tapes
    /// until the stream is dropped.
    fn open_set_holding(
        paths: &[std::path::PathBuf],
        buffer: usize,
        staged: Option<crate::tape::StagedSet>,
    ) -> Result<ArchiveSource, Error> {
        let first = paths.first().map(|p| p.display().to_string()).unwrap_or_default();
        let volumes = |what: String| move |source| Error::Volumes { what, source };
        // A set staged from tapes is on local disk: every stripe is checked first, so what
        // cannot be rebuilt is refused before anything is written.
        let survey = ferry_volumes::survey(paths, staged.is_some()).map_err(volumes(format!("media set {first}")))?;
        let survey = match &staged {
            Some(staged) => survey.from_tapes(&staged.device),
            None => survey,
        };
        let name = survey.name();
        survey.refuse_strangers().map_err(volumes(format!("media set {name}")))?;
        survey.rebuildable().map_err(volumes(format!("media set {name}")))?;
        let reader: Box<dyn Read + Send> = match staged {
            Some(staged) => staged.holding(survey.reader()),
            None => Box::new(survey.reader()),
        };
        ArchiveSource::stream(&name, reader, buffer)
    }
}

/// Whether `path` is a volume of a media set, or a directory holding one.
pub fn is_set_member(path: &std::path::Path) -> bool {
    ferry_volumes::is_volume(path) || holds_volumes(path)
}

/// A directory with at least one volume of a media set in it.
fn holds_volumes(path: &std::path::Path) -> bool {
    path.is_dir()
        && std::fs::read_dir(path).is_ok_and(|entries| entries.flatten().any(|e| e.path().is_file() && ferry_volumes::is_volume(&e.path())))
}

/// Everything read so far from the sources of one deserialize.
#[derive(Default)]
struct Loaded {
    /// The delivery's signature, while it is read and checked.
    gate: Gate,
    /// The source being read has not shown its first `index.json` yet.
    before_index: bool,
    indexes: Vec<Index>,
    kept: HashMap<Digest, Vec<u8>>,
    in_archive: HashMap<Digest, u64>,
    outcome: DeserializeOutcome,
    /// Entries outside the OCI layout, for a docker archive.
    members: ferry_archive::docker::Members,
    /// Where their data is: the archive file, or the spool.
    member_file: Option<Arc<std::fs::File>>,
}

/// Reads the archives (a whole one, or a partial one and its continuations, in any order)
/// and fills `dst`; tags the root `tag` once its whole graph is there (unless a dry run).
///
/// A source that cannot be read to its end does not stop the others, and every entry that
/// was whole in it is stored before its reading stops. When the graph is not complete at the
/// end, nothing is tagged and [`Error::Incomplete`] says what was kept and what is missing.
/// A single source must also read cleanly to its end, so that deserialize, its dry run and
/// verify agree on every archive; among several, a broken one is reported when the others
/// completed the graph.
pub async fn deserialize(
    sources: Vec<ArchiveSource>,
    dst: &dyn Store,
    tag: &str,
    options: DeserializeOptions,
    events: Events,
) -> Result<DeserializeOutcome, Error> {
    events(&Event::Stage(crate::events::Stage::Deserializing { dry_run: options.dry_run }));
    let mut loaded = Loaded::default();
    let mut failures = Vec::new();
    let continued = sources.len() > 1;
    let first_name = sources.first().map(|s| s.name.clone()).unwrap_or_default();
    for source in sources {
        if let Err(error) = read_source(source.input, &source.name, dst, &options, &events, &mut loaded).await {
            // The policy refused the delivery before anything was written: nothing to keep.
            if matches!(error, Error::Delivery { .. }) {
                return Err(error);
            }
            // A destination that fails stops everything; a damaged source does not.
            let fatal = destination_failed(&error);
            failures.push(SourceFailure { source: source.name, error: Box::new(error) });
            if fatal {
                break;
            }
        }
    }
    let Loaded { indexes, kept, in_archive, mut outcome, members, member_file, .. } = loaded;
    let incomplete = |failures: Vec<SourceFailure>, missing: Vec<Digest>, outcome: &DeserializeOutcome| {
        Error::Incomplete(Box::new(Incomplete {
            root: indexes.first().and_then(|i| i.manifests.first()).map(|d| d.digest.clone()),
            stored: outcome.blobs,
            stored_bytes: outcome.bytes,
            missing,
            failures,
        }))
    };
    let Some(root) = indexes.first().and_then(|i| i.manifests.first()).cloned() else {
        if failures.is_empty() && members.has_manifest() {
            // No index.json, a manifest.json: a docker archive.
            let (false, Some(file)) = (continued, member_file) else {
                return Err(Error::BadArchive(ArchiveFault::DockerContinued));
            };
            // A docker archive carries no delivery signature.
            if let Some(trust) = options.trust.as_ref().filter(|t| t.require_signed) {
                return Err(refused(trust, ferry_sign::cosign::DeliveryFault::Unsigned));
            }
            crate::foreign::load_docker(&first_name, file, &members, dst, tag, &options, &events, &mut outcome).await?;
            return Ok(outcome);
        }
        if failures.is_empty() {
            return Err(Error::BadArchive(ArchiveFault::NoIndex));
        }
        return Err(incomplete(failures, Vec::new(), &outcome));
    };
    if let Some(other) = indexes.iter().filter_map(|i| i.manifests.first()).find(|d| d.digest != root.digest) {
        return Err(Error::BadArchive(ArchiveFault::Deliveries(root.digest.clone(), other.digest.clone())));
    }
    if failures.iter().any(|f| destination_failed(&f.error)) {
        return Err(incomplete(failures, Vec::new(), &outcome));
    }

    // An index.json listing several images, or one another tool wrote (no serialization
    // version: skopeo, umoci, Docker 25), names its images: their tags are decided before
    // anything is pushed. ferry's and ace-dt's root is tagged as ever.
    let foreign = !indexes[0].annotations.contains_key(ferry_archive::entries::SERIALIZATION_VERSION_ANNOTATION);
    // A delivery's signature is listed beside the root; it names no image.
    let images = indexes[0].manifests.iter().filter(|d| !d.annotations.contains_key(annotations::DELIVERY_SIGNATURE)).count();
    let plan = if foreign || images > 1 {
        Some(crate::foreign::plan_tags(&crate::foreign::layout_images(&indexes[0]), options.naming, tag, &dst.name())?)
    } else {
        None
    };

    // Push every manifest named by an index.json, children first.
    let mut completer = Completer {
        dst,
        kept: &kept,
        in_archive: &in_archive,
        dry_run: options.dry_run,
        done: HashMap::new(),
        missing: BTreeSet::new(),
        pushed: 0,
        verified: HashMap::new(),
    };
    let listed: Vec<Descriptor> = indexes.iter().flat_map(|i| i.manifests.iter().cloned()).collect();
    for d in &listed {
        completer.complete(d.clone(), 0).await?;
    }
    outcome.manifests = completer.pushed;
    if !completer.missing.is_empty() {
        let missing = completer.missing.iter().cloned().collect();
        return Err(incomplete(failures, missing, &outcome));
    }
    // One archive that breaks a rule fails even when its graph is whole, as verify says.
    if !continued && !failures.is_empty() {
        return Err(incomplete(failures, Vec::new(), &outcome));
    }
    // Complete: a source that broke off (a partial archive) is reported, not fatal.
    for f in &failures {
        tracing::warn!("{}: {}; its continuation supplied the rest", f.source, f.error);
    }
    if let Some(plan) = plan {
        if !options.dry_run {
            crate::foreign::apply_tags(dst, &plan, &completer.verified).await?;
        }
        outcome.root = Some(plan.index.as_ref().map_or(root, |(d, _)| d.clone()));
        outcome.tags = plan.tags.iter().map(|(t, d)| (t.clone(), d.digest.clone())).collect();
        outcome.untagged = plan.untagged;
        return Ok(outcome);
    }
    // cosign's tag attachments, then the root: its tag is the last write.
    let attachments = attachment_tags(&listed)?;
    if !options.dry_run {
        for (tag, desc) in &attachments {
            let manifest = match completer.verified.get(&desc.digest) {
                Some(m) => m.clone(),
                None => completer.manifest_of(desc).await?,
            };
            dst.push_manifest_placed(&manifest, Some(tag)).await?;
        }
        let manifest = match completer.verified.remove(&root.digest) {
            Some(m) => m,
            None => completer.manifest_of(&root).await?,
        };
        dst.push_manifest_placed(&manifest, Some(tag)).await?;
    }
    outcome.attachments = attachments.into_iter().map(|(t, d)| (t, d.digest)).collect();
    outcome.tags = vec![(tag.to_owned(), root.digest.clone())];
    outcome.root = Some(root);
    Ok(outcome)
}

/// The cosign tag attachments an archive's index.json entries name ([`annotations::COSIGN_TAG`]),
/// each checked: `sha256-<hex>.sig|att|sbom` whose subject is a manifest the archive lists.
fn attachment_tags(listed: &[Descriptor]) -> Result<Vec<(String, Descriptor)>, Error> {
    let manifests: HashSet<String> = listed.iter().map(|d| d.digest.tag_schema()).collect();
    let mut out: Vec<(String, Descriptor)> = Vec::new();
    for d in listed {
        let Some(tag) = d.annotations.get(annotations::COSIGN_TAG) else { continue };
        let fault = || Error::BadArchive(ArchiveFault::AttachmentTag { tag: tag.clone() });
        let (subject, suffix) = tag.rsplit_once('.').ok_or_else(fault)?;
        let hex = subject.strip_prefix("sha256-").ok_or_else(fault)?;
        let well_formed = hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if !well_formed || !ferry_registry::COSIGN_SUFFIXES.contains(&suffix) || !manifests.contains(subject) {
            return Err(fault());
        }
        match out.iter().find(|(t, _)| t == tag) {
            None => out.push((tag.clone(), d.clone())),
            Some((_, other)) if other.digest == d.digest => {}
            // One tag for two manifests: which one the far side meant is not known.
            Some(_) => return Err(fault()),
        }
    }
    Ok(out)
}

/// Whether `e` is the destination failing, rather than the archive being read: a blob stream
/// from the archive fails as [`Error::Blob`], and an upload fails as a source failure when its
/// stream from the archive did.
fn destination_failed(e: &Error) -> bool {
    match e {
        Error::Registry(r) => !r.is_source_failure(),
        Error::Layout { .. } => true,
        _ => false,
    }
}

/// Reads one archive into `dst`. On a damaged entry or a failed upload, stops reading but
/// lets every upload already under way finish, so what was whole is kept.
async fn read_source(
    input: ArchiveInput,
    archive: &str,
    dst: &dyn Store,
    options: &DeserializeOptions,
    events: &Events,
    loaded: &mut Loaded,
) -> Result<(), Error> {
    let (tx, mut rx) = mpsc::channel::<Item>(4);
    let reader = std::thread::spawn(move || read_entries(input, &tx));
    loaded.before_index = true;
    let mut stage = Stage::Start;
    let fail = Error::BadArchive;
    let mut storing: Storing<'_> = futures_util::stream::FuturesUnordered::new();
    let mut first_error: Option<Error> = None;
    let mut reading = true;
    loop {
        let item = tokio::select! {
            // While the delivery's signature is read, one entry at a time: nothing after it
            // is taken before it is checked.
            item = rx.recv(), if reading && storing.len() < CONCURRENT_BLOBS && (storing.is_empty() || !loaded.gate.waiting()) => match item {
                Some(item) => item,
                None => {
                    reading = false;
                    continue;
                }
            },
            stored = storing.next(), if !storing.is_empty() => {
                let Some(stored) = stored else { continue };
                let released = match stored {
                    Ok(Stored { held: Some(bytes), digest, size, .. }) => loaded.gate.held(Descriptor::new(media_type::OCTET_STREAM, digest, size), bytes),
                    Ok(stored) => {
                        loaded.stored(stored, events);
                        Ok(None)
                    }
                    Err(e) => Err(e),
                };
                match released {
                    Ok(Some((blobs, signer))) => {
                        loaded.outcome.signer = signer;
                        for (desc, bytes) in blobs {
                            storing.push(Box::pin(store_held(dst, archive.to_owned(), desc, bytes, options.dry_run)));
                        }
                    }
                    Ok(None) => {}
                    Err(e) => {
                        reading = false;
                        first_error.get_or_insert(e);
                    }
                }
                continue;
            }
            else => break,
        };
        if let Err(e) = take_item(item, archive, dst, options, events, &mut stage, loaded, &mut storing) {
            reading = false;
            first_error.get_or_insert(e);
        }
    }
    // Stop the reader: it may be blocked sending the next entry.
    drop(rx);
    reader.join().map_err(|_| fail(ArchiveFault::ReaderPanicked))?;
    if first_error.is_none() {
        for (desc, bytes) in loaded.gate.ended()? {
            let stored = store_held(dst, archive.to_owned(), desc, bytes, options.dry_run).await?;
            loaded.stored(stored, events);
        }
    }
    first_error.map_or(Ok(()), Err)
}

/// Stores a blob the signature's check held in memory.
async fn store_held(dst: &dyn Store, archive: String, desc: Descriptor, bytes: Bytes, dry_run: bool) -> Result<Stored, Error> {
    let entry = format!("blobs/{}/{}", desc.digest.algorithm().name(), desc.digest.hex());
    let origin = Origin::Archive { archive, entry, offset: 0 };
    let stream = BlobStream::from_bytes(desc.clone(), origin, bytes);
    store_blob(dst, desc, stream, dry_run).await
}

/// Reads a blob of the delivery's signature into memory, verified, without storing it.
/// The gate holds only blobs of at most [`KEEP_JSON_BYTES`] (see [`Gate::wants`]).
async fn hold_blob(desc: Descriptor, stream: BlobStream) -> Result<Stored, Error> {
    let bytes = Bytes::from(stream.collect().await?);
    Ok(Stored { digest: desc.digest, size: desc.size, json: None, present: false, held: Some(bytes) })
}

/// The delivery's signature while it is read: listed in the first `index.json`, its blobs come
/// first; they are held in memory, and nothing else is taken, until it is checked.
#[derive(Default)]
enum Gate {
    /// No signature to wait for (none asked, or checked).
    #[default]
    Open,
    /// Reading the signature.
    Waiting(Box<Waiting>),
}

struct Waiting {
    trust: Arc<DeliveryTrust>,
    root: Digest,
    entry: Descriptor,
    /// The signature manifest's bytes and the blobs it names, once it is held.
    manifest: Option<(Vec<u8>, Vec<Digest>)>,
    held: Vec<(Descriptor, Bytes)>,
}

impl Gate {
    fn waiting(&self) -> bool {
        matches!(self, Gate::Waiting(_))
    }

    /// The first `index.json`: with a policy, a signature listed is waited for, and none is
    /// refused when one is required.
    fn first_index(&mut self, index: &Index, trust: Option<&Arc<DeliveryTrust>>) -> Result<(), Error> {
        let (Some(trust), Some(root)) = (trust, index.manifests.first()) else { return Ok(()) };
        match index.manifests.iter().find(|d| d.annotations.contains_key(annotations::DELIVERY_SIGNATURE)) {
            None if trust.require_signed => Err(refused(trust, ferry_sign::cosign::DeliveryFault::Unsigned)),
            None => Ok(()),
            Some(entry) => {
                let waiting =
                    Waiting { trust: Arc::clone(trust), root: root.digest.clone(), entry: entry.clone(), manifest: None, held: Vec::new() };
                *self = Gate::Waiting(Box::new(waiting));
                Ok(())
            }
        }
    }

    /// Whether a blob is the signature's, to hold. Another blob before the signature is whole
    /// is refused when a signature is required; else the check is given up, and what was
    /// held is handed back to be stored.
    fn wants(&mut self, desc: &Descriptor) -> Result<(bool, Vec<(Descriptor, Bytes)>), Error> {
        let Gate::Waiting(w) = self else { return Ok((false, Vec::new())) };
        let named = match &w.manifest {
            None => desc.digest == w.entry.digest,
            Some((_, names)) => names.contains(&desc.digest),
        };
        // A signature's blobs are small: one larger is not held in memory, it is no signature.
        if named && desc.size <= KEEP_JSON_BYTES {
            return Ok((true, Vec::new()));
        }
        if w.trust.require_signed {
            return Err(refused(&w.trust, ferry_sign::cosign::DeliveryFault::Unreadable));
        }
        tracing::warn!("the delivery's signature is not whole ahead of the blobs; not checked");
        Ok((false, self.give_up()))
    }

    /// No check after all: the blobs held so far, to be stored.
    fn give_up(&mut self) -> Vec<(Descriptor, Bytes)> {
        match std::mem::take(self) {
            Gate::Waiting(w) => w.held,
            Gate::Open => Vec::new(),
        }
    }

    /// A held blob: once the signature is whole it is checked, and its blobs are handed back
    /// to be stored, with the signer when the signature held.
    #[expect(clippy::type_complexity, reason = "the blobs to store and who signed")]
    fn held(
        &mut self,
        desc: Descriptor,
        bytes: Bytes,
    ) -> Result<Option<(Vec<(Descriptor, Bytes)>, Option<ferry_sign::cosign::Signer>)>, Error> {
        let Gate::Waiting(w) = self else { return Ok(Some((vec![(desc, bytes)], None))) };
        if desc.digest == w.entry.digest {
            let parsed = Manifest::from_bytes(w.entry.clone(), bytes.to_vec())
                .map_err(|_| refused(&w.trust, ferry_sign::cosign::DeliveryFault::Unreadable))?;
            let view = parsed.view();
            let names = view.config.iter().chain(&view.layers).map(|d| d.digest.clone()).collect();
            w.manifest = Some((bytes.to_vec(), names));
        }
        w.held.push((desc, bytes));
        let Some((manifest, names)) = &w.manifest else { return Ok(None) };
        if !names.iter().all(|n| w.held.iter().any(|(d, _)| d.digest == *n)) {
            return Ok(None);
        }
        let payloads = w.held.iter().map(|(d, b)| (d.digest.clone(), b.to_vec())).collect();
        let claimed = w.entry.annotations.get(annotations::DELIVERY_SIGNATURE).map(String::as_str);
        let checked = ferry_sign::cosign::check_delivery(&w.root, manifest, &payloads, &w.trust.keys, claimed);
        let signer = match checked {
            Ok(signer) => Some(signer),
            Err(fault) if w.trust.require_signed => return Err(refused(&w.trust, fault)),
            Err(fault) => {
                tracing::warn!("the delivery's signature does not hold: {fault}");
                None
            }
        };
        let Gate::Waiting(w) = std::mem::take(self) else { return Ok(None) };
        Ok(Some((w.held, signer)))
    }

    /// The archive ended: a signature still incomplete is refused when one is required;
    /// else what was held is handed back to be stored.
    fn ended(&mut self) -> Result<Vec<(Descriptor, Bytes)>, Error> {
        match self {
            Gate::Waiting(w) if w.trust.require_signed => Err(refused(&w.trust, ferry_sign::cosign::DeliveryFault::Unreadable)),
            _ => Ok(self.give_up()),
        }
    }
}

fn refused(trust: &DeliveryTrust, fault: ferry_sign::cosign::DeliveryFault) -> Error {
    Error::Delivery { fault, policy_file: trust.policy_file.clone() }
}

type Storing<'a> = futures_util::stream::FuturesUnordered<futures_util::future::BoxFuture<'a, Result<Stored, Error>>>;

/// Handles one entry from the reader: checks its place, starts a blob's upload.
#[expect(clippy::too_many_arguments, reason = "the reading state of one archive, each borrowed apart")]
fn take_item<'a>(
    item: Item,
    archive: &str,
    dst: &'a dyn Store,
    options: &DeserializeOptions,
    events: &Events,
    stage: &mut Stage,
    loaded: &mut Loaded,
    storing: &mut Storing<'a>,
) -> Result<(), Error> {
    let fail = Error::BadArchive;
    let order = |e| Error::BadArchive(ArchiveFault::Order(e));
    match item {
        Item::Failed(fault) => return Err(fail(fault)),
        Item::Layout(offset) => stage.next(options.strict, "oci-layout", offset).map_err(order)?,
        Item::Index(index, offset) => {
            ferry_archive::entries::check_version(&index).map_err(|source| fail(ArchiveFault::Version { offset, source }))?;
            if loaded.indexes.is_empty()
                && let Some(Ok(bytes @ 1..)) = index.annotations.get(annotations::SIZE_DEDUPLICATED).map(|v| v.parse::<u64>())
            {
                events(&Event::Expected { bytes });
            }
            if loaded.indexes.is_empty() {
                loaded.gate.first_index(&index, options.trust.as_ref())?;
            } else if loaded.before_index {
                loaded.continuation(&index, options.trust.as_deref())?;
            }
            loaded.before_index = false;
            loaded.indexes.push(index);
            stage.next(options.strict, "index.json", offset).map_err(order)?;
        }
        Item::Other(name, offset, member) => {
            stage.next(options.strict, &name, offset).map_err(order)?;
            if let Some((member, file)) = member {
                loaded.members.insert(member);
                loaded.member_file = Some(file);
            }
        }
        Item::Blob { digest, size, offset, body } => {
            stage.next(options.strict, "blob", offset).map_err(order)?;
            let desc = Descriptor::new(media_type::OCTET_STREAM, digest, size);
            let progress = events.clone();
            let body = body.into_stream().inspect(move |chunk| {
                if let Ok(c) = chunk {
                    progress(&Event::Progress { bytes: c.len() as u64 });
                }
            });
            // Named from the digest: the header's name was checked to be this path.
            let name = format!("blobs/{}/{}", desc.digest.algorithm().name(), desc.digest.hex());
            let origin = Origin::Archive { archive: archive.to_owned(), entry: name, offset };
            let stream = BlobStream::verifying(desc.clone(), origin, body);
            // A blob before its archive's index.json cannot come after a signature.
            if loaded.before_index
                && let Some(trust) = options.trust.as_ref().filter(|t| t.require_signed)
            {
                return Err(refused(trust, ferry_sign::cosign::DeliveryFault::Unsigned));
            }
            let (hold, released) = loaded.gate.wants(&desc)?;
            for (desc, bytes) in released {
                storing.push(Box::pin(store_held(dst, archive.to_owned(), desc, bytes, options.dry_run)));
            }
            if hold {
                storing.push(Box::pin(hold_blob(desc, stream)));
            } else {
                storing.push(Box::pin(store_blob(dst, desc, stream, options.dry_run)));
            }
        }
    }
    Ok(())
}

impl Loaded {
    /// The first `index.json` of a later source (a continuation): under a required
    /// signature, it must be of the delivery whose signature the first source proved, or
    /// nothing of it is written.
    fn continuation(&self, index: &Index, trust: Option<&DeliveryTrust>) -> Result<(), Error> {
        let Some(trust) = trust.filter(|t| t.require_signed) else { return Ok(()) };
        let signed = self.indexes.first().and_then(|i| i.manifests.first()).map(|d| &d.digest);
        match (signed, index.manifests.first()) {
            (Some(signed), Some(root)) if self.outcome.signer.is_some() && root.digest == *signed => Ok(()),
            (Some(signed), Some(root)) if self.outcome.signer.is_some() => {
                Err(refused(trust, ferry_sign::cosign::DeliveryFault::OtherDigest { signed: signed.clone(), root: root.digest.clone() }))
            }
            _ => Err(refused(trust, ferry_sign::cosign::DeliveryFault::Unsigned)),
        }
    }

    fn stored(&mut self, stored: Stored, events: &Events) {
        events(&Event::BlobStored { digest: stored.digest.clone(), size: stored.size, present: stored.present });
        self.outcome.blobs += 1;
        self.outcome.bytes += stored.size;
        self.outcome.present += u64::from(stored.present);
        if let Some(bytes) = stored.json {
            self.kept.insert(stored.digest.clone(), bytes);
        }
        self.in_archive.insert(stored.digest, stored.size);
    }
}

/// Stores one blob from the archive: verified as it streams, also when the destination has
/// it already or in a dry run. Blobs shaped like manifests are kept for the graph.
pub(crate) async fn store_blob(dst: &dyn Store, desc: Descriptor, stream: BlobStream, dry_run: bool) -> Result<Stored, Error> {
    let (digest, size, origin) = (desc.digest.clone(), desc.size, stream.origin().clone());
    if size <= KEEP_JSON_BYTES {
        let bytes = Bytes::from(stream.collect().await?);
        let mut present = false;
        if !dry_run && !dst.blob_exists(&desc).await? {
            let once = BlobStream::from_bytes(desc.clone(), origin, bytes.clone());
            dst.push_blob_stream(&desc, once).await?;
        } else {
            present = !dry_run;
        }
        let json = ferry_archive::reader::may_be_manifest(&bytes).then(|| bytes.to_vec());
        return Ok(Stored { digest, size, json, present, held: None });
    }
    if dry_run || dst.blob_exists(&desc).await? {
        // Read it anyway: every byte of the archive is verified.
        let mut s = stream;
        while let Some(chunk) = s.next().await {
            chunk?;
        }
        return Ok(Stored { digest, size, json: None, present: !dry_run, held: None });
    }
    dst.push_blob_stream(&desc, stream).await?;
    Ok(Stored { digest, size, json: None, present: false, held: None })
}

impl Body {
    pub(crate) fn into_stream(self) -> impl futures_util::Stream<Item = std::io::Result<Bytes>> + Send + 'static {
        let rx = match self {
            Body::Chunks(rx) => rx,
            Body::Bytes(bytes) => {
                let (tx, rx) = mpsc::channel(1);
                // A fresh channel of one slot takes one message.
                let _ = tx.try_send(Ok(bytes));
                rx
            }
            Body::At { file, offset, size } => {
                let (tx, rx) = mpsc::channel(CHANNEL_CHUNKS);
                tokio::task::spawn_blocking(move || read_range(&file, offset, size, &tx));
                rx
            }
        };
        tokio_stream(rx)
    }
}

/// Sends `size` bytes of `file` from `offset` as chunks; a short file is an error.
fn read_range(file: &std::fs::File, offset: u64, size: u64, tx: &mpsc::Sender<std::io::Result<Bytes>>) {
    use std::os::unix::fs::FileExt as _;
    let mut at = 0u64;
    while at < size {
        let want = usize::try_from((size - at).min(CHUNK_BYTES as u64)).unwrap_or(CHUNK_BYTES);
        let mut buf = vec![0u8; want];
        let result = match file.read_at(&mut buf, offset + at) {
            Ok(0) => Err(std::io::Error::other(format!("the archive ends inside the entry after {at} of {size} bytes (truncated?)"))),
            Ok(n) => {
                buf.truncate(n);
                at += n as u64;
                Ok(Bytes::from(buf))
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => Err(e),
        };
        let failed = result.is_err();
        if tx.blocking_send(result).is_err() || failed {
            return;
        }
    }
}

/// The stage machine of `--strict` (spec §2.9): `oci-layout`, `index.json`, then blobs and at
/// most one more `index.json`, and (unlike ace-dt) `manifest.json` after the final one.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Stage {
    Start,
    Layout,
    Body { indexes: u32 },
}

impl Stage {
    fn next(&mut self, strict: bool, what: &str, offset: u64) -> Result<(), OrderFault> {
        let next = match (*self, what) {
            (Stage::Start, "oci-layout") => Stage::Layout,
            (Stage::Layout, "index.json") => Stage::Body { indexes: 1 },
            (Stage::Body { indexes }, "index.json") => {
                if strict && indexes >= 2 {
                    return Err(OrderFault::ThirdIndex(offset));
                }
                Stage::Body { indexes: indexes + 1 }
            }
            (s @ Stage::Body { .. }, "blob") => s,
            (s @ Stage::Body { indexes: 2 }, "manifest.json") => s,
            (s, _) if !strict => s,
            (Stage::Start, _) => return Err(OrderFault::NotLayoutFirst(what.to_owned(), offset)),
            (Stage::Layout, _) => {
                return Err(OrderFault::NotIndexSecond(what.to_owned(), offset));
            }
            _ => return Err(OrderFault::Unexpected(what.to_owned(), offset)),
        };
        *self = next;
        Ok(())
    }
}

struct Completer<'a> {
    dst: &'a dyn Store,
    kept: &'a HashMap<Digest, Vec<u8>>,
    in_archive: &'a HashMap<Digest, u64>,
    dry_run: bool,
    done: HashMap<Digest, bool>,
    missing: BTreeSet<Digest>,
    pushed: u64,
    /// Manifests whose graphs are complete, as parsed (the root is tagged from here).
    verified: HashMap<Digest, Manifest>,
}

impl Completer<'_> {
    /// A manifest carried by the archive: kept in memory, or read back from the destination
    /// as the blob this run stored. Callers have checked it is within the manifest limit.
    async fn manifest_of(&self, d: &Descriptor) -> Result<Manifest, Error> {
        let bytes = match self.kept.get(&d.digest) {
            Some(b) => b.clone(),
            None => {
                let blob = Descriptor::new(media_type::OCTET_STREAM, d.digest.clone(), d.size);
                self.dst.fetch_blob(&blob).await?.collect().await?
            }
        };
        Manifest::from_bytes(Descriptor::new(d.media_type.clone(), d.digest.clone(), d.size), bytes)
            .map_err(|source| Error::Manifest { what: format!("manifest {} in the archive", d.digest), source })
    }

    /// A manifest an earlier load left at the destination: served as a manifest, or stored as
    /// a blob by a load that broke off before it could PUT it. Read by digest and parsed either
    /// way; its children are checked by the caller before it is PUT.
    async fn manifest_at_destination(&self, d: &Descriptor) -> Result<Option<Manifest>, Error> {
        if let Some(m) = self.dst.manifest_readable(d).await? {
            return Ok(Some(m));
        }
        let blob = Descriptor::new(media_type::OCTET_STREAM, d.digest.clone(), d.size);
        if d.size > KEEP_JSON_BYTES || !self.dst.blob_exists(&blob).await? {
            return Ok(None);
        }
        let bytes = self.dst.fetch_blob(&blob).await?.collect().await?;
        Ok(Manifest::from_bytes(Descriptor::new(d.media_type.clone(), d.digest.clone(), d.size), bytes).ok())
    }

    /// Makes `d` complete at the destination; returns whether it is. A blob counts when this
    /// run stored it or the destination answers with its size; a manifest when its children
    /// do and it was PUT as a manifest (from the archive, or as read back from the
    /// destination by digest). That a manifest answers HEAD proves nothing: a registry may
    /// answer for bytes that were pushed as a plain blob.
    fn complete(&mut self, d: Descriptor, depth: usize) -> futures_util::future::BoxFuture<'_, Result<bool, Error>> {
        Box::pin(async move {
            if let Some(&ok) = self.done.get(&d.digest) {
                return Ok(ok);
            }
            if depth > ferry_oci::MAX_GRAPH_DEPTH {
                return Err(Error::TooDeep { digest: d.digest.to_string() });
            }
            if let Some(&size) = self.in_archive.get(&d.digest)
                && size != d.size
            {
                return Err(Error::Inconsistent { digest: d.digest.to_string(), archive_size: size, descriptor_size: d.size });
            }
            if d.is_manifest() && d.size > KEEP_JSON_BYTES {
                // Read whole to be checked, so bounded wherever it comes from.
                return Err(Error::ManifestTooBig { digest: d.digest.to_string(), size: d.size });
            }
            let ok = if !d.is_manifest() {
                let present = self.in_archive.contains_key(&d.digest) || self.dst.blob_exists(&d).await?;
                if !present {
                    self.missing.insert(d.digest.clone());
                }
                present
            } else {
                let manifest = if self.in_archive.contains_key(&d.digest) || self.kept.contains_key(&d.digest) {
                    Some(self.manifest_of(&d).await?)
                } else {
                    // Not carried: an earlier load must have left it at the destination.
                    self.manifest_at_destination(&d).await?
                };
                match manifest {
                    None => {
                        self.missing.insert(d.digest.clone());
                        false
                    }
                    Some(manifest) => {
                        let mut all = true;
                        for child in manifest.successors() {
                            all &= self.complete(child, depth + 1).await?;
                        }
                        if all {
                            if !self.dry_run {
                                let indexed = self.dst.push_manifest_placed(&manifest, None).await?;
                                // Keep referrers discoverable where the registry has no referrers API.
                                if let Some(subject) = &manifest.view().subject {
                                    self.dst.record_referrer(subject, &manifest, indexed).await?;
                                }
                            }
                            self.pushed += 1;
                            self.verified.insert(d.digest.clone(), manifest);
                        }
                        all
                    }
                }
            };
            self.done.insert(d.digest.clone(), ok);
            Ok(ok)
        })
    }
}

fn tokio_stream(
    mut rx: mpsc::Receiver<std::io::Result<Bytes>>,
) -> impl futures_util::Stream<Item = std::io::Result<Bytes>> + Send + 'static {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

/// The reader thread: entries in order through the archive crate's reader, the same one
/// `verify` uses; blobs as chunks, or, from a plain tar file, as ranges of the file, which the
/// reader then skips with a seek.
fn read_entries(input: ArchiveInput, tx: &mpsc::Sender<Item>) {
    use ferry_archive::entries::{Entries, Seekable, Stream};
    match input {
        ArchiveInput::Stream(r) => send_entries(Entries::new(Stream(r)), None, tx),
        ArchiveInput::File(f) => {
            // Headers are read through a buffer; blob data is read at its offset elsewhere.
            let opened = f.try_clone().and_then(|positional| Ok((Seekable::new(std::io::BufReader::new(f))?, positional)));
            match opened {
                Ok((file, positional)) => send_entries(Entries::new(file), Some(Arc::new(positional)), tx),
                Err(e) => drop(tx.blocking_send(Item::Failed(ArchiveFault::Open(e)))),
            }
        }
    }
}

fn send_entries<S: ferry_archive::entries::Source>(
    mut entries: ferry_archive::entries::Entries<S>,
    positional: Option<Arc<std::fs::File>>,
    tx: &mpsc::Sender<Item>,
) {
    use ferry_archive::entries::Entry;
    let send = |item: Item| tx.blocking_send(item).is_ok();
    // A docker archive's files are noted (from a stream, copied to the spool) until an
    // index.json shows the archive is an OCI layout.
    let mut spool: Option<Spool> = None;
    let mut seen_index = false;
    loop {
        let item = match entries.next_entry() {
            Ok(None) => return,
            Err(e) => {
                send(Item::Failed(ArchiveFault::Read(e)));
                return;
            }
            Ok(Some(Entry::Layout { offset })) => Item::Layout(offset),
            Ok(Some(Entry::Index { index, offset })) => {
                seen_index = true;
                Item::Index(index, offset)
            }
            Ok(Some(Entry::Other { name, offset, mut member })) => {
                let located = match &positional {
                    _ if seen_index => None,
                    Some(file) => Some((member, Arc::clone(file))),
                    None => match Spool::take(&mut spool, &mut entries, &mut member) {
                        Ok(file) => Some((member, file)),
                        Err(fault) => {
                            send(Item::Failed(fault));
                            return;
                        }
                    },
                };
                Item::Other(name, offset, located)
            }
            Ok(Some(Entry::Blob(blob))) => {
                let (digest, size, offset) = (blob.digest, blob.size, blob.header_offset);
                if let Some(file) = &positional {
                    let body = Body::At { file: Arc::clone(file), offset: blob.data_offset, size };
                    if !send(Item::Blob { digest, size, offset, body }) {
                        return;
                    }
                    continue;
                }
                let (ctx, crx) = mpsc::channel(CHANNEL_CHUNKS);
                if !send(Item::Blob { digest, size, offset, body: Body::Chunks(crx) }) {
                    return;
                }
                let mut data = entries.data();
                loop {
                    let mut buf = vec![0u8; CHUNK_BYTES];
                    match data.read(&mut buf) {
                        Ok(0) => break,
                        Ok(n) => {
                            buf.truncate(n);
                            if ctx.blocking_send(Ok(Bytes::from(buf))).is_err() {
                                return;
                            }
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                        Err(e) => {
                            // The reader's error names the entry and where the archive ends.
                            let _ = ctx.blocking_send(Err(e));
                            return;
                        }
                    }
                }
                continue;
            }
        };
        if !send(item) {
            return;
        }
    }
}
