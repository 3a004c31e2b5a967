//! `ferry catalog import|list|where|gaps`, and the delivery catalog as serialize, archive and
//! batch-serialize use it: every archive recorded, and with `--catalog` planned against it.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use ferry_catalog::{ArchiveStatus, Catalog, Location};
use ferry_config::CatalogSetting;
use ferry_engine::catalog::Planning;
use ferry_engine::receipt::{self, Receipt};
use ferry_engine::serialize::{ArchiveDest, CatalogTally, SerializeOutcome};
use ferry_oci::Digest;
use serde_json::json;

use crate::args::{CatalogCommand, CatalogFlags, CatalogImportArgs, CatalogWhereArgs, PrintFormat};
use crate::exit::BadInput;
use crate::session::Session;
use crate::stdout::outln;

/// The catalog's part in one delivery: where archives are recorded, and the planning that
/// `--catalog` asks for.
pub(crate) struct Delivery {
    /// Records each archive written (`None`: the catalog could not be opened; warned).
    pub(crate) record: Option<Arc<Catalog>>,
    /// Plans against it (`--catalog`).
    pub(crate) planning: Option<Arc<Planning>>,
}

impl Delivery {
    /// Opens the catalog before any work. With `--catalog` a catalog that cannot be opened
    /// is an error; without it the delivery goes ahead unrecorded, with a warning.
    pub(crate) async fn open(session: &Session, flags: &CatalogFlags) -> anyhow::Result<Delivery> {
        if flags.catalog {
            let catalog = Arc::new(open(session).await?);
            let planning = Planning::new(Arc::clone(&catalog), flags.resend_after).await?;
            return Ok(Delivery { record: Some(catalog), planning: Some(Arc::new(planning)) });
        }
        match open(session).await {
            Ok(catalog) => Ok(Delivery { record: Some(Arc::new(catalog)), planning: None }),
            Err(e) => {
                eprintln!("warning: {}; the archive is not recorded in the delivery catalog", crate::exit::render(&e));
                Ok(Delivery { record: None, planning: None })
            }
        }
    }

    /// Records the archive written to `dest`, reporting the outcome as events.
    pub(crate) async fn record(
        &self,
        output: &Arc<crate::output::Output>,
        dest: &ArchiveDest,
        outcome: &SerializeOutcome,
        compression: Option<ferry_archive::Compression>,
    ) {
        let Some(catalog) = &self.record else { return };
        let location = match dest.path() {
            Some(p) => std::path::absolute(p).unwrap_or_else(|_| p.to_owned()).display().to_string(),
            None => "-".to_owned(),
        };
        ferry_engine::catalog::record_or_warn(catalog, outcome, &location, compression, &output.events()).await;
    }
}

/// `; catalog: …` after a serialize's summary, when `--catalog` planned it.
pub(crate) fn summary(outcome: &SerializeOutcome, planned: bool) -> String {
    tally(&outcome.catalog, planned)
}

/// `; catalog: …` for what `--catalog` did, when it planned.
pub(crate) fn tally(t: &CatalogTally, planned: bool) -> String {
    if !planned {
        return String::new();
    }
    format!(
        "; catalog: {} blobs ({}) left out as confirmed, {} on their way, {} sent again",
        t.confirmed,
        crate::output::bytes(t.confirmed_bytes),
        t.on_its_way,
        t.resent
    )
}

/// The configured catalog, opened (and its schema brought up to date).
async fn open(session: &Session) -> anyhow::Result<Catalog> {
    let location = match session.config().catalog()? {
        Some(CatalogSetting::File(path)) => Location::Sqlite(path),
        Some(CatalogSetting::Url(url)) => Location::Postgres(url),
        None => {
            return Err(BadInput(
                "no delivery catalog: set catalog.path or catalog.url in the config file, or XDG_DATA_HOME; this user has no home directory"
                    .to_owned(),
            )
            .into());
        }
    };
    Ok(Catalog::open(&location).await?)
}

pub(crate) async fn run(session: &Session, command: CatalogCommand) -> anyhow::Result<()> {
    match command {
        CatalogCommand::Import(args) => import(session, args).await,
        CatalogCommand::List(args) => {
            let catalog = open(session).await?;
            let archives = catalog.list().await?;
            catalog.close().await;
            match args.output {
                PrintFormat::Json => outln!("{}", json!({ "archives": archives.iter().map(archive_json).collect::<Vec<_>>() })),
                PrintFormat::Text => outln!("{}", archives_table(&archives).trim_end()),
            }
            Ok(())
        }
        CatalogCommand::Where(args) => where_is(session, args).await,
        CatalogCommand::Gaps(args) => {
            let catalog = open(session).await?;
            let gaps = catalog.gaps().await?;
            catalog.close().await;
            match args.output {
                PrintFormat::Json => {
                    let gaps: Vec<_> = gaps
                        .iter()
                        .map(|g| {
                            let mut a = archive_json(&g.archive);
                            a["unconfirmed"] = json!(g.unconfirmed.iter().map(ToString::to_string).collect::<Vec<_>>());
                            a
                        })
                        .collect();
                    outln!("{}", json!({ "gaps": gaps }));
                }
                PrintFormat::Text if gaps.is_empty() => outln!("No gaps: the high side confirmed every archive written"),
                PrintFormat::Text => {
                    for g in &gaps {
                        let a = &g.archive;
                        outln!(
                            "{} ({}, written {}): {} of {} blobs not confirmed ({})",
                            a.id,
                            a.location,
                            a.written,
                            g.unconfirmed.len(),
                            a.blobs,
                            a.status.as_str()
                        );
                    }
                }
            }
            Ok(())
        }
    }
}

/// A receipt read and checked, ready to import.
struct Checked {
    path: PathBuf,
    id: String,
    receipt: Receipt,
    signer: Option<String>,
}

/// Reads and checks every receipt before importing any, so a bad one changes nothing.
async fn import(session: &Session, args: CatalogImportArgs) -> anyhow::Result<()> {
    let policy = session.config().receipts();
    let policy_file = policy.policy_file.as_ref().map_or_else(|| "(no config file)".to_owned(), |p| p.display().to_string());
    let what = format!("receipts.trustedKeys in {policy_file}");
    let keys = policy.trusted_keys.iter().map(|path| super::bundle::public_key(&what, path)).collect::<anyhow::Result<Vec<_>>>()?;
    let mut checked = Vec::new();
    for path in &args.receipts {
        let (receipt, bytes) = receipt::read(path).map_err(crate::exit::bad_input(format!("RECEIPT {}", path.display())))?;
        let signed = receipt::signature_path(path).exists();
        let signer = if policy.require_signed || (signed && !keys.is_empty()) {
            match receipt::check_signature(path, &bytes, &keys) {
                Ok(fingerprint) => Some(fingerprint),
                Err(why) => {
                    anyhow::bail!("receipt {} refused by the receipt policy ({policy_file}): {why}; nothing imported", path.display())
                }
            }
        } else {
            None
        };
        checked.push(Checked { path: path.clone(), id: Digest::sha256(&bytes).hex().to_owned(), receipt, signer });
    }
    let catalog = open(session).await?;
    let mut results = Vec::new();
    for c in &checked {
        let loaded: Vec<ferry_catalog::Loaded> = c
            .receipt
            .archives
            .iter()
            .filter_map(|a| {
                Some(ferry_catalog::Loaded {
                    root: a.root.clone()?,
                    file: a.file.clone(),
                    loaded: a.loaded.clone(),
                    destination: a.destination.clone(),
                    complete: a.complete,
                })
            })
            .collect();
        let outcome = catalog
            .import(&c.id, &c.receipt.created, c.signer.as_deref(), &loaded, &c.receipt.present)
            .await
            .with_context(|| format!("importing {}", c.path.display()))?;
        results.push((c, outcome));
    }
    catalog.close().await;
    match args.print.output {
        PrintFormat::Json => {
            let rows: Vec<_> = results
                .iter()
                .map(|(c, o)| {
                    json!({
                        "receipt": c.path.display().to_string(),
                        "id": c.id,
                        "signer": c.signer,
                        "alreadyImported": o.already,
                        "archivesLoaded": o.loaded,
                        "present": c.receipt.present.len(),
                        "newlyConfirmed": o.newly_confirmed,
                    })
                })
                .collect();
            outln!("{}", json!({ "imported": rows }));
        }
        PrintFormat::Text => {
            for (c, o) in &results {
                let signed = c.signer.as_ref().map(|s| format!(", signed by {s}")).unwrap_or_default();
                if o.already {
                    outln!("{}: imported before; nothing changed", c.path.display());
                } else {
                    outln!(
                        "Imported {}{signed}: {} archives loaded, {} digests present, {} newly confirmed",
                        c.path.display(),
                        o.loaded,
                        c.receipt.present.len(),
                        o.newly_confirmed
                    );
                }
            }
        }
    }
    Ok(())
}

async fn where_is(session: &Session, args: CatalogWhereArgs) -> anyhow::Result<()> {
    let catalog = open(session).await?;
    let digests = match args.what.parse::<Digest>() {
        Ok(d) => vec![d],
        Err(_) => catalog.image_digests(&args.what).await?,
    };
    let mut holdings = Vec::new();
    for d in &digests {
        holdings.extend(catalog.holdings(d).await?);
    }
    catalog.close().await;
    match args.print.output {
        PrintFormat::Json => {
            let rows: Vec<_> = holdings
                .iter()
                .map(|h| {
                    json!({
                        "digest": h.digest.to_string(),
                        "archive": h.archive,
                        "location": h.location,
                        "volume": h.volume,
                        "last_volume": h.last_volume,
                        "volumes": h.volumes,
                        "offset": h.offset,
                        "size": h.size,
                        "confirmed": h.confirmed,
                    })
                })
                .collect();
            outln!("{}", json!({ "query": args.what, "holdings": rows }));
        }
        PrintFormat::Text if holdings.is_empty() => {
            outln!("No archive in the catalog holds {}", ferry_oci::quote::quoted_max(args.what.as_bytes(), 200));
        }
        PrintFormat::Text => {
            for h in &holdings {
                let confirmed = if h.confirmed { "confirmed by the high side" } else { "not confirmed" };
                // A media set: the volume files (DEST.003) or tapes its bytes are on.
                let volume = match (h.volume, h.last_volume) {
                    _ if h.volumes <= 1 => format!("volume {}", h.volume),
                    (first, last) if first == last => format!("volume {first} of {}", h.volumes),
                    (first, last) => format!("volumes {first} to {last} of {}", h.volumes),
                };
                outln!(
                    "{} in {} ({}, {volume}) at offset {}, {}; {confirmed}",
                    h.digest,
                    h.archive,
                    h.location,
                    h.offset,
                    crate::output::bytes(h.size)
                );
            }
        }
    }
    Ok(())
}

fn archive_json(a: &ArchiveStatus) -> serde_json::Value {
    json!({
        "id": a.id,
        "root": a.root.to_string(),
        "location": a.location,
        "volume": a.volume,
        "written": a.written,
        "blobs": a.blobs,
        "bytes": a.bytes,
        "confirmed": a.confirmed,
        "status": a.status.as_str(),
    })
}

/// For people: aligned columns; not a stable format (`-o json` is).
fn archives_table(archives: &[ArchiveStatus]) -> String {
    let rows: Vec<[String; 6]> = archives
        .iter()
        .map(|a| {
            [
                a.id.clone(),
                a.status.as_str().to_owned(),
                format!("{}/{}", a.confirmed, a.blobs),
                crate::output::bytes(a.bytes),
                a.written.clone(),
                a.location.clone(),
            ]
        })
        .collect();
    let header = ["RUN", "STATUS", "CONFIRMED", "SIZE", "WRITTEN", "ARCHIVE"].map(str::to_owned);
    let mut widths = header.clone().map(|h| h.len());
    for r in &rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for r in std::iter::once(&header).chain(&rows) {
        let cells: Vec<String> = r.iter().zip(widths).map(|(c, w)| format!("{c:<w$}")).collect();
        out += cells.join("  ").trim_end();
        out.push('\n');
    }
    out
}
