//! The checkpoint ledger (spec §3.1): one compact JSON descriptor per line for every blob
//! written, with annotation `vnd.act3-ace.data.offset` = the output position after the blob
//! and its padding; and reading it back for `--existing-from-checkpoint FILE:OFFSET`.

use std::io::{self, BufRead, Write};
use std::path::{Path, PathBuf};

use ferry_oci::{Descriptor, Digest, gojson};

/// The annotation holding a ledger record's offset.
pub const OFFSET: &str = "vnd.act3-ace.data.offset";
/// ferry's annotation holding, in a media set, the data volume the record's entry ends in.
pub const VOLUME: &str = "vnd.ferry.volume";

/// Appends ledger records.
pub struct LedgerWriter<W: Write> {
    out: W,
}

impl<W: Write> LedgerWriter<W> {
    /// Writes records to `out`.
    pub fn new(out: W) -> LedgerWriter<W> {
        LedgerWriter { out }
    }

    /// Records that `desc` was fully written once the output reached `offset` bytes.
    pub fn record(&mut self, desc: &Descriptor, offset: u64) -> io::Result<()> {
        self.record_in(desc, offset, None)
    }

    /// As [`LedgerWriter::record`], in a media set: `volume` is the data volume holding the
    /// entry's last byte ([`VOLUME`]).
    pub fn record_in(&mut self, desc: &Descriptor, offset: u64, volume: Option<u32>) -> io::Result<()> {
        let mut line = desc.clone();
        line.annotations.insert(OFFSET.to_owned(), offset.to_string());
        if let Some(v) = volume {
            line.annotations.insert(VOLUME.to_owned(), v.to_string());
        }
        let mut bytes = gojson::to_vec(&line);
        bytes.push(b'\n');
        self.out.write_all(&bytes)?;
        self.out.flush()
    }
}

/// A ledger could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LedgerError {
    /// `FILE:OFFSET` is malformed.
    #[error("checkpoint {}: expected FILE:OFFSET (e.g. ledger.jsonl:1234)", ferry_oci::quoted(.0.as_bytes()))]
    Argument(String),
    /// The file could not be read.
    #[error("checkpoint file {}", path.display())]
    Io {
        /// The ledger.
        path: PathBuf,
        /// The error.
        #[source]
        source: io::Error,
    },
    /// A line is not a descriptor with an offset.
    #[error("checkpoint file {}:{line}: {message}", path.display())]
    Record {
        /// The ledger.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
}

/// Splits `FILE:OFFSET` at the last `:`, so paths may contain colons.
pub fn parse_checkpoint_arg(arg: &str) -> Result<(PathBuf, u64), LedgerError> {
    let (file, offset) = arg.rsplit_once(':').ok_or_else(|| LedgerError::Argument(arg.to_owned()))?;
    let offset = offset.parse::<u64>().map_err(|_| LedgerError::Argument(arg.to_owned()))?;
    if file.is_empty() {
        return Err(LedgerError::Argument(arg.to_owned()));
    }
    Ok((PathBuf::from(file), offset))
}

/// Digests recorded in the ledger at `path` with an offset at or below `offset`: blobs known
/// to be on the media already. A record's offset is where its blob's entry ends (data and
/// padding), so a blob ending exactly at `offset` is whole. Reading stops at the first record
/// past `offset`; an offset of 0 means nothing.
pub fn delivered_before(path: &Path, offset: u64) -> Result<Vec<Digest>, LedgerError> {
    if offset == 0 {
        return Ok(Vec::new());
    }
    let file = std::fs::File::open(path).map_err(|source| LedgerError::Io { path: path.to_owned(), source })?;
    let mut out = Vec::new();
    for (i, line) in io::BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|source| LedgerError::Io { path: path.to_owned(), source })?;
        if line.trim().is_empty() {
            continue;
        }
        let bad = |message: String| LedgerError::Record { path: path.to_owned(), line: i + 1, message };
        let desc: Descriptor = serde_json::from_str(&line).map_err(|e| bad(format!("not a descriptor: {e}")))?;
        let at = desc
            .annotations
            .get(OFFSET)
            .ok_or_else(|| bad(format!("no {OFFSET} annotation")))?
            .parse::<u64>()
            .map_err(|e| bad(format!("{OFFSET}: {e}")))?;
        if at > offset {
            break;
        }
        out.push(desc.digest);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_and_reads_records() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cp:with:colons.jsonl");
        let a = Descriptor::of_bytes("application/vnd.oci.image.layer.v1.tar+gzip", b"a");
        let b = Descriptor::of_bytes("x", b"b");
        {
            let mut w = LedgerWriter::new(std::fs::File::create(&path).unwrap());
            w.record(&a, 2048).unwrap();
            w.record(&b, 4096).unwrap();
        }
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            text.lines().next().unwrap(),
            format!(
                r#"{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"{}","size":1,"annotations":{{"vnd.act3-ace.data.offset":"2048"}}}}"#,
                a.digest
            )
        );
        assert!(delivered_before(&path, 2047).unwrap().is_empty());
        // A blob whose entry ends exactly at the offset is on the media.
        assert_eq!(delivered_before(&path, 2048).unwrap(), vec![a.digest.clone()]);
        assert_eq!(delivered_before(&path, 4095).unwrap(), vec![a.digest.clone()]);
        assert_eq!(delivered_before(&path, 4096).unwrap().len(), 2);
        assert_eq!(delivered_before(&path, 4097).unwrap().len(), 2);
        assert!(delivered_before(&path, 0).unwrap().is_empty());
        let arg = format!("{}:4096", path.display());
        assert_eq!(parse_checkpoint_arg(&arg).unwrap(), (path.clone(), 4096));
        assert!(parse_checkpoint_arg("nofile").is_err());
        assert!(parse_checkpoint_arg("f:x").is_err());

        std::fs::write(&path, "{\"digest\":\"sha256:00\"}\n").unwrap();
        assert!(delivered_before(&path, 1).unwrap_err().to_string().contains(":1: "));
    }
}
