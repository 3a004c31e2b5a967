//! Receipts: what the high side holds, carried back to the low side. A receipt names each
//! archive loaded (root, file, signer, when, where, whether it completed) and the digest of
//! every manifest and blob of their graphs found at the destination, so the low side can plan
//! the next delivery from what really arrived (`docs/catalog.md`).
//!
//! A receipt is JSON (`schemaVersion` 1), written whole or not at all; `--sign KEY` writes a
//! detached signature beside it (`FILE.sig`: base64 of an ECDSA P-256 signature over the
//! file's bytes, as `cosign sign-blob` writes one).

use std::collections::{BTreeSet, HashSet};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use ferry_oci::{Descriptor, Digest, ImageRef};
use ferry_registry::Client;
use futures_util::StreamExt as _;
use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::store::{Access, Store, open_store};

/// The receipt schema this ferry writes and the largest it reads.
pub const SCHEMA_VERSION: u32 = 1;
/// What `kind` says.
pub const KIND: &str = "ferry.receipt";
/// A receipt larger than this is not read (2,000 images make well under 2 MiB).
pub const MAX_RECEIPT_BYTES: u64 = 256 << 20;

/// A receipt document.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Receipt {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// [`KIND`].
    pub kind: String,
    /// The ferry that wrote it.
    pub ferry_version: String,
    /// When, RFC 3339 UTC.
    pub created: String,
    /// Each archive loaded (empty for `ferry mirror receipt`, which reads a registry).
    pub archives: Vec<ArchiveReceipt>,
    /// Each image whose graph was looked at, and where.
    pub images: Vec<ImageReceipt>,
    /// Every manifest and blob digest found at the destinations, sorted, each once.
    pub present: BTreeSet<Digest>,
}

/// One archive loaded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ArchiveReceipt {
    /// The archive's file name (no directory).
    pub file: String,
    /// Its root (the gather index), when it was read that far.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root: Option<Digest>,
    /// The delivery's signer (key fingerprint), when the delivery policy checked it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signer: Option<String>,
    /// When it was loaded, RFC 3339 UTC.
    pub loaded: String,
    /// Where its root was tagged (or was to be).
    pub destination: String,
    /// Whether its whole graph is at the destination and tagged.
    pub complete: bool,
}

/// One image looked at.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ImageReceipt {
    /// The reference it was found under.
    pub reference: String,
    /// Its digest.
    pub digest: Digest,
    /// Whether its whole graph is there.
    pub complete: bool,
    /// Digests of its graph that are not there.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<Digest>,
}

impl Receipt {
    /// An empty receipt made now.
    pub fn new() -> Receipt {
        Receipt {
            schema_version: SCHEMA_VERSION,
            kind: KIND.to_owned(),
            ferry_version: env!("CARGO_PKG_VERSION").to_owned(),
            created: now(),
            archives: Vec::new(),
            images: Vec::new(),
            present: BTreeSet::new(),
        }
    }
}

impl Default for Receipt {
    fn default() -> Self {
        Receipt::new()
    }
}

/// The time now, as receipts write it.
pub fn now() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

/// What of `root`'s graph `store` holds: the digests present and those missing. Manifests are
/// read once each; blobs are checked `concurrency` at a time.
pub async fn graph(store: &dyn Store, root: &Descriptor, concurrency: usize) -> Result<(BTreeSet<Digest>, Vec<Digest>), Error> {
    let mut present = BTreeSet::new();
    let mut missing = Vec::new();
    let mut blobs: Vec<Descriptor> = Vec::new();
    let mut seen: HashSet<Digest> = HashSet::new();
    let mut queue = vec![(root.clone(), 0usize)];
    while let Some((desc, depth)) = queue.pop() {
        if !seen.insert(desc.digest.clone()) {
            continue;
        }
        if depth > ferry_oci::MAX_GRAPH_DEPTH {
            return Err(Error::TooDeep { digest: desc.digest.to_string() });
        }
        if !desc.is_manifest() {
            blobs.push(desc);
            continue;
        }
        if !store.manifest_exists(&desc).await? {
            missing.push(desc.digest.clone());
            continue;
        }
        let manifest = store.fetch_manifest(&desc).await?;
        present.insert(desc.digest.clone());
        queue.extend(manifest.successors().into_iter().map(|c| (c, depth + 1)));
    }
    let checks = blobs.iter().map(|b| async move { store.blob_exists(b).await.map(|there| (b.digest.clone(), there)) });
    let results: Vec<Result<(Digest, bool), Error>> =
        futures_util::stream::iter(checks).buffer_unordered(concurrency.max(1)).collect().await;
    for result in results {
        let (digest, there) = result?;
        if there {
            present.insert(digest);
        } else {
            missing.push(digest);
        }
    }
    missing.sort();
    Ok((present, missing))
}

/// A receipt of `archives` and of what the destinations hold of `images`: each image is
/// resolved and its graph looked up at its destination.
pub async fn collect(client: &Client, archives: Vec<ArchiveReceipt>, images: &[ImageRef]) -> Result<Receipt, Error> {
    let mut receipt = Receipt::new();
    receipt.archives = archives;
    let concurrency = client.config().concurrent_http();
    for image in images {
        let store = open_store(client, image, Access::Read)?;
        let root = store
            .resolve(&image.reference_or_default())
            .await
            .map_err(|e| Error::Resolve { reference: image.to_string(), source: Box::new(e) })?;
        let (present, missing) = graph(store.as_ref(), &root, concurrency).await?;
        receipt.present.extend(present);
        receipt.images.push(ImageReceipt { reference: image.to_string(), digest: root.digest, complete: missing.is_empty(), missing });
    }
    Ok(receipt)
}

/// Why a receipt cannot be written or read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReceiptError {
    /// Reading or writing the file.
    #[error("receipt {}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Not a receipt, or not one this ferry reads.
    #[error("receipt {}: {message}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// Writes `receipt` to `path` (whole or not at all), and with `key` its detached signature
/// to `path.sig`.
pub fn write(path: &Path, receipt: &Receipt, key: Option<&ferry_sign::PrivateKey>) -> Result<(), ReceiptError> {
    let mut bytes = serde_json::to_vec_pretty(receipt).map_err(|e| ReceiptError::Io { path: path.to_owned(), source: e.into() })?;
    bytes.push(b'\n');
    if let Some(key) = key {
        let signature = key.sign(&bytes);
        write_whole(&signature_path(path), format!("{signature}\n").as_bytes())?;
    }
    write_whole(path, &bytes)
}

fn write_whole(path: &Path, bytes: &[u8]) -> Result<(), ReceiptError> {
    let io = |source| ReceiptError::Io { path: path.to_owned(), source };
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new().prefix(".ferry-receipt").tempfile_in(dir).map_err(io)?;
    tmp.write_all(bytes).map_err(io)?;
    tmp.as_file().sync_all().map_err(io)?;
    tmp.persist(path).map_err(|e| io(e.error))?;
    Ok(())
}

/// Where a receipt's detached signature is: `FILE.sig`.
pub fn signature_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".sig");
    PathBuf::from(name)
}

/// Reads the receipt at `path`, with its bytes (for a signature check).
pub fn read(path: &Path) -> Result<(Receipt, Vec<u8>), ReceiptError> {
    let io = |source| ReceiptError::Io { path: path.to_owned(), source };
    let file = std::fs::File::open(path).map_err(io)?;
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut std::io::Read::take(file, MAX_RECEIPT_BYTES + 1), &mut bytes).map_err(io)?;
    Ok((parse(&bytes, path)?, bytes))
}

/// A receipt from its bytes (`path` names it in errors): JSON of this ferry's schema or an
/// older one, no larger than [`MAX_RECEIPT_BYTES`].
pub fn parse(bytes: &[u8], path: &Path) -> Result<Receipt, ReceiptError> {
    let invalid = |message: String| ReceiptError::Invalid { path: path.to_owned(), message };
    if bytes.len() as u64 > MAX_RECEIPT_BYTES {
        return Err(invalid(format!("larger than {} MiB", MAX_RECEIPT_BYTES >> 20)));
    }
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| invalid(format!("not JSON: {e}")))?;
    if value.get("kind").and_then(serde_json::Value::as_str) != Some(KIND) {
        return Err(invalid(format!("not a ferry receipt (no \"kind\": \"{KIND}\")")));
    }
    match value.get("schemaVersion").and_then(serde_json::Value::as_u64) {
        Some(v) if v <= u64::from(SCHEMA_VERSION) => {}
        Some(v) => return Err(invalid(format!("schemaVersion {v}; this ferry reads up to {SCHEMA_VERSION}"))),
        None => return Err(invalid("no schemaVersion".to_owned())),
    }
    let receipt: Receipt = serde_json::from_value(value).map_err(|e| invalid(e.to_string()))?;
    // The catalog orders receipts by this time: it must be one.
    if humantime::parse_rfc3339_weak(&receipt.created).is_err() {
        return Err(invalid(format!("created {} is not an RFC 3339 time", ferry_oci::quote::quoted(receipt.created.as_bytes()))));
    }
    Ok(receipt)
}

/// The fingerprint of the key among `keys` whose signature in `path.sig` verifies `bytes`,
/// or why none does.
pub fn check_signature(path: &Path, bytes: &[u8], keys: &[ferry_sign::PublicKey]) -> Result<String, String> {
    let sig_path = signature_path(path);
    let signature = match std::fs::read_to_string(&sig_path) {
        Ok(text) => text.trim().to_owned(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(format!("not signed (no {})", sig_path.display())),
        Err(e) => return Err(format!("{}: {e}", sig_path.display())),
    };
    keys.iter()
        .find(|k| k.verifies(bytes, &signature))
        .map(|k| k.fingerprint().to_owned())
        .ok_or_else(|| format!("{}: no signature by a trusted key", sig_path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED: &[u8] = include_bytes!("../../../fuzz/seeds/receipt/loaded.json");

    #[test]
    fn the_seed_receipt_reads_back_and_writes_the_same() {
        let receipt = parse(SEED, Path::new("r.json")).expect("parse");
        assert_eq!(receipt.archives.len(), 1);
        assert_eq!(receipt.present.len(), 4);
        let again = parse(&serde_json::to_vec(&receipt).expect("json"), Path::new("r.json")).expect("parse");
        assert_eq!(again, receipt);
    }

    #[test]
    fn a_later_schema_or_another_kind_is_refused_by_name() {
        let later = String::from_utf8_lossy(SEED).replace("\"schemaVersion\": 1", "\"schemaVersion\": 2");
        let e = parse(later.as_bytes(), Path::new("r.json")).unwrap_err().to_string();
        assert_eq!(e, "receipt r.json: schemaVersion 2; this ferry reads up to 1");
        let report = br#"{"schemaVersion": 1, "command": "mirror scatter"}"#;
        assert!(parse(report, Path::new("r.json")).unwrap_err().to_string().contains("not a ferry receipt"));
    }

    proptest::proptest! {
        /// A receipt cut anywhere or with any byte changed reads back as an error or as a
        /// receipt, never a panic; every digest it holds is a valid one.
        #[test]
        fn damaged_receipts_never_panic(cut in 0usize..4096, at in 0usize..4096, byte in proptest::prelude::any::<u8>()) {
            let mut bytes = SEED.to_vec();
            let at = at % bytes.len();
            bytes[at] = byte;
            bytes.truncate(cut.min(bytes.len()));
            if let Ok(receipt) = parse(&bytes, Path::new("r.json")) {
                proptest::prop_assert!(receipt.present.iter().all(|d| d.to_string().starts_with("sha256:")));
            }
        }
    }
}
