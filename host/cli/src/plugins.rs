//! The engine's component traits over `ferry-plugin`: sources lists read by a sources-parser
//! component (the built-in `sources-list`, spec §5.1, or a site's) and the batch trackers
//! (the built-in `csv-tracker`, or a site's). Mapping rules are in [`crate::mapping`].

use std::path::Path;

use ferry_bundle::Sites;
use ferry_engine::components::{LoadedRow, SentRow, SourcesParser, TrackerFormat};
use ferry_engine::sources::SourceEntry;
use ferry_plugin::{Host, Limits, Loaded, PluginError, builtin};

/// The host that runs components: default limits, compiled components cached under `cache`.
pub(crate) fn host(cache: &Path) -> anyhow::Result<Host> {
    // The host creates the directory itself (0700) and, with a warning, runs without one
    // another user could write: each run then compiles again, slower but not wrong.
    Ok(Host::new(Limits::default(), Some(cache.join("plugins")))?)
}

/// A component's complaint about a file's text: `FILE:LINE: message` when it names a line.
pub(crate) fn file_error(file: &Path, e: PluginError) -> ferry_engine::Error {
    match e {
        PluginError::Parse { line, message, .. } if line > 0 => ferry_engine::Error::InputLine { file: file.to_owned(), line, message },
        other => ferry_engine::Error::Component { what: file.display().to_string(), source: Box::new(other) },
    }
}

/// A sources-parser component.
pub(crate) struct ComponentSources<'s> {
    host: &'s Host,
    loaded: Loaded,
}

impl<'s> ComponentSources<'s> {
    /// The parser `spec` names (a file or an installed plugin), or the built-in `sources-list`.
    pub(crate) async fn load(sites: &'s Sites, spec: Option<&str>) -> anyhow::Result<ComponentSources<'s>> {
        let loaded = match spec {
            None => sites.host().load("sources-list", builtin::SOURCES_LIST)?,
            Some(s) => sites.component(s, &format!("--sources-parser {s}")).await?,
        };
        Ok(ComponentSources { host: sites.host(), loaded })
    }
}

impl SourcesParser for ComponentSources<'_> {
    fn parse(&self, file: &Path, text: &str) -> Result<Vec<SourceEntry>, ferry_engine::Error> {
        let params = vec![("path".to_owned(), file.display().to_string())];
        let component = |source| ferry_engine::Error::Component { what: "sources parser".to_owned(), source: Box::new(source) };
        let mut parser = ferry_plugin::SourcesParser::new(self.host, &self.loaded, params).map_err(component)?;
        let entries = parser.parse(text).map_err(|e| file_error(file, e))?;
        Ok(entries
            .into_iter()
            .map(|e| SourceEntry { reference: e.reference, labels: e.labels.into_iter().collect(), line: e.line as usize })
            .collect())
    }
}

/// A tracker component.
pub(crate) struct ComponentTracker<'s>(ferry_plugin::Tracker<'s>);

impl<'s> ComponentTracker<'s> {
    /// The built-in CSV tracker, or a site's component (a file or an installed plugin).
    pub(crate) async fn load(sites: &'s Sites, spec: Option<&str>) -> anyhow::Result<ComponentTracker<'s>> {
        let loaded = match spec {
            None => sites.host().load("csv-tracker", builtin::CSV_TRACKER)?,
            Some(s) => sites.component(s, &format!("--tracker {s}")).await?,
        };
        let tracker = ferry_plugin::Tracker::new(sites.host(), &loaded, Vec::new())
            .map_err(|source| ferry_engine::Error::Component { what: "tracker".to_owned(), source: Box::new(source) })?;
        Ok(ComponentTracker(tracker))
    }
}

fn tracker_error(e: PluginError) -> ferry_engine::Error {
    ferry_engine::Error::Component { what: "tracker".to_owned(), source: Box::new(e) }
}

impl TrackerFormat for ComponentTracker<'_> {
    fn read_sent(&mut self, file: &Path, text: &str) -> Result<Vec<SentRow>, ferry_engine::Error> {
        let rows = self.0.read_sent(text).map_err(|e| file_error(file, e))?;
        Ok(rows.into_iter().map(|r| SentRow { sync_name: r.sync_name, artifact: r.artifact, digest: r.digest }).collect())
    }

    fn format_sent(&mut self, row: &SentRow, new_file: bool) -> Result<String, ferry_engine::Error> {
        let row = ferry_plugin::SentRow { sync_name: row.sync_name.clone(), artifact: row.artifact.clone(), digest: row.digest.clone() };
        self.0.format_sent(&row, new_file).map_err(tracker_error)
    }

    fn read_loaded(&mut self, file: &Path, text: &str) -> Result<Vec<LoadedRow>, ferry_engine::Error> {
        let rows = self.0.read_loaded(text).map_err(|e| file_error(file, e))?;
        Ok(rows.into_iter().map(|r| LoadedRow { file_name: r.file_name, artifact: r.artifact, timestamp: r.timestamp }).collect())
    }

    fn format_loaded(&mut self, row: &LoadedRow, new_file: bool) -> Result<String, ferry_engine::Error> {
        let row =
            ferry_plugin::LoadedRow { file_name: row.file_name.clone(), artifact: row.artifact.clone(), timestamp: row.timestamp.clone() };
        self.0.format_loaded(&row, new_file).map_err(tracker_error)
    }
}
