//! MAPPER arguments (`TYPE=ARG`, spec §6) as the engine's [`ferry_engine::components::Rule`].
//!
//! Every type is a component: the built-in ones are embedded in the binary, `plugin=` loads a
//! site's (a file, or an installed plugin by name, under the trust policy). The engine runs a
//! rule on a few workers, each with its own instance of the component.

use std::path::Path;

use ferry_bundle::Sites;
use ferry_engine::components::{self, read_text};
use ferry_engine::confine::LayoutRoots;
use ferry_engine::place::Artifact;
use ferry_plugin::{Host, Image, Loaded, Mapper, Platform, builtin};

use crate::exit::BadInput;

/// A mapping rule as the command line named it.
pub(crate) struct Rule<'s> {
    /// `TYPE=ARG`, as given (for messages).
    text: String,
    host: &'s Host,
    loaded: Loaded,
    params: Vec<(String, String)>,
    /// The layout directories the operator wrote in the argument, file or parameters: the
    /// only ones an `oci:` destination may be in.
    roots: LayoutRoots,
}

impl<'s> Rule<'s> {
    /// Parses `TYPE=ARG`, reads any file it names and loads the component.
    pub(crate) async fn load(sites: &'s Sites, text: &str) -> anyhow::Result<Rule<'s>> {
        let host = sites.host();
        let (kind, arg) = text
            .split_once('=')
            .filter(|(_, arg)| !arg.is_empty())
            .ok_or_else(|| BadInput(format!("invalid mapper, please use the format 'MAP-TYPE=MAP-ARG': got '{text}'")))?;
        let pair = |k: &str, v: &str| (k.to_owned(), v.to_owned());
        let builtin = |name: &str, wasm: &[u8]| host.load(name, wasm).map_err(|e| component_error(text, e));
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
                let (spec, params) = plugin_params("mapper", arg)?;
                (sites.component(spec, &format!("mapper plugin={spec}")).await?, params)
            }
            _ => return Err(BadInput(format!(
                "unknown mapping type {kind:?} in {text:?} (nest, first-prefix, all-prefix, longest-prefix, digests, go-template, plugin)"
            ))
            .into()),
        };
        // Linking now refuses a component of another world or version before any work.
        Mapper::new(host, &loaded, params.clone()).map_err(|e| component_error(text, e))?;
        let mut roots = LayoutRoots::none();
        for (key, value) in &params {
            // A built-in rule's file path is not a destination; its text is.
            if kind == "plugin" || key != "path" {
                roots.add_text(value);
            }
        }
        Ok(Rule { text: text.to_owned(), host, loaded, params, roots })
    }
}

fn component_error(rule: &str, source: ferry_plugin::PluginError) -> ferry_engine::Error {
    ferry_engine::Error::Component { what: format!("mapper {rule}"), source: Box::new(source) }
}

impl components::Rule for Rule<'_> {
    fn text(&self) -> &str {
        &self.text
    }

    fn roots(&self) -> &LayoutRoots {
        &self.roots
    }

    fn mapper(&self) -> Result<Box<dyn components::Mapper + '_>, ferry_engine::Error> {
        let mapper = Mapper::new(self.host, &self.loaded, self.params.clone()).map_err(|e| component_error(&self.text, e))?;
        Ok(Box::new(Worker { mapper, rule: &self.text }))
    }
}

/// One worker's instance of a rule.
struct Worker<'r> {
    mapper: Mapper<'r>,
    rule: &'r str,
}

impl components::Mapper for Worker<'_> {
    fn map(&mut self, artifact: &Artifact) -> Result<Vec<String>, ferry_engine::Error> {
        // The rule is the user's input: its failures are bad input, as a bad file is.
        self.mapper.map(&image(artifact)).map_err(|source| ferry_engine::Error::Component {
            what: format!("mapping {} with {}", artifact.name(), self.rule),
            source: Box::new(source),
        })
    }
}

/// `plugin=COMPONENT[,KEY=VALUE…]`: the component (a file or an installed plugin's name) and
/// its parameters; a value `@FILE` passes FILE's text. `what` (`mapper`, `policy`) names the
/// argument in messages.
pub(crate) fn plugin_params<'a>(what: &'static str, arg: &'a str) -> anyhow::Result<(&'a str, Vec<(String, String)>)> {
    let mut parts = arg.split(',');
    let spec = parts.next().unwrap_or_default();
    let mut params = Vec::new();
    for part in parts {
        let (key, value) =
            part.split_once('=').ok_or_else(|| BadInput(format!("{what} plugin={arg}: parameter {part:?} should be KEY=VALUE")))?;
        let value = match value.strip_prefix('@') {
            Some(file) => read_text(Path::new(file), if what == "policy" { "policy file" } else { "mapping file" })?,
            None => value.to_owned(),
        };
        params.push((key.to_owned(), value));
    }
    Ok((spec, params))
}

/// What a rule (or a policy) sees of an artifact.
pub(crate) fn image(a: &Artifact) -> Image {
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
