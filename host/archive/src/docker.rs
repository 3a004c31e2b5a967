//! Docker archives: what `docker save` (before Docker 25) and `podman save --format
//! docker-archive` write, and `skopeo copy … docker-archive:`. `manifest.json` lists the
//! images: `Config` (the image config, named by its digest), `RepoTags`, and `Layers`
//! (uncompressed tars, `<id>/layer.tar`, `<hex>.tar` or links to them), in the order of the
//! config's `rootfs.diff_ids`. A layer's digest is its diff_id.
//!
//! Each image becomes an OCI image manifest: the config's bytes as they are
//! (`application/vnd.oci.image.config.v1+json`), each layer as it is
//! (`application/vnd.oci.image.layer.v1.tar`, digest = diff_id), encoded as Go's
//! `json.Marshal` writes an OCI manifest (no annotations): the same archive always gives the
//! same manifest digest.
//!
//! An archive with an `index.json` (Docker 25 and later write one beside `manifest.json`) is
//! an OCI layout and is not read here.

use std::collections::{HashMap, HashSet};

use ferry_oci::{Descriptor, Digest, Reference, media_type, quoted};
use serde::{Deserialize, Serialize};

use crate::entries::{Member, MemberKind};

/// The largest `manifest.json` read: an entry per image, a few hundred bytes each.
pub const MANIFEST_JSON_MAX_BYTES: u64 = 16 << 20;

/// The largest image config read: real ones are a few KiB, with a long history some 100 KiB.
pub const CONFIG_MAX_BYTES: u64 = 8 << 20;

/// Links followed from one name before giving up.
const MAX_LINKS: usize = 16;

/// The media type of an uncompressed OCI layer.
pub const LAYER_TAR: &str = "application/vnd.oci.image.layer.v1.tar";

/// Why a docker archive cannot be loaded; each names the entry.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DockerFault {
    /// `manifest.json` does not parse as a docker archive's manifest.
    #[error("entry \"manifest.json\": not a docker-archive manifest (a list of Config, RepoTags, Layers): {0}")]
    ManifestJson(serde_json::Error),
    /// `manifest.json` lists no image.
    #[error("entry \"manifest.json\" lists no image")]
    NoImage,
    /// An entry is larger than the limit for entries read whole.
    #[error("entry {name}: {size} bytes, over the {limit}-byte limit for this entry")]
    TooBig {
        /// The entry, quoted.
        name: String,
        /// Its size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// `manifest.json` names an entry that is not in the archive.
    #[error("entry \"manifest.json\", image {image}: {what} {name} is not in the archive")]
    Missing {
        /// The image's position in `manifest.json` (from 1).
        image: usize,
        /// `Config` or `Layers[n]`.
        what: String,
        /// The name, quoted.
        name: String,
    },
    /// A name (or a link's target) that leads out of the archive.
    #[error("entry {name}: path escapes the archive")]
    Escapes {
        /// The entry or name, quoted.
        name: String,
    },
    /// Two entries of the same name.
    #[error("entry {name} appears twice in the archive")]
    Twice {
        /// The entry, quoted.
        name: String,
    },
    /// Links that do not end at a file.
    #[error("entry {name}: more than {MAX_LINKS} links, or a link loop")]
    LinkLoop {
        /// The entry, quoted.
        name: String,
    },
    /// A device, FIFO or other entry where a file belongs.
    #[error("entry {name}: not a regular file (tar type {kind})")]
    NotFile {
        /// The entry, quoted.
        name: String,
        /// The type flag, quoted.
        kind: String,
    },
    /// A config that is not an image config.
    #[error("entry {name}: not an image config: {source}")]
    Config {
        /// The entry, quoted.
        name: String,
        /// Why.
        source: serde_json::Error,
    },
    /// A config named by a digest it does not hash to.
    #[error("entry {name}: content has digest {actual}")]
    ConfigDigest {
        /// The entry, quoted.
        name: String,
        /// What it hashes to.
        actual: Digest,
    },
    /// Not as many diff_ids as layers.
    #[error("entry {name}: rootfs.diff_ids lists {diff_ids} layers but manifest.json names {layers} for image {image}")]
    LayerCount {
        /// The config, quoted.
        name: String,
        /// Its position in `manifest.json` (from 1).
        image: usize,
        /// `Layers` in `manifest.json`.
        layers: usize,
        /// diff_ids in the config.
        diff_ids: usize,
    },
    /// A `RepoTags` entry that is not `name:tag`.
    #[error("entry \"manifest.json\", image {image}: RepoTags entry {tag} is not a reference NAME[:TAG]")]
    RepoTag {
        /// The image's position (from 1).
        image: usize,
        /// The entry, quoted.
        tag: String,
    },
    /// The same `RepoTags` entry on two images.
    #[error("entry \"manifest.json\": RepoTags entry {tag} is on image {first} and image {second}")]
    DuplicateTag {
        /// The entry, quoted.
        tag: String,
        /// The first image (from 1).
        first: usize,
        /// The second (from 1).
        second: usize,
    },
    /// A layer whose content does not hash to its diff_id (found where the content is hashed:
    /// `verify`, or the load's verifying stream).
    #[error("entry {name}: content has digest {actual}, but the config's diff_id is {diff_id}")]
    DiffId {
        /// The layer, quoted.
        name: String,
        /// What the config says.
        diff_id: Digest,
        /// What it hashes to.
        actual: Digest,
    },
}

/// The entries of an archive outside its OCI layout, by name.
#[derive(Debug, Default)]
pub struct Members {
    by_path: HashMap<String, Member>,
    twice: HashSet<String>,
}

impl Members {
    /// Records an entry (directories and blobs are not members).
    pub fn insert(&mut self, member: Member) {
        let Some(path) = member.path.clone() else { return };
        match self.by_path.entry(path) {
            std::collections::hash_map::Entry::Occupied(o) => {
                self.twice.insert(o.key().clone());
            }
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(member);
            }
        }
    }

    /// The entry named exactly `path`.
    pub fn get(&self, path: &str) -> Option<&Member> {
        self.by_path.get(path)
    }

    /// Whether the archive has a `manifest.json`.
    pub fn has_manifest(&self) -> bool {
        self.by_path.contains_key("manifest.json")
    }

    /// The regular file `name` leads to, following links inside the archive; `Ok(None)` when
    /// nothing of that name is there.
    pub fn resolve(&self, name: &str) -> Result<Option<&Member>, DockerFault> {
        let shown = || quoted(name.as_bytes());
        let mut path = clean(name).ok_or_else(|| DockerFault::Escapes { name: shown() })?;
        for _ in 0..MAX_LINKS {
            if self.twice.contains(&path) {
                return Err(DockerFault::Twice { name: quoted(path.as_bytes()) });
            }
            let Some(member) = self.by_path.get(&path) else { return Ok(None) };
            let escapes = || DockerFault::Escapes { name: member.shown.clone() };
            path = match &member.kind {
                MemberKind::File => return Ok(Some(member)),
                // A symlink is relative to its directory (absolute ones are refused); a hard
                // link names another entry of the archive.
                MemberKind::Symlink(target) if !target.starts_with('/') => {
                    let dir = path.rsplit_once('/').map_or("", |(d, _)| d);
                    clean(&format!("{dir}/{target}")).ok_or_else(escapes)?
                }
                MemberKind::Symlink(_) => return Err(escapes()),
                MemberKind::Hardlink(target) => clean(target).ok_or_else(escapes)?,
                MemberKind::Special(k) => return Err(DockerFault::NotFile { name: member.shown.clone(), kind: quoted(&[*k]) }),
            };
        }
        Err(DockerFault::LinkLoop { name: shown() })
    }
}

/// `a/./b//c` → `a/b/c`, resolving `..`; `None` if it climbs out of the archive.
fn clean(name: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for c in name.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            c => parts.push(c),
        }
    }
    Some(parts.join("/"))
}

#[derive(Deserialize)]
struct RawImage {
    #[serde(rename = "Config")]
    config: String,
    #[serde(rename = "RepoTags", default)]
    repo_tags: Option<Vec<String>>,
    #[serde(rename = "Layers", default)]
    layers: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct RawConfig {
    rootfs: RootFs,
}

#[derive(Deserialize)]
struct RootFs {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    diff_ids: Option<Vec<Digest>>,
}

/// An OCI manifest in Go's field order.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OciManifest<'a> {
    schema_version: u32,
    media_type: &'a str,
    config: &'a Descriptor,
    layers: &'a [Descriptor],
}

/// A layer of an image: its descriptor and the entry holding it.
#[derive(Clone, Debug)]
pub struct Layer {
    /// `application/vnd.oci.image.layer.v1.tar`, the diff_id, the entry's size.
    pub descriptor: Descriptor,
    /// The file (links followed).
    pub member: Member,
    /// The name `manifest.json` gives, quoted.
    pub named: String,
}

/// One image of a docker archive, as it will be loaded.
#[derive(Clone, Debug)]
pub struct Image {
    /// Its position in `manifest.json` (from 1).
    pub position: usize,
    /// Its `RepoTags` as written (`alpine:3.19`).
    pub repo_tags: Vec<String>,
    /// The config's descriptor.
    pub config: Descriptor,
    /// The config's bytes.
    pub config_bytes: Vec<u8>,
    /// The config entry.
    pub config_member: Member,
    /// The layers, in order.
    pub layers: Vec<Layer>,
    /// The manifest ferry writes for it.
    pub manifest: Descriptor,
    /// Its bytes.
    pub manifest_bytes: Vec<u8>,
}

/// The full reference a `RepoTags` entry stands for, as Docker reads it: `alpine:3.19` is
/// `docker.io/library/alpine:3.19`; a first component with a `.` or `:`, or `localhost`, is a
/// registry. A name without a tag is `:latest`.
pub fn normalize_repo_tag(tag: &str) -> Option<Reference> {
    let (first, rest) = tag.split_once('/').unwrap_or(("", tag));
    let named = if !first.is_empty() && (first.contains(['.', ':']) || first == "localhost") {
        tag.to_owned()
    } else if first.is_empty() {
        format!("docker.io/library/{rest}")
    } else {
        format!("docker.io/{tag}")
    };
    let r: Reference = named.parse().ok()?;
    if r.digest.is_some() {
        return None;
    }
    Some(r)
}

/// Plans the load of a docker archive from its `manifest.json` and its members; `read` reads a
/// member whole (its size was checked against [`CONFIG_MAX_BYTES`]). Layers are not read:
/// their digests are checked as they are hashed.
pub fn plan<E>(
    manifest_json: &[u8],
    members: &Members,
    mut read: impl FnMut(&Member) -> Result<Vec<u8>, E>,
) -> Result<Result<Vec<Image>, DockerFault>, E> {
    let raw: Vec<RawImage> = match serde_json::from_slice(manifest_json) {
        Ok(raw) => raw,
        Err(e) => return Ok(Err(DockerFault::ManifestJson(e))),
    };
    if raw.is_empty() {
        return Ok(Err(DockerFault::NoImage));
    }
    let mut images = Vec::new();
    let mut tags: HashMap<String, usize> = HashMap::new();
    for (i, image) in raw.into_iter().enumerate() {
        let position = i + 1;
        let missing = |what: String, name: &str| DockerFault::Missing { image: position, what, name: quoted(name.as_bytes()) };
        let config_member = match members.resolve(&image.config) {
            Ok(Some(m)) => m.clone(),
            Ok(None) => return Ok(Err(missing("Config".to_owned(), &image.config))),
            Err(e) => return Ok(Err(e)),
        };
        if config_member.size > CONFIG_MAX_BYTES {
            return Ok(Err(DockerFault::TooBig { name: config_member.shown, size: config_member.size, limit: CONFIG_MAX_BYTES }));
        }
        let config_bytes = read(&config_member)?;
        let config = Descriptor::of_bytes(media_type::OCI_CONFIG, &config_bytes);
        // Docker names the config by its digest: `<hex>.json` or `blobs/sha256/<hex>`.
        let base = image.config.rsplit('/').next().unwrap_or_default();
        let named_hex = base.strip_suffix(".json").unwrap_or(base);
        if named_hex.len() == 64 && named_hex.bytes().all(|b| b.is_ascii_hexdigit()) && named_hex != config.digest.hex() {
            return Ok(Err(DockerFault::ConfigDigest { name: config_member.shown, actual: config.digest }));
        }
        let parsed: RawConfig = match serde_json::from_slice(&config_bytes) {
            Ok(c) => c,
            Err(source) => return Ok(Err(DockerFault::Config { name: config_member.shown, source })),
        };
        let diff_ids = parsed.rootfs.diff_ids.unwrap_or_default();
        let layer_names = image.layers.unwrap_or_default();
        if parsed.rootfs.kind != "layers" || diff_ids.len() != layer_names.len() {
            return Ok(Err(DockerFault::LayerCount {
                name: config_member.shown,
                image: position,
                layers: layer_names.len(),
                diff_ids: diff_ids.len(),
            }));
        }
        let mut layers = Vec::new();
        for (n, (name, diff_id)) in layer_names.iter().zip(diff_ids).enumerate() {
            let member = match members.resolve(name) {
                Ok(Some(m)) => m.clone(),
                Ok(None) => return Ok(Err(missing(format!("Layers[{n}]"), name))),
                Err(e) => return Ok(Err(e)),
            };
            let descriptor = Descriptor::new(LAYER_TAR, diff_id, member.size);
            layers.push(Layer { descriptor, member, named: quoted(name.as_bytes()) });
        }
        let repo_tags = image.repo_tags.unwrap_or_default();
        for tag in &repo_tags {
            if normalize_repo_tag(tag).is_none() {
                return Ok(Err(DockerFault::RepoTag { image: position, tag: quoted(tag.as_bytes()) }));
            }
            if let Some(first) = tags.insert(tag.clone(), position) {
                return Ok(Err(DockerFault::DuplicateTag { tag: quoted(tag.as_bytes()), first, second: position }));
            }
        }
        let descriptors: Vec<Descriptor> = layers.iter().map(|l| l.descriptor.clone()).collect();
        let manifest_bytes = ferry_oci::gojson::to_vec(&OciManifest {
            schema_version: 2,
            media_type: media_type::OCI_MANIFEST,
            config: &config,
            layers: &descriptors,
        });
        let manifest = Descriptor::of_bytes(media_type::OCI_MANIFEST, &manifest_bytes);
        images.push(Image { position, repo_tags, config, config_bytes, config_member, layers, manifest, manifest_bytes });
    }
    Ok(Ok(images))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(path: &str, kind: MemberKind) -> Member {
        Member { path: Some(path.to_owned()), shown: quoted(path.as_bytes()), header_offset: 0, data_offset: 512, size: 3, kind }
    }

    #[test]
    fn links_resolve_inside_the_archive_only() {
        let mut m = Members::default();
        m.insert(member("a/layer.tar", MemberKind::File));
        m.insert(member("b/layer.tar", MemberKind::Symlink("../a/layer.tar".into())));
        m.insert(member("c/layer.tar", MemberKind::Hardlink("a/layer.tar".into())));
        m.insert(member("d/layer.tar", MemberKind::Symlink("../../etc/passwd".into())));
        m.insert(member("e", MemberKind::Symlink("e".into())));
        m.insert(member("f", MemberKind::Symlink("/etc/passwd".into())));
        for name in ["a/layer.tar", "b/layer.tar", "c/layer.tar", "./b//layer.tar"] {
            assert_eq!(m.resolve(name).unwrap().unwrap().path.as_deref(), Some("a/layer.tar"), "{name}");
        }
        assert!(matches!(m.resolve("d/layer.tar"), Err(DockerFault::Escapes { .. })));
        assert!(matches!(m.resolve("f"), Err(DockerFault::Escapes { .. })));
        assert!(matches!(m.resolve("../a/layer.tar"), Err(DockerFault::Escapes { .. })));
        assert!(matches!(m.resolve("e"), Err(DockerFault::LinkLoop { .. })));
        assert!(m.resolve("nothing").unwrap().is_none());
    }

    #[test]
    fn repo_tags_normalize_as_docker_reads_them() {
        for (tag, full) in [
            ("alpine:3.19", "docker.io/library/alpine:3.19"),
            ("alpine", "docker.io/library/alpine"),
            ("me/app:v1", "docker.io/me/app:v1"),
            ("localhost/app:v1", "localhost/app:v1"),
            ("reg.example:5000/a/b:c", "reg.example:5000/a/b:c"),
        ] {
            assert_eq!(normalize_repo_tag(tag).map(|r| r.to_string()).as_deref(), Some(full), "{tag}");
        }
        for bad in ["", "Alpine:1", "a:b:c", "a@sha256:00", "a:"] {
            assert!(normalize_repo_tag(bad).is_none(), "{bad}");
        }
    }
}
