//! `ferry mirror receipt IMAGE… -o FILE`, and the `--receipt FILE` of the commands that load
//! archives: what the high side holds, written for the low side's catalog.

use std::path::Path;

use ferry_engine::receipt::{ArchiveReceipt, Receipt, collect, write};
use ferry_oci::ImageRef;

use crate::args::{ReceiptArgs, ReceiptFlags};
use crate::session::Session;
use crate::stdout::outln;

pub(crate) async fn run(session: &Session, args: ReceiptArgs) -> anyhow::Result<()> {
    let key = signing_key(args.sign.as_deref())?;
    let receipt = collect(session.client(), Vec::new(), &args.images).await?;
    write(&args.output, &receipt, key.as_ref())?;
    outln!("{}", summary(&args.output, &receipt, key.as_ref()));
    Ok(())
}

/// What `--receipt FILE [--sign KEY]` asks for, the key read before any work.
pub(super) struct Wanted {
    path: std::path::PathBuf,
    key: Option<ferry_sign::PrivateKey>,
}

impl Wanted {
    /// The receipt the flags ask for, if any; a run that writes nothing (`nothing`, the flag
    /// that says so) gives none.
    pub(super) fn from_flags(flags: &ReceiptFlags, nothing: Option<&str>) -> anyhow::Result<Option<Wanted>> {
        let Some(path) = &flags.receipt else { return Ok(None) };
        if let Some(flag) = nothing {
            return Err(crate::exit::BadInput(format!("--receipt: {flag} places nothing to give a receipt for")).into());
        }
        Ok(Some(Wanted { path: path.clone(), key: signing_key(flags.sign.as_deref())? }))
    }

    /// Writes the receipt of `archives` and of what the destinations hold of `images`; the
    /// line to show.
    pub(super) async fn write(&self, session: &Session, archives: Vec<ArchiveReceipt>, images: &[ImageRef]) -> anyhow::Result<String> {
        let receipt = collect(session.client(), archives, images).await?;
        write(&self.path, &receipt, self.key.as_ref())?;
        Ok(summary(&self.path, &receipt, self.key.as_ref()))
    }
}

/// The key `--sign` names, read before any work.
pub(super) fn signing_key(path: Option<&Path>) -> anyhow::Result<Option<ferry_sign::PrivateKey>> {
    path.map(|p| super::bundle::private_key("--sign", p)).transpose()
}

fn summary(path: &Path, receipt: &Receipt, key: Option<&ferry_sign::PrivateKey>) -> String {
    let complete = receipt.images.iter().filter(|i| i.complete).count();
    let signed =
        key.map(|k| format!("; signed by {} ({})", k.public_key().fingerprint(), ferry_engine::receipt::signature_path(path).display()));
    format!(
        "Receipt {}: {} archives, {} images ({complete} complete), {} digests present{}",
        path.display(),
        receipt.archives.len(),
        receipt.images.len(),
        receipt.present.len(),
        signed.unwrap_or_default()
    )
}
