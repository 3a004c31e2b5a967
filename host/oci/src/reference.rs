//! References: `REGISTRY/REPOSITORY[:TAG|@DIGEST|:TAG@DIGEST]` and `oci:PATH[:TAG|@DIGEST]`.
//!
//! The grammar follows ace-dt (spec §1.0): the registry is mandatory (no Docker Hub
//! defaulting), repositories follow the distribution grammar, tags are `[\w][\w.-]{0,127}`.
//! Unlike ace-dt, a `:TAG@DIGEST` reference keeps its tag for display; the digest decides.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use crate::digest::{Digest, DigestError};

/// A registry reference.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Reference {
    /// Registry host with optional port, as written (`docker.io`, `127.0.0.1:5000`).
    pub registry: String,
    /// Repository path (`library/alpine`).
    pub repository: String,
    /// Tag, if one was written.
    pub tag: Option<String>,
    /// Digest, if one was written; it wins over the tag.
    pub digest: Option<Digest>,
}

/// A local OCI image-layout reference, `oci:PATH[:TAG|@DIGEST]`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct LayoutRef {
    /// The layout directory.
    pub path: PathBuf,
    /// Tag (matched against `org.opencontainers.image.ref.name` in `index.json`).
    pub tag: Option<String>,
    /// Digest.
    pub digest: Option<Digest>,
}

/// Anything ferry accepts where an image is named.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ImageRef {
    /// A repository in a registry.
    Registry(Reference),
    /// An OCI image-layout directory.
    Layout(LayoutRef),
}

/// Why a reference was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReferenceError {
    /// Empty input.
    #[error("invalid reference: empty")]
    Empty,
    /// No `/` separating registry and repository.
    #[error("invalid reference {}: missing registry or repository (write REGISTRY/REPOSITORY[:TAG])", crate::quoted(.0.as_bytes()))]
    MissingRegistry(String),
    /// Registry host is not `host[:port]`.
    #[error("invalid reference {}: invalid registry {}", crate::quoted(.0.as_bytes()), crate::quoted(.1.as_bytes()))]
    Registry(String, String),
    /// Repository does not match the distribution grammar.
    #[error("invalid reference {}: invalid repository {} (lowercase letters, digits and separators . _ __ - /)", crate::quoted(.0.as_bytes()), crate::quoted(.1.as_bytes()))]
    Repository(String, String),
    /// Tag does not match `[\w][\w.-]{{0,127}}`.
    #[error("invalid reference {}: invalid tag {}", crate::quoted(.0.as_bytes()), crate::quoted(.1.as_bytes()))]
    Tag(String, String),
    /// Digest part is invalid.
    #[error("invalid reference {}: {}", crate::quoted(.0.as_bytes()), .1)]
    Digest(String, DigestError),
    /// `oci:` with nothing after it.
    #[error("invalid reference {}: missing layout path after oci:", crate::quoted(.0.as_bytes()))]
    LayoutPath(String),
}

/// Default tag when a command needs one and none was given.
pub(crate) const DEFAULT_TAG: &str = "latest";

impl Reference {
    /// The tag or digest string to resolve: digest if present, else tag, else `latest`.
    pub fn reference_or_default(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.clone(),
            (None, None) => DEFAULT_TAG.to_owned(),
        }
    }

    /// `registry/repository` without tag or digest.
    pub fn repository_name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// The same repository at another tag.
    pub fn with_tag(&self, tag: &str) -> Reference {
        Reference { tag: Some(tag.to_owned()), digest: None, ..self.clone() }
    }

    /// The same repository at a digest.
    pub fn with_digest(&self, digest: &Digest) -> Reference {
        Reference { tag: None, digest: Some(digest.clone()), ..self.clone() }
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

impl FromStr for Reference {
    type Err = ReferenceError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty() {
            return Err(ReferenceError::Empty);
        }
        let (registry, rest) = s.split_once('/').ok_or_else(|| ReferenceError::MissingRegistry(s.to_owned()))?;
        if !valid_registry(registry) {
            return Err(ReferenceError::Registry(s.to_owned(), registry.to_owned()));
        }
        let (rest, digest) = match rest.split_once('@') {
            Some((r, d)) => (r, Some(d.parse::<Digest>().map_err(|e| ReferenceError::Digest(s.to_owned(), e))?)),
            None => (rest, None),
        };
        let (repository, tag) = match rest.rsplit_once(':') {
            Some((r, t)) => (r, Some(t)),
            None => (rest, None),
        };
        if !valid_repository(repository) {
            return Err(ReferenceError::Repository(s.to_owned(), repository.to_owned()));
        }
        if let Some(t) = tag
            && !valid_tag(t)
        {
            return Err(ReferenceError::Tag(s.to_owned(), t.to_owned()));
        }
        Ok(Reference { registry: registry.to_owned(), repository: repository.to_owned(), tag: tag.map(str::to_owned), digest })
    }
}

impl ImageRef {
    /// The tag, if one was written.
    pub fn tag(&self) -> Option<&str> {
        match self {
            ImageRef::Registry(r) => r.tag.as_deref(),
            ImageRef::Layout(l) => l.tag.as_deref(),
        }
    }

    /// The digest, if one was written.
    pub fn digest(&self) -> Option<&Digest> {
        match self {
            ImageRef::Registry(r) => r.digest.as_ref(),
            ImageRef::Layout(l) => l.digest.as_ref(),
        }
    }

    /// Neither a tag nor a digest was written: a repository or layout alone.
    pub fn is_bare(&self) -> bool {
        self.tag().is_none() && self.digest().is_none()
    }

    /// The tag or digest string to resolve: digest if present, else tag, else `latest`.
    pub fn reference_or_default(&self) -> String {
        match self {
            ImageRef::Registry(r) => r.reference_or_default(),
            ImageRef::Layout(l) => l.reference_or_default(),
        }
    }

    /// The same repository or layout at `digest`, its tag dropped.
    pub fn with_digest(&self, digest: &Digest) -> ImageRef {
        match self {
            ImageRef::Registry(r) => ImageRef::Registry(r.with_digest(digest)),
            ImageRef::Layout(l) => ImageRef::Layout(LayoutRef { path: l.path.clone(), tag: None, digest: Some(digest.clone()) }),
        }
    }

    /// The same repository or layout at `tag`.
    pub fn with_tag(&self, tag: &str) -> ImageRef {
        match self {
            ImageRef::Registry(r) => ImageRef::Registry(r.with_tag(tag)),
            ImageRef::Layout(l) => ImageRef::Layout(LayoutRef { path: l.path.clone(), tag: Some(tag.to_owned()), digest: None }),
        }
    }
}

impl LayoutRef {
    /// The tag or digest string: digest if present, else tag, else `latest`.
    pub fn reference_or_default(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.clone(),
            (None, None) => DEFAULT_TAG.to_owned(),
        }
    }
}

impl fmt::Display for LayoutRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "oci:{}", self.path.display())?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

impl FromStr for ImageRef {
    type Err = ReferenceError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let Some(rest) = s.strip_prefix("oci:") else {
            return s.parse().map(ImageRef::Registry);
        };
        let (rest, digest) = match rest.rsplit_once('@') {
            Some((r, d)) if !d.contains('/') => (r, Some(d.parse::<Digest>().map_err(|e| ReferenceError::Digest(s.to_owned(), e))?)),
            _ => (rest, None),
        };
        // A tag is what follows the last ':' if it is a valid tag; otherwise the colon is
        // part of the path.
        let (path, tag) = match rest.rsplit_once(':') {
            Some((p, t)) if valid_tag(t) && !p.is_empty() => (p, Some(t.to_owned())),
            _ => (rest, None),
        };
        if path.is_empty() {
            return Err(ReferenceError::LayoutPath(s.to_owned()));
        }
        Ok(ImageRef::Layout(LayoutRef { path: PathBuf::from(path), tag, digest }))
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ImageRef::Registry(r) => r.fmt(f),
            ImageRef::Layout(l) => l.fmt(f),
        }
    }
}

fn valid_registry(s: &str) -> bool {
    if s.is_empty() {
        return false;
    }
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        // IPv6 literal: [addr]:port
        let Some((addr, after)) = rest.split_once(']') else { return false };
        if addr.is_empty() || !addr.bytes().all(|b| b.is_ascii_hexdigit() || b == b':') {
            return false;
        }
        match after {
            "" => ("x", None),
            p => match p.strip_prefix(':') {
                Some(port) => ("x", Some(port)),
                None => return false,
            },
        }
    } else {
        match s.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (s, None),
        }
    };
    let host_ok = !host.is_empty()
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        });
    let port_ok = port.is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()));
    host_ok && port_ok
}

/// Distribution's repository grammar:
/// `[a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*)*`.
fn valid_repository(s: &str) -> bool {
    !s.is_empty() && s.len() <= 255 && s.split('/').all(valid_path_component)
}

fn valid_path_component(c: &str) -> bool {
    let b = c.as_bytes();
    let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        // A separator run: ".", "_", "__", or any number of "-".
        let start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|x| x == b'-');
        if !ok {
            return false;
        }
    }
    true
}

/// Whether `s` can be a tag: `[\w][\w.-]{0,127}`.
pub fn valid_tag(s: &str) -> bool {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let b = s.as_bytes();
    !b.is_empty() && b.len() <= 128 && word(b[0]) && b[1..].iter().all(|&x| word(x) || x == b'.' || x == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(s: &str) -> Reference {
        s.parse().unwrap()
    }

    #[test]
    fn parses_registry_references() {
        let x = r("127.0.0.1:5000/low/source1:v1");
        assert_eq!((x.registry.as_str(), x.repository.as_str(), x.tag.as_deref()), ("127.0.0.1:5000", "low/source1", Some("v1")));
        assert_eq!(x.reference_or_default(), "v1");
        let d = format!("sha256:{}", "a".repeat(64));
        let y = r(&format!("quay.io/ceph/ceph:v16@{d}"));
        assert_eq!(y.reference_or_default(), d);
        assert_eq!(y.to_string(), format!("quay.io/ceph/ceph:v16@{d}"));
        assert_eq!(r("docker.io/alpine").reference_or_default(), "latest");
        assert_eq!(r("[::1]:5000/a/b").registry, "[::1]:5000");
        assert_eq!(r("localhost/a__b/c-d/e---f.g_h").repository, "a__b/c-d/e---f.g_h");
    }

    #[test]
    fn rejects_bad_references() {
        for bad in [
            "alpine",
            "docker.io/Alpine",
            "docker.io/alpine:",
            "docker.io/alpine ",
            "docker.io/a..b",
            "docker.io/a___b",
            "docker.io/-a",
            "docker.io/a/",
            "host:99x/a",
            "docker.io/alpine:-bad",
            "docker.io/alpine@sha256:1234",
            "",
            "# x",
        ] {
            assert!(bad.parse::<Reference>().is_err(), "{bad:?} should be rejected");
        }
        assert!(format!("docker.io/a:{}", "t".repeat(129)).parse::<Reference>().is_err());
    }

    #[test]
    fn parses_layout_references() {
        let ImageRef::Layout(l) = "oci:/tmp/x:v1".parse().unwrap() else { panic!() };
        assert_eq!((l.path.to_str().unwrap(), l.tag.as_deref()), ("/tmp/x", Some("v1")));
        let ImageRef::Layout(l) = "oci:./dir".parse().unwrap() else { panic!() };
        assert_eq!((l.path.to_str().unwrap(), l.tag), ("./dir", None));
        let ImageRef::Layout(l) = "oci:C:\\x".parse().unwrap() else { panic!() };
        assert_eq!(l.path.to_str().unwrap(), "C:\\x");
        assert!("oci:".parse::<ImageRef>().is_err());
        assert!(matches!("reg.io/a:b".parse::<ImageRef>().unwrap(), ImageRef::Registry(_)));
    }
}
