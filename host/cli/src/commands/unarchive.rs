//! `ferry mirror unarchive SOURCE-FILE MAPPER`: deserialize into the local cache (an OCI
//! layout), then scatter from it.

use anyhow::Context as _;
use ferry_engine::cached::{UnarchiveRequest, unarchive};
use ferry_engine::deserialize::ArchiveSource;
use ferry_engine::place::PlaceOptions;

use ferry_engine::receipt::ArchiveReceipt;
use ferry_engine::route::Routed;

use super::receipt::Wanted;
use super::scatter::{report, routing, subset};
use crate::args::{PrintFormat, UnarchiveArgs};
use crate::mapping::Rule;
use crate::output::Stdout;
use crate::policy::Policy;
use crate::session::Session;

pub(crate) async fn run(session: &Session, recursive: bool, args: UnarchiveArgs) -> anyhow::Result<()> {
    let wanted = Wanted::from_flags(&args.receipt, args.route.check.then_some("--check"))?;
    let sites = session.sites()?;
    let subset = subset(session, &args.route, args.subset.as_deref()).await?;
    let rule = Rule::load(sites, &args.mapper).await?;
    let policy = Policy::optional(sites, args.route.policy.as_deref()).await?;
    let cache = match args.cache.clone() {
        Some(cache) => cache,
        None => session.config().cache_path()?.join("unarchive"),
    };
    let mut routing = routing(&rule, subset.as_ref(), args.subset.as_deref(), &args.route, PlaceOptions { recursive, keep_going: false });
    routing.options.images = session.image_trust(&args.route.require_signed_images, policy.is_some())?;
    routing.policy = policy.as_ref().map(|p| p as &dyn ferry_engine::components::Policy);
    let output = session.output(Stdout::json_if(args.route.output == PrintFormat::Json));
    let media = crate::changer::media(&args.tape, args.block_size, Some(&output));
    let names = vec![args.source.clone()];
    // Staging a set from tapes reads them all: off the async threads.
    let source = tokio::task::spawn_blocking(move || ArchiveSource::open_all(&names, &media)).await??.remove(0);
    let request = UnarchiveRequest {
        source,
        cache: &cache,
        reference: &args.reference,
        strict: args.strict,
        trust: session.delivery_trust()?,
        routing,
    };
    let result = unarchive(session.client(), request, output.events()).await;
    output.finish();
    let (loaded, routed) = result.with_context(|| format!("unarchiving {} through the cache {}", args.source, cache.display()))?;
    // An image the archive gives no name has no source for the rule to route.
    for digest in &loaded.untagged {
        output.line(&format!("not routed (the archive gives it no name): {digest}, kept in the cache {}", cache.display()));
    }
    if let (Some(wanted), Routed::Placed { outcome, verdicts }) = (&wanted, &routed) {
        // Complete when everything routed was placed: nothing refused, nothing failed.
        let complete = outcome.failures.is_empty() && !verdicts.iter().any(ferry_engine::trust::Verdict::refused);
        let archive = ArchiveReceipt {
            file: std::path::Path::new(&args.source).file_name().map_or_else(|| args.source.clone(), |n| n.to_string_lossy().into_owned()),
            root: loaded.root.as_ref().map(|r| r.digest.clone()),
            signer: loaded.signer.as_ref().map(|s| s.fingerprint.clone()),
            loaded: ferry_engine::receipt::now(),
            // The root is tagged in the cache; the placements are the receipt's images.
            destination: format!("oci:{}:{}", cache.display(), args.reference),
            complete,
        };
        output.line(&wanted.write(session, vec![archive], &outcome.destinations).await?);
    }
    report(&output, args.route.output, routed)
}
