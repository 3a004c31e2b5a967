//! What `ferry version` and `ferry --version` say: the release, the commit and build date
//! (from `build.rs`), the archive format ferry writes and reads, and the plugin interface.

use std::sync::LazyLock;

/// ferry's release.
pub(crate) const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The commit built, abbreviated, `+dirty` when the work tree had changes; `unknown` outside git.
pub(crate) const COMMIT: &str = env!("FERRY_COMMIT");
/// The build's date (UTC, `SOURCE_DATE_EPOCH` when set).
pub(crate) const BUILD_DATE: &str = env!("FERRY_BUILD_DATE");

/// `ferry --version` after "ferry ": the release and build on one line, then the formats.
pub(crate) fn long() -> &'static str {
    static LONG: LazyLock<String> = LazyLock::new(|| {
        format!(
            "{VERSION} (commit {COMMIT}, built {BUILD_DATE})\narchive format: serialization version {}\nplugin interface: ferry:plugin@{}",
            ferry_archive::entries::SERIALIZATION_VERSION,
            ferry_plugin::INTERFACE_VERSION
        )
    });
    LONG.as_str()
}

/// The facts as JSON, for programs.
pub(crate) fn json() -> serde_json::Value {
    serde_json::json!({
        "version": VERSION,
        "commit": COMMIT,
        "buildDate": BUILD_DATE,
        "archiveFormat": ferry_archive::entries::SERIALIZATION_VERSION,
        "pluginInterface": format!("ferry:plugin@{}", ferry_plugin::INTERFACE_VERSION),
    })
}

/// The facts, one a line.
pub(crate) fn text() -> String {
    format!(
        "ferry {VERSION}\ncommit:           {COMMIT}\nbuilt:            {BUILD_DATE}\narchive format:   serialization version {}\nplugin interface: ferry:plugin@{}\n",
        ferry_archive::entries::SERIALIZATION_VERSION,
        ferry_plugin::INTERFACE_VERSION
    )
}
