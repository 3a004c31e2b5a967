//! Keeping scatter, clone and unarchive inside what the operator named.
//!
//! A gather index comes from the other side of the gap, so its source annotations are
//! outside input. Two checks keep them from steering a placement:
//!
//! - [`check_sources`]: every source annotation must be a reference exactly as ferry renders
//!   it (at most [`MAX_SOURCE_BYTES`], no control or bidirectional-override characters). A
//!   rule never sees one that is not; the artifact is refused with [`Error::BadSource`].
//! - [`LayoutRoots`]: an `oci:` destination is allowed only inside a layout directory the
//!   operator wrote (in the mapping argument, mapping file or plugin parameters), never one
//!   that came out of an annotation. [`crate::place::plan`] checks every destination
//!   against them.
//!
//! The built-in rules only join strings: none resolves `.` or `..`, so what a rule gives is
//! what is checked and what is used.

use std::path::Path;

use ferry_oci::{ImageRef, quoted};

use crate::error::Error;
use crate::place::Artifact;

/// The longest source annotation accepted, in bytes.
pub const MAX_SOURCE_BYTES: usize = 4096;

/// Refuses the first artifact whose source annotation is not a reference exactly as written.
/// Artifacts without the annotation pass (rules that need one say so).
pub fn check_sources(artifacts: &[Artifact]) -> Result<(), Error> {
    for a in artifacts {
        if let Some(value) = a.descriptor.annotations.get(ferry_oci::annotations::SOURCE)
            && let Err(reason) = check_source(value)
        {
            return Err(Error::BadSource { digest: a.descriptor.digest.to_string(), value: quoted(value.as_bytes()), reason });
        }
    }
    Ok(())
}

/// Why `value` cannot be a source reference, if it cannot.
fn check_source(value: &str) -> Result<(), String> {
    if value.len() > MAX_SOURCE_BYTES {
        return Err(format!("it is {} bytes long, more than {MAX_SOURCE_BYTES}", value.len()));
    }
    if let Some(c) = value.chars().find(|c| c.is_control() || is_bidi(*c)) {
        return Err(format!("it holds the character U+{:04X}", u32::from(c)));
    }
    let parsed: ImageRef = value.parse().map_err(|e: ferry_oci::ReferenceError| e.to_string())?;
    let rendered = parsed.to_string();
    if rendered != value {
        return Err(format!("it reads as the reference {}, which is not what is written", quoted(rendered.as_bytes())));
    }
    if let ImageRef::Layout(l) = &parsed
        && !clean_components(&l.path.to_string_lossy())
    {
        return Err("its layout path has an empty, `.` or `..` component".to_owned());
    }
    Ok(())
}

/// Bidirectional formatting characters, which make text display in another order than it
/// reads.
fn is_bidi(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Whether every `/`-separated component after the first is a plain name.
fn clean_components(path: &str) -> bool {
    let mut parts = path.split('/');
    parts.next();
    parts.all(|p| !p.is_empty() && p != "." && p != "..")
}

/// The OCI layout directories the operator named: the only places an `oci:` destination may
/// be.
#[derive(Clone, Debug, Default)]
pub struct LayoutRoots {
    roots: Vec<String>,
}

impl LayoutRoots {
    /// No layout may be written.
    pub fn none() -> LayoutRoots {
        LayoutRoots::default()
    }

    /// Adds every `oci:PATH` written in `text` (a mapping argument, a mapping file, a
    /// plugin parameter). A path ends at whitespace, a comma, a quote or a template action
    /// (`{`), so `oci:/out/{{.Tag}}` names `/out`.
    pub fn add_text(&mut self, text: &str) {
        let mut rest = text;
        while let Some(at) = rest.find("oci:") {
            let after = &rest[at..];
            let end = after
                .char_indices()
                .skip(4)
                .find(|(_, c)| c.is_whitespace() || matches!(c, ',' | '"' | '\'' | '`' | '{' | '}'))
                .map_or(after.len(), |(i, _)| i);
            if let Ok(ImageRef::Layout(l)) = after[..end].parse::<ImageRef>() {
                self.add(&l.path);
            }
            rest = &after[4..];
        }
    }

    /// Adds the layout directory `path`.
    pub fn add(&mut self, path: &Path) {
        let text = path.to_string_lossy();
        let trimmed = text.trim_end_matches('/');
        let root = if trimmed.is_empty() && text.starts_with('/') { "/" } else { trimmed };
        if !root.is_empty() && !self.roots.iter().any(|r| r == root) {
            self.roots.push(root.to_owned());
        }
    }

    /// Whether `path` is a named layout directory or lies under one, each component below it
    /// a plain name (no `.`, `..` or empty component).
    pub fn allows(&self, path: &Path) -> bool {
        let path = path.to_string_lossy();
        self.roots.iter().any(|root| {
            if *path == **root {
                return true;
            }
            let below =
                if root == "/" { path.strip_prefix('/') } else { path.strip_prefix(root.as_str()).and_then(|r| r.strip_prefix('/')) };
            below.is_some_and(|b| b.split('/').all(|p| !p.is_empty() && p != "." && p != ".."))
        })
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::{LayoutRoots, check_source};

    #[test]
    fn sources_must_be_references_as_written() {
        for good in ["reg.example.com/a/b:v1", "127.0.0.1:5000/low/source1:v1", "oci:/data/layout:v1", "oci:./dir"] {
            assert_eq!(check_source(good), Ok(()), "{good}");
        }
        for bad in [
            "",
            "reg.example.com/mirror/../victim/other",
            "reg.example.com/x/../oci:/some/path",
            "oci:/data/../etc",
            "oci:/data//x",
            "reg.example.com/a\u{202E}b",
            "reg.example.com/a\nb",
            " reg.example.com/a",
            "reg.example.com/A",
        ] {
            assert!(check_source(bad).is_err(), "{bad:?}");
        }
        assert!(check_source(&format!("reg.example.com/{}", "a".repeat(5000))).is_err());
    }

    #[test]
    fn layout_roots_come_from_operator_text() {
        let mut roots = LayoutRoots::none();
        roots.add_text("reg/low/,oci:/out/mirror:v1\n# comment\nx,oci:/tpl/{{.Tag}}\noci:rel/dir");
        assert!(roots.allows(Path::new("/out/mirror")));
        assert!(roots.allows(Path::new("/out/mirror/a/b")));
        assert!(roots.allows(Path::new("/tpl/x")));
        assert!(roots.allows(Path::new("rel/dir")));
        assert!(!roots.allows(Path::new("/out/mirror/../x")));
        assert!(!roots.allows(Path::new("/out/mirrorx")));
        assert!(!roots.allows(Path::new("/out")));
        assert!(!roots.allows(Path::new("/some/path")));
        assert!(!LayoutRoots::none().allows(Path::new("/out/mirror")));
    }
}
