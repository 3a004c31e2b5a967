//! Label selectors (`-l/--selector`), in Kubernetes' syntax: one selector is a comma-separated
//! list of requirements that must all hold (`component=core,module!=test`); several
//! `-l` flags are alternatives, any of which may match.
//!
//! ace-dt split `-l a=b,c=d` into two selectors and ORed them, and mangled set-based
//! requirements (`tier in (a,b)`); here the commas inside parentheses belong to the set
//! (spec §13 item 25).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

/// One requirement on a label.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Requirement {
    /// `key`
    Exists(String),
    /// `!key`
    Absent(String),
    /// `key=value`, `key==value`, `key in (a,b)`
    In(String, BTreeSet<String>),
    /// `key!=value`, `key notin (a,b)`: also true when the label is absent.
    NotIn(String, BTreeSet<String>),
}

/// A selector: every requirement must hold. The empty selector matches everything.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selector {
    text: String,
    requirements: Vec<Requirement>,
}

/// A selector that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid selector {}: {reason}", ferry_oci::quoted(text.as_bytes()))]
pub struct SelectorError {
    text: String,
    reason: String,
}

impl Selector {
    /// Whether `labels` satisfy every requirement.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.requirements.iter().all(|r| match r {
            Requirement::Exists(k) => labels.contains_key(k),
            Requirement::Absent(k) => !labels.contains_key(k),
            Requirement::In(k, values) => labels.get(k).is_some_and(|v| values.contains(v)),
            Requirement::NotIn(k, values) => labels.get(k).is_none_or(|v| !values.contains(v)),
        })
    }
}

/// Whether `labels` pass: no selectors, or any one of them matches.
pub fn any_matches(selectors: &[Selector], labels: &BTreeMap<String, String>) -> bool {
    selectors.is_empty() || selectors.iter().any(|s| s.matches(labels))
}

/// The selectors as `-l` would be given, for messages: `a=b -l c!=d`.
pub fn selector_text(selectors: &[Selector]) -> String {
    selectors.iter().map(ToString::to_string).collect::<Vec<_>>().join(" -l ")
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl FromStr for Selector {
    type Err = SelectorError;

    fn from_str(text: &str) -> Result<Selector, SelectorError> {
        let fail = |reason: String| SelectorError { text: text.to_owned(), reason };
        let requirements = split_top_level(text)
            .map_err(fail)?
            .into_iter()
            .map(|part| parse_requirement(part.trim()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(fail)?;
        Ok(Selector { text: text.to_owned(), requirements })
    }
}

/// Splits at commas outside parentheses; an empty text has no parts.
fn split_top_level(text: &str) -> Result<Vec<&str>, String> {
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    let (mut parts, mut depth, mut start) = (Vec::new(), 0usize, 0);
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.checked_sub(1).ok_or("unbalanced ')'")?,
            ',' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Err("unbalanced '('".to_owned());
    }
    parts.push(&text[start..]);
    Ok(parts)
}

fn parse_requirement(part: &str) -> Result<Requirement, String> {
    if part.is_empty() {
        return Err("empty requirement".to_owned());
    }
    if let Some(key) = part.strip_prefix('!') {
        return Ok(Requirement::Absent(key_of(key.trim())?));
    }
    for (op, negated) in [(" notin ", true), (" in ", false)] {
        if let Some((key, set)) = part.split_once(op) {
            let set = set.trim();
            let inner = set.strip_prefix('(').and_then(|s| s.strip_suffix(')')).ok_or(format!("{set:?} should be (value,...)"))?;
            let values = inner.split(',').map(|v| value_of(v.trim())).collect::<Result<BTreeSet<_>, _>>()?;
            let key = key_of(key.trim())?;
            return Ok(if negated { Requirement::NotIn(key, values) } else { Requirement::In(key, values) });
        }
    }
    for (op, negated) in [("!=", true), ("==", false), ("=", false)] {
        if let Some((key, value)) = part.split_once(op) {
            let values = BTreeSet::from([value_of(value.trim())?]);
            let key = key_of(key.trim())?;
            return Ok(if negated { Requirement::NotIn(key, values) } else { Requirement::In(key, values) });
        }
    }
    Ok(Requirement::Exists(key_of(part)?))
}

fn key_of(key: &str) -> Result<String, String> {
    let name = key.rsplit_once('/').map_or(key, |(_, n)| n);
    if name.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c)) {
        return Err(format!("{key:?} is not a label key"));
    }
    Ok(key.to_owned())
}

fn value_of(value: &str) -> Result<String, String> {
    if !value.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) {
        return Err(format!("{value:?} is not a label value"));
    }
    Ok(value.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn commas_mean_and() {
        let s: Selector = "component=core,module=test".parse().unwrap();
        assert!(s.matches(&labels(&[("component", "core"), ("module", "test")])));
        assert!(!s.matches(&labels(&[("component", "core")])));
        assert!(!s.matches(&labels(&[("component", "env"), ("module", "test")])));
    }

    #[test]
    fn operators() {
        let l = labels(&[("tier", "web"), ("env", "prod")]);
        for (text, want) in [
            ("tier", true),
            ("!tier", false),
            ("!owner", true),
            ("tier==web", true),
            ("tier!=web", false),
            ("owner!=x", true),
            ("tier in (db, web)", true),
            ("tier in (db,cache)", false),
            ("tier notin (db,cache),env=prod", true),
            ("example.com/team", false),
            ("", true),
        ] {
            let s: Selector = text.parse().unwrap();
            assert_eq!(s.matches(&l), want, "{text}");
        }
    }

    #[test]
    fn alternatives_are_ored() {
        let sels: Vec<Selector> = ["component=core", "component=env"].iter().map(|s| s.parse().unwrap()).collect();
        assert!(any_matches(&sels, &labels(&[("component", "env")])));
        assert!(!any_matches(&sels, &labels(&[("component", "other")])));
        assert!(any_matches(&[], &labels(&[])));
    }

    #[test]
    fn bad_selectors_are_named() {
        for bad in ["a=b,", "tier in (a,b", "tier in a", "=x", "a=b c", "a)"] {
            let e = bad.parse::<Selector>().unwrap_err();
            assert!(e.to_string().contains(&format!("{bad:?}")), "{e}");
        }
    }
}
