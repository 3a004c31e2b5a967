//! Image signatures checked on the high side (`images: {requireSigned, trustedKeys}`,
//! `--require-signed-images KEY`): before scatter, clone or unarchive places an artifact, it
//! must carry a cosign signature (a `.sig` tag attachment, or a referrer of cosign's signature
//! type) whose simple-signing payload names the artifact's digest and which verifies with a
//! trusted key. What is refused is not placed.

use ferry_oci::{Descriptor, Digest};
use ferry_sign::PublicKey;
use ferry_sign::cosign::{SIGNATURE_ANNOTATION, SIGNATURE_ARTIFACT_TYPE, SIMPLE_SIGNING_MEDIA_TYPE, signed_digest};

use crate::error::Error;
use crate::store::Store;

/// A payload larger than this is not read (cosign's are a few hundred bytes).
const MAX_PAYLOAD_BYTES: u64 = 64 << 10;

/// Which artifacts may be placed: those signed by one of `keys`.
#[derive(Clone, Debug)]
pub struct ImageTrust {
    /// The trusted keys.
    pub keys: Vec<PublicKey>,
    /// Where they came from, for messages (a config file or the flag).
    pub source: String,
}

/// One artifact's verdict.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// The artifact, as messages name it.
    pub artifact: String,
    /// Its digest.
    pub digest: Digest,
    /// The fingerprint of the key that signed it, or why it is refused.
    pub signer: Result<String, String>,
}

/// Whether `desc`, held by `store`, carries a good signature by one of `trust`'s keys: the
/// signer's fingerprint, or why not.
pub async fn check(store: &dyn Store, desc: &Descriptor, trust: &ImageTrust) -> Result<Result<String, String>, Error> {
    let mut signatures: Vec<Descriptor> =
        store.cosign_attachments(desc).await?.into_iter().filter(|(tag, _)| tag.ends_with(".sig")).map(|(_, d)| d).collect();
    signatures.extend(store.referrers(desc).await?.into_iter().filter(|r| r.artifact_type.as_deref() == Some(SIGNATURE_ARTIFACT_TYPE)));
    if signatures.is_empty() {
        return Ok(Err("no cosign signature".to_owned()));
    }
    let mut why = "its signatures are by no trusted key".to_owned();
    for signature in &signatures {
        let manifest = store.fetch_manifest(signature).await?;
        for layer in &manifest.view().layers {
            let Some(sig) = layer.annotations.get(SIGNATURE_ANNOTATION) else { continue };
            if layer.media_type != SIMPLE_SIGNING_MEDIA_TYPE || layer.size > MAX_PAYLOAD_BYTES {
                continue;
            }
            let payload = store.fetch_blob(layer).await?.collect().await?;
            match signed_digest(&payload) {
                Some(d) if d == desc.digest => {}
                _ => {
                    why = "its signature is over another digest".to_owned();
                    continue;
                }
            }
            if let Some(key) = trust.keys.iter().find(|k| k.verifies(&payload, sig)) {
                return Ok(Ok(key.fingerprint().to_owned()));
            }
        }
    }
    Ok(Err(why))
}
