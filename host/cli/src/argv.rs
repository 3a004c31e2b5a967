//! The command line before clap reads it, and the log level it settles on.
//!
//! `-v` takes a level only when a level follows it: `-v debug`, `-vinfo` and `--verbosity 8`
//! become `--verbosity=LEVEL`, while a bare `-v` (clap gives it `debug`) never takes the next
//! argument, so `ferry mirror -v gather one.list …` reads `one.list` as the sources file.
//! `--existing-from-checkpoint a:1, b:2`, as ace-dt's help writes it, is one list.

use std::ffi::OsString;

use crate::args::Level;

/// The flag whose list ace-dt's documentation writes with spaces after the commas.
const CHECKPOINT: &str = "--existing-from-checkpoint";

/// The arguments with each `-v LEVEL`, `-vLEVEL` and `--verbosity LEVEL` joined into
/// `--verbosity=LEVEL`; everything after `--` is left as it is.
pub(crate) fn normalize(args: impl IntoIterator<Item = OsString>) -> Vec<OsString> {
    let mut out = Vec::new();
    let mut args = args.into_iter().peekable();
    while let Some(arg) = args.next() {
        let text = arg.to_str().unwrap_or_default();
        if text == "--" {
            out.push(arg);
            out.extend(args);
            break;
        }
        if text == CHECKPOINT || text.starts_with(&format!("{CHECKPOINT}=")) {
            // ace-dt's documented form `--existing-from-checkpoint a:1, b:2` is two words, the
            // first ending in a comma: the list goes on in the next one.
            let mut joined = text.to_owned();
            if text == CHECKPOINT
                && let Some(value) = args.next()
            {
                joined = format!("{CHECKPOINT}={}", value.to_string_lossy());
            }
            while joined.ends_with(',')
                && let Some(more) = args.next_if(|a| a.to_str().is_some_and(|t| !t.starts_with('-')))
            {
                joined.push_str(&more.to_string_lossy());
            }
            out.push(joined.into());
            continue;
        }
        if text == "-v" || text == "--verbosity" {
            if let Some(level) = args.peek().and_then(|a| a.to_str()).filter(|a| Level::parse(a).is_some()) {
                out.push(format!("--verbosity={level}").into());
                args.next();
                continue;
            }
        } else if let Some(level) = text.strip_prefix("-v").filter(|l| !l.starts_with('=') && Level::parse(l).is_some()) {
            out.push(format!("--verbosity={level}").into());
            continue;
        }
        out.push(arg);
    }
    out
}

/// The log level: `-v`, else `FERRY_VERBOSITY`, else `ACE_DT_VERBOSITY`, else `warn`. A
/// variable that names no level is an error naming it and the levels.
pub(crate) fn level(flag: Option<Level>, var: impl Fn(&str) -> Option<String>) -> Result<Level, String> {
    if let Some(level) = flag {
        return Ok(level);
    }
    for name in ["FERRY_VERBOSITY", "ACE_DT_VERBOSITY"] {
        match var(name) {
            Some(v) if !v.is_empty() => {
                return Level::parse(&v).ok_or_else(|| {
                    format!("{name}={} is not a log level; the levels are {}", ferry_oci::quoted(v.as_bytes()), Level::NAMES)
                });
            }
            _ => {}
        }
    }
    Ok(Level::Warn)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(args: &[&str]) -> Vec<String> {
        normalize(args.iter().map(OsString::from)).into_iter().map(|a| a.into_string().unwrap()).collect()
    }

    #[test]
    fn v_takes_a_level_only_when_one_follows() {
        assert_eq!(norm(&["ferry", "mirror", "-v", "gather", "one.list"]), ["ferry", "mirror", "-v", "gather", "one.list"]);
        assert_eq!(norm(&["ferry", "-v", "DEBUG", "config"]), ["ferry", "--verbosity=DEBUG", "config"]);
        assert_eq!(norm(&["ferry", "--verbosity", "8", "config"]), ["ferry", "--verbosity=8", "config"]);
        assert_eq!(norm(&["ferry", "-vinfo", "config"]), ["ferry", "--verbosity=info", "config"]);
        assert_eq!(norm(&["ferry", "-v=info", "--verbosity=warn"]), ["ferry", "-v=info", "--verbosity=warn"]);
        assert_eq!(norm(&["ferry", "-v", "info.list"]), ["ferry", "-v", "info.list"]);
        assert_eq!(norm(&["ferry", "--", "-v", "info"]), ["ferry", "--", "-v", "info"]);
    }

    #[test]
    fn a_checkpoint_list_goes_on_after_a_trailing_comma() {
        let joined = ["ferry", "--existing-from-checkpoint=a:1,b:2", "reg/x", "out.tar"];
        assert_eq!(norm(&["ferry", "--existing-from-checkpoint", "a:1,", "b:2", "reg/x", "out.tar"]), joined);
        assert_eq!(norm(&["ferry", "--existing-from-checkpoint=a:1,", "b:2", "reg/x", "out.tar"]), joined);
        assert_eq!(
            norm(&["ferry", "--existing-from-checkpoint", "a:1, b:2", "reg/x"]),
            ["ferry", "--existing-from-checkpoint=a:1, b:2", "reg/x"]
        );
        // No comma at the end: the next word is not the list's.
        assert_eq!(norm(&["ferry", "--existing-from-checkpoint", "a:1", "b:2"]), ["ferry", "--existing-from-checkpoint=a:1", "b:2"]);
        assert_eq!(norm(&["ferry", "--existing-from-checkpoint", "a:1,", "-q"]), ["ferry", "--existing-from-checkpoint=a:1,", "-q"]);
    }

    #[test]
    fn the_flag_then_ferry_then_acedt_variable() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned())
        };
        assert_eq!(level(Some(Level::Info), env(&[("FERRY_VERBOSITY", "bogus")])), Ok(Level::Info));
        assert_eq!(level(None, env(&[])), Ok(Level::Warn));
        assert_eq!(level(None, env(&[("ACE_DT_VERBOSITY", "12")])), Ok(Level::Debug));
        assert_eq!(level(None, env(&[("FERRY_VERBOSITY", "error"), ("ACE_DT_VERBOSITY", "12")])), Ok(Level::Error));
        let e = level(None, env(&[("ACE_DT_VERBOSITY", "loud")])).unwrap_err();
        assert!(e.starts_with("ACE_DT_VERBOSITY=\"loud\" is not a log level") && e.contains("error, warn, info, debug"), "{e}");
    }
}
