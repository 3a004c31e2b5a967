//! The `policy` world (added in `ferry:plugin@0.1.1`): whether an artifact may be shipped or
//! placed, given what ferry found about it.

use crate::bindings::policy as bindings;
use crate::instance::{Live, world};
use crate::{Host, Loaded, PluginError};

pub use crate::bindings::types::{Attachment, AttachmentKind, Evidence, SignatureCheck, Verdict};

world!(bindings::Policy, bindings::PolicyPre<crate::sandbox::State>, "policy", ["decide"]);

const FUNCTION: &str = "decide";

/// A policy, instantiated with its parameters.
pub struct Policy<'h> {
    live: Live<'h, bindings::Policy>,
}

impl<'h> Policy<'h> {
    /// Links `loaded` as a policy; a component of another world or interface version is
    /// refused here, with what it wants.
    pub fn new(host: &'h Host, loaded: &Loaded, params: Vec<(String, String)>) -> Result<Policy<'h>, PluginError> {
        Ok(Policy { live: Live::new(host, loaded, params)? })
    }

    /// The verdict on `image`; the policy's own error (it cannot decide) is
    /// [`PluginError::Refused`].
    pub fn decide(&mut self, image: &crate::Image, evidence: &Evidence) -> Result<Verdict, PluginError> {
        // The evidence is sized by what a registry lists: count it as input for the budget.
        let input = evidence.attachments.iter().map(|a| a.annotations.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>() + 256).sum();
        self.live
            .call(FUNCTION, input, |p, store| p.call_decide(store, image, evidence))?
            .map_err(|message| self.live.refused(FUNCTION, message))
    }
}
