//! `ferry plugin keygen|bundle|sign|verify|install|list|remove`: site-approved bundles.
//!
//! A bundle location is a file (a name ending in `.tar`, or an existing file: ferry's archive
//! format, read into a temporary layout), an `oci:PATH[:TAG]` layout or a registry reference.

use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use ferry_archive::{BlockWriter, Geometry};
use ferry_bundle::{Installed, Metadata, Opened, PrivateKey, bundle};
use ferry_engine::deserialize::{DeserializeOptions, deserialize};
use ferry_engine::serialize::{SerializeOptions, serialize};
use ferry_engine::store::{LayoutStore, Store, open_store, reference_string};
use ferry_oci::{Descriptor, ImageRef};
use ferry_registry::Client;

use crate::args::{BundleArgs, Global, InstallArgs, KeygenArgs, ListArgs, RemoveArgs, SignArgs, TrustFlags, VerifyBundleArgs};
use crate::exit::BadInput;
use crate::plugins::Plugins;

/// The tag of a bundle inside a bundle file and its temporary layout.
const FILE_TAG: &str = "bundle";

/// Where a bundle is.
enum Location {
    File(PathBuf),
    Image(ImageRef),
}

fn location(text: &str) -> anyhow::Result<Location> {
    if !text.starts_with("oci:") && (text.ends_with(".tar") || Path::new(text).is_file()) {
        return Ok(Location::File(PathBuf::from(text)));
    }
    Ok(Location::Image(text.parse().map_err(|e| {
        BadInput(format!("bundle {text}: {e} (a bundle is FILE.tar, oci:PATH[:TAG] or REGISTRY/REPOSITORY[:TAG|@DIGEST])"))
    })?))
}

/// A bundle opened for reading: the store it is in and its tag or digest there. A file is
/// first read, verified, into a temporary layout.
struct Source {
    store: Box<dyn Store>,
    reference: String,
    _temp: Option<tempfile::TempDir>,
}

async fn open_source(client: &Client, location: &Location) -> anyhow::Result<Source> {
    match location {
        Location::Image(image) => Ok(Source { store: open_store(client, image, false)?, reference: reference_string(image), _temp: None }),
        Location::File(path) => {
            let temp = tempfile::tempdir().context("making a temporary directory")?;
            let store = LayoutStore::open(temp.path(), true)?;
            if !path.is_file() {
                return Err(BadInput(format!("bundle {}: no such file", path.display())).into());
            }
            let input = super::deserialize::open_archive(&path.display().to_string(), 0)?;
            deserialize(vec![input], &store, FILE_TAG, DeserializeOptions::default(), Arc::new(|_| {}))
                .await
                .with_context(|| format!("reading the bundle file {}", path.display()))?;
            Ok(Source { store: Box::new(store), reference: FILE_TAG.to_owned(), _temp: Some(temp) })
        }
    }
}

/// Writes the bundle `root` in `store`, with its signatures, to the file `path`: written
/// beside it and renamed when complete.
async fn write_file(store: &dyn Store, root: Descriptor, path: &Path) -> anyhow::Result<()> {
    let partial = PathBuf::from(format!("{}.partial", path.display()));
    let file = std::fs::File::create(&partial).with_context(|| format!("creating {}", partial.display()))?;
    let geometry = Geometry::from_flags(0, 1 << 20, 90).map_err(|e| anyhow::anyhow!("{e}"))?;
    let options = SerializeOptions { ref_name: FILE_TAG.to_owned(), recursive: true, ..SerializeOptions::default() };
    let written = serialize(store, root, BlockWriter::new(file, geometry), &options, Arc::new(|_| {})).await;
    if let Err(e) = written {
        // The file at `path`, if any, is untouched; a half-written one is not left beside it.
        let _ = std::fs::remove_file(&partial);
        return Err(anyhow::Error::new(e).context(format!("writing {}", partial.display())));
    }
    std::fs::rename(&partial, path).with_context(|| format!("renaming {} to {}", partial.display(), path.display()))
}

/// The private key's passphrase, from `FERRY_KEY_PASSPHRASE` (as cosign takes `COSIGN_PASSWORD`).
fn passphrase() -> Option<String> {
    std::env::var("FERRY_KEY_PASSPHRASE").ok().filter(|p| !p.is_empty())
}

/// `ferry plugin keygen [PREFIX]`: PREFIX.key (private, mode 0600) and PREFIX.pub.
pub(crate) fn keygen(global: &Global, args: &KeygenArgs) -> anyhow::Result<()> {
    let key = PrivateKey::generate();
    let passphrase = passphrase();
    let private = PathBuf::from(format!("{}.key", args.prefix.display()));
    let public = PathBuf::from(format!("{}.pub", args.prefix.display()));
    for path in [&private, &public] {
        if path.exists() && !args.force {
            return Err(BadInput(format!("{} exists; choose another PREFIX or pass --force", path.display())).into());
        }
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&private)
        .with_context(|| format!("creating {}", private.display()))?;
    // `mode` applies only to a new file; an overwritten one is narrowed before the key is in it.
    file.set_permissions(std::fs::Permissions::from_mode(0o600)).with_context(|| format!("restricting {}", private.display()))?;
    file.write_all(key.to_pem(passphrase.as_deref()).as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing {}", private.display()))?;
    std::fs::write(&public, key.public_key().to_pem()).with_context(|| format!("writing {}", public.display()))?;
    if !global.quiet {
        let protection = if passphrase.is_some() {
            "encrypted with FERRY_KEY_PASSPHRASE"
        } else {
            "not encrypted: set FERRY_KEY_PASSPHRASE to encrypt it"
        };
        println!(
            "Private key written to {} ({protection}; it signs what the high side will run: keep it off the network)",
            private.display()
        );
        println!("Public key written to {} (list it in plugins.trustedKeys on the high side)", public.display());
        println!("Fingerprint: {}", key.public_key().fingerprint());
    }
    Ok(())
}

/// `ferry plugin bundle --name N --version V COMPONENT.wasm… -o DEST`.
pub(crate) async fn build(global: &Global, args: &BundleArgs) -> anyhow::Result<()> {
    let config = super::load_config(global)?;
    let plugins = Plugins::new(&config)?;
    if !ferry_bundle::format::valid_name(&args.name) {
        return Err(BadInput(format!("--name {:?}: lower-case letters, digits, '.', '_' and '-', at most 64", args.name)).into());
    }
    let mut components = Vec::new();
    let mut wasm = Vec::new();
    for path in &args.components {
        let (file_name, bytes) = crate::plugins::read_component(path, &format!("COMPONENT {}", path.display()))?;
        let name = file_name.strip_suffix(".wasm").unwrap_or(&file_name);
        let entry = bundle::describe(&plugins.host, name, &bytes).map_err(|e| BadInput(format!("{}: {e}", path.display())))?;
        if components.iter().any(|c: &ferry_bundle::ComponentEntry| c.name == entry.name) {
            return Err(BadInput(format!("{}: a component named {} is given twice", path.display(), entry.name)).into());
        }
        components.push(entry);
        wasm.push(bytes);
    }
    let metadata = Metadata {
        name: args.name.clone(),
        version: args.version.clone(),
        description: args.description.clone().unwrap_or_default(),
        components,
    };
    let client = Client::new(config);
    let manifest = match location(&args.output)? {
        Location::Image(image) => {
            let tag = match &image {
                ImageRef::Registry(r) if r.digest.is_some() => {
                    return Err(BadInput(format!("--output {image}: give a tag, not a digest")).into());
                }
                ImageRef::Registry(r) => r.tag.clone(),
                ImageRef::Layout(l) => l.tag.clone(),
            };
            let tag = tag.unwrap_or_else(|| args.version.clone());
            if !ferry_oci::valid_tag(&tag) {
                return Err(
                    BadInput(format!("--output {image}: --version {:?} cannot be a tag; name one in --output", args.version)).into()
                );
            }
            let store = open_store(&client, &image, true)?;
            bundle::write(store.as_ref(), &tag, &metadata, &wasm).await.with_context(|| format!("writing {image}"))?
        }
        Location::File(path) => {
            let temp = tempfile::tempdir().context("making a temporary directory")?;
            let store = LayoutStore::open(temp.path(), true)?;
            let manifest = bundle::write(&store, FILE_TAG, &metadata, &wasm).await?;
            write_file(&store, manifest.descriptor().clone(), &path).await?;
            manifest
        }
    };
    if !global.quiet {
        let list: Vec<String> = metadata.components.iter().map(|c| format!("{} ({})", c.name, c.world)).collect();
        println!("Bundle {} {} written to {}: {}", metadata.name, metadata.version, args.output, list.join(", "));
        println!("Digest: {}", manifest.descriptor().digest);
    }
    Ok(())
}

/// `ferry plugin sign --key KEY BUNDLE`: adds a signature, keeping any already there.
pub(crate) async fn sign(global: &Global, args: &SignArgs) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(&args.key).map_err(|e| BadInput(format!("--key {}: {e}", args.key.display())))?;
    let key = PrivateKey::from_pem(&text, &args.key.display().to_string(), passphrase().as_deref())
        .map_err(|e| BadInput(format!("--key {e}")))?;
    let config = super::load_config(global)?;
    let plugins = Plugins::new(&config)?;
    let client = Client::new(config);
    let location = location(&args.bundle)?;
    let source = open_source(&client, &location).await?;
    let opened = bundle::open(source.store.as_ref(), &source.reference).await?;
    // A signature vouches for what ferry will run: check it can run it, as it is described.
    bundle::check_components(&plugins.host, source.store.as_ref(), &opened).await?;
    let signed_as = match &location {
        Location::Image(ImageRef::Registry(r)) => format!("{}/{}", r.registry, r.repository),
        _ => opened.metadata.name.clone(),
    };
    let fingerprint = bundle::sign(source.store.as_ref(), &opened, &key, &signed_as).await?;
    if let Location::File(path) = &location {
        write_file(source.store.as_ref(), opened.descriptor().clone(), path).await?;
    }
    if !global.quiet {
        println!("Signed {} with key {fingerprint}; the signature is beside it in {}", opened.title(), args.bundle);
    }
    Ok(())
}

/// What `verify` and `install` establish about a bundle before trusting it.
struct Checked {
    source: Source,
    opened: Opened,
    /// The trusted key that signed it, or why none did.
    signer: Result<String, ferry_bundle::BundleError>,
}

async fn check(plugins: &Plugins, client: &Client, flags: &TrustFlags) -> anyhow::Result<Checked> {
    let policy = plugins.policy(&flags.keys)?;
    let source = open_source(client, &location(&flags.bundle)?).await?;
    let opened = bundle::open(source.store.as_ref(), &source.reference).await?;
    bundle::check_components(&plugins.host, source.store.as_ref(), &opened).await?;
    let signer = bundle::trusted_signer(&opened, &policy.trusted_keys).map(|k| k.fingerprint().to_owned());
    Ok(Checked { source, opened, signer })
}

/// `ferry plugin verify [--key PUB…] BUNDLE [--json]`: exit 0 only if a trusted key signed it.
pub(crate) async fn verify(global: &Global, args: &VerifyBundleArgs) -> anyhow::Result<()> {
    let config = super::load_config(global)?;
    let plugins = Plugins::new(&config)?;
    let client = Client::new(config);
    let checked = check(&plugins, &client, &args.trust).await?;
    let o = &checked.opened;
    if args.json {
        let doc = serde_json::json!({
            "name": o.metadata.name, "version": o.metadata.version, "digest": o.descriptor().digest.to_string(),
            "components": o.metadata.components, "signatures": o.signatures.len(),
            "trusted": checked.signer.is_ok(), "signedBy": checked.signer.as_ref().ok(),
            "reason": checked.signer.as_ref().err().map(ToString::to_string),
        });
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else if !global.quiet {
        println!("{}", o.title());
        for c in &o.metadata.components {
            println!("  {} ({}, {}): sha256 {} matches", c.name, c.world, c.interface, c.sha256);
        }
        // Why it is not trusted is the error ferry exits with.
        if let Ok(key) = &checked.signer {
            println!("  signed by trusted key {key}");
        }
    }
    checked.signer.map(|_| ()).map_err(Into::into)
}

/// `ferry plugin install [--key PUB…] [--allow-unsigned] BUNDLE`.
pub(crate) async fn install(global: &Global, args: &InstallArgs) -> anyhow::Result<()> {
    let config = super::load_config(global)?;
    let plugins = Plugins::new(&config)?;
    if plugins.require_signed() {
        let file = format!(" in {}", plugins.policy_file());
        if args.allow_unsigned {
            return Err(BadInput(format!("--allow-unsigned: refused: plugins.requireSigned is on{file}")).into());
        }
        // What loads is decided by the configured keys alone; a bundle trusted by --key only
        // would be installed and then refused at every load.
        if !args.trust.keys.is_empty() {
            return Err(BadInput(format!(
                "--key: refused: plugins.requireSigned is on{file}, so only plugins.trustedKeys decide; add the key there"
            ))
            .into());
        }
    }
    let client = Client::new(config);
    let checked = check(&plugins, &client, &args.trust).await?;
    let trust = match checked.signer {
        Ok(key) => format!("signed by trusted key {key}"),
        Err(e) if args.allow_unsigned => {
            eprintln!("warning: installing without a trusted signature: {e}");
            "not signed by a trusted key".to_owned()
        }
        Err(e) => return Err(e.into()),
    };
    let installed = plugins.installed()?;
    let replaced = installed.install(checked.source.store.as_ref(), &checked.opened).await?;
    if !global.quiet {
        let o = &checked.opened;
        let list: Vec<String> = o.metadata.components.iter().map(|c| format!("{} ({})", c.name, c.world)).collect();
        let replacing = replaced.map_or_else(String::new, |v| format!(", replacing version {v}"));
        println!("Installed {}, {trust}{replacing}: {}", o.title(), list.join(", "));
    }
    Ok(())
}

/// `ferry plugin list [--json]`: each installed component, its bundle, and whether the
/// current policy's keys trust it.
pub(crate) async fn list(global: &Global, args: &ListArgs) -> anyhow::Result<()> {
    let config = super::load_config(global)?;
    let plugins = Plugins::new(&config)?;
    let policy = plugins.policy(&[])?;
    let installed: Installed = plugins.installed()?;
    let mut rows = Vec::new();
    for (name, b) in installed.bundles().await? {
        let b = match b {
            Ok(b) => b,
            Err(e) => {
                rows.push(serde_json::json!({"bundle": name, "trusted": false, "reason": e.to_string()}));
                continue;
            }
        };
        let trust = bundle::trusted_signer(&b, &policy.trusted_keys).map(|k| k.fingerprint().to_owned());
        for c in &b.metadata.components {
            rows.push(serde_json::json!({
                "name": c.name, "world": c.world, "interface": c.interface, "sha256": c.sha256,
                "bundle": b.metadata.name, "version": b.metadata.version, "digest": b.descriptor().digest.to_string(),
                "trusted": trust.is_ok(), "signedBy": trust.as_ref().ok(),
                "reason": trust.as_ref().err().map(ToString::to_string),
            }));
        }
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    if global.quiet {
        return Ok(());
    }
    if rows.is_empty() {
        println!("No plugins installed");
        return Ok(());
    }
    println!("{:<24} {:<15} {:<24} {:<12} TRUST", "NAME", "WORLD", "BUNDLE", "VERSION");
    for r in &rows {
        let trust = match (r["signedBy"].as_str(), r["name"].is_null()) {
            (Some(key), _) => format!("signed by {key}"),
            (None, false) => "not signed by a trusted key".to_owned(),
            (None, true) => format!("UNREADABLE: {}", r["reason"].as_str().unwrap_or_default()),
        };
        let s = |k: &str| r[k].as_str().unwrap_or_default().to_owned();
        println!("{:<24} {:<15} {:<24} {:<12} {trust}", s("name"), s("world"), s("bundle"), s("version"));
    }
    Ok(())
}

/// `ferry plugin remove NAME`: the bundle NAME and what only it used.
pub(crate) async fn remove(global: &Global, args: &RemoveArgs) -> anyhow::Result<()> {
    let config = super::load_config(global)?;
    let plugins = Plugins::new(&config)?;
    let removed = plugins.installed()?.remove(&args.name).await?;
    if !global.quiet {
        match removed {
            Some(b) => {
                let names: Vec<&str> = b.metadata.components.iter().map(|c| c.name.as_str()).collect();
                println!("Removed {}: {}", b.title(), names.join(", "));
            }
            None => println!("Removed bundle {} (it could not be read)", args.name),
        }
    }
    Ok(())
}
