//! `ferry plugin keygen|bundle|sign|verify|install|list|remove`: site-approved bundles.
//!
//! Where bundles are read and written, and the trust policy, are `ferry_bundle`'s
//! ([`ferry_bundle::transport`], [`ferry_bundle::Sites`]); these commands draw what it finds.

use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::PathBuf;

use anyhow::Context as _;
use ferry_bundle::sites::read_component;
use ferry_bundle::transport::write_bundle;
use ferry_bundle::{Installed, Location, Metadata, PrivateKey, Trust, bundle};

use crate::args::{BundleArgs, InstallArgs, KeygenArgs, ListArgs, RemoveArgs, SignArgs, VerifyBundleArgs};
use crate::exit::{BadInput, bad_input};
use crate::session::Session;
use crate::stdout::outln;

/// The private key's passphrase, from `FERRY_KEY_PASSPHRASE` (as cosign takes `COSIGN_PASSWORD`).
fn passphrase() -> Option<String> {
    std::env::var("FERRY_KEY_PASSPHRASE").ok().filter(|p| !p.is_empty())
}

/// The public key (PEM) at `path`; `what` names where it was given, in errors.
pub(crate) fn public_key(what: &str, path: &std::path::Path) -> anyhow::Result<ferry_sign::PublicKey> {
    let text = std::fs::read_to_string(path).map_err(bad_input(format!("{what}: {}", path.display())))?;
    ferry_sign::PublicKey::from_pem(&text, &path.display().to_string()).map_err(bad_input(what.to_owned()))
}

/// The private key at `path` (`flag` names the argument in errors), decrypted with
/// `FERRY_KEY_PASSPHRASE` when it is encrypted.
pub(crate) fn private_key(flag: &str, path: &std::path::Path) -> anyhow::Result<PrivateKey> {
    let text = std::fs::read_to_string(path).map_err(bad_input(format!("{flag} {}", path.display())))?;
    PrivateKey::from_pem(&text, &path.display().to_string(), passphrase().as_deref()).map_err(bad_input(flag.to_owned()))
}

/// `ferry plugin keygen [PREFIX]`: PREFIX.key (private, mode 0600) and PREFIX.pub.
pub(crate) fn keygen(global: &crate::args::Global, args: &KeygenArgs) -> anyhow::Result<()> {
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
    let pem = key.to_pem(passphrase.as_deref()).with_context(|| format!("writing {}", private.display()))?;
    file.write_all(pem.as_bytes()).and_then(|()| file.sync_all()).with_context(|| format!("writing {}", private.display()))?;
    std::fs::write(&public, key.public_key().to_pem()).with_context(|| format!("writing {}", public.display()))?;
    if !global.quiet {
        let protection = if passphrase.is_some() {
            "encrypted with FERRY_KEY_PASSPHRASE"
        } else {
            "not encrypted: set FERRY_KEY_PASSPHRASE to encrypt it"
        };
        outln!(
            "Private key written to {} ({protection}; it signs what the high side will run: keep it off the network)",
            private.display()
        );
        outln!("Public key written to {} (list it in plugins.trustedKeys on the high side)", public.display());
        outln!("Fingerprint: {}", key.public_key().fingerprint());
    }
    Ok(())
}

/// `ferry plugin bundle --name N --version V COMPONENT.wasm… -o DEST`.
pub(crate) async fn build(session: &Session, args: &BundleArgs) -> anyhow::Result<()> {
    if !ferry_bundle::format::valid_name(&args.name) {
        return Err(BadInput(format!("--name {:?}: lower-case letters, digits, '.', '_' and '-', at most 64", args.name)).into());
    }
    let location: Location = args.output.parse()?;
    let host = session.sites()?.host();
    let mut components = Vec::new();
    let mut wasm = Vec::new();
    for path in &args.components {
        let (file_name, bytes) = read_component(path, &format!("COMPONENT {}", path.display()))?;
        let name = file_name.strip_suffix(".wasm").unwrap_or(&file_name);
        let entry = bundle::describe(host, name, &bytes).map_err(bad_input(path.display().to_string()))?;
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
    let manifest = write_bundle(session.client(), &location, &metadata, &wasm).await.with_context(|| format!("writing {}", args.output))?;
    if !session.global.quiet {
        let list: Vec<String> = metadata.components.iter().map(|c| format!("{} ({})", c.name, c.world)).collect();
        outln!("Bundle {} {} written to {}: {}", metadata.name, metadata.version, args.output, list.join(", "));
        outln!("Digest: {}", manifest.descriptor().digest);
    }
    Ok(())
}

/// `ferry plugin sign --key KEY BUNDLE`: adds a signature, keeping any already there.
pub(crate) async fn sign(session: &Session, args: &SignArgs) -> anyhow::Result<()> {
    let key = private_key("--key", &args.key)?;
    let location: Location = args.bundle.parse()?;
    let (opened, fingerprint) = session.sites()?.sign(session.client(), &location, &key).await?;
    if !session.global.quiet {
        outln!("Signed {} with key {fingerprint}; the signature is beside it in {}", opened.title(), args.bundle);
    }
    Ok(())
}

/// `ferry plugin verify [--key PUB…] BUNDLE [--json]`: exit 0 only if a trusted key signed it.
pub(crate) async fn verify(session: &Session, args: &VerifyBundleArgs) -> anyhow::Result<()> {
    let location: Location = args.trust.bundle.parse()?;
    let checked = session.sites()?.check(session.client(), &location, &args.trust.keys).await?;
    let o = &checked.opened;
    if args.json {
        let doc = serde_json::json!({
            "name": o.metadata.name, "version": o.metadata.version, "digest": o.descriptor().digest.to_string(),
            "components": o.metadata.components, "signatures": o.signatures.len(),
            "trusted": checked.signer.is_ok(), "signedBy": checked.signer.as_ref().ok(),
            "reason": checked.signer.as_ref().err().map(ToString::to_string),
        });
        outln!("{}", serde_json::to_string_pretty(&doc)?);
    } else if !session.global.quiet {
        outln!("{}", o.title());
        for c in &o.metadata.components {
            outln!("  {} ({}, {}): sha256 {} matches", c.name, c.world, c.interface, c.sha256);
        }
        // Why it is not trusted is the error ferry exits with.
        if let Ok(key) = &checked.signer {
            outln!("  signed by trusted key {key}");
        }
    }
    checked.signer.map(|_| ()).map_err(Into::into)
}

/// `ferry plugin install [--key PUB…] [--allow-unsigned] BUNDLE`.
pub(crate) async fn install(session: &Session, args: &InstallArgs) -> anyhow::Result<()> {
    let location: Location = args.trust.bundle.parse()?;
    let done = session.sites()?.install(session.client(), &location, &args.trust.keys, args.allow_unsigned).await?;
    let trust = match &done.trust {
        Trust::SignedBy(key) => format!("signed by trusted key {key}"),
        Trust::Unsigned(e) => {
            eprintln!("warning: installing without a trusted signature: {e}");
            "not signed by a trusted key".to_owned()
        }
    };
    if !session.global.quiet {
        let o = &done.opened;
        let list: Vec<String> = o.metadata.components.iter().map(|c| format!("{} ({})", c.name, c.world)).collect();
        let replacing = done.replaced.as_ref().map_or_else(String::new, |v| format!(", replacing version {v}"));
        outln!("Installed {}, {trust}{replacing}: {}", o.title(), list.join(", "));
    }
    Ok(())
}

/// `ferry plugin list [--json]`: each installed component, its bundle, and whether the
/// current policy's keys trust it.
pub(crate) async fn list(session: &Session, args: &ListArgs) -> anyhow::Result<()> {
    let sites = session.sites()?;
    let policy = sites.policy(&[])?;
    let installed: Installed = sites.installed()?;
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
        outln!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    if session.global.quiet {
        return Ok(());
    }
    if rows.is_empty() {
        outln!("No plugins installed");
        return Ok(());
    }
    outln!("{:<24} {:<15} {:<24} {:<12} TRUST", "NAME", "WORLD", "BUNDLE", "VERSION");
    for r in &rows {
        let trust = match (r["signedBy"].as_str(), r["name"].is_null()) {
            (Some(key), _) => format!("signed by {key}"),
            (None, false) => "not signed by a trusted key".to_owned(),
            (None, true) => format!("UNREADABLE: {}", r["reason"].as_str().unwrap_or_default()),
        };
        let s = |k: &str| r[k].as_str().unwrap_or_default().to_owned();
        outln!("{:<24} {:<15} {:<24} {:<12} {trust}", s("name"), s("world"), s("bundle"), s("version"));
    }
    Ok(())
}

/// `ferry plugin remove NAME`: the bundle NAME and what only it used.
pub(crate) async fn remove(session: &Session, args: &RemoveArgs) -> anyhow::Result<()> {
    let removed = session.sites()?.installed()?.remove(&args.name).await?;
    if !session.global.quiet {
        match removed {
            Some(b) => {
                let names: Vec<&str> = b.metadata.components.iter().map(|c| c.name.as_str()).collect();
                outln!("Removed {}: {}", b.title(), names.join(", "));
            }
            None => outln!("Removed bundle {} (it could not be read)", args.name),
        }
    }
    Ok(())
}
