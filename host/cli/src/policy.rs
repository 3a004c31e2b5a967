//! `--policy plugin=COMPONENT[,KEY=VALUE…]` as the engine's
//! [`ferry_engine::components::Policy`]: a site's policy component (a file or an installed
//! plugin's name), loaded under the trust policy as every site component is. One instance
//! decides on every artifact of a run, one at a time.

use std::sync::Mutex;

use ferry_bundle::Sites;
use ferry_engine::components::{self, Decision};
use ferry_engine::place::Artifact;
use ferry_engine::trust::Evidence;
use ferry_plugin::policy::{Attachment, AttachmentKind, SignatureCheck, Verdict};

use crate::exit::BadInput;
use crate::mapping::{image, plugin_params};

/// A policy as the command line named it.
pub(crate) struct Policy<'s> {
    /// `plugin=…`, as given (for messages).
    text: String,
    instance: Mutex<ferry_plugin::Policy<'s>>,
}

impl<'s> Policy<'s> {
    /// Parses `plugin=COMPONENT[,KEY=VALUE…]` and links the component as a policy, so one of
    /// another world is refused before any work.
    pub(crate) async fn load(sites: &'s Sites, text: &str) -> anyhow::Result<Policy<'s>> {
        let arg = text
            .strip_prefix("plugin=")
            .filter(|arg| !arg.is_empty())
            .ok_or_else(|| BadInput(format!("invalid policy {text:?}: please use plugin=COMPONENT.wasm|NAME[,KEY=VALUE...]")))?;
        let (spec, params) = plugin_params("policy", arg)?;
        let loaded = sites.component(spec, &format!("policy plugin={spec}")).await?;
        let instance = ferry_plugin::Policy::new(sites.host(), &loaded, params).map_err(|e| component_error(text, e))?;
        Ok(Policy { text: text.to_owned(), instance: Mutex::new(instance) })
    }

    /// Loads the policy `flag` names, if any.
    pub(crate) async fn optional(sites: &'s Sites, flag: Option<&str>) -> anyhow::Result<Option<Policy<'s>>> {
        match flag {
            Some(text) => Ok(Some(Policy::load(sites, text).await?)),
            None => Ok(None),
        }
    }
}

fn component_error(policy: &str, source: ferry_plugin::PluginError) -> ferry_engine::Error {
    ferry_engine::Error::Component { what: format!("policy {policy}"), source: Box::new(source) }
}

impl components::Policy for Policy<'_> {
    fn text(&self) -> &str {
        &self.text
    }

    fn decide(&self, artifact: &Artifact, evidence: &Evidence) -> Result<Decision, ferry_engine::Error> {
        let mut instance = self.instance.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        // The policy is the site's input: its failures are bad input, as a bad rule's are.
        let verdict =
            instance.decide(&image(artifact), &evidence_for_policy(evidence)).map_err(|source| ferry_engine::Error::Component {
                what: format!("deciding on {} with policy {}", artifact.name(), self.text),
                source: Box::new(source),
            })?;
        Ok(match verdict {
            Verdict::Allow(reason) => Decision::Allow(reason),
            Verdict::Deny(reason) => Decision::Deny(reason),
        })
    }
}

/// The evidence as the `policy` world sees it.
fn evidence_for_policy(e: &Evidence) -> ferry_plugin::policy::Evidence {
    let attachments = e
        .attachments
        .iter()
        .map(|a| {
            let d = &a.descriptor;
            Attachment {
                kind: if a.tag.is_some() { AttachmentKind::Tag } else { AttachmentKind::Referrer },
                tag: a.tag.clone().unwrap_or_default(),
                artifact_type: d.artifact_type.clone().unwrap_or_default(),
                media_type: d.media_type.clone(),
                digest: d.digest.to_string(),
                size: d.size,
                annotations: d.annotations.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            }
        })
        .collect();
    let signatures = e
        .signatures
        .iter()
        .map(|s| SignatureCheck {
            signature: s.signature.to_string(),
            key_id: s.signer.clone().unwrap_or_default(),
            valid: s.signer.is_ok(),
        })
        .collect();
    ferry_plugin::policy::Evidence { attachments, signatures }
}
