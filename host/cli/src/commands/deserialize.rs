//! `ferry mirror deserialize SOURCE-FILE… IMAGE`.

use ferry_engine::deserialize::{ArchiveSource, DeserializeOptions, DeserializeOutcome, Naming, deserialize};
use ferry_engine::receipt::ArchiveReceipt;
use ferry_engine::report::{ArtifactRecord, Status};
use ferry_engine::store::{Access, open_store};

use ferry_oci::ImageRef;

use super::receipt::Wanted;
use crate::args::DeserializeArgs;
use crate::exit::{BadInput, Hint};
use crate::output::Stdout;
use crate::session::Session;
use crate::shell;

pub(crate) async fn run(session: &Session, args: DeserializeArgs) -> anyhow::Result<()> {
    if args.sources.iter().filter(|s| *s == "-").count() > 1 {
        return Err(BadInput("SOURCE-FILE: standard input (-) can be read only once".to_owned()).into());
    }
    let wanted = Wanted::from_flags(&args.receipt, args.dry_run.then_some("--dry-run"))?;
    let output = session.output(Stdout::Status);
    let media = crate::changer::media(&args.tape, args.block_size, Some(&output));
    let names = args.sources.clone();
    // Staging a set from tapes reads them all: off the async threads.
    let sources = tokio::task::spawn_blocking(move || ArchiveSource::open_all(&names, &media)).await??;
    let access = if args.dry_run { Access::Read } else { Access::Create };
    let dst = open_store(session.client(), &args.image, access)?;
    let tag = args.image.reference_or_default();
    // A repository alone: the archive's images keep the names it gives them.
    let naming = if args.image.is_bare() { Naming::Own } else { Naming::Given };
    let options = DeserializeOptions { strict: args.strict, dry_run: args.dry_run, naming, trust: session.delivery_trust()? };
    let result = deserialize(sources, dst.as_ref(), &tag, options, output.events()).await;
    output.finish();
    let named = args.sources.join(" ");
    let outcome = match result {
        Ok(outcome) => outcome,
        Err(e) => {
            // The low side learns that this delivery did not complete.
            if let Some(wanted) = &wanted {
                let root = match &e {
                    ferry_engine::Error::Incomplete(i) => i.root.clone(),
                    _ => None,
                };
                match wanted.write(session, archives(&args, &tag, root, None, false), &[]).await {
                    Ok(line) => output.line(&line),
                    Err(w) => eprintln!("warning: {}", crate::exit::render(&w)),
                }
            }
            // Completing needs the root: an archive cut before its index.json (or a docker
            // archive, which has none) is written again, not continued.
            let incomplete = matches!(&e, ferry_engine::Error::Incomplete(i) if i.root.is_some()) && !args.dry_run;
            let e = anyhow::Error::new(e).context(format!("deserializing {named} into {}", args.image));
            return Err(if incomplete { e.context(Hint(completing_command(&args))) } else { e });
        }
    };
    record(&output, &named, &outcome, &args);
    let verb = if args.dry_run { "Verified (dry run, nothing written)" } else { "Deserialized" };
    output.summary(&format!(
        "{verb} {named}: {} blobs ({}), {} already present, {} manifests; {}",
        outcome.blobs,
        crate::output::bytes(outcome.bytes),
        outcome.present,
        outcome.manifests,
        tagged(&outcome, &args.image, args.dry_run) + &attachments(&outcome, args.dry_run) + &signed(&outcome)
    ));
    for digest in &outcome.untagged {
        output.line(&format!("  untagged (the archive gives it no name): {}", args.image.with_digest(digest)));
    }
    if let Some(wanted) = &wanted {
        let images: Vec<ImageRef> = outcome.tags.iter().map(|(t, _)| args.image.with_tag(t)).collect();
        let root = outcome.root.as_ref().map(|r| r.digest.clone());
        let signer = outcome.signer.as_ref().map(|s| s.fingerprint.clone());
        output.line(&wanted.write(session, archives(&args, &tag, root, signer, true), &images).await?);
    }
    Ok(())
}

/// Each source file as a receipt names it.
fn archives(
    args: &DeserializeArgs,
    tag: &str,
    root: Option<ferry_oci::Digest>,
    signer: Option<String>,
    complete: bool,
) -> Vec<ArchiveReceipt> {
    let loaded = ferry_engine::receipt::now();
    args.sources
        .iter()
        .map(|s| ArchiveReceipt {
            file: std::path::Path::new(s).file_name().map_or_else(|| s.clone(), |n| n.to_string_lossy().into_owned()),
            root: root.clone(),
            signer: signer.clone(),
            loaded: loaded.clone(),
            destination: args.image.with_tag(tag).to_string(),
            complete,
        })
        .collect()
}

/// The run report's records: each image tagged (or, in a dry run, the root), and each left
/// untagged.
fn record(output: &crate::output::Output, named: &str, outcome: &DeserializeOutcome, args: &DeserializeArgs) {
    let signer = outcome.signer.as_ref().map(|s| s.fingerprint.clone());
    let record = |digest: &ferry_oci::Digest, destination: Option<String>, reason: Option<&str>| ArtifactRecord {
        reference: named.to_owned(),
        digest: Some(digest.clone()),
        destination,
        status: Status::Copied,
        reason: reason.map(str::to_owned),
        signer: signer.clone(),
    };
    if args.dry_run {
        if let Some(root) = &outcome.root {
            output.taps().artifact(record(&root.digest, None, None));
        }
        return;
    }
    // The signer, when the policy checked the delivery's signature, is the root's reason.
    let signed = outcome.signer.as_ref().map(|s| format!("a delivery signed by {}, made {}", s.fingerprint, s.created));
    for (tag, digest) in &outcome.tags {
        output.taps().artifact(record(digest, Some(args.image.with_tag(tag).to_string()), signed.as_deref()));
    }
    for (tag, digest) in &outcome.attachments {
        output.taps().artifact(record(digest, Some(args.image.with_tag(tag).to_string()), Some("cosign attachment")));
    }
    for digest in &outcome.untagged {
        let at = Some(args.image.with_digest(digest).to_string());
        output.taps().artifact(record(digest, at, Some("untagged: the archive gives it no name")));
    }
}

/// `; a delivery signed by KEY, made TIME` when the policy checked its signature.
fn signed(outcome: &DeserializeOutcome) -> String {
    outcome.signer.as_ref().map(|s| format!("; a delivery signed by {}, made {}", s.fingerprint, s.created)).unwrap_or_default()
}

/// `; 2 cosign attachments tagged` when the archive carried any.
fn attachments(outcome: &DeserializeOutcome, dry_run: bool) -> String {
    match outcome.attachments.len() {
        0 => String::new(),
        n => format!("; {n} cosign attachment{}{} tagged", if n == 1 { "" } else { "s" }, if dry_run { " would be" } else { "" }),
    }
}

/// What was tagged: the root (ferry's archives), or each image of an archive of several.
fn tagged(outcome: &DeserializeOutcome, image: &ferry_oci::ImageRef, dry_run: bool) -> String {
    let root = outcome.root.as_ref().map(|r| r.digest.to_string()).unwrap_or_default();
    let would = if dry_run { " would be" } else { "" };
    match outcome.tags.as_slice() {
        [(tag, digest)] if digest.to_string() == root && outcome.untagged.is_empty() => {
            if dry_run {
                format!("root {root}")
            } else {
                format!("root {root} tagged {tag}")
            }
        }
        tags => {
            let list: Vec<String> = tags.iter().map(|(t, d)| format!("{} ({d})", image.with_tag(t))).collect();
            let n = tags.len();
            format!(
                "{n} tag{}{would} applied: {}",
                if n == 1 { "" } else { "s" },
                if list.is_empty() { "none".to_owned() } else { list.join(", ") }
            )
        }
    }
}

/// How an operator completes a load that stopped short: the low side writes what this
/// archive lacks, and the high side loads it (what is here already is skipped).
fn completing_command(args: &DeserializeArgs) -> String {
    let files: Vec<&str> = args.sources.iter().map(String::as_str).filter(|s| *s != "-").collect();
    let low = if files.is_empty() {
        "on the low side, serialize again with --existing-from-archive naming what was carried".to_owned()
    } else {
        let existing: Vec<String> = files.iter().map(|f| format!("--existing-from-archive {}", shell::word(f))).collect();
        format!("on the low side, `ferry mirror serialize GATHER-IMAGE REST.tar {}` writes the rest", existing.join(" "))
    };
    format!("to complete it: {low}; then here `ferry mirror deserialize REST.tar {}`", shell::word(&args.image.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_completing_command_names_each_file() {
        let args = DeserializeArgs {
            sources: vec!["a b.tar".into(), "-".into()],
            image: "reg:5000/x/y:1".parse().unwrap(),
            strict: false,
            dry_run: false,
            block_size: 0,
            tape: crate::args::TapeFlags::default(),
            receipt: crate::args::ReceiptFlags { receipt: None, sign: None },
        };
        let text = completing_command(&args);
        assert!(text.contains("--existing-from-archive 'a b.tar'") && text.contains("deserialize REST.tar reg:5000/x/y:1"), "{text}");
    }
}
