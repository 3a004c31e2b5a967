//! The `go-template` mapping rule (spec §6.3): a Go `text/template` (gotmpl) with the
//! hermetic text functions of sprig and the reference helpers `Tag`, `Repository`,
//! `Registry` and `Package`. Parameters: `file` (the template text) and `path` (its file
//! name as the user gave it: the template is named after its base name, errors name it).
//!
//! The data object `.` is the image's OCI descriptor with Go's field names (`.MediaType`,
//! `.Digest`, `.Size`, `.URLs`, `.Annotations`, `.Data`, `.Platform`, `.ArtifactType`), plus
//! ferry's `.Source` and `.Labels`. Each non-blank line of the output, trimmed, is one
//! destination (ace-dt kept blank and untrimmed lines, which then failed as references).

wit_bindgen::generate!({ world: "mapper", path: "../../wit" });

mod reference;
mod sprig;

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use ferry::plugin::host;
use ferry::plugin::types::Platform;
use gotmpl::{Template, TemplateError, Value};

struct GoTemplate;

/// The parsed template and the path errors name, once per instance: the parameters do not
/// change between calls.
static CONFIGURED: OnceLock<Result<(Template, String), String>> = OnceLock::new();

impl Guest for GoTemplate {
    fn map_image(image: Image) -> Result<Vec<String>, String> {
        let (template, path) = CONFIGURED.get_or_init(configure).as_ref().map_err(Clone::clone)?;
        let output = template.execute_to_string(&data(&image)).map_err(|e| {
            let who = if image.source.is_empty() { &image.digest } else { &image.source };
            format!("{path}: executing for {who}: {e}")
        })?;
        Ok(destinations(&output))
    }
}

fn configure() -> Result<(Template, String), String> {
    let params = host::params();
    let param = |key: &str| params.iter().find_map(|(k, v)| (k == key).then_some(v.as_str()));
    let path = param("path").unwrap_or("the template").to_owned();
    let text = param("file").ok_or("the parameter \"file\" (the template text) is missing")?;
    let name = path.rsplit(['/', '\\']).next().unwrap_or(&path);
    let mut funcs = sprig::functions();
    reference::register(&mut funcs);
    let template = Template::new(name).funcs(funcs).parse(text).map_err(|e| match e {
        TemplateError::Parse { line, col, message, .. } | TemplateError::Lex { line, col, message, .. } => {
            format!("{path}:{line}:{col}: {message}")
        }
        other => format!("{path}: {other}"),
    })?;
    Ok((template, path))
}

/// The destinations in `output`: its lines, trimmed, blank ones left out.
fn destinations(output: &str) -> Vec<String> {
    output.split('\n').map(str::trim).filter(|line| !line.is_empty()).map(str::to_owned).collect()
}

/// The data object: the descriptor as Go's `ocispec.Descriptor` names its fields.
fn data(image: &Image) -> Value {
    let s = |v: &str| Value::String(v.into());
    let strings = |pairs: &[(String, String)]| Value::Map(Arc::new(pairs.iter().map(|(k, v)| (Arc::from(k.as_str()), s(v))).collect()));
    let mut d = BTreeMap::new();
    d.insert("MediaType".into(), s(&image.media_type));
    d.insert("Digest".into(), s(&image.digest));
    d.insert("Size".into(), Value::Uint(image.size));
    d.insert("URLs".into(), Value::List(Arc::new([])));
    d.insert("Annotations".into(), strings(&image.annotations));
    d.insert("Data".into(), Value::List(Arc::new([])));
    d.insert("Platform".into(), image.platform.as_ref().map_or(Value::Nil, platform));
    d.insert("ArtifactType".into(), s(image.artifact_type.as_deref().unwrap_or("")));
    // ferry's additions.
    d.insert("Source".into(), s(&image.source));
    d.insert("Labels".into(), strings(&image.labels));
    Value::Map(Arc::new(d))
}

fn platform(p: &Platform) -> Value {
    let s = |v: &str| Value::String(v.into());
    Value::Map(Arc::new(BTreeMap::from([
        (Arc::from("OS"), s(&p.os)),
        (Arc::from("Architecture"), s(&p.architecture)),
        (Arc::from("Variant"), s(&p.arch_variant)),
        (Arc::from("OSVersion"), s(&p.os_version)),
        (Arc::from("OSFeatures"), Value::List(p.os_features.iter().map(|f| s(f)).collect::<Vec<_>>().into())),
    ])))
}

export!(GoTemplate);
