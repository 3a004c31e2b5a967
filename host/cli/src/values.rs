//! Values of arguments with a type: each is parsed by a clap value parser, so a bad one is a
//! usage error (exit 2) with clap's message naming the argument.

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::ValueEnum;
use ferry_oci::Platform;

/// `-v` levels (ace-dt's numbers too).
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub(crate) enum Level {
    /// Errors only
    #[value(alias = "0")]
    Error,
    /// Warnings and errors
    #[value(alias = "4")]
    Warn,
    /// What each step does
    #[value(alias = "8")]
    Info,
    /// Everything
    #[value(alias = "12")]
    Debug,
}

impl Level {
    /// Every level as an operator may write it, for messages.
    pub(crate) const NAMES: &str = "error, warn, info, debug (or ace-dt's 0, 4, 8, 12)";

    /// A level written in an environment variable (ignoring case, ace-dt's numbers too).
    pub(crate) fn parse(text: &str) -> Option<Level> {
        <Level as ValueEnum>::from_str(text.trim(), true).ok()
    }
}

/// A byte count as ace-dt (Go's humanize) writes it: `1048576`, `64k`, `1M` (10^6), `1Mi` or
/// `1MiB` (2^20), case-insensitive, an optional `B`.
pub(crate) fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (number, unit) = (&t[..split], t[split..].trim().to_ascii_lowercase());
    let unit = unit.strip_suffix('b').unwrap_or(&unit);
    let (power, binary) = match unit.strip_suffix('i') {
        Some(u) => (u, true),
        None => (unit, false),
    };
    let exponent = match power {
        "" if !binary => 0,
        "k" => 1,
        "m" => 2,
        "g" => 3,
        "t" => 4,
        "p" => 5,
        _ => return Err(format!("{text:?} is not a size (e.g. 1048576, 64Ki, 1MiB, 1G)")),
    };
    let base: f64 = if binary { 1024.0 } else { 1000.0 };
    let value: f64 = number.parse().map_err(|_| format!("{text:?} is not a size (e.g. 1048576, 64Ki, 1MiB, 1G)"))?;
    let bytes = value * base.powi(exponent);
    if !(0.0..1.8e19).contains(&bytes) {
        return Err(format!("{text:?} is too large"));
    }
    #[expect(clippy::cast_possible_truncation, clippy::cast_sign_loss, reason = "range checked above")]
    Ok(bytes.round() as u64)
}

/// A `--block-size` read buffer: a size that fits in memory's address space.
pub(crate) fn parse_buffer(text: &str) -> Result<usize, String> {
    usize::try_from(parse_size(text)?).map_err(|_| format!("{text:?} is too large"))
}

/// One `-p` value: a platform, or `all`.
#[derive(Clone, Debug)]
pub(crate) enum PlatformArg {
    /// Every platform (ace-dt matched only platform-less descriptors).
    All,
    /// This one.
    One(Platform),
}

pub(crate) fn parse_platform(text: &str) -> Result<PlatformArg, ferry_oci::PlatformError> {
    if text == "all" { Ok(PlatformArg::All) } else { text.parse().map(PlatformArg::One) }
}

/// The platforms to keep; empty when `all` was given anywhere, or nothing.
pub(crate) fn platforms(values: &[PlatformArg]) -> Vec<Platform> {
    if values.iter().any(|v| matches!(v, PlatformArg::All)) {
        return Vec::new();
    }
    values.iter().filter_map(|v| if let PlatformArg::One(p) = v { Some(p.clone()) } else { None }).collect()
}

pub(crate) fn parse_annotation(text: &str) -> Result<(String, String), String> {
    let (k, v) = text.split_once('=').ok_or_else(|| format!("{text:?} should be key=value"))?;
    if k.is_empty() {
        return Err(format!("{text:?} has an empty key"));
    }
    Ok((k.to_owned(), v.to_owned()))
}

/// The gather index annotations, a later key winning.
pub(crate) fn annotations(values: &[(String, String)]) -> BTreeMap<String, String> {
    values.iter().cloned().collect()
}

/// One `FILE:OFFSET` of a comma-separated list, the spaces around it dropped (ace-dt's help
/// writes `a:1, b:2`).
pub(crate) fn parse_checkpoint(text: &str) -> Result<(PathBuf, u64), ferry_archive::ledger::LedgerError> {
    ferry_archive::ledger::parse_checkpoint_arg(text.trim())
}

/// A diff output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Format {
    Table,
    Csv,
    Json,
}

/// One `-o TYPE[=FILE]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Output {
    pub(crate) format: Format,
    /// Standard output when `None`.
    pub(crate) file: Option<PathBuf>,
}

pub(crate) fn parse_output(text: &str) -> Result<Output, String> {
    let (kind, file) = match text.split_once('=') {
        Some((k, f)) => (k, Some(f)),
        None => (text, None),
    };
    let format = match kind {
        "table" => Format::Table,
        "csv" => Format::Csv,
        "json" => Format::Json,
        _ => return Err(format!("unknown type {kind:?} (expected table, csv or json, optionally =FILE)")),
    };
    if file == Some("") {
        return Err("the file name is empty".to_owned());
    }
    Ok(Output { format, file: file.map(PathBuf::from) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_types_and_files() {
        assert_eq!(parse_output("csv").unwrap(), Output { format: Format::Csv, file: None });
        assert_eq!(parse_output("json=a=b.json").unwrap(), Output { format: Format::Json, file: Some("a=b.json".into()) });
        assert!(parse_output("yaml").unwrap_err().contains("unknown type \"yaml\""));
        assert!(parse_output("table=").is_err());
    }

    #[test]
    fn platforms_all_and_annotations() {
        let p = |t: &str| parse_platform(t).unwrap();
        assert!(platforms(&[p("linux/amd64"), p("all")]).is_empty());
        assert_eq!(platforms(&[p("linux/amd64"), p("linux/arm64/v8")]).len(), 2);
        assert!(parse_platform("linux").is_err());
        assert_eq!(parse_annotation("a=b=c").unwrap(), ("a".to_owned(), "b=c".to_owned()));
        assert!(parse_annotation("novalue").is_err() && parse_annotation("=x").is_err());
        assert_eq!(annotations(&[("k".into(), "1".into()), ("k".into(), "2".into())])["k"], "2");
    }

    #[test]
    fn sizes_as_acedt_reads_them() {
        for (text, bytes) in [
            ("0", 0),
            ("1048576", 1 << 20),
            ("1MiB", 1 << 20),
            ("1Mi", 1 << 20),
            ("1M", 1_000_000),
            ("1G", 1_000_000_000),
            ("1Gi", 1 << 30),
            ("64k", 64_000),
            ("64 KiB", 64 << 10),
            ("1.5Ki", 1536),
            ("2gib", 2 << 30),
        ] {
            assert_eq!(parse_size(text), Ok(bytes), "{text}");
        }
        for bad in ["", "MiB", "1X", "1i", "-1", "1e3"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
    }
}
