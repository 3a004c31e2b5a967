//! MAPPER arguments (`TYPE=ARG`, spec §6) and running a rule over many artifacts.
//!
//! Every type is a component: the built-in ones are embedded in the binary, `plugin=` loads a
//! site's (a file, or an installed plugin by name, under the trust policy). Rules run on a few
//! worker threads, each with one instance of the component that it reuses for every artifact
//! it maps.

use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use ferry_engine::confine::LayoutRoots;
use ferry_engine::place::Artifact;
use ferry_plugin::{Host, Image, Loaded, Mapper, Platform, builtin};

use crate::exit::BadInput;
use crate::plugins::{Plugins, read_text};

/// Artifacts one worker takes at a time.
const BATCH: usize = 64;
/// At most this many workers (instances) per rule.
const MAX_WORKERS: usize = 4;

/// A mapping rule as the command line named it.
pub(crate) struct Rule {
    /// `TYPE=ARG`, as given (for messages).
    pub(crate) text: String,
    loaded: Loaded,
    params: Vec<(String, String)>,
    /// The layout directories the operator wrote in the argument, file or parameters: the
    /// only ones an `oci:` destination may be in.
    pub(crate) roots: LayoutRoots,
}

impl Rule {
    /// Parses `TYPE=ARG`, reads any file it names and loads the component.
    pub(crate) async fn load(plugins: &Plugins, text: &str) -> anyhow::Result<Rule> {
        let host = &plugins.host;
        let (kind, arg) = text
            .split_once('=')
            .filter(|(_, arg)| !arg.is_empty())
            .ok_or_else(|| BadInput(format!("invalid mapper, please use the format 'MAP-TYPE=MAP-ARG': got '{text}'")))?;
        let pair = |k: &str, v: &str| (k.to_owned(), v.to_owned());
        let builtin = |name: &str, wasm: &[u8]| host.load(name, wasm).map_err(|e| BadInput(format!("mapper {text}: {e}")));
        let (loaded, params) = match kind {
            "nest" => (builtin("nest", builtin::NEST)?, vec![pair("prefix", arg)]),
            "first-prefix" | "all-prefix" | "longest-prefix" | "digests" => (
                builtin("csv-map", builtin::CSV_MAP)?,
                vec![pair("rule", kind), pair("file", &read_text(Path::new(arg), "mapping file")?), pair("path", arg)],
            ),
            "go-template" => (
                builtin("go-template", builtin::GO_TEMPLATE)?,
                vec![pair("file", &read_text(Path::new(arg), "mapping file")?), pair("path", arg)],
            ),
            "plugin" => {
                let (spec, params) = plugin_params(arg)?;
                (plugins.site_component(spec, &format!("mapper plugin={spec}")).await?, params)
            }
            _ => return Err(BadInput(format!(
                "unknown mapping type {kind:?} in {text:?} (nest, first-prefix, all-prefix, longest-prefix, digests, go-template, plugin)"
            ))
            .into()),
        };
        // Linking now refuses a component of another world or version before any work.
        Mapper::new(host, &loaded, params.clone()).map_err(|e| BadInput(format!("mapper {text}: {e}")))?;
        let mut roots = LayoutRoots::none();
        for (key, value) in &params {
            // A built-in rule's file path is not a destination; its text is.
            if kind == "plugin" || key != "path" {
                roots.add_text(value);
            }
        }
        Ok(Rule { text: text.to_owned(), loaded, params, roots })
    }
}

/// `plugin=COMPONENT[,KEY=VALUE…]`: the component (a file or an installed plugin's name) and
/// its parameters; a value `@FILE` passes FILE's text.
fn plugin_params(arg: &str) -> anyhow::Result<(&str, Vec<(String, String)>)> {
    let mut parts = arg.split(',');
    let spec = parts.next().unwrap_or_default();
    let mut params = Vec::new();
    for part in parts {
        let (key, value) =
            part.split_once('=').ok_or_else(|| BadInput(format!("mapper plugin={arg}: parameter {part:?} should be KEY=VALUE")))?;
        let value = match value.strip_prefix('@') {
            Some(file) => read_text(Path::new(file), "mapping file")?,
            None => value.to_owned(),
        };
        params.push((key.to_owned(), value));
    }
    Ok((spec, params))
}

/// Each artifact with the destinations `rule` gives it, in the artifacts' order.
pub(crate) fn route(host: &Host, rule: &Rule, artifacts: Vec<Artifact>) -> anyhow::Result<Vec<(Artifact, Vec<String>)>> {
    let workers = artifacts.len().div_ceil(BATCH).clamp(1, MAX_WORKERS.min(std::thread::available_parallelism().map_or(1, |n| n.get())));
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Vec<String>>>> = Mutex::new(vec![None; artifacts.len()]);
    let failure: Mutex<Option<anyhow::Error>> = Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                if let Err(e) = work(host, rule, &artifacts, &next, &results) {
                    // Stop the other workers at their next batch.
                    next.store(artifacts.len(), Ordering::Relaxed);
                    failure.lock().unwrap_or_else(|p| p.into_inner()).get_or_insert(e);
                }
            });
        }
    });
    if let Some(e) = failure.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(e);
    }
    let results = results.into_inner().unwrap_or_else(|p| p.into_inner());
    Ok(artifacts.into_iter().zip(results).map(|(a, d)| (a, d.unwrap_or_default())).collect())
}

fn work(
    host: &Host,
    rule: &Rule,
    artifacts: &[Artifact],
    next: &AtomicUsize,
    results: &Mutex<Vec<Option<Vec<String>>>>,
) -> anyhow::Result<()> {
    let mut mapper = Mapper::new(host, &rule.loaded, rule.params.clone())?;
    loop {
        let start = next.fetch_add(BATCH, Ordering::Relaxed);
        if start >= artifacts.len() {
            return Ok(());
        }
        let end = (start + BATCH).min(artifacts.len());
        let mut done = Vec::with_capacity(end - start);
        for artifact in &artifacts[start..end] {
            // The rule is the user's input: its failures are bad input, as a bad file is.
            let destinations =
                mapper.map(&image(artifact)).map_err(|e| BadInput(format!("mapping {} with {}: {e}", artifact.name(), rule.text)))?;
            done.push(destinations);
        }
        let mut results = results.lock().unwrap_or_else(|p| p.into_inner());
        for (slot, d) in results[start..end].iter_mut().zip(done) {
            *slot = Some(d);
        }
    }
}

/// What a rule sees of an artifact.
fn image(a: &Artifact) -> Image {
    let d = &a.descriptor;
    Image {
        source: a.source().to_owned(),
        digest: d.digest.to_string(),
        media_type: d.media_type.clone(),
        size: d.size,
        platform: d.platform.as_ref().map(|p| Platform {
            architecture: p.architecture.clone(),
            os: p.os.clone(),
            os_version: p.os_version.clone(),
            os_features: p.os_features.clone(),
            arch_variant: p.variant.clone(),
        }),
        artifact_type: d.artifact_type.clone(),
        annotations: d.annotations.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        labels: a.labels().into_iter().collect(),
    }
}
