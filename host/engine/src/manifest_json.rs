//! `--manifest-json` (spec §9): a Docker-style `manifest.json` after the final `index.json`,
//! one entry per gathered source image, so `docker load` or `ctr images import` can read the
//! archive directly.
//!
//! ace-dt's bugs fixed: a second reference to the same image is added to that entry's
//! `RepoTags` instead of being lost; an index child without a platform no longer crashes;
//! from an index, the child for this machine's architecture is chosen (the first one, not the
//! last), else the first child with a real platform (attestations are `unknown/unknown`);
//! paths always use `/`.

use std::collections::{HashMap, HashSet};

use ferry_oci::{Descriptor, Digest, Manifest, annotations, gojson, media_type};
use serde::Serialize;

use crate::error::Error;
use crate::store::Store;

#[derive(Serialize)]
struct Entry {
    #[serde(rename = "Config")]
    config: String,
    #[serde(rename = "RepoTags")]
    repo_tags: Vec<String>,
    #[serde(rename = "Layers")]
    layers: Vec<String>,
    #[serde(skip)]
    digest: Digest,
}

fn blob_path(d: &Descriptor) -> String {
    format!("blobs/{}/{}", d.digest.algorithm().name(), d.digest.hex())
}

/// The OCI name of the architecture ferry runs on.
fn host_architecture() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    }
}

/// The child of an index that `manifest.json` describes.
fn choose_child(children: &[Descriptor]) -> Option<&Descriptor> {
    let images = || children.iter().filter(|c| media_type::is_image(&c.media_type));
    let real = |c: &&Descriptor| c.platform.as_ref().is_some_and(|p| p.os != "unknown" && p.architecture != "unknown");
    images()
        .find(|c| c.platform.as_ref().is_some_and(|p| p.os == "linux" && p.architecture == host_architecture()))
        .or_else(|| images().find(real))
        .or_else(|| images().next())
}

/// `manifest.json` for the descriptors that carry a source reference among `manifests`, in
/// order: the manifests from `walked` (what serialize already fetched), else from `src`.
pub async fn manifest_json(src: &dyn Store, walked: &HashMap<Digest, Manifest>, manifests: &[Descriptor]) -> Result<Vec<u8>, Error> {
    let get = |d: &Descriptor| {
        let d = d.clone();
        async move {
            match walked.get(&d.digest) {
                Some(m) => Ok(m.clone()),
                None => src.fetch_manifest(&d).await,
            }
        }
    };
    let mut entries: Vec<Entry> = Vec::new();
    let mut used = HashSet::new();
    for desc in manifests {
        let Some(source) = desc.annotations.get(annotations::SOURCE) else { continue };
        if !used.insert(source.clone()) {
            continue;
        }
        let image = if media_type::is_image(&desc.media_type) {
            get(desc).await?
        } else if media_type::is_index(&desc.media_type) {
            let index = get(desc).await?;
            match choose_child(&index.view().manifests) {
                Some(child) => get(child).await?,
                None => continue,
            }
        } else {
            continue;
        };
        let view = image.view();
        let Some(config) = &view.config else { continue };
        if let Some(e) = entries.iter_mut().find(|e| e.digest == image.descriptor().digest) {
            e.repo_tags.push(source.clone());
            continue;
        }
        entries.push(Entry {
            config: blob_path(config),
            repo_tags: vec![source.clone()],
            layers: view.layers.iter().map(blob_path).collect(),
            digest: image.descriptor().digest.clone(),
        });
    }
    Ok(gojson::to_vec_pretty(&entries))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferry_oci::Platform;

    fn child(os: &str, arch: &str, n: u8) -> Descriptor {
        let mut d = Descriptor::of_bytes(media_type::OCI_MANIFEST, &[n]);
        d.platform = Some(Platform { os: os.to_owned(), architecture: arch.to_owned(), ..Platform::default() });
        d
    }

    #[test]
    fn chooses_this_machines_platform_then_a_real_one() {
        let host = child("linux", host_architecture(), 1);
        let other = child("linux", "s390x", 2);
        let attestation = child("unknown", "unknown", 3);
        let mut bare = Descriptor::of_bytes(media_type::OCI_MANIFEST, &[4]);
        bare.platform = None;
        assert_eq!(choose_child(&[attestation.clone(), other.clone(), host.clone(), child("linux", host_architecture(), 5)]), Some(&host));
        assert_eq!(choose_child(&[attestation.clone(), other.clone()]), Some(&other));
        assert_eq!(choose_child(&[bare.clone(), attestation]), Some(&bare));
        assert_eq!(choose_child(&[]), None);
    }
}
