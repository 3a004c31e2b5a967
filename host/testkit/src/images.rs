//! Deterministic fixture images, pushed with [`Pusher`]. The same seed gives the same bytes
//! and digests; children are pushed before their parents, as registries require.

use std::io::Write as _;

use ferry_oci::{Algorithm, Descriptor, Hasher, Platform, gojson, media_type};
use serde_json::json;

use crate::push::Pusher;
use crate::rng::Rng;

/// An image manifest and what it references.
#[derive(Clone, Debug)]
pub struct Image {
    pub manifest: Descriptor,
    pub bytes: Vec<u8>,
    pub config: Descriptor,
    pub layers: Vec<Descriptor>,
}

/// An index and its children's descriptors (as listed in it).
#[derive(Clone, Debug)]
pub struct IndexFixture {
    pub index: Descriptor,
    pub bytes: Vec<u8>,
    pub children: Vec<Descriptor>,
}

fn platform(spec: &str) -> Platform {
    spec.parse().unwrap()
}

/// An image whose config carries `platform` (if given); `docker` selects schema2 types.
pub fn image(p: &Pusher, repo: &str, tag: Option<&str>, seed: u64, plat: Option<&str>, docker: bool) -> Image {
    let mut rng = Rng::new(seed);
    let (config_type, layer_type, manifest_type) = if docker {
        (media_type::DOCKER_CONFIG, "application/vnd.docker.image.rootfs.diff.tar.gzip", media_type::DOCKER_MANIFEST)
    } else {
        (media_type::OCI_CONFIG, "application/vnd.oci.image.layer.v1.tar", media_type::OCI_MANIFEST)
    };
    let mut config =
        json!({ "config": { "User": format!("user{}", rng.next_u64() % 1000) }, "rootfs": { "type": "layers", "diff_ids": [] } });
    if let Some(spec) = plat {
        let pl = platform(spec);
        config["architecture"] = json!(pl.architecture);
        config["os"] = json!(pl.os);
        if !pl.variant.is_empty() {
            config["variant"] = json!(pl.variant);
        }
    }
    let layers: Vec<Descriptor> = (0..2)
        .map(|_| {
            let n = 64 + (rng.next_u64() % 512) as usize;
            p.push_blob(repo, layer_type, &rng.bytes(n))
        })
        .collect();
    let config = p.push_blob(repo, config_type, &gojson::to_vec(&config));
    let manifest = json!({ "schemaVersion": 2, "mediaType": manifest_type, "config": config, "layers": layers });
    let bytes = gojson::to_vec(&manifest);
    let reference = tag.map(str::to_owned).unwrap_or_else(|| Descriptor::of_bytes(manifest_type, &bytes).digest.to_string());
    let desc = p.push_manifest(repo, &reference, manifest_type, &bytes);
    Image { manifest: desc, bytes, config, layers }
}

/// A linux/amd64 OCI image with two small layers.
pub fn single_image(p: &Pusher, repo: &str, tag: &str, seed: u64) -> Image {
    image(p, repo, Some(tag), seed, Some("linux/amd64"), false)
}

/// An OCI index pushed from child descriptors.
pub fn index(p: &Pusher, repo: &str, tag: Option<&str>, children: Vec<Descriptor>, docker: bool) -> IndexFixture {
    let mt = if docker { media_type::DOCKER_MANIFEST_LIST } else { media_type::OCI_INDEX };
    let body = json!({ "schemaVersion": 2, "mediaType": mt, "manifests": children });
    let bytes = gojson::to_vec(&body);
    let reference = tag.map(str::to_owned).unwrap_or_else(|| Descriptor::of_bytes(mt, &bytes).digest.to_string());
    let desc = p.push_manifest(repo, &reference, mt, &bytes);
    IndexFixture { index: desc, bytes, children }
}

fn with_platform(mut d: Descriptor, spec: &str) -> Descriptor {
    d.platform = Some(platform(spec));
    d
}

/// linux/amd64, linux/arm64/v8 and linux/arm/v7 images, plus a child with no `platform`
/// (as build attestations are listed), in one OCI index.
pub fn multi_platform_index(p: &Pusher, repo: &str, tag: &str, seed: u64) -> IndexFixture {
    let mut children: Vec<Descriptor> = ["linux/amd64", "linux/arm64/v8", "linux/arm/v7"]
        .iter()
        .enumerate()
        .map(|(i, spec)| with_platform(image(p, repo, None, seed * 10 + i as u64, Some(spec), false).manifest, spec))
        .collect();
    children.push(artifact(p, repo, None, seed * 10 + 9, None).manifest);
    index(p, repo, Some(tag), children, false)
}

/// An OCI index of [a multi-platform index, a linux/s390x image].
pub fn index_of_indexes(p: &Pusher, repo: &str, tag: &str, seed: u64) -> IndexFixture {
    let inner = multi_platform_index(p, repo, &format!("{tag}-inner"), seed);
    let s390x = with_platform(image(p, repo, None, seed * 10 + 5, Some("linux/s390x"), false).manifest, "linux/s390x");
    index(p, repo, Some(tag), vec![inner.index, s390x], false)
}

/// A Docker schema2 image.
pub fn docker_image(p: &Pusher, repo: &str, tag: &str, seed: u64) -> Image {
    image(p, repo, Some(tag), seed, Some("linux/amd64"), true)
}

/// A Docker manifest list of linux/amd64 and linux/arm64 schema2 images.
pub fn docker_manifest_list(p: &Pusher, repo: &str, tag: &str, seed: u64) -> IndexFixture {
    let children = ["linux/amd64", "linux/arm64"]
        .iter()
        .enumerate()
        .map(|(i, spec)| with_platform(image(p, repo, None, seed * 10 + i as u64, Some(spec), true).manifest, spec))
        .collect();
    index(p, repo, Some(tag), children, true)
}

/// An OCI artifact (empty config, one layer), optionally with `subject`.
pub fn artifact(p: &Pusher, repo: &str, tag: Option<&str>, seed: u64, subject: Option<&Descriptor>) -> Image {
    let mut rng = Rng::new(seed);
    let empty = p.push_blob(repo, media_type::OCI_EMPTY, b"{}");
    let layer = p.push_blob(repo, "application/vnd.example.sbom.v1", &rng.bytes(100));
    let mut body = json!({
        "schemaVersion": 2,
        "mediaType": media_type::OCI_MANIFEST,
        "artifactType": "application/vnd.example.sbom.v1",
        "config": empty,
        "layers": [layer],
        "annotations": { "org.example.seed": seed.to_string() }
    });
    if let Some(s) = subject {
        body["subject"] = json!(Descriptor::new(s.media_type.clone(), s.digest.clone(), s.size));
    }
    let bytes = gojson::to_vec(&body);
    let reference = tag.map(str::to_owned).unwrap_or_else(|| Descriptor::of_bytes(media_type::OCI_MANIFEST, &bytes).digest.to_string());
    let desc = p.push_manifest(repo, &reference, media_type::OCI_MANIFEST, &bytes);
    Image { manifest: desc, bytes, config: empty, layers: vec![layer] }
}

/// An artifact whose `subject` is `subject`, listed in the `sha256-<hex>` tag-schema index
/// (distribution 2.8 has no referrers API).
pub fn artifact_with_subject(p: &Pusher, repo: &str, subject: &Descriptor, seed: u64) -> Image {
    let art = artifact(p, repo, None, seed, Some(subject));
    let mut entry = art.manifest.clone();
    entry.artifact_type = Some("application/vnd.example.sbom.v1".to_owned());
    entry.annotations.insert("org.example.seed".to_owned(), seed.to_string());
    let tag = subject.digest.tag_schema();
    let mut list: Vec<Descriptor> = match p.manifest(repo, &tag) {
        Some((_, bytes)) => {
            serde_json::from_value(serde_json::from_slice::<serde_json::Value>(&bytes).unwrap()["manifests"].clone()).unwrap()
        }
        None => Vec::new(),
    };
    list.push(entry);
    index(p, repo, Some(&tag), list, false);
    art
}

/// An image with pseudo-random layers of the given sizes, generated to a temporary file in
/// 1 MiB pieces (never whole in memory) and uploaded from it.
pub fn big_image(p: &Pusher, repo: &str, tag: &str, layer_sizes: &[u64], seed: u64) -> Image {
    let mut rng = Rng::new(seed);
    let dir = tempfile::tempdir().unwrap();
    let mut layers = Vec::new();
    for (i, &size) in layer_sizes.iter().enumerate() {
        let path = dir.path().join(format!("layer{i}"));
        let mut file = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
        let mut hasher = Hasher::new(Algorithm::Sha256);
        let mut buf = vec![0u8; 1 << 20];
        let mut left = size;
        while left > 0 {
            let n = left.min(buf.len() as u64) as usize;
            rng.fill(&mut buf[..n]);
            hasher.update(&buf[..n]);
            file.write_all(&buf[..n]).unwrap();
            left -= n as u64;
        }
        file.flush().unwrap();
        drop(file);
        let desc = Descriptor::new("application/vnd.oci.image.layer.v1.tar", hasher.finish(), size);
        p.push_blob_file(repo, &path, &desc.digest);
        std::fs::remove_file(&path).unwrap();
        layers.push(desc);
    }
    let config = p.push_blob(
        repo,
        media_type::OCI_CONFIG,
        &gojson::to_vec(&json!({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}})),
    );
    let bytes = gojson::to_vec(&json!({ "schemaVersion": 2, "mediaType": media_type::OCI_MANIFEST, "config": config, "layers": layers }));
    let desc = p.push_manifest(repo, tag, media_type::OCI_MANIFEST, &bytes);
    Image { manifest: desc, bytes, config, layers }
}

/// A cosign-style signature: an artifact tagged `sha256-<subject hex>.sig` (no `subject`).
pub fn cosign_signature(p: &Pusher, repo: &str, subject: &Descriptor, seed: u64) -> Image {
    artifact(p, repo, Some(&format!("{}.sig", subject.digest.tag_schema())), seed, None)
}
