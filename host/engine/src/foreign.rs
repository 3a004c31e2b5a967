//! Archives other tools write, for `deserialize` (and so `unarchive`): docker archives
//! (`docker save`, `podman save --format docker-archive`, `skopeo copy … docker-archive:`),
//! read through [`ferry_archive::docker`], and OCI layouts that list several images (umoci's
//! tags, Docker 25's `index.json`); and how the images of either are named at the destination
//! (see [`Naming`]). From a stream, a docker archive's files are copied to a [`Spool`] as they pass.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{Read as _, Write as _};
use std::sync::Arc;

use bytes::Bytes;
use ferry_archive::docker::{self, DockerFault, Members};
use ferry_archive::entries::Member;
use ferry_oci::{BlobStream, Descriptor, Digest, Index, Manifest, Origin, annotations, media_type, valid_tag};
use futures_util::{FutureExt as _, StreamExt};

use crate::deserialize::{ArchiveFault, Body, CHUNK_BYTES, CONCURRENT_BLOBS, DeserializeOptions, DeserializeOutcome, Naming, store_blob};
use crate::error::Error;
use crate::events::{Event, Events};
use crate::store::Store;

/// An image of an archive and the names the archive gives it, as written.
pub(crate) struct Named {
    pub descriptor: Descriptor,
    pub names: Vec<String>,
    /// Names are docker `RepoTags` (`alpine` is `alpine:latest`), not `ref.name`s.
    pub docker: bool,
}

/// What gets tagged, and what is left untagged.
pub(crate) struct TagPlan {
    /// Tag → manifest, in the archive's order.
    pub tags: Vec<(String, Descriptor)>,
    /// Images the archive gives no usable name.
    pub untagged: Vec<Digest>,
    /// With [`Naming::Index`]: the index listing the images, tagged instead of them.
    pub index: Option<(Descriptor, Vec<u8>)>,
}

/// The tag a name gives in the destination repository: a `ref.name` that is a tag is that
/// tag; a reference (`RepoTags`, or a `ref.name` written as a full reference) gives its tag.
fn tag_of(name: &str, docker: bool) -> Option<String> {
    if !docker && valid_tag(name) {
        return Some(name.to_owned());
    }
    docker::normalize_repo_tag(name).map(|r| r.tag.unwrap_or_else(|| "latest".to_owned()))
}

/// The source a name stands for in an index [`Naming::Index`] builds: a reference in full, or
/// a `ref.name` that is a tag as it is; anything else names nothing.
fn source_of(name: &str, docker: bool) -> Option<String> {
    match docker::normalize_repo_tag(name) {
        Some(r) if docker || !valid_tag(name) => Some(r.to_string()),
        _ if !docker && valid_tag(name) => Some(name.to_owned()),
        _ => None,
    }
}

/// Decides the tags before anything is tagged: IMAGE's `tag` for the only image, each image's
/// own names, or an index of them (see [`Naming`]).
pub(crate) fn plan_tags(images: &[Named], naming: Naming, tag: &str, destination: &str) -> Result<TagPlan, Error> {
    let mut distinct: Vec<&Digest> = Vec::new();
    for i in images {
        if !distinct.contains(&&i.descriptor.digest) {
            distinct.push(&i.descriptor.digest);
        }
    }
    let named = |d: &Digest| images.iter().filter(|i| &i.descriptor.digest == d).any(|i| !i.names.is_empty());
    let untagged: Vec<Digest> = distinct.iter().filter(|d| !named(d)).map(|d| (*d).clone()).collect();
    match naming {
        Naming::Given if distinct.len() > 1 => {
            let names: Vec<String> =
                images.iter().map(|i| if i.names.is_empty() { i.descriptor.digest.to_string() } else { i.names.join(", ") }).collect();
            Err(Error::SeveralImages { tag: tag.to_owned(), images: distinct.len(), names: names.join("; ") })
        }
        Naming::Given => Ok(TagPlan { tags: vec![(tag.to_owned(), images[0].descriptor.clone())], untagged: Vec::new(), index: None }),
        Naming::Own => {
            if distinct.len() == 1 && untagged.len() == 1 {
                // One image without a name: IMAGE's tag, or `latest`, as for any archive.
                return Ok(TagPlan { tags: vec![(tag.to_owned(), images[0].descriptor.clone())], untagged: Vec::new(), index: None });
            }
            let mut tags: Vec<(String, Descriptor)> = Vec::new();
            let mut by_tag: HashMap<String, (String, Digest)> = HashMap::new();
            let mut untagged = untagged;
            for image in images {
                let mut any = false;
                for name in &image.names {
                    let Some(t) = tag_of(name, image.docker) else { continue };
                    any = true;
                    match by_tag.get(&t) {
                        Some((_, d)) if *d == image.descriptor.digest => {}
                        Some((first, _)) => {
                            return Err(Error::TagCollision {
                                tag: t,
                                first: first.clone(),
                                second: name.clone(),
                                destination: destination.to_owned(),
                            });
                        }
                        None => {
                            by_tag.insert(t.clone(), (name.clone(), image.descriptor.digest.clone()));
                            tags.push((t, image.descriptor.clone()));
                        }
                    }
                }
                if !any && !image.names.is_empty() && !untagged.contains(&image.descriptor.digest) {
                    untagged.push(image.descriptor.digest.clone());
                }
            }
            untagged.retain(|d| !tags.iter().any(|(_, t)| &t.digest == d));
            Ok(TagPlan { tags, untagged, index: None })
        }
        Naming::Index => {
            let mut index = Index::new();
            let mut untagged = untagged;
            for image in images {
                let before = index.manifests.len();
                for source in image.names.iter().filter_map(|n| source_of(n, image.docker)) {
                    let (media_type, digest) = (image.descriptor.media_type.clone(), image.descriptor.digest.clone());
                    let mut d = Descriptor::new(media_type, digest, image.descriptor.size);
                    d.annotations.insert(annotations::SOURCE.to_owned(), source.clone());
                    d.annotations.insert(annotations::REF_NAME.to_owned(), source);
                    index.manifests.push(d);
                }
                if index.manifests.len() == before && !untagged.contains(&image.descriptor.digest) {
                    untagged.push(image.descriptor.digest.clone());
                }
            }
            untagged.retain(|d| !index.manifests.iter().any(|m| &m.digest == d));
            let bytes = ferry_oci::gojson::to_vec_pretty(&index);
            let descriptor = Descriptor::of_bytes(media_type::OCI_INDEX, &bytes);
            Ok(TagPlan { tags: vec![(tag.to_owned(), descriptor.clone())], untagged, index: Some((descriptor, bytes)) })
        }
    }
}

/// Applies `plan` once every image is complete at `dst`: the index first if there is one, then
/// every tag. `manifests` holds each image's manifest, as pushed.
pub(crate) async fn apply_tags(dst: &dyn Store, plan: &TagPlan, manifests: &HashMap<Digest, Manifest>) -> Result<(), Error> {
    if let Some((descriptor, bytes)) = &plan.index {
        let index = Manifest::from_bytes(descriptor.clone(), bytes.clone())
            .map_err(|source| Error::Manifest { what: "the index of the archive's images".to_owned(), source })?;
        return dst.push_manifest_placed(&index, Some(&plan.tags[0].0)).await.map(drop);
    }
    for (tag, d) in &plan.tags {
        let Some(manifest) = manifests.get(&d.digest) else { continue };
        dst.push_manifest_placed(manifest, Some(tag)).await?;
    }
    Ok(())
}

/// Reads `member` of `file` whole (its size was checked against a limit).
fn read_member(file: &std::fs::File, member: &Member) -> Result<Vec<u8>, Error> {
    use std::os::unix::fs::FileExt as _;
    let mut buf = vec![0u8; usize::try_from(member.size).unwrap_or(0)];
    file.read_exact_at(&mut buf, member.data_offset).map_err(|e| Error::BadArchive(ArchiveFault::Open(e)))?;
    Ok(buf)
}

/// Loads a docker archive whose entries are `members`, their data in `file` (the archive
/// itself, or the spool a stream was copied to).
#[expect(clippy::too_many_arguments, reason = "one archive's reading state and where it goes")]
pub(crate) async fn load_docker(
    archive: &str,
    file: Arc<std::fs::File>,
    members: &Members,
    dst: &dyn Store,
    tag: &str,
    options: &DeserializeOptions,
    events: &Events,
    outcome: &mut DeserializeOutcome,
) -> Result<(), Error> {
    let fault = |f: DockerFault| Error::BadArchive(ArchiveFault::Docker(f));
    let manifest_json = match members.resolve("manifest.json").map_err(fault)? {
        Some(m) if m.size > docker::MANIFEST_JSON_MAX_BYTES => {
            return Err(fault(DockerFault::TooBig { name: m.shown.clone(), size: m.size, limit: docker::MANIFEST_JSON_MAX_BYTES }));
        }
        Some(m) => read_member(&file, m)?,
        None => return Err(Error::BadArchive(ArchiveFault::NoIndex)),
    };
    let images = docker::plan(&manifest_json, members, |m| read_member(&file, m))?.map_err(fault)?;
    let named: Vec<Named> =
        images.iter().map(|i| Named { descriptor: i.manifest.clone(), names: i.repo_tags.clone(), docker: true }).collect();
    let plan = plan_tags(&named, options.naming, tag, &dst.name())?;

    // Each blob once: configs from memory, layers from the file, verified as they stream.
    let mut seen = HashSet::new();
    let mut blobs: Vec<(Descriptor, Origin, Body, Option<String>)> = Vec::new();
    for image in &images {
        if seen.insert(image.config.digest.clone()) {
            let origin = origin(archive, &image.config_member);
            blobs.push((image.config.clone(), origin, Body::Bytes(Bytes::from(image.config_bytes.clone())), None));
        }
        for layer in &image.layers {
            if seen.insert(layer.descriptor.digest.clone()) {
                let (offset, size) = (layer.member.data_offset, layer.member.size);
                let body = Body::At { file: Arc::clone(&file), offset, size };
                blobs.push((layer.descriptor.clone(), origin(archive, &layer.member), body, Some(layer.named.clone())));
            }
        }
    }
    events(&Event::Expected { bytes: blobs.iter().map(|(d, ..)| d.size).sum() });
    let dry_run = options.dry_run;
    let mut storing = futures_util::stream::iter(blobs.into_iter().map(|(desc, origin, body, layer)| {
        let progress = events.clone();
        let body = body.into_stream().inspect(move |chunk| {
            if let Ok(c) = chunk {
                progress(&Event::Progress { bytes: c.len() as u64 });
            }
        });
        let stream = BlobStream::verifying(desc.clone(), origin, body);
        let diff_id = desc.digest.clone();
        store_blob(dst, desc, stream, dry_run).map(move |r| r.map_err(|e| as_diff_id_fault(e, layer, diff_id)))
    }))
    .buffer_unordered(CONCURRENT_BLOBS);
    while let Some(stored) = storing.next().await {
        let stored = stored?;
        events(&Event::BlobStored { digest: stored.digest.clone(), size: stored.size, present: stored.present });
        outcome.blobs += 1;
        outcome.bytes += stored.size;
        outcome.present += u64::from(stored.present);
    }
    drop(storing);

    let mut manifests: HashMap<Digest, Manifest> = HashMap::new();
    for image in &images {
        if manifests.contains_key(&image.manifest.digest) {
            continue;
        }
        let manifest = Manifest::from_bytes(image.manifest.clone(), image.manifest_bytes.clone())
            .map_err(|source| Error::Manifest { what: format!("the manifest of image {} of manifest.json", image.position), source })?;
        if !dry_run {
            dst.push_manifest_placed(&manifest, None).await?;
        }
        outcome.manifests += 1;
        manifests.insert(image.manifest.digest.clone(), manifest);
    }
    if !dry_run {
        apply_tags(dst, &plan, &manifests).await?;
    }
    outcome.root = Some(plan.index.as_ref().map_or_else(|| images[0].manifest.clone(), |(d, _)| d.clone()));
    outcome.tags = plan.tags.iter().map(|(t, d)| (t.clone(), d.digest.clone())).collect();
    outcome.untagged = plan.untagged;
    Ok(())
}

/// A layer whose bytes do not hash to its diff_id is reported as `verify` reports it.
fn as_diff_id_fault(e: Error, layer: Option<String>, diff_id: Digest) -> Error {
    use ferry_oci::BlobError;
    let Some(name) = layer else { return e };
    // Read whole (a small layer), or while uploading (the registry's error holds the stream's).
    let mut found = match &e {
        Error::Blob(b) => b.mismatch().and_then(|m| m.actual.clone()),
        _ => None,
    };
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    while let (None, Some(c)) = (&found, cause) {
        let blob = c.downcast_ref::<BlobError>().or_else(|| c.downcast_ref::<Box<BlobError>>().map(AsRef::as_ref));
        found = blob.and_then(BlobError::mismatch).and_then(|m| m.actual.clone());
        cause = c.source();
    }
    match found {
        Some(actual) => Error::BadArchive(ArchiveFault::Docker(DockerFault::DiffId { name, diff_id, actual })),
        None => e,
    }
}

fn origin(archive: &str, member: &Member) -> Origin {
    Origin::Archive { archive: archive.to_owned(), entry: member.path.clone().unwrap_or_default(), offset: member.header_offset }
}

/// The images an OCI layout's first `index.json` lists, with their `ref.name`s, in order.
pub(crate) fn layout_images(index: &Index) -> Vec<Named> {
    let mut by_digest: BTreeMap<usize, Named> = BTreeMap::new();
    let mut position: HashMap<Digest, usize> = HashMap::new();
    for (n, d) in index.manifests.iter().enumerate() {
        let at = *position.entry(d.digest.clone()).or_insert(n);
        let named = by_digest.entry(at).or_insert_with(|| Named {
            descriptor: Descriptor::new(d.media_type.clone(), d.digest.clone(), d.size),
            names: Vec::new(),
            docker: false,
        });
        if let Some(name) = d.annotations.get(annotations::REF_NAME)
            && !named.names.contains(name)
        {
            named.names.push(name.clone());
        }
    }
    by_digest.into_values().collect()
}

/// A temporary file (in TMPDIR, deleted when closed) holding the files of a docker archive
/// read from a stream, so that its layers can be read once its `manifest.json` has come.
pub(crate) struct Spool {
    file: Arc<std::fs::File>,
    len: u64,
}

impl Spool {
    /// Copies the current entry's data (if it is a file) to the spool, and points `member` at it.
    pub(crate) fn take<S: ferry_archive::entries::Source>(
        spool: &mut Option<Spool>,
        entries: &mut ferry_archive::entries::Entries<S>,
        member: &mut ferry_archive::entries::Member,
    ) -> Result<Arc<std::fs::File>, ArchiveFault> {
        let spool = match spool {
            Some(s) => s,
            slot @ None => slot.insert(Spool { file: Arc::new(tempfile::tempfile().map_err(ArchiveFault::Spool)?), len: 0 }),
        };
        if member.kind != ferry_archive::entries::MemberKind::File {
            return Ok(Arc::clone(&spool.file));
        }
        member.data_offset = spool.len;
        let mut data = entries.data();
        let mut out = std::io::BufWriter::with_capacity(CHUNK_BYTES, &*spool.file);
        let mut buf = vec![0u8; CHUNK_BYTES];
        loop {
            let n = match data.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(ArchiveFault::Read(ferry_archive::entries::into_read_error(e))),
            };
            out.write_all(&buf[..n]).map_err(ArchiveFault::Spool)?;
            spool.len += n as u64;
        }
        out.flush().map_err(ArchiveFault::Spool)?;
        Ok(Arc::clone(&spool.file))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(n: u8, names: &[&str], docker: bool) -> Named {
        let descriptor = Descriptor::of_bytes(media_type::OCI_MANIFEST, &[n]);
        Named { descriptor, names: names.iter().map(|s| (*s).to_owned()).collect(), docker }
    }

    fn tags(plan: &TagPlan) -> Vec<&str> {
        plan.tags.iter().map(|(t, _)| t.as_str()).collect()
    }

    #[test]
    fn own_names_become_tags_in_the_destination_repository() {
        let images = [named(1, &["app:v1", "example.com/x/app"], true), named(2, &["app:v2"], true), named(3, &[], true)];
        let plan = plan_tags(&images, Naming::Own, "latest", "reg/r").unwrap();
        assert_eq!(tags(&plan), ["v1", "latest", "v2"]);
        assert_eq!(plan.untagged, [images[2].descriptor.digest.clone()]);
        // ref.names: a tag as it is, a reference by its tag; one image under two names.
        let layout = [named(1, &["v1", "docker.io/library/app:stable"], false), named(2, &["not a tag!"], false)];
        let plan = plan_tags(&layout, Naming::Own, "latest", "reg/r").unwrap();
        assert_eq!(tags(&plan), ["v1", "stable"]);
        assert_eq!(plan.untagged, [layout[1].descriptor.digest.clone()]);
    }

    #[test]
    fn a_lone_unnamed_image_takes_the_given_tag_and_several_refuse_it() {
        let plan = plan_tags(&[named(1, &[], true)], Naming::Own, "latest", "reg/r").unwrap();
        assert_eq!(tags(&plan), ["latest"]);
        let plan = plan_tags(&[named(1, &["app:v1"], true)], Naming::Given, "mine", "reg/r").unwrap();
        assert_eq!(tags(&plan), ["mine"]);
        let several = [named(1, &["app:v1"], true), named(2, &[], true)];
        assert!(matches!(plan_tags(&several, Naming::Given, "mine", "reg/r"), Err(Error::SeveralImages { images: 2, .. })));
    }

    #[test]
    fn two_images_on_one_tag_are_refused() {
        let images = [named(1, &["app:v1"], true), named(2, &["other:v1"], true)];
        let e = plan_tags(&images, Naming::Own, "latest", "reg/r").err().unwrap();
        assert_eq!(
            e.to_string(),
            "app:v1 and other:v1 are different images but would both be tagged v1 in reg/r; `ferry mirror unarchive ARCHIVE MAPPER` places them in repositories of their own"
        );
        assert!(e.is_bad_input());
    }

    #[test]
    fn the_index_for_unarchive_names_each_source_in_full() {
        let images = [named(1, &["app:v1", "localhost/app:v2"], true), named(2, &[], true), named(3, &["../../x"], false)];
        let plan = plan_tags(&images, Naming::Index, "sync-1", "cache").unwrap();
        let (_, bytes) = plan.index.as_ref().unwrap();
        let index: Index = serde_json::from_slice(bytes).unwrap();
        let sources: Vec<&str> = index.manifests.iter().map(|d| d.annotations[annotations::SOURCE].as_str()).collect();
        assert_eq!(sources, ["docker.io/library/app:v1", "localhost/app:v2"]);
        assert_eq!(tags(&plan), ["sync-1"]);
        assert_eq!(plan.untagged, [images[1].descriptor.digest.clone(), images[2].descriptor.digest.clone()]);
    }
}
