//! The plugin host as the commands use it, and reading sources lists through the
//! sources-parser component (the built-in `sources-list`, spec §5.1).

use std::path::Path;

use ferry_engine::sources::SourceEntry;
use ferry_plugin::{Host, Limits, PluginError, SourcesParser, builtin};

use crate::exit::BadInput;

/// The host that runs components: default limits, compiled components cached under `cache`.
pub(crate) fn host(cache: &Path) -> anyhow::Result<Host> {
    let dir = cache.join("plugins");
    // Without a cache each run compiles again; that is slower, not wrong.
    let dir = std::fs::create_dir_all(&dir).is_ok().then_some(dir);
    Ok(Host::new(Limits::default(), dir)?)
}

/// The entries of the sources list at `path`, sorted by reference; a malformed line is bad
/// input named `FILE:LINE`.
pub(crate) fn read_sources(host: &Host, path: &Path) -> anyhow::Result<Vec<SourceEntry>> {
    let text = read_text(path, "sources file")?;
    let loaded = host.load("sources-list", builtin::SOURCES_LIST)?;
    let params = vec![("path".to_owned(), path.display().to_string())];
    let mut parser = SourcesParser::new(host, &loaded, params)?;
    let entries = parser.parse(&text).map_err(|e| line_error(path, e))?;
    Ok(entries
        .into_iter()
        .map(|e| SourceEntry { reference: e.reference, labels: e.labels.into_iter().collect(), line: e.line as usize })
        .collect())
}

/// A text file a component will be given (`what` names it in errors: `sources file`,
/// `mapping file`, `BATCH-LIST`); unreadable or not UTF-8 is bad input.
pub(crate) fn read_text(path: &Path, what: &str) -> anyhow::Result<String> {
    let bytes = std::fs::read(path).map_err(|e| BadInput(format!("{what} {}: {e}", path.display())))?;
    String::from_utf8(bytes).map_err(|_| BadInput(format!("{what} {}: not UTF-8 text", path.display())).into())
}

/// A site's component file (`what` names the option in errors): its file name, which names it
/// in messages, and its bytes.
pub(crate) fn read_component(path: &Path, what: &str) -> anyhow::Result<(String, Vec<u8>)> {
    let wasm = std::fs::read(path).map_err(|e| BadInput(format!("{what} {}: {e}", path.display())))?;
    let name = path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned());
    Ok((name, wasm))
}

/// A component's complaint about a file's text, as bad input: `FILE:LINE: message` when it
/// names a line.
pub(crate) fn line_error(path: &Path, e: PluginError) -> anyhow::Error {
    match e {
        PluginError::Parse { line, message, .. } => BadInput(format!("{}:{line}: {message}", path.display())).into(),
        other => BadInput(format!("{}: {other}", path.display())).into(),
    }
}
