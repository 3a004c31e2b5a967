//! Bundles in a store (an OCI layout, a registry repository): writing one, opening and
//! checking one, signing one, and deciding whether its signatures make it trusted.

use bytes::Bytes;
use ferry_engine::store::Store;
use ferry_oci::{BlobStream, Descriptor, Manifest, Origin, media_type};
use ferry_plugin::Host;

use crate::error::BundleError;
use crate::format::{
    self, BUNDLE_ARTIFACT_TYPE, ComponentEntry, METADATA_MEDIA_TYPE, Metadata, SIGNATURE_ANNOTATION, SIGNATURE_ARTIFACT_TYPE,
    SIMPLE_SIGNING_MEDIA_TYPE,
};
use crate::keys::{PrivateKey, PublicKey};

/// The largest metadata document or signature payload read; both are a few hundred bytes.
const SMALL_DOCUMENT: u64 = 1 << 20;

/// A bundle read from a store: its manifest and metadata, consistent with each other, and the
/// signatures found beside it (not yet checked).
#[derive(Clone, Debug)]
pub struct Opened {
    /// The bundle manifest.
    pub manifest: Manifest,
    /// The metadata document.
    pub metadata: Metadata,
    /// Every signature found: payload and base64 signature.
    pub signatures: Vec<(Vec<u8>, String)>,
    /// Where it was read (`oci:/path`, `registry/repo`), for messages.
    pub location: String,
}

impl Opened {
    /// The bundle manifest's descriptor.
    pub fn descriptor(&self) -> &Descriptor {
        self.manifest.descriptor()
    }

    /// `NAME VERSION (sha256:…)`, for messages.
    pub fn title(&self) -> String {
        format!("bundle {} {} ({})", self.metadata.name, self.metadata.version, self.descriptor().digest)
    }

    fn invalid(&self, message: impl Into<String>) -> BundleError {
        BundleError::Invalid { what: format!("{} in {}", self.title(), self.location), message: message.into() }
    }

    /// The entry of the component `name`.
    pub fn entry(&self, name: &str) -> Option<&ComponentEntry> {
        self.metadata.components.iter().find(|c| c.name == name)
    }
}

/// The metadata entry of a component, from what the host sees in it: its world and interface
/// version. A component this ferry cannot run is refused.
pub fn describe(host: &Host, name: &str, wasm: &[u8]) -> Result<ComponentEntry, BundleError> {
    let invalid = |message: String| BundleError::Invalid { what: format!("component {name}"), message };
    if !format::valid_name(name) {
        return Err(invalid("a component name is lower-case letters, digits, '.', '_' and '-' (from its file name)".to_owned()));
    }
    let unusable = |e: ferry_plugin::PluginError| BundleError::Unusable { what: format!("component {name}"), source: Box::new(e) };
    let loaded = host.load(name, wasm).map_err(unusable)?;
    let inspection = host.inspect(&loaded, wasm.len() as u64);
    let world =
        inspection.world.ok_or_else(|| invalid("it exports no ferry:plugin world (mapper, sources-parser, tracker, policy)".to_owned()))?;
    let version = inspection.interface_version.unwrap_or_default();
    if !ferry_plugin::supports(&version) {
        let supported = ferry_plugin::SUPPORTED_VERSIONS.join(", ");
        return Err(invalid(format!("it was built against ferry:plugin@{version}, and this ferry runs {supported}")));
    }
    // Linking proves the world: the exports' names alone could be a look-alike.
    let linked = match world {
        "mapper" => ferry_plugin::Mapper::new(host, &loaded, Vec::new()).map(drop),
        "sources-parser" => ferry_plugin::SourcesParser::new(host, &loaded, Vec::new()).map(drop),
        "policy" => ferry_plugin::Policy::new(host, &loaded, Vec::new()).map(drop),
        _ => ferry_plugin::Tracker::new(host, &loaded, Vec::new()).map(drop),
    };
    linked.map_err(unusable)?;
    Ok(ComponentEntry {
        name: name.to_owned(),
        world: world.to_owned(),
        interface: format!("ferry:plugin@{version}"),
        sha256: inspection.sha256,
        size: inspection.size,
    })
}

/// Writes the bundle `metadata` describes, with `wasm` (each component's bytes, in the
/// metadata's order), to `dst`, tagged `tag`; returns its manifest.
pub async fn write(dst: &dyn Store, tag: &str, metadata: &Metadata, wasm: &[Vec<u8>]) -> Result<Manifest, BundleError> {
    let (metadata_bytes, manifest) =
        format::bundle_manifest(metadata).map_err(|message| BundleError::Invalid { what: "metadata".to_owned(), message })?;
    let config = manifest.view().config.clone().unwrap_or_else(|| Descriptor::of_bytes(METADATA_MEDIA_TYPE, &metadata_bytes));
    push_bytes(dst, &config, metadata_bytes).await?;
    for (layer, bytes) in manifest.view().layers.iter().zip(wasm) {
        push_bytes(dst, layer, bytes.clone()).await?;
    }
    dst.push_manifest(&manifest, Some(tag)).await?;
    Ok(manifest)
}

/// Opens the bundle `reference` (a tag or digest) in `src`: checks it is a bundle whose
/// metadata and layers agree, and collects its signatures.
pub async fn open(src: &dyn Store, reference: &str) -> Result<Opened, BundleError> {
    let desc = src.resolve(reference).await?;
    let location = src.name();
    let what = format!("{location}:{reference}");
    let not_a_bundle = |message: String| BundleError::Invalid { what: what.clone(), message };
    if desc.media_type != media_type::OCI_MANIFEST {
        return Err(not_a_bundle(format!("not a plugin bundle: a {} (a bundle is an OCI image manifest)", desc.media_type)));
    }
    let manifest = src.fetch_manifest(&desc).await?;
    let view = manifest.view();
    if view.artifact_type.as_deref() != Some(BUNDLE_ARTIFACT_TYPE) {
        return Err(not_a_bundle(format!(
            "not a plugin bundle: artifactType is {}, not {BUNDLE_ARTIFACT_TYPE}",
            view.artifact_type.as_deref().unwrap_or("(none)")
        )));
    }
    let config = view.config.clone().filter(|c| c.media_type == METADATA_MEDIA_TYPE && c.size <= SMALL_DOCUMENT);
    let config = config.ok_or_else(|| not_a_bundle(format!("its config is not a {METADATA_MEDIA_TYPE} document")))?;
    let bytes = fetch_bytes(src, &config).await.map_err(|e| not_a_bundle(format!("its metadata document: {e}")))?;
    let metadata: Metadata = serde_json::from_slice(&bytes).map_err(|e| not_a_bundle(format!("metadata {}: {e}", config.digest)))?;
    let opened = Opened { manifest: manifest.clone(), metadata, signatures: Vec::new(), location };
    check_layers(&opened)?;
    let signatures = signatures(src, &desc).await?;
    Ok(Opened { signatures, ..opened })
}

/// The metadata names every layer, and each layer is the component its entry pins.
fn check_layers(opened: &Opened) -> Result<(), BundleError> {
    let m = &opened.metadata;
    if !format::valid_name(&m.name) {
        return Err(opened.invalid(format!("the bundle name {:?} is not a valid name", m.name)));
    }
    let layers = &opened.manifest.view().layers;
    if layers.len() != m.components.len() || m.components.is_empty() {
        return Err(opened.invalid(format!(
            "the metadata lists {} components and the manifest {} layers",
            m.components.len(),
            layers.len()
        )));
    }
    for (entry, layer) in m.components.iter().zip(layers) {
        let pinned = entry.layer().map_err(|e| opened.invalid(e))?;
        if !format::valid_name(&entry.name) || m.components.iter().filter(|c| c.name == entry.name).count() > 1 {
            return Err(opened.invalid(format!("component name {:?} is invalid or given twice", entry.name)));
        }
        if layer.media_type != format::WASM_MEDIA_TYPE || layer.digest != pinned.digest || layer.size != pinned.size {
            return Err(opened.invalid(format!(
                "component {}: the metadata pins {} ({} bytes) and the manifest has {} ({} bytes)",
                entry.name, pinned.digest, pinned.size, layer.digest, layer.size
            )));
        }
    }
    Ok(())
}

/// The signatures beside `desc`: in referrers of cosign's signature type, and in cosign's
/// `sha256-<hex>.sig` tag.
async fn signatures(src: &dyn Store, desc: &Descriptor) -> Result<Vec<(Vec<u8>, String)>, BundleError> {
    let mut manifests: Vec<Descriptor> =
        src.referrers(desc).await?.into_iter().filter(|r| r.artifact_type.as_deref() == Some(SIGNATURE_ARTIFACT_TYPE)).collect();
    for (tag, d) in src.cosign_attachments(desc).await? {
        if tag.ends_with(".sig") && !manifests.iter().any(|m| m.digest == d.digest) {
            manifests.push(d);
        }
    }
    let mut out: Vec<(Vec<u8>, String)> = Vec::new();
    for d in manifests {
        let manifest = src.fetch_manifest(&d).await?;
        for layer in &manifest.view().layers {
            let Some(signature) = layer.annotations.get(SIGNATURE_ANNOTATION) else { continue };
            if layer.media_type != SIMPLE_SIGNING_MEDIA_TYPE || layer.size > SMALL_DOCUMENT {
                continue;
            }
            let payload = fetch_bytes(src, layer).await?;
            if !out.iter().any(|(p, s)| *p == payload && s == signature) {
                out.push((payload, signature.clone()));
            }
        }
    }
    Ok(out)
}

/// The trusted key whose signature covers this bundle's manifest digest (and so its metadata
/// and every component), or why there is none.
pub fn trusted_signer<'k>(opened: &Opened, keys: &'k [PublicKey]) -> Result<&'k PublicKey, BundleError> {
    let untrusted = |message: String| BundleError::Untrusted { what: opened.title(), message };
    if keys.is_empty() {
        return Err(untrusted("no trusted keys are configured (plugins.trustedKeys in the config file, or --key)".to_owned()));
    }
    if opened.signatures.is_empty() {
        return Err(untrusted(
            "it is not signed: no cosign signature found beside it (sign it with `ferry plugin sign`; a signature travels with -r)"
                .to_owned(),
        ));
    }
    let digest = &opened.descriptor().digest;
    let mut other_subject = None;
    for (payload, signature) in &opened.signatures {
        for key in keys {
            if !key.verifies(payload, signature) {
                continue;
            }
            match format::signed_digest(payload) {
                Some(d) if d == *digest => return Ok(key),
                signed => other_subject = Some((key.fingerprint().to_owned(), signed)),
            }
        }
    }
    Err(untrusted(match other_subject {
        Some((key, signed)) => format!(
            "the signature by trusted key {key} is for {}, not this bundle: its manifest was changed after signing",
            signed.map_or_else(|| "a payload that names no manifest digest".to_owned(), |d| d.to_string())
        ),
        None => format!(
            "it is signed ({} signature{}), but by none of the trusted keys ({})",
            opened.signatures.len(),
            if opened.signatures.len() == 1 { "" } else { "s" },
            keys.iter().map(PublicKey::fingerprint).collect::<Vec<_>>().join(", ")
        ),
    }))
}

/// The wasm of `entry`, verified against the sha256 the metadata pins.
pub async fn component_bytes(src: &dyn Store, opened: &Opened, entry: &ComponentEntry) -> Result<Vec<u8>, BundleError> {
    let layer = entry.layer().map_err(|e| opened.invalid(e))?;
    let stream = src.fetch_blob(&layer).await?;
    stream.collect().await.map_err(|e| BundleError::Unusable {
        what: format!("{} in {}: component {}", opened.title(), opened.location, entry.name),
        source: Box::new(e),
    })
}

/// Every component's bytes match its pin, and the host sees in it the world and interface the
/// metadata claims.
pub async fn check_components(host: &Host, src: &dyn Store, opened: &Opened) -> Result<(), BundleError> {
    for entry in &opened.metadata.components {
        let wasm = component_bytes(src, opened, entry).await?;
        let seen = describe(host, &entry.name, &wasm)
            .map_err(|e| BundleError::Named { what: format!("{} in {}", opened.title(), opened.location), source: Box::new(e) })?;
        if seen.world != entry.world || seen.interface != entry.interface {
            return Err(opened.invalid(format!(
                "component {}: the metadata says world {} ({}), and the component is a {} ({})",
                entry.name, entry.world, entry.interface, seen.world, seen.interface
            )));
        }
    }
    Ok(())
}

/// Signs the bundle in `store` with `key`, keeping the signatures already in its `.sig` tag.
/// `reference` is recorded in the payload. Returns the signer's fingerprint.
pub async fn sign(store: &dyn Store, opened: &Opened, key: &PrivateKey, reference: &str) -> Result<String, BundleError> {
    let subject = opened.descriptor();
    let payload = format::signing_payload(&subject.digest, reference);
    let mut layers = Vec::new();
    let tag = format!("{}.sig", subject.digest.tag_schema());
    if let Some((_, d)) = store.cosign_attachments(subject).await?.into_iter().find(|(t, _)| *t == tag) {
        layers.extend(
            store.fetch_manifest(&d).await?.view().layers.iter().filter(|l| l.annotations.contains_key(SIGNATURE_ANNOTATION)).cloned(),
        );
    }
    let layer = format::signature_layer(&payload, key.sign(&payload));
    push_bytes(store, &layer, payload).await?;
    layers.push(layer);
    let (config_bytes, manifest) = format::signature_manifest(subject, layers);
    let config = manifest.view().config.clone().unwrap_or_else(|| Descriptor::of_bytes(media_type::OCI_CONFIG, &config_bytes));
    push_bytes(store, &config, config_bytes).await?;
    let indexed = store.push_manifest(&manifest, Some(&tag)).await?;
    store.record_referrer(subject, &manifest, indexed).await?;
    Ok(key.public_key().fingerprint().to_owned())
}

async fn push_bytes(dst: &dyn Store, desc: &Descriptor, bytes: Vec<u8>) -> Result<(), BundleError> {
    if dst.blob_exists(desc).await? {
        return Ok(());
    }
    let origin = Origin::Memory { what: format!("blob {} as built", desc.digest) };
    dst.push_blob_stream(desc, BlobStream::from_bytes(desc.clone(), origin, Bytes::from(bytes))).await?;
    Ok(())
}

async fn fetch_bytes(src: &dyn Store, desc: &Descriptor) -> Result<Vec<u8>, BundleError> {
    Ok(src.fetch_blob(desc).await?.collect().await.map_err(ferry_engine::Error::from)?)
}
