//! An example tracker format: each row of a batch tracker file as one JSON object per line,
//! for sites that feed their records to other tools.
//!
//! ```text
//! ferry mirror batch-serialize --tracker jsonl_tracker.wasm --tracker-filename sent.jsonl batch.csv sync/
//! ferry mirror batch-deserialize --tracker jsonl_tracker.wasm --sync-filename loaded.jsonl sync/ high.example.com/mirror/batch
//! ```
//!
//! `{"sync_name":"000001-tools.tar","artifact":"…","digest":"sha256:…"}` for an archive written,
//! `{"file_name":"000001-tools.tar","artifact":"…:tools","timestamp":"…"}` for one loaded.
//! There is no header; blank lines are skipped; a line that is not such an object is an
//! error naming the line.

// The WIT lives in ferry's `wit/` directory; a copy of this example points at its own copy
// (`ferry plugin wit > wit/plugin.wit`, then `path: "wit"`).
wit_bindgen::generate!({ world: "tracker", path: "../../../wit" });

use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct SentLine {
    sync_name: String,
    artifact: String,
    digest: String,
}

#[derive(Serialize, Deserialize)]
struct LoadedLine {
    file_name: String,
    artifact: String,
    timestamp: String,
}

/// Each non-blank line of `text` as a `T`.
fn lines<T: for<'de> Deserialize<'de>>(text: &str) -> Result<Vec<T>, LineError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let row =
            serde_json::from_str(line).map_err(|e| LineError { line: u32::try_from(i + 1).unwrap_or(u32::MAX), message: e.to_string() })?;
        out.push(row);
    }
    Ok(out)
}

fn line_of(value: &impl Serialize) -> String {
    // Plain strings and a derived struct: serialising cannot fail.
    format!("{}\n", serde_json::to_string(value).unwrap_or_default())
}

struct JsonLines;

impl Guest for JsonLines {
    fn read_sent(text: String) -> Result<Vec<Sent>, LineError> {
        Ok(lines::<SentLine>(&text)?.into_iter().map(|r| Sent { sync_name: r.sync_name, artifact: r.artifact, digest: r.digest }).collect())
    }

    fn format_sent(row: Sent, _new_file: bool) -> String {
        line_of(&SentLine { sync_name: row.sync_name, artifact: row.artifact, digest: row.digest })
    }

    fn read_loaded(text: String) -> Result<Vec<Loaded>, LineError> {
        Ok(lines::<LoadedLine>(&text)?
            .into_iter()
            .map(|r| Loaded { file_name: r.file_name, artifact: r.artifact, timestamp: r.timestamp })
            .collect())
    }

    fn format_loaded(row: Loaded, _new_file: bool) -> String {
        line_of(&LoadedLine { file_name: row.file_name, artifact: row.artifact, timestamp: row.timestamp })
    }
}

export!(JsonLines);
