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
    let bytes = std::fs::read(path).map_err(|e| BadInput(format!("reading sources file {}: {e}", path.display())))?;
    let text = String::from_utf8(bytes).map_err(|_| BadInput(format!("sources file {}: not UTF-8 text", path.display())))?;
    let loaded = host.load("sources-list", builtin::SOURCES_LIST)?;
    let params = vec![("path".to_owned(), path.display().to_string())];
    let mut parser = SourcesParser::new(host, &loaded, params)?;
    let entries = parser.parse(&text).map_err(|e| match e {
        PluginError::Parse { line, message, .. } => BadInput(format!("{}:{line}: {message}", path.display())),
        other => BadInput(format!("sources file {}: {other}", path.display())),
    })?;
    Ok(entries
        .into_iter()
        .map(|e| SourceEntry { reference: e.reference, labels: e.labels.into_iter().collect(), line: e.line as usize })
        .collect())
}
