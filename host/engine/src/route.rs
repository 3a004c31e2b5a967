//! Routing artifacts by a mapping rule and placing them: the shared tail of scatter, clone and
//! unarchive.
//!
//! A rule runs on a few worker threads, each with its own [`Mapper`] (one component instance)
//! reused for every artifact it maps; the results keep the artifacts' order. Source
//! annotations are checked before a rule sees them ([`check_sources`]), and every destination
//! is checked before anything is copied ([`plan`]).

use std::collections::HashSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use ferry_registry::Client;

use crate::components::{Mapper, Policy, Rule};
use crate::confine::check_sources;
use crate::error::Error;
use crate::events::{Event, Events, Stage};
use crate::place::{Artifact, PlaceOptions, PlaceOutcome, Placement, place, plan};
use crate::store::Store;
use crate::trust::{Admission, Verdict, decide};

/// Artifacts one worker takes at a time.
const BATCH: usize = 64;
/// At most this many workers (component instances) per rule.
const MAX_WORKERS: usize = 4;

/// Each artifact with the destinations `rule` gives it, in the artifacts' order. The first
/// failure stops the other workers at their next batch.
pub fn route(rule: &dyn Rule, artifacts: Vec<Artifact>) -> Result<Vec<(Artifact, Vec<String>)>, Error> {
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let workers = artifacts.len().div_ceil(BATCH).clamp(1, MAX_WORKERS.min(cores));
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Vec<String>>>> = Mutex::new(vec![None; artifacts.len()]);
    let failure: Mutex<Option<Error>> = Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                let worked = rule.mapper().and_then(|mut mapper| work(mapper.as_mut(), &artifacts, &next, &results));
                if let Err(e) = worked {
                    next.store(artifacts.len(), Ordering::Relaxed);
                    failure.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get_or_insert(e);
                }
            });
        }
    });
    if let Some(e) = failure.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner) {
        return Err(e);
    }
    let results = results.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
    Ok(artifacts.into_iter().zip(results).map(|(a, d)| (a, d.unwrap_or_default())).collect())
}

fn work(
    mapper: &mut dyn Mapper,
    artifacts: &[Artifact],
    next: &AtomicUsize,
    results: &Mutex<Vec<Option<Vec<String>>>>,
) -> Result<(), Error> {
    loop {
        let start = next.fetch_add(BATCH, Ordering::Relaxed);
        if start >= artifacts.len() {
            return Ok(());
        }
        let end = (start + BATCH).min(artifacts.len());
        let mut done = Vec::with_capacity(end - start);
        for artifact in &artifacts[start..end] {
            done.push(mapper.map(artifact)?);
        }
        let mut results = results.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        for (slot, d) in results[start..end].iter_mut().zip(done) {
            *slot = Some(d);
        }
    }
}

/// How routed artifacts are placed.
#[derive(Clone, Debug, Default)]
pub struct RouteOptions {
    /// Plan only: every destination is checked, nothing is copied.
    pub check: bool,
    /// How placements are copied.
    pub place: PlaceOptions,
    /// `--retry-failed`: place only what an earlier run did not; the whole plan is still
    /// made and checked.
    pub only: Option<Retry>,
    /// Selectors, a subset or platforms that keep nothing are accepted (an empty run).
    pub allow_empty: bool,
    /// The image policy's keys: signatures are checked with them, and with `required` only
    /// artifacts signed by one are placed ([`crate::trust`]).
    pub images: Option<std::sync::Arc<crate::trust::ImageTrust>>,
}

/// What an earlier run left undone, from its report.
#[derive(Clone, Debug, Default)]
pub struct Retry {
    /// Destinations not placed (failed, or never tried once the run stopped).
    pub destinations: HashSet<String>,
    /// Sources that failed before they were routed: every destination of theirs is placed.
    pub sources: HashSet<String>,
}

/// What routing did.
#[derive(Debug)]
pub enum Routed {
    /// `check`: where each artifact would go.
    Checked {
        /// Artifacts routed.
        artifacts: usize,
        /// Every placement, as it would be made.
        placements: Vec<Placement>,
        /// Each artifact's verdict, with an image or component policy.
        verdicts: Vec<Verdict>,
    },
    /// The placements were made (failures listed when going on past them).
    Placed {
        /// What placing did.
        outcome: PlaceOutcome,
        /// Each artifact's verdict, with an image or component policy; the refused were not
        /// placed.
        verdicts: Vec<Verdict>,
    },
}

/// Routes `artifacts` (held by `stores`) by `rule`, decides on each under the image policy
/// and `policy` (nothing refused is placed), checks the plan, then places it, or with `check`
/// returns it. Emits [`Stage::Placing`] before the first copy.
pub async fn route_and_place(
    client: &Client,
    rule: &dyn Rule,
    policy: Option<&dyn Policy>,
    stores: &[Box<dyn Store>],
    artifacts: Vec<Artifact>,
    options: RouteOptions,
    events: Events,
) -> Result<Routed, Error> {
    let count = artifacts.len();
    check_sources(&artifacts)?;
    let mut routed = route(rule, artifacts)?;
    let admission = Admission { images: options.images.as_deref(), policy };
    let verdicts = if admission.is_active() {
        let routed_artifacts: Vec<&Artifact> = routed.iter().map(|(a, _)| a).collect();
        let stores: Vec<&dyn Store> = stores.iter().map(AsRef::as_ref).collect();
        decide(&stores, &routed_artifacts, admission, client.config().concurrent_http(), &events).await?
    } else {
        Vec::new()
    };
    // Nothing refused is placed; the plan is made of the rest, which is placed only when
    // going on past failures (`--continue`).
    let refused = verdicts.iter().any(Verdict::refused);
    routed.retain(|(a, _)| !verdicts.iter().any(|v| v.digest == a.descriptor.digest && v.refused()));
    let mut placements = plan(rule.text(), &routed, rule.roots())?;
    if let Some(only) = &options.only {
        let of_sources: HashSet<&String> = routed.iter().filter(|(a, _)| only.sources.contains(a.source())).flat_map(|(_, d)| d).collect();
        placements.retain(|p| {
            let d = p.destination.to_string();
            only.destinations.contains(&d) || of_sources.contains(&d)
        });
    }
    if options.check {
        return Ok(Routed::Checked { artifacts: count, placements, verdicts });
    }
    if refused && !options.place.keep_going {
        return Ok(Routed::Placed { outcome: PlaceOutcome::default(), verdicts });
    }
    events(&Event::Stage(Stage::Placing { destinations: placements.len() }));
    for p in &placements {
        events(&Event::Planned { from: p.from.clone(), destination: p.destination.to_string(), digest: p.content.root().digest.clone() });
    }
    let outcome = place(client, stores, placements, options.place, events).await?;
    Ok(Routed::Placed { outcome, verdicts })
}
