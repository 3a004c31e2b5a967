//! The template helpers `Tag`, `Repository`, `Registry` and `Package` (spec §6.3), and the
//! reference parser behind them: ORAS's `registry.ParseReference`, which splits without
//! normalising (no `docker.io/library/` added, no `latest` assumed).
//!
//! `REGISTRY/REPOSITORY[:TAG][@DIGEST]`: the registry is everything before the first `/`; a
//! digest wins over a tag (`repo:tag@sha256:…` has the reference `sha256:…`).

use gotmpl::{Result, TemplateError, Value};

use crate::sprig::{arity, text};

/// A reference split into its parts; `reference` is the tag, the digest or empty.
#[derive(Debug, PartialEq, Eq)]
pub struct Reference<'a> {
    pub registry: &'a str,
    pub repository: &'a str,
    pub reference: &'a str,
}

/// Splits and validates `text` as ORAS does; the error says what is wrong.
pub fn parse(text: &str) -> std::result::Result<Reference<'_>, String> {
    let (registry, path) = text.split_once('/').ok_or("missing registry or repository")?;
    let (repository, reference) = if let Some((repo, digest)) = path.split_once('@') {
        validate_digest(digest)?;
        // A digest makes any tag beside it irrelevant.
        (repo.split_once(':').map_or(repo, |(r, _)| r), digest)
    } else if let Some((repo, tag)) = path.split_once(':') {
        validate_tag(tag)?;
        (repo, tag)
    } else {
        (path, "")
    };
    validate_registry(registry)?;
    validate_repository(repository)?;
    Ok(Reference { registry, repository, reference })
}

/// `host[:port]`: a name or IPv4 address, or a bracketed IPv6 address.
fn validate_registry(registry: &str) -> std::result::Result<(), String> {
    let bad = || format!("invalid registry {registry:?}");
    let (host, port) = if let Some(rest) = registry.strip_prefix('[') {
        let (v6, after) = rest.split_once(']').ok_or_else(bad)?;
        if v6.is_empty() || !v6.chars().all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.') {
            return Err(bad());
        }
        let port = if after.is_empty() { None } else { Some(after.strip_prefix(':').ok_or_else(bad)?) };
        (v6, port)
    } else {
        match registry.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (registry, None),
        }
    };
    let host_ok =
        !host.is_empty() && host.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')) || registry.starts_with('[');
    let port_ok = port.is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()));
    if host_ok && port_ok { Ok(()) } else { Err(bad()) }
}

/// The distribution grammar: lowercase path components `[a-z0-9]+` joined by `.`, `_`,
/// `__` or any number of `-`, separated by `/`.
fn validate_repository(repository: &str) -> std::result::Result<(), String> {
    let component_ok = |c: &str| {
        let b = c.as_bytes();
        let alnum = |x: &u8| x.is_ascii_lowercase() || x.is_ascii_digit();
        if b.is_empty() || !alnum(&b[0]) || !alnum(&b[b.len() - 1]) {
            return false;
        }
        // Between two alphanumeric runs: one `.`, one or two `_`, or `-`s.
        c.split(|ch: char| ch.is_ascii_lowercase() || ch.is_ascii_digit())
            .all(|sep| sep.is_empty() || sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|x| x == b'-'))
    };
    if repository.split('/').all(component_ok) {
        Ok(())
    } else {
        Err(format!("invalid repository {repository:?} (lowercase letters, digits and separators)"))
    }
}

/// `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
fn validate_tag(tag: &str) -> std::result::Result<(), String> {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let b = tag.as_bytes();
    if !b.is_empty() && b.len() <= 128 && word(b[0]) && b[1..].iter().all(|&x| word(x) || x == b'.' || x == b'-') {
        Ok(())
    } else {
        Err(format!("invalid tag {tag:?}"))
    }
}

/// `algorithm:hex`, for the algorithms go-digest knows, with their exact lengths.
fn validate_digest(digest: &str) -> std::result::Result<(), String> {
    let bad = |why: &str| Err(format!("invalid digest {digest:?}: {why}"));
    let Some((algorithm, hex)) = digest.split_once(':') else { return bad("no algorithm") };
    let len = match algorithm {
        "sha256" => 64,
        "sha384" => 96,
        "sha512" => 128,
        _ => return bad("unsupported algorithm"),
    };
    if hex.len() != len || !hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        return bad(&format!("expected {len} lowercase hex digits"));
    }
    Ok(())
}

/// Registers the four helpers.
pub fn register(m: &mut gotmpl::FuncMap) {
    fn helper(m: &mut gotmpl::FuncMap, name: &'static str, part: fn(&str, &Reference<'_>) -> String) {
        m.insert(
            name.into(),
            std::sync::Arc::new(move |args: &[Value]| -> Result<Value> {
                arity(name, args, 1)?;
                let text = text(&args[0]);
                let parsed = parse(&text).map_err(|why| TemplateError::Exec(format!("{name}: invalid reference {text:?}: {why}")))?;
                Ok(Value::String(part(&text, &parsed).into()))
            }),
        );
    }
    helper(m, "Tag", |_, r| r.reference.to_owned());
    helper(m, "Repository", |_, r| r.repository.to_owned());
    helper(m, "Registry", |_, r| r.registry.to_owned());
    // The text after `registry/`, tag and digest kept as written.
    helper(m, "Package", |text, r| text[r.registry.len() + 1..].to_owned());
}
