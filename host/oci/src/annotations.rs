//! Annotation keys shared with ace-dt (spec §4), and ferry's own.

/// The source reference of a gather index child, verbatim from the sources list.
pub const SOURCE: &str = "vnd.act3-ace.manifest.source";
/// OCI reference name.
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";
/// Labels of a gather index child, as compact JSON with sorted keys.
pub const LABELS: &str = "data.act3-ace.io/labels";
/// The raw bytes of the source index a platform-filtered child came from.
pub const SOURCE_INDEX: &str = "data.act3-ace.io/source-index";
/// The version of the tool that wrote a gather index or archive.
pub const VERSION: &str = "vnd.act3-ace.data.version";
/// Sum of all non-manifest blob sizes, duplicates counted each time.
pub const SIZE_TOTAL: &str = "vnd.act3-ace.data.layer.size.total";
/// Sum of all non-manifest blob sizes, each digest counted once.
pub const SIZE_DEDUPLICATED: &str = "vnd.act3-ace.data.layer.size.deduplicated";
/// Index children moved out of `manifests` by `--index-fallback`.
pub const EXTRA_MANIFESTS: &str = "vnd.act3-ace.data.extra-manifests";
/// ferry's: on an archive's final `index.json` entry for a cosign tag attachment (a `.sig`,
/// `.att` or `.sbom` manifest of another manifest in the archive), the tag it is loaded under.
/// Readers that do not know it (ace-dt) load the manifest untagged.
pub const COSIGN_TAG: &str = "vnd.ferry.cosign.tag";
/// ferry's: on the entry of a delivery's signature in an archive's first `index.json` (a
/// cosign signature manifest of the root, with ferry's delivery claim), the fingerprint of the
/// key that made it. Readers that do not know it load the signature as a referrer of the root.
pub const DELIVERY_SIGNATURE: &str = "vnd.ferry.delivery.signature";
