//! The `policy` world added in `ferry:plugin@0.1.1`, through the two example policies, and
//! the compatibility promise of that version: a component built against 0.1.0 still loads.

#![allow(clippy::unwrap_used, missing_docs, reason = "tests")]

use ferry_plugin::policy::{Attachment, AttachmentKind, Evidence, SignatureCheck, Verdict};
use ferry_plugin::{Host, Image, Limits, LoadErrorKind, Mapper, PluginError, Policy, builtin, examples};

fn image(source: &str, labels: &[(&str, &str)]) -> Image {
    Image {
        source: source.to_owned(),
        digest: format!("sha256:{}", "ab".repeat(32)),
        media_type: "application/vnd.oci.image.manifest.v1+json".to_owned(),
        size: 1234,
        platform: None,
        artifact_type: None,
        annotations: vec![],
        labels: labels.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
    }
}

fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

fn referrer(artifact_type: &str, seed: u8) -> Attachment {
    Attachment {
        kind: AttachmentKind::Referrer,
        tag: String::new(),
        artifact_type: artifact_type.to_owned(),
        media_type: "application/vnd.oci.image.manifest.v1+json".to_owned(),
        digest: format!("sha256:{}", format!("{seed:02x}").repeat(32)),
        size: 500,
        annotations: vec![],
    }
}

fn host() -> Host {
    Host::new(Limits::default(), None).unwrap()
}

#[test]
fn require_sbom_allows_only_what_carries_one() {
    let host = host();
    let loaded = host.load("require-sbom", examples::REQUIRE_SBOM).unwrap();
    let mut policy = Policy::new(&host, &loaded, vec![]).unwrap();
    let bare = Evidence { attachments: vec![referrer("application/vnd.dev.cosign.artifact.sig.v1+json", 1)], signatures: vec![] };
    match policy.decide(&image("reg/app:1", &[]), &bare).unwrap() {
        Verdict::Deny(why) => assert!(why.starts_with("no SBOM"), "{why}"),
        other => panic!("{other:?}"),
    }
    let spdx = Evidence { attachments: vec![referrer("application/spdx+json", 2)], signatures: vec![] };
    match policy.decide(&image("reg/app:1", &[]), &spdx).unwrap() {
        Verdict::Allow(why) => assert!(why.contains("application/spdx+json") && why.contains(&"02".repeat(32)), "{why}"),
        other => panic!("{other:?}"),
    }
    // A cosign .sbom tag attachment counts too.
    let tagged = Attachment { kind: AttachmentKind::Tag, tag: format!("sha256-{}.sbom", "ab".repeat(32)), ..referrer("", 3) };
    let evidence = Evidence { attachments: vec![tagged], signatures: vec![] };
    assert!(matches!(policy.decide(&image("reg/app:1", &[]), &evidence).unwrap(), Verdict::Allow(_)));

    // signed=true: the SBOM must come with a good signature by a trusted key.
    let mut signed = Policy::new(&host, &loaded, params(&[("signed", "true")])).unwrap();
    let mut evidence = spdx.clone();
    evidence.signatures.push(SignatureCheck { signature: format!("sha256:{}", "cd".repeat(32)), key_id: String::new(), valid: false });
    match signed.decide(&image("reg/app:1", &[]), &evidence).unwrap() {
        Verdict::Deny(why) => assert_eq!(why, "an SBOM, but no signature by a trusted key"),
        other => panic!("{other:?}"),
    }
    evidence.signatures.push(SignatureCheck {
        signature: format!("sha256:{}", "ef".repeat(32)),
        key_id: "sha256:feed".to_owned(),
        valid: true,
    });
    match signed.decide(&image("reg/app:1", &[]), &evidence).unwrap() {
        Verdict::Allow(why) => assert!(why.ends_with("signed by sha256:feed"), "{why}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_policy_that_cannot_decide_says_why() {
    let host = host();
    let loaded = host.load("require-sbom", examples::REQUIRE_SBOM).unwrap();
    let mut policy = Policy::new(&host, &loaded, params(&[("signed", "maybe")])).unwrap();
    let err = policy.decide(&image("reg/app:1", &[]), &Evidence { attachments: vec![], signatures: vec![] }).unwrap_err();
    assert!(matches!(&err, PluginError::Refused { function: "decide", .. }), "{err:?}");
    assert!(err.to_string().contains("signed=\"maybe\": true or false"), "{err}");
}

#[test]
fn deny_by_label_denies_the_values_it_is_given() {
    let host = host();
    let loaded = host.load("deny-by-label", examples::DENY_BY_LABEL).unwrap();
    let mut policy = Policy::new(&host, &loaded, params(&[("label", "class"), ("deny", "secret"), ("deny", "internal")])).unwrap();
    let none = Evidence { attachments: vec![], signatures: vec![] };
    let decide = |p: &mut Policy<'_>, labels: &[(&str, &str)]| p.decide(&image("reg/app:1", labels), &none).unwrap();
    assert_eq!(decide(&mut policy, &[("class", "internal")]), Verdict::Deny("label class=internal is denied".to_owned()));
    assert_eq!(decide(&mut policy, &[("class", "public")]), Verdict::Allow("label class=public".to_owned()));
    assert_eq!(decide(&mut policy, &[]), Verdict::Allow(String::new()));
    let mut strict = Policy::new(&host, &loaded, params(&[("label", "class"), ("missing", "deny")])).unwrap();
    assert_eq!(decide(&mut strict, &[]), Verdict::Deny("no label class".to_owned()));
}

#[test]
fn worlds_are_not_mistaken_for_each_other() {
    let host = host();
    let policy = host.load("require-sbom", examples::REQUIRE_SBOM).unwrap();
    let nest = host.load("nest", builtin::NEST).unwrap();
    let err = Mapper::new(&host, &policy, vec![]).err().unwrap();
    assert!(matches!(err, PluginError::Load { kind: LoadErrorKind::NotWorld { world: "mapper" }, .. }), "{err:?}");
    let err = Policy::new(&host, &nest, vec![]).err().unwrap();
    assert!(matches!(err, PluginError::Load { kind: LoadErrorKind::NotWorld { world: "policy" }, .. }), "{err:?}");
    assert!(err.to_string().starts_with("component nest: not a ferry:plugin/policy@0.1.1 component"), "{err}");
    let i = host.inspect(&policy, examples::REQUIRE_SBOM.len() as u64);
    assert_eq!((i.world, i.interface_version.as_deref()), (Some("policy"), Some("0.1.1")));
}

#[test]
fn a_component_built_against_0_1_0_still_loads_and_runs() {
    let host = host();
    let loaded = host.load("earlier", builtin::EARLIER_MINOR).unwrap();
    let i = host.inspect(&loaded, builtin::EARLIER_MINOR.len() as u64);
    assert_eq!((i.world, i.interface_version.as_deref()), (Some("mapper"), Some("0.1.0")));
    assert!(ferry_plugin::supports("0.1.0") && !ferry_plugin::supports("0.2.0"));
    let mut mapper = Mapper::new(&host, &loaded, params(&[("prefix", "high.example.com/m")])).unwrap();
    assert_eq!(mapper.map(&image("reg.example.com/app:1", &[])).unwrap(), ["high.example.com/m/reg.example.com/app:1"]);
}
