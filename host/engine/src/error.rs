//! The engine's error type. [`Error::is_bad_input`] tells the CLI which exit code applies.

use std::path::PathBuf;

use ferry_oci::layout::LayoutError;
use ferry_oci::{ManifestError, PlatformError, ReferenceError};

/// A workflow failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A registry operation failed.
    #[error(transparent)]
    Registry(#[from] ferry_registry::Error),
    /// The delivery catalog could not be read or written.
    #[error(transparent)]
    Catalog(#[from] ferry_catalog::CatalogError),
    /// A media set could not be written, read or rebuilt.
    #[error("{what}")]
    Volumes {
        /// The set (its base name) and what was being done.
        what: String,
        /// Why.
        #[source]
        source: ferry_volumes::VolumeError,
    },
    /// A blob stream failed or did not verify (names where its bytes came from; boxed: it
    /// is large).
    #[error(transparent)]
    Blob(Box<ferry_oci::BlobError>),
    /// A subject's tag-schema referrers index cannot be extended; it is left untouched.
    #[error("{store}: {source}")]
    ReferrersIndex {
        /// The store holding it.
        store: String,
        /// Why (boxed: it is large, and rare).
        #[source]
        source: Box<ferry_oci::referrers::TagIndexError>,
    },
    /// An OCI layout directory could not be read or written.
    #[error("OCI layout {}", path.display())]
    Layout {
        /// The layout directory.
        path: PathBuf,
        /// What failed.
        #[source]
        source: LayoutError,
    },
    /// A reference given by the user is malformed.
    #[error("{location}")]
    Reference {
        /// Where it was given (`argument IMAGE`, `sources.list:3`).
        location: String,
        /// Why it is invalid.
        #[source]
        source: ReferenceError,
    },
    /// A `--platforms` value is malformed.
    #[error(transparent)]
    Platform(#[from] PlatformError),
    /// Content claiming to be a manifest is not usable.
    #[error("{what}")]
    Manifest {
        /// Which manifest, from where.
        what: String,
        /// Why.
        #[source]
        source: ManifestError,
    },
    /// A platform filter met a media type it cannot filter.
    #[error("{source_ref}: media type {} cannot be filtered by platform (expected an image manifest or an index)", ferry_oci::quoted(media_type.as_bytes()))]
    PlatformUnsupported {
        /// The source reference.
        source_ref: String,
        /// Its media type.
        media_type: String,
    },
    /// A gather destination was given by digest.
    #[error("destination {0} names a digest; gather needs a tag to point at the new index")]
    DigestDestination(String),
    /// A config blob could not be read as JSON when filtering by platform.
    #[error("{what}: config is not valid JSON")]
    Config {
        /// Which config.
        what: String,
        /// Parser error.
        #[source]
        source: serde_json::Error,
    },
    /// An annotation the workflow reads has a value it cannot use.
    #[error("annotation {key} is {}, not an integer", ferry_oci::quoted(value.as_bytes()))]
    Annotation {
        /// The annotation key.
        key: &'static str,
        /// Its value.
        value: String,
    },
    /// Writing the archive failed.
    #[error(transparent)]
    Archive(#[from] ferry_archive::writer::WriteError),
    /// The archive being read is damaged or not an archive; names the entry and byte offset.
    #[error(transparent)]
    BadArchive(crate::deserialize::ArchiveFault),
    /// One digest is described with two sizes.
    #[error("{digest}: the archive holds {archive_size} bytes but a descriptor says {descriptor_size}")]
    Inconsistent {
        /// The digest.
        digest: String,
        /// Size of the archive entry.
        archive_size: u64,
        /// Size in the descriptor.
        descriptor_size: u64,
    },
    /// An output file could not be written.
    #[error("{what}")]
    Output {
        /// Which output.
        what: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// A checkpoint argument or ledger is unusable.
    #[error(transparent)]
    Ledger(#[from] ferry_archive::ledger::LedgerError),
    /// A BATCH-LIST row is unusable.
    #[error("{}:{line}: {problem}", file.display())]
    BatchList {
        /// The BATCH-LIST.
        file: PathBuf,
        /// 1-based line.
        line: u64,
        /// What is wrong.
        problem: crate::batch::BatchListProblem,
    },
    /// A source annotation of a gather index entry is not a reference exactly as written
    /// (see [`crate::confine`]); no rule sees it.
    #[error("artifact {digest}: its source annotation {value} is refused: {reason}")]
    BadSource {
        /// The artifact's digest.
        digest: String,
        /// The annotation, quoted with [`ferry_oci::quoted`].
        value: String,
        /// Why.
        reason: String,
    },
    /// A mapping rule's answer cannot be used (empty, invalid, conflicting destinations).
    #[error("{rule}")]
    Mapping {
        /// The rule as written.
        rule: String,
        /// What is wrong with its answer.
        #[source]
        problem: Box<crate::place::MappingProblem>,
    },
    /// scatter needs an index.
    #[error("{what} is {}, but scatter needs an index (a gather index)", ferry_oci::quoted(media_type.as_bytes()))]
    NotAnIndex {
        /// The image.
        what: String,
        /// What it is.
        media_type: String,
    },
    /// diff needs a gather index.
    #[error(
        "{reference} is not a mirror artifact (a gather index of artifactType {}): {found}",
        ferry_oci::media_type::GATHER_ARTIFACT_TYPE
    )]
    NotAMirrorArtifact {
        /// The reference given.
        reference: String,
        /// What it is instead (`its media type is …`).
        found: String,
    },
    /// Placing an artifact at a destination failed.
    #[error("placing {from} at {destination}")]
    Placement {
        /// The destination reference.
        destination: String,
        /// The artifacts.
        from: String,
        /// Why.
        #[source]
        source: Box<Error>,
    },
    /// A manifest graph nests deeper than ferry follows ([`ferry_oci::MAX_GRAPH_DEPTH`]).
    #[error("{digest}: manifests nest more than {} levels deep under it (a hostile or broken graph?)", ferry_oci::MAX_GRAPH_DEPTH)]
    TooDeep {
        /// The manifest at the limit.
        digest: String,
    },
    /// A manifest over the size ferry reads whole ([`ferry_archive::reader::MANIFEST_MAX_BYTES`]).
    #[error("manifest {digest} is {size} bytes, over the {} MiB limit for manifests", ferry_archive::reader::MANIFEST_MAX_BYTES >> 20)]
    ManifestTooBig {
        /// The manifest.
        digest: String,
        /// Its size, as its descriptor says.
        size: u64,
    },
    /// IMAGE names a tag, but the archive holds several images (each is tagged by its own
    /// names when IMAGE names a repository alone).
    #[error(
        "IMAGE names tag {tag}, but the archive holds {images} images; name the repository alone (no tag) to tag each by the names the archive gives it: {names}"
    )]
    SeveralImages {
        /// IMAGE's tag.
        tag: String,
        /// Images in the archive.
        images: usize,
        /// Their names, as the archive gives them.
        names: String,
    },
    /// Two images of an archive would take the same tag in the destination repository.
    #[error(
        "{first} and {second} are different images but would both be tagged {tag} in {destination}; `ferry mirror unarchive ARCHIVE MAPPER` places them in repositories of their own"
    )]
    TagCollision {
        /// The tag.
        tag: String,
        /// The first name, as the archive gives it.
        first: String,
        /// The second.
        second: String,
        /// The destination repository.
        destination: String,
    },
    /// A deserialize could not complete the graph: nothing is tagged, what was read is kept.
    #[error("{0}")]
    Incomplete(Box<crate::deserialize::Incomplete>),
    /// gather, archive: a policy refused some of what was to be gathered, so nothing was
    /// (each refusal is listed, and sent as an event before).
    #[error("{} of {total} artifacts refused by policy; nothing gathered{}", refusals.len(), crate::trust::list_refusals(refusals))]
    Refused {
        /// Artifacts decided on.
        total: usize,
        /// Each refused artifact and why.
        refusals: Vec<(String, String)>,
    },
    /// One source of a gather failed; names it and its line.
    #[error("source {reference} (line {line})")]
    Source {
        /// The source reference.
        reference: String,
        /// Its line in the sources file.
        line: usize,
        /// What went wrong.
        #[source]
        source: Box<Error>,
    },
    /// A file the operator named could not be read (or is not UTF-8 text).
    #[error("{what} {}", path.display())]
    Input {
        /// What it is (`sources file`, `mapping file`, `BATCH-LIST`, `tracker`).
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A component found a bad line in a file the operator gave.
    #[error("{}:{line}: {message}", file.display())]
    InputLine {
        /// The file.
        file: PathBuf,
        /// 1-based line.
        line: u32,
        /// The component's complaint.
        message: String,
    },
    /// A component (a rule, a sources parser, a tracker) failed on what the operator gave it.
    #[error("{what}")]
    Component {
        /// Which component, doing what (`mapping reg/a:1 (sha256:…) with nest=x`).
        what: String,
        /// The component's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A partial archive to resume from is the destination this run would overwrite.
    #[error("--existing-from-archive {}: that is DEST, which this run would overwrite; write the rest to another file", .0.display())]
    ResumeFromDestination(PathBuf),
    /// DEST is refused before anything is written.
    #[error(transparent)]
    Destination(crate::serialize::DestinationProblem),
    /// A partial archive to resume from could not be read.
    #[error("reading a partial archive to resume from")]
    Scan(#[from] ferry_archive::scan::ScanError),
    /// An EXISTING-IMAGE could not be read.
    #[error("reading existing image {image}")]
    Existing {
        /// The image.
        image: String,
        /// Why.
        #[source]
        source: Box<Error>,
    },
    /// An image could not be resolved.
    #[error("resolving {reference}")]
    Resolve {
        /// The reference.
        reference: String,
        /// Why.
        #[source]
        source: Box<Error>,
    },
    /// A directory argument is not a directory.
    #[error("{what} {} is not a directory", path.display())]
    NotADirectory {
        /// Which argument.
        what: &'static str,
        /// The path.
        path: PathBuf,
    },
    /// batch-deserialize tags each archive with its name: its destination must have no tag.
    #[error("DESTINATION {0}: give a repository without a tag; each archive is tagged with its name")]
    TaggedDestination(String),
    /// A delivery the policy refuses: nothing was written.
    #[error("the delivery is refused by the policy in {policy_file}: {fault}; nothing was written")]
    Delivery {
        /// Why.
        fault: ferry_sign::cosign::DeliveryFault,
        /// Where the policy came from.
        policy_file: String,
    },
    /// A platform filter selects nothing from a source.
    #[error("nothing matches the platforms asked for ({wanted}); it has {available} (--allow-empty goes on without it)")]
    NoPlatformMatch {
        /// The source reference.
        source_ref: String,
        /// The platforms asked for.
        wanted: String,
        /// The platforms it has.
        available: String,
    },
    /// `--subset` or `-l` leave no artifact to route.
    #[error("{0} matches no artifact (--allow-empty accepts that)")]
    NothingSelected(String),
    /// A `--subset` sources file lists nothing.
    #[error("--subset {} lists no sources", .0.display())]
    EmptySubset(PathBuf),
    /// An archive read without error has no root to tag or scatter.
    #[error("{0}: the archive has no root")]
    NoRoot(String),
    /// An archive could not be opened or its compression not read.
    #[error("reading {name}")]
    ReadArchive {
        /// The archive as the operator named it.
        name: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The block buffer's geometry is unusable.
    #[error(transparent)]
    Geometry(#[from] ferry_archive::blockbuf::GeometryError),
    /// A tracker file could not be written.
    #[error("writing {}", path.display())]
    Tracker {
        /// The tracker file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// One entry of a batch failed; names it (and what is already recorded).
    #[error("{what}")]
    Batch {
        /// The entry.
        what: String,
        /// Why.
        #[source]
        source: Box<Error>,
    },
}

impl From<ferry_oci::BlobError> for Error {
    fn from(e: ferry_oci::BlobError) -> Error {
        Error::Blob(Box::new(e))
    }
}

impl Error {
    /// True for errors in what the user gave (files, references, flags): exit code 2.
    pub fn is_bad_input(&self) -> bool {
        match self {
            Error::Reference { .. }
            | Error::Platform(_)
            | Error::DigestDestination(_)
            | Error::Ledger(_)
            | Error::Mapping { .. }
            | Error::BadSource { .. }
            | Error::BatchList { .. }
            | Error::NotAnIndex { .. }
            | Error::NotAMirrorArtifact { .. }
            | Error::TooDeep { .. }
            | Error::Input { .. }
            | Error::InputLine { .. }
            | Error::Component { .. }
            | Error::ResumeFromDestination(_)
            | Error::Destination(_)
            | Error::NotADirectory { .. }
            | Error::TaggedDestination(_)
            | Error::EmptySubset(_)
            | Error::NothingSelected(_)
            | Error::SeveralImages { .. }
            | Error::TagCollision { .. } => true,
            Error::Source { source, .. } | Error::Existing { source, .. } | Error::Resolve { source, .. } | Error::Batch { source, .. } => {
                source.is_bad_input()
            }
            Error::Volumes { source, .. } => source.is_bad_input(),
            _ => false,
        }
    }

    /// True when repeating the operation may succeed: a registry's transient failure, or a
    /// blob stream whose source may read better again.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Registry(e) => e.is_transient(),
            Error::Blob(e) => e.is_transient(),
            _ => false,
        }
    }

    pub(crate) fn layout(path: &std::path::Path, source: LayoutError) -> Error {
        Error::Layout { path: path.to_owned(), source }
    }
}
