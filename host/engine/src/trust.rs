//! Whether an artifact may be shipped or placed: its cosign signatures checked against the
//! image policy's keys (`images: {requireSigned, trustedKeys}`, `--require-signed-images KEY`)
//! and a site's policy component (`--policy`), which decides on what ferry found about the
//! artifact (its referrers and tag attachments, and each signature's check).
//!
//! A signature is a `.sig` tag attachment or a referrer of cosign's signature type whose
//! simple-signing payload names the artifact's digest and verifies with a trusted key. What
//! is refused is not placed (high side) or not gathered (low side).

use ferry_oci::{Descriptor, Digest};
use ferry_sign::PublicKey;
use ferry_sign::cosign::{SIGNATURE_ANNOTATION, SIGNATURE_ARTIFACT_TYPE, SIMPLE_SIGNING_MEDIA_TYPE, signed_digest};

use crate::components::{Decision, Policy};
use crate::error::Error;
use crate::events::{Event, Events};
use crate::place::Artifact;
use crate::store::Store;

/// A payload larger than this is not read (cosign's are a few hundred bytes).
const MAX_PAYLOAD_BYTES: u64 = 64 << 10;

/// Who refuses an unsigned artifact, in messages and the run report.
pub const SIGNATURE_POLICY: &str = "the image signature policy";

/// The keys signatures are checked with, and whether one of them must have signed.
#[derive(Clone, Debug)]
pub struct ImageTrust {
    /// The trusted keys.
    pub keys: Vec<PublicKey>,
    /// Where they came from, for messages (a config file or the flag).
    pub source: String,
    /// Refuse what no trusted key signed; otherwise the keys only inform a policy component.
    pub required: bool,
}

/// What decides on each artifact: the image policy's keys, a policy component, or both.
#[derive(Clone, Copy, Default)]
pub struct Admission<'a> {
    /// Signatures checked (and, when required, demanded) with these keys.
    pub images: Option<&'a ImageTrust>,
    /// The site's policy component.
    pub policy: Option<&'a dyn Policy>,
}

impl Admission<'_> {
    /// Whether anything decides (otherwise every artifact is admitted unexamined).
    pub fn is_active(&self) -> bool {
        self.images.is_some_and(|t| t.required) || self.policy.is_some()
    }
}

/// One referrer or tag attachment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attachment {
    /// cosign's tag (`sha256-<hex>.sig`), or `None` for a referrer.
    pub tag: Option<String>,
    /// The attachment's manifest descriptor.
    pub descriptor: Descriptor,
}

/// One cosign signature of an artifact, checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignatureCheck {
    /// The signature manifest.
    pub signature: Digest,
    /// The fingerprint of the trusted key that verified it, or why none did.
    pub signer: Result<String, String>,
}

/// What ferry found about an artifact before deciding on it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Evidence {
    /// Its referrers, then its tag attachments.
    pub attachments: Vec<Attachment>,
    /// Each cosign signature among them.
    pub signatures: Vec<SignatureCheck>,
}

impl Evidence {
    /// The first trusted signer, or why there is none.
    pub fn signer(&self) -> Result<&str, &str> {
        if let Some(key) = self.signatures.iter().find_map(|s| s.signer.as_deref().ok()) {
            return Ok(key);
        }
        // "over another digest" says more than "by no trusted key".
        let why = self.signatures.iter().filter_map(|s| s.signer.as_ref().err()).min_by_key(|w| !w.contains("another digest"));
        Err(why.map_or("no cosign signature", String::as_str))
    }
}

/// One artifact's verdict.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// The artifact, as messages name it.
    pub artifact: String,
    /// Its digest.
    pub digest: Digest,
    /// The fingerprint of a trusted key that signed it, if one did.
    pub signer: Option<String>,
    /// What was decided.
    pub decision: Ruling,
}

/// Admitted (with the policy's reason, if it gave one) or refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ruling {
    /// It may be shipped or placed.
    Admitted {
        /// The policy component's reason, when it gave one.
        reason: Option<String>,
    },
    /// It may not.
    Refused {
        /// [`SIGNATURE_POLICY`], or `policy TEXT`.
        by: String,
        /// Why.
        reason: String,
    },
}

impl Verdict {
    /// Whether it was refused.
    pub fn refused(&self) -> bool {
        matches!(self.decision, Ruling::Refused { .. })
    }

    /// The refusal as a line shows it: the reason, after the policy's name for a component.
    pub fn refusal(&self) -> Option<String> {
        match &self.decision {
            Ruling::Refused { by, reason } if by == SIGNATURE_POLICY => Some(reason.clone()),
            Ruling::Refused { by, reason } => Some(format!("{by}: {reason}")),
            Ruling::Admitted { .. } => None,
        }
    }

    fn event(&self) -> Event {
        let (refused, refused_by, allowed) = match &self.decision {
            Ruling::Refused { by, reason } => (Some(reason.clone()), Some(by.clone()), None),
            Ruling::Admitted { reason } => (None, None, reason.clone()),
        };
        Event::Verdict {
            artifact: self.artifact.clone(),
            digest: self.digest.clone(),
            signer: self.signer.clone(),
            refused,
            refused_by,
            allowed,
        }
    }
}

/// What `store` holds about `desc`: its attachments and each cosign signature checked with
/// `keys`.
pub async fn evidence(store: &dyn Store, desc: &Descriptor, keys: &[PublicKey]) -> Result<Evidence, Error> {
    let mut attachments: Vec<Attachment> =
        store.referrers(desc).await?.into_iter().map(|descriptor| Attachment { tag: None, descriptor }).collect();
    attachments.sort_by(|a, b| a.descriptor.digest.cmp(&b.descriptor.digest));
    let mut tagged = store.cosign_attachments(desc).await?;
    tagged.sort_by(|a, b| a.0.cmp(&b.0));
    attachments.extend(tagged.into_iter().map(|(tag, descriptor)| Attachment { tag: Some(tag), descriptor }));
    let mut signatures = Vec::new();
    for a in &attachments {
        let is_signature = match &a.tag {
            Some(tag) => tag.ends_with(".sig"),
            None => a.descriptor.artifact_type.as_deref() == Some(SIGNATURE_ARTIFACT_TYPE),
        };
        if is_signature {
            let signer = check_signature(store, &a.descriptor, &desc.digest, keys).await?;
            signatures.push(SignatureCheck { signature: a.descriptor.digest.clone(), signer });
        }
    }
    Ok(Evidence { attachments, signatures })
}

/// Whether the signature manifest `signature` holds a simple-signing payload over `digest`
/// that one of `keys` verifies.
async fn check_signature(
    store: &dyn Store,
    signature: &Descriptor,
    digest: &Digest,
    keys: &[PublicKey],
) -> Result<Result<String, String>, Error> {
    let manifest = store.fetch_manifest(signature).await?;
    let mut why = "no simple-signing layer".to_owned();
    for layer in &manifest.view().layers {
        let Some(sig) = layer.annotations.get(SIGNATURE_ANNOTATION) else { continue };
        if layer.media_type != SIMPLE_SIGNING_MEDIA_TYPE || layer.size > MAX_PAYLOAD_BYTES {
            continue;
        }
        let payload = store.fetch_blob(layer).await?.collect().await?;
        if signed_digest(&payload).as_ref() != Some(digest) {
            why = "its signature is over another digest".to_owned();
            continue;
        }
        if let Some(key) = keys.iter().find(|k| k.verifies(&payload, sig)) {
            return Ok(Ok(key.fingerprint().to_owned()));
        }
        why = "its signatures are by no trusted key".to_owned();
    }
    Ok(Err(why))
}

/// Each artifact's verdict under `admission`, in the artifacts' order, `concurrency` lookups
/// at a time; each is sent as an [`Event::Verdict`]. The policy's own failure stops the run.
pub async fn decide(
    stores: &[&dyn Store],
    artifacts: &[&Artifact],
    admission: Admission<'_>,
    concurrency: usize,
    events: &Events,
) -> Result<Vec<Verdict>, Error> {
    use futures_util::StreamExt as _;
    let keys: &[PublicKey] = admission.images.map_or(&[], |t| &t.keys);
    let found: Vec<Result<Evidence, Error>> =
        futures_util::stream::iter(artifacts.iter().map(|a| evidence(stores[a.store], &a.descriptor, keys)))
            .buffered(concurrency.max(1))
            .collect()
            .await;
    let mut verdicts = Vec::with_capacity(artifacts.len());
    for (artifact, evidence) in artifacts.iter().zip(found) {
        let evidence = evidence?;
        let signer = evidence.signer().ok().map(str::to_owned);
        let decision = match (admission.images, evidence.signer()) {
            (Some(trust), Err(why)) if trust.required => Ruling::Refused { by: SIGNATURE_POLICY.to_owned(), reason: why.to_owned() },
            _ => match admission.policy {
                Some(policy) => match policy.decide(artifact, &evidence)? {
                    Decision::Allow(reason) => Ruling::Admitted { reason: Some(reason).filter(|r| !r.is_empty()) },
                    Decision::Deny(reason) => Ruling::Refused { by: format!("policy {}", policy.text()), reason },
                },
                None => Ruling::Admitted { reason: None },
            },
        };
        let verdict = Verdict { artifact: artifact.name(), digest: artifact.descriptor.digest.clone(), signer, decision };
        events(&verdict.event());
        verdicts.push(verdict);
    }
    Ok(verdicts)
}

/// The refusals as lines under a summary: the first few, then how many more.
pub(crate) fn list_refusals(refusals: &[(String, String)]) -> String {
    const SHOWN: usize = 10;
    let mut text: String = refusals.iter().take(SHOWN).map(|(artifact, why)| format!("\n  refused: {artifact}: {why}")).collect();
    if refusals.len() > SHOWN {
        text.push_str(&format!("\n  … and {} more (the run report lists them all)", refusals.len() - SHOWN));
    }
    text
}
