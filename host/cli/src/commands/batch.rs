//! `ferry mirror batch-serialize BATCH-LIST SYNC-DIRECTORY` and `batch-deserialize
//! SYNC-DIRECTORY DESTINATION` (spec §7); the workflows are `ferry_engine::batch`'s.

use ferry_engine::batch::{BatchDeserializeRequest, BatchSerializeRequest, batch_deserialize, batch_serialize};

use super::serialize::compression;
use crate::args::{BatchDeserializeArgs, BatchSerializeArgs};
use crate::output::Stdout;
use crate::plugins::ComponentTracker;
use crate::session::Session;

pub(crate) async fn serialize(session: &Session, recursive: bool, args: BatchSerializeArgs) -> anyhow::Result<()> {
    let mut tracker = ComponentTracker::load(session.sites()?, args.tracker.as_deref()).await?;
    let delivery = super::catalog::Delivery::open(session, &args.catalog).await?;
    let request = BatchSerializeRequest {
        batch_list: &args.batch_list,
        sync_directory: &args.sync_directory,
        tracker_file: &args.tracker_filename,
        compression: compression(args.compression),
        manifest_json: args.manifest_json,
        recursive,
        sign: match &args.sign {
            Some(path) => Some(std::sync::Arc::new(super::bundle::private_key("--sign", path)?)),
            None => None,
        },
        record: delivery.record.clone(),
        planning: delivery.planning.clone(),
        volumes: args.volumes.spec(),
    };
    let output = session.output(Stdout::Status);
    let result = batch_serialize(session.client(), &request, &mut tracker, output.events()).await;
    output.finish();
    let outcome = result?;
    let planned = super::catalog::tally(&outcome.catalog, delivery.planning.is_some());
    output.summary(&format!(
        "{} archives written, {} already sent; tracker {}{planned}",
        outcome.written,
        outcome.skipped,
        outcome.tracker.display()
    ));
    Ok(())
}

pub(crate) async fn deserialize(session: &Session, args: BatchDeserializeArgs) -> anyhow::Result<()> {
    let mut tracker = ComponentTracker::load(session.sites()?, args.tracker.as_deref()).await?;
    let wanted = super::receipt::Wanted::from_flags(&args.receipt, None)?;
    let request = BatchDeserializeRequest {
        sync_directory: &args.sync_directory,
        destination: &args.destination,
        tracker_file: &args.sync_filename,
        trust: session.delivery_trust()?,
    };
    let output = session.output(Stdout::Status);
    let result = batch_deserialize(session.client(), &request, &mut tracker, output.events()).await;
    output.finish();
    let outcome = result?;
    if outcome.loaded == 0 {
        output.summary(&format!("Nothing new in {}", args.sync_directory.display()));
    } else {
        output.summary(&format!("{} archives loaded; tracker {}", outcome.loaded, outcome.tracker.display()));
    }
    if let Some(wanted) = &wanted {
        // By digest: a later archive of the same name moves the tag.
        let images: Vec<_> =
            outcome.archives.iter().filter_map(|a| a.root.as_ref()).map(|root| args.destination.with_digest(root)).collect();
        output.line(&wanted.write(session, outcome.archives, &images).await?);
    }
    Ok(())
}
