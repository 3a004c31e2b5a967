//! Command-line definitions; the values with a type are parsed by [`crate::values`].

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use ferry_engine::selector::Selector;
use ferry_oci::ImageRef;

pub(crate) use crate::values::{Format, Level, Output, PlatformArg, annotations, platforms};
use crate::values::{parse_annotation, parse_buffer, parse_checkpoint, parse_output, parse_platform, parse_size};

/// `--compression` values.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub(crate) enum CompressionArg {
    /// zstd (multithreaded)
    Zstd,
    /// gzip
    Gzip,
}

/// What `ferry --help` ends with: the exit codes and the environment.
const AFTER_HELP: &str = "\
Exit status:
  0    success
  1    an operation failed (registry, network, content, a failed placement)
  2    bad usage or bad input (flags, references, files)
  130  interrupted (Ctrl-C or SIGTERM); --report is still written

Environment:
  FERRY_CONFIG           configuration files, ':'-separated (as --config)
  ACE_DT_CONFIG          ace-dt's configuration files, read after ferry's own places
  FERRY_VERBOSITY        log level (as -v)
  ACE_DT_VERBOSITY       log level, after FERRY_VERBOSITY
  FERRY_KEY_PASSPHRASE   passphrase of an encrypted signing key
  DOCKER_CONFIG          directory of Docker's config.json (registry credentials)
  NO_COLOR               no colour in log lines

Documentation: docs/ in the source tree; `ferry mirror COMMAND --help` shows examples.";

/// ferry: air-gap OCI image mirroring.
#[derive(Parser, Debug)]
#[command(name = "ferry", version, long_version = crate::version::long(), about, propagate_version = true, after_help = AFTER_HELP)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) global: Global,
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// Flags every command takes.
#[derive(Args, Debug, Clone)]
pub(crate) struct Global {
    /// Configuration file (must exist; repeatable, the first is read). Default: FERRY_CONFIG (':'-separated), else the first of ./ferry-config.yaml, ~/.config/ferry/config.yaml, /etc/ferry/config.yaml, then ace-dt's ACE_DT_CONFIG or its places
    #[arg(long = "config", global = true, value_name = "PATH")]
    pub(crate) config: Vec<PathBuf>,
    /// Log level: error, warn (the default), info or debug (ace-dt's 0, 4, 8, 12); -v alone means debug and never takes the next argument [env: FERRY_VERBOSITY, then ACE_DT_VERBOSITY]
    #[arg(
        short = 'v',
        long,
        global = true,
        value_name = "LEVEL",
        ignore_case = true,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "debug"
    )]
    pub(crate) verbosity: Option<Level>,
    /// No progress or status output; errors and warnings still go to stderr
    #[arg(short = 'q', long, global = true)]
    pub(crate) quiet: bool,
    /// Timestamped progress lines (every few seconds and at each milestone) instead of a bar
    #[arg(long = "no-term", global = true)]
    pub(crate) no_term: bool,
    /// Reach this registry (or host:port) over plain HTTP, whatever the config file says; repeatable
    #[arg(long = "plain-http", global = true, value_name = "HOST")]
    pub(crate) plain_http: Vec<String>,
}

#[derive(Subcommand, Debug)]
pub(crate) enum Command {
    /// Move images across an air gap (ace-dt mirror compatible)
    Mirror(Box<Mirror>),
    /// Print the effective configuration, or a commented sample
    Config(ConfigArgs),
    /// Check a user name and password against a registry, then store them as docker login does
    Login(LoginArgs),
    /// Remove a registry's stored credentials
    Logout(LogoutArgs),
    /// Utilities
    #[command(subcommand)]
    Util(UtilCommand),
    /// Plugin components and site-approved bundles
    #[command(subcommand)]
    Plugin(PluginCommand),
    /// The delivery catalog (low side): archives written, receipts imported, what the high side holds
    #[command(subcommand)]
    Catalog(CatalogCommand),
    /// Print ferry's version, commit, build date, archive format and plugin interface
    Version(VersionArgs),
    /// Print a shell completion script: source it, or put it where your shell loads completions
    Completion(CompletionArgs),
    /// Write man pages: the top page to standard output, or one page per command into DIR
    Man(ManArgs),
}

#[derive(Args, Debug)]
pub(crate) struct VersionArgs {
    /// text, or json for programs
    #[arg(short = 'o', long = "output", value_enum, default_value = "text", value_name = "FORMAT")]
    pub(crate) output: VersionFormat,
}

/// `ferry version -o` values.
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub(crate) enum VersionFormat {
    /// One fact a line
    Text,
    /// One JSON object
    Json,
}

#[derive(Args, Debug)]
pub(crate) struct CompletionArgs {
    /// The shell
    #[arg(value_enum, value_name = "SHELL")]
    pub(crate) shell: clap_complete::Shell,
}

#[derive(Args, Debug)]
pub(crate) struct ManArgs {
    /// Write ferry.1 and a page per command (ferry-mirror-gather.1, …) into this directory
    #[arg(value_name = "DIR")]
    pub(crate) dir: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
pub(crate) enum PluginCommand {
    /// Show a component's world, interface version, imports, exports, size and sha256
    Inspect(InspectArgs),
    /// Print the WIT of the ferry:plugin interface this ferry implements (to build a component against)
    Wit,
    /// Make a signing key pair: PREFIX.key (private, mode 0600; encrypted with FERRY_KEY_PASSPHRASE when set) and PREFIX.pub
    Keygen(KeygenArgs),
    /// Build a bundle from components: to FILE.tar, oci:PATH[:TAG] or REGISTRY/REPOSITORY[:TAG]
    Bundle(BundleArgs),
    /// Sign a bundle (cosign's format); signatures already there are kept
    Sign(SignArgs),
    /// Check a bundle's parts, its components and its signature by a trusted key
    Verify(VerifyBundleArgs),
    /// Verify a bundle and install it into the local plugin store
    Install(InstallArgs),
    /// List the installed plugins and whether the trusted keys vouch for them
    List(ListArgs),
    /// Remove an installed bundle
    Remove(RemoveArgs),
}

#[derive(Args, Debug)]
pub(crate) struct KeygenArgs {
    /// Write PREFIX.key and PREFIX.pub
    #[arg(value_name = "PREFIX", default_value = "ferry")]
    pub(crate) prefix: PathBuf,
    /// Overwrite existing files
    #[arg(long)]
    pub(crate) force: bool,
}

#[derive(Args, Debug)]
#[command(disable_version_flag = true)]
pub(crate) struct BundleArgs {
    /// The components (.wasm); each is used by its file name without .wasm
    #[arg(value_name = "COMPONENT", required = true)]
    pub(crate) components: Vec<PathBuf>,
    /// The bundle's name
    #[arg(long)]
    pub(crate) name: String,
    /// The bundle's version (also its tag when --output names none)
    #[arg(long)]
    pub(crate) version: String,
    /// What the bundle is for
    #[arg(long)]
    pub(crate) description: Option<String>,
    /// Where to write it: FILE.tar, oci:PATH[:TAG] or REGISTRY/REPOSITORY[:TAG]
    #[arg(short = 'o', long = "output", value_name = "DEST")]
    pub(crate) output: String,
}

#[derive(Args, Debug)]
pub(crate) struct SignArgs {
    /// The bundle: FILE.tar, oci:PATH[:TAG|@DIGEST] or REGISTRY/REPOSITORY[:TAG|@DIGEST]
    #[arg(value_name = "BUNDLE")]
    pub(crate) bundle: String,
    /// The private key (PEM: PKCS#8 as keygen writes it, or SEC1); an encrypted one takes FERRY_KEY_PASSPHRASE
    #[arg(long, value_name = "KEY")]
    pub(crate) key: PathBuf,
}

/// A bundle and the keys to trust beside the configured ones; shared by verify and install.
#[derive(Args, Debug)]
pub(crate) struct TrustFlags {
    /// The bundle: FILE.tar, oci:PATH[:TAG|@DIGEST] or REGISTRY/REPOSITORY[:TAG|@DIGEST]
    #[arg(value_name = "BUNDLE")]
    pub(crate) bundle: String,
    /// Also trust this public key (PEM), beside plugins.trustedKeys; repeatable
    #[arg(long = "key", value_name = "PUB")]
    pub(crate) keys: Vec<PathBuf>,
}

#[derive(Args, Debug)]
pub(crate) struct VerifyBundleArgs {
    #[command(flatten)]
    pub(crate) trust: TrustFlags,
    /// Print JSON instead of text
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Args, Debug)]
pub(crate) struct InstallArgs {
    #[command(flatten)]
    pub(crate) trust: TrustFlags,
    /// Install even without a trusted signature (refused when plugins.requireSigned is on)
    #[arg(long = "allow-unsigned")]
    pub(crate) allow_unsigned: bool,
}

#[derive(Args, Debug)]
pub(crate) struct ListArgs {
    /// Print JSON instead of a table
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Args, Debug)]
pub(crate) struct RemoveArgs {
    /// The bundle's name
    #[arg(value_name = "NAME")]
    pub(crate) name: String,
}

#[derive(Args, Debug)]
pub(crate) struct InspectArgs {
    /// The component (.wasm)
    #[arg(value_name = "PATH")]
    pub(crate) path: PathBuf,
    /// Print JSON instead of text
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Subcommand, Debug)]
pub(crate) enum UtilCommand {
    /// Copy standard input to standard output through the tape block buffer
    Mbuffer(BlockFlags),
}

/// The tape block buffer; shared by `serialize`, `archive` and `util mbuffer`.
#[derive(Args, Debug, Clone)]
pub(crate) struct BlockFlags {
    /// Buffer this many bytes before a burst of writes (e.g. 1Gi = 2^30, 1G = 10^9); 0 means one block
    #[arg(short = 'm', long = "buffer-size", value_name = "BYTES", default_value = "0", value_parser = parse_size)]
    pub(crate) buffer_size: u64,
    /// Bytes per write to the destination
    #[arg(short = 'b', long = "block-size", value_name = "BYTES", default_value = "1MiB", value_parser = parse_size)]
    pub(crate) block_size: u64,
    /// Start writing when the buffer is this full, in percent
    #[arg(long = "hwm", value_name = "PCT", default_value_t = 90)]
    pub(crate) hwm: u32,
}

#[derive(Args, Debug)]
pub(crate) struct Mirror {
    /// Also copy referrers (signatures, SBOMs, attestations) and cosign attachments
    #[arg(short = 'r', long, global = true)]
    pub(crate) recursive: bool,
    /// Write a run report (JSON: every artifact and blob, its status, retries and durations; the exit code) to FILE, also when the run fails or is interrupted
    #[arg(long, global = true, value_name = "FILE")]
    pub(crate) report: Option<PathBuf>,
    /// Write every event of the run to FILE as JSON lines (an existing directory: DIR/logs.txt, as ace-dt)
    #[arg(long, global = true, value_name = "FILE")]
    pub(crate) debug: Option<PathBuf>,
    #[command(subcommand)]
    pub(crate) command: MirrorCommand,
}

#[derive(Subcommand, Debug)]
pub(crate) enum MirrorCommand {
    /// Copy the images listed in SOURCES-FILE into IMAGE's repository and tag a gather index
    #[command(
        after_help = "Examples:\n  ferry mirror gather sources.list registry.local:5000/gather:week49\n  ferry mirror gather -p linux/amd64,linux/arm64 --report gather.json sources.list oci:/var/ferry/gather:week49"
    )]
    Gather(GatherArgs),
    /// Gather SOURCES-FILE into a local cache and serialize it to DEST-FILE in one step
    #[command(
        after_help = "Examples:\n  ferry mirror archive sources.list /media/disk/week49.tar.zst --compression zstd\n  ferry mirror archive sources.list /dev/nst0 registry.local:5000/gather:week48"
    )]
    Archive(ArchiveArgs),
    /// Read an archive into IMAGE's repository and tag its root
    #[command(
        after_help = "Examples:\n  ferry mirror deserialize week49.tar registry.high:5000/incoming:week49\n  ferry mirror deserialize --dry-run week49.tar registry.high:5000/incoming:week49\n  ferry mirror deserialize week49.tar week49.rest.tar registry.high:5000/incoming:week49"
    )]
    Deserialize(DeserializeArgs),
    /// Write a receipt of what the registry holds of each IMAGE's graph, for the low side's catalog
    #[command(
        after_help = "Examples:\n  ferry mirror receipt registry.high:5000/incoming:week49 -o week49.receipt.json\n  ferry mirror receipt --sign high.key registry.high:5000/incoming:week48 registry.high:5000/incoming:week49 -o held.json"
    )]
    Receipt(ReceiptArgs),
    /// Check an archive offline: every blob's digest and size, the manifest graph, both index.json copies; for a media set, every volume too
    #[command(
        after_help = "Examples:\n  ferry mirror verify week49.tar.zst\n  ferry mirror verify --complete -o json week49.tar\n  ferry mirror verify /media/dvd*/week49.tar.*"
    )]
    Verify(VerifyArgs),
    /// Join a media set's volumes (in any order, or directories of them) into the plain archive, rebuilding lost ones from parity first
    #[command(after_help = "Examples:\n  ferry mirror join /media/dvd*/w49.tar.* -o w49.tar\n  ferry mirror join incoming/ -o w49.tar")]
    Join(JoinArgs),
    /// Write the missing or damaged volumes of a media set back into DIR, rebuilt from parity
    #[command(after_help = "Examples:\n  ferry mirror repair /media/usb/w49.tar.* -o /media/usb/")]
    Repair(RepairArgs),
    /// Write IMAGE's graph to DEST as an archive, leaving out what EXISTING-IMAGEs already carried
    #[command(
        after_help = "Examples:\n  ferry mirror serialize registry.local:5000/gather:week49 week49.tar registry.local:5000/gather:week48\n  ferry mirror serialize --compression zstd --checkpoint week49.ledger registry.local:5000/gather:week49 /dev/nst0\n  ferry mirror serialize registry.local:5000/gather:week49 week49.rest.tar --existing-from-archive week49.tar"
    )]
    Serialize(SerializeArgs),
    /// Copy each artifact of the gather index IMAGE to the destinations MAPPER gives it
    #[command(
        after_help = "Examples:\n  ferry mirror scatter registry.high:5000/incoming:week49 nest=registry.high:5000/mirror --check\n  ferry mirror scatter --report scatter.json registry.high:5000/incoming:week49 first-prefix=mapping.csv\n  ferry mirror scatter --retry-failed scatter.json registry.high:5000/incoming:week49 first-prefix=mapping.csv"
    )]
    Scatter(ScatterArgs),
    /// Copy each source of SOURCES-FILE straight to the destinations MAPPER gives it
    #[command(
        after_help = "Examples:\n  ferry mirror clone sources.list nest=registry.local:5000/mirror\n  ferry mirror clone --continue --report clone.json -p linux/amd64 sources.list all-prefix=mapping.csv"
    )]
    Clone(CloneArgs),
    /// Deserialize an archive into the local cache, then scatter it by MAPPER
    #[command(
        after_help = "Examples:\n  ferry mirror unarchive week49.tar nest=registry.high:5000/mirror\n  ferry mirror unarchive --check -o json week49.tar.zst first-prefix=mapping.csv"
    )]
    Unarchive(UnarchiveArgs),
    /// Serialize each named artifact of BATCH-LIST into SYNC-DIRECTORY, as a delta against what was sent under its name before
    #[command(after_help = "Examples:\n  ferry mirror batch-serialize batch.csv sync/ --compression zstd")]
    BatchSerialize(BatchSerializeArgs),
    /// Deserialize the archives of SYNC-DIRECTORY not loaded yet, each tagged DESTINATION:<name>
    #[command(after_help = "Examples:\n  ferry mirror batch-deserialize sync/ registry.high:5000/incoming")]
    BatchDeserialize(BatchDeserializeArgs),
    /// List the artifacts of the gather index MIRROR-ARTIFACT that no EXISTING-IMAGE carried
    #[command(
        after_help = "Examples:\n  ferry mirror diff registry.local:5000/gather:week49 registry.local:5000/gather:week48\n  ferry mirror diff -o csv=new.csv,table registry.local:5000/gather:week49"
    )]
    Diff(DiffArgs),
}

impl MirrorCommand {
    /// The subcommand's name, as typed.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            MirrorCommand::Gather(_) => "gather",
            MirrorCommand::Archive(_) => "archive",
            MirrorCommand::Deserialize(_) => "deserialize",
            MirrorCommand::Verify(_) => "verify",
            MirrorCommand::Join(_) => "join",
            MirrorCommand::Repair(_) => "repair",
            MirrorCommand::Receipt(_) => "receipt",
            MirrorCommand::Serialize(_) => "serialize",
            MirrorCommand::Scatter(_) => "scatter",
            MirrorCommand::Clone(_) => "clone",
            MirrorCommand::Unarchive(_) => "unarchive",
            MirrorCommand::BatchSerialize(_) => "batch-serialize",
            MirrorCommand::BatchDeserialize(_) => "batch-deserialize",
            MirrorCommand::Diff(_) => "diff",
        }
    }
}

#[derive(Args, Debug)]
pub(crate) struct BatchSerializeArgs {
    /// CSV rows NAME,ARTIFACT (an optional header row name,artifact)
    #[arg(value_name = "BATCH-LIST")]
    pub(crate) batch_list: PathBuf,
    /// Where the archives NNNNNN-NAME.tar[.zst|.gz] and the tracker file go (created when missing)
    #[arg(value_name = "SYNC-DIRECTORY")]
    pub(crate) sync_directory: PathBuf,
    /// The tracker file in SYNC-DIRECTORY
    #[arg(long = "tracker-filename", default_value = "record-keeping.csv", value_name = "NAME")]
    pub(crate) tracker_filename: String,
    /// Compress each archive
    #[arg(long, value_enum, value_name = "zstd|gzip")]
    pub(crate) compression: Option<CompressionArg>,
    /// Append a Docker-style manifest.json to each archive
    #[arg(long = "manifest-json")]
    pub(crate) manifest_json: bool,
    /// A tracker of your own (world tracker) instead of the built-in CSV one: COMPONENT.wasm, or an installed plugin's NAME
    #[arg(long, value_name = "COMPONENT")]
    pub(crate) tracker: Option<String>,
    /// Sign each archive as a delivery with this private key (FERRY_KEY_PASSPHRASE when encrypted)
    #[arg(long, value_name = "KEY")]
    pub(crate) sign: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) catalog: CatalogFlags,
    #[command(flatten)]
    pub(crate) volumes: VolumeFlags,
}

#[derive(Args, Debug)]
pub(crate) struct BatchDeserializeArgs {
    /// The directory of archives (and the tracker file)
    #[arg(value_name = "SYNC-DIRECTORY")]
    pub(crate) sync_directory: PathBuf,
    /// A repository without a tag: REGISTRY/REPOSITORY or oci:PATH
    #[arg(value_name = "DESTINATION")]
    pub(crate) destination: ImageRef,
    /// The tracker file in SYNC-DIRECTORY
    #[arg(long = "sync-filename", default_value = "successful-syncs.csv", value_name = "NAME")]
    pub(crate) sync_filename: String,
    /// A tracker of your own (world tracker) instead of the built-in CSV one: COMPONENT.wasm, or an installed plugin's NAME
    #[arg(long, value_name = "COMPONENT")]
    pub(crate) tracker: Option<String>,
    #[command(flatten)]
    pub(crate) receipt: ReceiptFlags,
}

/// `--receipt FILE [--sign KEY]` of the commands that load archives.
#[derive(Args, Debug)]
pub(crate) struct ReceiptFlags {
    /// Write a receipt of what was loaded and what the destination now holds of it, for the low side's catalog
    #[arg(long, value_name = "FILE")]
    pub(crate) receipt: Option<PathBuf>,
    /// Sign the receipt with this private key (the format plugin keygen writes; passphrase from FERRY_KEY_PASSPHRASE): FILE.sig
    #[arg(long = "sign", value_name = "KEY", requires = "receipt")]
    pub(crate) sign: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
pub(crate) enum CatalogCommand {
    /// Record what the high side confirmed: receipts from --receipt or `mirror receipt` (signed ones checked against receipts.trustedKeys)
    #[command(after_help = "Examples:\n  ferry catalog import week49.receipt.json\n  ferry catalog import returned/*.receipt.json -o json")]
    Import(CatalogImportArgs),
    /// List the archives written, each sent, partial or confirmed
    List(CatalogPrintArgs),
    /// Which archives hold a digest (or an image's digests, by source reference), at which offsets, and whether the high side confirmed it
    #[command(after_help = "Examples:\n  ferry catalog where sha256:1f3e…\n  ferry catalog where docker.io/library/alpine:3.20 -o json")]
    Where(CatalogWhereArgs),
    /// What was sent and never confirmed, by archive
    Gaps(CatalogPrintArgs),
}

#[derive(Args, Debug)]
pub(crate) struct CatalogImportArgs {
    /// Receipt files (JSON; FILE.sig beside a signed one)
    #[arg(value_name = "RECEIPT", required = true, num_args = 1..)]
    pub(crate) receipts: Vec<PathBuf>,
    #[command(flatten)]
    pub(crate) print: CatalogPrintArgs,
}

#[derive(Args, Debug)]
pub(crate) struct CatalogWhereArgs {
    /// A digest (sha256:…) or a source reference as the sources list named it
    #[arg(value_name = "DIGEST|REFERENCE")]
    pub(crate) what: String,
    #[command(flatten)]
    pub(crate) print: CatalogPrintArgs,
}

#[derive(Args, Debug)]
pub(crate) struct CatalogPrintArgs {
    /// text, or json (one document on standard output)
    #[arg(short = 'o', long = "output", value_enum, default_value = "text", value_name = "FORMAT")]
    pub(crate) output: PrintFormat,
}

#[derive(Args, Debug)]
pub(crate) struct ReceiptArgs {
    /// The images whose graphs to look up: REGISTRY/REPOSITORY:TAG|@DIGEST or oci:PATH[:TAG]
    #[arg(value_name = "IMAGE", required = true, num_args = 1..)]
    pub(crate) images: Vec<ImageRef>,
    /// Where to write the receipt
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub(crate) output: PathBuf,
    /// Sign the receipt with this private key (the format plugin keygen writes): FILE.sig
    #[arg(long = "sign", value_name = "KEY")]
    pub(crate) sign: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub(crate) struct DiffArgs {
    /// The gather index: REGISTRY/REPOSITORY[:TAG|@DIGEST] or oci:PATH[:TAG]
    #[arg(value_name = "MIRROR-ARTIFACT")]
    pub(crate) artifact: ImageRef,
    /// Images already delivered (usually earlier gather indexes): what they carried is left out
    #[arg(value_name = "EXISTING-IMAGE")]
    pub(crate) existing: Vec<ImageRef>,
    /// table, csv or json, each to standard output or, as TYPE=FILE, to FILE (truncated); repeatable, comma-separated
    #[arg(short = 'o', long = "output", value_name = "TYPE[=FILE]", value_delimiter = ',', default_value = "table", value_parser = parse_output)]
    pub(crate) outputs: Vec<Output>,
    /// List the images of nested gather indexes instead of the indexes themselves
    #[arg(long)]
    pub(crate) expand: bool,
}

/// Which artifacts a rule routes, and a dry run; shared by scatter, clone and unarchive.
#[derive(Args, Debug)]
pub(crate) struct RouteFlags {
    /// Print every destination of every artifact; copy nothing
    #[arg(long)]
    pub(crate) check: bool,
    /// Label selector: requirements joined by commas must all hold (a=b,c!=d, k in (x,y), !k); repeated -l are alternatives
    #[arg(short = 'l', long = "selector", value_name = "SELECTOR")]
    pub(crate) selectors: Vec<Selector>,
    /// Read sources lists with this sources-parser: COMPONENT.wasm, or an installed plugin's NAME
    #[arg(long = "sources-parser", value_name = "COMPONENT")]
    pub(crate) sources_parser: Option<String>,
    /// Accept selectors, --subset or platforms that keep nothing (otherwise an error)
    #[arg(long = "allow-empty")]
    pub(crate) allow_empty: bool,
    /// Place only artifacts with a cosign signature by this public key (PEM; repeatable), beside images.trustedKeys of the config
    #[arg(long = "require-signed-images", value_name = "KEYFILE")]
    pub(crate) require_signed_images: Vec<PathBuf>,
    /// Place only what this policy component allows: plugin=COMPONENT.wasm|NAME[,KEY=VALUE...], loaded under the plugin trust policy
    #[arg(long = "policy", value_name = "POLICY")]
    pub(crate) policy: Option<String>,
    /// How --check prints the plan: text, or json (one document on standard output)
    #[arg(short = 'o', long = "output", value_enum, default_value = "text", value_name = "FORMAT")]
    pub(crate) output: PrintFormat,
}

/// `-o` of --check and verify.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum PrintFormat {
    /// Lines for people
    Text,
    /// One JSON document
    Json,
}

#[derive(Args, Debug)]
pub(crate) struct ScatterArgs {
    /// The gather index: REGISTRY/REPOSITORY[:TAG|@DIGEST] or oci:PATH[:TAG]
    #[arg(value_name = "IMAGE")]
    pub(crate) image: ImageRef,
    /// The rule: nest=PREFIX, first-prefix=CSV, all-prefix=CSV, longest-prefix=CSV, digests=CSV, go-template=FILE, plugin=COMPONENT.wasm|NAME[,KEY=VALUE...]
    #[arg(value_name = "MAPPER")]
    pub(crate) mapper: String,
    /// Only the artifacts whose source is listed in this sources file
    #[arg(long, value_name = "SOURCES-FILE")]
    pub(crate) subset: Option<PathBuf>,
    /// Place only what the run that wrote REPORT (--report) did not: its failed and unattempted destinations
    #[arg(long = "retry-failed", value_name = "REPORT")]
    pub(crate) retry_failed: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) route: RouteFlags,
}

#[derive(Args, Debug)]
pub(crate) struct CloneArgs {
    /// Sources list: one reference per line, optional key=value labels after commas
    #[arg(value_name = "SOURCES-FILE")]
    pub(crate) sources: PathBuf,
    /// The rule (as for scatter)
    #[arg(value_name = "MAPPER")]
    pub(crate) mapper: String,
    /// Only these platforms: os/arch[/variant][:osversion], comma-separated or repeated; `all` keeps every platform
    #[arg(short = 'p', long = "platforms", value_name = "PLATFORM", value_delimiter = ',', value_parser = parse_platform)]
    pub(crate) platforms: Vec<PlatformArg>,
    /// Go on past failed sources and copies; list them at the end and exit 1 if there were any
    #[arg(long = "continue")]
    pub(crate) keep_going: bool,
    /// Copy only what the run that wrote REPORT (--report) did not: its failed sources and failed or unattempted destinations
    #[arg(long = "retry-failed", value_name = "REPORT")]
    pub(crate) retry_failed: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) route: RouteFlags,
}

#[derive(Args, Debug)]
pub(crate) struct UnarchiveArgs {
    /// The archive (plain, gzip or zstd), or - for standard input: ferry's, an OCI layout
    /// archive, or a docker archive, whose images are routed by their own names
    #[arg(value_name = "SOURCE-FILE")]
    pub(crate) source: String,
    /// The rule (as for scatter)
    #[arg(value_name = "MAPPER")]
    pub(crate) mapper: String,
    /// Only the artifacts whose source is listed in this sources file
    #[arg(long, value_name = "SOURCES-FILE")]
    pub(crate) subset: Option<PathBuf>,
    /// Enforce ace-dt's entry order
    #[arg(long)]
    pub(crate) strict: bool,
    /// Read buffer in bytes, e.g. 256k or 1MiB (at least a tape's block size); 0 means 1 MiB
    #[arg(long = "block-size", value_name = "BYTES", default_value = "0", value_parser = parse_buffer)]
    pub(crate) block_size: usize,
    /// The tag of the archive's root in the local cache
    #[arg(long, default_value = "latest", value_name = "NAME")]
    pub(crate) reference: String,
    /// The local OCI layout to deserialize into (default: the configured cache path)
    #[arg(long, value_name = "DIR")]
    pub(crate) cache: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) tape: TapeFlags,
    #[command(flatten)]
    pub(crate) receipt: ReceiptFlags,
    #[command(flatten)]
    pub(crate) route: RouteFlags,
}

#[derive(Args, Debug)]
pub(crate) struct ArchiveArgs {
    /// Sources list: one reference per line, optional key=value labels after commas
    #[arg(value_name = "SOURCES-FILE")]
    pub(crate) sources: std::path::PathBuf,
    /// The archive file (truncated), or - for standard output
    #[arg(value_name = "DEST-FILE")]
    pub(crate) dest: String,
    /// Images already delivered: their non-manifest blobs are left out
    #[arg(value_name = "EXISTING-IMAGE")]
    pub(crate) existing: Vec<ImageRef>,
    /// Name of the root in the archive's index.json (org.opencontainers.image.ref.name)
    #[arg(long, default_value = "latest", value_name = "NAME")]
    pub(crate) reference: String,
    /// The local OCI layout to gather into (default: the configured cache path)
    #[arg(long, value_name = "DIR")]
    pub(crate) cache: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub(crate) gather: GatherFlags,
    #[command(flatten)]
    pub(crate) serialize: SerializeFlags,
}

#[derive(Args, Debug)]
pub(crate) struct DeserializeArgs {
    /// The archive (plain, gzip or zstd; a file, a tape, or - for standard input): ferry's, an
    /// OCI layout archive, or a docker archive (docker save, podman save). Several: a partial
    /// archive and its continuations, in any order; the root is tagged once they make it whole
    #[arg(value_name = "SOURCE-FILE", required = true, num_args = 1..)]
    pub(crate) sources: Vec<String>,
    /// Where to put it: REGISTRY/REPOSITORY[:TAG] or oci:PATH[:TAG]; the root is tagged TAG
    /// (default latest). Without TAG, the images of another tool's archive keep their own tags
    /// (RepoTags, ref.name) in this repository
    #[arg(value_name = "IMAGE")]
    pub(crate) image: ImageRef,
    /// Enforce ace-dt's entry order
    #[arg(long)]
    pub(crate) strict: bool,
    /// Read and verify everything, write nothing
    #[arg(long = "dry-run")]
    pub(crate) dry_run: bool,
    /// Read buffer in bytes, e.g. 256k or 1MiB (at least a tape's block size); 0 means 1 MiB
    #[arg(long = "block-size", value_name = "BYTES", default_value = "0", value_parser = parse_buffer)]
    pub(crate) block_size: usize,
    #[command(flatten)]
    pub(crate) tape: TapeFlags,
    #[command(flatten)]
    pub(crate) receipt: ReceiptFlags,
}

#[derive(Args, Debug)]
pub(crate) struct VerifyArgs {
    /// The archive (plain, gzip or zstd), or - for standard input: ferry's, an OCI layout
    /// archive, or a docker archive (each layer checked against its diff_id)
    #[arg(value_name = "ARCHIVE", required = true, num_args = 1..)]
    pub(crate) archives: Vec<String>,
    /// The archive must carry every blob it references (made without EXISTING-IMAGE or checkpoints)
    #[arg(long)]
    pub(crate) complete: bool,
    /// The delivery must be signed by this public key (PEM; repeatable: any of them)
    #[arg(long = "key", value_name = "PUB")]
    pub(crate) keys: Vec<PathBuf>,
    /// text, or json (one document on standard output)
    #[arg(short = 'o', long = "output", value_enum, default_value = "text", value_name = "FORMAT")]
    pub(crate) output: PrintFormat,
    #[command(flatten)]
    pub(crate) tape: TapeFlags,
}

#[derive(Args, Debug)]
pub(crate) struct SerializeArgs {
    /// What to serialize (usually a gather index): REGISTRY/REPOSITORY[:TAG|@DIGEST] or oci:PATH[:TAG]
    #[arg(value_name = "IMAGE")]
    pub(crate) image: ImageRef,
    /// The archive file (truncated), or - for standard output
    #[arg(value_name = "DEST")]
    pub(crate) dest: String,
    /// Images already delivered: their non-manifest blobs are left out
    #[arg(value_name = "EXISTING-IMAGE")]
    pub(crate) existing: Vec<ImageRef>,
    #[command(flatten)]
    pub(crate) flags: SerializeFlags,
}

/// How an archive is written; shared by `serialize` and `archive`.
#[derive(Args, Debug)]
pub(crate) struct SerializeFlags {
    /// Write a checkpoint ledger (JSON lines with byte offsets) to FILE
    #[arg(long, value_name = "FILE")]
    pub(crate) checkpoint: Option<std::path::PathBuf>,
    /// Compress the whole stream
    #[arg(long, value_enum, value_name = "zstd|gzip")]
    pub(crate) compression: Option<CompressionArg>,
    /// Leave out blobs a previous run's ledger records below OFFSET: FILE:OFFSET (repeatable, comma-separated)
    #[arg(long = "existing-from-checkpoint", value_name = "FILE:OFFSET", value_delimiter = ',', value_parser = parse_checkpoint)]
    pub(crate) existing_from_checkpoint: Vec<(PathBuf, u64)>,
    /// Leave out every blob a partial archive of an earlier run holds whole and intact (a file or a tape; plain, gzip or zstd; cut anywhere), or a media set (a volume, a directory of volumes, or its DEST; finished, or the whole volumes of an unfinished one). Repeatable
    #[arg(long = "existing-from-archive", value_name = "PATH")]
    pub(crate) existing_from_archive: Vec<std::path::PathBuf>,
    /// Append a Docker-style manifest.json (one entry per source image) after the final index.json
    #[arg(long = "manifest-json")]
    pub(crate) manifest_json: bool,
    /// Overwrite DEST even when it is an existing file that is not an archive (tar, gzip or zstd)
    #[arg(long)]
    pub(crate) force: bool,
    /// Sign the delivery with this private key (as `plugin keygen` writes it; FERRY_KEY_PASSPHRASE when encrypted): a cosign signature of the root, ahead of every blob
    #[arg(long, value_name = "KEY")]
    pub(crate) sign: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) catalog: CatalogFlags,
    #[command(flatten)]
    pub(crate) volumes: VolumeFlags,
    #[command(flatten)]
    pub(crate) tape: TapeFlags,
    #[command(flatten)]
    pub(crate) block: BlockFlags,
}

/// `--volume-size` and `--parity`; shared by `serialize`, `archive` and `batch-serialize`.
#[derive(Args, Debug, Clone)]
pub(crate) struct VolumeFlags {
    /// Write a media set: volumes DEST.001, DEST.002, … (batch-serialize: NNNNNN-NAME.tar.001, …) of at most SIZE bytes each (e.g. 4480M for a DVD, 100MiB), each with a header naming its set
    #[arg(long = "volume-size", value_name = "SIZE", value_parser = parse_size)]
    pub(crate) volume_size: Option<u64>,
    /// With --volume-size, N parity volumes DEST.p01, …: any N lost or damaged volumes of the set can be rebuilt
    #[arg(long, value_name = "N", default_value_t = 0, requires = "volume_size")]
    pub(crate) parity: u32,
}

impl VolumeFlags {
    /// The set the flags ask for, if any.
    pub(crate) fn spec(&self) -> Option<ferry_volumes::SetSpec> {
        self.volume_size.map(|volume_size| ferry_volumes::SetSpec { volume_size, parity: self.parity })
    }
}

/// `--next-volume` and `--staging-dir`: a media set on tapes, one volume per tape; shared by
/// the commands that write or read archives.
#[derive(Args, Debug, Clone, Default)]
pub(crate) struct TapeFlags {
    /// A media set on tapes: run CMD (with sh) to load the next tape, e.g. an autoloader command; FERRY_DEVICE, FERRY_VOLUME (3, p1), FERRY_VOLUME_KIND (data|parity), FERRY_VOLUME_INDEX and FERRY_OPERATION (write|read) say which; reading, a non-zero exit means that volume is lost. Without it, ferry asks on the terminal
    #[arg(long = "next-volume", value_name = "CMD")]
    pub(crate) next_volume: Option<String>,
    /// A media set on tapes is staged here, a volume at a time (the whole set with parity, or when read back); default: the temporary directory
    #[arg(long = "staging-dir", value_name = "DIR")]
    pub(crate) staging: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub(crate) struct JoinArgs {
    /// The set's volumes, in any order (data and parity), or directories holding them
    #[arg(value_name = "VOLUME", required = true, num_args = 1..)]
    pub(crate) volumes: Vec<PathBuf>,
    /// The plain archive to write
    #[arg(short = 'o', long = "output", value_name = "FILE", required = true)]
    pub(crate) output: PathBuf,
    /// Overwrite FILE even when it exists
    #[arg(long)]
    pub(crate) force: bool,
    #[command(flatten)]
    pub(crate) tape: TapeFlags,
}

#[derive(Args, Debug)]
pub(crate) struct RepairArgs {
    /// The set's volumes, in any order (data and parity), or directories holding them
    #[arg(value_name = "VOLUME", required = true, num_args = 1..)]
    pub(crate) volumes: Vec<PathBuf>,
    /// Where to write the rebuilt volumes
    #[arg(short = 'o', long = "output", value_name = "DIR", required = true)]
    pub(crate) dir: PathBuf,
    #[command(flatten)]
    pub(crate) tape: TapeFlags,
}

/// `--catalog` and `--resend-after`; shared by `serialize`, `archive` and `batch-serialize`.
#[derive(Args, Debug, Clone)]
pub(crate) struct CatalogFlags {
    /// Plan against the delivery catalog: leave out every blob the high side confirmed (under any name) or an archive on its way carries
    #[arg(long)]
    pub(crate) catalog: bool,
    /// With --catalog, send again a blob sent and never confirmed once its archive is this old (or a newer receipt lacks it): 14d, 36h, …
    #[arg(long = "resend-after", value_name = "DURATION", default_value = "14d", value_parser = humantime::parse_duration, requires = "catalog")]
    pub(crate) resend_after: std::time::Duration,
}

#[derive(Args, Debug)]
pub(crate) struct GatherArgs {
    /// Sources list: one reference per line, optional key=value labels after commas
    #[arg(value_name = "SOURCES-FILE")]
    pub(crate) sources: PathBuf,
    /// Where to push: REGISTRY/REPOSITORY[:TAG] or oci:PATH[:TAG]
    #[arg(value_name = "IMAGE")]
    pub(crate) image: ImageRef,
    #[command(flatten)]
    pub(crate) flags: GatherFlags,
}

/// What shapes a gather index; shared by `gather` and `archive`.
#[derive(Args, Debug)]
pub(crate) struct GatherFlags {
    /// Extra annotations on the gather index: k=v[,k=v...] (repeatable)
    #[arg(short = 'a', long = "annotations", value_name = "K=V,...", value_delimiter = ',', value_parser = parse_annotation)]
    pub(crate) annotations: Vec<(String, String)>,
    /// Put index children in the vnd.act3-ace.data.extra-manifests annotation (registries without nested indexes)
    #[arg(long = "index-fallback")]
    pub(crate) index_fallback: bool,
    /// Only gather these platforms: os/arch[/variant][:osversion], comma-separated or repeated; `all` keeps every platform
    #[arg(short = 'p', long = "platforms", value_name = "PLATFORM", value_delimiter = ',', value_parser = parse_platform)]
    pub(crate) platforms: Vec<PlatformArg>,
    /// Read the sources list with this sources-parser: COMPONENT.wasm, or an installed plugin's NAME
    #[arg(long = "sources-parser", value_name = "COMPONENT")]
    pub(crate) sources_parser: Option<String>,
    /// Leave out, with a warning, a source of which -p keeps nothing (otherwise an error)
    #[arg(long = "allow-empty")]
    pub(crate) allow_empty: bool,
    /// Gather only if this policy component allows every artifact: plugin=COMPONENT.wasm|NAME[,KEY=VALUE...], loaded under the plugin trust policy
    #[arg(long = "policy", value_name = "POLICY")]
    pub(crate) policy: Option<String>,
}

#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  echo \"$PASSWORD\" | ferry login registry.lab:5000 -u mirror-bot --password-stdin\n  ferry logout registry.lab:5000\n\nWrites $DOCKER_CONFIG/config.json (~/.docker/config.json), or registryAuthFile when the config file sets one, or the credential helper that file names for the registry."
)]
pub(crate) struct LoginArgs {
    /// The registry: host[:port]
    #[arg(value_name = "REGISTRY", default_value = "docker.io")]
    pub(crate) registry: String,
    /// User name
    #[arg(short = 'u', long)]
    pub(crate) username: String,
    /// Password (visible to other users of the machine: prefer --password-stdin)
    #[arg(short = 'p', long, conflicts_with = "password_stdin")]
    pub(crate) password: Option<String>,
    /// Read the password from standard input
    #[arg(long = "password-stdin")]
    pub(crate) password_stdin: bool,
}

#[derive(Args, Debug)]
pub(crate) struct LogoutArgs {
    /// The registry: host[:port]
    #[arg(value_name = "REGISTRY", default_value = "docker.io")]
    pub(crate) registry: String,
}

#[derive(Args, Debug)]
pub(crate) struct ConfigArgs {
    /// Print a commented sample instead of the effective configuration
    #[arg(short = 's', long)]
    pub(crate) sample: bool,
}
